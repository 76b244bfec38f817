"""The BigQuery ingest path without BigQuery: a stub stands in for `google.cloud.bigquery.Client`
only (it records every request and answers with canned rows, and answers 409 Conflict for a job
id it has seen, as BigQuery does). Everything above it is real: the request objects built by
lib/ingest/bigquery_load.py, the orchestration in lib/ingest/bigquery_ingest.py, the Dagster
resource and a real run of the ingest_file job."""

from __future__ import annotations

import gzip
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import dagster as dg
import pytest
from google.api_core.exceptions import BadRequest, Conflict
from google.cloud import bigquery

from dagster_project.defs.ingest.assets import (
    LANDING_EVENTS,
    RAW_EVENTS,
    ingest_file,
    ingest_file_job,
)
from dagster_project.defs.ingest.resources import BigQueryWarehouse, LandingBucket
from dagster_project.lib.ingest import bigquery_ingest
from dagster_project.lib.ingest.bigquery_load import (
    clear_pending_sql,
    failed_load_sql,
    load_job_config,
    load_job_id,
    manifest_row_sql,
    merge_script,
    pending_since_sql,
    raw_tables_ddl,
    staging_table_id,
)
from dagster_project.lib.ingest.bucket import ObjectInfo
from dagster_project.lib.ingest.loader import FAILED, LOADED, SKIPPED
from dagster_project.lib.ingest.schema import EXPECTED_HEADER
from dagster_project.lib.settings import Settings

PROJECT, DATASET, LOCATION = "estore-test", "estore_raw", "EU"
RAW = bigquery_ingest.RawDataset(PROJECT, DATASET, LOCATION)
KEY = "landing/events/2019-Oct.csv"
URI = f"gs://estore-landing/{KEY}"
OBJ = ObjectInfo(key=KEY, version="1700000000000002", size=5_700, updated=0.0)
DESTINATION = f"{PROJECT}.{DATASET}.{staging_table_id(KEY)}"
JOB_ID = load_job_id(DESTINATION, URI, OBJ.version)
OCT_1, OCT_2, OCT_3 = date(2019, 10, 1), date(2019, 10, 2), date(2019, 10, 3)
HEADER = EXPECTED_HEADER.encode()


def manifest_row(version: str, loaded: int, rejected: int, dates: list[date]) -> dict:
    return {
        "source_version": version,
        "status": "loaded",
        "loaded_version": version,
        "rows_loaded": loaded,
        "rows_rejected": rejected,
        "event_dates": dates,
    }


@dataclass
class StubJob:
    job_id: str | None = None
    rows: list = field(default_factory=list)
    error: Exception | None = None
    output_rows: int | None = None
    num_dml_affected_rows: int | None = None

    def result(self):
        if self.error is not None:
            raise self.error
        return iter(self.rows)


@dataclass
class Request:
    kind: str  # query | load | get_job
    sql: str | None = None
    job_config: object = None
    location: str | None = None
    job_id: str | None = None
    uri: str | None = None
    destination: str | None = None

    def params(self) -> dict:
        return {
            p.name: (p.type_, p.value) for p in getattr(self.job_config, "query_parameters", [])
        }


class StubClient:
    """Records requests; the manifest row changes when the merge script runs (canned)."""

    project, location = PROJECT, LOCATION

    def __init__(self, before=None, after=None, load_error=None, staged_rows=None, pending=()):
        self.manifest = before
        self.after = after
        self.load_error = load_error
        self.staged_rows = staged_rows
        self.pending = list(pending)
        self.jobs: dict[str, StubJob] = {}
        self.requests: list[Request] = []

    def query(self, sql, job_config=None, location=None, **_):
        self.requests.append(Request("query", sql=sql, job_config=job_config, location=location))
        if sql.startswith("SELECT source_version"):
            return StubJob(rows=[self.manifest] if self.manifest else [])
        if "BEGIN TRANSACTION" in sql:
            self.manifest = self.after
        if sql.startswith("SELECT day"):
            return StubJob(rows=[{"day": d, "recorded_at": t} for d, t in self.pending])
        if sql.startswith("DELETE"):
            return StubJob(num_dml_affected_rows=2)
        return StubJob()

    def load_table_from_uri(self, uri, destination, job_id=None, job_config=None, location=None):
        self.requests.append(
            Request(
                "load",
                job_config=job_config,
                location=location,
                job_id=job_id,
                uri=uri,
                destination=destination,
            )
        )
        if job_id in self.jobs:
            raise Conflict(f"Already Exists: Job {PROJECT}:{location}.{job_id}")
        self.jobs[job_id] = StubJob(job_id, error=self.load_error, output_rows=self.staged_rows)
        return self.jobs[job_id]

    def get_job(self, job_id, location=None):
        self.requests.append(Request("get_job", job_id=job_id, location=location))
        return self.jobs[job_id]

    def sqls(self) -> list[str]:
        return [r.sql for r in self.requests if r.kind == "query"]


def first_load_client(**kwargs) -> StubClient:
    after = manifest_row(OBJ.version, 9, 1, [OCT_2, OCT_3])
    return StubClient(before=None, after=after, staged_rows=10, **kwargs)


def test_first_load_submits_the_exact_requests_in_order():
    client = first_load_client()
    result = bigquery_ingest.load_object(client, RAW, OBJ, URI)

    assert [r.kind for r in client.requests] == ["query", "query", "load", "query", "query"]
    ddl, before, load, merge, after = client.requests
    assert ddl.sql == raw_tables_ddl(PROJECT, DATASET)
    assert before.sql == after.sql == manifest_row_sql(PROJECT, DATASET)
    assert before.params() == after.params() == {"source_file": ("STRING", KEY)}
    assert load.uri == URI and load.destination == DESTINATION and load.job_id == JOB_ID
    assert load.job_config.to_api_repr() == load_job_config().to_api_repr()
    assert merge.sql == merge_script(
        PROJECT, DATASET, staging_table_id(KEY), KEY, OBJ.version, 5_700
    )
    assert {r.location for r in client.requests} == {LOCATION}

    assert result.status == LOADED
    assert (result.rows_loaded, result.rows_rejected, result.size_bytes) == (9, 1, 5_700)
    assert result.event_dates == [OCT_2, OCT_3]
    assert result.touched_dates == [OCT_2, OCT_3]


def test_a_reload_replaces_the_previous_version_and_touches_its_days_too():
    client = StubClient(
        before=manifest_row("1700000000000001", 5, 0, [OCT_1, OCT_2]),
        after=manifest_row(OBJ.version, 3, 0, [OCT_2]),
        staged_rows=3,
    )
    result = bigquery_ingest.load_object(client, RAW, OBJ, URI)
    assert result.status == LOADED
    assert result.replaced_dates == [OCT_1, OCT_2]
    assert result.touched_dates == [OCT_1, OCT_2]  # Oct 1 emptied: rebuilt (emptied) too


def test_a_retry_finds_the_load_job_by_its_id_and_never_loads_twice():
    client = first_load_client()
    # The first attempt submitted the job, then died before the merge committed.
    client.load_table_from_uri(URI, DESTINATION, job_id=JOB_ID, job_config=load_job_config())
    client.requests.clear()

    result = bigquery_ingest.load_object(client, RAW, OBJ, URI)

    assert [r.kind for r in client.requests] == [
        "query",
        "query",
        "load",
        "get_job",
        "query",
        "query",
    ]
    assert client.requests[2].job_id == client.requests[3].job_id == JOB_ID
    assert list(client.jobs) == [JOB_ID]  # one load job ever
    assert result.status == LOADED and result.rows_loaded == 9


def test_a_version_already_loaded_is_skipped_without_any_job():
    client = StubClient(before=manifest_row(OBJ.version, 9, 1, [OCT_2]))
    result = bigquery_ingest.load_object(client, RAW, OBJ, URI)
    assert result.status == SKIPPED and result.rows_loaded == 9
    assert [r.kind for r in client.requests] == ["query", "query"]  # DDL, manifest


def test_a_malformed_file_fails_and_is_recorded_not_merged():
    error = BadRequest("Error while reading data, error message: too many fields, line 7")
    client = first_load_client(load_error=error)
    result = bigquery_ingest.load_object(client, RAW, OBJ, URI)
    assert result.status == FAILED and "line 7" in result.error and JOB_ID in result.error
    failed = client.requests[-1]
    assert failed.sql == failed_load_sql(PROJECT, DATASET)
    assert failed.params() == {
        "source_file": ("STRING", KEY),
        "source_version": ("STRING", OBJ.version),
        "error": ("STRING", result.error),
    }
    assert not any("BEGIN TRANSACTION" in sql for sql in client.sqls())


def test_a_file_without_the_rees46_header_fails_before_any_load_job():
    client = first_load_client()
    head = b"event_time,event_type,category_id,product_id,category_code,brand,price,user_id\n"
    result = bigquery_ingest.load_object(client, RAW, OBJ, URI, read_head=lambda: head)
    assert result.status == FAILED and result.error.startswith("wrong header")
    assert [r.kind for r in client.requests] == ["query", "query", "query"]  # DDL, row, failed
    assert client.requests[-1].sql == failed_load_sql(PROJECT, DATASET)


@pytest.mark.parametrize(
    ("key", "head", "problem"),
    [
        ("a.csv", HEADER + b"\r\nrow", None),
        ("a.csv", b"\xef\xbb\xbf" + HEADER + b"\n", None),  # a BOM is tolerated
        ("a.csv.gz", gzip.compress(HEADER + b"\nrow\n" * 1000)[:200], None),  # a prefix
        ("a.csv", b"", "empty file"),
        ("a.csv.gz", HEADER, "not gzip"),
        ("a.csv", HEADER.replace(b"brand", b"make") + b"\n", "wrong header"),
    ],
)
def test_header_problem(key, head, problem):
    found = bigquery_ingest.header_problem(key, head)
    assert found == problem if problem is None else found.startswith(problem)


def test_an_object_overwritten_during_the_load_is_left_to_its_newer_run():
    client = first_load_client()
    result = bigquery_ingest.load_object(client, RAW, OBJ, URI, still_current=lambda: False)
    assert result.status == SKIPPED and result.error == bigquery_ingest.SUPERSEDED
    assert not any("BEGIN TRANSACTION" in sql for sql in client.sqls())


def test_staged_rows_must_reconcile_with_loaded_plus_rejected():
    client = first_load_client()
    client.staged_rows = 11  # one row vanished between the staging table and raw
    with pytest.raises(RuntimeError, match="11 staged rows but 9 loaded \\+ 1 rejected"):
        bigquery_ingest.load_object(client, RAW, OBJ, URI)


def test_pending_days_are_read_and_cleared_with_typed_parameters():
    at = datetime(2019, 10, 5, 12, 0, tzinfo=UTC)
    client = StubClient(pending=[(OCT_2, at)])
    assert bigquery_ingest.pending_since(client, RAW) == [(OCT_2, at.replace(tzinfo=None))]
    assert client.requests[0].sql == pending_since_sql(PROJECT, DATASET)

    started = datetime(2019, 10, 6, 8, 30)  # naive UTC, as the DuckDB path takes it
    cleared = bigquery_ingest.clear_pending_days(client, RAW, OCT_1, OCT_3, started)
    assert cleared == 2
    clear = client.requests[-1]
    assert clear.sql == clear_pending_sql(PROJECT, DATASET)
    assert clear.params() == {
        "start_day": ("DATE", OCT_1),
        "end_day": ("DATE", OCT_3),
        "recorded_before": ("TIMESTAMP", started.replace(tzinfo=UTC)),
    }


# ---- The Dagster side: the resource and a real run of the ingest job on the stub client ----


class StubBucket:
    uri = "gs://estore-landing"

    def read_head(self, key, version):
        assert (key, version) == (KEY, OBJ.version)
        return HEADER + b"\n2019-10-02 00:00:00 UTC,view,1,2,,,1.00,3,s\n"

    def object_info(self, key):
        return OBJ if key == KEY else None

    def local_path(self, key):
        return None

    def uri_for(self, key):
        return f"{self.uri}/{key}"


class StubLanding(LandingBucket):
    def open(self):
        return StubBucket()


CLIENT: dict[str, StubClient] = {}


class StubClientWarehouse(BigQueryWarehouse):
    """The real BigQueryWarehouse with only its client swapped for the stub."""

    def client(self):
        return nullcontext(CLIENT["client"])


def test_ingest_job_on_bigquery_reports_the_days_like_the_duckdb_path():
    recorded = datetime.now(UTC).replace(tzinfo=None)
    CLIENT["client"] = first_load_client(pending=[(OCT_2, recorded), (OCT_3, recorded)])
    resources = {
        "landing": StubLanding(
            uri="gs://estore-landing",
            prefix="landing/events/",
            settle_seconds=0,
            max_files_per_tick=1,
        ),
        "warehouse": StubClientWarehouse(project=PROJECT, location=LOCATION, raw_dataset=DATASET),
    }
    config = {"ops": {"ingest_file": {"config": {"key": KEY, "version": OBJ.version}}}}
    with dg.DagsterInstance.ephemeral() as instance:
        job = dg.Definitions(
            assets=[ingest_file], jobs=[ingest_file_job], resources=resources
        ).resolve_job_def(ingest_file_job.name)
        result = job.execute_in_process(run_config=config, instance=instance)
    assert result.success
    materialized = result.asset_materializations_for_node("ingest_file")
    assert {(m.asset_key, m.partition) for m in materialized} == {
        (RAW_EVENTS, "2019-10-02"),
        (RAW_EVENTS, "2019-10-03"),
    }
    metadata = materialized[0].metadata
    assert metadata["status"].value == LOADED
    assert metadata["rows_loaded"].value == 9 and metadata["rows_rejected"].value == 1
    assert metadata["first_date"].value == "2019-10-02" and metadata["days_touched"].value == 2
    observations = result.asset_observations_for_node("ingest_file")
    assert [o.asset_key for o in observations] == [LANDING_EVENTS]
    load = next(r for r in CLIENT["client"].requests if r.kind == "load")
    assert load.job_id == JOB_ID and load.uri == URI
    (merge,) = [r for r in CLIENT["client"].requests if "BEGIN TRANSACTION" in (r.sql or "")]
    start = Settings.from_env().partitions_start  # rows before the first partition: rejected
    assert f"THEN 'event_time before ESTORE_PARTITIONS_START ({start})'" in merge.sql


def test_bigquery_warehouse_clears_pending_days_in_the_raw_dataset():
    CLIENT["client"] = StubClient()
    warehouse = StubClientWarehouse(project=PROJECT, location=LOCATION, raw_dataset=DATASET)
    assert warehouse.clear_pending_days(OCT_1, OCT_2, datetime(2019, 10, 2, tzinfo=UTC)) == 2
    (clear,) = CLIENT["client"].requests
    assert clear.sql == clear_pending_sql(PROJECT, DATASET) and clear.location == LOCATION


def test_bigquery_warehouse_makes_its_client_with_dagster_gcps_resource(monkeypatch):
    """Outside tests the client comes from dagster_gcp.BigQueryResource on the settings'
    project and location (no request is made to build one)."""
    import dagster_gcp

    made = []

    class Recording(dagster_gcp.BigQueryResource):
        def get_client(self):
            made.append((self.project, self.location))
            return nullcontext("client")

    monkeypatch.setattr(dagster_gcp, "BigQueryResource", Recording)
    warehouse = BigQueryWarehouse(project=PROJECT, location=LOCATION, raw_dataset=DATASET)
    with warehouse.client() as client:
        assert client == "client"
    assert made == [(PROJECT, LOCATION)]


def test_stub_client_is_shaped_like_the_real_one():
    """The stub's methods exist on bigquery.Client with the keywords used here."""
    import inspect

    for name, keywords in {
        "query": {"job_config", "location"},
        "load_table_from_uri": {"job_id", "job_config", "location"},
        "get_job": {"location"},
    }.items():
        assert keywords <= set(inspect.signature(getattr(bigquery.Client, name)).parameters)
