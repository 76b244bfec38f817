{{
    config(
        materialized='incremental',
        incremental_strategy=estore_keyed_strategy(),
        unique_key='session_id',
        partition_by=estore_partition_by('session_start_time'),
        cluster_by=estore_cluster_by(['session_id']),
        post_hook="{{ estore_drop_tombstones() }}",
    )
}}
{#-
    One row per session (user_id, user_session), however far apart its events, dated by the
    day of its first event. Built from fct_session_products (which holds each session's events
    whatever their days). A run for the window [start, end) rebuilds the sessions with an event
    in the window now (fct_events) or before this run (this table's first/last event times meet
    the window); a rebuilt session that no longer exists is emitted as a tombstone (events = 0)
    and deleted by the post-hook. What to rebuild comes from this table's own previous state,
    so a failed run retried with the same window is still exact.
-#}
{%- set incremental = estore_is_incremental() -%}
{{- estore_assert_key_type('session_id') }}
{%- set windowed = estore_reads_window_sessions(incremental) -%}

with touched_sessions as (

    select {{ estore_hash(['user_id', 'user_session']) }} as session_id
    from {{ ref('fct_events') }}
    where user_session is not null
        and {{ estore_in_window('event_time') }}

    {%- if incremental %}

    union all

    select session_id
    from {{ this }}
    where {{ estore_overlaps_window('first_event_time', 'last_event_time') }}
    {%- endif %}

),

window_sessions as (

    select distinct session_id from touched_sessions

),

session_products as (

    select fct_session_products.*
    from {{ ref('fct_session_products') }} as fct_session_products
    {%- if windowed %}
    inner join window_sessions
        on fct_session_products.session_id = window_sessions.session_id
    {%- else %}
    where fct_session_products.session_id is not null
    {%- endif %}

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
        {{ estore_count_if('views > 0') }} as products_viewed,
        {{ estore_count_if('carts > 0') }} as products_carted,
        {{ estore_count_if('purchases > 0') }} as products_purchased,
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
{%- if incremental %}

union all

-- rebuilt sessions that no longer exist: deleted by the post-hook
select
    previous.session_id,
    previous.user_id,
    previous.user_session,
    previous.session_start_time,
    previous.session_date,
    previous.first_event_time,
    previous.last_event_time,
    previous.duration_seconds,
    cast(0 as {{ dbt.type_bigint() }}) as events,
    previous.views,
    previous.carts,
    previous.remove_from_carts,
    previous.purchases,
    previous.products,
    previous.products_viewed,
    previous.products_carted,
    previous.products_purchased,
    previous.has_view,
    previous.has_cart,
    previous.has_purchase,
    previous.funnel_stage,
    previous.is_order,
    previous.items_purchased,
    previous.order_revenue
from {{ this }} as previous
inner join window_sessions
    on previous.session_id = window_sessions.session_id
where previous.session_id not in (select session_id from final)
{%- endif %}
