"""Ingest resources: the landing bucket and the warehouse the raw layer lives in.

ESTORE_ENV picks them (lib/settings.py): locally a folder and the DuckDB file (`Warehouse`), in
prod a gs:// bucket read through dagster-gcp's GCSResource and BigQuery through its
BigQueryResource (`BigQueryWarehouse`). Both warehouses offer what the ingest op and the daily
dbt asset need: load one object version, list the pending days, clear them after a build.

dagster-gcp and google-cloud-bigquery are imported only when a prod resource makes a client:
importing them costs seconds and pulls in pandas, and every local process loads this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import duckdb

from dagster_project.lib.ingest import pending
from dagster_project.lib.ingest.bucket import Bucket, ObjectInfo, open_bucket
from dagster_project.lib.ingest.loader import CONNECTION_CONFIG, LoadResult, load_file
from dagster_project.lib.ingest.parse import DayRange
from dagster_project.lib.settings import Settings, WarehouseKind

if TYPE_CHECKING:
    from google.cloud import bigquery

    from dagster_project.lib.ingest.bigquery_ingest import RawDataset

PendingDays = list[tuple[date, datetime]]


class LandingBucket(dg.ConfigurableResource):
    """Where users drop event files: a local folder or gs://bucket. With `gcp_project` (prod)
    the GCS client is dagster-gcp's GCSResource's on that project."""

    uri: str
    prefix: str
    settle_seconds: float
    max_files_per_tick: int
    gcp_project: str | None = None

    def open(self) -> Bucket:
        if self.gcp_project and self.uri.startswith("gs://"):
            from dagster_gcp import GCSResource

            from dagster_project.lib.ingest.gcs_bucket import GcsBucket

            client = GCSResource(project=self.gcp_project).get_client()
            return GcsBucket(self.uri, client=client)
        return open_bucket(self.uri, settle_seconds=self.settle_seconds)


class RawWarehouse(dg.ConfigurableResource):
    """What the ingest op and the daily dbt asset ask of the warehouse, whichever it is."""

    def load(
        self, bucket: Bucket, obj: ObjectInfo, days: DayRange
    ) -> tuple[LoadResult, PendingDays]:
        """Load one object version exactly once; return the outcome and every pending day."""
        raise NotImplementedError

    def clear_pending_days(
        self, start: date, end_exclusive: date, recorded_before: datetime
    ) -> int:
        raise NotImplementedError


class Warehouse(RawWarehouse):
    """The local DuckDB warehouse file."""

    duckdb_path: str
    # Past the limit DuckDB spills to the temp directory instead of failing (None: its default).
    memory_limit: str | None = None
    temp_directory: str | None = None

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        config = dict(CONNECTION_CONFIG)
        if self.memory_limit:
            config["memory_limit"] = self.memory_limit
        if self.temp_directory:
            Path(self.temp_directory).mkdir(parents=True, exist_ok=True)
            config["temp_directory"] = self.temp_directory
        con = duckdb.connect(self.duckdb_path, config=config)
        try:
            yield con
        finally:
            con.close()

    def load(
        self, bucket: Bucket, obj: ObjectInfo, days: DayRange
    ) -> tuple[LoadResult, PendingDays]:
        path = bucket.local_path(obj.key)
        if path is None:
            raise dg.Failure(
                f"{bucket.uri_for(obj.key)}: DuckDB loads local files only; "
                "a gs:// bucket is loaded into BigQuery (ESTORE_ENV=prod)",
                allow_retries=False,
            )
        with self.connect() as con:
            result = load_file(con, obj, path, days=days)
            return result, pending.pending_since(con)

    def clear_pending_days(
        self, start: date, end_exclusive: date, recorded_before: datetime
    ) -> int:
        with self.connect() as con:
            return pending.clear_pending_days(
                con, start, end_exclusive, recorded_before=recorded_before
            )


class BigQueryWarehouse(RawWarehouse):
    """BigQuery: loads are load jobs from the gs:// URI plus one merge transaction
    (lib/ingest/bigquery_ingest.py); dbt builds the models with its `prod` target."""

    project: str | None
    location: str | None
    raw_dataset: str

    @contextmanager
    def client(self) -> Iterator[bigquery.Client]:
        from dagster_gcp import BigQueryResource

        with BigQueryResource(project=self.project, location=self.location).get_client() as client:
            yield client

    def raw(self, client: bigquery.Client) -> RawDataset:
        from dagster_project.lib.ingest.bigquery_ingest import RawDataset

        return RawDataset(
            project=self.project or client.project,
            dataset=self.raw_dataset,
            location=self.location or client.location,
        )

    def connect(self):
        raise dg.Failure(
            "the warehouse is BigQuery (ESTORE_ENV=prod): this step reads the local DuckDB file "
            "and is not wired to BigQuery yet",
            allow_retries=False,
        )

    def load(
        self, bucket: Bucket, obj: ObjectInfo, days: DayRange
    ) -> tuple[LoadResult, PendingDays]:
        uri = bucket.uri_for(obj.key)
        if not uri.startswith("gs://"):
            raise dg.Failure(f"{uri}: BigQuery loads from gs:// only", allow_retries=False)

        def still_current() -> bool:
            current = bucket.object_info(obj.key)
            return current is not None and current.version == obj.version

        def read_head() -> bytes:
            return bucket.read_head(obj.key, obj.version)

        from dagster_project.lib.ingest import bigquery_ingest

        with self.client() as client:
            raw = self.raw(client)
            result = bigquery_ingest.load_object(
                client, raw, obj, uri, still_current, read_head, days
            )
            return result, bigquery_ingest.pending_since(client, raw)

    def clear_pending_days(
        self, start: date, end_exclusive: date, recorded_before: datetime
    ) -> int:
        from dagster_project.lib.ingest import bigquery_ingest

        with self.client() as client:
            return bigquery_ingest.clear_pending_days(
                client, self.raw(client), start, end_exclusive, recorded_before
            )


def warehouse_resource(settings: Settings) -> Warehouse:
    return Warehouse(
        duckdb_path=str(settings.duckdb_path),
        memory_limit=settings.duckdb_memory_limit,
        temp_directory=str(settings.duckdb_temp_dir),
    )


def bigquery_warehouse(settings: Settings) -> BigQueryWarehouse:
    return BigQueryWarehouse(
        project=settings.gcp_project,
        location=settings.bq_location,
        raw_dataset=settings.bq_raw_dataset,
    )


def landing_bucket(settings: Settings) -> LandingBucket:
    return LandingBucket(
        uri=settings.bucket,
        prefix=settings.landing_prefix,
        settle_seconds=settings.settle_seconds,
        max_files_per_tick=settings.max_files_per_tick,
        gcp_project=settings.gcp_project if settings.bucket_is_gcs else None,
    )


def raw_warehouse(settings: Settings) -> RawWarehouse:
    """The warehouse ESTORE_ENV picks (a misconfigured prod fails here, at load time)."""
    problems = settings.production_problems()
    if problems:
        raise dg.DagsterInvalidDefinitionError("ESTORE_ENV=prod: " + "; ".join(problems))
    if settings.warehouse == WarehouseKind.BIGQUERY:
        return bigquery_warehouse(settings)
    return warehouse_resource(settings)


@dg.definitions
def resources() -> dg.Definitions:
    settings = Settings.from_env()
    return dg.Definitions(
        resources={
            "landing": landing_bucket(settings),
            "warehouse": raw_warehouse(settings),
        }
    )
