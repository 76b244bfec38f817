"""Ingest resources: the landing bucket and the local warehouse connection."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb

from dagster_project.lib.ingest.bucket import Bucket, open_bucket
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

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = duckdb.connect(self.duckdb_path)
        try:
            yield con
        finally:
            con.close()


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
            "warehouse": Warehouse(duckdb_path=str(settings.duckdb_path)),
        }
    )
