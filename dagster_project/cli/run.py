"""`estore run`: the in-process pipeline run with a live progress display."""

from __future__ import annotations

import warnings
from contextlib import redirect_stderr, redirect_stdout

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from dagster_project.lib.settings import Settings


def load_definitions(settings: Settings):
    from dagster_project.definitions import defs
    from dagster_project.lib.dbt.project import ensure_manifest

    ensure_manifest(settings)
    return defs()


def run_pipeline(settings: Settings, console: Console) -> bool:
    """Process everything pending; print the report and the warehouse summary.
    Returns False when a file or a step failed."""
    from dagster_project.cli.instance import WarehouseBusyError, exclusive_lock

    try:
        with exclusive_lock(settings, "estore run"):
            return _run_pipeline(settings, console)
    except WarehouseBusyError as exc:
        console.print(f"[red]{exc}[/red]")
        return False


def _run_pipeline(settings: Settings, console: Console) -> bool:
    from dagster_project.cli.instance import get_instance
    from dagster_project.cli.report import print_run_report, print_summary

    instance = get_instance(settings)
    # Run logs (Dagster events, dbt output) go to a file; the terminal shows progress. The same
    # logs are in the Dagster UI (make dev) for every run.
    console = Console(file=console.file)  # bound to the terminal before redirecting stdout
    log_path = settings.data_dir / "logs" / "estore-run.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with (
        log_path.open("a") as log,
        redirect_stdout(log),
        redirect_stderr(log),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        report = _run_with_progress(settings, instance, console)
    print_run_report(report, console)
    console.print(f"[dim]run logs: {log_path}[/dim]")
    print_summary(settings, console)
    return not report.files_failed and not report.failed_runs


def _run_with_progress(settings: Settings, instance, console: Console):
    from dagster_project.cli.runner import PipelineRunner

    with console.status("Loading definitions (dbt manifest, assets, sensors)..."):
        defs = load_definitions(settings)

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("[dim]{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        files = progress.add_task("Loading landed files", total=None, detail="")
        steps = progress.add_task("Building models", total=None, detail="waiting", visible=False)
        counts = {"files": 0, "failed": 0}

        def on_event(kind: str, info: dict) -> None:
            if kind == "file_start":
                progress.update(files, detail=info["key"])
            elif kind == "file_done":
                counts["files"] += 1
                counts["failed"] += not info["ok"]
                progress.update(
                    files,
                    description=f"Loaded {counts['files']} files ({counts['failed']} failed)",
                )
            elif kind == "step_start":
                progress.update(steps, visible=True, detail=info["label"])
            elif kind == "step_done":
                progress.update(steps, advance=1)

        runner = PipelineRunner(defs, instance, settings.dagster_home, on_event=on_event)
        report = runner.run()
        progress.update(files, detail="done")
        progress.update(steps, detail="done")
    return report
