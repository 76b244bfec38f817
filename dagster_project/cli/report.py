"""Printing run reports and the warehouse summary."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from dagster_project.cli.runner import RunReport
from dagster_project.cli.summary import pipeline_health, summarize
from dagster_project.lib.settings import Settings


def counted(number: int, one: str, many: str) -> str:
    """'1 file loaded', '2 files loaded'."""
    return f"{number} {one if number == 1 else many}"


def print_run_report(report: RunReport, console: Console) -> None:
    console.print(
        f"\n[bold]This run[/bold]: "
        f"{counted(report.files_loaded, 'file loaded', 'files loaded')}, "
        f"{len(report.files_failed)} failed, "
        f"{counted(len(report.day_ranges), 'day range rebuilt', 'day ranges rebuilt')}, "
        f"{counted(report.mart_runs, 'mart run', 'mart runs')}, "
        f"{counted(report.snapshot_runs, 'snapshot run', 'snapshot runs')} "
        f"in {report.seconds:.1f}s"
    )
    for outcome in report.files_failed:
        console.print(f"  [red]file failed[/red] {outcome.key}: {outcome.error}")
    for failure in report.failed_runs:
        console.print(f"  [red]step failed[/red] {failure}")


def print_summary(settings: Settings, console: Console) -> None:
    summary = summarize(settings.duckdb_path)
    health = pipeline_health(settings.dagster_home)
    bad_files = {key for key, _ in summary.files_failed}
    failed_loads = [(k, why) for k, why in health.failed_loads if k not in bad_files]
    table = Table(title="estore-analytics: warehouse summary", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("files loaded", f"{summary.files_loaded:,}")
    table.add_row(
        "files failed",
        f"{len(summary.files_failed) + len(failed_loads):,} ({len(summary.files_failed):,} "
        f"bad files, {len(failed_loads):,} loads that failed for another reason)",
    )
    days = health.unbuilt_days
    table.add_row(
        "days not built",
        f"{len(days):,}" + (f" ({days[0]} .. {days[-1]}; the next run retries)" if days else ""),
    )
    table.add_row("raw rows", f"{summary.raw_rows:,}")
    table.add_row("rejected rows", f"{summary.rejected_rows:,}")
    table.add_row(
        "days covered", f"{summary.days} ({summary.first_day or '-'} .. {summary.last_day or '-'})"
    )
    table.add_row("fct_events rows", f"{summary.fct_events_rows:,}")
    for label, value in summary.headline.items():
        table.add_row(label, value)
    console.print(table)
    if summary.relations:
        models = Table(title="dbt models (rows)", show_header=False, box=None)
        names = list(summary.relations.items())
        half = (len(names) + 1) // 2
        for left, right in zip(
            names[:half], names[half:] + [("", 0)] * (2 * half - len(names)), strict=True
        ):
            models.add_row(left[0], f"{left[1]:,}", right[0], f"{right[1]:,}" if right[0] else "")
        console.print(models)
    for key, error in summary.files_failed:
        console.print(f"  [red]failed[/red] {key}: {error}")
    for key, why in failed_loads:
        console.print(f"  [red]load {why}[/red] {key}: not the file's fault; retried")
