"""Load one landed file into the raw layer with DuckDB's own CSV reader, exactly once.

One transaction per file: the file's previous rows are replaced, parsed rows go to raw.events,
every other line goes to raw.load_rejects with a reason, and the manifest row is written. Either
all of it commits or none of it does, so a crash at any point leaves a state the next run repairs
by simply loading the file again.
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
from dagster_project.lib.ingest.schema import (
    DDL,
    EVENTS_TABLE,
    EXPECTED_HEADER,
    KNOWN_EVENT_TYPES,
    MANIFEST_TABLE,
    REJECTS_TABLE,
    REQUIRED_COLUMNS,
    SOURCE_COLUMNS,
    TIMESTAMP_FORMAT,
)

LOADED, FAILED, SKIPPED = "loaded", "failed", "skipped"
ALREADY_FAILED = "this version already failed: "


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
    columns = ", ".join(f"'{name}': '{type_}'" for name, type_ in SOURCE_COLUMNS.items())
    escaped = str(path).replace("'", "''")
    return (
        f"read_csv('{escaped}', header = true, auto_detect = false, delim = ',', quote = '\"', "
        f"columns = {{{columns}}}, timestampformat = '{TIMESTAMP_FORMAT}', "
        f"store_rejects = true, rejects_table = '{rejects_table}', "
        f"rejects_scan = '{rejects_scan}')"
    )


def _invalid_reason_sql() -> str:
    """SQL expression naming why a parsed row is not a clean event (null when it is)."""
    checks = [f"when {column} is null then 'missing {column}'" for column in REQUIRED_COLUMNS]
    known = ", ".join(f"'{t}'" for t in KNOWN_EVENT_TYPES)
    checks.append(f"when event_type not in ({known}) then 'unknown event_type ' || event_type")
    return "case " + " ".join(checks) + " end"


def _row_text_sql() -> str:
    parts = " || ',' || ".join(f"coalesce(cast({c} as varchar), '')" for c in SOURCE_COLUMNS)
    return parts


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
) -> LoadResult:
    """Load `obj` (found at local `path`) unless this exact version is already loaded.

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

    try:
        check_file(path)
        # Rows of an earlier version exist only if the manifest says one was loaded (they commit
        # together): a new file never scans raw.events.
        replaced = list(previous[4] or []) if previous and previous[3] else None
        result = _load(con, obj, path, replaced, before_commit)
    except (BadFileError, duckdb.Error) as exc:
        _rollback_quietly(con)
        if not is_bad_file_error(exc):
            raise  # disk, memory, lock...: not this file's fault, retry later; record nothing
        message = str(exc).strip().splitlines()[0][:2000] if str(exc).strip() else repr(exc)
        _record_failure(con, obj, message)
        result = LoadResult(obj.key, obj.version, FAILED, size_bytes=obj.size, error=message)
    result.seconds = time.perf_counter() - started
    return result


def is_bad_file_error(exc: Exception) -> bool:
    """Errors that are the file's own (they recur on every attempt of this version)."""
    if isinstance(exc, BadFileError | duckdb.InvalidInputException | duckdb.ConversionException):
        return True
    text = str(exc)
    return any(marker in text for marker in ("GZIP", "gzip", "zlib", "CSV Error"))


def _load(
    con: duckdb.DuckDBPyConnection,
    obj: ObjectInfo,
    path: Path,
    replaced: list[date] | None,
    before_commit: Callable[[], None] | None,
) -> LoadResult:
    tag = uuid.uuid4().hex[:12]
    staged, rejects, scans = f"staged_{tag}", f"rejects_{tag}", f"scans_{tag}"
    try:
        # Read once into a temporary table, outside the write transaction (rowids of rows
        # written inside a transaction are not positions): rowid = the row's place in the file.
        _run(
            con,
            f"create temp table {staged} as select * from {_read_csv_sql(path, rejects, scans)}",
        )
        return _write_in_transaction(con, obj, staged, rejects, replaced, before_commit)
    finally:
        _rollback_quietly(con)  # an aborted transaction would refuse the clean-up
        for table in (staged, rejects, scans):
            _run(con, f"drop table if exists {table}")


def _write_in_transaction(
    con: duckdb.DuckDBPyConnection,
    obj: ObjectInfo,
    staged: str,
    rejects: str,
    replaced: list[date] | None,
    before_commit: Callable[[], None] | None,
) -> LoadResult:
    lineage = [obj.key, obj.version]
    _run(con, "begin transaction")
    if replaced is not None:  # a new version of a loaded file replaces its rows
        _run(con, f"delete from {EVENTS_TABLE} where source_file = ?", [obj.key])
        _run(con, f"delete from {REJECTS_TABLE} where source_file = ?", [obj.key])

    # Lines DuckDB could not parse, with its own reason.
    _run(
        con,
        f"""insert into {REJECTS_TABLE}
            select ?, ?, line,
                   string_agg(error_type || ': ' || error_message, '; ' order by column_idx),
                   any_value(csv_line), now()
            from {rejects} group by line""",
        lineage,
    )
    unparsed = _run(con, f"select count(distinct line) from {rejects}")[0][0]
    line_sql, line_join = _line_number_sql(staged, rejects, shifted=unparsed > 0)
    reason = _invalid_reason_sql()
    _run(
        con,
        f"""insert into {EVENTS_TABLE}
            select {", ".join(SOURCE_COLUMNS)}, ?, ?, {line_sql}, now()
            from {staged} {line_join}
            where ({reason}) is null""",
        lineage,
    )
    _run(
        con,
        f"""insert into {REJECTS_TABLE}
            select ?, ?, {line_sql}, {reason}, {_row_text_sql()}, now()
            from {staged} {line_join}
            where ({reason}) is not null""",
        lineage,
    )
    # Counts from the staged rows, not raw.events (whose scan would grow with history).
    loaded, dates, invalid = _run(
        con,
        f"""select count(*) filter (where ({reason}) is null),
                   list(distinct cast(event_time as date) order by 1)
                       filter (where ({reason}) is null),
                   count(*) filter (where ({reason}) is not null)
            from {staged}""",
    )[0]
    rejected = invalid + unparsed
    dates = [d for d in (dates or []) if d is not None]
    _run(
        con,
        f"""insert or replace into {MANIFEST_TABLE}
            values (?, ?, 'loaded', null, ?, ?, ?, ?, ?, ?, ?, now(), now())""",
        [
            obj.key,
            obj.version,
            obj.version,
            obj.size,
            loaded,
            rejected,
            min(dates) if dates else None,
            max(dates) if dates else None,
            dates,
        ],
    )
    if before_commit:
        before_commit()
    _run(con, "commit")
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


def _line_number_sql(staged: str, rejects: str, *, shifted: bool) -> tuple[str, str]:
    """(line expression, join clause) for the staged rows.

    Parsed row k (rowid k-1) sits on line k+1 (after the header), shifted by the unparsed lines
    before it: the i-th unparsed line (in line order) at line L displaces every parsed row whose
    position is at least L - i - 1, and an as-of join finds how many were skipped before a row.
    Without unparsed lines there is nothing to join."""
    if not shifted:
        return f"{staged}.rowid + 2", ""
    join = f"""asof left join (
            select first_rowid, max(skipped) as skipped from (
                select line - row_number() over (order by line) - 1 as first_rowid,
                       row_number() over (order by line) as skipped
                from (select distinct line from {rejects})
            ) group by first_rowid
        ) shift on {staged}.rowid >= shift.first_rowid"""
    return f"{staged}.rowid + 2 + coalesce(shift.skipped, 0)", join


def _rollback_quietly(con: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):  # no transaction was open
        _run(con, "rollback")


def _record_failure(con: duckdb.DuckDBPyConnection, obj: ObjectInfo, message: str) -> None:
    """A file that fails whole keeps the rows of its last good version (if any): record the
    failed version so it is not retried until a new version is dropped."""
    _run(
        con,
        f"""insert into {MANIFEST_TABLE}
            values (?, ?, 'failed', ?, null, null, 0, 0, null, null, null, null, now())
            on conflict (source_file) do update set
                source_version = excluded.source_version, status = 'failed',
                error = excluded.error, attempted_at = excluded.attempted_at""",
        [obj.key, obj.version, message],
    )
