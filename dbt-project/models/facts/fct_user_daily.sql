{{ estore_day_fact_config('first_event_time', cluster_by=['user_id']) }}
-- One row per user per day with any clean event, by event day only (so a day's row depends on
-- that day's events alone). Session, order and revenue counts by session start day are added
-- in intermediate/int_user_daily from fct_sessions (a session may span many days).
with events as (

    select * from {{ ref('fct_events') }}
    where {{ estore_in_window('event_time') }}

),

daily_events as (

    select
        user_id,
        event_date as activity_date,
        min(event_time) as first_event_time,
        max(event_time) as last_event_time,
        count(*) as events,
        {{ estore_count_if("event_type = 'view'") }} as views,
        {{ estore_count_if("event_type = 'cart'") }} as carts,
        {{ estore_count_if("event_type = 'remove_from_cart'") }} as remove_from_carts,
        {{ estore_count_if("event_type = 'purchase'") }} as purchases,
        {{ estore_count_if('user_session is null') }} as sessionless_events,
        count(distinct case when event_type = 'view' then product_id end) as products_viewed,
        count(distinct case when event_type = 'purchase' then product_id end)
            as products_purchased
    from events
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
