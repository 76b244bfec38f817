{{ config(materialized='incremental', tags=['ml', 'daily'], on_schema_change='fail') }}
{{ estore_day_fact_config('first_event_time', cluster_by=['user_id']) }}
-- Per user and event day, what the ML features and labels count, all by EVENT day (an order
-- is dated by its purchase events, not by its session's start), so a feature at as_of can be
-- computed from days strictly before as_of: a session that starts before as_of and buys after
-- it counts after it. A day fact (day D reads fct_events day D only), so the whole-table ML
-- models never read events. Events without a session are not counted here (ml_user_catalog
-- has their viewed prices).
with events as (

    select user_id, user_session, event_date, event_time, event_type, price
    from {{ ref('fct_events') }}
    where user_session is not null
        and {{ estore_in_window('event_time') }}

),

session_days as (

    select
        user_id,
        user_session,
        event_date,
        min(event_time) as first_event_time,
        max({{ estore_flag("event_type = 'cart'") }}) as has_cart,
        max({{ estore_flag("event_type = 'purchase'") }}) as has_purchase,
        {{ estore_count_if("event_type = 'view'") }} as views,
        {{ estore_count_if("event_type = 'cart'") }} as carts,
        {{ estore_count_if("event_type = 'purchase'") }} as items_purchased,
        sum(case when event_type = 'purchase' and price > 0 then price else 0 end) as revenue
    from events
    group by user_id, user_session, event_date

),

final as (

    select
        user_id,
        event_date as activity_date,
        min(first_event_time) as first_event_time,
        count(*) as sessions,
        sum(views) as views,
        sum(carts) as carts,
        sum(has_purchase) as orders,
        sum(items_purchased) as items_purchased,
        cast(sum(revenue) as {{ estore_type_float() }}) as revenue,
        sum(has_cart) as cart_sessions,
        sum(has_cart * has_purchase) as cart_purchase_sessions
    from session_days
    group by user_id, event_date

)

select * from final
