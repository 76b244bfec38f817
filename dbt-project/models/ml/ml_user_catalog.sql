{{ config(materialized='incremental', tags=['ml', 'daily'], on_schema_change='fail') }}
{{ estore_day_fact_config('first_event_time', cluster_by=['user_id']) }}
-- One row per user, event day and (category_id, brand) pair seen that day (either may be
-- null), session-less events included, with the sum and count of the prices (> 0) viewed:
-- ml_user_features dates the first day a user saw each category and each brand, and averages
-- viewed prices, from it. A day fact (day D reads fct_events day D only), so the features
-- never read events.
select
    user_id,
    event_date as activity_date,
    category_id,
    brand,
    min(event_time) as first_event_time,
    sum(case when event_type = 'view' and price > 0 then price else 0 end) as viewed_price_sum,
    sum({{ estore_flag("event_type = 'view' and price > 0") }}) as viewed_price_count
from {{ ref('fct_events') }}
where {{ estore_in_window('event_time') }}
group by user_id, event_date, category_id, brand
