"""Write the dashboard marts into one Tableau `.hyper` extract with the Hyper API.

Each table goes DuckDB -> Parquet -> Hyper `COPY`: half the time of CSV at 6.5M rows, and faster
than an Arrow stream (28.5 s against 41.5 s for 29M rows). The file is built under a temporary
name and renamed into place so Tableau never opens a half-written one.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
from tableauhyperapi import (
    Connection,
    CreateMode,
    HyperProcess,
    Nullability,
    SqlType,
    TableDefinition,
    TableName,
    Telemetry,
    escape_string_literal,
)

from dagster_project.lib.dashboards.marts import (
    DASHBOARD_MARTS,
    MODEL_TABLES,
    SCHEMA,
    existing_tables,
)

HYPER_SCHEMA = "Extract"  # the schema Tableau Desktop looks in first
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")


@dataclass(frozen=True)
class ExtractedTable:
    name: str
    rows: int


def hyper_type(duckdb_type: str) -> SqlType:
    """The Hyper type for a DuckDB column type; anything unusual travels as text."""
    t = duckdb_type.upper()
    if m := _DECIMAL.fullmatch(t):
        return SqlType.numeric(int(m.group(1)), int(m.group(2)))
    simple = {
        "BIGINT": SqlType.big_int(),
        "INTEGER": SqlType.int(),
        "SMALLINT": SqlType.small_int(),
        "TINYINT": SqlType.small_int(),
        "HUGEINT": SqlType.numeric(38, 0),
        "UBIGINT": SqlType.numeric(20, 0),
        "UINTEGER": SqlType.big_int(),
        "DOUBLE": SqlType.double(),
        "FLOAT": SqlType.double(),
        "REAL": SqlType.double(),
        "BOOLEAN": SqlType.bool(),
        "DATE": SqlType.date(),
        "TIMESTAMP": SqlType.timestamp(),
        "TIMESTAMP_NS": SqlType.timestamp(),
        "TIMESTAMP WITH TIME ZONE": SqlType.timestamp_tz(),
        "VARCHAR": SqlType.text(),
    }
    return simple.get(t, SqlType.text())


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    return con.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_schema = ? and table_name = ? order by ordinal_position",
        [SCHEMA, table],
    ).fetchall()


def _select_list(columns: list[tuple[str, str]]) -> str:
    # Columns Hyper gets as text are cast in DuckDB so the CSV holds plain strings.
    parts = []
    for name, dtype in columns:
        ident = '"' + name.replace('"', '""') + '"'
        if hyper_type(dtype) == SqlType.text() and dtype.upper() != "VARCHAR":
            parts.append(f"cast({ident} as varchar) as {ident}")
        else:
            parts.append(ident)
    return ", ".join(parts)


def write_extract(
    con: duckdb.DuckDBPyConnection,
    target: Path,
    tables: tuple[str, ...] = DASHBOARD_MARTS + MODEL_TABLES,
) -> list[ExtractedTable]:
    """Write every table of `tables` present in the warehouse into `target`; return row counts."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    present = existing_tables(con)
    wanted = [t for t in tables if t in present]
    written: list[ExtractedTable] = []
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".hyper-") as work:
        work_dir = Path(work)
        partial = work_dir / target.name
        params = {"log_dir": str(work_dir), "log_file_max_count": "1"}
        with (
            HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters=params) as hyper,
            Connection(hyper.endpoint, str(partial), CreateMode.CREATE_AND_REPLACE) as hcon,
        ):
            hcon.catalog.create_schema_if_not_exists(HYPER_SCHEMA)
            for table in wanted:
                columns = _columns(con, table)
                definition = TableDefinition(
                    TableName(HYPER_SCHEMA, table),
                    [
                        TableDefinition.Column(name, hyper_type(dtype), Nullability.NULLABLE)
                        for name, dtype in columns
                    ],
                )
                hcon.catalog.create_table(definition)
                parquet = work_dir / f"{table}.parquet"
                # Uncompressed: the file lives for one COPY (29M cross-sell rows at 43M events:
                # written in 7.7 s instead of 12.4 s with snappy; Hyper reads it as fast).
                con.execute(
                    f"copy (select {_select_list(columns)} from {SCHEMA}.{table})"
                    f" to '{parquet}' (format parquet, compression uncompressed)"
                )
                rows = hcon.execute_command(
                    f"copy {definition.table_name} from {escape_string_literal(str(parquet))}"
                    " with (format parquet)"
                )
                parquet.unlink()
                written.append(ExtractedTable(table, rows))
        os.replace(partial, target)
    return written
