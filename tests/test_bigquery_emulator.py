"""The BigQuery ingest path against a BigQuery emulator running as a real HTTP server.

`bqemulator` (PyPI; DuckDB behind BigQuery's REST API, GoogleSQL translated by sqlglot) runs in
its own virtualenv (`make bqemulator`, .venv-bqemulator) and serves gs:// URIs from a local
folder. The real google-cloud-bigquery client talks to it, so the load job (explicit schema,
deterministic id), the merge transaction, the parameterised queries and the read-back run for
real: rows land, a reload replaces the file's rows and records the replaced days, a retry loads
nothing twice, a bad file is recorded as failed.

It is an emulator, not BigQuery: what it proves is that the requests are well-formed and the
SQL runs with BigQuery semantics as far as the emulator implements them. Two differences found
and absorbed: ARRAY(SELECT DISTINCT ...) returns duplicates there (the loader dedupes
event_dates), and a script's temp table outlives the script (the merge uses CREATE OR REPLACE
TEMP TABLE, also valid on BigQuery).
Skipped when the emulator's virtualenv is missing (`make test` creates it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import requests
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from dagster_project.lib.ingest import bigquery_ingest
from dagster_project.lib.ingest.bucket import ObjectInfo
from dagster_project.lib.ingest.loader import FAILED, LOADED, SKIPPED
from dagster_project.lib.ingest.parse import DayRange

ROOT = Path(__file__).resolve().parents[1]
EMULATOR_VENV = ROOT / ".venv-bqemulator"
FIXTURES = Path(__file__).parent / "fixtures" / "rees46"
PROJECT, DATASET, LOCATION, BUCKET = "estore-emulator", "estore_raw", "EU", "estore-landing"
KEY = "landing/events/2019-10.csv"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    binary = EMULATOR_VENV / "bin" / "bqemulator"
    if not binary.exists():
        pytest.skip("BigQuery emulator not installed: run `make bqemulator` once")
    gcs_root = tmp_path_factory.mktemp("gcs")
    rest, grpc = _free_port(), _free_port()
    env = {
        **os.environ,
        "HOME": str(EMULATOR_VENV / "home"),  # where `make bqemulator` put DuckDB's spatial
        "BQEMU_GCS_LOCAL_ROOT": str(gcs_root),
    }
    log = (tmp_path_factory.mktemp("bqemu") / "server.log").open("w")
    process = subprocess.Popen(
        [
            str(binary),
            "start",
            "--rest-port",
            str(rest),
            "--grpc-port",
            str(grpc),
            "--project",
            PROJECT,
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{rest}"
    try:
        for _ in range(300):  # up to ~60 s on a busy machine; normally ~5 s
            if process.poll() is not None:
                pytest.fail(f"bqemulator exited: {Path(log.name).read_text()[-3000:]}")
            try:
                requests.get(f"{endpoint}/bigquery/v2/projects/{PROJECT}/datasets", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        else:
            pytest.fail("bqemulator did not start")
        yield endpoint, gcs_root
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def client(emulator) -> bigquery.Client:
    endpoint, _ = emulator
    client = bigquery.Client(
        project=PROJECT,
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=endpoint),
        location=LOCATION,
    )
    client.create_dataset(DATASET, exists_ok=True)
    return client


RAW = bigquery_ingest.RawDataset(PROJECT, DATASET, LOCATION)


def drop(gcs_root: Path, source: Path | bytes, version: str) -> tuple[ObjectInfo, str]:
    """Put a file at gs://BUCKET/KEY (the emulator's folder) as object version `version`."""
    path = gcs_root / BUCKET / KEY
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(source, bytes):
        path.write_bytes(source)
    else:
        shutil.copyfile(source, path)
    obj = ObjectInfo(key=KEY, version=version, size=path.stat().st_size, updated=0.0)
    return obj, f"gs://{BUCKET}/{KEY}"


def head_of(gcs_root: Path, key: str):
    return lambda: (gcs_root / BUCKET / key).read_bytes()[: 64 * 1024]


def scalar(client: bigquery.Client, sql: str):
    (row,) = client.query(sql, location=LOCATION).result()
    return row[0]


def lines(path: Path) -> int:
    return sum(1 for _ in path.open()) - 1  # without the header


def test_load_reload_retry_and_a_bad_file_on_the_emulator(emulator, client):
    _, gcs_root = emulator
    events = f"`{PROJECT}.{DATASET}.events`"

    october = FIXTURES / "2019-Oct-head.csv"
    obj, uri = drop(gcs_root, october, "1")
    first = bigquery_ingest.load_object(client, RAW, obj, uri, read_head=head_of(gcs_root, KEY))
    assert first.status == LOADED, first.error
    assert first.rows_loaded + first.rows_rejected == lines(october)
    assert first.event_dates == [date(2019, 10, 1)]
    assert scalar(client, f"select count(*) from {events}") == first.rows_loaded
    pending = bigquery_ingest.pending_since(client, RAW)
    assert [day for day, _ in pending] == [date(2019, 10, 1)]

    # A retried run of the same version: nothing loaded twice.
    again = bigquery_ingest.load_object(client, RAW, obj, uri)
    assert again.status == SKIPPED
    assert scalar(client, f"select count(*) from {events}") == first.rows_loaded

    # A new version of the same object (other days): the old rows go, their day is pending.
    november = FIXTURES / "2019-Nov-head.csv"
    obj2, uri = drop(gcs_root, november, "2")
    second = bigquery_ingest.load_object(client, RAW, obj2, uri, read_head=head_of(gcs_root, KEY))
    assert second.status == LOADED, second.error
    assert second.replaced_dates == [date(2019, 10, 1)]
    assert date(2019, 10, 1) not in second.event_dates
    assert scalar(client, f"select count(*) from {events}") == second.rows_loaded
    assert scalar(client, f"select count(distinct source_version) from {events}") == 1
    pending_days = {day for day, _ in bigquery_ingest.pending_since(client, RAW)}
    assert pending_days == {date(2019, 10, 1), *second.event_dates}

    # The daily build clears what it rebuilt.
    cleared = bigquery_ingest.clear_pending_days(
        client, RAW, date(2019, 10, 1), date(2019, 10, 2), recorded_before=_utc_now()
    )
    assert cleared >= 1
    assert date(2019, 10, 1) not in {day for day, _ in bigquery_ingest.pending_since(client, RAW)}

    # A line that is not CSV (too many fields) fails the file; the loaded version stays.
    header = november.read_text().splitlines()[0]
    obj3, uri = drop(gcs_root, f"{header}\na,b,c,d,e,f,g,h,i,j,k,l\n".encode(), "3")
    bad = bigquery_ingest.load_object(client, RAW, obj3, uri)
    assert bad.status == FAILED
    manifest = client.query(
        f"select status, source_version, loaded_version from `{PROJECT}.{DATASET}.load_manifest`",
        location=LOCATION,
    ).result()
    assert [tuple(row.values()) for row in manifest] == [("failed", "3", "2")]
    assert scalar(client, f"select count(*) from {events}") == second.rows_loaded


def _utc_now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


# ---- dbt's prod SQL on the emulator: a day a corrected file empties is emptied ----

DBT_DATASET = "estore_dbt"  # dbt's sources read `<dataset>_raw`
DBT_RAW = bigquery_ingest.RawDataset(PROJECT, f"{DBT_DATASET}_raw", LOCATION)
DBT_KEY = "landing/events/corrected.csv"
OCT_1 = ("2019-10-01", "2019-10-02")


def run_daily_models(endpoint: str, tmp: Path, window: tuple[str, str]) -> None:
    """`dbt run --selector daily` for the window, through dbt-bigquery (its api_endpoint set to
    the emulator; oauth-secrets with a placeholder token: the emulator checks no credentials)."""
    import json
    import sys

    from dagster_project.lib.settings import DBT_PROJECT_DIR

    (tmp / "profiles.yml").write_text(
        json.dumps(
            {
                "estore": {
                    "target": "emulator",
                    "outputs": {
                        "emulator": {
                            "type": "bigquery",
                            "method": "oauth-secrets",
                            "token": "the-emulator-checks-no-token",
                            "project": PROJECT,
                            "dataset": DBT_DATASET,
                            "location": LOCATION,
                            "threads": 1,
                            "job_retries": 0,
                            "api_endpoint": endpoint,
                        }
                    },
                }
            }
        )
    )
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DBT_", "ESTORE_", "GOOGLE_", "GCP_"))
    }
    env.update(
        DBT_TARGET_PATH=str(tmp / "target"),
        DBT_LOG_PATH=str(tmp / "logs"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    dbt = str(Path(sys.executable).with_name("dbt"))
    result = subprocess.run(
        [
            dbt,
            "run",
            "--selector",
            "daily",
            "--vars",
            json.dumps({"min_date": window[0], "max_date": window[1]}),
            "--profiles-dir",
            str(tmp),
            "--project-dir",
            str(DBT_PROJECT_DIR),
        ],
        env=env,
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-5000:]


def rows_on(client: bigquery.Client, table: str, column: str, day: str) -> int:
    return scalar(
        client,
        f"select count(*) from `{PROJECT}.{DBT_DATASET}.{table}` where date({column}) = '{day}'",
    )


# The daily models and the time column each is partitioned on.
DAY_TABLES = [
    ("fct_events", "event_time"),
    ("fct_user_daily", "first_event_time"),
    ("fct_sessions", "session_start_time"),
    ("fct_session_products", "activity_time"),
    ("ml_user_days", "first_event_time"),
    ("ml_user_catalog", "first_event_time"),
]


def test_dbt_daily_models_replace_a_day_a_corrected_file_empties(emulator, client, tmp_path):
    endpoint, gcs_root = emulator
    client.create_dataset(DBT_DATASET, exists_ok=True)
    client.create_dataset(DBT_RAW.dataset, exists_ok=True)

    def load(source: Path, version: str):
        path = gcs_root / BUCKET / DBT_KEY
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, path)
        obj = ObjectInfo(key=DBT_KEY, version=version, size=path.stat().st_size, updated=0.0)
        result = bigquery_ingest.load_object(
            client,
            DBT_RAW,
            obj,
            f"gs://{BUCKET}/{DBT_KEY}",
            read_head=head_of(gcs_root, DBT_KEY),
            days=DayRange(date(2019, 9, 1), date(2019, 11, 30)),
        )
        assert result.status == LOADED, result.error
        return result

    first = load(FIXTURES / "2019-Oct-head.csv", "1")
    assert first.event_dates == [date(2019, 10, 1)]
    run_daily_models(endpoint, tmp_path, OCT_1)  # creates the tables
    built = {table: rows_on(client, table, column, OCT_1[0]) for table, column in DAY_TABLES}
    assert all(count > 0 for count in built.values()), built
    distinct_raw = scalar(
        client,
        "select count(*) from (select distinct event_time, event_type, product_id, category_id,"
        " category_code, brand, price, user_id, user_session"
        f" from `{PROJECT}.{DBT_RAW.dataset}.events`)",
    )
    assert built["fct_events"] == distinct_raw

    # The corrected file has no event on Oct 1 any more: the same window, now incremental
    # (delete of the window + insert; key merges and tombstones for sessions), empties the day.
    second = load(FIXTURES / "2019-Nov-head.csv", "2")
    assert second.replaced_dates == [date(2019, 10, 1)]
    run_daily_models(endpoint, tmp_path, OCT_1)
    after = {table: rows_on(client, table, column, OCT_1[0]) for table, column in DAY_TABLES}
    assert after == dict.fromkeys(built, 0), after
