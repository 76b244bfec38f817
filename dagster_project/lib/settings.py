"""One place that decides where things live: local folder + DuckDB, or GCS + BigQuery.

Values are read from the environment when `Settings.from_env()` is called, so tests can point
everything at a temporary folder. (The one exception is ESTORE_PARTITIONS_START, read when the
partitions definition is imported: see partitions.py.)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt-project"


class Environment(StrEnum):
    LOCAL = "local"
    PROD = "prod"


# dbt target per environment: the dbt profile has one output of the same name for each.
DBT_TARGET = {Environment.LOCAL: "local", Environment.PROD: "prod"}


@dataclass(frozen=True)
class Settings:
    env: Environment
    data_dir: Path
    bucket: str  # a local folder, or gs://bucket-name
    landing_prefix: str
    duckdb_path: Path
    dagster_home: Path
    settle_seconds: float
    max_files_per_tick: int
    gcp_project: str | None
    bq_dataset: str
    bq_location: str

    @property
    def dbt_target(self) -> str:
        return DBT_TARGET[self.env]

    @classmethod
    def from_env(cls) -> Settings:
        env = Environment(os.environ.get("ESTORE_ENV", Environment.LOCAL))
        data_dir = Path(os.environ.get("ESTORE_DATA_DIR", PROJECT_ROOT / "data")).resolve()
        return cls(
            env=env,
            data_dir=data_dir,
            bucket=os.environ.get("ESTORE_BUCKET", str(data_dir / "bucket")),
            landing_prefix=os.environ.get("ESTORE_LANDING_PREFIX", "landing/events/"),
            duckdb_path=Path(
                os.environ.get("ESTORE_DUCKDB_PATH", data_dir / "warehouse.duckdb")
            ).resolve(),
            dagster_home=Path(os.environ.get("DAGSTER_HOME", data_dir / "dagster_home")).resolve(),
            settle_seconds=float(os.environ.get("ESTORE_SETTLE_SECONDS", "2")),
            max_files_per_tick=int(os.environ.get("ESTORE_MAX_FILES_PER_TICK", "50")),
            gcp_project=os.environ.get("GCP_PROJECT"),
            bq_dataset=os.environ.get("ESTORE_BQ_DATASET", "estore"),
            bq_location=os.environ.get("ESTORE_BQ_LOCATION", "EU"),
        )

    def dbt_env(self) -> dict[str, str]:
        """Environment variables the dbt profile reads (absolute paths: dbt runs in its own cwd)."""
        return {
            "ESTORE_DBT_TARGET": self.dbt_target,
            "ESTORE_DUCKDB_PATH": str(self.duckdb_path),
            "ESTORE_BQ_DATASET": self.bq_dataset,
            "ESTORE_BQ_LOCATION": self.bq_location,
            **({"GCP_PROJECT": self.gcp_project} if self.gcp_project else {}),
        }
