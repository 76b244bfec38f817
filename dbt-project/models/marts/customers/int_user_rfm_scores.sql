{{ config(materialized='table') }}
-- R, F, M and their 1..5 scores for every buyer (users with at least one order).
-- Score = 1 + floor(5 * share of buyers strictly worse on that measure), where
-- share = (rank() - 1) / buyers over the measure ordered worst-first. rank() gives equal values
-- the same rank, so ties always share a score whatever the engine or row order (never ntile);
-- without ties this is exact quintiles (each score holds a fifth of the buyers). 5 * rank is
-- divided as a whole so an exact cut point (an integer) is never lost to float rounding.
with buyers as (

    select
        user_id,
        last_order_date,
        days_since_last_order as recency_days,
        orders as frequency,
        revenue as monetary,
        as_of_date
    from {{ ref('dim_users') }}
    where orders > 0

),

ranked as (

    select
        buyers.*,
        count(*) over () as buyer_count,
        rank() over (order by recency_days desc) - 1 as buyers_more_recency,
        rank() over (order by frequency asc) - 1 as buyers_less_frequency,
        rank() over (order by monetary asc) - 1 as buyers_less_monetary
    from buyers

),

final as (

    select
        user_id,
        last_order_date,
        recency_days,
        frequency,
        monetary,
        {%- for measure, worse in [('r', 'buyers_more_recency'), ('f', 'buyers_less_frequency'),
                                   ('m', 'buyers_less_monetary')] %}
        cast(
            1 + floor({{ estore_safe_divide('5 * ' ~ worse, 'buyer_count') }})
            as {{ dbt.type_bigint() }}
        ) as {{ measure }}_score,
        {%- endfor %}
        as_of_date
    from ranked

)

select * from final
