-- Sales per day: revenue (every purchase price > 0: the orders', dated by their session's start
-- day, and those of purchases without a session, on their own day), order revenue, orders,
-- buyers, AOV (order revenue / orders), and the change versus the same weekday one week earlier
-- (date - 7). Every day with any clean event has a row (zero sales included), so a comparison
-- day inside the history compares to zeros; when the comparison day has no data at all the
-- comparison columns are null.
with user_days as (

    select * from {{ ref('int_user_daily') }}

),

daily as (

    select
        activity_date as sales_date,
        sum(revenue) as revenue,
        sum(order_revenue) as order_revenue,
        sum(orders) as orders,
        sum({{ estore_flag('orders > 0') }}) as buyers
    from user_days
    group by activity_date

),

with_previous as (

    select
        daily.sales_date,
        daily.revenue,
        daily.order_revenue,
        daily.orders,
        daily.buyers,
        {{ estore_add_days('daily.sales_date', -7) }} as comparison_date,
        {{ estore_safe_divide('daily.order_revenue', 'daily.orders') }} as aov,
        previous.revenue as previous_revenue,
        previous.orders as previous_orders,
        previous.buyers as previous_buyers,
        {{ estore_safe_divide('previous.order_revenue', 'previous.orders') }} as previous_aov
    from daily
    left join daily as previous
        on previous.sales_date = {{ estore_add_days('daily.sales_date', -7) }}

),

final as (

    select
        sales_date,
        {{ estore_money('revenue') }} as revenue,
        {{ estore_money('order_revenue') }} as order_revenue,
        cast(orders as {{ dbt.type_bigint() }}) as orders,
        cast(buyers as {{ dbt.type_bigint() }}) as buyers,
        aov,
        comparison_date,
        {{ estore_money('previous_revenue') }} as previous_revenue,
        cast(previous_orders as {{ dbt.type_bigint() }}) as previous_orders,
        cast(previous_buyers as {{ dbt.type_bigint() }}) as previous_buyers,
        previous_aov,
        {{ estore_money('revenue - previous_revenue') }} as revenue_change,
        {{ estore_safe_divide('revenue - previous_revenue', 'previous_revenue') }}
            as revenue_change_rate,
        {{ estore_safe_divide('orders - previous_orders', 'previous_orders') }}
            as orders_change_rate,
        {{ estore_safe_divide('buyers - previous_buyers', 'previous_buyers') }}
            as buyers_change_rate,
        {{ estore_safe_divide('aov - previous_aov', 'previous_aov') }} as aov_change_rate
    from with_previous

)

select * from final
