"""`estore dev`: the Dagster UI (webserver + daemon) on the project's DAGSTER_HOME.

Before it starts, whatever a dead `estore run` left in progress is released (runs marked
failed, pool slots freed) so the daemon's first ticks can start runs. It runs `dagster dev` as a
child in its own process group and stops it cleanly on Ctrl-C / SIGTERM: SIGINT to the group,
then SIGKILL after a grace period; afterwards the same release runs again (a run cut short by
the stop holds nothing).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

from dagster_project.lib.settings import Settings

LOCATION_NAME = "estore"
STOP_GRACE_SECONDS = 15


def write_workspace(settings: Settings) -> Path:
    """A workspace file that names the code location `estore` (not the module path)."""
    path = settings.dagster_home / "workspace.yaml"
    path.write_text(
        "# Written by `estore dev`.\n"
        "load_from:\n"
        "  - python_module:\n"
        "      module_name: dagster_project.definitions\n"
        f"      location_name: {LOCATION_NAME}\n"
        f"      working_directory: {Path(__file__).resolve().parents[2]}\n"
    )
    return path


def dev_command(settings: Settings, host: str, port: int) -> list[str]:
    dagster = Path(sys.executable).with_name("dagster")
    workspace = write_workspace(settings)
    return [str(dagster), "dev", "-w", str(workspace), "-h", host, "-p", str(port)]


def run_dev(settings: Settings, host: str, port: int, console: Console) -> int:
    from dagster_project.cli.instance import (
        WarehouseBusyError,
        exclusive_lock,
        get_instance,
        recover_dead_runs,
    )
    from dagster_project.lib.dbt.project import ensure_manifest

    try:
        lock = exclusive_lock(settings, "the Dagster UI (make dev)")
        lock.__enter__()
    except WarehouseBusyError as exc:
        console.print(f"[red]{exc}[/red]")
        console.print("To proceed: wait for `estore run` to finish (or stop it), then start again.")
        return 2
    instance = get_instance(settings)
    recovery = recover_dead_runs(instance)
    if recovery.failed_runs or recovery.freed_runs:
        console.print(f"[yellow]{recovery.describe()}[/yellow]")
    ensure_manifest(settings)
    settings.export_dbt_env()
    argv = dev_command(settings, host, port)
    console.print(f"Dagster UI on http://{host}:{port} (DAGSTER_HOME={settings.dagster_home})")
    child = subprocess.Popen(argv, start_new_session=True)
    stopping = {"signal": None}

    def stop(signum: int, _frame) -> None:
        if stopping["signal"] is None:
            stopping["signal"] = signum
            console.print(f"\n[yellow]{signal.Signals(signum).name}: stopping the UI...[/yellow]")
            _signal_group(child.pid, signal.SIGINT)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    stopped_at, killed = None, False
    while (code := child.poll()) is None:
        time.sleep(0.2)  # (a blocking wait would not see the signal's deadline)
        if stopping["signal"] and stopped_at is None:
            stopped_at = time.monotonic()
        if stopped_at and not killed and time.monotonic() - stopped_at > STOP_GRACE_SECONDS:
            console.print("[yellow]still running after the grace period: killing it[/yellow]")
            _signal_group(child.pid, signal.SIGKILL)
            killed = True
    _signal_group(child.pid, signal.SIGKILL)  # code servers or run workers left behind
    recovery = recover_dead_runs(instance)
    if recovery.failed_runs:
        console.print(f"[yellow]{recovery.describe()}[/yellow]")
    return 0 if stopping["signal"] else code


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)
