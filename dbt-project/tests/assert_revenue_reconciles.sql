-- Every mart that reports revenue reconciles to one total (metrics.md: revenue = purchase prices
-- > 0, every mart reconciles): int_user_daily's, which adds the sessions' order revenue
-- (fct_sessions) and the purchases without a session. mart_product_performance reaches it by
-- another path (fct_session_products, all purchases). The RFM marts cover buyers only (users with
-- an order), so they reconcile to the buyers' revenue in dim_users. Returns one row per relation
-- whose total differs (money is an exact decimal, so equality is exact). Reads whole-table models
-- only, so it runs with them.
{{ config(meta={'dagster': {'ref': {'name': 'metrics_headline'}}}) }}

with totals as (

    select 'int_user_daily' as relation, 'all' as scope, sum(revenue) as revenue
    from {{ ref('int_user_daily') }}
    union all
    select 'dim_users', 'all', sum(revenue) from {{ ref('dim_users') }}
    union all
    select 'metrics_sales_daily', 'all', sum(revenue) from {{ ref('metrics_sales_daily') }}
    union all
    select 'mart_product_performance', 'all', sum(revenue)
    from {{ ref('mart_product_performance') }}
    union all
    select 'metrics_headline', 'all', sum(revenue) from {{ ref('metrics_headline') }}
    union all
    select 'dim_users (buyers)', 'buyers', sum(revenue) from {{ ref('dim_users') }}
    where orders > 0
    union all
    select 'dim_user_rfm', 'buyers', sum(monetary) from {{ ref('dim_user_rfm') }}
    union all
    select 'metrics_rfm_segments', 'buyers', sum(revenue) from {{ ref('metrics_rfm_segments') }}

),

reference as (

    select scope, coalesce(revenue, 0) as revenue
    from totals
    where relation in ('int_user_daily', 'dim_users (buyers)')

)

select totals.relation, totals.revenue, reference.revenue as expected_revenue
from totals
inner join reference on totals.scope = reference.scope
where coalesce(totals.revenue, 0) <> reference.revenue
