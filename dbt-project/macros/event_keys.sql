{#- A deterministic event key: the hash of the nine source columns, so a full and an
    incremental run give every event the same id (never a global row_number). -#}
{% macro estore_event_id() -%}
    {{ estore_hash(['event_time', 'event_type', 'product_id', 'category_id', 'category_code',
                    'brand', 'price', 'user_id', 'user_session']) }}
{%- endmacro %}

{#- Level n (1-based) of a dotted category_code, null when the code has fewer levels. -#}
{% macro estore_split_part(column, n) -%}
    nullif({{ dbt.split_part(column, "'.'", n) }}, '')
{%- endmacro %}
