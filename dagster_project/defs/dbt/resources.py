"""dbt resource: dbt on the project, with the target the environment picks, run in this process."""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource
from packaging import version

from dagster_project.lib.dbt.in_process import dbt_in_process
from dagster_project.lib.dbt.project import dbt_project
from dagster_project.lib.settings import Settings


class EstoreDbtCliResource(DbtCliResource):
    """DbtCliResource that runs dbt in this process with the parsed project kept (see
    lib/dbt/in_process.py), and knows its dbt version without asking: upstream spawns
    `dbt --version` twice per invocation (seconds each on a small machine). dbt-core is
    installed in this very environment, so its version is the package's."""

    def cli(self, args, **kwargs):
        with dbt_in_process():
            return super().cli(args, **kwargs)

    @property
    def _cli_version(self) -> version.Version:
        from dbt.version import __version__

        return version.parse(__version__)

    def _initialize_dbt_core_adapter(self, args):
        """No in-process dbt adapter: upstream builds one before every dbt call, parsing all
        the project's macros (~550, seconds on this machine), only to serve
        `fetch_row_counts()` / `fetch_column_metadata()`, which these assets do not use."""
        return None


@dg.definitions
def resources() -> dg.Definitions:
    settings = Settings.from_env()
    settings.export_dbt_env()  # the dbt profile reads these
    return dg.Definitions(
        resources={
            "dbt": EstoreDbtCliResource(
                project_dir=dbt_project,
                target=settings.dbt_target,
                # The dbt installed beside this Python, even when the venv is not activated.
                dbt_executable=str(Path(sys.executable).with_name("dbt")),
            ),
        }
    )
