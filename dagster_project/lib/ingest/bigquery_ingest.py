"""Load one landed gs:// object version into BigQuery's raw dataset: submit what
lib/ingest/bigquery_load.py builds, in order, and read the outcome back.

1. Create the raw tables if missing (DDL, no bytes billed).
2. Read the file's manifest row: a version already loaded is skipped (a retried run).
   The file's first line must be the REES46 header (the load job skips it unread): otherwise
   the file fails whole, as in the DuckDB loader.
3. Submit the load job under its deterministic id; if BigQuery answers 409 (the id exists: a
   retry of this very object version) wait for the existing job instead of loading again.
4. If the object was overwritten or deleted meanwhile, stop: the newer version has its own run
   (a load job reads the live object, it cannot name a generation).
5. Run the merge script (one transaction: rows replaced, rejects, pending days, manifest). It is
   idempotent, so it runs under a fresh job id: a retry after a crash simply runs it again.
6. Read back the manifest row; staged rows must equal rows loaded + rejected.

Everything goes through a `google.cloud.bigquery.Client` passed in (tests pass a stub that
records the requests). A malformed file (the load job's `invalid` error) is the file's fault:
it is recorded as failed in the manifest and reported, not retried; any other error propagates
so the run fails and the sensor retries it.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from google.api_core.exceptions import BadRequest, Conflict
from google.cloud import bigquery

from dagster_project.lib.ingest.bigquery_load import (
    clear_pending_sql,
    failed_load_sql,
    load_job_config,
    load_job_id,
    manifest_row_sql,
    merge_script,
    pending_since_sql,
    raw_tables_ddl,
    staging_table_id,
)
from dagster_project.lib.ingest.bucket import ObjectInfo
from dagster_project.lib.ingest.loader import FAILED, LOADED, SKIPPED, LoadResult
from dagster_project.lib.ingest.parse import DayRange
from dagster_project.lib.ingest.schema import EXPECTED_HEADER

SUPERSEDED = "superseded while loading: the newer version has its own run"


@dataclass(frozen=True)
class RawDataset:
    """Where the raw tables live: `<project>.<dataset>` (the `<analytics>_raw` dataset)."""

    project: str
    dataset: str
    location: str

    def table(self, name: str) -> str:
        return f"{self.project}.{self.dataset}.{name}"


def _params(**values: str | int | date | datetime) -> bigquery.QueryJobConfig:
    types = {str: "STRING", int: "INT64", date: "DATE", datetime: "TIMESTAMP"}
    return bigquery.QueryJobConfig(
        query_parameters=[
            bigquery.ScalarQueryParameter(name, types[type(value)], value)
            for name, value in values.items()
        ]
    )


def _query(
    client: bigquery.Client,
    raw: RawDataset,
    sql: str,
    config: bigquery.QueryJobConfig | None = None,
) -> list:
    return list(client.query(sql, job_config=config, location=raw.location).result())


def submit_load_job(
    client: bigquery.Client, raw: RawDataset, uri: str, destination: str, job_id: str
) -> bigquery.LoadJob:
    """The load job under its deterministic id, or the existing one with that id."""
    try:
        return client.load_table_from_uri(
            uri,
            destination,
            job_id=job_id,
            job_config=load_job_config(),
            location=raw.location,
        )
    except Conflict:  # 409: this object version's load was submitted before (a retry)
        return client.get_job(job_id, location=raw.location)


def header_problem(key: str, head: bytes) -> str | None:
    """Why the object whose first bytes are `head` is not a REES46 file (None when it is)."""
    if key.endswith(".gz"):
        try:  # a prefix of a gzip stream: decompress what is there
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head)
        except zlib.error as error:
            return f"not gzip: {error}"
    if not head:
        return "empty file: no header line"
    header = head.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    header = header.lstrip("\ufeff").rstrip("\r")
    if header != EXPECTED_HEADER:
        return f"wrong header: expected {EXPECTED_HEADER!r}, found {header[:200]!r}"
    return None


def _days(value: list[date] | None) -> list[date]:
    """A manifest row's event_dates, sorted and distinct (BigQuery's are already; the
    bqemulator returns one entry per row from ARRAY(SELECT DISTINCT ...))."""
    return sorted(set(value or []))


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def load_object(
    client: bigquery.Client,
    raw: RawDataset,
    obj: ObjectInfo,
    uri: str,
    still_current: Callable[[], bool] = lambda: True,
    read_head: Callable[[], bytes] | None = None,
    days: DayRange | None = None,
) -> LoadResult:
    """Load `obj` (at `uri`, e.g. gs://bucket/key) into the raw tables exactly once.
    `read_head` returns the object version's first bytes (None: the header is not checked);
    rows outside `days` (the day partitions) are rejected."""
    started = time.monotonic()

    def result(status: str, **fields) -> LoadResult:
        return LoadResult(
            source_file=obj.key,
            source_version=obj.version,
            status=status,
            size_bytes=obj.size,
            seconds=time.monotonic() - started,
            **fields,
        )

    _query(client, raw, raw_tables_ddl(raw.project, raw.dataset))
    file_param = _params(source_file=obj.key)
    before = _query(client, raw, manifest_row_sql(raw.project, raw.dataset), file_param)
    previous = before[0] if before else None
    if previous is not None and previous["loaded_version"] == obj.version:
        return result(
            SKIPPED,
            rows_loaded=previous["rows_loaded"],
            rows_rejected=previous["rows_rejected"],
            event_dates=_days(previous["event_dates"]),
        )

    def failed(message: str) -> LoadResult:
        _query(
            client,
            raw,
            failed_load_sql(raw.project, raw.dataset),
            _params(source_file=obj.key, source_version=obj.version, error=message),
        )
        return result(FAILED, error=message)

    problem = header_problem(obj.key, read_head()) if read_head is not None else None
    if problem is not None:
        return failed(problem)

    staging = staging_table_id(obj.key)
    destination = raw.table(staging)
    job = submit_load_job(client, raw, uri, destination, load_job_id(destination, uri, obj.version))
    try:
        job.result()
    except BadRequest as error:  # the job's `invalid`: a line that is not CSV, named by BigQuery
        return failed(f"BigQuery load job {job.job_id}: {error.message}")
    if not still_current():
        return result(SKIPPED, error=SUPERSEDED)

    _query(
        client,
        raw,
        merge_script(raw.project, raw.dataset, staging, obj.key, obj.version, obj.size, days),
    )
    (after,) = _query(client, raw, manifest_row_sql(raw.project, raw.dataset), file_param)
    loaded, rejected = after["rows_loaded"], after["rows_rejected"]
    if after["loaded_version"] != obj.version:
        raise RuntimeError(f"{obj.key}: manifest shows {after['loaded_version']} after the merge")
    if job.output_rows is not None and job.output_rows != loaded + rejected:
        raise RuntimeError(
            f"{obj.key}: {job.output_rows} staged rows but {loaded} loaded + {rejected} rejected"
        )
    return result(
        LOADED,
        rows_loaded=loaded,
        rows_rejected=rejected,
        event_dates=_days(after["event_dates"]),
        replaced_dates=_days(previous["event_dates"]) if previous is not None else [],
    )


def pending_since(client: bigquery.Client, raw: RawDataset) -> list[tuple[date, datetime]]:
    """Each pending day with the time (naive UTC) of its latest change."""
    rows = _query(client, raw, pending_since_sql(raw.project, raw.dataset))
    return [(row["day"], _naive_utc(row["recorded_at"])) for row in rows]


def clear_pending_days(
    client: bigquery.Client,
    raw: RawDataset,
    start_day: date,
    end_day_exclusive: date,
    recorded_before: datetime,
) -> int:
    """Forget the pending days in [start_day, end_day_exclusive) changed before
    `recorded_before` (when the build started; a load that committed during it stays)."""
    if recorded_before.tzinfo is None:
        recorded_before = recorded_before.replace(tzinfo=UTC)
    job = client.query(
        clear_pending_sql(raw.project, raw.dataset),
        job_config=_params(
            start_day=start_day, end_day=end_day_exclusive, recorded_before=recorded_before
        ),
        location=raw.location,
    )
    job.result()
    return job.num_dml_affected_rows or 0
