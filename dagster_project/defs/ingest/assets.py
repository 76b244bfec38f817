"""Landing bucket -> raw.events: one run per landed object version.

The load is an op rather than an asset because which days a file covers is only known once it
has been read; the op then reports a materialization of `raw/events` for exactly those day
partitions, and declarative automation rebuilds those days downstream.
"""

import dagster as dg

from dagster_project.defs.ingest.resources import LandingBucket, Warehouse
from dagster_project.lib.ingest.loader import FAILED, LoadResult, load_file
from dagster_project.lib.partitions import daily_partitions, day_partition_keys

WAREHOUSE_POOL = "warehouse"
RAW_EVENTS = dg.AssetKey(["raw", "events"])
LANDING_EVENTS = dg.AssetKey(["landing", "events"])

landing_events = dg.AssetSpec(
    LANDING_EVENTS,
    description="Event files (.csv / .csv.gz) dropped by users under the landing prefix.",
    group_name="ingest",
    kinds={"bucket"},
)

raw_events = dg.AssetSpec(
    RAW_EVENTS,
    description=(
        "Typed REES46 events with lineage (source_file, source_version, source_line, "
        "loaded_at), one day partition per event date. Written by the ingest_file job; rows "
        "that fail parsing or validation go to raw.load_rejects."
    ),
    deps=[LANDING_EVENTS],
    partitions_def=daily_partitions,
    group_name="ingest",
    kinds={"duckdb"},
)


class IngestFileConfig(dg.Config):
    key: str
    version: str
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


@dg.op(
    pool=WAREHOUSE_POOL,
    description="Load one landed object version into raw.events (exactly once).",
    tags={"kind": "duckdb"},
)
def ingest_file(
    context: dg.OpExecutionContext,
    config: IngestFileConfig,
    landing: LandingBucket,
    warehouse: Warehouse,
) -> None:
    bucket = landing.open()
    path = bucket.local_path(config.key)
    if path is None:
        raise dg.Failure(f"{config.key}: only local buckets are loaded through DuckDB")
    current = bucket.object_info(config.key)
    if current is None or current.version != config.version:
        # Overwritten or deleted since the sensor saw it: the newer version has its own run key.
        context.log.info(f"{config.key}@{config.version} was superseded; nothing to load")
        return
    with warehouse.connect() as con:
        result = load_file(con, current, path)
    metadata = load_metadata(result)
    context.log_event(dg.AssetObservation(asset_key=LANDING_EVENTS, metadata=metadata))
    if result.status == FAILED:
        raise dg.Failure(
            description=f"{config.key} could not be loaded: {result.error}",
            metadata=metadata,
            allow_retries=False,
        )
    keys, outside = day_partition_keys(result.touched_dates)
    if outside:
        context.log.warning(
            f"{config.key}: days outside the partition range are loaded but not built: "
            f"{', '.join(outside[:10])}"
        )
    for key in keys:
        context.log_event(
            dg.AssetMaterialization(asset_key=RAW_EVENTS, partition=key, metadata=metadata)
        )
    context.log.info(
        f"{config.key}: {result.status}, {result.rows_loaded} rows, "
        f"{result.rows_rejected} rejected, {len(keys)} day partitions updated"
    )


@dg.job(
    description="Load one landed file (requested by the landing sensor, one run per version).",
    tags={"estore/step": "ingest"},
)
def ingest_file_job():
    ingest_file()
