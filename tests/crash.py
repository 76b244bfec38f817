"""Helpers to run the real `estore` command in a subprocess and kill it at a chosen moment."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
from dagster._core.instance.ref import InstanceRef

from dagster_project.generator import GeneratorConfig, generate

ESTORE = str(Path(sys.executable).with_name("estore"))
MART_TABLES = ("metrics_sales_daily", "metrics_funnel", "dim_users", "mart_product_performance")


def estore_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ESTORE_", "DAGSTER_"))}
    env.update(
        ESTORE_DATA_DIR=str(data_dir),
        DAGSTER_HOME=str(data_dir / "dagster_home"),
        ESTORE_SETTLE_SECONDS="0",
    )
    return env


def start(data_dir: Path, *args: str, log=subprocess.PIPE) -> subprocess.Popen:
    """`estore <args>` in its own session (so a kill reaches it and its dbt children alike).
    A long-lived process (`estore dev`) must log to a file: a pipe nobody reads fills up and
    blocks every process that writes to it."""
    return subprocess.Popen(
        [ESTORE, *args],
        env=estore_env(data_dir),
        start_new_session=True,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )


def land_days(data_dir: Path, days: int, events: int, seed: int) -> Path:
    """Generated daily files from 2019-10-01 in `data_dir`'s bucket, where estore looks."""
    generate(
        GeneratorConfig(
            output_dir=data_dir / "bucket",
            prefix="landing/events/",
            start_date=date(2019, 10, 1),
            days=days,
            events=events,
            seed=seed,
        )
    )
    return data_dir


def instance_at(home: Path) -> dg.DagsterInstance:
    """The instance of a DAGSTER_HOME, opened as another process (the UI, the next run) would."""
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))


def instance_of(data_dir: Path) -> dg.DagsterInstance:
    return instance_at(data_dir / "dagster_home")


def wait_for_run(data_dir: Path, job_name: str, process: subprocess.Popen, after: float = 0.0):
    """Block until a run of `job_name` is in progress (then wait `after` seconds); False if the
    process ended first."""
    while process.poll() is None:
        if runs_started(data_dir, job_name):
            time.sleep(after)
            return process.poll() is None
        time.sleep(0.02)  # a dbt call in-process can be over in half a second
    return False


def runs_started(data_dir: Path, job_name: str) -> int:
    """Runs of `job_name` in progress, read from Dagster's run database read-only: opening a
    DagsterInstance here while `estore` is still creating that database would race it (both
    stamp its schema version: "more than one head present")."""
    path = data_dir / "dagster_home" / "history" / "runs.db"
    if not path.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            ((count,),) = con.execute(
                "select count(*) from runs where pipeline_name = ? and status = 'STARTED'",
                (job_name,),
            ).fetchall()
        finally:
            con.close()
    except sqlite3.OperationalError:  # not created yet, or busy: ask again
        return 0
    return count


def kill_during(data_dir: Path, job_name: str, after: float = 0.0) -> bool:
    """Start `estore run`, SIGKILL it (and its children: a reboot, an OOM kill of the session)
    while a run of `job_name` is in progress. True if it was killed there."""
    process = start(data_dir, "run")
    caught = wait_for_run(data_dir, job_name, process, after)
    if caught:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    process.stdout.close()
    return caught


def run_to_end(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ESTORE, "run", *args], env=estore_env(data_dir), capture_output=True, text=True
    )


def table(data_dir: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def marts(data_dir: Path) -> dict[str, list[tuple]]:
    return {
        name: table(data_dir, f"select * from analytics.{name} order by all")
        for name in MART_TABLES
    }
