{{
    config(
        materialized='incremental',
        incremental_strategy=estore_keyed_strategy(),
        unique_key='session_product_id',
        partition_by=estore_partition_by('activity_time'),
        cluster_by=estore_cluster_by(['user_id', 'product_id']),
        post_hook="{{ estore_drop_tombstones() }}",
    )
}}
{#-
    One row per (session, product) over ALL the session's events, however far apart, dated by
    the session's start (its first event); events without a user_session form one row per
    (user, product, event day).

    Incremental without a look-around (the session lifecycle approach of Snowplow's packages):
    a run for the window [start, end) rebuilds every session that has an event in the window
    now (fct_events) or had one before (this table's first/last event times meet the window),
    reading ALL events of those sessions, wherever they are; session-less rows are rebuilt for
    the window's days. Rows of rebuilt keys that no longer exist are emitted as tombstones
    (events = 0) and deleted by the post-hook. Each run derives what to rebuild from its own
    previous state, so a failed run retried with the same window is still exact.
-#}
{%- set incremental = estore_is_incremental() -%}
{{- estore_assert_key_type('session_product_id') }}
{%- set windowed = estore_reads_window_sessions(incremental) -%}
{%- set coded = estore_codes_latest_text() -%}
{%- set joins_starts = estore_joins_session_starts() -%}
{#- The events of the sessions being rebuilt (all sessions on a full build). -#}
{%- set session_events_from -%}
from {{ ref('fct_events') }} as fct_events
    {%- if windowed %}
    inner join window_sessions
        on fct_events.user_id = window_sessions.user_id
        and fct_events.user_session = window_sessions.user_session
    {%- else %}
    where fct_events.user_session is not null
    {%- endif %}
{%- endset %}

with touched_sessions as (

    -- sessions with an event in the window now
    select user_id, user_session
    from {{ ref('fct_events') }}
    where user_session is not null
        and {{ estore_in_window('event_time') }}

    {%- if incremental %}

    union all

    -- ...or before this run (the window's old events are gone from fct_events by now)
    select user_id, user_session
    from {{ this }}
    where user_session is not null
        and {{ estore_overlaps_window('first_event_time', 'last_event_time') }}
    {%- endif %}

),

window_sessions as (

    select distinct user_id, user_session from touched_sessions

),

events as (

    -- every event of the sessions being rebuilt, and the window's session-less events
    select
        {{ estore_recency_key('fct_events.event_time', 'fct_events.event_id') }} as recency_key,
        fct_events.event_time,
        fct_events.event_date,
        fct_events.event_type,
        fct_events.product_id,
        fct_events.category_id,
        fct_events.category_code,
        fct_events.brand,
        fct_events.price,
        fct_events.user_id,
        fct_events.user_session
    {{ session_events_from }}

    union all

    select
        {{ estore_recency_key('event_time', 'event_id') }} as recency_key,
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
    from {{ ref('fct_events') }}
    where user_session is null
        and {{ estore_in_window('event_time') }}

),
{%- if coded %}

-- Brands and category codes numbered: the aggregate keeps each group's latest number, `decoded`
-- turns it back into text (see estore_codes_latest_text)
brand_codes as (

    select brand, row_number() over (order by brand) as brand_code
    from (select distinct brand from {{ ref('fct_events') }} where brand is not null) as brands

),

category_code_codes as (

    select category_code, row_number() over (order by category_code) as category_code_code
    from (
        select distinct category_code from {{ ref('fct_events') }}
        where category_code is not null
    ) as category_codes

),

coded_events as (

    select events.*, brand_codes.brand_code, category_code_codes.category_code_code
    from events
    left join brand_codes on events.brand = brand_codes.brand
    left join category_code_codes on events.category_code = category_code_codes.category_code

),
{%- endif %}

grouped as (

    -- one row per (session, product), or per (user, product, day) for session-less events;
    -- the "latest" columns follow the latest event of the group (the latest one that HAS a
    -- brand / a category code for those two). The session is keyed by its UUID where it is one
    -- (estore_session_uuid), by its text otherwise.
    select
        user_id,
        {{ estore_session_keys('user_session') }},
        product_id,
        case when user_session is null then event_date end as sessionless_date,
        min(event_time) as first_event_time,
        max(event_time) as last_event_time,
        max(case when event_type = 'view' then event_time end) as last_view_time,
        count(*) as events,
        {{ estore_count_if("event_type = 'view'") }} as views,
        {{ estore_count_if("event_type = 'cart'") }} as carts,
        {{ estore_count_if("event_type = 'remove_from_cart'") }} as remove_from_carts,
        {{ estore_count_if("event_type = 'purchase'") }} as purchases,
        sum(case when event_type = 'purchase' and price > 0 then price else 0 end)
            as purchase_revenue,
        {{ estore_latest('price', 'recency_key') }} as last_price,
        {{ estore_latest('category_id', 'recency_key') }} as last_category_id,
        {%- for text in ['brand', 'category_code'] %}
        {%- set value = text ~ '_code' if coded else text %}
        {{ estore_latest(value, 'recency_key', ignore_nulls=true) }} as last_{{ value }},
        max(case when {{ text }} is not null then event_time end) as last_{{ text }}_time
        {{- ',' if not loop.last }}
        {%- endfor %}
    from {{ 'coded_events' if coded else 'events' }}
    group by 1, 2, 3, 4, 5

),
{%- if coded %}

decoded as (

    select
        grouped.* exclude (last_brand_code, last_category_code_code),
        brand_codes.brand as last_brand,
        category_code_codes.category_code as last_category_code
    from grouped
    left join brand_codes on grouped.last_brand_code = brand_codes.brand_code
    left join category_code_codes
        on grouped.last_category_code_code = category_code_codes.category_code_code

),
{%- endif %}

{%- if joins_starts %}

session_starts as (

    -- each rebuilt session's first event and key, keyed like `grouped`; read from the events
    -- again rather than from `grouped` (which the warehouse would then keep whole to read twice)
    select
        *,
        {{ estore_hash(['user_id', estore_session_text('session_uuid', 'session_text')]) }}
            as session_id
    from (
        select user_id, session_uuid, session_text, min(event_time) as session_start_time
        from (
            select
                fct_events.user_id,
                {{ estore_session_keys('fct_events.user_session') }},
                fct_events.event_time
            {{ session_events_from }}
        ) as session_events
        group by 1, 2, 3
    ) as sessions

),
{%- endif %}

aggregated as (

    -- a session row is dated by the session's start (its first event, whatever the product);
    -- a session-less row by its own first event
    select
        grouped.*,
        {{ estore_session_text('grouped.session_uuid', 'grouped.session_text') }} as user_session,
        {%- if joins_starts %}
        coalesce(session_starts.session_start_time, grouped.first_event_time) as activity_time,
        session_starts.session_id
        {%- else %}
        case
            when grouped.sessionless_date is not null then grouped.first_event_time
            else min(grouped.first_event_time) over (
                partition by grouped.user_id, grouped.session_uuid, grouped.session_text
            )
        end as activity_time
        {%- endif %}
    from {{ 'decoded' if coded else 'grouped' }} as grouped
    {%- if joins_starts %}
    left join session_starts
        on grouped.sessionless_date is null
        and grouped.user_id = session_starts.user_id
        and grouped.session_uuid is not distinct from session_starts.session_uuid
        and grouped.session_text is not distinct from session_starts.session_text
    {%- endif %}

),

rebuilt as (

    select
        -- a session row's key has no date (its start may move); a session-less row's has its day
        case
            when aggregated.user_session is not null
                then {{ estore_hash(['aggregated.user_id', 'aggregated.user_session',
                                     'aggregated.product_id']) }}
            else {{ estore_hash(['aggregated.user_id', 'aggregated.user_session',
                                 'aggregated.product_id',
                                 'cast(aggregated.activity_time as date)']) }}
        end as session_product_id,
        aggregated.activity_time,
        cast(aggregated.activity_time as date) as activity_date,
        aggregated.user_id,
        aggregated.user_session,
        {%- if joins_starts %}
        aggregated.session_id,
        {%- else %}
        case
            when aggregated.user_session is not null
                then {{ estore_hash(['aggregated.user_id', 'aggregated.user_session']) }}
        end as session_id,
        {%- endif %}
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
        aggregated.last_price,
        aggregated.last_brand,
        aggregated.last_brand_time,
        aggregated.last_category_id,
        aggregated.last_category_code,
        aggregated.last_category_code_time
    from aggregated

)

{%- if incremental %},

tombstones as (

    -- rows of rebuilt sessions (or window days) that no longer exist: deleted by the post-hook
    select previous.*
    from {{ this }} as previous
    where (
            previous.user_session is not null
            and exists (
                select 1 from window_sessions
                where window_sessions.user_id = previous.user_id
                    and window_sessions.user_session = previous.user_session
            )
        )
        or (previous.user_session is null and {{ estore_in_window('previous.activity_time') }})

)
{%- endif %}

select * from rebuilt
{%- if incremental %}

union all

select
    session_product_id,
    activity_time,
    activity_date,
    user_id,
    user_session,
    session_id,
    product_id,
    first_event_time,
    last_event_time,
    last_view_time,
    cast(0 as {{ dbt.type_bigint() }}) as events,
    views,
    carts,
    remove_from_carts,
    purchases,
    purchase_revenue,
    last_price,
    last_brand,
    last_brand_time,
    last_category_id,
    last_category_code,
    last_category_code_time
from tombstones
where session_product_id not in (select session_product_id from rebuilt)
{%- endif %}
