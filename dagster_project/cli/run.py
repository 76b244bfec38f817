"""`estore run`: the in-process pipeline run with a live progress display."""

from __future__ import annotations

import os
import signal
import threading
import time
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


WAREHOUSE_BUSY = "busy"
INTERRUPTED_EXIT_CODE = 130


def run_pipeline(settings: Settings, console: Console) -> bool | str:
    """Process everything pending; print the report and the warehouse summary.
    Returns False when a file or a step failed, WAREHOUSE_BUSY when another process holds
    the warehouse (nothing done)."""
    from dagster_project.lib.heap import long_lived

    with long_lived():  # Dagster, dbt, the definitions: kept until the process ends
        from dagster_project.cli.instance import WarehouseBusyError, exclusive_lock
        from dagster_project.cli.runner import PipelineRunner  # noqa: F401 - imports them all
        from dagster_project.lib.event_log import kept_open

    try:
        # While the lock is held no `make dev` is up, so no UI watches the event log: it is
        # kept open between events (lib/event_log.py).
        with exclusive_lock(settings, "estore run"), kept_open():
            return _run_pipeline(settings, console)
    except WarehouseBusyError as exc:
        console.print(f"[red]{exc}[/red]")
        console.print(
            "To proceed: let the UI do it (it loads new files by itself), or stop `make dev` "
            "(Ctrl-C) and run `make run` again."
        )
        return WAREHOUSE_BUSY


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
        report = run_interruptibly(runner, instance, console)
        progress.update(files, detail="done")
        progress.update(steps, detail="done")
    return report


def run_interruptibly(runner, instance, console: Console):
    """Run in a worker thread so that Ctrl-C and SIGTERM stay with this (main) thread.

    Dagster defers interrupts while a step runs (and a step waiting for a pool slot waits
    forever), so the signal is handled here: say what was being done, mark the unfinished runs
    failed and free their pool slots (what the next start would do anyway), stop child
    processes (if any: dbt runs in-process), and exit. The warehouse is left as after a kill:
    the load or build in progress is rolled back by DuckDB, and the next `estore run` repairs
    the rest."""
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["report"] = runner.run()
        except BaseException as exc:  # re-raised in the main thread
            outcome["error"] = exc

    def stop(signum: int, _frame) -> None:
        name = signal.Signals(signum).name
        runner.stopping = True  # the worker starts no new run
        console.print(f"\n[yellow]{name}: stopping while {runner.current}[/yellow]")
        _stop_children()
        try:
            recovery = _release_runs(instance)
            console.print(f"[yellow]{recovery}; the next `estore run` repairs the rest[/yellow]")
        finally:
            _stop_children()  # one the worker started meanwhile (it runs until we exit)
            console.file.flush()
            os._exit(INTERRUPTED_EXIT_CODE)

    worker = threading.Thread(target=work, name="estore-run", daemon=True)
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        worker.start()
        while worker.is_alive():
            worker.join(0.2)  # wake up for signals
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["report"]


def _stop_children(grace_seconds: float = 3.0) -> None:
    """Terminate child processes, then kill any still running after the grace period.

    Never reaps them (no psutil.wait_procs): the worker's `Popen.wait()` must see the real
    exit status. A child reaped here reports exit code 0 to its Popen (ECHILD): when dbt was a
    child, dagster-dbt recorded a build stopped by the signal as a success and its days built."""
    import psutil

    children = psutil.Process().children(recursive=True)
    for child in children:
        child.terminate()
    deadline = time.monotonic() + grace_seconds
    while (alive := [c for c in children if _running(c)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    for child in alive:
        child.kill()


def _running(process) -> bool:
    import psutil

    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _release_runs(instance) -> str:
    from dagster_project.cli.instance import recover_dead_runs

    return recover_dead_runs(instance).describe()
