"""dbt models as Dagster assets, split by what they need:

- `dbt_daily_models` (tag `daily`): day-partitioned incremental models, run as one dbt call per
  partition range with the window passed to microbatch (never a run without a window);
- `dbt_marts`: whole-table models (dimensions, metrics, marts);
- `dbt_snapshots`: SCD2 snapshots, on a daily schedule, never two at once.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from dagster_project.dbt_project import dbt_project, ensure_manifest
from dagster_project.defs.automation import any_day_updated, upstream_or_code_changed
from dagster_project.defs.ingest.assets import WAREHOUSE_POOL
from dagster_project.partitions import daily_partitions

ensure_manifest()

DAILY_SELECT = "tag:daily"
SNAPSHOT_SELECT = "resource_type:snapshot"
SNAPSHOT_POOL = "dbt_snapshots"
# dbt unit tests check SQL logic, not data: they run in `make test` and CI, not on every build.
BUILD_FLAGS = ["--exclude-resource-type", "unit_test"]


def window_args(start: datetime, end: datetime) -> list[str]:
    """dbt microbatch window for a partition range; end is exclusive."""
    return [
        "--event-time-start",
        start.strftime("%Y-%m-%d %H:%M:%S"),
        "--event-time-end",
        end.strftime("%Y-%m-%d %H:%M:%S"),
    ]


def _is_daily(props: Mapping[str, Any]) -> bool:
    tags = set(props.get("tags", [])) | set(props.get("config", {}).get("tags", []))
    return "daily" in tags


class EstoreTranslator(DagsterDbtTranslator):
    def get_automation_condition(self, dbt_resource_props: Mapping[str, Any]):
        if dbt_resource_props["resource_type"] == "snapshot":
            return None  # scheduled, see snapshot_schedule
        if _is_daily(dbt_resource_props):
            return any_day_updated
        return upstream_or_code_changed

    def get_partition_mapping(
        self,
        dbt_resource_props: Mapping[str, Any],
        dbt_parent_resource_props: Mapping[str, Any],
    ) -> dg.PartitionMapping | None:
        """A daily model that reads neighbouring days declares it in its dbt config
        (`meta.estore_upstream_days: [-1, 1]`): day D then depends on upstream days D-1..D+1,
        so a change to any of them rebuilds D."""
        offsets = dbt_resource_props.get("config", {}).get("meta", {}).get("estore_upstream_days")
        if offsets and _is_daily(dbt_parent_resource_props):
            return dg.TimeWindowPartitionMapping(
                start_offset=int(offsets[0]),
                end_offset=int(offsets[1]),
                allow_nonexistent_upstream_partitions=True,
            )
        return None

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "snapshot":
            return "snapshots"
        if dbt_resource_props["resource_type"] == "source":
            return "ingest"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "dbt"


translator = EstoreTranslator(settings=DagsterDbtTranslatorSettings(enable_code_references=False))


@dbt_assets(
    manifest=dbt_project.manifest_path,
    select=DAILY_SELECT,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    dagster_dbt_translator=translator,
    name="dbt_daily_models",
    pool=WAREHOUSE_POOL,
)
def dbt_daily_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    window = context.partition_time_window
    yield from dbt.cli(
        ["build", *BUILD_FLAGS, *window_args(window.start, window.end)], context=context
    ).stream()


@dbt_assets(
    manifest=dbt_project.manifest_path,
    exclude=f"{DAILY_SELECT} {SNAPSHOT_SELECT}",
    dagster_dbt_translator=translator,
    name="dbt_marts",
    pool=WAREHOUSE_POOL,
)
def dbt_marts(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    yield from dbt.cli(["build", *BUILD_FLAGS], context=context).stream()


@dbt_assets(
    manifest=dbt_project.manifest_path,
    select=SNAPSHOT_SELECT,
    dagster_dbt_translator=translator,
    name="dbt_snapshots",
    pool=WAREHOUSE_POOL,  # DuckDB has one writer; the job's concurrency key keeps one at a time
)
def dbt_snapshots(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    yield from dbt.cli(["snapshot"], context=context).stream()


daily_models_job = dg.define_asset_job(
    "dbt_daily_job",
    selection=dg.AssetSelection.assets(dbt_daily_models),
    partitions_def=daily_partitions,
)
marts_job = dg.define_asset_job("dbt_marts_job", selection=dg.AssetSelection.assets(dbt_marts))
snapshots_job = dg.define_asset_job(
    "dbt_snapshots_job",
    selection=dg.AssetSelection.assets(dbt_snapshots),
    tags={"dagster/concurrency_key": SNAPSHOT_POOL},
)
snapshot_schedule = dg.ScheduleDefinition(
    job=snapshots_job,
    cron_schedule="0 4 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily SCD2 snapshots of RFM segments and activity status.",
)
