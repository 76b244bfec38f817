-- One row per (non-null) category_id that is the current category of at least one product
-- (dim_products), with the category_code of its most recently seen product, the code's levels,
-- and how many products it currently holds.
with products as (

    select * from {{ ref('dim_products') }}
    where category_id is not null

),

ranked as (

    select
        category_id,
        category_code,
        row_number() over (
            partition by category_id
            order by last_seen_time desc, product_id desc
        ) as recency_rank
    from products

),

latest as (

    select category_id, category_code from ranked where recency_rank = 1

),

counts as (

    select
        category_id,
        count(*) as products,
        count(distinct brand) as brands,
        min(first_seen_date) as first_seen_date,
        max(last_seen_date) as last_seen_date
    from products
    group by category_id

),

final as (

    select
        cast(counts.category_id as {{ dbt.type_bigint() }}) as category_id,
        latest.category_code,
        {{ estore_split_part('latest.category_code', 1) }} as category_l1,
        {{ estore_split_part('latest.category_code', 2) }} as category_l2,
        {{ estore_split_part('latest.category_code', 3) }} as category_l3,
        {{ estore_split_part('latest.category_code', 4) }} as category_l4,
        cast(counts.products as {{ dbt.type_bigint() }}) as products,
        cast(counts.brands as {{ dbt.type_bigint() }}) as brands,
        counts.first_seen_date,
        counts.last_seen_date
    from counts
    inner join latest
        on counts.category_id = latest.category_id

)

select * from final
