"""dbt models as Dagster assets, split by what they need (one dbt selector each, selectors.yml):

- `dbt_daily_models` (selector `daily`): day-partitioned incremental models, run as one dbt call
  per partition range with the window passed to dbt (never a run without a window); once built,
  the window's days are cleared from raw.pending_days;
- `dbt_marts` (selector `whole_table`): intermediate models, dimensions, metrics, marts;
- `dbt_snapshots` (selector `snapshots`): SCD2 snapshots, on a daily schedule, never two at once.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from dagster_project.defs.ingest.assets import WAREHOUSE_POOL
from dagster_project.defs.ingest.resources import Warehouse
from dagster_project.lib.dbt.invocation import BUILD_FLAGS, window_args
from dagster_project.lib.dbt.project import dbt_project, ensure_manifest
from dagster_project.lib.dbt.translator import translator
from dagster_project.lib.ingest.pending import clear_pending_days
from dagster_project.lib.partitions import daily_partitions, window_of

ensure_manifest()

SNAPSHOT_POOL = "dbt_snapshots"


def run_dbt(dbt: DbtCliResource, args: list[str], context: dg.AssetExecutionContext):
    """Stream a dbt call's events, then fail unless dbt itself exited 0: a dbt process killed
    by a signal ends its event stream early, and must not count as a build."""
    invocation = dbt.cli(args, context=context)
    yield from invocation.stream()
    if invocation.process.wait() != 0:
        raise dg.Failure(f"dbt {args[0]} exited with {invocation.process.returncode}")


@dbt_assets(
    manifest=dbt_project.manifest_path,
    selector="daily",
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    dagster_dbt_translator=translator,
    name="dbt_daily_models",
    pool=WAREHOUSE_POOL,
)
def dbt_daily_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse):
    # Day partitions are ordered by insertion (a late day comes after later days): the window
    # spans the range's first to last date. Days in between that the range does not name are
    # rebuilt too (correct, only extra work); `estore run` asks for date-contiguous ranges.
    first, last = window_of(context.partition_keys)
    start = datetime(first.year, first.month, first.day)
    end = datetime(last.year, last.month, last.day) + timedelta(days=1)
    started = datetime.now(UTC)
    yield from run_dbt(dbt, ["build", *BUILD_FLAGS, *window_args(start, end)], context)
    # Loads that committed during the build stay pending: the build may not have seen them.
    with warehouse.connect() as con:
        cleared = clear_pending_days(con, first, end.date(), recorded_before=started)
    context.log.info(f"{cleared} pending day rows cleared for {first}..{last}")


@dbt_assets(
    manifest=dbt_project.manifest_path,
    selector="whole_table",
    dagster_dbt_translator=translator,
    name="dbt_marts",
    pool=WAREHOUSE_POOL,
)
def dbt_marts(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    yield from run_dbt(dbt, ["build", *BUILD_FLAGS], context)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    selector="snapshots",
    dagster_dbt_translator=translator,
    name="dbt_snapshots",
    pool=WAREHOUSE_POOL,  # DuckDB has one writer; the job's concurrency key keeps one at a time
)
def dbt_snapshots(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    yield from run_dbt(dbt, ["snapshot"], context)


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
