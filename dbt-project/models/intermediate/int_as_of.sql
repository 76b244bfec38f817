{{ config(materialized='table') }}
-- The one place that defines as_of: the day after the last event_date in the warehouse.
-- Every recency, age and eligibility rule reads as_of_date from here (never the wall clock).
with user_days as (

    select activity_date from {{ ref('fct_user_daily') }}

),

bounds as (

    select
        min(activity_date) as first_event_date,
        max(activity_date) as last_event_date
    from user_days

),

final as (

    select
        {{ estore_add_days('last_event_date', 1) }} as as_of_date,
        first_event_date,
        last_event_date,
        {{ estore_days_between('first_event_date', estore_add_days('last_event_date', 1)) }}
            as days_of_history
    from bounds

)

select * from final
