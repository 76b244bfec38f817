"""Days waiting to be rebuilt, kept in the warehouse itself (raw.pending_days).

A load records the days it touched in its own transaction; the daily build clears them once it
has rebuilt them. So which days need rebuilding survives any crash between the load's commit
and Dagster recording its materializations.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime

import duckdb

from dagster_project.lib.ingest.schema import DDL, PENDING_TABLE


def utc_now() -> datetime:
    """Naive UTC, the type of every raw timestamp column, whatever the host or session zone."""
    return datetime.now(UTC).replace(tzinfo=None)


def record_pending_days(
    con: duckdb.DuckDBPyConnection,
    days: Iterable[date],
    source_file: str,
    source_version: str,
    recorded_at: datetime,
) -> None:
    rows = [(day, source_file, source_version, recorded_at) for day in sorted(set(days))]
    if rows:
        con.executemany(f"insert into {PENDING_TABLE} values (?, ?, ?, ?)", rows)


def pending_days(con: duckdb.DuckDBPyConnection) -> list[date]:
    return [day for day, _ in pending_since(con)]


def pending_since(con: duckdb.DuckDBPyConnection) -> list[tuple[date, datetime]]:
    """Each pending day with the time (naive UTC) of its earliest unbuilt change."""
    con.execute(DDL).fetchall()
    return con.execute(
        f"select day, min(recorded_at) from {PENDING_TABLE} group by day order by day"
    ).fetchall()


def clear_pending_days(
    con: duckdb.DuckDBPyConnection,
    start_day: date,
    end_day_exclusive: date,
    recorded_before: datetime | None = None,
) -> int:
    """Forget the pending days in [start_day, end_day_exclusive) once they are rebuilt.

    Pass `recorded_before` = when the build started (naive UTC, or aware) so that a load that
    committed during the build, whose rows the build may not have seen, stays pending."""
    con.execute(DDL).fetchall()
    sql = f"delete from {PENDING_TABLE} where day >= ? and day < ?"
    params: list = [start_day, end_day_exclusive]
    if recorded_before is not None:
        if recorded_before.tzinfo is not None:
            recorded_before = recorded_before.astimezone(UTC).replace(tzinfo=None)
        sql += " and recorded_at < ?"
        params.append(recorded_before)
    return con.execute(sql, params).fetchall()[0][0]
