"""The `estore` command: generate data, process what landed, show the summary, open the UI."""

from __future__ import annotations

import argparse
import shutil
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
    from dagster_project.cli.run import INTERRUPTED_EXIT_CODE, WAREHOUSE_BUSY, run_pipeline

    try:
        outcome = run_pipeline(settings, console)
    except KeyboardInterrupt:  # Ctrl-C after the pass (the report): the work is done and kept
        console.print("\n[yellow]interrupted[/yellow]")
        sys.exit(INTERRUPTED_EXIT_CODE)
    if outcome == WAREHOUSE_BUSY:
        sys.exit(2)  # nothing was done: never a silent success
    if not outcome and args.strict:
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
    from dagster_project.lib.dashboards.marts import dashboard_paths
    from dagster_project.lib.ml.summary import summarize_models

    ok = run_pipeline(settings, console) is True
    models = summarize_models(settings)
    if models is not None:
        console.print(models)
    dashboards = "".join(
        f"  {name:<10}: {path}{'' if path.exists() else '  (not built)'}\n"
        for name, path in dashboard_paths(settings).items()
    )
    console.print(
        "\n[bold]Where to look[/bold]\n"
        f"  warehouse : {settings.duckdb_path}\n"
        f"              {inspect_command(settings)}\n"
        f"  bucket    : {settings.bucket}/{settings.landing_prefix}\n"
        f"{dashboards}"
        "  Dagster UI: make dev, then http://127.0.0.1:3000\n"
    )
    if not ok:
        sys.exit(1)


def cmd_dev(args: argparse.Namespace, settings: Settings) -> None:
    from dagster_project.cli.dev import run_dev

    sys.exit(run_dev(settings, args.host, args.port, console))


def cmd_bench(args: argparse.Namespace, settings: Settings) -> None:
    from dagster_project.cli.bench import run_benchmarks

    run_benchmarks(args, console)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults shown, lines as wide as the terminal (at least 100 columns: nothing cut)."""

    def __init__(self, prog: str) -> None:
        width = max(100, shutil.get_terminal_size((100, 24)).columns)
        super().__init__(prog, max_help_position=36, width=width)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False) or "default:" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def add_generate_options(parser: argparse.ArgumentParser) -> None:
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--events", type=int, help="target number of events (approximate; default: 1,000,000)"
    )
    size.add_argument("--size", type=parse_size, help="target CSV size instead, e.g. 500MB, 2GB")
    parser.add_argument(
        "--start", type=date.fromisoformat, default=date(2019, 10, 1), help="first day (ISO)"
    )
    parser.add_argument("--days", type=int, default=60, help="number of days to generate")
    parser.add_argument("--seed", type=int, default=42, help="random seed (same seed, same files)")
    parser.add_argument("--bucket", help="output bucket folder (default: ESTORE_BUCKET)")
    parser.add_argument("--prefix", help="landing prefix (default: ESTORE_LANDING_PREFIX)")
    parser.add_argument("--per", choices=["day", "month"], default="day", help="one file per")
    parser.add_argument("--gzip", action="store_true", help="write .csv.gz")
    parser.add_argument(
        "--append-truth",
        action="store_true",
        help="add this data set's users to an existing ground_truth/users.parquet "
        "(without it, generate refuses to replace existing ground truth)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="estore", description=__doc__, formatter_class=HelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, **kwargs) -> argparse.ArgumentParser:
        return sub.add_parser(name, formatter_class=HelpFormatter, **kwargs)

    gen = add("generate", help="write realistic REES46 event files into the bucket")
    add_generate_options(gen)
    gen.set_defaults(func=cmd_generate)

    run = add("run", help="load everything pending and rebuild what it touched")
    run.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 if any file or step failed (exit 2 when "
        "another estore process holds the warehouse, always)",
    )
    run.set_defaults(func=cmd_run)

    summary = add("summary", help="print what the warehouse holds")
    summary.set_defaults(func=cmd_summary)

    demo = add("demo", help="generate a data set (once), run everything, summarize")
    add_generate_options(demo)
    demo.add_argument("--regenerate", action="store_true", help="generate even if data exists")
    demo.set_defaults(func=cmd_demo)

    dev = add("dev", help="open the Dagster UI on the same state")
    dev.add_argument("--host", default="127.0.0.1", help="address the UI listens on")
    dev.add_argument("--port", type=int, default=3000, help="port the UI listens on")
    dev.set_defaults(func=cmd_dev)

    bench = add("bench", help="measure load, landing -> marts and incremental cost")
    bench.add_argument(
        "--events", type=int, default=None, help="events (default 2M; --scale: 42M, October)"
    )
    bench.add_argument(
        "--scale", action="store_true", help="one October-sized monthly file, landing -> marts"
    )
    bench.add_argument("--gzip", action="store_true", help="with --scale: a .csv.gz file")
    bench.add_argument(
        "--only", choices=["load"], default=None, help="load: only the raw load vs bare CTAS"
    )
    bench.add_argument(
        "--events-per-day", type=int, default=20_000, help="events/day for incremental cost"
    )
    bench.add_argument(
        "--workdir", type=Path, default=None, help="where to work (default: a temporary folder)"
    )
    bench.set_defaults(func=cmd_bench)
    return parser


def run_command(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    settings = Settings.from_env()
    args.func(args, settings)


def main() -> None:
    """The `estore` command. A command that returns or exits ends the process at once
    (cli/process_exit.py); an uncaught exception ends it the usual way, traceback and all."""
    from dagster_project.cli.process_exit import exit_code, finish

    try:
        run_command()
    except SystemExit as done:
        finish(exit_code(done.code))
    finish(0)


if __name__ == "__main__":
    main()
