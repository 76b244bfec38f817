-- One row per product seen in any clean event: its current attributes, plus first/last seen
-- dates. Price and category_id come from the product's latest event; brand and category_code
-- from the latest event that HAS one (a later event without a brand does not blank it). Ties
-- are broken by the row key so the choice is deterministic. One aggregate per product
-- (estore_latest) instead of a sort per rule.
with session_products as (

    select
        product_id,
        first_event_time,
        last_event_time,
        last_price,
        last_category_id,
        last_brand,
        last_category_code,
        {{ estore_recency_key('last_event_time', 'session_product_id') }} as recency_key,
        {{ estore_recency_key('last_brand_time', 'session_product_id') }} as brand_key,
        {{ estore_recency_key('last_category_code_time', 'session_product_id') }}
            as category_code_key
    from {{ ref('fct_session_products') }}

),

products as (

    select
        product_id,
        min(first_event_time) as first_seen_time,
        max(last_event_time) as last_seen_time,
        {{ estore_latest('last_price', 'recency_key') }} as current_price,
        {{ estore_latest('last_category_id', 'recency_key') }} as category_id,
        {{ estore_latest('last_brand', 'brand_key', ignore_nulls=true) }} as brand,
        {{ estore_latest('last_category_code', 'category_code_key', ignore_nulls=true) }}
            as category_code
    from session_products
    group by product_id

),

final as (

    select
        cast(product_id as {{ dbt.type_bigint() }}) as product_id,
        brand,
        cast(category_id as {{ dbt.type_bigint() }}) as category_id,
        category_code,
        {{ estore_split_part('category_code', 1) }} as category_l1,
        {{ estore_split_part('category_code', 2) }} as category_l2,
        {{ estore_split_part('category_code', 3) }} as category_l3,
        {{ estore_split_part('category_code', 4) }} as category_l4,
        {{ estore_money('current_price') }} as current_price,
        first_seen_time,
        last_seen_time,
        cast(first_seen_time as date) as first_seen_date,
        cast(last_seen_time as date) as last_seen_date
    from products

)

select * from final
