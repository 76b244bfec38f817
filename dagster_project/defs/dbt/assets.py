"""dbt models as Dagster assets, split by what they need (one dbt selector each, selectors.yml):

- `dbt_daily_models` (selector `daily`): day-partitioned incremental models, run as one dbt call
  per partition range with the window passed to dbt (never a run without a window); once built,
  the window's days are cleared from raw.pending_days;
- `dbt_marts` (selector `whole_table`): intermediate models, dimensions, metrics, marts;
- `dbt_snapshots` (selector `snapshots`): SCD2 snapshots, on a daily schedule, never two at once.
"""

from datetime import UTC, datetime

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from dagster_project.defs.ingest.assets import WAREHOUSE_POOL
from dagster_project.defs.ingest.resources import RawWarehouse
from dagster_project.lib.dbt.invocation import BUILD_FLAGS, window_args
from dagster_project.lib.dbt.project import dbt_project, ensure_manifest
from dagster_project.lib.dbt.translator import translator
from dagster_project.lib.partitions import daily_partitions

ensure_manifest()

SNAPSHOT_POOL = "dbt_snapshots"


def run_dbt(dbt: DbtCliResource, args: list[str], context: dg.AssetExecutionContext):
    """Stream a dbt call's events, then fail unless dbt itself finished: a dbt process killed
    by a signal ends its event stream early, and must not count as a build. dbt writes
    run_results.json only when it completes, so its absence catches a kill even when the exit
    status was lost (a process reaped by someone else reports 0 to its Popen)."""
    invocation = dbt.cli(args, context=context)
    yield from invocation.stream()
    if invocation.process.wait() != 0:
        raise dg.Failure(f"dbt {args[0]} exited with {invocation.process.returncode}")
    if not (invocation.target_path / "run_results.json").exists():
        raise dg.Failure(f"dbt {args[0]} ended without writing its results (stopped?)")


@dbt_assets(
    manifest=dbt_project.manifest_path,
    selector="daily",
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    dagster_dbt_translator=translator,
    name="dbt_daily_models",
    pool=WAREHOUSE_POOL,
)
def dbt_daily_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: RawWarehouse
):
    window = context.partition_time_window
    started = datetime.now(UTC)
    yield from run_dbt(
        dbt, ["build", *BUILD_FLAGS, *window_args(window.start, window.end)], context
    )
    # Loads that committed during the build stay pending: the build may not have seen them.
    cleared = warehouse.clear_pending_days(
        window.start.date(), window.end.date(), recorded_before=started
    )
    context.log.info(f"{cleared} pending day rows cleared for {window.start:%Y-%m-%d}..")


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
