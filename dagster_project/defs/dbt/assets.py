"""dbt models as Dagster assets, split by what they need (one dbt selector each, selectors.yml):

- `dbt_daily_models` (selector `daily`): day-partitioned incremental models, run as one dbt call
  per partition range with the window passed to dbt (never a run without a window); once built,
  the window's days are cleared from raw.pending_days;
- `dbt_marts` (selector `whole_table`): intermediate models, dimensions, metrics, marts;
- `dbt_snapshots` (selector `snapshots`): SCD2 snapshots, on a daily schedule, never two at once.
"""

from datetime import UTC, date, datetime, timedelta

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from dagster_project.defs.ingest.assets import WAREHOUSE_POOL
from dagster_project.defs.ingest.resources import RawWarehouse
from dagster_project.lib.dbt.invocation import BUILD_FLAGS, window_args
from dagster_project.lib.dbt.metadata import HEADLINES, ModelStats, ModelTable, read_stats
from dagster_project.lib.dbt.project import dbt_project, ensure_manifest
from dagster_project.lib.dbt.target_dirs import prune_invocation_dirs
from dagster_project.lib.dbt.translator import is_daily, translator
from dagster_project.lib.partitions import daily_partitions, window_of
from dagster_project.lib.settings import Environment, Settings

ensure_manifest()

SNAPSHOT_POOL = "dbt_snapshots"


def run_dbt(
    dbt: DbtCliResource,
    args: list[str],
    context: dg.AssetExecutionContext,
    warehouse: RawWarehouse,
    window: tuple[date, date] | None = None,
):
    """Run a dbt call, then yield its events with each model's rows, days and headline figures
    (issue 13.6), and fail unless dbt itself exited 0: a dbt process killed by a signal ends
    its event stream early, and must not count as a build.

    The events are held until dbt exits: DuckDB has one writer, so the warehouse can only be
    read once dbt has let go of it (dagster-dbt's own row counts wait the same way)."""
    invocation = dbt.cli(args, context=context)
    events = list(invocation.stream())
    exit_code = invocation.process.wait()
    yield from with_model_metadata(context, invocation.manifest, events, warehouse, window)
    if exit_code != 0:
        raise dg.Failure(f"dbt {args[0]} exited with {exit_code}")
    # dbt writes run_results.json only when it completes: its absence catches a kill even when
    # the exit status was lost (a process reaped by someone else reports 0 to its Popen).
    if not (invocation.target_path / "run_results.json").exists():
        raise dg.Failure(f"dbt {args[0]} ended without writing its results (stopped?)")
    prune_invocation_dirs(invocation.target_path.parent)


def with_model_metadata(context, manifest, events, warehouse: RawWarehouse, window):
    """The events, each model's materialization with what lib/dbt/metadata.py reads for it:
    one connection and two queries per dbt call. Only the local DuckDB warehouse is read (on
    BigQuery the events pass unchanged); a failed read costs the metadata, never the build."""
    tables = {}
    for event in events:
        node = _built_node(manifest, event)
        if node is not None and node["name"] not in tables:
            tables[node["name"]] = model_table(node)
    stats = {}
    if tables and Settings.from_env().env == Environment.LOCAL:
        try:
            with warehouse.connect() as con:
                stats = read_stats(con, list(tables.values()), window)
        except Exception as error:  # noqa: BLE001 - metadata is a courtesy, the build stands
            context.log.warning(f"model metadata not read: {error}")
    for event in events:
        node = _built_node(manifest, event)
        if node is not None and node["name"] in stats:
            extra = stats_metadata(stats[node["name"]], daily=tables[node["name"]].daily)
            event = event.with_metadata({**event.metadata, **extra})
        yield event


def _built_node(manifest, event) -> dict | None:
    """The manifest node of a model or snapshot materialization (views are not counted: that
    would run their query)."""
    if not isinstance(event, dg.Output | dg.AssetMaterialization):
        return None
    unique_id = event.metadata.get("unique_id")
    node = manifest["nodes"].get(unique_id.value) if unique_id is not None else None
    if node is None or node["resource_type"] not in ("model", "snapshot"):
        return None
    return None if node["config"].get("materialized") == "view" else node


def model_table(node: dict) -> ModelTable:
    return ModelTable(
        name=node["name"],
        schema=node["schema"],
        table=node.get("alias") or node["name"],
        daily=is_daily(node),
        headlines=HEADLINES.get(node["name"], {}),
    )


def stats_metadata(stats: ModelStats, daily: bool) -> dict[str, dg.MetadataValue]:
    rows_key = "rows_in_window" if daily else "dagster/row_count"
    metadata: dict[str, dg.MetadataValue] = {rows_key: dg.MetadataValue.int(stats.rows)}
    if stats.first_day is not None:
        metadata["first_day"] = dg.MetadataValue.text(stats.first_day.isoformat())
        metadata["last_day"] = dg.MetadataValue.text(stats.last_day.isoformat())
        metadata["days_covered"] = dg.MetadataValue.int((stats.last_day - stats.first_day).days + 1)
    for label, value in stats.headlines.items():  # null: no data for it yet (e.g. churn)
        metadata[label] = (
            dg.MetadataValue.null() if value is None else dg.MetadataValue.float(round(value, 4))
        )
    return metadata


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
    # Day partitions are ordered by insertion (a late day comes after later days): the window
    # spans the range's first to last date. Days in between that the range does not name are
    # rebuilt too (correct, only extra work); `estore run` asks for date-contiguous ranges.
    first, last = window_of(context.partition_keys)
    start = datetime(first.year, first.month, first.day)
    end = datetime(last.year, last.month, last.day) + timedelta(days=1)
    started = datetime.now(UTC)
    yield from run_dbt(
        dbt, ["build", *BUILD_FLAGS, *window_args(start, end)], context, warehouse, (first, last)
    )
    # Loads that committed during the build stay pending: the build may not have seen them.
    cleared = warehouse.clear_pending_days(first, end.date(), recorded_before=started)
    context.log.info(f"{cleared} pending day rows cleared for {first}..{last}")


@dbt_assets(
    manifest=dbt_project.manifest_path,
    selector="whole_table",
    dagster_dbt_translator=translator,
    name="dbt_marts",
    pool=WAREHOUSE_POOL,
)
def dbt_marts(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: RawWarehouse):
    yield from run_dbt(dbt, ["build", *BUILD_FLAGS], context, warehouse)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    selector="snapshots",
    dagster_dbt_translator=translator,
    name="dbt_snapshots",
    pool=WAREHOUSE_POOL,  # DuckDB has one writer; the job's concurrency key keeps one at a time
)
def dbt_snapshots(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: RawWarehouse):
    yield from run_dbt(dbt, ["snapshot"], context, warehouse)


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
