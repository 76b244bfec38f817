{{
    config(
        event_time='session_start_time',
        partition_by=estore_partition_by('session_start_time'),
        cluster_by=estore_cluster_by(['user_id']),
    )
}}
-- One row per session (user_id, user_session), attributed to the day of its first event.
-- Built from fct_session_products of the same day (which already holds each session's events
-- up to the following day), so this model needs no lookback of its own.
with session_products as (

    select * from {{ ref('fct_session_products') }}
    where user_session is not null

),

sessions as (

    select
        session_id,
        user_id,
        user_session,
        min(activity_time) as session_start_time,
        min(first_event_time) as first_event_time,
        max(last_event_time) as last_event_time,
        sum(events) as events,
        sum(views) as views,
        sum(carts) as carts,
        sum(remove_from_carts) as remove_from_carts,
        sum(purchases) as purchases,
        count(*) as products,
        sum({{ estore_flag('views > 0') }}) as products_viewed,
        sum({{ estore_flag('carts > 0') }}) as products_carted,
        sum({{ estore_flag('purchases > 0') }}) as products_purchased,
        sum(purchase_revenue) as order_revenue
    from session_products
    group by session_id, user_id, user_session

),

final as (

    select
        session_id,
        user_id,
        user_session,
        session_start_time,
        cast(session_start_time as date) as session_date,
        first_event_time,
        last_event_time,
        {{ estore_seconds_between('first_event_time', 'last_event_time') }} as duration_seconds,
        cast(events as {{ dbt.type_bigint() }}) as events,
        cast(views as {{ dbt.type_bigint() }}) as views,
        cast(carts as {{ dbt.type_bigint() }}) as carts,
        cast(remove_from_carts as {{ dbt.type_bigint() }}) as remove_from_carts,
        cast(purchases as {{ dbt.type_bigint() }}) as purchases,
        cast(products as {{ dbt.type_bigint() }}) as products,
        cast(products_viewed as {{ dbt.type_bigint() }}) as products_viewed,
        cast(products_carted as {{ dbt.type_bigint() }}) as products_carted,
        cast(products_purchased as {{ dbt.type_bigint() }}) as products_purchased,
        views > 0 as has_view,
        carts > 0 as has_cart,
        purchases > 0 as has_purchase,
        case
            when purchases > 0 then 'purchase'
            when carts > 0 then 'cart'
            when views > 0 then 'view'
            else 'none'
        end as funnel_stage,
        purchases > 0 as is_order,
        cast(purchases as {{ dbt.type_bigint() }}) as items_purchased,
        {{ estore_money('order_revenue') }} as order_revenue
    from sessions

)

select * from final
