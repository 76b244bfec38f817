-- One row per product: event counts, unique viewers/buyers, revenue (every purchase price > 0,
-- session-less purchases included), and the view->purchase rate = sessions with a view AND a
-- purchase of the product / sessions with a view of it (always 0..1; session-less events count
-- as views/purchases but not as sessions), with the product's current attributes from
-- dim_products.
with session_products as (

    select * from {{ ref('fct_session_products') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

as_of as (

    select as_of_date from {{ ref('int_as_of') }}

),

metrics as (

    select
        product_id,
        sum(views) as views,
        sum(carts) as carts,
        sum(remove_from_carts) as remove_from_carts,
        sum(purchases) as purchases,
        count(distinct case when views > 0 then user_id end) as unique_viewers,
        count(distinct case when purchases > 0 then user_id end) as unique_buyers,
        sum({{ estore_flag('views > 0 and session_id is not null') }}) as view_sessions,
        sum({{ estore_flag('purchases > 0 and session_id is not null') }}) as purchase_sessions,
        sum({{ estore_flag('views > 0 and purchases > 0 and session_id is not null') }})
            as view_and_purchase_sessions,
        sum(purchase_revenue) as revenue
    from session_products
    group by product_id

),

final as (

    select
        metrics.product_id,
        products.brand,
        products.category_id,
        products.category_code,
        products.category_l1,
        products.category_l2,
        products.category_l3,
        products.category_l4,
        products.current_price,
        cast(metrics.views as {{ dbt.type_bigint() }}) as views,
        cast(metrics.carts as {{ dbt.type_bigint() }}) as carts,
        cast(metrics.remove_from_carts as {{ dbt.type_bigint() }}) as remove_from_carts,
        cast(metrics.purchases as {{ dbt.type_bigint() }}) as purchases,
        cast(metrics.unique_viewers as {{ dbt.type_bigint() }}) as unique_viewers,
        cast(metrics.unique_buyers as {{ dbt.type_bigint() }}) as unique_buyers,
        cast(metrics.view_sessions as {{ dbt.type_bigint() }}) as view_sessions,
        cast(metrics.purchase_sessions as {{ dbt.type_bigint() }}) as purchase_sessions,
        cast(metrics.view_and_purchase_sessions as {{ dbt.type_bigint() }})
            as view_and_purchase_sessions,
        {{ estore_safe_divide('metrics.view_and_purchase_sessions', 'metrics.view_sessions') }}
            as view_to_purchase_rate,
        {{ estore_money('metrics.revenue') }} as revenue,
        products.first_seen_date,
        products.last_seen_date,
        as_of.as_of_date
    from metrics
    -- left: a product's events always count, even before dim_products has caught up with them
    -- (its attributes are null until then)
    left join products
        on metrics.product_id = products.product_id
    cross join as_of

)

select * from final
