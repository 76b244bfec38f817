"""One place that decides where things live: local folder + DuckDB, or GCS + BigQuery.

`Settings` is the only reader of the environment, and the only writer: the few variables other
programs read (dbt's profile, Dagster's DAGSTER_HOME) are exported by its methods. Values are
read when `Settings.from_env()` is called, so tests can point everything at a temporary folder.
Every default lives here once (`DEFAULTS`). dbt needs none of them: the window of a daily run
comes from the Dagster partition range (`--event-time-start/--event-time-end`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt-project"


class Environment(StrEnum):
    LOCAL = "local"
    PROD = "prod"


class WarehouseKind(StrEnum):
    DUCKDB = "duckdb"
    BIGQUERY = "bigquery"


# The one switch, ESTORE_ENV: it picks the warehouse and the dbt target (the dbt profile has one
# output of the same name for each); the bucket follows ESTORE_BUCKET, which prod requires to
# be gs:// (`production_problems`).
DBT_TARGET = {Environment.LOCAL: "local", Environment.PROD: "prod"}
WAREHOUSE = {Environment.LOCAL: WarehouseKind.DUCKDB, Environment.PROD: WarehouseKind.BIGQUERY}
# dbt's sources read `<dataset>_raw` on BigQuery (models/staging/_sources.yml); Terraform
# creates it (the names are checked to agree in tests/test_terraform.py).
BQ_RAW_SUFFIX = "_raw"

# The defaults, once. Environment variable -> default.
DEFAULTS = {
    "ESTORE_ENV": Environment.LOCAL.value,
    "ESTORE_LANDING_PREFIX": "landing/events/",
    "ESTORE_PARTITIONS_START": "2019-09-01",
    "ESTORE_SETTLE_SECONDS": "2",
    "ESTORE_MAX_FILES_PER_TICK": "50",
    "ESTORE_BQ_DATASET": "estore",
    "ESTORE_BQ_LOCATION": "EU",
    # DuckDB spills to ESTORE_DUCKDB_TEMP_DIR (default $ESTORE_DATA_DIR/tmp) past this limit.
    "ESTORE_DUCKDB_MEMORY_LIMIT": "5GB",
}


def _get(name: str) -> str:
    return os.environ.get(name, DEFAULTS[name])


@dataclass(frozen=True)
class Settings:
    env: Environment
    data_dir: Path
    bucket: str  # a local folder, or gs://bucket-name
    landing_prefix: str
    duckdb_path: Path
    dagster_home: Path
    partitions_start: str
    settle_seconds: float
    max_files_per_tick: int
    gcp_project: str | None
    bq_dataset: str
    bq_location: str
    duckdb_memory_limit: str  # DuckDB syntax: "5GB", "60%" of RAM...
    duckdb_temp_dir: Path

    @property
    def dbt_target(self) -> str:
        return DBT_TARGET[self.env]

    @property
    def warehouse(self) -> WarehouseKind:
        return WAREHOUSE[self.env]

    @property
    def bq_raw_dataset(self) -> str:
        return f"{self.bq_dataset}{BQ_RAW_SUFFIX}"

    @property
    def bucket_is_gcs(self) -> bool:
        return self.bucket.startswith("gs://")

    def production_problems(self) -> list[str]:
        """What stops ESTORE_ENV=prod from working (empty when nothing does, and locally)."""
        if self.env != Environment.PROD:
            return []
        problems = []
        if not self.bucket_is_gcs:
            problems.append(f"ESTORE_BUCKET must be gs://<bucket> in prod, not {self.bucket!r}")
        if not self.gcp_project:
            problems.append("GCP_PROJECT must be set in prod (the BigQuery project)")
        return problems

    @classmethod
    def from_env(cls) -> Settings:
        data_dir = Path(os.environ.get("ESTORE_DATA_DIR", PROJECT_ROOT / "data")).resolve()
        return cls(
            env=Environment(_get("ESTORE_ENV")),
            data_dir=data_dir,
            bucket=os.environ.get("ESTORE_BUCKET", str(data_dir / "bucket")),
            landing_prefix=_get("ESTORE_LANDING_PREFIX"),
            duckdb_path=Path(
                os.environ.get("ESTORE_DUCKDB_PATH", data_dir / "warehouse.duckdb")
            ).resolve(),
            dagster_home=Path(os.environ.get("DAGSTER_HOME", data_dir / "dagster_home")).resolve(),
            partitions_start=_get("ESTORE_PARTITIONS_START"),
            settle_seconds=float(_get("ESTORE_SETTLE_SECONDS")),
            max_files_per_tick=int(_get("ESTORE_MAX_FILES_PER_TICK")),
            gcp_project=os.environ.get("GCP_PROJECT"),
            bq_dataset=_get("ESTORE_BQ_DATASET"),
            bq_location=_get("ESTORE_BQ_LOCATION"),
            duckdb_memory_limit=_get("ESTORE_DUCKDB_MEMORY_LIMIT"),
            duckdb_temp_dir=Path(
                os.environ.get("ESTORE_DUCKDB_TEMP_DIR", data_dir / "tmp")
            ).resolve(),
        )

    def dbt_env(self) -> dict[str, str]:
        """Environment variables the dbt profile reads (absolute paths: dbt runs in its own cwd)."""
        return {
            "ESTORE_DBT_TARGET": self.dbt_target,
            "ESTORE_DUCKDB_PATH": str(self.duckdb_path),
            "ESTORE_DUCKDB_MEMORY_LIMIT": self.duckdb_memory_limit,
            "ESTORE_BQ_DATASET": self.bq_dataset,
            "ESTORE_BQ_LOCATION": self.bq_location,
            **({"GCP_PROJECT": self.gcp_project} if self.gcp_project else {}),
        }

    def export_dbt_env(self) -> None:
        """dbt (a subprocess, or dbtRunner in this process) reads its profile from these."""
        os.environ.update(self.dbt_env())

    def export_dagster_home(self) -> None:
        os.environ["DAGSTER_HOME"] = str(self.dagster_home)


@contextmanager
def environment(**overrides: str | None) -> Iterator[Settings]:
    """Set (or, with None, unset) environment variables for the duration and yield the
    Settings they give; everything is restored afterwards (benchmarks, tests, dbt in-process)."""
    saved = {name: os.environ.get(name) for name in overrides}
    try:
        for name, value in overrides.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        settings = Settings.from_env()
        settings.export_dbt_env()
        yield settings
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        Settings.from_env().export_dbt_env()
