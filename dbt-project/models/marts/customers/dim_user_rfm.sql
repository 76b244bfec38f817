-- One row per buyer: recency/frequency/monetary, their 1..5 scores (ties share a score) and the
-- RFM segment: the first matching rule of metrics.md, in its order (macro estore_rfm_segments).
with scores as (

    select * from {{ ref('int_user_rfm_scores') }}

),

final as (

    select
        cast(user_id as {{ dbt.type_bigint() }}) as user_id,
        last_order_date,
        cast(recency_days as {{ dbt.type_bigint() }}) as recency_days,
        cast(frequency as {{ dbt.type_bigint() }}) as frequency,
        {{ estore_money('monetary') }} as monetary,
        r_score,
        f_score,
        m_score,
        {{ dbt.concat([dbt.safe_cast('r_score', dbt.type_string()),
                       dbt.safe_cast('f_score', dbt.type_string()),
                       dbt.safe_cast('m_score', dbt.type_string())]) }} as rfm_code,
        {{ estore_rfm_segment_case('r_score', 'f_score', 'm_score', 'name') }} as rfm_segment,
        cast({{ estore_rfm_segment_case('r_score', 'f_score', 'm_score', 'order') }}
            as {{ dbt.type_bigint() }}) as segment_order,
        as_of_date
    from scores

)

select * from final
