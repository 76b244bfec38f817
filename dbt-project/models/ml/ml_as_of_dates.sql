{{ config(materialized='table', tags=['ml', 'ml_training']) }}
-- The as_of dates the ML features and labels are computed for: every ml_as_of_step_days days
-- back from the warehouse's as_of (the day after the last event), keeping dates with at least
-- ml_min_history_days of history. One model gives several training dates plus the scoring date.
-- A label is complete when its whole horizon lies before the warehouse's as_of.
-- Each task's time split lives here (the models read it): it is evaluated on its latest date
-- with a complete label and trained on the dates whose horizon ends by then; a task with no
-- training date has no roles yet. Only dates with a role enter the training set.
{%- set step = var('ml_as_of_step_days', 7) | int %}
{%- set count = var('ml_as_of_count', 13) | int %}
{%- set min_history = var('ml_min_history_days', 21) | int %}
{%- set purchase_horizon = var('ml_purchase_horizon_days', 7) | int %}
{%- set churn_horizon = var('ml_churn_horizon_days', 30) | int %}
{%- set tasks = {'purchase': purchase_horizon, 'churn': churn_horizon} %}
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

labelled as (

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

),

evaluation_dates as (

    select
        {%- for task in tasks %}
        max(case when {{ task }}_label_complete then as_of_date end) as {{ task }}_evaluation_date
        {{- "," if not loop.last }}
        {%- endfor %}
    from labelled

),

training_dates as (

    select
        labelled.*,
        {%- for task in tasks %}
        labelled.as_of_date = evaluation_dates.{{ task }}_evaluation_date as is_{{ task }}_evaluation,
        coalesce(
            {{ estore_add_days('labelled.as_of_date', tasks[task]) }}
                <= evaluation_dates.{{ task }}_evaluation_date,
            false
        ) as is_{{ task }}_training
        {{- "," if not loop.last }}
        {%- endfor %}
    from labelled
    cross join evaluation_dates

),

final as (

    select
        as_of_date,
        latest_as_of_date,
        is_latest,
        days_of_history,
        purchase_label_complete,
        churn_label_complete,
        purchase_horizon_days,
        churn_horizon_days,
        {%- for task in tasks %}
        case
            when count(case when is_{{ task }}_training then 1 end) over () = 0 then null
            when is_{{ task }}_training then 'train'
            when is_{{ task }}_evaluation then 'evaluate'
        end as {{ task }}_role
        {{- "," if not loop.last }}
        {%- endfor %}
    from training_dates

)

select
    *,
    purchase_role is not null or churn_role is not null as in_training_set
from final
