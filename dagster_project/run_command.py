"""`estore run`: the in-process pipeline run with a live progress display."""

from __future__ import annotations

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from dagster_project.settings import Settings


def load_definitions(settings: Settings):
    from dagster_project.dbt_project import ensure_manifest
    from dagster_project.definitions import defs

    ensure_manifest(settings)
    return defs()


def run_pipeline(settings: Settings, console: Console) -> bool:
    """Process everything pending; print the report and the warehouse summary.
    Returns False when a file or a step failed."""
    from dagster_project.instance import WarehouseBusyError, exclusive_lock

    try:
        with exclusive_lock(settings, "estore run"):
            return _run_pipeline(settings, console)
    except WarehouseBusyError as exc:
        console.print(f"[red]{exc}[/red]")
        return False


def _run_pipeline(settings: Settings, console: Console) -> bool:
    from dagster_project.instance import get_instance
    from dagster_project.report import print_run_report, print_summary
    from dagster_project.runner import PipelineRunner

    instance = get_instance(settings)
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
    print_run_report(report, console)
    print_summary(settings, console)
    return not report.files_failed and not report.failed_runs
