"""The local Dagster event log (lib/event_log.py): Dagster's own files and format, engines kept
open between events, and nothing committed lost when the writing process is killed."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import dagster as dg
import pytest
from crash import instance_at
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.utils import make_new_run_id

from dagster_project.cli.instance import render_dagster_yaml
from dagster_project.lib import event_log
from dagster_project.lib.event_log import (
    OPEN_DATABASES,
    KeptOpenSqliteEventLogStorage,
    kept_open,
)


@dg.asset
def tiny() -> int:
    return 1


TINY_JOB = dg.define_asset_job("tiny_job", selection=[tiny])
TINY_DEFS = dg.Definitions(assets=[tiny], jobs=[TINY_JOB])


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A DAGSTER_HOME with estore's dagster.yaml, as `estore` prepares it."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(render_dagster_yaml(home))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # the instance loads without it
    return home


def _run_tiny(instance: dg.DagsterInstance) -> str:
    result = TINY_DEFS.resolve_job_def("tiny_job").execute_in_process(instance=instance)
    assert result.success
    return result.run_id


def test_the_log_is_dagsters_own_files_kept_open(home):
    instance = instance_at(home)
    storage = instance.event_log_storage
    assert isinstance(storage, KeptOpenSqliteEventLogStorage)
    with kept_open():
        runs = [_run_tiny(instance) for _ in range(OPEN_DATABASES + 3)]
        _test_kept_open_engines(storage, home, runs, instance)
    # Outside the block (the UI's processes), every event opens and closes its connection.
    _run_tiny(instance)
    assert not storage._engines


def _test_kept_open_engines(storage, home: Path, runs: list[str], instance) -> None:
    # At most OPEN_DATABASES engines stay open, whatever the number of runs.
    assert 0 < len(storage._engines) <= OPEN_DATABASES
    with storage.index_connection() as conn:
        assert conn.exec_driver_sql("pragma journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("pragma synchronous").scalar() == 1  # NORMAL: no fsync
    # Tables are looked up once they exist (asked for every check event), not before.
    assert storage.has_table("asset_check_executions") and storage.has_table("asset_keys")
    assert not storage.has_table("no_such_table") and not storage.has_table("no_such_table")

    # Dagster's stock storage reads the same files where it keeps them (a downgrade, the UI of
    # an older estore): every run's events and the asset's materializations.
    stock = SqliteEventLogStorage(str(home / "history" / "runs"))
    for run_id in runs:
        types = {e.dagster_event_type for e in stock.get_logs_for_run(run_id) if e.dagster_event}
        assert {dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.ASSET_MATERIALIZATION} <= types
    latest = stock.get_latest_materialization_events([dg.AssetKey("tiny")])[dg.AssetKey("tiny")]
    assert latest is not None and latest.run_id == runs[-1]

    # Wiping deletes the run databases under the open engines: later runs are stored afresh.
    storage.wipe()
    assert not storage._engines
    run_id = _run_tiny(instance)
    assert any(
        e.dagster_event_type == dg.DagsterEventType.RUN_SUCCESS
        for e in stock.get_logs_for_run(run_id)
        if e.dagster_event
    )
    storage.dispose()
    assert not storage._engines


def test_the_ui_streams_a_runs_events_as_they_are_stored(home):
    """The UI (webserver) streams a run's log by watching the run's database file, while a run
    worker, another process, writes it. Outside `kept_open()` each event closes its connection,
    which checkpoints the WAL into that file: the watch sees every event, to the end of the
    run, even though the webserver holds its own connection to the run's database."""
    webserver, worker = instance_at(home), instance_at(home)
    run_id = make_new_run_id()
    assert webserver.all_logs(run_id) == []  # the run page was open before the run started
    seen: list[dg.DagsterEventType | None] = []
    ended = threading.Event()

    def on_event(entry, _cursor):
        seen.append(entry.dagster_event_type)
        if entry.dagster_event_type == dg.DagsterEventType.RUN_SUCCESS:
            ended.set()

    webserver.event_log_storage.watch(run_id, None, on_event)
    try:
        job = TINY_DEFS.resolve_job_def("tiny_job")
        assert job.execute_in_process(instance=worker, run_id=run_id).success
        assert ended.wait(timeout=30), f"the watch saw only {seen}"
    finally:
        webserver.event_log_storage.end_watch(run_id, on_event)
        webserver.event_log_storage.dispose()
    assert len(seen) == len(worker.all_logs(run_id))


WRITE_THEN_DIE = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {tests!r})
    from crash import instance_at
    from test_event_log import _run_tiny
    from pathlib import Path
    from dagster_project.lib.event_log import kept_open
    with kept_open():  # as `estore run` does
        run_id = _run_tiny(instance_at(Path({home!r})))
        print(run_id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # no close, no dispose, no checkpoint
    """
)


def test_a_killed_writer_loses_no_committed_event(home):
    """synchronous = NORMAL gives up durability only against an OS crash: a process killed with
    its connections open has still stored every event it committed."""
    script = WRITE_THEN_DIE.format(tests=str(Path(__file__).parent), home=str(home))
    process = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "DAGSTER_HOME": str(home)},
    )
    assert process.returncode == -signal.SIGKILL, process.stderr
    run_id = process.stdout.split()[-1]

    instance = instance_at(home)
    assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.SUCCESS
    types = [e.dagster_event_type for e in instance.all_logs(run_id) if e.dagster_event]
    assert types[-1] == dg.DagsterEventType.RUN_SUCCESS
    assert dg.DagsterEventType.ASSET_MATERIALIZATION in types
    record = instance.get_latest_materialization_event(dg.AssetKey("tiny"))
    assert record is not None and record.run_id == run_id


def _schema(path: Path) -> tuple:
    with sqlite3.connect(path) as con:
        return (
            con.execute("pragma journal_mode").fetchone(),
            sorted(con.execute("select type, name, tbl_name, sql from sqlite_master").fetchall()),
            con.execute("select version_num from alembic_version").fetchall(),
        )


def test_a_new_run_database_is_the_one_dagster_creates(tmp_path, monkeypatch):
    """Created with the migration scripts read once per process, a run's database has Dagster's
    tables, indexes, WAL mode and alembic head, as Dagster's own `_initdb` makes it; if that
    fails (another process creating it at the same moment), Dagster's `_initdb` takes over."""
    stock = SqliteEventLogStorage(str(tmp_path / "stock"))
    with stock.run_connection("run-a"):
        pass
    expected = _schema(tmp_path / "stock" / "run-a.db")
    assert expected[0] == ("wal",) and expected[2]

    ours = KeptOpenSqliteEventLogStorage(str(tmp_path / "ours"))
    with ours.run_connection("run-a"):
        pass
    assert _schema(tmp_path / "ours" / "run-a.db") == expected

    calls = []
    original = event_log.SqlEventLogStorageMetadata.create_all

    def locked_once(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise sqlite3.OperationalError("database is locked")
        return original(*args, **kwargs)

    monkeypatch.setattr(event_log.SqlEventLogStorageMetadata, "create_all", locked_once)
    with ours.run_connection("run-b"):
        pass
    assert len(calls) == 2  # ours failed, then Dagster's _initdb created it
    assert _schema(tmp_path / "ours" / "run-b.db") == expected
