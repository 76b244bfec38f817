"""`estore bench`: the figures of issue 9, each beside its goal, every ratio against a baseline
measured in the same run (the machine is shared and noisy: compare within a run, never across).

Every pipeline pass is a real `estore run` process (process start, definitions, Dagster runs,
dbt), its output in `<workdir>/<case>/logs`; the terminal shows progress and the results.
`--scale` generates one October-sized monthly file instead and runs landing -> every mart.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

from dagster_project.cli.bench_logs import PassLog, breakdown_rows, parse_pass_log
from dagster_project.lib.ingest.bucket import LocalBucket
from dagster_project.lib.ingest.loader import CONNECTION_CONFIG, load_file
from dagster_project.lib.ingest.schema import SOURCE_COLUMNS, TIMESTAMP_FORMAT
from dagster_project.lib.settings import DEFAULTS, environment

START = date(2019, 10, 1)
LANDING = DEFAULTS["ESTORE_LANDING_PREFIX"]
OCTOBER_EVENTS = 42_448_764  # the public 2019-Oct.csv (5.7 GB)
PUBLIC_EVENTS = 411_709_736  # the seven public monthly files
DEFAULT_EVENTS = 2_000_000  # make bench: one monthly file and 30 daily files of this many


@dataclass
class Figure:
    name: str
    value: float | None
    unit: str
    goal: str = ""
    note: str = ""


@dataclass
class Pass:
    seconds: float
    peak_rss_bytes: int
    ok: bool
    log: PassLog


# -- helpers ---------------------------------------------------------------------------------
def _generate(bucket: Path, days: int, events: int, per: str = "day", gzip: bool = False):
    from dagster_project.generator import GeneratorConfig, generate

    return generate(
        GeneratorConfig(
            output_dir=bucket,
            prefix=LANDING,
            start_date=START,
            days=days,
            events=events,
            seed=42,
            file_per=per,  # type: ignore[arg-type]
            compression="gzip" if gzip else "none",
        )
    )


def case_environment(root: Path):
    """Every estore setting pointed at `root` for the duration (a child process inherits it);
    the dbt profile's variables are exported too."""
    return environment(
        ESTORE_DATA_DIR=str(root),
        ESTORE_BUCKET=None,
        ESTORE_DUCKDB_PATH=None,
        DAGSTER_HOME=None,
        ESTORE_SETTLE_SECONDS="0",
    )


def estore_run(root: Path) -> Pass:
    """One `estore run` process on `root` (its own bucket, warehouse and Dagster state):
    wall time, peak RSS of the process and everything it started (dbt), and its run log."""
    log_path = root / "logs" / "estore-run.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    offset = log_path.stat().st_size if log_path.exists() else 0
    estore = Path(sys.executable).with_name("estore")
    with (root / "logs" / "estore-run.out").open("a") as out:
        started = time.perf_counter()
        with case_environment(root):
            process = subprocess.Popen([str(estore), "run"], stdout=out, stderr=out)
        # wait4: the child's peak RSS, including the dbt processes it waited for.
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return Pass(
        seconds, usage.ru_maxrss * 1024, process.returncode == 0, parse_pass_log(log_path, offset)
    )


def dbt_parse(root: Path) -> Figure:
    """The dbt project parsed for `root` in a process of its own (`in_process.prepare`), as the
    first pass after a change of the project would: once per project state, whatever the data
    folder, so the passes measured after it do not include it (issue 9 reports it apart)."""
    script = "from dagster_project.lib.dbt.in_process import prepare; prepare()"
    (root / "logs").mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with case_environment(root), (root / "logs" / "dbt-parse.out").open("w") as out:
        ok = subprocess.run([sys.executable, "-c", script], stdout=out, stderr=out).returncode == 0
    return Figure(
        "fixed cost: dbt parse of the project (once per change of it)",
        time.perf_counter() - started,
        "s",
        "",
        "its process start included (all of it when already parsed)" if ok else "FAILED: see logs",
    )


def _bare_read_csv(path: Path) -> str:
    """The same columns, types and timestamp format as the loader; nothing else."""
    columns = ", ".join(f"'{name}': '{type_}'" for name, type_ in SOURCE_COLUMNS.items())
    escaped = str(path).replace("'", "''")
    return (
        f"read_csv('{escaped}', header = true, auto_detect = false, delim = ',', quote = '\"', "
        f"columns = {{{columns}}}, timestampformat = '{TIMESTAMP_FORMAT}')"
    )


def bare_load(workdir: Path, files: list[Path], name: str, config: dict | None = None) -> float:
    """A plain CTAS (then one INSERT per further file, each its own transaction), DuckDB's
    defaults unless `config` is given."""
    database = workdir / f"{name}.duckdb"
    database.unlink(missing_ok=True)
    con = duckdb.connect(str(database), config=dict(config or {}))
    started = time.perf_counter()
    con.execute(f"create table events as select * from {_bare_read_csv(files[0])}")
    for path in files[1:]:
        con.execute(f"insert into events select * from {_bare_read_csv(path)}")
    con.execute("checkpoint")
    seconds = time.perf_counter() - started
    con.close()
    database.unlink()
    return seconds


def estore_load(workdir: Path, bucket_root: Path, name: str) -> tuple[float, int]:
    database = workdir / f"{name}.duckdb"
    database.unlink(missing_ok=True)
    bucket = LocalBucket(bucket_root, settle_seconds=0)
    # The warehouse resource's connection config (checkpoint threshold), as in the pipeline.
    con = duckdb.connect(str(database), config=dict(CONNECTION_CONFIG))
    rows = 0
    started = time.perf_counter()
    for obj in bucket.list_objects(LANDING):
        rows += load_file(con, obj, bucket.local_path(obj.key)).rows_loaded
    con.execute("checkpoint")
    seconds = time.perf_counter() - started
    con.close()
    database.unlink()
    return seconds, rows


def _count(root: Path, sql: str) -> int | None:
    try:
        with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
            return con.execute(sql).fetchone()[0]
    except duckdb.Error:
        return None


def load_average() -> str:
    """The machine is shared: every timing is read beside the 1/5/15-min load average."""
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _gb(n: int) -> str:
    return f"{n / 1e9:.2f} GB"


# -- the figures -----------------------------------------------------------------------------
def bench_raw_load(workdir: Path, events: int, status) -> tuple[list[Figure], Path, float]:
    """Bare CTAS vs the estore loader, on 30 daily files and on one monthly file of the same
    size. Returns the figures, the monthly bucket and its bare-load seconds."""
    figures = []
    daily = workdir / "gen-daily"
    monthly = workdir / "gen-monthly"
    status.update("generating 30 daily files and one monthly file...")
    report = _generate(daily, days=30, events=events)
    figures.append(
        Figure("generator", report.rows_per_second, "rows/s", "", f"{report.rows:,} rows")
    )
    _generate(monthly, days=30, events=events, per="month")
    monthly_bare = 0.0
    for label, root in (("one monthly file", monthly), ("30 daily files", daily)):
        files = sorted((root / LANDING).glob("*.csv"))
        status.update(f"raw load vs bare DuckDB CTAS: {label}...")
        before = load_average()
        bare = bare_load(workdir, files, "bare")
        ours, rows = estore_load(workdir, root, "loaded")
        # The loader's connection raises the checkpoint threshold: the same bare load with it.
        same = bare_load(workdir, files, "bare", CONNECTION_CONFIG)
        monthly_bare = bare if root == monthly else monthly_bare
        figures += [
            Figure(f"bare DuckDB CTAS, {label}", bare, "s", "", f"{rows:,} rows; {before}"),
            Figure(f"estore raw load, {label}", ours, "s", "", "lineage, rejects, 1 txn/file"),
            Figure(f"raw load / bare CTAS, {label}", ours / bare, "x", "<= 1.25", load_average()),
            Figure(
                f"raw load / bare CTAS with the loader's connection config, {label}",
                ours / same,
                "x",
                "",
                f"bare {same:.2f}s with {CONNECTION_CONFIG}",
            ),
        ]
    return figures, monthly, monthly_bare


def bench_end_to_end(workdir: Path, monthly: Path, bare_seconds: float, status):
    """Landing -> every mart (tests, snapshots) from one monthly file, vs its bare load."""
    root = workdir / "e2e"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(monthly / LANDING, root / "bucket" / LANDING)
    rows = sum(sum(1 for _ in p.open("rb")) - 1 for p in (root / "bucket" / LANDING).glob("*.csv"))
    status.update("dbt parse...")
    parse = dbt_parse(root)
    status.update(f"landing -> every mart: estore run on one monthly file ({rows:,} events)...")
    result = estore_run(root)
    note = "" if result.ok else "FAILED: see logs"
    figures = [
        Figure(
            "landing -> every mart (estore run)",
            result.seconds,
            "s",
            "",
            f"{rows:,} events, {rows / result.seconds:,.0f} events/s, "
            f"peak RSS {_gb(result.peak_rss_bytes)} {note}",
        ),
        Figure("landing -> every mart / bare load", result.seconds / bare_seconds, "x", "<= 5"),
        parse,
    ]
    return figures, result, root


def bench_incremental(workdir: Path, events_per_day: int, status) -> tuple[list[Figure], Pass]:
    """One new day on 30 and on 90 days of history, the fixed cost of a pass, and a full
    rebuild of the 91 days for comparison."""
    figures: list[Figure] = []
    times: dict[int, float] = {}
    source = workdir / "history"
    status.update(f"generating 91 days x {events_per_day:,} events...")
    _generate(source, days=91, events=events_per_day * 91)
    days = sorted((source / LANDING).glob("*.csv"))
    new_day: Pass | None = None
    for history in (30, 90):
        root = workdir / f"inc{history}"
        shutil.rmtree(root, ignore_errors=True)
        landing = root / "bucket" / LANDING
        landing.mkdir(parents=True)
        for path in days[:history]:
            shutil.copy2(path, landing / path.name)
        status.update(f"building {history} days of history...")
        first = estore_run(root)
        shutil.copy2(days[history], landing / days[history].name)
        status.update(f"one new day on {history} days of history...")
        new_day = estore_run(root)
        times[history] = new_day.seconds
        ok = first.ok and new_day.ok and new_day.log.calls
        figures.append(
            Figure(
                f"one new day on {history} days of history",
                new_day.seconds,
                "s",
                "<= 15",
                f"{len(new_day.log.calls)} dbt calls, {new_day.log.runs} Dagster runs"
                + ("" if ok else " FAILED: see logs"),
            )
        )
    figures.append(Figure("new day: 90-day / 30-day history", times[90] / times[30], "x", "<= 1.3"))
    assert new_day is not None
    figures += fixed_cost(workdir / "inc90", new_day, status)
    status.update("full rebuild of the 91 days (plain dbt build --full-refresh)...")
    figures.append(_full_rebuild(workdir / "inc90"))
    return figures, new_day


def fixed_cost(root: Path, new_day: Pass, status) -> list[Figure]:
    """What a pass costs whatever the data: a pass with nothing new (process start,
    definitions, sensor and automation ticks, summary), and per dbt call the time beyond its
    SQL (dbt process start-up, partial parse, Dagster's run and event handling)."""
    status.update("fixed cost: a pass with nothing new...")
    idle = estore_run(root)
    calls = new_day.log.calls
    overhead = sum(c.overhead_seconds for c in calls)
    sql = sum(c.dbt_seconds for c in calls)
    return [
        Figure(
            "fixed cost: pass with nothing new",
            idle.seconds,
            "s",
            "",
            "process start, definitions, sensor + automation ticks, summary",
        ),
        Figure(
            "fixed cost: dbt calls of a new day (start-up, parse, Dagster)",
            overhead,
            "s",
            "",
            f"{len(calls)} calls, {overhead / max(len(calls), 1):.1f}s each; "
            f"their SQL + tests: {sql:.1f}s; {new_day.log.runs} Dagster runs",
        ),
    ]


def _full_rebuild(root: Path) -> Figure:
    from dagster_project.lib.settings import DBT_PROJECT_DIR

    dbt = str(Path(sys.executable).with_name("dbt"))
    common = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    common += ["--quiet", "--target-path", str(root / "dbt-target")]
    window = ["--event-time-start", "2019-10-01", "--event-time-end", "2020-01-01"]
    started = time.perf_counter()
    with case_environment(root), (root / "logs" / "full-rebuild.out").open("w") as out:
        ok = all(
            subprocess.run(
                [dbt, "build", "--full-refresh", *args, *common],
                stdout=out,
                stderr=out,
            ).returncode
            == 0
            for args in (
                ["--selector", "daily", *window],
                ["--selector", "whole_table"],
            )
        )
    seconds = time.perf_counter() - started
    return Figure(
        "full rebuild of the 91 days (2 dbt calls)", seconds, "s", "", "" if ok else "FAILED"
    )


def bench_training(rows: int = 1_000_000) -> Figure:
    """Training + evaluation of both models on `rows` synthetic feature rows (goal: 1M users
    in < 2 min and < 4 GB)."""
    from dagster_project.lib.ml.training import bench_training as time_training

    result = time_training(n_rows=rows)
    peak = result.get("peak_python_mb")
    return Figure(
        f"training + evaluation of both models, {rows:,} feature rows",
        result["seconds"],
        "s",
        "< 120 s, < 4 GB",
        f"peak Python memory {peak:,.0f} MB" if peak is not None else "",
    )


# -- output ----------------------------------------------------------------------------------
def _print(console: Console, title: str, figures: list[Figure]) -> None:
    table = Table(title=title)
    for column in ("figure", "value", "unit", "goal", "note"):
        table.add_column(column, overflow="fold")
    for f in figures:
        value = "n/a" if f.value is None else f"{f.value:,.2f}"
        table.add_row(f.name, value, f.unit, f.goal, f.note)
    console.print(table)


def _print_breakdown(console: Console, title: str, log: PassLog) -> None:
    table = Table(title=title)
    for column in ("step", "seconds", "detail"):
        table.add_column(column, overflow="fold")
    for what, seconds, detail in breakdown_rows(log):
        table.add_row(what, f"{seconds:.2f}", detail)
    console.print(table)


def _save(workdir: Path, figures: list[Figure], console: Console) -> None:
    out = workdir / "bench.json"
    out.write_text(json.dumps([asdict(f) for f in figures], indent=2))
    console.print(f"results: {out}; logs: {workdir}/*/logs")


def run_benchmarks(args: argparse.Namespace, console: Console) -> list[Figure]:
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="estore-bench-"))).resolve()
    if not console.is_terminal:
        console = Console(width=160)  # a log file: full tables
    workdir.mkdir(parents=True, exist_ok=True)
    if args.scale:
        return run_scale(args, workdir, console)
    figures: list[Figure] = []
    with console.status("bench...") as status:
        loads, monthly, monthly_bare = bench_raw_load(
            workdir, args.events or DEFAULT_EVENTS, status
        )
        figures += loads
        if args.only == "load":
            _print(console, f"estore bench --only load ({workdir})", figures)
            _save(workdir, figures, console)
            return figures
        e2e, e2e_pass, e2e_root = bench_end_to_end(workdir, monthly, monthly_bare, status)
        figures += e2e
        incremental, new_day = bench_incremental(workdir, args.events_per_day, status)
        figures += incremental
        status.update("training...")
        figures.append(bench_training())
    _print_breakdown(console, "where landing -> every mart spent its time", e2e_pass.log)
    _print_breakdown(console, "where one new day (90 days of history) spent its time", new_day.log)
    _print(console, f"estore bench ({workdir})", figures)
    _save(workdir, figures, console)
    return figures


def run_scale(args: argparse.Namespace, workdir: Path, console: Console) -> list[Figure]:
    """An October-sized month in one file: landing -> every mart, time, events/s, peak RSS."""
    events = args.events or OCTOBER_EVENTS
    root = workdir / "scale"
    shutil.rmtree(root, ignore_errors=True)
    with console.status(f"generating one monthly file of {events:,} events...") as status:
        report = _generate(root / "bucket", days=31, events=events, per="month", gzip=args.gzip)
        files = sorted((root / "bucket" / LANDING).glob("*.csv*"))
        status.update("bare DuckDB CTAS of the file...")
        bare_note = load_average()
        bare = bare_load(workdir, files, "bare")
        status.update("dbt parse...")
        parse = dbt_parse(root)
        status.update(f"landing -> every mart: estore run ({report.rows:,} events)...")
        run_note = load_average()
        result = estore_run(root)
        run_note += f" before, {load_average()} after"
    rate = report.rows / result.seconds
    figures = [
        Figure("generated file", report.bytes / 1e9, "GB", "", f"{report.rows:,} events"),
        Figure("generator", report.rows_per_second, "rows/s"),
        Figure("bare DuckDB CTAS of the file", bare, "s", "", bare_note),
        Figure(
            "landing -> every mart (estore run)",
            result.seconds,
            "s",
            "< 300 at 42M events",
            run_note + ("" if result.ok else " FAILED: see logs"),
        ),
        Figure("throughput", rate, "events/s"),
        Figure("landing -> every mart / bare load", result.seconds / bare, "x", "<= 5"),
        Figure("peak RSS (estore run + dbt)", result.peak_rss_bytes / 1e9, "GB", "< 8"),
        Figure(
            "all 7 public months at this rate",
            PUBLIC_EVENTS / rate / 60,
            "min",
            "< 60",
            "linear extrapolation of this run",
        ),
        parse,
    ]
    _print_breakdown(console, "where landing -> every mart spent its time", result.log)
    _print(console, f"estore bench --scale ({workdir})", figures)
    _save(workdir, figures, console)
    return figures
