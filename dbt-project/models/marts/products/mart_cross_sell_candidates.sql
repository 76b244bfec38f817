-- One row per (user, product) the user viewed but never purchased (no purchase event of that
-- product by that user, in any session or none): view count, last view time, the product's
-- current price and view->purchase rate, and expected_lost_revenue = price x rate.
with session_products as (

    select * from {{ ref('fct_session_products') }}

),

products as (

    select * from {{ ref('mart_product_performance') }}

),

user_products as (

    select
        user_id,
        product_id,
        sum(views) as view_count,
        sum(purchases) as purchases,
        max(last_view_time) as last_view_time
    from session_products
    group by user_id, product_id

),

candidates as (

    select * from user_products
    where view_count > 0
        and purchases = 0

),

final as (

    select
        cast(candidates.user_id as {{ dbt.type_bigint() }}) as user_id,
        cast(candidates.product_id as {{ dbt.type_bigint() }}) as product_id,
        cast(candidates.view_count as {{ dbt.type_bigint() }}) as view_count,
        candidates.last_view_time,
        products.current_price,
        products.view_to_purchase_rate,
        cast(products.current_price as {{ estore_type_float() }})
            * products.view_to_purchase_rate as expected_lost_revenue,
        products.brand,
        products.category_code,
        products.as_of_date
    from candidates
    inner join products
        on candidates.product_id = products.product_id

)

select * from final
