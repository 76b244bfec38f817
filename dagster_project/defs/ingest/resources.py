"""Resources shared by the asset definitions: the bucket and the warehouse connection."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource
from packaging import version

from dagster_project.ingest.bucket import Bucket, open_bucket


class LandingBucket(dg.ConfigurableResource):
    """Where users drop event files: a local folder or gs://bucket."""

    uri: str
    prefix: str = "landing/events/"
    settle_seconds: float = 2.0
    max_files_per_tick: int = 50

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


class EstoreDbtCliResource(DbtCliResource):
    """DbtCliResource that knows its dbt version without asking: upstream spawns
    `dbt --version` twice per invocation (seconds each on a small machine). dbt-core is
    installed in this very environment, so its version is the package's."""

    @property
    def _cli_version(self) -> version.Version:
        from dbt.version import __version__

        return version.parse(__version__)
