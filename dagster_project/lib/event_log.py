"""Dagster's SQLite event log (one database per run plus an index), kept open between events.

Dagster's `SqliteEventLogStorage` creates an engine, opens a connection and closes it again for
every event it stores. Its databases are in WAL mode, so each commit waits for an fsync and each
close of the last connection checkpoints the log. A run stores dozens of events (hundreds for a
dbt build): 6-9 s of a new day's `estore run` on 91 days went there (A/B, stop 23). This
subclass keeps a few engines open, one connection each, and commits with `synchronous = NORMAL`,
SQLite's recommended setting for WAL: a killed process loses nothing it committed; only an OS
crash or power cut can lose the last events. The warehouse, not this log, records what was
loaded and built (raw.load_manifest, raw.pending_days), so such a loss at worst makes Dagster
rebuild what those events covered. A new run's database is created in one transaction, with
the migration scripts read once per process (0.19 -> 0.02 s). Selected in dagster.yaml
(`event_log_storage`); the files are Dagster's, unchanged.

Only `estore run` keeps the log open (`kept_open()`, while it holds the warehouse lock, so no
`make dev` is up). The UI streams a run's events by watching the run's database file, which a
kept-open WAL connection leaves untouched until a checkpoint: in the UI's processes (webserver,
daemon, run workers) every event opens and closes its connection, as in Dagster.
"""

from __future__ import annotations

import functools
import os
import sqlite3
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

import sqlalchemy as db
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from dagster._core.storage.event_log.schema import SqlEventLogStorageMetadata
from dagster._core.storage.event_log.sqlite import sqlite_event_log
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._core.storage.sql import create_engine, get_alembic_config
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

# The index and the few runs being written or read at a time.
OPEN_DATABASES = 8


def _commit_without_fsync(dbapi_connection, _record) -> None:
    dbapi_connection.execute("pragma synchronous = normal")


@functools.cache
def _migration_scripts() -> ScriptDirectory:
    """The event log's alembic scripts, read once per process (Dagster reads its ~90 migration
    files twice for every new run database: ~0.13 of the ~0.19 s it takes to create one)."""
    return ScriptDirectory.from_config(get_alembic_config(sqlite_event_log.__file__))


@contextmanager
def kept_open() -> Iterator[None]:
    """Within this block, the event log of this process keeps its databases open."""
    KeptOpenSqliteEventLogStorage.keep_open = True
    try:
        yield
    finally:
        KeptOpenSqliteEventLogStorage.keep_open = False


class KeptOpenSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` with engines kept open (at most OPEN_DATABASES) while
    `keep_open`, and cheaper new run databases and table lookups always."""

    keep_open: ClassVar[bool] = False

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._tables: set[str] = set()
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> KeptOpenSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)  # the parent's builds its own class

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        if not self.keep_open:
            self._close_all()  # a block of `kept_open()` ended
            with super()._connect(shard) as conn:
                yield conn
            return
        # One user at a time (the lock), as in the parent: one connection per database suffices.
        with self._db_lock, self._engine(shard).connect() as conn, conn.begin():
            yield conn

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.pop(shard, None)
        if engine is None:
            engine = create_engine(
                self.conn_string_for_shard(shard),
                poolclass=StaticPool,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
            db.event.listen(engine, "connect", _commit_without_fsync)
            if shard not in self._initialized_dbs:
                try:
                    self._initdb(engine)
                except Exception:
                    engine.dispose()  # not cached: close its connection now
                    raise
                self._initialized_dbs.add(shard)
        self._engines[shard] = engine  # the most recently used last
        while len(self._engines) > OPEN_DATABASES:
            self._engines.popitem(last=False)[1].dispose()
        return engine

    def _initdb(self, engine: Engine, for_index_shard: bool = False) -> None:
        path = engine.url.database or ""
        new_run = not for_index_shard and not path.endswith(f"{INDEX_SHARD_NAME}.db")
        if not (new_run and not os.path.exists(path) and self._created_run_database(engine)):
            super()._initdb(engine, for_index_shard=for_index_shard)

    def _created_run_database(self, engine: Engine) -> bool:
        """A new run's database as Dagster's `_initdb` makes it: its tables, WAL, stamped with
        the alembic head. False if that failed (another process creating it at the same time):
        `_initdb` then checks and retries, as for any database."""
        try:
            with engine.connect() as conn:
                # WAL first (it cannot change inside a transaction), then every table, index
                # and the stamp in one transaction: one commit, where Python's sqlite3 would
                # commit (and sync) each CREATE on its own (0.08 -> 0.02 s per run).
                conn.exec_driver_sql("pragma journal_mode = wal")
                conn.exec_driver_sql("begin")
                SqlEventLogStorageMetadata.create_all(conn)
                MigrationContext.configure(conn).stamp(_migration_scripts(), "head")
                conn.commit()
        except (db.exc.DatabaseError, sqlite3.DatabaseError):
            return False
        return True

    def has_table(self, table_name: str) -> bool:
        # Asked for every asset check event, through a new engine each time; a table of the
        # index, once there, stays (migrations add tables, nothing drops them).
        if table_name not in self._tables and super().has_table(table_name):
            self._tables.add(table_name)
        return table_name in self._tables

    def _close_all(self) -> None:
        if self._engines:
            with self._db_lock:
                while self._engines:
                    self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        self._close_all()  # the run databases are deleted
        super().wipe()
        self._close_all()  # any opened meanwhile (the parent deletes without the lock)

    def dispose(self) -> None:
        self._close_all()
        super().dispose()
