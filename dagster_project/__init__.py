"""estore-analytics: Dagster assets, dbt project glue, ingestion, models and dashboards."""

from dagster_project.lib.dbt.lazy_serializers import install as _postpone_dbt_serializers

# Before anything imports dbt: its ~300 classes are then created without preparing their
# serializers (lib/dbt/lazy_serializers.py).
_postpone_dbt_serializers()
