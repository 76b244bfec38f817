{{ config(materialized='table', tags=['ml', 'ml_training']) }}
-- The as_of dates the ML features and labels are computed for: every ml_as_of_step_days days
-- back from the warehouse's as_of (the day after the last event), keeping dates with at least
-- ml_min_history_days of history. One model gives several training dates plus the scoring date.
-- A label is complete when its whole horizon lies before the warehouse's as_of.
{%- set step = var('ml_as_of_step_days', 7) | int %}
{%- set count = var('ml_as_of_count', 13) | int %}
{%- set min_history = var('ml_min_history_days', 21) | int %}
{%- set purchase_horizon = var('ml_purchase_horizon_days', 7) | int %}
{%- set churn_horizon = var('ml_churn_horizon_days', 30) | int %}
with bounds as (

    select as_of_date as latest_as_of_date, first_event_date
    from {{ ref('int_as_of') }}

),

steps as (

    {%- for k in range(count) %}
    select {{ k }} as steps_back{% if not loop.last %} union all{% endif %}
    {%- endfor %}

),

candidates as (

    select
        {{ estore_add_days('bounds.latest_as_of_date', '-' ~ step ~ ' * steps.steps_back') }}
            as as_of_date,
        bounds.latest_as_of_date,
        bounds.first_event_date,
        steps.steps_back
    from bounds
    cross join steps

),

final as (

    select
        as_of_date,
        latest_as_of_date,
        steps_back = 0 as is_latest,
        {{ estore_days_between('first_event_date', 'as_of_date') }} as days_of_history,
        {{ estore_add_days('as_of_date', purchase_horizon) }} <= latest_as_of_date
            as purchase_label_complete,
        {{ estore_add_days('as_of_date', churn_horizon) }} <= latest_as_of_date
            as churn_label_complete,
        {{ purchase_horizon }} as purchase_horizon_days,
        {{ churn_horizon }} as churn_horizon_days
    from candidates
    where {{ estore_days_between('first_event_date', 'as_of_date') }} >= {{ min_history }}

)

select * from final
