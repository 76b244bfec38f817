{{
    config(
        event_time='activity_time',
        partition_by=estore_partition_by('activity_time'),
        cluster_by=estore_cluster_by(['product_id', 'user_id']),
    )
}}
{#-
    One row per (session, product), attributed to the session's start day; events without a
    user_session form one row per (user, product, event day). The batch for day D reads the
    events of D-span .. D+span (span = var estore_session_span_days, default 1):
      * a session whose first event is before D belongs to an earlier day (not this batch);
      * a session starting on D keeps its events up to the end of day D+span (sessions are
        assumed to last less than ~24 h; later events of the same pair still count in every
        event-level metric, and a pair seen again after more than `span` days starts a new row).
    So day D depends on fct_events days D-span .. D+span (Dagster partition mapping).
-#}
{%- set span = var('estore_session_span_days', 1) | int -%}

with events as (

    select
        event_id,
        event_time,
        event_date,
        event_type,
        product_id,
        category_id,
        category_code,
        brand,
        price,
        user_id,
        user_session
    from {{ ref('fct_events').render() }}
    where {{ estore_batch_filter('event_time', days_before=span, days_after=span) }}

),

session_starts as (

    select
        user_id,
        user_session,
        min(event_time) as session_start_time
    from events
    where user_session is not null
    group by user_id, user_session

),

session_events as (

    select
        events.*,
        session_starts.session_start_time as activity_time
    from events
    inner join session_starts
        on events.user_id = session_starts.user_id
        and events.user_session = session_starts.user_session
    where {{ estore_batch_filter('session_starts.session_start_time') }}

),

sessionless_events as (

    select
        events.*,
        min(event_time) over (
            partition by user_id, product_id, event_date
        ) as activity_time
    from events
    where user_session is null
        and {{ estore_batch_filter('event_time') }}

),

all_events as (

    select * from session_events
    union all
    select * from sessionless_events

),

ranked as (

    select
        all_events.*,
        row_number() over (
            partition by user_id, user_session, product_id, activity_time
            order by event_time desc, event_id desc
        ) as recency_rank
    from all_events

),

latest as (

    select
        user_id,
        user_session,
        product_id,
        activity_time,
        price as last_price,
        brand as last_brand,
        category_id as last_category_id,
        category_code as last_category_code
    from ranked
    where recency_rank = 1

),

aggregated as (

    select
        user_id,
        user_session,
        product_id,
        activity_time,
        min(event_time) as first_event_time,
        max(event_time) as last_event_time,
        max(case when event_type = 'view' then event_time end) as last_view_time,
        count(*) as events,
        sum({{ estore_flag("event_type = 'view'") }}) as views,
        sum({{ estore_flag("event_type = 'cart'") }}) as carts,
        sum({{ estore_flag("event_type = 'remove_from_cart'") }}) as remove_from_carts,
        sum({{ estore_flag("event_type = 'purchase'") }}) as purchases,
        sum(case when event_type = 'purchase' and price > 0 then price else 0 end)
            as purchase_revenue
    from all_events
    group by user_id, user_session, product_id, activity_time

),

final as (

    select
        {{ estore_hash(['aggregated.user_id', 'aggregated.user_session',
                        'aggregated.product_id', 'cast(aggregated.activity_time as date)']) }}
            as session_product_id,
        aggregated.activity_time,
        cast(aggregated.activity_time as date) as activity_date,
        aggregated.user_id,
        aggregated.user_session,
        case
            when aggregated.user_session is not null
                then {{ estore_hash(['aggregated.user_id', 'aggregated.user_session']) }}
        end as session_id,
        aggregated.product_id,
        aggregated.first_event_time,
        aggregated.last_event_time,
        aggregated.last_view_time,
        cast(aggregated.events as {{ dbt.type_bigint() }}) as events,
        cast(aggregated.views as {{ dbt.type_bigint() }}) as views,
        cast(aggregated.carts as {{ dbt.type_bigint() }}) as carts,
        cast(aggregated.remove_from_carts as {{ dbt.type_bigint() }}) as remove_from_carts,
        cast(aggregated.purchases as {{ dbt.type_bigint() }}) as purchases,
        {{ estore_money('aggregated.purchase_revenue') }} as purchase_revenue,
        latest.last_price,
        latest.last_brand,
        latest.last_category_id,
        latest.last_category_code
    from aggregated
    inner join latest
        on aggregated.user_id = latest.user_id
        and aggregated.product_id = latest.product_id
        and aggregated.activity_time = latest.activity_time
        and (
            aggregated.user_session = latest.user_session
            or (aggregated.user_session is null and latest.user_session is null)
        )

)

select * from final
