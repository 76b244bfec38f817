{{ estore_day_fact_config('first_event_time', cluster_by=['user_id']) }}
-- One row per user per day with any clean event, by event day only (so a day's row depends on
-- that day's events alone). Session, order and revenue counts by session start day are added
-- in intermediate/int_user_daily from fct_sessions (a session may span many days).
with events as (

    select * from {{ ref('fct_events') }}
    where {{ estore_in_window('event_time') }}

),

user_day_products as (

    -- one row per user, day and product first: the distinct products of a day are then counted
    -- rows (two count(distinct) per user-day cost 25 s of a 43M-event month, this 19 s)
    select
        user_id,
        event_date,
        product_id,
        min(event_time) as first_event_time,
        max(event_time) as last_event_time,
        count(*) as events,
        {{ estore_count_if("event_type = 'view'") }} as views,
        {{ estore_count_if("event_type = 'cart'") }} as carts,
        {{ estore_count_if("event_type = 'remove_from_cart'") }} as remove_from_carts,
        {{ estore_count_if("event_type = 'purchase'") }} as purchases,
        {{ estore_count_if('user_session is null') }} as sessionless_events
    from events
    group by user_id, event_date, product_id

),

daily_events as (

    select
        user_id,
        event_date as activity_date,
        min(first_event_time) as first_event_time,
        max(last_event_time) as last_event_time,
        {%- for column in ['events', 'views', 'carts', 'remove_from_carts', 'purchases',
                           'sessionless_events'] %}
        sum({{ column }}) as {{ column }},
        {%- endfor %}
        {{ estore_count_if('views > 0') }} as products_viewed,
        {{ estore_count_if('purchases > 0') }} as products_purchased
    from user_day_products
    group by user_id, event_date

),

final as (

    select
        user_id,
        activity_date,
        first_event_time,
        last_event_time,
        {%- for column in ['events', 'views', 'carts', 'remove_from_carts', 'purchases',
                           'sessionless_events', 'products_viewed', 'products_purchased'] %}
        cast({{ column }} as {{ dbt.type_bigint() }}) as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from daily_events

)

select * from final
