{{ config(materialized='table', tags=['ml', 'ml_training']) }}
-- Labels of each ml_user_features row, from orders on or after as_of_date:
-- purchased = an order in [as_of, as_of + ml_purchase_horizon_days);
-- churned = a buyer (an order before as_of) with no order in [as_of, as_of + ml_churn_horizon_days).
-- Null when the horizon is not complete yet (it reaches past the last loaded day).
with features as (

    select as_of_date, user_id, is_buyer from {{ ref('ml_user_features') }}

),

as_of_dates as (

    select * from {{ ref('ml_as_of_dates') }}

),

user_days as (

    select user_id, activity_date, orders from {{ ref('ml_user_days') }} where orders > 0

),

future_orders as (

    select
        features.as_of_date,
        features.user_id,
        sum(case when user_days.activity_date < {{ estore_add_days(
            'features.as_of_date', 'as_of_dates.purchase_horizon_days') }}
            then user_days.orders else 0 end) as orders_in_purchase_horizon,
        sum(case when user_days.activity_date < {{ estore_add_days(
            'features.as_of_date', 'as_of_dates.churn_horizon_days') }}
            then user_days.orders else 0 end) as orders_in_churn_horizon
    from features
    inner join as_of_dates on features.as_of_date = as_of_dates.as_of_date
    inner join user_days
        on features.user_id = user_days.user_id
        and user_days.activity_date >= features.as_of_date
    group by features.as_of_date, features.user_id

),

final as (

    select
        features.as_of_date,
        features.user_id,
        features.is_buyer,
        case when as_of_dates.purchase_label_complete
            then {{ estore_flag('coalesce(future_orders.orders_in_purchase_horizon, 0) > 0') }}
        end as purchased,
        case when as_of_dates.churn_label_complete and features.is_buyer
            then {{ estore_flag('coalesce(future_orders.orders_in_churn_horizon, 0) = 0') }}
        end as churned,
        as_of_dates.purchase_horizon_days,
        as_of_dates.churn_horizon_days
    from features
    inner join as_of_dates on features.as_of_date = as_of_dates.as_of_date
    left join future_orders
        on features.as_of_date = future_orders.as_of_date
        and features.user_id = future_orders.user_id

)

select * from final
