-- One row per product seen in any clean event: its current attributes, taken from the product's
-- latest event (brand, category and price as of that event; ties broken by the row key so the
-- choice is deterministic), plus first/last seen dates.
with session_products as (

    select * from {{ ref('fct_session_products') }}

),

ranked as (

    select
        product_id,
        last_event_time,
        last_brand,
        last_category_id,
        last_category_code,
        last_price,
        row_number() over (
            partition by product_id
            order by last_event_time desc, session_product_id desc
        ) as recency_rank
    from session_products

),

latest as (

    select * from ranked where recency_rank = 1

),

seen as (

    select
        product_id,
        min(first_event_time) as first_seen_time,
        max(last_event_time) as last_seen_time
    from session_products
    group by product_id

),

final as (

    select
        cast(latest.product_id as {{ dbt.type_bigint() }}) as product_id,
        latest.last_brand as brand,
        cast(latest.last_category_id as {{ dbt.type_bigint() }}) as category_id,
        latest.last_category_code as category_code,
        {{ estore_split_part('latest.last_category_code', 1) }} as category_l1,
        {{ estore_split_part('latest.last_category_code', 2) }} as category_l2,
        {{ estore_split_part('latest.last_category_code', 3) }} as category_l3,
        {{ estore_split_part('latest.last_category_code', 4) }} as category_l4,
        {{ estore_money('latest.last_price') }} as current_price,
        seen.first_seen_time,
        seen.last_seen_time,
        cast(seen.first_seen_time as date) as first_seen_date,
        cast(seen.last_seen_time as date) as last_seen_date
    from latest
    inner join seen
        on latest.product_id = seen.product_id

)

select * from final
