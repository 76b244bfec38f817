"""The persistent Dagster instance shared by `estore run` and `make dev` (the UI)."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from dagster_project.lib.settings import Settings

TEMPLATE = Path(__file__).with_name("dagster.yaml")


def prepare_dagster_home(settings: Settings) -> Path:
    """Create DAGSTER_HOME with our dagster.yaml (kept if the user edited it) and export it."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        shutil.copyfile(TEMPLATE, config)
    settings.export_dagster_home()
    return home


def get_instance(settings: Settings) -> dg.DagsterInstance:
    prepare_dagster_home(settings)
    return dg.DagsterInstance.get()


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
