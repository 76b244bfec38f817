"""Landing bucket -> raw.events: one run per landed object version.

Which days a file covers is only known once it has been read, so the load is an asset whose
run names no partition: it yields no output and reports a materialization of `raw/events` for
each day partition that changed (adding the day's partition first), and declarative automation
rebuilds those days downstream. Being an asset (not an op beside an external AssetSpec), the UI
shows `raw/events` as materialized by `ingest_file_job`, launched by the landing sensor.

The warehouse resource does the load (ESTORE_ENV picks it): DuckDB reads the local file, BigQuery
runs a load job from the gs:// URI and a merge transaction (lib/ingest/bigquery_ingest.py); the
op reports the same materializations and metadata either way.

The days that changed are read back from the warehouse (raw.pending_days, written in the load's
own transaction), not taken from this load alone: if a run crashed after its load committed but
before Dagster recorded its materializations, the retry (which finds the file loaded and skips
it) or any later load still reports those days.
"""

from datetime import UTC, date, datetime

import dagster as dg

from dagster_project.defs.ingest.resources import LandingBucket, RawWarehouse
from dagster_project.lib.ingest.loader import FAILED, LoadResult
from dagster_project.lib.ingest.parse import DayRange
from dagster_project.lib.partitions import (
    daily_partitions,
    day_partition_keys,
    ensure_day_partitions,
)
from dagster_project.lib.settings import Settings

WAREHOUSE_POOL = "warehouse"
RAW_EVENTS = dg.AssetKey(["raw", "events"])
LANDING_EVENTS = dg.AssetKey(["landing", "event_files"])

landing_events = dg.AssetSpec(
    LANDING_EVENTS,
    description=(
        "Event files (.csv / .csv.gz) dropped by users under the landing prefix of the bucket. "
        "The landing sensor requests one ingest_file_job run per new object version."
    ),
    group_name="ingest",
    kinds={"bucket"},
)


def raw_events_spec() -> dg.AssetSpec:
    """`raw/events`, materialized by ingest_file below (a function, so that the definitions
    loader does not also pick the spec up as an asset of its own)."""
    return dg.AssetSpec(
        RAW_EVENTS,
        description=(
            "Typed REES46 events with lineage (source_file, source_version, source_line, "
            "loaded_at), one day partition per event date that has data. Loaded file by file: the "
            "landing sensor launches ingest_file_job per landed object version, which reports the "
            "days it changed (launch it from the sensor, not by hand: a run needs a file). Rows "
            "that fail parsing or validation go to raw.load_rejects."
        ),
        deps=[LANDING_EVENTS],
        partitions_def=daily_partitions,
        group_name="ingest",
        kinds={Settings.from_env().warehouse.value},
        # The run names no partition and may touch no day: the output is never yielded, the day
        # partitions are reported as AssetMaterializations.
        skippable=True,
    )


class IngestFileConfig(dg.Config):
    # Set by the landing sensor. Empty when the asset is launched from the UI ("Materialize
    # all"): that run loads nothing (files are loaded through the sensor) and downstream builds.
    key: str = ""
    version: str = ""
    size: int = 0


def load_metadata(result: LoadResult) -> dict[str, dg.MetadataValue]:
    dates = result.event_dates
    return {
        "source_file": dg.MetadataValue.text(result.source_file),
        "source_version": dg.MetadataValue.text(result.source_version),
        "status": dg.MetadataValue.text(result.status),
        "rows_loaded": dg.MetadataValue.int(result.rows_loaded),
        "rows_rejected": dg.MetadataValue.int(result.rows_rejected),
        "bytes": dg.MetadataValue.int(result.size_bytes),
        "first_date": dg.MetadataValue.text(dates[0].isoformat() if dates else "-"),
        "last_date": dg.MetadataValue.text(dates[-1].isoformat() if dates else "-"),
        "days_touched": dg.MetadataValue.int(len(result.touched_dates)),
        "seconds": dg.MetadataValue.float(round(result.seconds, 3)),
    }


@dg.multi_asset(
    specs=[raw_events_spec()],
    name="ingest_file",
    pool=WAREHOUSE_POOL,
    description="Load one landed object version into raw.events (exactly once).",
)
def ingest_file(
    context: dg.AssetExecutionContext,
    config: IngestFileConfig,
    landing: LandingBucket,
    warehouse: RawWarehouse,
):
    if not config.key:
        context.log.info("No file given: files are loaded by the landing sensor's runs")
        return
    bucket = landing.open()
    current = bucket.object_info(config.key)
    if current is None or current.version != config.version:
        # Overwritten or deleted since the sensor saw it: the newer version has its own run key.
        context.log.info(f"{config.key}@{config.version} was superseded; nothing to load")
        return
    days = DayRange.from_settings(Settings.from_env().partitions_start)
    result, pending = warehouse.load(bucket, current, days)
    metadata = load_metadata(result)
    context.log_event(dg.AssetObservation(asset_key=LANDING_EVENTS, metadata=metadata))
    if result.status == FAILED:
        raise dg.Failure(
            description=f"{config.key} could not be loaded: {result.error}",
            metadata=metadata,
            allow_retries=False,
        )
    keys, outside = day_partition_keys(unreported_days(context.instance, pending), days)
    if outside:  # rows outside the partitions are rejected: only days a range change dropped
        context.log.warning(
            f"{config.key}: pending days without a partition: {', '.join(outside[:10])}"
        )
    # The days' partitions exist before they are reported: partitions follow the data.
    ensure_day_partitions(context.instance, keys)
    for key in keys:
        context.log_event(
            dg.AssetMaterialization(asset_key=RAW_EVENTS, partition=key, metadata=metadata)
        )
    context.log.info(
        f"{config.key}: {result.status}, {result.rows_loaded} rows, "
        f"{result.rows_rejected} rejected, {len(keys)} day partitions updated"
    )
    yield from ()  # no output: the run has no partition of its own


def unreported_days(
    instance: dg.DagsterInstance, pending: list[tuple[date, datetime]]
) -> list[date]:
    """Pending days whose change Dagster has not recorded yet: no `raw/events` materialization
    of that day since the change was written (naive UTC). Once one is recorded, automation
    owns the rebuild (a failed build is requested again) until the build clears the day."""
    if not pending:
        return []
    since = {day.isoformat(): recorded.replace(tzinfo=UTC).timestamp() for day, recorded in pending}
    reported: dict[str, float] = {}
    records_filter = dg.AssetRecordsFilter(
        asset_key=RAW_EVENTS, asset_partitions=list(since), after_timestamp=min(since.values())
    )
    cursor = None
    while True:
        page = instance.fetch_materializations(records_filter, limit=1000, cursor=cursor)
        for record in page.records:
            key = record.partition_key
            if key is not None:
                reported[key] = max(reported.get(key, 0.0), record.timestamp)
        if not page.has_more:
            break
        cursor = page.cursor
    return [
        date.fromisoformat(key) for key, at in sorted(since.items()) if reported.get(key, 0.0) < at
    ]


ingest_file_job = dg.define_asset_job(
    "ingest_file_job",
    selection=dg.AssetSelection.assets(RAW_EVENTS),
    description="Load one landed file (requested by the landing sensor, one run per version).",
    tags={"estore/step": "ingest"},
)
