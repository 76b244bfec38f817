"""How dbt nodes become Dagster assets: keys, automation, groups."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

from dagster_project.lib.automation import any_day_updated, retrain, upstream_or_code_changed

DAILY_TAG = "daily"
# dbt models read only by training (the training set): rebuilt when the models retrain.
ML_TRAINING_TAG = "ml_training"

# The lineage view cuts node names past 18 characters (`mart_..._performance`): these models'
# asset keys are shorter than their table names (the tables keep their names; each asset's
# `dagster/table_name` metadata names its table). Keys must stay unique and stable.
SHORT_KEYS = {
    "fct_session_products": "fct_sess_products",
    "int_user_rfm_scores": "int_rfm_scores",
    "metrics_churn_cohorts": "metrics_churn",
    "metrics_conversion_daily": "metrics_conversion",
    "metrics_retention_weekly": "metrics_retention",
    "metrics_rfm_segments": "metrics_rfm",
    "metrics_sales_daily": "metrics_sales",
    "mart_product_performance": "mart_products",
    "mart_cross_sell_candidates": "mart_cross_sell",
}
MAX_NODE_NAME = 18


def model_asset_key(model_name: str) -> dg.AssetKey:
    """The asset key of a dbt model or snapshot, from its name (= its table's name)."""
    return dg.AssetKey([SHORT_KEYS.get(model_name, model_name)])


def _tags(props: Mapping[str, Any]) -> set[str]:
    return set(props.get("tags", [])) | set(props.get("config", {}).get("tags", []))


def is_daily(props: Mapping[str, Any]) -> bool:
    return DAILY_TAG in _tags(props)


class EstoreTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] in ("model", "snapshot"):
            return model_asset_key(dbt_resource_props["name"])
        return super().get_asset_key(dbt_resource_props)

    def get_automation_condition(self, dbt_resource_props: Mapping[str, Any]):
        if dbt_resource_props["resource_type"] == "snapshot":
            return None  # scheduled, see snapshot_schedule
        if is_daily(dbt_resource_props):
            return any_day_updated
        if ML_TRAINING_TAG in _tags(dbt_resource_props):
            return retrain  # read by training only: rebuilt when the models retrain
        return upstream_or_code_changed

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "snapshot":
            return "snapshots"
        if dbt_resource_props["resource_type"] == "source":
            return "ingest"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "dbt"


translator = EstoreTranslator(settings=DagsterDbtTranslatorSettings(enable_code_references=False))
