"""Ingest resources: the landing bucket and the local warehouse connection."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from dagster_project.lib.ingest.bucket import Bucket, open_bucket
from dagster_project.lib.ingest.loader import CONNECTION_CONFIG
from dagster_project.lib.settings import Settings


class LandingBucket(dg.ConfigurableResource):
    """Where users drop event files: a local folder or gs://bucket."""

    uri: str
    prefix: str
    settle_seconds: float
    max_files_per_tick: int

    def open(self) -> Bucket:
        return open_bucket(self.uri, settle_seconds=self.settle_seconds)


class Warehouse(dg.ConfigurableResource):
    """The local DuckDB warehouse file (production uses BigQuery through dbt)."""

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


def warehouse_resource(settings: Settings) -> Warehouse:
    return Warehouse(
        duckdb_path=str(settings.duckdb_path),
        memory_limit=settings.duckdb_memory_limit,
        temp_directory=str(settings.duckdb_temp_dir),
    )


def landing_bucket(settings: Settings) -> LandingBucket:
    return LandingBucket(
        uri=settings.bucket,
        prefix=settings.landing_prefix,
        settle_seconds=settings.settle_seconds,
        max_files_per_tick=settings.max_files_per_tick,
    )


@dg.definitions
def resources() -> dg.Definitions:
    settings = Settings.from_env()
    return dg.Definitions(
        resources={
            "landing": landing_bucket(settings),
            "warehouse": warehouse_resource(settings),
        }
    )
