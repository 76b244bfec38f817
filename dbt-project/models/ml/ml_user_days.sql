{{ config(materialized='incremental', tags=['ml', 'daily'], on_schema_change='fail') }}
{{ estore_day_fact_config('first_event_time', cluster_by=['user_id']) }}
-- Per user and event day, what the ML features and labels count, all by EVENT day (an order
-- is dated by its purchase events, not by its session's start), so a feature at as_of can be
-- computed from days strictly before as_of: a session that starts before as_of and buys after
-- it counts after it. A day fact (day D reads fct_events day D only), so the whole-table ML
-- models never read events. Session counts use events with a session; viewed prices use all.
{%- set session_columns = ['views', 'carts', 'items_purchased', 'revenue', 'has_cart',
                           'has_purchase', 'cart_purchase'] %}
with events as (

    select user_id, user_session, event_date, event_time, event_type, price
    from {{ ref('fct_events') }}
    where {{ estore_in_window('event_time') }}

),

session_days as (

    -- One row per user, session and event day; a user's events without a session form one
    -- more row (user_session null) that counts toward viewed prices only.
    select
        user_id,
        user_session,
        event_date,
        min(event_time) as first_event_time,
        max({{ estore_flag("event_type = 'cart'") }}) as has_cart,
        max({{ estore_flag("event_type = 'purchase'") }}) as has_purchase,
        max({{ estore_flag("event_type = 'cart'") }})
            * max({{ estore_flag("event_type = 'purchase'") }}) as cart_purchase,
        sum({{ estore_flag("event_type = 'view'") }}) as views,
        sum({{ estore_flag("event_type = 'cart'") }}) as carts,
        sum({{ estore_flag("event_type = 'purchase'") }}) as items_purchased,
        sum(case when event_type = 'purchase' and price > 0 then price else 0 end) as revenue,
        sum(case when event_type = 'view' and price > 0 then price else 0 end)
            as viewed_price_sum,
        sum({{ estore_flag("event_type = 'view' and price > 0") }}) as viewed_price_count
    from events
    group by user_id, user_session, event_date

),

in_sessions as (

    select
        session_days.*,
        {%- for column in session_columns %}
        case when user_session is null then 0 else {{ column }} end as session_{{ column }}
        {{- ',' if not loop.last }}
        {%- endfor %}
    from session_days

),

final as (

    select
        user_id,
        event_date as activity_date,
        min(first_event_time) as first_event_time,
        count(user_session) as sessions,
        sum(session_views) as views,
        sum(session_carts) as carts,
        sum(session_has_purchase) as orders,
        sum(session_items_purchased) as items_purchased,
        cast(sum(session_revenue) as {{ estore_type_float() }}) as revenue,
        sum(session_has_cart) as cart_sessions,
        sum(session_cart_purchase) as cart_purchase_sessions,
        sum(viewed_price_sum) as viewed_price_sum,
        sum(viewed_price_count) as viewed_price_count
    from in_sessions
    group by user_id, event_date

)

select * from final
