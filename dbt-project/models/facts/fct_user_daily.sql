{{
    config(
        event_time='first_event_time',
        partition_by=estore_partition_by('first_event_time'),
        cluster_by=estore_cluster_by(['user_id']),
    )
}}
-- One row per user per day with any clean event. Event counts are by event day; session,
-- order and revenue counts are by the session's start day (an order belongs to its session,
-- a session to its start day). The user-level marts aggregate this table, never the events.
with events as (

    select * from {{ ref('fct_events') }}

),

sessions as (

    select * from {{ ref('fct_sessions') }}

),

daily_events as (

    select
        user_id,
        event_date as activity_date,
        min(event_time) as first_event_time,
        max(event_time) as last_event_time,
        count(*) as events,
        sum({{ estore_flag("event_type = 'view'") }}) as views,
        sum({{ estore_flag("event_type = 'cart'") }}) as carts,
        sum({{ estore_flag("event_type = 'remove_from_cart'") }}) as remove_from_carts,
        sum({{ estore_flag("event_type = 'purchase'") }}) as purchases,
        sum({{ estore_flag('user_session is null') }}) as sessionless_events,
        count(distinct case when event_type = 'view' then product_id end) as products_viewed,
        count(distinct case when event_type = 'purchase' then product_id end)
            as products_purchased
    from events
    group by user_id, event_date

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
        sum(order_revenue) as revenue
    from sessions
    group by user_id, session_date

),

final as (

    select
        daily_events.user_id,
        daily_events.activity_date,
        daily_events.first_event_time,
        daily_events.last_event_time,
        {%- for column in ['events', 'views', 'carts', 'remove_from_carts', 'purchases',
                           'sessionless_events', 'products_viewed', 'products_purchased'] %}
        cast(daily_events.{{ column }} as {{ dbt.type_bigint() }}) as {{ column }},
        {%- endfor %}
        {%- for column in ['sessions_started', 'sessions_with_view', 'sessions_with_cart',
                           'sessions_with_purchase', 'sessions_with_view_and_cart',
                           'sessions_with_cart_and_purchase', 'sessions_with_view_and_purchase',
                           'sessions_at_stage_view', 'sessions_at_stage_cart',
                           'sessions_at_stage_purchase', 'orders', 'items_purchased'] %}
        cast(coalesce(daily_sessions.{{ column }}, 0) as {{ dbt.type_bigint() }}) as {{ column }},
        {%- endfor %}
        {{ estore_money('coalesce(daily_sessions.revenue, 0)') }} as revenue
    from daily_events
    left join daily_sessions
        on daily_events.user_id = daily_sessions.user_id
        and daily_events.activity_date = daily_sessions.activity_date

)

select * from final
