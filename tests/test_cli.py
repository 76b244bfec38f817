"""The `estore` console script as a user calls it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import EstoreEnv

ESTORE = str(Path(sys.executable).with_name("estore"))


def test_generate_writes_files_into_the_landing_prefix(estore_env: EstoreEnv):
    result = subprocess.run(
        [ESTORE, "generate", "--events", "20000", "--days", "3", "--start", "2019-11-15"],
        capture_output=True,
        text=True,
        check=True,
    )
    files = sorted(p.name for p in estore_env.landing.iterdir())
    assert files == ["2019-11-15.csv", "2019-11-16.csv", "2019-11-17.csv"]
    assert "rows/s" in result.stdout
    ground_truth = Path(estore_env.settings.bucket) / "ground_truth" / "users.parquet"
    assert ground_truth.exists()


def test_summary_on_an_empty_warehouse(estore_env: EstoreEnv):
    result = subprocess.run([ESTORE, "summary"], capture_output=True, text=True, check=True)
    assert "files loaded" in result.stdout


def test_parse_size():
    from dagster_project.cli.main import parse_size

    assert parse_size("2GB") == 2 * 10**9
    assert parse_size("500mb") == 500 * 10**6
    assert parse_size("1234") == 1234


def test_run_refuses_while_another_process_drives_the_warehouse(estore_env: EstoreEnv):
    from dagster_project.cli.instance import exclusive_lock

    with exclusive_lock(estore_env.settings, "the Dagster UI (make dev)"):
        result = subprocess.run([ESTORE, "run", "--strict"], capture_output=True, text=True)
    assert result.returncode == 1
    assert "the Dagster UI (make dev) (pid" in " ".join(result.stdout.split())
