"""Load one landed gs:// file into BigQuery's raw layer exactly once, no rows through Python.

Two steps, both built here by pure functions (the Dagster asset only submits them):

1. A BigQuery load job (`load_job_config`) copies the file into a per-file staging table whose
   columns are all STRING, so the loader itself never drops a row for a bad value; only a line
   that is not valid CSV (wrong number of fields, broken quoting) fails the whole file
   (max_bad_records = 0), and BigQuery's error names the file and the position. The job id
   (`load_job_id`) is derived from table + URI + generation: a retry of the same object version
   reuses the id, BigQuery answers 409 Already Exists, and the caller reads the existing job's
   result instead of loading twice.
2. One multi-statement transaction (`merge_script`) types the staged rows with SAFE_CAST and the
   exact timestamp format, replaces the file's rows in raw.events, writes every row that does not
   type cleanly to raw.load_rejects with the reason, records the days it changed (the previous
   version's and the new one's) in raw.pending_days, and upserts raw.load_manifest. Either all of
   it commits or none of it does, like the DuckDB loader (lib/ingest/loader.py).

The small parameterised queries around them (the manifest row, the pending days, clearing them
after a build, a failed file) are built here too; lib/ingest/bigquery_ingest.py submits them.

Known difference from DuckDB: a load job does not expose line numbers, so `source_line` is the
row's ordinal within the staged table (unique within the file version, not the physical line;
the rejects keep the raw line text instead).
"""

from __future__ import annotations

import hashlib
import re

from google.cloud import bigquery

from dagster_project.lib.ingest.parse import DayRange
from dagster_project.lib.ingest.schema import (
    KNOWN_EVENT_TYPES,
    REQUIRED_COLUMNS,
    SOURCE_COLUMNS,
    SOURCE_COLUMNS_BIGQUERY,
    TIMESTAMP_FORMAT,
)

# BigQuery job ids: letters, digits, underscores and dashes, at most 1,024 characters.
MAX_JOB_ID_LENGTH = 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
# Readable part of ids/table names: the tail of the object name, for people reading job lists.
_READABLE_CHARS = 80

# How each source column becomes its typed value (NULL when it does not parse).
_TYPED = {
    "event_time": f"SAFE.PARSE_TIMESTAMP('{TIMESTAMP_FORMAT}', event_time)",
    "event_type": "event_type",
    "product_id": "SAFE_CAST(product_id AS INT64)",
    "category_id": "SAFE_CAST(category_id AS INT64)",
    "category_code": "category_code",
    "brand": "brand",
    # DuckDB stores DECIMAL(18,2): round the same way.
    "price": "ROUND(SAFE_CAST(price AS NUMERIC), 2)",
    "user_id": "SAFE_CAST(user_id AS INT64)",
    "user_session": "user_session",
}
assert set(_TYPED) == set(SOURCE_COLUMNS)


def _readable(text: str) -> str:
    return _UNSAFE.sub("_", text)[-_READABLE_CHARS:].strip("_-")


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:40]


def load_job_id(table: str, uri: str, generation: str | int) -> str:
    """Deterministic, BigQuery-safe job id for loading `uri` at `generation` into `table`."""
    generation = str(generation)
    digest = _digest(table, uri, generation)
    job_id = f"estore_load_{_readable(uri)}_g{_readable(generation)[:20]}_{digest}"
    return job_id[:MAX_JOB_ID_LENGTH]


def staging_table_id(source_file: str) -> str:
    """One staging table per file (a new version of the file overwrites it: WRITE_TRUNCATE)."""
    readable = _readable(source_file).replace("-", "_")[-40:]  # table names allow no dash
    return f"stg_load_{readable}_{_digest(source_file)[:16]}"


def load_job_config() -> bigquery.LoadJobConfig:
    """CSV into an all-STRING staging table: typing and rejection happen in SQL, with reasons."""
    return bigquery.LoadJobConfig(
        schema=[bigquery.SchemaField(name, "STRING", mode="NULLABLE") for name in SOURCE_COLUMNS],
        autodetect=False,
        source_format=bigquery.SourceFormat.CSV,
        encoding="UTF-8",
        field_delimiter=",",
        quote_character='"',
        skip_leading_rows=1,  # the header (bigquery_ingest checks it against EXPECTED_HEADER first)
        allow_jagged_rows=False,
        allow_quoted_newlines=False,
        ignore_unknown_values=False,
        max_bad_records=0,  # a malformed CSV line fails the file, named in the job error
        write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
        create_disposition=bigquery.CreateDisposition.CREATE_IF_NEEDED,
    )


def _literal(value: str) -> str:
    """A BigQuery string literal (the object name comes from users: always escape)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def _reason_sql(days: DayRange | None) -> str:
    """Why a staged row is not a clean event (NULL when it is), first reason wins. Like the
    DuckDB loader, a row of a day without a partition (`days`) is rejected, never loaded
    unbuilt."""
    checks = [f"WHEN {column} IS NULL THEN 'missing {column}'" for column in REQUIRED_COLUMNS]
    for column in SOURCE_COLUMNS:
        checks.append(f"WHEN {column} IS NOT NULL AND typed_{column} IS NULL THEN 'bad {column}'")
    known = ", ".join(f"'{event_type}'" for event_type in KNOWN_EVENT_TYPES)
    checks.append(
        f"WHEN event_type NOT IN ({known}) THEN CONCAT('unknown event_type ', event_type)"
    )
    if days is not None:
        day = "DATE(typed_event_time)"
        checks.append(
            f"WHEN {day} < DATE '{days.first}' "
            f"THEN 'event_time before ESTORE_PARTITIONS_START ({days.first})'"
        )
        checks.append(
            f"WHEN {day} > DATE '{days.last}' "
            f"THEN 'event_time after {days.last} (today, UTC): no day partition for it yet'"
        )
    return "CASE " + " ".join(checks) + " END"


def merge_script(
    project: str,
    dataset: str,
    staging_table: str,
    source_file: str,
    generation: str | int,
    size_bytes: int | None = None,
    days: DayRange | None = None,
) -> str:
    """One BigQuery script: stage -> typed rows, then one transaction over the raw tables.
    `days`: the days that have a partition (rows of other days are rejected)."""
    raw = f"`{project}.{dataset}"
    events, rejects, manifest = f"{raw}.events`", f"{raw}.load_rejects`", f"{raw}.load_manifest`"
    pending = f"{raw}.pending_days`"
    staged = f"`{project}.{dataset}.{staging_table}`"
    file_, version = _literal(source_file), _literal(str(generation))
    size = "NULL" if size_bytes is None else str(int(size_bytes))
    typed_columns = ",\n    ".join(f"{expr} AS typed_{col}" for col, expr in _TYPED.items())
    raw_line = ", ".join(f"IFNULL({column}, '')" for column in SOURCE_COLUMNS)
    clean_columns = ", ".join(SOURCE_COLUMNS)
    typed_select = ", ".join(f"typed_{column}" for column in SOURCE_COLUMNS)
    return f"""
-- Typed view of the staged file (temp tables live for this script only; OR REPLACE because
-- the bqemulator keeps them between scripts).
CREATE OR REPLACE TEMP TABLE typed AS
SELECT
    *,
    {_reason_sql(days)} AS reject_reason
FROM (
  SELECT
    s.*,
    {typed_columns},
    ROW_NUMBER() OVER () AS source_line,
    ARRAY_TO_STRING([{raw_line}], ',') AS raw_line
  FROM {staged} AS s
);

BEGIN TRANSACTION;

-- Days to rebuild: those the replaced version covered (its manifest row) and the new rows' days,
-- so a day a corrected file empties is rebuilt (emptied) too.
INSERT INTO {pending} (day, source_file, source_version, recorded_at)
SELECT d, {file_}, {version}, CURRENT_TIMESTAMP()
FROM (
  SELECT d FROM {manifest} AS m, UNNEST(m.event_dates) AS d WHERE m.source_file = {file_}
  UNION DISTINCT
  SELECT DATE(typed_event_time) AS d FROM typed WHERE reject_reason IS NULL
);

-- A new version of the file replaces every row of the previous one.
DELETE FROM {events} WHERE source_file = {file_};
DELETE FROM {rejects} WHERE source_file = {file_};

INSERT INTO {events} ({clean_columns}, source_file, source_version, source_line, loaded_at)
SELECT {typed_select}, {file_}, {version}, source_line, CURRENT_TIMESTAMP()
FROM typed
WHERE reject_reason IS NULL;

INSERT INTO {rejects} (source_file, source_version, source_line, reason, raw_line, rejected_at)
SELECT {file_}, {version}, source_line, reject_reason, raw_line, CURRENT_TIMESTAMP()
FROM typed
WHERE reject_reason IS NOT NULL;

MERGE {manifest} AS m
USING (
  SELECT
    {file_} AS source_file,
    {version} AS source_version,
    COUNTIF(reject_reason IS NULL) AS rows_loaded,
    COUNTIF(reject_reason IS NOT NULL) AS rows_rejected,
    MIN(IF(reject_reason IS NULL, DATE(typed_event_time), NULL)) AS min_event_date,
    MAX(IF(reject_reason IS NULL, DATE(typed_event_time), NULL)) AS max_event_date,
    ARRAY(
      SELECT DISTINCT DATE(typed_event_time) FROM typed WHERE reject_reason IS NULL ORDER BY 1
    ) AS event_dates
  FROM typed
) AS f
ON m.source_file = f.source_file
WHEN MATCHED THEN UPDATE SET
  source_version = f.source_version, status = 'loaded', error = NULL,
  loaded_version = f.source_version, size_bytes = {size}, rows_loaded = f.rows_loaded,
  rows_rejected = f.rows_rejected, min_event_date = f.min_event_date,
  max_event_date = f.max_event_date, event_dates = f.event_dates,
  loaded_at = CURRENT_TIMESTAMP(), attempted_at = CURRENT_TIMESTAMP()
WHEN NOT MATCHED THEN INSERT (
  source_file, source_version, status, error, loaded_version, size_bytes, rows_loaded,
  rows_rejected, min_event_date, max_event_date, event_dates, loaded_at, attempted_at
) VALUES (
  f.source_file, f.source_version, 'loaded', NULL, f.source_version, {size}, f.rows_loaded,
  f.rows_rejected, f.min_event_date, f.max_event_date, f.event_dates, CURRENT_TIMESTAMP(),
  CURRENT_TIMESTAMP()
);

COMMIT TRANSACTION;
""".strip()


def raw_tables_ddl(project: str, dataset: str) -> str:
    """The raw tables, created once before the first load (DDL cannot run in a transaction).

    raw.events is partitioned by event day (daily models prune to their window) and clustered by
    source_file (a reload's DELETE reads only that file's blocks).
    """
    raw = f"`{project}.{dataset}"
    columns = ",\n  ".join(f"{name} {type_}" for name, type_ in SOURCE_COLUMNS_BIGQUERY.items())
    return f"""
CREATE TABLE IF NOT EXISTS {raw}.events` (
  {columns},
  source_file STRING NOT NULL,
  source_version STRING NOT NULL,
  source_line INT64 NOT NULL,
  loaded_at TIMESTAMP NOT NULL
)
PARTITION BY DATE(event_time)
CLUSTER BY source_file;

CREATE TABLE IF NOT EXISTS {raw}.load_rejects` (
  source_file STRING NOT NULL,
  source_version STRING NOT NULL,
  source_line INT64,
  reason STRING NOT NULL,
  raw_line STRING,
  rejected_at TIMESTAMP NOT NULL
)
CLUSTER BY source_file;

CREATE TABLE IF NOT EXISTS {raw}.load_manifest` (
  source_file STRING NOT NULL,
  source_version STRING NOT NULL,
  status STRING NOT NULL,
  error STRING,
  loaded_version STRING,
  size_bytes INT64,
  rows_loaded INT64 NOT NULL,
  rows_rejected INT64 NOT NULL,
  min_event_date DATE,
  max_event_date DATE,
  event_dates ARRAY<DATE>,
  loaded_at TIMESTAMP,
  attempted_at TIMESTAMP NOT NULL
);

-- Days whose raw rows changed and whose models have not been rebuilt since (raw.pending_days
-- locally): written by the merge transaction, cleared by the daily build.
CREATE TABLE IF NOT EXISTS {raw}.pending_days` (
  day DATE NOT NULL,
  source_file STRING NOT NULL,
  source_version STRING NOT NULL,
  recorded_at TIMESTAMP NOT NULL
);
""".strip()


# Parameterised statements (values never pasted into SQL): the tables are the raw dataset's.


def manifest_row_sql(project: str, dataset: str) -> str:
    """The manifest row of @source_file (none before its first load)."""
    return (
        "SELECT source_version, status, loaded_version, rows_loaded, rows_rejected, event_dates "
        f"FROM `{project}.{dataset}.load_manifest` WHERE source_file = @source_file"
    )


def pending_since_sql(project: str, dataset: str) -> str:
    """Each pending day with the time of its latest change (like pending.pending_since)."""
    return (
        "SELECT day, MAX(recorded_at) AS recorded_at "
        f"FROM `{project}.{dataset}.pending_days` GROUP BY day ORDER BY day"
    )


def clear_pending_sql(project: str, dataset: str) -> str:
    """Forget the days in [@start_day, @end_day) recorded before the build started."""
    return (
        f"DELETE FROM `{project}.{dataset}.pending_days` "
        "WHERE day >= @start_day AND day < @end_day AND recorded_at < @recorded_before"
    )


def failed_load_sql(project: str, dataset: str) -> str:
    """Record that @source_version of @source_file could not be loaded (@error says why); the
    rows of the version loaded before, if any, stay (like the DuckDB loader)."""
    return f"""
MERGE `{project}.{dataset}.load_manifest` AS m
USING (SELECT @source_file AS source_file) AS f
ON m.source_file = f.source_file
WHEN MATCHED THEN UPDATE SET
  source_version = @source_version, status = 'failed', error = @error,
  attempted_at = CURRENT_TIMESTAMP()
WHEN NOT MATCHED THEN INSERT (
  source_file, source_version, status, error, rows_loaded, rows_rejected, attempted_at
) VALUES (
  @source_file, @source_version, 'failed', @error, 0, 0, CURRENT_TIMESTAMP()
)
""".strip()
