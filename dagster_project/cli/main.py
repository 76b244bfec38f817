"""The `estore` command: generate data, process what landed, show the summary, open the UI."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path

from rich.console import Console

from dagster_project.lib.settings import Settings

console = Console()


def parse_size(text: str) -> int:
    units = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "K": 10**3, "M": 10**6, "G": 10**9}
    text = text.strip().upper()
    for unit, factor in sorted(units.items(), key=lambda kv: -len(kv[0])):
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)


def cmd_generate(args: argparse.Namespace, settings: Settings) -> None:
    from dagster_project.cli.generate import run_generate

    run_generate(args, settings, console)


def cmd_run(args: argparse.Namespace, settings: Settings) -> None:
    from dagster_project.cli.run import run_pipeline

    ok = run_pipeline(settings, console)
    if not ok and args.strict:
        sys.exit(1)


def cmd_summary(args: argparse.Namespace, settings: Settings) -> None:
    from dagster_project.cli.report import print_summary

    print_summary(settings, console)


def inspect_command(settings: Settings) -> str:
    """A one-liner that lists the warehouse's tables (read-only, safe while nothing runs)."""
    query = (
        f"duckdb.connect('{settings.duckdb_path}', read_only=True).sql('show all tables').show()"
    )
    return f'.venv/bin/python -c "import duckdb; {query}"'


def cmd_demo(args: argparse.Namespace, settings: Settings) -> None:
    from dagster_project.cli.generate import landing_has_data, run_generate
    from dagster_project.cli.run import run_pipeline

    if landing_has_data(settings) and not args.regenerate:
        console.print(
            f"[dim]Data already in {settings.bucket}/{settings.landing_prefix}: not "
            "generating again (use --regenerate).[/dim]"
        )
    else:
        run_generate(args, settings, console)
    ok = run_pipeline(settings, console)
    console.print(
        "\n[bold]Where to look[/bold]\n"
        f"  warehouse : {settings.duckdb_path}\n"
        f"              {inspect_command(settings)}\n"
        f"  bucket    : {settings.bucket}/{settings.landing_prefix}\n"
        "  Dagster UI: make dev, then http://127.0.0.1:3000\n"
    )
    if not ok:
        sys.exit(1)


def cmd_dev(args: argparse.Namespace, settings: Settings) -> None:
    from dagster_project.cli.instance import exclusive_lock, prepare_dagster_home
    from dagster_project.lib.dbt.project import ensure_manifest

    prepare_dagster_home(settings)
    ensure_manifest(settings)
    settings.export_dbt_env()
    lock = exclusive_lock(settings, "the Dagster UI (make dev)")
    fd = lock.__enter__()
    os.set_inheritable(fd, True)  # dagster dev holds the lock for as long as it runs
    dagster = Path(sys.executable).with_name("dagster")
    argv = [
        str(dagster),
        "dev",
        "-m",
        "dagster_project.definitions",
        "-h",
        args.host,
        "-p",
        str(args.port),
    ]
    console.print(
        f"Dagster UI on http://{args.host}:{args.port} (DAGSTER_HOME={settings.dagster_home})"
    )
    os.execv(argv[0], argv)


def cmd_bench(args: argparse.Namespace, settings: Settings) -> None:
    from dagster_project.cli.bench import run_benchmarks

    run_benchmarks(args, console)


def add_generate_options(parser: argparse.ArgumentParser) -> None:
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--events", type=int, help="target number of events (approximate)")
    size.add_argument("--size", type=parse_size, help="target CSV size, e.g. 500MB, 2GB")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2019, 10, 1))
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--bucket", help="output bucket folder (default: ESTORE_BUCKET)")
    parser.add_argument("--prefix", help="landing prefix (default: ESTORE_LANDING_PREFIX)")
    parser.add_argument("--per", choices=["day", "month"], default="day", help="one file per")
    parser.add_argument("--gzip", action="store_true", help="write .csv.gz")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="estore", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write realistic REES46 event files into the bucket")
    add_generate_options(gen)
    gen.set_defaults(func=cmd_generate)

    run = sub.add_parser("run", help="load everything pending and rebuild what it touched")
    run.add_argument("--strict", action="store_true", help="exit 1 if any file or step failed")
    run.set_defaults(func=cmd_run)

    summary = sub.add_parser("summary", help="print what the warehouse holds")
    summary.set_defaults(func=cmd_summary)

    demo = sub.add_parser("demo", help="generate a data set (once), run everything, summarize")
    add_generate_options(demo)
    demo.add_argument("--regenerate", action="store_true", help="generate even if data exists")
    demo.set_defaults(func=cmd_demo)

    dev = sub.add_parser("dev", help="open the Dagster UI on the same state")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.set_defaults(func=cmd_dev)

    bench = sub.add_parser("bench", help="measure load, landing -> marts and incremental cost")
    bench.add_argument(
        "--events", type=int, default=None, help="events (default 2M; --scale: 42M, October)"
    )
    bench.add_argument(
        "--scale", action="store_true", help="one October-sized monthly file, landing -> marts"
    )
    bench.add_argument("--gzip", action="store_true", help="with --scale: a .csv.gz file")
    bench.add_argument(
        "--events-per-day", type=int, default=20_000, help="events/day for incremental cost"
    )
    bench.add_argument("--workdir", type=Path, default=None)
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    settings = Settings.from_env()
    args.func(args, settings)


if __name__ == "__main__":
    main()
