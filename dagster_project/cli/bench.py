"""`estore bench`: throughput and incremental-cost figures, each a ratio against a baseline
measured in the same run (these machines are noisy: compare within a run, never across)."""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

from dagster_project.lib.ingest.bucket import LocalBucket
from dagster_project.lib.ingest.loader import _read_csv_sql, load_file
from dagster_project.lib.settings import Settings, environment

START = date(2019, 10, 1)


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    note: str = ""


def estore_environment(root: Path):
    """Point every estore setting at `root` for the duration (restored afterwards)."""
    return environment(
        ESTORE_DATA_DIR=str(root),
        ESTORE_BUCKET=None,
        ESTORE_DUCKDB_PATH=None,
        DAGSTER_HOME=None,
        ESTORE_SETTLE_SECONDS="0",
    )


def _generate(bucket: Path, days: int, events: int, seed: int = 42):
    from dagster_project.generator import GeneratorConfig, generate

    return generate(
        GeneratorConfig(output_dir=bucket, start_date=START, days=days, events=events, seed=seed)
    )


def bench_generator(workdir: Path, events: int) -> tuple[Figure, Path]:
    report = _generate(workdir / "gen", days=30, events=events)
    return (
        Figure("generator", report.rows_per_second, "rows/s", f"{report.rows:,} rows to CSV"),
        workdir / "gen" / "landing" / "events",
    )


def bench_raw_load(workdir: Path, landing: Path) -> list[Figure]:
    files = sorted(landing.glob("*.csv"))
    rows = 0
    baseline_db = duckdb.connect(str(workdir / "baseline.duckdb"))
    started = time.perf_counter()
    # The same reader settings as the loader, nothing else: one CTAS per file into one table.
    for i, path in enumerate(files):
        baseline_db.execute(
            f"create table t{i} as select * from {_read_csv_sql(path, f'r{i}', f's{i}')}"
        ).fetchall()
    baseline_db.execute("checkpoint").fetchall()
    baseline = time.perf_counter() - started
    baseline_db.close()

    bucket = LocalBucket(landing.parent.parent, settle_seconds=0)
    con = duckdb.connect(str(workdir / "loaded.duckdb"))
    started = time.perf_counter()
    for obj in bucket.list_objects("landing/events/"):
        rows += load_file(con, obj, bucket.local_path(obj.key)).rows_loaded
    con.execute("checkpoint").fetchall()
    ours = time.perf_counter() - started
    con.close()
    return [
        Figure("bare DuckDB CTAS (baseline)", baseline, "s", f"{len(files)} files, {rows:,} rows"),
        Figure("estore raw load", ours, "s", "manifest, lineage, rejects, one transaction/file"),
        Figure("raw load / baseline", ours / baseline, "x", "aim <= 1.25"),
    ]


def _run_pipeline(settings: Settings):
    from dagster_project.cli.instance import get_instance
    from dagster_project.cli.run import load_definitions
    from dagster_project.cli.runner import PipelineRunner

    instance = get_instance(settings)
    runner = PipelineRunner(load_definitions(settings), instance, settings.dagster_home)
    return runner.run()


def bench_end_to_end(workdir: Path, landing: Path) -> list[Figure]:
    root = workdir / "e2e"
    shutil.copytree(landing, root / "bucket" / "landing" / "events")
    rows = sum(sum(1 for _ in p.open("rb")) - 1 for p in landing.glob("*.csv"))
    with estore_environment(root) as settings:
        started = time.perf_counter()
        report = _run_pipeline(settings)
        seconds = time.perf_counter() - started
    return [
        Figure(
            "end to end (landing -> all marts)",
            rows / seconds,
            "events/s",
            f"{rows:,} events, {seconds:.1f}s, {len(report.day_ranges)} day ranges",
        ),
    ]


def bench_incremental(workdir: Path, events_per_day: int) -> list[Figure]:
    """One new day on top of 30 and of 90 days of history, and a full rebuild for comparison."""
    figures: list[Figure] = []
    times: dict[int, float] = {}
    source = workdir / "history"
    _generate(source, days=91, events=events_per_day * 91, seed=11)
    days = sorted((source / "landing" / "events").glob("*.csv"))
    for history in (30, 90):
        root = workdir / f"inc{history}"
        landing = root / "bucket" / "landing" / "events"
        landing.mkdir(parents=True)
        for path in days[:history]:
            shutil.copy2(path, landing / path.name)
        with estore_environment(root) as settings:
            _run_pipeline(settings)
            shutil.copy2(days[history], landing / days[history].name)
            started = time.perf_counter()
            report = _run_pipeline(settings)
            times[history] = time.perf_counter() - started
            assert report.day_ranges, "the new day was not rebuilt"
        figures.append(Figure(f"one new day on {history} days of history", times[history], "s"))
    figures.append(Figure("90-day / 30-day incremental", times[90] / times[30], "x", "aim <= 1.3"))
    figures.append(_full_rebuild(workdir / "inc90"))
    return figures


def _full_rebuild(root: Path) -> Figure:
    from dbt.cli.main import dbtRunner

    from dagster_project.lib.settings import DBT_PROJECT_DIR

    with estore_environment(root):
        args = [
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--quiet",
        ]
        started = time.perf_counter()
        ok = (
            dbtRunner()
            .invoke(
                [
                    "build",
                    "--full-refresh",
                    "--select",
                    "tag:daily",
                    "--event-time-start",
                    "2019-10-01",
                    "--event-time-end",
                    "2020-01-01",
                    *args,
                ]
            )
            .success
        )
        ok = (
            ok
            and dbtRunner()
            .invoke(
                [
                    "build",
                    "--full-refresh",
                    "--exclude",
                    "tag:daily",
                    "resource_type:snapshot",
                    *args,
                ]
            )
            .success
        )
        seconds = time.perf_counter() - started
    return Figure("full rebuild of 91 days (dbt)", seconds, "s", "ok" if ok else "FAILED")


def run_benchmarks(args: argparse.Namespace, console: Console) -> list[Figure]:
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="estore-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    figures: list[Figure] = []
    with console.status("generator..."):
        figure, landing = bench_generator(workdir, args.events)
        figures.append(figure)
    with console.status("raw load vs bare DuckDB..."):
        figures += bench_raw_load(workdir, landing)
    with console.status("end to end..."):
        figures += bench_end_to_end(workdir, landing)
    with console.status("incremental cost: 30 vs 90 days of history..."):
        figures += bench_incremental(workdir, events_per_day=args.events_per_day)
    table = Table(title=f"estore bench ({workdir})")
    for column in ("figure", "value", "unit", "note"):
        table.add_column(column)
    for f in figures:
        table.add_row(f.name, f"{f.value:,.2f}", f.unit, f.note)
    console.print(table)
    out = workdir / "bench.json"
    out.write_text(json.dumps([f.__dict__ for f in figures], indent=2))
    console.print(f"results: {out}")
    return figures
