-- One row per product seen in any clean event: its current attributes, plus first/last seen
-- dates. Price and category_id come from the product's latest event; brand and category_code
-- from the latest event that HAS one (a later event without a brand does not blank it). Ties
-- are broken by the row key so the choice is deterministic.
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

brands as (

    select
        product_id,
        last_brand,
        row_number() over (
            partition by product_id
            order by last_brand_time desc, session_product_id desc
        ) as brand_rank
    from session_products
    where last_brand is not null

),

category_codes as (

    select
        product_id,
        last_category_code,
        row_number() over (
            partition by product_id
            order by last_category_code_time desc, session_product_id desc
        ) as category_rank
    from session_products
    where last_category_code is not null

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
        brands.last_brand as brand,
        cast(latest.last_category_id as {{ dbt.type_bigint() }}) as category_id,
        category_codes.last_category_code as category_code,
        {{ estore_split_part('category_codes.last_category_code', 1) }} as category_l1,
        {{ estore_split_part('category_codes.last_category_code', 2) }} as category_l2,
        {{ estore_split_part('category_codes.last_category_code', 3) }} as category_l3,
        {{ estore_split_part('category_codes.last_category_code', 4) }} as category_l4,
        {{ estore_money('latest.last_price') }} as current_price,
        seen.first_seen_time,
        seen.last_seen_time,
        cast(seen.first_seen_time as date) as first_seen_date,
        cast(seen.last_seen_time as date) as last_seen_date
    from latest
    inner join seen
        on latest.product_id = seen.product_id
    left join brands
        on latest.product_id = brands.product_id
        and brands.brand_rank = 1
    left join category_codes
        on latest.product_id = category_codes.product_id
        and category_codes.category_rank = 1

)

select * from final
