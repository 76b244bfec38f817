{#-
    Helpers for the daily facts, which rebuild the window of days a dbt invocation is given
    (estore_window: --event-time-start/--event-time-end, or vars min_date/max_date; end
    exclusive) in one statement per model: day facts replace the window's days, session facts
    the sessions with an event in the window (README.md).
-#}

{#- BigQuery partitioning of a fact on a TIMESTAMP column by day; none elsewhere
    (dbt-duckdb reads partition_by as DuckLake partitioning and rejects the BigQuery dict). -#}
{% macro estore_partition_by(field) -%}
    {%- if target.type == 'bigquery' -%}
        {{ return({'field': field, 'data_type': 'timestamp', 'granularity': 'day'}) }}
    {%- else -%}
        {{ return(none) }}
    {%- endif -%}
{%- endmacro %}

{% macro estore_cluster_by(columns) -%}
    {%- if target.type == 'bigquery' -%}
        {{ return(columns) }}
    {%- else -%}
        {{ return(none) }}
    {%- endif -%}
{%- endmacro %}

{#- The --event-time-start/--event-time-end window of this dbt invocation as (start, end)
    datetimes, or none when the invocation has no window (use estore_window(), which also
    reads vars min_date/max_date). -#}
{% macro estore_invocation_window() -%}
    {%- set start = invocation_args_dict.get('event_time_start') -%}
    {%- set end = invocation_args_dict.get('event_time_end') -%}
    {%- if start and end -%}
        {%- if start is string -%}
            {%- set start = modules.datetime.datetime.fromisoformat(start[:19]) -%}
        {%- endif -%}
        {%- if end is string -%}
            {%- set end = modules.datetime.datetime.fromisoformat(end[:19]) -%}
        {%- endif -%}
        {{ return((start, end)) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{#- The window of days this invocation rebuilds, as (start, end) datetimes, end exclusive:
    vars min_date/max_date when given (the Dagster partition range), else the invocation's
    --event-time-start/--event-time-end, else none (a full build over all data). -#}
{% macro estore_window() -%}
    {#- A unit test checks the model's rules on its given rows, never a window. -#}
    {%- if model is mapping and model.get('resource_type') == 'unit_test' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set min_date = var('min_date', none) -%}
    {%- set max_date = var('max_date', none) -%}
    {%- if min_date and max_date -%}
        {%- set start = modules.datetime.datetime.fromisoformat(min_date | string) -%}
        {%- set end = modules.datetime.datetime.fromisoformat(max_date | string) -%}
        {{ return((start, end)) }}
    {%- endif -%}
    {{ return(estore_invocation_window()) }}
{%- endmacro %}

{#- Predicate: a TIMESTAMP column inside the invocation's window; `1 = 1` without a window. -#}
{% macro estore_in_window(column) -%}
    {%- set window = estore_window() -%}
    {%- if window is none -%}
        1 = 1
    {%- else -%}
        {{ column }} >= {{ estore_timestamp_literal(window[0]) }}
        and {{ column }} < {{ estore_timestamp_literal(window[1]) }}
    {%- endif -%}
{%- endmacro %}

{#- Predicate: the interval [first_column, last_column] meets the window; `1 = 1` without one. -#}
{% macro estore_overlaps_window(first_column, last_column) -%}
    {%- set window = estore_window() -%}
    {%- if window is none -%}
        1 = 1
    {%- else -%}
        {{ first_column }} < {{ estore_timestamp_literal(window[1]) }}
        and {{ last_column }} >= {{ estore_timestamp_literal(window[0]) }}
    {%- endif -%}
{%- endmacro %}

{#- True when this run has a window and `relation` has no row outside it (`column` is its time):
    a first build of the whole history, where looking up the sessions a window touches only
    costs time (10M events: 7.5 s in fct_session_products and fct_sessions). False when not
    running against the warehouse (`dbt compile --no-introspect`). -#}
{% macro estore_window_holds_all(relation, column) -%}
    {%- if estore_window() is none or not (execute and flags.INTROSPECT) -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set query -%}
        select count(*) from (
            select 1 from {{ relation }} where not ({{ estore_in_window(column) }}) limit 1
        ) as outside_the_window
    {%- endset -%}
    {{ return(run_query(query).columns[0].values()[0] == 0) }}
{%- endmacro %}

{#- The session facts' rule: with a window, read only the sessions it touches (found through
    fct_events), unless this is a first build and the window holds every event. -#}
{% macro estore_reads_window_sessions(incremental) -%}
    {{ return(estore_window() is not none
              and (incremental or not estore_window_holds_all(ref('fct_events'), 'event_time'))) }}
{%- endmacro %}

{#- True when the model updates an existing table (never at compile time without a warehouse:
    `dbt compile --no-introspect` must not ask for the relation). -#}
{% macro estore_is_incremental() -%}
    {{ return(execute and flags.INTROSPECT and is_incremental()) }}
{%- endmacro %}

{#- Keyed facts (sessions): delete+insert on DuckDB, merge on BigQuery, both on the row key.
    The model emits a tombstone (events = 0) for every key it rebuilt that no longer exists;
    this post-hook removes them in the same transaction on DuckDB. -#}
{% macro estore_keyed_strategy() -%}
    {{ return('merge' if target.type == 'bigquery' else 'delete+insert') }}
{%- endmacro %}

{% macro estore_drop_tombstones() -%}
    delete from {{ this }} where events = 0
{%- endmacro %}

{#- Day facts: replace the window's days. The model selects the window's rows
    (estore_in_window); this pre-hook first deletes the same days from the table, in the same
    transaction on DuckDB, so a day that became empty is emptied too. Without a window an
    existing table is rebuilt whole. Append on DuckDB; on BigQuery a merge without a key
    (insert only), the delete pruned to the window's partitions. -#}
{% macro estore_window_strategy() -%}
    {{ return('merge' if target.type == 'bigquery' else 'append') }}
{%- endmacro %}

{% macro estore_delete_window(column) -%}
    {%- if estore_is_incremental() -%}
        {{ estore_window_delete_sql(this, column) }}
    {%- endif -%}
{%- endmacro %}

{#- The statement that empties the window's days of `relation` before the insert: it depends on
    the window only, never on the new rows, so a day a corrected file emptied is emptied too
    (on BigQuery it prunes to the window's partitions: `column` is the partition column). -#}
{% macro estore_window_delete_sql(relation, column) -%}
    delete from {{ relation }} where {{ estore_in_window(column) }}
{%- endmacro %}

{#- The config every day fact shares: partitioned (BigQuery) and windowed on `column`, the
    window's days deleted by a pre-hook, then the new rows appended (see above). -#}
{% macro estore_day_fact_config(column, cluster_by) -%}
    {{ config(
        event_time=column,
        incremental_strategy=estore_window_strategy(),
        pre_hook="{{ estore_delete_window('" ~ column ~ "') }}",
        partition_by=estore_partition_by(column),
        cluster_by=estore_cluster_by(cluster_by),
    ) }}
{%- endmacro %}
