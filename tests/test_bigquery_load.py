"""BigQuery loads are built by pure functions: the load-job request and the merge script are
checked here field by field and parsed as BigQuery SQL (BigQuery itself is not reachable)."""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp

from dagster_project.lib.ingest.bigquery_load import (
    MAX_JOB_ID_LENGTH,
    load_job_config,
    load_job_id,
    merge_script,
    raw_tables_ddl,
    staging_table_id,
)
from dagster_project.lib.ingest.schema import SOURCE_COLUMNS

TABLE = "estore-analytics.estore_raw.stg_load_x"
URI = "gs://estore-landing/landing/events/2019-Oct.csv"
SAFE_ID = re.compile(r"[A-Za-z0-9_-]+")


def test_load_job_config_request_field_by_field():
    load = load_job_config().to_api_repr()["load"]
    assert load["schema"] == {
        "fields": [{"name": name, "type": "STRING", "mode": "NULLABLE"} for name in SOURCE_COLUMNS]
    }
    assert load["sourceFormat"] == "CSV"
    assert load["autodetect"] is False
    assert load["skipLeadingRows"] == "1"  # the API carries it as a string
    assert load["allowJaggedRows"] is False
    assert load["allowQuotedNewlines"] is False
    assert load["ignoreUnknownValues"] is False
    assert load["maxBadRecords"] == 0
    assert load["writeDisposition"] == "WRITE_TRUNCATE"
    assert load["createDisposition"] == "CREATE_IF_NEEDED"
    assert load["fieldDelimiter"] == ","
    assert load["quote"] == '"'
    assert load["encoding"] == "UTF-8"
    assert set(load) == {
        "schema", "sourceFormat", "autodetect", "skipLeadingRows", "allowJaggedRows",
        "allowQuotedNewlines", "ignoreUnknownValues", "maxBadRecords", "writeDisposition",
        "createDisposition", "fieldDelimiter", "quote", "encoding",
    }  # fmt: skip


def test_load_job_id_is_stable_safe_and_changes_with_the_generation():
    first = load_job_id(TABLE, URI, "1700000000000001")
    assert first == load_job_id(TABLE, URI, "1700000000000001")  # a retry reuses the id
    assert first == load_job_id(TABLE, URI, 1700000000000001)
    assert first != load_job_id(TABLE, URI, "1700000000000002")  # an overwrite is a new load
    assert first != load_job_id(TABLE + "2", URI, "1700000000000001")
    assert first != load_job_id(TABLE, URI + ".gz", "1700000000000001")
    assert SAFE_ID.fullmatch(first), first
    assert "2019-Oct_csv" in first  # readable in the job list


def test_load_job_id_of_long_or_odd_names_stays_valid_and_distinct():
    long_uri = "gs://b/" + "ä/ü path with spaces & symbols!/" * 200 + "x.csv"
    job_id = load_job_id(TABLE, long_uri, "7")
    assert SAFE_ID.fullmatch(job_id) and len(job_id) <= MAX_JOB_ID_LENGTH
    # Names that sanitize to the same text still get different ids (the hash is of the raw name).
    assert load_job_id(TABLE, "gs://b/a b.csv", "1") != load_job_id(TABLE, "gs://b/a_b.csv", "1")


def test_staging_table_is_per_file_and_valid():
    one = staging_table_id("landing/events/2019-Oct.csv")
    assert one == staging_table_id("landing/events/2019-Oct.csv")
    assert one != staging_table_id("landing/events/2019-Nov.csv")
    assert re.fullmatch(r"[A-Za-z0-9_]+", one) and len(one) <= 1024


def _script(source_file: str = "landing/events/2019-Oct.csv") -> str:
    return merge_script(
        "estore-analytics", "estore_raw", "stg_load_x", source_file, "1700000000000001", 1234
    )


def test_merge_script_is_one_transaction_that_parses_as_bigquery():
    statements = [s for s in sqlglot.parse(_script(), read="bigquery") if s is not None]
    kinds = [type(statement).__name__ for statement in statements]
    assert kinds[0] == "Create"  # temp table of typed rows, before the transaction
    begin = kinds.index("Transaction")
    assert kinds[begin:] == [
        "Transaction",
        "Insert",  # pending days
        "Delete",
        "Delete",
        "Insert",
        "Insert",
        "Merge",
        "Commit",
    ]


def test_merge_script_replaces_the_files_rows_and_keeps_rejects_with_reasons():
    script = _script()
    statements = [s for s in sqlglot.parse(script, read="bigquery") if s is not None]
    deletes = [s for s in statements if isinstance(s, exp.Delete)]
    assert {d.this.name for d in deletes} == {"events", "load_rejects"}
    for delete in deletes:
        assert (
            delete.args["where"].this.sql("bigquery")
            == "source_file = 'landing/events/2019-Oct.csv'"
        )
    inserts = {s.this.this.name: s for s in statements if isinstance(s, exp.Insert)}
    assert set(inserts) == {"pending_days", "events", "load_rejects"}
    assert "WHERE reject_reason IS NULL" in inserts["events"].sql("bigquery")
    assert "WHERE NOT reject_reason IS NULL" in inserts["load_rejects"].sql("bigquery")
    (merge,) = [s for s in statements if isinstance(s, exp.Merge)]
    assert merge.this.name == "load_manifest"
    # Exact formats and safe casts: a bad value becomes a reject, never a failed script.
    assert "SAFE.PARSE_TIMESTAMP('%Y-%m-%d %H:%M:%S UTC', event_time)" in script
    assert "SAFE_CAST(product_id AS INT64)" in script
    for reason in ("'missing event_time'", "'bad price'", "'unknown event_type '"):
        assert reason in script


def test_merge_script_escapes_the_object_name():
    script = _script("landing/events/o'brien\\x.csv")
    assert "'landing/events/o\\'brien\\\\x.csv'" in script
    statements = [s for s in sqlglot.parse(script, read="bigquery") if s is not None]
    (delete, *_) = [s for s in statements if isinstance(s, exp.Delete)]
    assert delete.args["where"].this.expression.this == "landing/events/o'brien\\x.csv"


def test_raw_tables_ddl_parses_and_partitions_events_by_day():
    ddl = raw_tables_ddl("estore-analytics", "estore_raw")
    statements = sqlglot.parse(ddl, read="bigquery")
    assert [s.this.this.name for s in statements] == [
        "events",
        "load_rejects",
        "load_manifest",
        "pending_days",
    ]
    assert "PARTITION BY DATE(event_time)" in statements[0].sql("bigquery")
    # The merge script writes exactly the columns the DDL declares.
    events_columns = [c.name for c in statements[0].this.expressions]
    assert events_columns[: len(SOURCE_COLUMNS)] == list(SOURCE_COLUMNS)
    script = _script()
    assert f"({', '.join(events_columns)})" in script


def test_merge_records_the_replaced_and_the_new_days_as_pending_before_replacing():
    """Inside the transaction and before the DELETEs: the previous version's days (from its
    manifest row) and the new rows' days, so a day the new version empties is rebuilt too."""
    statements = [s for s in sqlglot.parse(_script(), read="bigquery") if s is not None]
    begin = next(i for i, s in enumerate(statements) if isinstance(s, exp.Transaction))
    pending = statements[begin + 1]
    assert isinstance(pending, exp.Insert) and pending.this.this.name == "pending_days"
    (union,) = list(pending.find_all(exp.Union))
    assert union.args.get("distinct") is not False
    old_days, new_days = union.left, union.right
    assert {t.name for t in old_days.find_all(exp.Table)} == {"load_manifest"}
    assert isinstance(old_days.find(exp.Unnest), exp.Unnest)
    assert "m.source_file = 'landing/events/2019-Oct.csv'" in old_days.sql("bigquery")
    assert {t.name for t in new_days.find_all(exp.Table)} == {"typed"}
    assert "reject_reason IS NULL" in new_days.sql("bigquery")


def test_small_statements_are_parameterised_bigquery():
    from dagster_project.lib.ingest.bigquery_load import (
        clear_pending_sql,
        failed_load_sql,
        manifest_row_sql,
        pending_since_sql,
    )

    builders = (manifest_row_sql, pending_since_sql, clear_pending_sql, failed_load_sql)
    for build in builders:
        sql = build("estore-analytics", "estore_raw")
        (statement,) = sqlglot.parse(sql, read="bigquery")
        assert {t.name for t in statement.find_all(exp.Table)} <= {
            "load_manifest",
            "pending_days",
        }
        assert "'" not in sql.replace("'failed'", "")  # values come as @parameters only
    clear = sqlglot.parse_one(clear_pending_sql("p", "d"), read="bigquery")
    assert {p.name for p in clear.find_all(exp.Parameter)} == {
        "start_day",
        "end_day",
        "recorded_before",
    }


def test_rows_of_days_without_a_partition_are_rejected_with_the_duckdb_reasons():
    from datetime import date

    from dagster_project.lib.ingest.parse import DayRange

    days = DayRange(date(2019, 10, 1), date(2019, 10, 31))
    script = merge_script("p", "estore_raw", "stg", "f.csv", "1", 1, days)
    sqlglot.parse(script, read="bigquery")
    assert (
        "WHEN DATE(typed_event_time) < DATE '2019-10-01' "
        "THEN 'event_time before ESTORE_PARTITIONS_START (2019-10-01)'"
    ) in script
    assert "WHEN DATE(typed_event_time) > DATE '2019-10-31' THEN 'event_time after" in script
    assert "ESTORE_PARTITIONS_START" not in _script()  # no range given, no such check
