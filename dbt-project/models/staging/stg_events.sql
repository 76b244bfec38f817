-- Clean, typed events. Exact duplicate rows (all nine source columns equal) count once.
-- Grouping on the source columns lets the warehouse push a time filter (the window of a daily run)
-- straight down to the raw scan.
with source as (

    select * from {{ source('raw', 'events') }}

),

deduplicated as (

    select
        event_time,
        event_type,
        product_id,
        category_id,
        category_code,
        brand,
        price,
        user_id,
        user_session,
        count(*) as copies_in_source,
        min(source_file) as source_file,
        min(loaded_at) as loaded_at
    from source
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9

),

final as (

    select
        {{ estore_event_id() }} as event_id,
        event_time,
        cast(event_time as date) as event_date,
        event_type,
        product_id,
        category_id,
        nullif(category_code, '') as category_code,
        {{ estore_split_part('category_code', 1) }} as category_l1,
        {{ estore_split_part('category_code', 2) }} as category_l2,
        {{ estore_split_part('category_code', 3) }} as category_l3,
        {{ estore_split_part('category_code', 4) }} as category_l4,
        nullif(brand, '') as brand,
        price,
        user_id,
        nullif(user_session, '') as user_session,
        copies_in_source,
        source_file,
        loaded_at
    from deduplicated

)

select * from final
