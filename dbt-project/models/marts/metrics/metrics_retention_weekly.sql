-- Weekly retention matrix (weeks start on Monday). Two cohort types:
--   'users':  cohort = week of the user's first event;  active = any event in the week;
--   'buyers': cohort = week of the buyer's first order; active = any order in the week.
-- One row per cohort and week offset 0..N, up to the last week with data (weeks with no event
-- at all are included with 0 active); retention_rate = active_members / cohort_size.
-- is_incomplete_week marks the last week when the data ends before its Sunday (its rates are
-- not comparable with full weeks).
with user_days as (

    select user_id, activity_date, orders from {{ ref('int_user_daily') }}

),

activity_weeks as (

    select distinct
        'users' as cohort_type,
        user_id,
        {{ estore_week_start('activity_date') }} as activity_week
    from user_days

    union all

    select distinct
        'buyers' as cohort_type,
        user_id,
        {{ estore_week_start('activity_date') }} as activity_week
    from user_days
    where orders > 0

),

bounds as (

    select
        min(activity_week) as first_week,
        max(activity_week) as last_week
    from activity_weeks

),

data_end as (

    select max(activity_date) as last_event_date from user_days

),

digits as (

    {%- for digit in range(10) %}
    select {{ digit }} as digit{% if not loop.last %} union all{% endif %}
    {%- endfor %}

),

week_numbers as (

    -- 0..999 (19 years of weeks) without engine-specific series functions
    select ones.digit + 10 * tens.digit + 100 * hundreds.digit as week_number
    from digits as ones
    cross join digits as tens
    cross join digits as hundreds

),

weeks as (

    -- every Monday from the first to the last week with data, gaps included
    select {{ estore_add_days('bounds.first_week', '7 * week_numbers.week_number') }}
        as activity_week
    from bounds
    inner join week_numbers
        on 7 * week_numbers.week_number
            <= {{ estore_days_between('bounds.first_week', 'bounds.last_week') }}

),

members as (

    select
        cohort_type,
        user_id,
        min(activity_week) as cohort_week
    from activity_weeks
    group by cohort_type, user_id

),

cohort_sizes as (

    select
        cohort_type,
        cohort_week,
        count(*) as cohort_size
    from members
    group by cohort_type, cohort_week

),

active as (

    select
        members.cohort_type,
        members.cohort_week,
        activity_weeks.activity_week,
        count(*) as active_members
    from members
    inner join activity_weeks
        on members.cohort_type = activity_weeks.cohort_type
        and members.user_id = activity_weeks.user_id
    group by members.cohort_type, members.cohort_week, activity_weeks.activity_week

),

grid as (

    select
        cohort_sizes.cohort_type,
        cohort_sizes.cohort_week,
        cohort_sizes.cohort_size,
        weeks.activity_week
    from cohort_sizes
    inner join weeks
        on weeks.activity_week >= cohort_sizes.cohort_week

),

final as (

    select
        grid.cohort_type,
        grid.cohort_week,
        grid.activity_week,
        cast({{ estore_days_between('grid.cohort_week', 'grid.activity_week') }} / 7
            as {{ dbt.type_bigint() }}) as week_offset,
        cast(grid.cohort_size as {{ dbt.type_bigint() }}) as cohort_size,
        cast(coalesce(active.active_members, 0) as {{ dbt.type_bigint() }}) as active_members,
        {{ estore_safe_divide('coalesce(active.active_members, 0)', 'grid.cohort_size') }}
            as retention_rate,
        {{ estore_add_days('grid.activity_week', 6) }} > data_end.last_event_date
            as is_incomplete_week
    from grid
    cross join data_end
    left join active
        on grid.cohort_type = active.cohort_type
        and grid.cohort_week = active.cohort_week
        and grid.activity_week = active.activity_week

)

select * from final
