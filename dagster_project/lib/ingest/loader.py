"""Load one landed file into the raw layer with DuckDB, exactly once, every line accounted for.

One transaction per file: the file's previous rows are replaced, parsed rows go to raw.events,
every other physical line (blank lines included) goes to raw.load_rejects with its line number
and reason, the touched days to raw.pending_days, and the manifest row is written. Either all of
it commits or none of it does, so a crash at any point leaves a state the next run repairs by
simply loading the file again. The counts must reconcile with the file's physical lines, counted
independently; otherwise the file fails whole. Every timestamp written is UTC.
"""

from __future__ import annotations

import contextlib
import gzip
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from dagster_project.lib.ingest.bucket import ObjectInfo
from dagster_project.lib.ingest.lines import COUNT_ERRORS, count_in_background, count_physical_lines
from dagster_project.lib.ingest.parse import (
    DayRange,
    fast_rows_sql,
    parsed_lines_sql,
    reason_sql,
)
from dagster_project.lib.ingest.pending import record_pending_days, utc_now
from dagster_project.lib.ingest.schema import (
    DDL,
    EVENTS_TABLE,
    EXPECTED_HEADER,
    MANIFEST_TABLE,
    REJECTS_TABLE,
    SOURCE_COLUMNS,
    TIMESTAMP_FORMAT,
)
from dagster_project.lib.settings import Settings

LOADED, FAILED, SKIPPED = "loaded", "failed", "skipped"
ALREADY_FAILED = "this version already failed: "
# Below this size DuckDB's CSV reader uses one thread (one read buffer).
PARALLEL_READ_BYTES = 32 << 20
# DuckDB checkpoints when the write-ahead log passes 16 MB, i.e. after nearly every small file's
# commit (each load's rows go through the log uncompressed). Loading a stream of daily files on
# one connection, one checkpoint at the end (or at close) is enough: use this connection config.
CONNECTION_CONFIG = {"checkpoint_threshold": "1GB"}


class BadFileError(Exception):
    """The file as a whole cannot be loaded (empty, wrong header, not gzip, truncated...)."""


@dataclass
class LoadResult:
    source_file: str
    source_version: str
    status: str
    rows_loaded: int = 0
    rows_rejected: int = 0
    size_bytes: int = 0
    event_dates: list[date] = field(default_factory=list)
    # Days the previous version of the file covered: they change too when a new version lands.
    replaced_dates: list[date] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def touched_dates(self) -> list[date]:
        """Every day whose raw rows changed: downstream rebuilds exactly these."""
        if self.status != LOADED:
            return []
        return sorted(set(self.event_dates) | set(self.replaced_dates))


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[tuple]:
    """Execute and fetch everything (DuckDB 2 keeps a connection busy until results are read)."""
    return con.execute(sql, params or []).fetchall()


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    _run(con, DDL)
    # The fast path numbers lines by the order rows are appended in.
    if not _run(con, "select current_setting('preserve_insertion_order')")[0][0]:
        raise RuntimeError("the loader needs DuckDB's preserve_insertion_order = true")


def read_header(path: Path) -> str:
    """First line of a plain or gzip file, or BadFileError saying why there is none."""
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            first = handle.readline(4096)
    except (OSError, EOFError, zlib.error) as exc:
        raise BadFileError(f"cannot read {path.name}: {exc}") from exc
    if not first:
        raise BadFileError("empty file: no header line")
    return first.decode("utf-8", errors="replace").lstrip("\ufeff").rstrip("\r\n")


def check_file(path: Path) -> None:
    if path.stat().st_size == 0:
        raise BadFileError("empty file (0 bytes)")
    header = read_header(path)
    if header != EXPECTED_HEADER:
        raise BadFileError(f"wrong header: expected {EXPECTED_HEADER!r}, found {header[:200]!r}")


def _read_csv_sql(path: Path, rejects_table: str, rejects_scan: str) -> str:
    """DuckDB's own typed CSV reader with the schema's types: the bare baseline `estore bench`
    compares the load with (the loader itself reads lines, see parse.py)."""
    columns = ", ".join(f"'{name}': '{type_}'" for name, type_ in SOURCE_COLUMNS.items())
    escaped = str(path).replace("'", "''")
    return (
        f"read_csv('{escaped}', header = true, auto_detect = false, delim = ',', quote = '\"', "
        f"columns = {{{columns}}}, timestampformat = '{TIMESTAMP_FORMAT}', "
        f"store_rejects = true, rejects_table = '{rejects_table}', "
        f"rejects_scan = '{rejects_scan}')"
    )


def _manifest_entry(con: duckdb.DuckDBPyConnection, key: str) -> tuple | None:
    rows = _run(
        con,
        f"select source_version, status, error, loaded_version, event_dates from {MANIFEST_TABLE} "
        "where source_file = ?",
        [key],
    )
    return rows[0] if rows else None


def load_file(
    con: duckdb.DuckDBPyConnection,
    obj: ObjectInfo,
    path: Path,
    *,
    before_commit: Callable[[], None] | None = None,
    days: DayRange | None = None,
) -> LoadResult:
    """Load `obj` (found at local `path`) unless this exact version is already loaded.

    `days` are the days that have a partition (default: ESTORE_PARTITIONS_START to today, UTC).
    `before_commit` is a test hook: it runs inside the transaction, after all writes.
    """
    started = time.perf_counter()
    ensure_raw_schema(con)
    previous = _manifest_entry(con, obj.key)
    if previous and previous[0] == obj.version:
        if previous[1] == LOADED:
            return LoadResult(obj.key, obj.version, SKIPPED, size_bytes=obj.size)
        # This very version already failed: fail fast with the recorded reason (re-drop the
        # file, i.e. a new version, to try again).
        return LoadResult(
            obj.key,
            obj.version,
            FAILED,
            size_bytes=obj.size,
            error=f"{ALREADY_FAILED}{previous[2]}",
        )
    if days is None:
        days = DayRange.from_settings(Settings.from_env().partitions_start)

    try:
        check_file(path)
        # Rows of an earlier version exist only if the manifest says one was loaded (they commit
        # together): a new file never scans raw.events.
        replaced = list(previous[4] or []) if previous and previous[3] else None
        try:
            result = _load(con, obj, path, replaced, days, before_commit)
        except (duckdb.InvalidInputException, duckdb.ConversionException):
            # DuckDB's CSV reader gave up on the file: the line-by-line parse says why (the
            # file's fault) or loads it. Nothing was committed.
            _rollback_quietly(con)
            result = _load(con, obj, path, replaced, days, before_commit, fast=False)
    except (BadFileError, duckdb.Error, *COUNT_ERRORS) as exc:
        _rollback_quietly(con)
        if not is_bad_file_error(exc):
            raise  # disk, memory, lock...: not this file's fault, retry later; record nothing
        message = str(exc).strip().splitlines()[0][:2000] if str(exc).strip() else repr(exc)
        if "state machine" in message:  # DuckDB's words for a line it cannot delimit
            message = (
                "cannot split the file into lines (a carriage return inside a line, or mixed "
                f"line endings?): {message}"
            )
        _record_failure(con, obj, message)
        result = LoadResult(obj.key, obj.version, FAILED, size_bytes=obj.size, error=message)
    result.seconds = time.perf_counter() - started
    return result


def is_bad_file_error(exc: Exception) -> bool:
    """Errors that are the file's own (they recur on every attempt of this version)."""
    if isinstance(
        exc,
        BadFileError
        | duckdb.InvalidInputException
        | duckdb.ConversionException
        | EOFError
        | zlib.error
        | gzip.BadGzipFile,
    ):
        return True
    text = str(exc)
    return any(marker in text for marker in ("GZIP", "gzip", "zlib", "CSV Error"))


def _load(
    con: duckdb.DuckDBPyConnection,
    obj: ObjectInfo,
    path: Path,
    replaced: list[date] | None,
    days: DayRange,
    before_commit: Callable[[], None] | None,
    fast: bool = True,
) -> LoadResult:
    """One read of the file straight into raw.events, in one transaction with everything else.

    Clean files (the common case) are read once, by DuckDB's parallel CSV reader
    (`fast_rows_sql`). If the counts show a line was not loaded (loaded + header != physical
    lines), those rows are discarded in the same transaction and the file is parsed line by
    line (`parsed_lines_sql`), which numbers every physical line and gives each line that is
    not loaded its reason; the counts must then reconcile exactly or the file fails whole."""
    tag = uuid.uuid4().hex[:12]
    reader_rejects, scans = f"line_rejects_{tag}", f"line_scans_{tag}"
    physical = count_in_background(path, count_physical_lines)
    now = utc_now()
    lineage = [obj.key, obj.version]
    columns = ", ".join(SOURCE_COLUMNS)
    try:
        _run(con, "begin transaction")
        if replaced is not None:  # a new version of a loaded file replaces its rows
            _run(con, f"delete from {EVENTS_TABLE} where source_file = ?", [obj.key])
            _run(con, f"delete from {REJECTS_TABLE} where source_file = ?", [obj.key])
        # Rows appended in this transaction get row ids above every committed one: the counts
        # and days below read this load's rows only, never the history.
        last_committed = last_rowid(con, EVENTS_TABLE)

        def insert(rows_sql: str, line_no: str = "line_no") -> tuple[int, list[date], int]:
            _run(
                con,
                f"insert into {EVENTS_TABLE} select {columns}, ?, ?, {line_no}, ? "
                f"from ({rows_sql})",
                [*lineage, now],
            )
            loaded, dates, first, last = _run(
                con,
                f"""select count(*), list(distinct cast(event_time as date)),
                           min(rowid), max(rowid)
                    from {EVENTS_TABLE} where rowid > ?""",
                [last_committed],
            )[0]
            if loaded and last - first + 1 != loaded:
                raise RuntimeError("this load's rows do not have consecutive row ids")
            return loaded, sorted(d for d in (dates or []) if d is not None), first

        # DuckDB reads a gzip file, or one smaller than its read buffer, on one thread: a
        # window function numbering the lines costs nothing there. Bigger files are read in
        # parallel chunks and numbered after the insert.
        numbered = path.name.endswith(".gz") or obj.size < PARALLEL_READ_BYTES
        if fast:
            rows_sql = fast_rows_sql(path, days, numbered)
            loaded, dates, first = insert(rows_sql, "line_no" if numbered else "0")
        else:
            loaded, dates, first = -1, [], 0
        lines = physical.result()
        unreadable: list[tuple] = []
        invalid = 0
        if 1 + loaded == lines and not numbered:
            # Every data line was loaded, so none was skipped, and rows are appended in file
            # order (DuckDB preserves insertion order; checked in ensure_raw_schema): the
            # row's rank in this load is its data line.
            _run(
                con,
                f"update {EVENTS_TABLE} set source_line = rowid - ? + 2 where rowid > ?",
                [first, last_committed],
            )
        elif 1 + loaded != lines:  # a line was not loaded: parse line by line
            if fast:
                _run(con, f"delete from {EVENTS_TABLE} where rowid > ?", [last_committed])
            parsed = parsed_lines_sql(path, reader_rejects, scans, days)
            loaded, dates, _ = insert(f"select * from ({parsed}) where ok")
            # Lines the reader itself could not take (invalid UTF-8, a stray separator byte)
            # are missing from its numbering: shift the numbers of the lines after them.
            unreadable = _run(
                con,
                f"""select line, string_agg(error_type || ': ' || error_message, '; '),
                           any_value(csv_line)
                    from {reader_rejects} group by line order by line""",
            )
            shift = _shift_sql(unreadable)
            if unreadable:
                _run(
                    con,
                    f"update {EVENTS_TABLE} set source_line = source_line + "
                    f"{shift('source_line')} where rowid > ?",
                    [last_committed],
                )
                con.executemany(
                    f"insert into {REJECTS_TABLE} values (?, ?, ?, ?, ?, ?)",
                    [[*lineage, line, reason, text, now] for line, reason, text in unreadable],
                )
            if 1 + loaded + len(unreadable) != lines:
                invalid = _run(
                    con,
                    f"""insert into {REJECTS_TABLE}
                        select ?, ?, line_no + {shift("line_no")}, {reason_sql(days)},
                               coalesce(line, ''), ?
                        from ({parsed}) where not ok""",
                    [*lineage, now],
                )[0][0]
        rejected = invalid + len(unreadable)
        if 1 + loaded + rejected != lines:
            raise BadFileError(
                f"the file has {lines} lines but the reader accounted for "
                f"{1 + loaded + rejected} (header + {loaded} loaded + {rejected} rejected): "
                "a line was skipped or split (a carriage return inside a line?)"
            )
        touched = sorted(set(dates) | set(replaced or []))
        record_pending_days(con, touched, obj.key, obj.version, now)
        _run(
            con,
            f"""insert or replace into {MANIFEST_TABLE}
                values (?, ?, 'loaded', null, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                obj.key,
                obj.version,
                obj.version,
                obj.size,
                loaded,
                rejected,
                dates[0] if dates else None,
                dates[-1] if dates else None,
                dates,
                now,
                now,
            ],
        )
        if before_commit:
            before_commit()
        _run(con, "commit")
    finally:
        _rollback_quietly(con)  # an aborted transaction would refuse the clean-up
        for table in (reader_rejects, scans):
            _run(con, f"drop table if exists {table}")
        with contextlib.suppress(*COUNT_ERRORS):
            physical.result()  # never leave the counting thread behind
    return LoadResult(
        obj.key,
        obj.version,
        LOADED,
        rows_loaded=loaded,
        rows_rejected=rejected,
        size_bytes=obj.size,
        event_dates=dates,
        replaced_dates=replaced or [],
    )


def last_rowid(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """The highest row id of `table`'s rows (-1 when it has none), read from its last row groups
    only. `max(rowid)` alone reads every row id (42 ms at 43M rows, growing with history); n rows
    have n distinct row ids from 0, so the highest is at least n - 1, and a filter on rowid
    skips every row group below that."""
    ((rows,),) = _run(con, f"select count(*) from {table}")
    ((highest,),) = _run(
        con, f"select coalesce(max(rowid), -1) from {table} where rowid >= ?", [rows - 1]
    )
    return highest


def _shift_sql(unreadable: list[tuple]) -> Callable[[str], str]:
    """SQL adding, to a reader line number, the unreadable lines before it.

    The i-th unreadable line (1-based, in line order) at physical line L displaces every later
    line by one: reader number n is shifted by the count of i with L_i - i + 1 <= n."""
    thresholds = [line - i for i, (line, *_rest) in enumerate(unreadable)]
    if not thresholds:
        return lambda column: "0"
    values = ", ".join(str(t) for t in thresholds)
    return lambda column: f"list_count(list_filter([{values}], lambda t: t <= {column}))"


def _rollback_quietly(con: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):  # no transaction was open
        _run(con, "rollback")


def _record_failure(con: duckdb.DuckDBPyConnection, obj: ObjectInfo, message: str) -> None:
    """A file that fails whole keeps the rows of its last good version (if any): record the
    failed version so it is not retried until a new version is dropped."""
    _run(
        con,
        f"""insert into {MANIFEST_TABLE}
            values (?, ?, 'failed', ?, null, null, 0, 0, null, null, null, null, ?)
            on conflict (source_file) do update set
                source_version = excluded.source_version, status = 'failed',
                error = excluded.error, attempted_at = excluded.attempted_at""",
        [obj.key, obj.version, message, utc_now()],
    )
