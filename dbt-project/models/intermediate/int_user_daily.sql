{{ config(materialized='table') }}
-- One row per user per day with any clean event: the event counts of that day (fct_user_daily)
-- and the sessions, orders and order revenue of the sessions that STARTED that day (fct_sessions;
-- a session and its order belong to its start day however long it lasts). A session's start day
-- always has an event of its user, so every session lands on a row. Revenue is every purchase
-- price > 0 (metrics.md): the order revenue plus the purchases without a session, on their own
-- event day (fct_session_products' session-less rows, one per user, product and day). The
-- compact input of the user-level marts; a table because six marts read it (a view recomputed
-- the join for each).
with user_days as (

    select * from {{ ref('fct_user_daily') }}

),

daily_sessions as (

    select
        user_id,
        session_date as activity_date,
        count(*) as sessions_started,
        sum({{ estore_flag('has_view') }}) as sessions_with_view,
        sum({{ estore_flag('has_cart') }}) as sessions_with_cart,
        sum({{ estore_flag('has_purchase') }}) as sessions_with_purchase,
        sum({{ estore_flag('has_view and has_cart') }}) as sessions_with_view_and_cart,
        sum({{ estore_flag('has_cart and has_purchase') }}) as sessions_with_cart_and_purchase,
        sum({{ estore_flag('has_view and has_purchase') }}) as sessions_with_view_and_purchase,
        sum({{ estore_flag("funnel_stage = 'view'") }}) as sessions_at_stage_view,
        sum({{ estore_flag("funnel_stage = 'cart'") }}) as sessions_at_stage_cart,
        sum({{ estore_flag("funnel_stage = 'purchase'") }}) as sessions_at_stage_purchase,
        sum({{ estore_flag('is_order') }}) as orders,
        sum(items_purchased) as items_purchased,
        sum(order_revenue) as order_revenue
    from {{ ref('fct_sessions') }}
    group by user_id, session_date

),

sessionless_purchases as (

    -- purchases without a session are no order, but their prices are revenue
    select
        user_id,
        activity_date,
        sum(purchase_revenue) as revenue
    from {{ ref('fct_session_products') }}
    where user_session is null and purchases > 0
    group by user_id, activity_date

),

final as (

    select
        user_days.user_id,
        user_days.activity_date,
        user_days.first_event_time,
        user_days.last_event_time,
        {%- for column in ['events', 'views', 'carts', 'remove_from_carts', 'purchases',
                           'sessionless_events', 'products_viewed', 'products_purchased'] %}
        user_days.{{ column }},
        {%- endfor %}
        {%- for column in ['sessions_started', 'sessions_with_view', 'sessions_with_cart',
                           'sessions_with_purchase', 'sessions_with_view_and_cart',
                           'sessions_with_cart_and_purchase', 'sessions_with_view_and_purchase',
                           'sessions_at_stage_view', 'sessions_at_stage_cart',
                           'sessions_at_stage_purchase', 'orders', 'items_purchased'] %}
        cast(coalesce(daily_sessions.{{ column }}, 0) as {{ dbt.type_bigint() }}) as {{ column }},
        {%- endfor %}
        {{ estore_money('coalesce(daily_sessions.order_revenue, 0)') }} as order_revenue,
        {{ estore_money('coalesce(daily_sessions.order_revenue, 0)'
                        ~ ' + coalesce(sessionless_purchases.revenue, 0)') }} as revenue
    from user_days
    left join daily_sessions
        on user_days.user_id = daily_sessions.user_id
        and user_days.activity_date = daily_sessions.activity_date
    left join sessionless_purchases
        on user_days.user_id = sessionless_purchases.user_id
        and user_days.activity_date = sessionless_purchases.activity_date

)

select * from final
