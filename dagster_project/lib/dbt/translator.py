"""How dbt nodes become Dagster assets: automation, partition mapping, groups."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

from dagster_project.lib.automation import any_day_updated, upstream_or_code_changed

DAILY_TAG = "daily"


def is_daily(props: Mapping[str, Any]) -> bool:
    tags = set(props.get("tags", [])) | set(props.get("config", {}).get("tags", []))
    return DAILY_TAG in tags


class EstoreTranslator(DagsterDbtTranslator):
    def get_automation_condition(self, dbt_resource_props: Mapping[str, Any]):
        if dbt_resource_props["resource_type"] == "snapshot":
            return None  # scheduled, see snapshot_schedule
        if is_daily(dbt_resource_props):
            return any_day_updated
        return upstream_or_code_changed

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "snapshot":
            return "snapshots"
        if dbt_resource_props["resource_type"] == "source":
            return "ingest"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "dbt"


translator = EstoreTranslator(settings=DagsterDbtTranslatorSettings(enable_code_references=False))
