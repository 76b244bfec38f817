"""What is in the warehouse now: the figures `estore run` and `make demo` print."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from dagster_project.lib.ingest.schema import EVENTS_TABLE, MANIFEST_TABLE, REJECTS_TABLE

ANALYTICS_SCHEMA = "analytics"


@dataclass
class WarehouseSummary:
    files_loaded: int = 0
    files_failed: list[tuple[str, str]] = field(default_factory=list)
    raw_rows: int = 0
    rejected_rows: int = 0
    first_day: str | None = None
    last_day: str | None = None
    days: int = 0
    fct_events_rows: int = 0
    relations: dict[str, int] = field(default_factory=dict)  # dbt relation -> rows
    headline: dict[str, str] = field(default_factory=dict)


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?",
            [schema, name],
        ).fetchone()[0]
    )


def _scalar(con: duckdb.DuckDBPyConnection, sql: str):
    return con.execute(sql).fetchone()[0]


# Headline figures come from the dbt model metrics_headline (one row); this only formats them.
HEADLINE_MODEL = "metrics_headline"


def _pct(value) -> str:
    return "-" if value is None else f"{value:.1%}"


def format_headline(row: dict) -> dict[str, str]:
    shares = [
        (name.removeprefix("rfm_share_").replace("_", " ").title(), value)
        for name, value in row.items()
        if name.startswith("rfm_share_") and value
    ]
    churn = (
        f"{_pct(row['churn_rate'])} of {row['churn_eligible_buyers']:,} eligible buyers"
        if row["churn_status"] == "ok"
        else f"{row['churn_status']} ({row['days_of_history']} days of data)"
    )
    return {
        "revenue / orders / AOV": (
            f"{row['revenue'] or 0:,.2f} / {row['orders']:,} / {row['aov'] or 0:,.2f}"
        ),
        "funnel view->cart / cart->purchase / view->purchase": " / ".join(
            _pct(row[k])
            for k in ("view_to_cart_rate", "cart_to_purchase_rate", "view_to_purchase_rate")
        ),
        "churn rate (90-day rule)": churn,
        "RFM segment shares": ", ".join(f"{name} {value:.0%}" for name, value in shares),
    }


def summarize(duckdb_path: Path) -> WarehouseSummary:
    summary = WarehouseSummary()
    if not duckdb_path.exists():
        return summary
    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        if _table_exists(con, "raw", "load_manifest"):
            summary.files_loaded = _scalar(
                con, f"select count(*) from {MANIFEST_TABLE} where loaded_version is not null"
            )
            summary.files_failed = con.execute(
                f"select source_file, error from {MANIFEST_TABLE} where status = 'failed' "
                "order by source_file"
            ).fetchall()
            summary.raw_rows = _scalar(con, f"select count(*) from {EVENTS_TABLE}")
            summary.rejected_rows = _scalar(con, f"select count(*) from {REJECTS_TABLE}")
            first, last, days = con.execute(
                f"select min(d), max(d), count(*) from (select distinct unnest(event_dates) d "
                f"from {MANIFEST_TABLE} where loaded_version is not null)"
            ).fetchone()
            summary.first_day = first.isoformat() if first else None
            summary.last_day = last.isoformat() if last else None
            summary.days = days
        # Tables only: counting a view runs its query (stg_events: all raw events, deduplicated,
        # 5 s of a 10M-event summary); DuckDB counts a table from its metadata.
        for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = ? "
            "and table_type = 'BASE TABLE' order by table_name",
            [ANALYTICS_SCHEMA],
        ).fetchall():
            summary.relations[name] = _scalar(
                con, f'select count(*) from {ANALYTICS_SCHEMA}."{name}"'
            )
        summary.fct_events_rows = summary.relations.get("fct_events", 0)
        if HEADLINE_MODEL in summary.relations:
            cursor = con.execute(f"select * from {ANALYTICS_SCHEMA}.{HEADLINE_MODEL}")
            columns = [d[0] for d in cursor.description]
            row = cursor.fetchone()
            if row is not None:
                summary.headline = format_headline(dict(zip(columns, row, strict=True)))
    finally:
        con.close()
    return summary


# What the Dagster instance knows and the warehouse cannot: loads that failed for a reason that
# was not the file's (nothing in the manifest) and days whose build failed or was cancelled.
DAY_ASSET = "fct_events"  # every daily model builds with it, in one dbt call per day range


@dataclass
class PipelineHealth:
    failed_loads: list[tuple[str, str]] = field(default_factory=list)  # (file, why)
    unbuilt_days: list[str] = field(default_factory=list)


def pipeline_health(dagster_home: Path) -> PipelineHealth:
    """Loads whose last attempt failed with no success since, and day partitions whose last
    build attempt failed or was cancelled (retried by the next `estore run`, or by the daemon)."""
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef
    from dagster._core.storage.tags import RUN_KEY_TAG

    from dagster_project.defs.ingest.sensor import OBJECT_TAG, base_run_key

    health = PipelineHealth()
    if not (dagster_home / "history").exists():
        return health
    instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(dagster_home)))
    try:
        latest: dict[str, dg.DagsterRun] = {}
        for record in instance.get_run_records(
            filters=dg.RunsFilter(job_name="ingest_file_job"), ascending=True
        ):
            run = record.dagster_run
            if RUN_KEY_TAG in run.tags:
                latest[base_run_key(run.tags[RUN_KEY_TAG])] = run
        health.failed_loads = sorted(
            (run.tags.get(OBJECT_TAG, key), run.status.value.lower())
            for key, run in latest.items()
            if run.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
        )
        storage = instance.event_log_storage
        attempts = (
            storage.get_latest_asset_partition_materialization_attempts_without_materializations(  # noqa: E501
                dg.AssetKey(DAY_ASSET)
            )
        )
        statuses = (
            {
                r.dagster_run.run_id: r.dagster_run.status
                for r in instance.get_run_records(
                    filters=dg.RunsFilter(run_ids=list({run_id for run_id, _ in attempts.values()}))
                )
            }
            if attempts
            else {}
        )
        health.unbuilt_days = sorted(
            day
            for day, (run_id, _) in attempts.items()
            if statuses.get(run_id) in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
        )
    finally:
        instance.dispose()
    return health
