-- Churn by cohort (month of a buyer's first order), metrics.md "Churn by cohort":
--   eligible  = the whole 90-day window after the first order lies inside the data:
--               first_order_date + 90 <= last_event_date (= as_of - 1);
--   retained  = another order day d with first_order_date < d <= first_order_date + 90
--               (a second order on the first day itself does not retain);
--   churn_rate = churned / eligible.
-- One row per cohort with eligible buyers, plus one 'overall' row that always exists and carries
-- the status: 'insufficient_history' (the data spans less than 90 days after its first day, so
-- nobody can be eligible: no cohort rows, churn_rate null), 'no_eligible_buyers', or 'ok'.
with order_days as (

    select user_id, activity_date as order_date
    from {{ ref('int_user_daily') }}
    where orders > 0

),

as_of as (

    select * from {{ ref('int_as_of') }}

),

first_orders as (

    select
        user_id,
        min(order_date) as first_order_date
    from order_days
    group by user_id

),

buyers as (

    select
        first_orders.user_id,
        first_orders.first_order_date,
        {{ estore_month_start('first_orders.first_order_date') }} as cohort_month,
        max(
            {{ estore_flag(estore_add_days('first_orders.first_order_date', 90)
                           ~ ' <= as_of.last_event_date') }}
        ) as is_eligible,
        max(
            case
                when order_days.order_date > first_orders.first_order_date
                    and order_days.order_date
                        <= {{ estore_add_days('first_orders.first_order_date', 90) }}
                    then 1
                else 0
            end
        ) as is_retained
    from first_orders
    inner join order_days
        on first_orders.user_id = order_days.user_id
    cross join as_of
    group by first_orders.user_id, first_orders.first_order_date

),

cohorts as (

    select
        cohort_month,
        count(*) as buyers,
        sum(is_eligible) as eligible_buyers,
        sum(is_eligible * is_retained) as retained_buyers
    from buyers
    group by cohort_month
    having sum(is_eligible) > 0

),

overall as (

    select
        count(*) as buyers,
        coalesce(sum(is_eligible), 0) as eligible_buyers,
        coalesce(sum(is_eligible * is_retained), 0) as retained_buyers
    from buyers

),

unioned as (

    select
        substr(cast(cohort_month as {{ dbt.type_string() }}), 1, 7) as cohort,
        cohort_month,
        false as is_overall,
        buyers,
        eligible_buyers,
        retained_buyers
    from cohorts

    union all

    select
        'overall' as cohort,
        cast(null as date) as cohort_month,
        true as is_overall,
        buyers,
        eligible_buyers,
        retained_buyers
    from overall

),

final as (

    select
        unioned.cohort,
        unioned.cohort_month,
        unioned.is_overall,
        cast(unioned.buyers as {{ dbt.type_bigint() }}) as buyers,
        cast(unioned.eligible_buyers as {{ dbt.type_bigint() }}) as eligible_buyers,
        cast(unioned.retained_buyers as {{ dbt.type_bigint() }}) as retained_buyers,
        cast(unioned.eligible_buyers - unioned.retained_buyers as {{ dbt.type_bigint() }})
            as churned_buyers,
        {{ estore_safe_divide('unioned.eligible_buyers - unioned.retained_buyers',
                              'unioned.eligible_buyers') }} as churn_rate,
        case
            when as_of.last_event_date is null
                or {{ estore_days_between('as_of.first_event_date', 'as_of.last_event_date') }}
                    < 90
                then 'insufficient_history'
            when unioned.eligible_buyers = 0 then 'no_eligible_buyers'
            else 'ok'
        end as status,
        as_of.as_of_date,
        {{ estore_add_days('as_of.last_event_date', -90) }} as eligibility_cutoff_date,
        cast(as_of.days_of_history as {{ dbt.type_bigint() }}) as days_of_history
    from unioned
    cross join as_of

)

select * from final
