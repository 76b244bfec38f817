-- The session funnel over the whole history (one row): sessions reaching each stage, sessions by
-- deepest stage, and the overall rates of metrics.md.
with user_days as (

    select * from {{ ref('int_user_daily') }}

),

as_of as (

    select * from {{ ref('int_as_of') }}

),

totals as (

    select
        sum(sessions_started) as sessions,
        sum(sessions_with_view) as sessions_with_view,
        sum(sessions_with_cart) as sessions_with_cart,
        sum(sessions_with_purchase) as sessions_with_purchase,
        sum(sessions_with_view_and_cart) as sessions_with_view_and_cart,
        sum(sessions_with_cart_and_purchase) as sessions_with_cart_and_purchase,
        sum(sessions_with_view_and_purchase) as sessions_with_view_and_purchase,
        sum(sessions_at_stage_view) as sessions_at_stage_view,
        sum(sessions_at_stage_cart) as sessions_at_stage_cart,
        sum(sessions_at_stage_purchase) as sessions_at_stage_purchase,
        sum(views) as view_events,
        sum(purchases) as purchase_events
    from user_days

),

final as (

    select
        as_of.as_of_date,
        as_of.first_event_date,
        as_of.last_event_date,
        {%- for column in ['sessions', 'sessions_with_view', 'sessions_with_cart',
                           'sessions_with_purchase', 'sessions_with_view_and_cart',
                           'sessions_with_cart_and_purchase', 'sessions_with_view_and_purchase',
                           'sessions_at_stage_view', 'sessions_at_stage_cart',
                           'sessions_at_stage_purchase', 'view_events', 'purchase_events'] %}
        cast(coalesce(totals.{{ column }}, 0) as {{ dbt.type_bigint() }}) as {{ column }},
        {%- endfor %}
        {{ estore_safe_divide('totals.sessions_with_view_and_cart', 'totals.sessions_with_view') }}
            as view_to_cart_rate,
        {{ estore_safe_divide('totals.sessions_with_cart_and_purchase',
                              'totals.sessions_with_cart') }} as cart_to_purchase_rate,
        {{ estore_safe_divide('totals.sessions_with_view_and_purchase',
                              'totals.sessions_with_view') }} as view_to_purchase_rate,
        1 - {{ estore_safe_divide('totals.sessions_with_cart_and_purchase',
                                  'totals.sessions_with_cart') }} as cart_abandonment_rate,
        {{ estore_safe_divide('totals.purchase_events', 'totals.view_events') }}
            as purchase_to_view_event_rate
    from totals
    cross join as_of

)

select * from final
