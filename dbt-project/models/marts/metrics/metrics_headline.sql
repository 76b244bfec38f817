-- The headline figures `estore summary` prints, one row, taken from the marts that define them
-- (so the summary can never disagree with a dashboard): revenue, orders and AOV (sales), the
-- session funnel rates (funnel), the overall churn row (churn cohorts) and the share of buyers
-- in each RFM segment (rfm segments). Python only formats these values.
with sales as (

    select
        sum(revenue) as revenue,
        sum(order_revenue) as order_revenue,
        sum(orders) as orders
    from {{ ref('metrics_sales_daily') }}

),

funnel as (

    select * from {{ ref('metrics_funnel') }}

),

churn as (

    select * from {{ ref('metrics_churn_cohorts') }}
    where is_overall

),

segments as (

    select
        sum(buyers) as buyers
        {%- for order, name, rule in estore_rfm_segments() %},
        max(case when segment_order = {{ order }} then buyer_share end)
            as rfm_share_{{ name | lower | replace(' ', '_') }}
        {%- endfor %}
    from {{ ref('metrics_rfm_segments') }}

),

final as (

    select
        funnel.as_of_date,
        funnel.first_event_date,
        funnel.last_event_date,
        {{ estore_money('coalesce(sales.revenue, 0)') }} as revenue,
        cast(coalesce(sales.orders, 0) as {{ dbt.type_bigint() }}) as orders,
        {{ estore_safe_divide('sales.order_revenue', 'sales.orders') }} as aov,
        cast(coalesce(segments.buyers, 0) as {{ dbt.type_bigint() }}) as buyers,
        funnel.sessions,
        funnel.view_to_cart_rate,
        funnel.cart_to_purchase_rate,
        funnel.view_to_purchase_rate,
        funnel.cart_abandonment_rate,
        churn.status as churn_status,
        churn.churn_rate,
        churn.eligible_buyers as churn_eligible_buyers,
        churn.days_of_history
        {%- for order, name, rule in estore_rfm_segments() %},
        segments.rfm_share_{{ name | lower | replace(' ', '_') }}
        {%- endfor %}
    from funnel
    cross join sales
    cross join churn
    cross join segments

)

select * from final
