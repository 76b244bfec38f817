{#-
    Data tests on the day-partitioned facts should check the partitions a run rebuilt, not scan
    all history. A test declares `config: {where: "__window(<timestamp column>)__"}`; at run time
    this override of dbt's get_where_subquery turns it into
    `<column> >= window start and <column> < window end` using the invocation's
    --event-time-start/--event-time-end. Without a window (an ad hoc full check) the test reads
    the whole table. The token is resolved at execution, so partial parsing cannot freeze a window.
    Any other `where` behaves as in dbt.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where and where.startswith('__window(') and where.endswith(')__') -%}
        {%- set column = where[9:-3] -%}
        {%- set window = estore_invocation_window() -%}
        {%- if window is none -%}
            {%- set where = '' -%}
        {%- else -%}
            {%- set where = column ~ ' >= ' ~ estore_timestamp_literal(window[0])
                ~ ' and ' ~ column ~ ' < ' ~ estore_timestamp_literal(window[1]) -%}
        {%- endif -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{#- The combination of columns is unique (nulls compare equal, like a grain). -#}
{% test estore_unique_combination(model, columns) %}
    select
        {{ columns | join(', ') }},
        count(*) as occurrences
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}

{#- At most one row per key with a null validity end (the current version of an SCD2 table). -#}
{% test estore_one_current_row(model, column_name, valid_to_column='dbt_valid_to') %}
    select
        {{ column_name }},
        count(*) as current_rows
    from {{ model }}
    where {{ valid_to_column }} is null
    group by {{ column_name }}
    having count(*) > 1
{% endtest %}

{#- The model has exactly one row. -#}
{% test estore_exactly_one_row(model) %}
    select count(*) as row_count
    from {{ model }}
    having count(*) <> 1
{% endtest %}

{#- Data quality: sessions lasting longer than `days` (first to last event). They are valid
    (a session is its (user_id, user_session) pair however long) but unusual; run at warn. -#}
{% test estore_sessions_longer_than(model, days) %}
    select session_id, first_event_time, last_event_time
    from {{ model }}
    where duration_seconds > {{ days }} * 86400
{% endtest %}
