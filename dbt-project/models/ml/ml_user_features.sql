{{ config(materialized='table', tags=['ml']) }}
-- Point-in-time features: one row per (as_of_date, user) for users with any session in the 90
-- days before as_of_date (ml_user_days: by event day). Every input is filtered on a date strictly
-- before as_of_date, so events on or after as_of_date can change no feature
-- (tests/test_ml_pipeline.py::test_features_ignore_events_on_or_after_as_of proves it).
-- Inputs are day facts, never events.
with as_of_dates as (

    select as_of_date from {{ ref('ml_as_of_dates') }}

),

user_days as (

    select * from {{ ref('ml_user_days') }}

),

history as (

    select
        as_of_dates.as_of_date,
        user_days.*,
        {{ estore_days_between('user_days.activity_date', 'as_of_dates.as_of_date') }} as age_days
    from as_of_dates
    inner join user_days
        on user_days.activity_date < as_of_dates.as_of_date
        and user_days.activity_date >= {{ estore_add_days('as_of_dates.as_of_date', -90) }}

),

lifetime as (

    -- All history before as_of (not only 90 days) for first dates and totals.
    select
        as_of_dates.as_of_date,
        user_days.user_id,
        min(user_days.activity_date) as first_activity_date,
        max(user_days.activity_date) as last_activity_date,
        min(case when user_days.orders > 0 then user_days.activity_date end) as first_order_date,
        max(case when user_days.orders > 0 then user_days.activity_date end) as last_order_date,
        sum(user_days.orders) as orders_total,
        sum({{ estore_flag('user_days.orders > 0') }}) as order_days_total,
        sum(user_days.revenue) as revenue_total,
        sum(user_days.items_purchased) as items_total,
        count(*) as active_days_total,
        sum(user_days.sessions) as sessions_total,
        sum(user_days.cart_sessions) as cart_sessions_total,
        sum(user_days.cart_purchase_sessions) as cart_purchase_sessions_total
    from as_of_dates
    inner join user_days
        on user_days.activity_date < as_of_dates.as_of_date
    group by as_of_dates.as_of_date, user_days.user_id

),

windows as (

    select
        as_of_date,
        user_id,
        {%- for days in [7, 14, 30, 90] %}
        {%- for column in ['sessions', 'views', 'carts', 'orders'] %}
        sum(case when age_days <= {{ days }} then {{ column }} else 0 end)
            as {{ column }}_{{ days }}d,
        {%- endfor %}
        {%- endfor %}
        sum(case when age_days > 7 and age_days <= 14 then sessions else 0 end)
            as sessions_prev_7d,
        sum(case when age_days <= 30 then revenue else 0 end) as revenue_30d
    from history
    group by as_of_date, user_id

),

first_categories as (

    select user_id, category_id, min(activity_date) as first_date
    from {{ ref('ml_user_catalog') }}
    where category_id is not null
    group by user_id, category_id

),

first_brands as (

    select user_id, brand, min(activity_date) as first_date
    from {{ ref('ml_user_catalog') }}
    where brand is not null
    group by user_id, brand

),

view_prices as (

    -- viewed prices per user and event day, session-less views included
    select
        user_id,
        activity_date as event_date,
        sum(viewed_price_sum) as price_sum,
        sum(viewed_price_count) as price_count
    from {{ ref('ml_user_catalog') }}
    where viewed_price_count > 0
    group by user_id, activity_date

),

breadth as (

    select
        as_of_dates.as_of_date,
        first_categories.user_id,
        count(*) as categories_seen
    from as_of_dates
    inner join first_categories on first_categories.first_date < as_of_dates.as_of_date
    group by as_of_dates.as_of_date, first_categories.user_id

),

brand_breadth as (

    select
        as_of_dates.as_of_date,
        first_brands.user_id,
        count(*) as brands_seen
    from as_of_dates
    inner join first_brands on first_brands.first_date < as_of_dates.as_of_date
    group by as_of_dates.as_of_date, first_brands.user_id

),

price_level as (

    select
        as_of_dates.as_of_date,
        view_prices.user_id,
        {{ estore_safe_divide('sum(view_prices.price_sum)', 'sum(view_prices.price_count)') }}
            as avg_viewed_price
    from as_of_dates
    inner join view_prices on view_prices.event_date < as_of_dates.as_of_date
    group by as_of_dates.as_of_date, view_prices.user_id

),

final as (

    select
        windows.as_of_date,
        windows.user_id,
        {{ estore_days_between('lifetime.last_activity_date', 'windows.as_of_date') }}
            as recency_days,
        {{ estore_days_between('lifetime.first_activity_date', 'windows.as_of_date') }}
            as tenure_days,
        {{ estore_days_between('lifetime.last_order_date', 'windows.as_of_date') }}
            as days_since_last_order,
        {{ estore_days_between('lifetime.first_order_date', 'windows.as_of_date') }}
            as days_since_first_order,
        lifetime.orders_total as frequency,
        lifetime.order_days_total as order_days,
        cast(lifetime.revenue_total as {{ estore_type_float() }}) as monetary,
        {{ estore_safe_divide('lifetime.revenue_total', 'lifetime.orders_total') }}
            as avg_order_value,
        lifetime.items_total,
        lifetime.active_days_total as active_days,
        lifetime.sessions_total,
        {{ estore_safe_divide(
            'lifetime.cart_sessions_total - lifetime.cart_purchase_sessions_total',
            'lifetime.cart_sessions_total') }} as cart_abandonment_rate,
        {{ estore_safe_divide(
            estore_days_between('lifetime.first_order_date', 'lifetime.last_order_date'),
            'lifetime.order_days_total - 1') }} as days_between_orders,
        {%- for days in [7, 14, 30, 90] %}
        {%- for column in ['sessions', 'views', 'carts', 'orders'] %}
        windows.{{ column }}_{{ days }}d,
        {%- endfor %}
        {%- endfor %}
        windows.sessions_prev_7d,
        windows.sessions_7d - windows.sessions_prev_7d as sessions_trend_7d,
        cast(windows.revenue_30d as {{ estore_type_float() }}) as revenue_30d,
        coalesce(breadth.categories_seen, 0) as categories_seen,
        coalesce(brand_breadth.brands_seen, 0) as brands_seen,
        price_level.avg_viewed_price,
        lifetime.orders_total > 0 as is_buyer
    from windows
    inner join lifetime
        on windows.as_of_date = lifetime.as_of_date and windows.user_id = lifetime.user_id
    left join breadth
        on windows.as_of_date = breadth.as_of_date and windows.user_id = breadth.user_id
    left join brand_breadth
        on windows.as_of_date = brand_breadth.as_of_date
        and windows.user_id = brand_breadth.user_id
    left join price_level
        on windows.as_of_date = price_level.as_of_date and windows.user_id = price_level.user_id

)

select * from final
