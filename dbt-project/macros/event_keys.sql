{#- A deterministic event key: the hash of the nine source columns, so a full and an
    incremental run give every event the same id (never a global row_number). Its free text is
    escaped (estore_hash); event_type needs no escape: the loader admits only the known types. -#}
{% macro estore_event_id() -%}
    {{ estore_hash(['event_time', 'event_type', 'product_id', 'category_id', 'category_code',
                    'brand', 'price', 'user_id', 'user_session'],
                   texts=['category_code', 'brand', 'user_session']) }}
{%- endmacro %}

{#- Level n (1-based) of a dotted category_code, null when the code has fewer levels. -#}
{% macro estore_split_part(column, n) -%}
    nullif({{ dbt.split_part(column, "'.'", n) }}, '')
{%- endmacro %}

{#- Stops a run on an existing table whose key column has another type than estore_hash makes
    (a DuckDB warehouse of an earlier release holds its md5 keys as text): new keys would never
    match the old ones, and a rebuilt session would be added beside its old rows instead of
    replacing them. Renders nothing. -#}
{% macro estore_assert_key_type(column) -%}
    {%- if estore_is_incremental() -%}
        {%- set expected = estore_key_type() | upper -%}
        {%- for existing in adapter.get_columns_in_relation(this) -%}
            {%- if existing.name == column and existing.dtype | upper != expected -%}
                {{ exceptions.raise_compiler_error(
                    this.schema ~ "." ~ this.identifier ~ "." ~ column ~ " holds "
                    ~ existing.dtype ~ " keys, and this release builds " ~ expected
                    ~ " keys: rebuild the facts once (`make clean`, or `dbt build --selector"
                    ~ " daily --full-refresh` with no window; README, Upgrading)") }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
