-- Session funnel conversion per day of session start, plus event-level counts per event day.
-- Rates follow metrics.md: view->cart = sessions with view and cart / sessions with view, etc.
with user_days as (

    select * from {{ ref('int_user_daily') }}

),

daily as (

    select
        activity_date,
        sum(sessions_started) as sessions,
        sum(sessions_with_view) as sessions_with_view,
        sum(sessions_with_cart) as sessions_with_cart,
        sum(sessions_with_purchase) as sessions_with_purchase,
        sum(sessions_with_view_and_cart) as sessions_with_view_and_cart,
        sum(sessions_with_cart_and_purchase) as sessions_with_cart_and_purchase,
        sum(sessions_with_view_and_purchase) as sessions_with_view_and_purchase,
        sum(views) as view_events,
        sum(carts) as cart_events,
        sum(purchases) as purchase_events
    from user_days
    group by activity_date

),

final as (

    select
        activity_date as session_date,
        {%- for column in ['sessions', 'sessions_with_view', 'sessions_with_cart',
                           'sessions_with_purchase', 'sessions_with_view_and_cart',
                           'sessions_with_cart_and_purchase', 'sessions_with_view_and_purchase',
                           'view_events', 'cart_events', 'purchase_events'] %}
        cast({{ column }} as {{ dbt.type_bigint() }}) as {{ column }},
        {%- endfor %}
        {{ estore_safe_divide('sessions_with_view_and_cart', 'sessions_with_view') }}
            as view_to_cart_rate,
        {{ estore_safe_divide('sessions_with_cart_and_purchase', 'sessions_with_cart') }}
            as cart_to_purchase_rate,
        {{ estore_safe_divide('sessions_with_view_and_purchase', 'sessions_with_view') }}
            as view_to_purchase_rate,
        1 - {{ estore_safe_divide('sessions_with_cart_and_purchase', 'sessions_with_cart') }}
            as cart_abandonment_rate,
        {{ estore_safe_divide('purchase_events', 'view_events') }}
            as purchase_to_view_event_rate
    from daily

)

select * from final
