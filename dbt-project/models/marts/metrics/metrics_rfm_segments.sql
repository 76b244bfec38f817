-- Buyers and revenue per RFM segment: all nine segments of metrics.md in precedence order,
-- including empty ones (0 buyers).
with rfm as (

    select * from {{ ref('dim_user_rfm') }}

),

as_of as (

    select as_of_date from {{ ref('int_as_of') }}

),

segments as (

    {%- for order, name, rule in estore_rfm_segments() %}
    select {{ order }} as segment_order, '{{ name }}' as rfm_segment
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

by_segment as (

    select
        rfm_segment,
        count(*) as buyers,
        sum(monetary) as revenue,
        -- averages as exact sum / count, so they do not depend on the order rows are summed
        {{ estore_safe_divide('sum(recency_days)', 'count(*)') }} as avg_recency_days,
        {{ estore_safe_divide('sum(frequency)', 'count(*)') }} as avg_frequency,
        {{ estore_safe_divide('sum(monetary)', 'count(*)') }} as avg_monetary
    from rfm
    group by rfm_segment

),

totals as (

    select
        count(*) as buyers,
        sum(monetary) as revenue
    from rfm

),

final as (

    select
        cast(segments.segment_order as {{ dbt.type_bigint() }}) as segment_order,
        segments.rfm_segment,
        cast(coalesce(by_segment.buyers, 0) as {{ dbt.type_bigint() }}) as buyers,
        {{ estore_safe_divide('coalesce(by_segment.buyers, 0)', 'totals.buyers') }}
            as buyer_share,
        {{ estore_money('coalesce(by_segment.revenue, 0)') }} as revenue,
        {{ estore_safe_divide('coalesce(by_segment.revenue, 0)', 'totals.revenue') }}
            as revenue_share,
        by_segment.avg_recency_days,
        by_segment.avg_frequency,
        by_segment.avg_monetary,
        as_of.as_of_date
    from segments
    left join by_segment
        on segments.rfm_segment = by_segment.rfm_segment
    cross join totals
    cross join as_of

)

select * from final
