"""The raw-layer contract: the input file format and the tables the loader writes."""

from __future__ import annotations

# The exact REES46 header, in order.
EXPECTED_HEADER = (
    "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session"
)
SOURCE_COLUMNS: dict[str, str] = {
    "event_time": "TIMESTAMP",
    "event_type": "VARCHAR",
    "product_id": "BIGINT",
    "category_id": "BIGINT",  # 19 digits: needs 64 bits
    "category_code": "VARCHAR",
    "brand": "VARCHAR",
    "price": "DECIMAL(18,2)",
    "user_id": "BIGINT",
    "user_session": "VARCHAR",
}
# BigQuery types of the same columns, for the declared load-job schema (never autodetect).
SOURCE_COLUMNS_BIGQUERY: dict[str, str] = {
    "event_time": "TIMESTAMP",
    "event_type": "STRING",
    "product_id": "INT64",
    "category_id": "INT64",
    "category_code": "STRING",
    "brand": "STRING",
    "price": "NUMERIC",
    "user_id": "INT64",
    "user_session": "STRING",
}
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S UTC"
KNOWN_EVENT_TYPES = ("view", "cart", "remove_from_cart", "purchase")
REQUIRED_COLUMNS = ("event_time", "event_type", "product_id", "user_id")

RAW_SCHEMA = "raw"
EVENTS_TABLE = f"{RAW_SCHEMA}.events"
REJECTS_TABLE = f"{RAW_SCHEMA}.load_rejects"
MANIFEST_TABLE = f"{RAW_SCHEMA}.load_manifest"
PENDING_TABLE = f"{RAW_SCHEMA}.pending_days"

DDL = f"""
create schema if not exists {RAW_SCHEMA};
create table if not exists {EVENTS_TABLE} (
    {", ".join(f"{name} {type_}" for name, type_ in SOURCE_COLUMNS.items())},
    source_file varchar not null,
    source_version varchar not null,
    source_line bigint not null,
    loaded_at timestamp not null        -- UTC
);
create table if not exists {REJECTS_TABLE} (
    source_file varchar not null,
    source_version varchar not null,
    source_line bigint,
    reason varchar not null,
    raw_line varchar,
    rejected_at timestamp not null
);
create table if not exists {MANIFEST_TABLE} (
    source_file varchar primary key,
    source_version varchar not null,    -- the newest version seen (loaded or failed)
    status varchar not null,            -- loaded | failed
    error varchar,                      -- why the newest version failed
    loaded_version varchar,             -- the version whose rows are in raw.events
    size_bytes bigint,
    rows_loaded bigint not null,
    rows_rejected bigint not null,
    min_event_date date,
    max_event_date date,
    event_dates date[],                 -- every day the loaded version touched
    loaded_at timestamp,
    attempted_at timestamp not null
);
-- Days whose raw rows changed and whose models have not been rebuilt since: written in the
-- load's transaction, cleared by the build (so a crash between the two loses nothing).
create table if not exists {PENDING_TABLE} (
    day date not null,
    source_file varchar not null,
    source_version varchar not null,
    recorded_at timestamp not null      -- UTC, like every timestamp in raw
);
"""
