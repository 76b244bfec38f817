{{ estore_day_fact_config('event_time', cluster_by=['event_type', 'user_id']) }}
{{- estore_assert_key_type('event_id') }}
-- One row per clean event, partitioned by day. Each run replaces exactly the days of the window
-- Dagster passes (the days a newly loaded file touched) in one statement, so late or re-dropped
-- files are safe and a day emptied by a corrected file is emptied here too.
with events as (

    select * from {{ ref('stg_events') }}
    where {{ estore_in_window('event_time') }}

),

final as (

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
        user_session,
        copies_in_source,
        source_file
    from events

)

select * from final
