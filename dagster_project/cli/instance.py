"""The persistent Dagster instance shared by `estore run` and `make dev` (the UI)."""

from __future__ import annotations

import fcntl
import os
import string
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from dagster_project.lib.settings import Settings

TEMPLATE = Path(__file__).with_name("dagster.yaml")
# The template's first line: a dagster.yaml that starts with it is ours and kept up to date;
# remove the line to keep your own edits.
TEMPLATE_MARKER = "# Copied into DAGSTER_HOME by `estore`"
# Runs that may still be alive while no estore process holds the warehouse: queued runs wait for
# the UI's run queue (they start once `make dev` is up again).
DEAD_IF_UNFINISHED = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def prepare_dagster_home(settings: Settings) -> Path:
    """Create DAGSTER_HOME with our dagster.yaml (kept if the user edited it) and export it."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    ours = render_dagster_yaml(home)
    if not config.exists() or (
        config.read_text().startswith(TEMPLATE_MARKER) and config.read_text() != ours
    ):
        config.write_text(ours)
    settings.export_dagster_home()
    return home


def render_dagster_yaml(home: Path) -> str:
    """Our dagster.yaml for this DAGSTER_HOME (the event log's folder is an absolute path: the
    instance must load without DAGSTER_HOME set, e.g. `InstanceRef.from_dir`)."""
    return string.Template(TEMPLATE.read_text()).safe_substitute(DAGSTER_HOME=home.resolve())


def get_instance(settings: Settings) -> dg.DagsterInstance:
    prepare_dagster_home(settings)
    return dg.DagsterInstance.get()


@dataclass
class Recovery:
    failed_runs: list[str] = field(default_factory=list)  # run ids marked failed (or canceled)
    freed_runs: list[str] = field(default_factory=list)  # run ids whose pool slots were freed

    def describe(self) -> str:
        return (
            f"{len(self.failed_runs)} runs left in progress by a process that died were marked "
            f"failed; pool slots of {len(self.freed_runs)} runs were freed"
        )


def recover_dead_runs(instance: dg.DagsterInstance) -> Recovery:
    """Release everything a dead process held: call it only while holding the warehouse lock.

    With the lock held, no other `estore run` and no `make dev` is alive, so every run still
    marked in progress (killed `estore run`, closed laptop, `make dev` stopped mid-run) is dead:
    it is marked failed (the sensor and the automation then request its file or days again),
    and every pool slot held by a finished run is freed (a killed run keeps its `warehouse` slot
    and every later step would wait for it forever)."""
    recovery = Recovery()
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=DEAD_IF_UNFINISHED)):
        run = record.dagster_run
        message = "the process that ran it died (recovered by the next estore start)"
        if run.status == dg.DagsterRunStatus.CANCELING:
            instance.report_run_canceled(run, message)
        else:
            instance.report_run_failed(run, message)
        recovery.failed_runs.append(run.run_id)
    recovery.freed_runs = free_slots_of_finished_runs(instance)
    return recovery


def free_slots_of_finished_runs(instance: dg.DagsterInstance) -> list[str]:
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    freed = []
    for run_id in sorted(storage.get_concurrency_run_ids()):
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            storage.free_concurrency_slots_for_run(run_id)
            freed.append(run_id)
    return freed


class WarehouseBusyError(RuntimeError):
    pass


@contextmanager
def exclusive_lock(settings: Settings, holder: str) -> Iterator[int]:
    """One process at a time drives the local warehouse: `estore run` or `estore dev`.
    (DuckDB has a single writer; two schedulers on one DAGSTER_HOME would also race.)"""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / ".estore.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        other = path.read_text().strip() or "another estore process"
        os.close(fd)
        raise WarehouseBusyError(
            f"{other} is using {settings.data_dir} (stop it first; with `make dev` running, "
            "the UI's sensor loads new files by itself)"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{holder} (pid {os.getpid()})".encode())
    try:
        yield fd
    finally:
        os.close(fd)
