{#-
    Where a node with a custom schema (`+schema: snapshots`) lands. On BigQuery it is its own
    dataset, `<dataset>_<schema>` (Terraform creates `estore_snapshots`, which only the
    transformer writes); on DuckDB everything stays in the profile's one schema, `analytics`, so
    the local warehouse reads as one.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none or target.type != 'bigquery' -%}
        {{ target.schema }}
    {%- else -%}
        {{ target.schema }}_{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
