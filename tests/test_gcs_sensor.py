"""The real landing sensor against a GCS bucket on gcp-storage-emulator (in-process HTTP server,
google-cloud-storage's real client, paging via the shim of tests/test_gcs_bucket.py).

2,500 objects, then overwrites, deletes, re-drops and a lost cursor: every object version is
requested exactly once (none skipped, none doubled) and nothing else is. The ingest runs
themselves are recorded as successful runs carrying the run key (what the sensor reads back
from the instance); loading gs:// files is tested elsewhere.
"""

from __future__ import annotations

import dagster as dg
import pytest
from dagster._core.storage.tags import RUN_KEY_TAG
from dagster._core.test_utils import create_run_for_test
from google.cloud import storage

# The emulator fixtures (server + paging shim), shared with the GcsBucket tests.
from test_gcs_bucket import bucket_name, client, emulator  # noqa: F401

from dagster_project.defs.ingest.resources import LandingBucket
from dagster_project.defs.ingest.sensor import landing_sensor
from dagster_project.lib.ingest.plan import ListingCursor

pytestmark = pytest.mark.slow  # ~40 s of CPU: select out with -m "not slow" when iterating

PREFIX = "landing/events/"
# The 2,500: 41 s of CPU (user+sys, emulator included), so about that wall time on an
# idle 2-core runner; 277 s wall measured here at load average 12. Lower it to shrink the suite.
OBJECTS = 2_500
CAP = 250  # files requested per tick (ESTORE_MAX_FILES_PER_TICK)


def tick(instance, bucket: str, cursor: str | None) -> tuple[list[dg.RunRequest], str | None]:
    landing = LandingBucket(
        uri=f"gs://{bucket}", prefix=PREFIX, settle_seconds=0, max_files_per_tick=CAP
    )
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"landing": landing}
    ) as context:
        data = landing_sensor.evaluate_tick(context)
    return list(data.run_requests or []), data.cursor


def drain(instance, bucket: str, cursor: str | None = None) -> tuple[list[str], str | None]:
    """Tick until a full pass requests nothing; each request becomes a successful run."""
    requested: list[str] = []
    for _ in range(100):
        requests, cursor = tick(instance, bucket, cursor)
        assert len(requests) <= CAP
        for request in requests:
            requested.append(request.run_key)
            create_run_for_test(
                instance,
                job_name="ingest_file_job",
                status=dg.DagsterRunStatus.SUCCESS,
                tags={**request.tags, RUN_KEY_TAG: request.run_key},
            )
        if not requests and not ListingCursor.parse(cursor).after:
            return requested, cursor
    raise AssertionError("the sensor never finished a pass")


def upload(bucket: storage.Bucket, key: str, data: bytes = b"h\n1\n") -> str:
    blob = bucket.blob(key)
    blob.upload_from_string(data)
    return f"{key}@{blob.generation}"


def test_sensor_requests_every_object_version_once_through_overwrites_deletes_and_lost_cursor(
    instance,
    client,  # noqa: F811
    bucket_name,  # noqa: F811
):
    bucket = client.bucket(bucket_name)
    expected = [upload(bucket, f"{PREFIX}{i:05d}.csv") for i in range(OBJECTS)]
    # Never data: temporary, hidden, other formats, other prefixes.
    for key in ("00001.csv.tmp", "_00002.csv", ".00003.csv", "00004.json", "00005.csv.part"):
        upload(bucket, PREFIX + key)
    upload(bucket, "elsewhere/00006.csv")

    first, cursor = drain(instance, bucket_name)
    assert len(first) == len(set(first)), "a version was requested twice"
    assert sorted(first) == sorted(expected), "skipped or extra versions"

    # A re-tick, from the cursor or from nothing, requests nothing.
    assert drain(instance, bucket_name, cursor)[0] == []
    assert drain(instance, bucket_name, None)[0] == []

    # Overwrites (new generation), deletes, and re-drops of deleted names (new generation).
    overwritten = [upload(bucket, f"{PREFIX}{i:05d}.csv", b"h\n2\n") for i in range(0, OBJECTS, 25)]
    deleted = [f"{PREFIX}{i:05d}.csv" for i in range(7, OBJECTS, 50)]
    for key in deleted:
        bucket.blob(key).delete()
    redropped = [upload(bucket, key, b"h\n3\n") for key in deleted[::2]]
    second, cursor = drain(instance, bucket_name, cursor)
    assert len(second) == len(set(second))
    assert sorted(second) == sorted(overwritten + redropped)

    # Cursor lost half-way through a pass: new files arrive, one tick requests a first batch,
    # then the cursor is gone. Starting over requests the rest, nothing twice, nothing missed.
    fresh = [upload(bucket, f"{PREFIX}new-{i:04d}.csv") for i in range(3 * CAP // 2)]
    batch, _lost = drain_one_tick(instance, bucket_name)
    assert len(batch) == CAP
    rest, _ = drain(instance, bucket_name, None)
    assert not set(batch) & set(rest)
    assert sorted(batch + rest) == sorted(fresh)


def drain_one_tick(instance, bucket: str) -> tuple[list[str], str | None]:
    requests, cursor = tick(instance, bucket, None)
    for request in requests:
        create_run_for_test(
            instance,
            job_name="ingest_file_job",
            status=dg.DagsterRunStatus.SUCCESS,
            tags={**request.tags, RUN_KEY_TAG: request.run_key},
        )
    return [request.run_key for request in requests], cursor
