{#-
    Small cross-database helpers. Models call these (or dbt's own cross-db macros) so the same
    SQL compiles for DuckDB (local) and BigQuery (prod). default__ covers DuckDB/Postgres-like
    engines; bigquery__ the BigQuery dialect.
-#}

{#- Monday of the (ISO) week of a DATE expression, as a DATE. -#}
{% macro estore_week_start(date_expr) -%}
    {{ return(adapter.dispatch('estore_week_start', 'estore')(date_expr)) }}
{%- endmacro %}

{% macro default__estore_week_start(date_expr) -%}
    cast({{ dbt.date_trunc('week', date_expr) }} as date)
{%- endmacro %}

{% macro bigquery__estore_week_start(date_expr) -%}
    date_trunc({{ date_expr }}, isoweek)
{%- endmacro %}

{#- First day of the month of a DATE expression, as a DATE. -#}
{% macro estore_month_start(date_expr) -%}
    {{ return(adapter.dispatch('estore_month_start', 'estore')(date_expr)) }}
{%- endmacro %}

{% macro default__estore_month_start(date_expr) -%}
    cast({{ dbt.date_trunc('month', date_expr) }} as date)
{%- endmacro %}

{% macro bigquery__estore_month_start(date_expr) -%}
    date_trunc({{ date_expr }}, month)
{%- endmacro %}

{#- A DATE expression plus n days, as a DATE (n may be negative or an expression). -#}
{% macro estore_add_days(date_expr, n) -%}
    {{ return(adapter.dispatch('estore_add_days', 'estore')(date_expr, n)) }}
{%- endmacro %}

{% macro default__estore_add_days(date_expr, n) -%}
    cast({{ dbt.dateadd('day', n, date_expr) }} as date)
{%- endmacro %}

{% macro bigquery__estore_add_days(date_expr, n) -%}
    date_add({{ date_expr }}, interval ({{ n }}) day)
{%- endmacro %}

{#- Whole days from start_date to end_date (end - start), both DATE expressions. -#}
{% macro estore_days_between(start_date, end_date) -%}
    cast({{ dbt.datediff(start_date, end_date, 'day') }} as {{ dbt.type_bigint() }})
{%- endmacro %}

{#- Whole seconds from start_ts to end_ts, both TIMESTAMP expressions. -#}
{% macro estore_seconds_between(start_ts, end_ts) -%}
    cast({{ dbt.datediff(start_ts, end_ts, 'second') }} as {{ dbt.type_bigint() }})
{%- endmacro %}

{#- Double precision float: DOUBLE on DuckDB, FLOAT64 on BigQuery (dbt.type_float() is a
    32-bit REAL on DuckDB). -#}
{% macro estore_type_float() -%}
    {{ return(adapter.dispatch('estore_type_float', 'estore')()) }}
{%- endmacro %}

{% macro default__estore_type_float() -%}double{%- endmacro %}

{% macro bigquery__estore_type_float() -%}float64{%- endmacro %}

{#- Money: exact decimal with 2 places on every engine (DuckDB DECIMAL, BigQuery NUMERIC),
    so sums are exact and equal amounts tie exactly (RFM monetary ties). -#}
{% macro estore_type_money() -%}decimal(18, 2){%- endmacro %}

{% macro estore_money(expr) -%}
    cast({{ expr }} as {{ estore_type_money() }})
{%- endmacro %}

{#- numerator / denominator as a float, null when the denominator is 0 or null. -#}
{% macro estore_safe_divide(numerator, denominator) -%}
    {{ return(adapter.dispatch('estore_safe_divide', 'estore')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__estore_safe_divide(numerator, denominator) -%}
    (cast({{ numerator }} as {{ estore_type_float() }}) / nullif({{ denominator }}, 0))
{%- endmacro %}

{% macro bigquery__estore_safe_divide(numerator, denominator) -%}
    safe_divide(cast({{ numerator }} as float64), {{ denominator }})
{%- endmacro %}

{#- 1 if the boolean condition holds, else 0 (a portable count_if building block). -#}
{% macro estore_flag(condition) -%}
    case when {{ condition }} then 1 else 0 end
{%- endmacro %}

{#- How many rows of the group meet the condition, as a BIGINT. A filtered count, not a sum of
    estore_flag: DuckDB keeps a BIGINT count per group where a sum of 0/1 keeps a HUGEINT, and
    at a month's 33M session-product groups the aggregate spills less (fct_session_products at 43M
    events: 180 -> 152 s). -#}
{% macro estore_count_if(condition) -%}
    {{ return(adapter.dispatch('estore_count_if', 'estore')(condition)) }}
{%- endmacro %}

{% macro default__estore_count_if(condition) -%}
    count(*) filter (where {{ condition }})
{%- endmacro %}

{% macro bigquery__estore_count_if(condition) -%}
    countif({{ condition }})
{%- endmacro %}

{#- A session's UUID as a number, when its text is one written the canonical way (REES46's
    always is), else null (the text then keys the session). DuckDB groups and joins on it faster
    than on the 36-character text (with the join of estore_joins_session_starts, a 43M-event
    fct_session_products took 105-107 CPU-s instead of 120-128 under dbt's 5 GB memory limit);
    ml_user_days' smaller aggregate was slower with it (parsing the UUID costs more than it
    saves there). BigQuery keeps the text (null here). -#}
{% macro estore_session_uuid(column) -%}
    {{ return(adapter.dispatch('estore_session_uuid', 'estore')(column)) }}
{%- endmacro %}

{% macro default__estore_session_uuid(column) -%}
    case
        when cast(try_cast({{ column }} as uuid) as varchar) = {{ column }}
            then try_cast({{ column }} as uuid)
    end
{%- endmacro %}

{% macro bigquery__estore_session_uuid(column) -%}
    cast(null as string)
{%- endmacro %}

{#- The two columns that key a session beside user_id: `session_uuid` (estore_session_uuid) and
    `session_text`, the text only when it is not a canonical UUID. -#}
{% macro estore_session_keys(column) -%}
    {{ estore_session_uuid(column) }} as session_uuid,
    case when {{ estore_session_uuid(column) }} is null then {{ column }} end as session_text
{%- endmacro %}

{#- The session's text back from those two columns (exact: the UUID prints as it was written). -#}
{% macro estore_session_text(uuid_column, text_column) -%}
    coalesce(cast({{ uuid_column }} as {{ dbt.type_string() }}), {{ text_column }})
{%- endmacro %}

{#- How fct_session_products dates a session row by its session's first event. DuckDB: a join
    to each session's first event, read from the events a second time; its window over the
    session sorted every column of 33M rows at a 43M-event month. BigQuery: the window (a second
    read of fct_events would be billed). -#}
{% macro estore_joins_session_starts() -%}
    {{ return(target.type != 'bigquery') }}
{%- endmacro %}

{#- A timestamp literal from a Python datetime (UTC), valid on DuckDB and BigQuery. -#}
{% macro estore_timestamp_literal(value) -%}
    cast('{{ value.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp)
{%- endmacro %}

{#- A date literal from a Python date/datetime. -#}
{% macro estore_date_literal(value) -%}
    cast('{{ value.strftime("%Y-%m-%d") }}' as date)
{%- endmacro %}

{#- Deterministic key from several columns (never a row_number): the md5 of their string values
    joined by '|', a missing value written '~'. In the free-text columns (`texts`, a subset of
    `columns`) '^', '|' and '~' are escaped with '^', so no two different rows give the same
    string: a brand '~' is not a missing brand, ('a|b', 'c') not ('a', 'b|c'). Values without
    those characters hash as before (the escape costs ~1 s of 16 at 43M event ids). A key with
    one text column between integers or dates (the session keys) is unambiguous without it,
    and escaping it cost fct_session_products 7% at 43M events.
    One concat() call, not dbt.concat's `a || b || ...` chain: the same string, but DuckDB
    builds the chain one intermediate string at a time (10M event ids: 8.7 s against 6.9 s).
    On DuckDB the digest is kept as a 128-bit integer (md5_number: the digest's bytes read
    little-endian), not as 32 hex characters: no text to format, compress and compare
    (fct_events at 10.3M events 18 s against 21 s, fct_session_products 18 s against 22 s,
    and smaller tables). On BigQuery it stays hex text, as dbt.hash makes it. -#}
{% macro estore_hash(columns, texts=[]) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- set value = "cast(" ~ column ~ " as " ~ dbt.type_string() ~ ")" -%}
        {%- if column in texts -%}
            {%- set value = "replace(replace(replace(" ~ value
                ~ ", '^', '^^'), '|', '^|'), '~', '^~')" -%}
        {%- endif -%}
        {%- do parts.append("coalesce(" ~ value ~ ", '~')") -%}
        {%- if not loop.last %}{% do parts.append("'|'") %}{% endif -%}
    {%- endfor -%}
    {{ return(adapter.dispatch('estore_hash')("concat(" ~ parts | join(", ") ~ ")")) }}
{%- endmacro %}

{% macro default__estore_hash(text) -%}
    md5_number({{ text }})
{%- endmacro %}

{% macro bigquery__estore_hash(text) -%}
    {{ dbt.hash(text) }}
{%- endmacro %}

{#- The data type of an estore_hash key (what an existing table must hold: see
    estore_assert_key_type). -#}
{% macro estore_key_type() -%}
    {{ return(adapter.dispatch('estore_key_type')()) }}
{%- endmacro %}

{% macro default__estore_key_type() -%}
    {{ return('UHUGEINT') }}
{%- endmacro %}

{% macro bigquery__estore_key_type() -%}
    {{ return(dbt.type_string()) }}
{%- endmacro %}

{#- The value of `column` at the group's latest row by `recency_key` (a column built with
    estore_recency_key: time, then id): one aggregate instead of a row_number() sort. With
    ignore_nulls, the latest row whose value is not null (null when none has one). -#}
{% macro estore_latest(column, recency_key, ignore_nulls=false) -%}
    {{ return(adapter.dispatch('estore_latest')(column, recency_key, ignore_nulls)) }}
{%- endmacro %}

{% macro default__estore_latest(column, recency_key, ignore_nulls) -%}
    {{ 'arg_max' if ignore_nulls else 'arg_max_null' }}({{ column }}, {{ recency_key }})
{%- endmacro %}

{#- BigQuery's array elements cannot be null: the value travels in a struct. Ignoring nulls puts
    the rows that have a value first (all null: the latest row's null). -#}
{% macro bigquery__estore_latest(column, recency_key, ignore_nulls) -%}
    array_agg(
        struct({{ column }} as value)
        order by {{ '(' ~ column ~ ' is null), ' if ignore_nulls }}{{ recency_key }} desc
        limit 1
    )[offset(0)].value
{%- endmacro %}

{#- Whether a group's latest text (estore_latest on brand, category_code) is kept as a number
    and decoded after the aggregate. DuckDB copies the text into the aggregate's state on every
    newer row: at a 43M-event month, fct_session_products' aggregate took 157 CPU-s with the two
    texts, 74 without them, 89 with them numbered (the numbering itself: 4 CPU-s of joins). On
    BigQuery the numbering would read the whole history of fct_events on every run (cost grows
    with history): texts stay texts there. (On DuckDB it reads two columns of fct_events: 0.02 s
    on 91 demo days, 0.5-0.9 s on 43M events.) -#}
{% macro estore_codes_latest_text() -%}
    {{ return(target.type != 'bigquery') }}
{%- endmacro %}

{#- What estore_latest orders events by. On DuckDB one BIGINT: the whole seconds of event_time
    (the source has no fractions: lib/ingest/schema.py) shifted left 28 bits, plus the first 28
    bits of the id's md5 digest (its first three bytes and a half: the lowest ones of DuckDB's
    number, see estore_hash), the same digits BigQuery's hex text starts with, so both
    warehouses break a tie alike. Ordering by it is ordering by (event_time, event_id) except
    for two events of one group in the same second whose ids share those 28 bits (one pair in
    268M); DuckDB's arg_max on a STRUCT key took 3x longer and spilled. On BigQuery an exact
    string: the time as fixed-width digits, then the id. -#}
{% macro estore_recency_key(time_column, id_column) -%}
    {{ return(adapter.dispatch('estore_recency_key')(time_column, id_column)) }}
{%- endmacro %}

{#- The digest's first four bytes are the number's lowest: taken as a BIGINT first, the shifts
    are 64-bit (twice as fast as on the UHUGEINT). -#}
{% macro default__estore_recency_key(time_column, id_column) -%}
    {%- set low = "cast(" ~ id_column ~ " & 4294967295 as bigint)" -%}
    (cast(epoch({{ time_column }}) as bigint) << 28)
        + ((({{ low }} & 255) << 20) | ((({{ low }} >> 8) & 255) << 12)
           | ((({{ low }} >> 16) & 255) << 4) | (({{ low }} >> 28) & 15))
{%- endmacro %}

{% macro bigquery__estore_recency_key(time_column, id_column) -%}
    concat(format_timestamp('%Y%m%d%H%M%S', {{ time_column }}), {{ id_column }})
{%- endmacro %}
