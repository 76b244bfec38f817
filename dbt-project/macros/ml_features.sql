{#- Point-in-time features: one row per (as_of_date, user) for users with any session in the 90
    days before as_of_date (ml_user_days: by event day), for every as_of_date that
    `as_of_dates_sql` selects. Every input is filtered on a date strictly before as_of_date,
    so events on or after as_of_date can change no feature
    (tests/test_ml_pipeline.py::test_features_ignore_events_on_or_after_as_of proves it).
    Inputs are day facts, never events. ml_user_features (the training set: the as_of dates a
    model trains or is evaluated on) and ml_score_features (the latest as_of only) are this query.

    Two aggregates per (as_of_date, user), one over the activity days and one over the catalog
    days, and one join: an aggregate and a join per feature group held five (as_of_date, user)
    hash tables at once (7 GB on an October-sized month: out of memory at DuckDB's 5 GB). -#}
{% macro estore_ml_user_features(as_of_dates_sql) -%}
{%- set bigint = dbt.type_bigint() %}
{#- the first day of the window of the last N days before as_of, by N -#}
{%- set days_before = {} %}
{%- for days in [7, 14, 30, 90] %}
{%- do days_before.update({days: estore_add_days('as_of_dates.as_of_date', -days)}) %}
{%- endfor %}
with as_of_dates as (

    {{ as_of_dates_sql }}

),

user_days as (

    -- counts as BIGINT: ml_user_days holds them as HUGEINT (DuckDB's type for a sum), and
    -- summed as HUGEINT the activity aggregate took 1.7x as long at 43M events and the table
    -- longer to write (BigQuery's are INT64 either way)
    select
        user_id,
        activity_date,
        {%- for column in ['sessions', 'views', 'carts', 'orders', 'items_purchased',
                           'cart_sessions', 'cart_purchase_sessions'] %}
        cast({{ column }} as {{ bigint }}) as {{ column }},
        {%- endfor %}
        revenue
    from {{ ref('ml_user_days') }}

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

catalog_days as (

    -- per user and day: the categories and brands first seen, and the prices viewed (session-
    -- less views included)
    select user_id, first_date as activity_date, count(*) as new_categories, 0 as new_brands,
        0 as viewed_price_sum, 0 as viewed_price_count
    from first_categories
    group by user_id, first_date

    union all

    select user_id, first_date, 0, count(*), 0, 0
    from first_brands
    group by user_id, first_date

    union all

    select
        user_id, activity_date, 0, 0, sum(viewed_price_sum),
        cast(sum(cast(viewed_price_count as {{ bigint }})) as {{ bigint }})
    from {{ ref('ml_user_catalog') }}
    where viewed_price_count > 0
    group by user_id, activity_date

),

catalog as (

    select
        as_of_dates.as_of_date,
        catalog_days.user_id,
        cast(sum(catalog_days.new_categories) as {{ bigint }}) as categories_seen,
        cast(sum(catalog_days.new_brands) as {{ bigint }}) as brands_seen,
        {{ estore_safe_divide('sum(catalog_days.viewed_price_sum)',
                              'sum(catalog_days.viewed_price_count)') }} as avg_viewed_price
    from as_of_dates
    inner join catalog_days on catalog_days.activity_date < as_of_dates.as_of_date
    group by as_of_dates.as_of_date, catalog_days.user_id

),

activity as (

    -- lifetime totals take every day before as_of; the windows only the last ones
    select
        as_of_dates.as_of_date,
        user_days.user_id,
        min(user_days.activity_date) as first_activity_date,
        max(user_days.activity_date) as last_activity_date,
        min(case when user_days.orders > 0 then user_days.activity_date end) as first_order_date,
        max(case when user_days.orders > 0 then user_days.activity_date end) as last_order_date,
        cast(sum(user_days.orders) as {{ bigint }}) as orders_total,
        {{ estore_count_if('user_days.orders > 0') }} as order_days_total,
        sum(user_days.revenue) as revenue_total,
        cast(sum(user_days.items_purchased) as {{ bigint }}) as items_total,
        count(*) as active_days_total,
        cast(sum(user_days.sessions) as {{ bigint }}) as sessions_total,
        sum(user_days.cart_sessions) as cart_sessions_total,
        sum(user_days.cart_purchase_sessions) as cart_purchase_sessions_total,
        {%- for days in [7, 14, 30, 90] %}
        {%- for column in ['sessions', 'views', 'carts', 'orders'] %}
        cast(sum(case when user_days.activity_date >= {{ days_before[days] }}
            then user_days.{{ column }} else 0 end) as {{ bigint }}) as {{ column }}_{{ days }}d,
        {%- endfor %}
        {%- endfor %}
        cast(sum(case when user_days.activity_date >= {{ days_before[14] }}
            and user_days.activity_date < {{ days_before[7] }}
            then user_days.sessions else 0 end) as {{ bigint }}) as sessions_prev_7d,
        sum(case when user_days.activity_date >= {{ days_before[30] }}
            then user_days.revenue else 0 end) as revenue_30d
    from as_of_dates
    inner join user_days
        on user_days.activity_date < as_of_dates.as_of_date
    group by as_of_dates.as_of_date, user_days.user_id
    -- users with a session day in the 90 days before as_of
    having max(user_days.activity_date) >= {{ days_before[90] }}

),

final as (

    select
        activity.as_of_date,
        activity.user_id,
        {{ estore_days_between('last_activity_date', 'activity.as_of_date') }} as recency_days,
        {{ estore_days_between('first_activity_date', 'activity.as_of_date') }} as tenure_days,
        {{ estore_days_between('last_order_date', 'activity.as_of_date') }}
            as days_since_last_order,
        {{ estore_days_between('first_order_date', 'activity.as_of_date') }}
            as days_since_first_order,
        orders_total as frequency,
        order_days_total as order_days,
        cast(revenue_total as {{ estore_type_float() }}) as monetary,
        {{ estore_safe_divide('revenue_total', 'orders_total') }} as avg_order_value,
        items_total,
        active_days_total as active_days,
        sessions_total,
        {{ estore_safe_divide(
            'cart_sessions_total - cart_purchase_sessions_total',
            'cart_sessions_total') }} as cart_abandonment_rate,
        {{ estore_safe_divide(
            estore_days_between('first_order_date', 'last_order_date'),
            'order_days_total - 1') }} as days_between_orders,
        {%- for days in [7, 14, 30, 90] %}
        {%- for column in ['sessions', 'views', 'carts', 'orders'] %}
        {{ column }}_{{ days }}d,
        {%- endfor %}
        {%- endfor %}
        sessions_prev_7d,
        sessions_7d - sessions_prev_7d as sessions_trend_7d,
        cast(revenue_30d as {{ estore_type_float() }}) as revenue_30d,
        coalesce(catalog.categories_seen, 0) as categories_seen,
        coalesce(catalog.brands_seen, 0) as brands_seen,
        catalog.avg_viewed_price,
        orders_total > 0 as is_buyer
    from activity
    left join catalog
        on activity.as_of_date = catalog.as_of_date and activity.user_id = catalog.user_id

)

select * from final
{%- endmacro %}
