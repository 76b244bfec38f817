"""Resources, built from the environment when the definitions load."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dagster as dg

from dagster_project.dbt_project import dbt_project
from dagster_project.resources import EstoreDbtCliResource, LandingBucket, Warehouse
from dagster_project.settings import Settings


@dg.definitions
def resources() -> dg.Definitions:
    settings = Settings.from_env()
    os.environ.update(settings.dbt_env())  # the dbt profile reads these
    return dg.Definitions(
        resources={
            "landing": LandingBucket(
                uri=settings.bucket,
                prefix=settings.landing_prefix,
                settle_seconds=settings.settle_seconds,
                max_files_per_tick=settings.max_files_per_tick,
            ),
            "warehouse": Warehouse(duckdb_path=str(settings.duckdb_path)),
            "dbt": EstoreDbtCliResource(
                project_dir=dbt_project,
                target=settings.dbt_target,
                # The dbt installed beside this Python, even when the venv is not activated.
                dbt_executable=str(Path(sys.executable).with_name("dbt")),
            ),
        }
    )
