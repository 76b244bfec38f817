-- Every mart that reports revenue reconciles to one total: the order revenue of the sessions
-- (int_user_daily, = fct_sessions.order_revenue by start day; metrics.md: revenue = purchase
-- prices > 0 of orders). mart_product_performance reaches it by another path
-- (fct_session_products). Returns one row per relation whose total differs (money is an exact
-- decimal, so equality is exact). Reads whole-table models only, so it runs with them.
{{ config(meta={'dagster': {'ref': {'name': 'metrics_headline'}}}) }}

with totals as (

    select 'int_user_daily' as relation, sum(revenue) as revenue
    from {{ ref('int_user_daily') }}
    union all
    select 'dim_users', sum(revenue) from {{ ref('dim_users') }}
    union all
    select 'dim_user_rfm', sum(monetary) from {{ ref('dim_user_rfm') }}
    union all
    select 'metrics_sales_daily', sum(revenue) from {{ ref('metrics_sales_daily') }}
    union all
    select 'metrics_rfm_segments', sum(revenue) from {{ ref('metrics_rfm_segments') }}
    union all
    select 'mart_product_performance', sum(revenue) from {{ ref('mart_product_performance') }}
    union all
    select 'metrics_headline', sum(revenue) from {{ ref('metrics_headline') }}

),

reference as (

    select coalesce(revenue, 0) as revenue from totals where relation = 'int_user_daily'

)

select totals.relation, totals.revenue, reference.revenue as expected_revenue
from totals
cross join reference
where coalesce(totals.revenue, 0) <> reference.revenue
