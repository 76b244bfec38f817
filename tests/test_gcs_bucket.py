"""GcsBucket against a real gcp-storage-emulator server, started in-process.

What the emulator (gcp-storage-emulator 2026.7.19) does NOT do, checked by hand and pinned by
`test_plain_emulator_ignores_paging_and_start_offset` below: it ignores `maxResults`,
`pageToken` and `startOffset` on objects.list (every listing is one page of everything) and
ignores `ifGenerationMatch` on uploads. So the fixture installs a small shim in the emulator's
router that adds those documented GCS semantics on top of its own storage (names >= startOffset,
at most maxResults per page, a nextPageToken, partial responses for `fields`, 412 on a failed
generation precondition). Every request still goes through google-cloud-storage's real HTTP
client. Tests marked "plain" turn the shim off to prove the listing is also right on a server
that ignores startOffset and paging. Real GCS itself is not exercised here.
"""

from __future__ import annotations

import itertools
import re
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus

import pytest
from gcp_storage_emulator import server as emulator_server
from gcp_storage_emulator.exceptions import NotFound
from gcp_storage_emulator.handlers import objects as emulator_objects
from gcp_storage_emulator.server import create_server
from gcp_storage_emulator.storage import Storage as EmulatorStorage
from google.api_core.exceptions import PreconditionFailed
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from dagster_project.lib.ingest import gcs_bucket as gcs_bucket_module
from dagster_project.lib.ingest.bucket import ObjectInfo, open_bucket
from dagster_project.lib.ingest.gcs_bucket import GcsBucket, parse_gcs_uri

PREFIX = "landing/events/"


@dataclass
class EmulatorShim:
    """Switchable GCS semantics on top of the emulator, and a record of list requests."""

    gcs_semantics: bool = True
    list_requests: list[dict[str, str]] = field(default_factory=list)

    def reset(self) -> None:
        self.gcs_semantics = True
        self.list_requests.clear()

    def ls(self, request, response, storage_, *args, **kwargs):
        query = {name: values[0] for name, values in request.query.items()}
        self.list_requests.append(query)
        if not self.gcs_semantics:
            return emulator_objects.ls(request, response, storage_, *args, **kwargs)
        try:
            files, _ = storage_.get_file_list(request.params["bucket_name"], query.get("prefix"))
        except NotFound:
            response.status = HTTPStatus.NOT_FOUND
            return
        # Our page token is the name of the first object of the next page.
        start = query.get("pageToken") or query.get("startOffset") or ""
        remaining = [obj for obj in files if obj["name"] >= start]
        page_size = int(query.get("maxResults", 1000))
        body = {"kind": "storage#objects", "items": remaining[:page_size]}
        if len(remaining) > page_size:
            body["nextPageToken"] = remaining[page_size]["name"]
        if "fields" in query:  # a partial response, e.g. "items(name,size),nextPageToken"
            selected = dict(re.findall(r"(\w+)(?:\(([^()]*)\))?", query["fields"]))
            body = {name: value for name, value in body.items() if name in selected}
            if selected.get("items"):
                wanted = selected["items"].split(",")
                body["items"] = [
                    {name: obj[name] for name in wanted if name in obj}
                    for obj in body.get("items", [])
                ]
        response.json(body)

    def insert(self, request, response, storage_, *args, **kwargs):
        wanted = request.query.get("ifGenerationMatch")
        if self.gcs_semantics and wanted and request.query.get("uploadType") == ["multipart"]:
            name = (request.query.get("name") or [request.data["meta"]["name"]])[0]
            try:
                current = storage_.get_file_obj(request.params["bucket_name"], name)["generation"]
            except NotFound:
                current = "0"
            if current != wanted[0]:
                response.status = HTTPStatus.PRECONDITION_FAILED
                response.json({"error": {"code": 412, "message": "conditionNotMet"}})
                return None
        return emulator_objects.insert(request, response, storage_, *args, **kwargs)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorShim]:
    shim = EmulatorShim()
    swap = {emulator_objects.ls: shim.ls, emulator_objects.insert: shim.insert}
    handlers = tuple(
        (regex, {method: swap.get(handler, handler) for method, handler in methods.items()})
        for regex, methods in emulator_server.HANDLERS
    )
    port = _free_port()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(emulator_server, "HANDLERS", handlers)
        # The emulator re-serialises its whole metadata to a `.meta` file after every write,
        # which only matters for reloading a persistent server: in memory it just makes
        # seeding 1,000 objects quadratic (20 s instead of 2 s).
        mp.setattr(EmulatorStorage, "_write_config_to_file", lambda self: None)
        mp.setenv("STORAGE_EMULATOR_HOST", f"http://localhost:{port}")
        server = create_server("localhost", port, in_memory=True)
        server.start()
        try:
            yield shim
        finally:
            server.stop()


@pytest.fixture(scope="module")
def client(emulator: EmulatorShim) -> storage.Client:
    return storage.Client(project="test", credentials=AnonymousCredentials())


@pytest.fixture
def bucket_name(emulator: EmulatorShim, client: storage.Client) -> str:
    """A fresh, empty bucket per test (the emulator keeps every bucket in memory)."""
    emulator.reset()
    name = f"test-{uuid.uuid4().hex[:12]}"
    client.create_bucket(name)
    return name


def put(client: storage.Client, bucket_name: str, key: str, data: bytes = b"x") -> None:
    client.bucket(bucket_name).blob(key).upload_from_string(data)


def keys(objects) -> list[str]:
    return [obj.key for obj in objects]


# --- pure parts -----------------------------------------------------------------------------


@pytest.mark.parametrize("uri", ["gs://estore-landing", "gs://estore-landing/"])
def test_parse_gcs_uri_accepts_a_bucket(uri):
    assert parse_gcs_uri(uri) == "estore-landing"


@pytest.mark.parametrize("uri", ["estore-landing", "s3://b", "gs://", "gs://b/landing"])
def test_parse_gcs_uri_rejects_anything_else(uri):
    with pytest.raises(ValueError):
        parse_gcs_uri(uri)


def test_uri_for_and_no_local_path_and_no_client_until_used(monkeypatch):
    def no_client(*args, **kwargs):
        raise AssertionError("a client was made before it was needed")

    monkeypatch.setattr(gcs_bucket_module.storage, "Client", no_client)
    bucket = GcsBucket("gs://estore-landing/")
    assert bucket.uri == "gs://estore-landing"
    assert bucket.uri_for(f"{PREFIX}2019-10.csv") == f"gs://estore-landing/{PREFIX}2019-10.csv"
    assert bucket.local_path(f"{PREFIX}2019-10.csv") is None


def test_open_bucket_picks_gcs_for_gs_uris():
    assert isinstance(open_bucket("gs://estore-landing"), GcsBucket)


# --- against the emulator -------------------------------------------------------------------


def test_plain_emulator_ignores_paging_and_start_offset(emulator, client, bucket_name):
    """Pins what the shim is for: if an emulator upgrade starts paging, revisit the shim."""
    for i in range(5):
        put(client, bucket_name, f"{PREFIX}{i}.csv")
    emulator.gcs_semantics = False
    pages = client.list_blobs(
        bucket_name, prefix=PREFIX, start_offset=f"{PREFIX}2.csv", page_size=2
    ).pages
    assert [[blob.name for blob in page] for page in pages] == [
        [f"{PREFIX}{i}.csv" for i in range(5)]
    ]


def test_lists_in_key_order_with_object_info(client, bucket_name):
    names = ["2019-11-01.csv", "2019-10-01.csv.gz", "2019-10-15.csv", "sub/2019-09-01.csv"]
    for name in names:
        put(client, bucket_name, PREFIX + name, b"abc")
    before = time.time()

    listed = list(GcsBucket(f"gs://{bucket_name}", client).list_objects(PREFIX))

    assert keys(listed) == sorted(PREFIX + name for name in names)
    for obj in listed:
        blob = client.bucket(bucket_name).get_blob(obj.key)
        assert obj == ObjectInfo(
            key=obj.key,
            version=str(blob.generation),
            size=3,
            updated=blob.updated.timestamp(),
        )
        assert abs(obj.updated - before) < 120


def test_pages_through_more_than_a_thousand_objects_lazily(emulator, client, bucket_name):
    count = 1_050
    for i in range(count):
        put(client, bucket_name, f"{PREFIX}{i:05d}.csv")
    bucket = GcsBucket(f"gs://{bucket_name}", client, page_size=100)

    listed = keys(bucket.list_objects(PREFIX))
    assert listed == [f"{PREFIX}{i:05d}.csv" for i in range(count)]
    assert len(emulator.list_requests) == 11  # ceil(1050 / 100) pages, one request each
    assert {request["maxResults"] for request in emulator.list_requests} == {"100"}
    assert emulator.list_requests[0]["prefix"] == PREFIX
    assert "pageToken" in emulator.list_requests[1]

    # A sensor tick that caps itself only fetches the pages it consumes.
    emulator.list_requests.clear()
    first = next(bucket.list_objects(PREFIX))
    assert first.key == f"{PREFIX}00000.csv"
    assert len(emulator.list_requests) == 1
    emulator.list_requests.clear()
    assert len(list(itertools.islice(bucket.list_objects(PREFIX), 150))) == 150
    assert len(emulator.list_requests) == 2


@pytest.mark.parametrize("gcs_semantics", [True, False], ids=["gcs", "plain"])
def test_start_after_resumes_without_repeats_or_gaps(emulator, client, bucket_name, gcs_semantics):
    all_keys = [f"{PREFIX}{i:03d}.csv" for i in range(30)]
    for key in all_keys:
        put(client, bucket_name, key)
    emulator.gcs_semantics = gcs_semantics
    bucket = GcsBucket(f"gs://{bucket_name}", client, page_size=7)

    seen: list[str] = []
    cursor = ""
    for _tick in range(len(all_keys)):  # bounded: a cursor that fails to advance must not hang
        batch = keys(itertools.islice(bucket.list_objects(PREFIX, start_after=cursor), 4))
        if not batch:
            break
        seen += batch
        cursor = batch[-1]
    assert seen == all_keys

    # The cursor key itself is excluded (start_offset is inclusive); a cursor that no longer
    # exists (deleted object) resumes at the next key, never from the start.
    assert keys(bucket.list_objects(PREFIX, start_after=all_keys[10]))[0] == all_keys[11]
    assert (
        keys(bucket.list_objects(PREFIX, start_after=f"{PREFIX}010.csv-gone"))[0] == (all_keys[11])
    )
    assert keys(bucket.list_objects(PREFIX, start_after=all_keys[-1])) == []
    # A cursor before the prefix (e.g. from another prefix) lists everything under the prefix.
    assert keys(bucket.list_objects(PREFIX, start_after="a")) == all_keys

    offsets = [request.get("startOffset") for request in emulator.list_requests]
    assert all_keys[10] in offsets  # the resume point is sent to the server
    assert keys(bucket.list_objects(PREFIX))  # and no startOffset when there is no cursor
    assert "startOffset" not in emulator.list_requests[-1]


def test_overwrite_gives_a_new_version(client, bucket_name):
    key = f"{PREFIX}2019-10-01.csv"
    bucket = GcsBucket(f"gs://{bucket_name}", client)
    put(client, bucket_name, key, b"first")
    (before,) = bucket.list_objects(PREFIX)

    put(client, bucket_name, key, b"second, longer")
    (after,) = bucket.list_objects(PREFIX)
    (again,) = bucket.list_objects(PREFIX)

    assert after.key == before.key
    assert after.version != before.version
    assert after.run_key != before.run_key  # a re-drop is a new run...
    assert again.run_key == after.run_key  # ...a re-tick is not
    assert after.size == len(b"second, longer")
    # The ingest op asks for the live version before and after a BigQuery load job, and
    # reads the head of the exact version it loads (its header is checked first).
    assert bucket.object_info(key) == after
    assert bucket.read_head(key, after.version, size=6) == b"second"
    client.bucket(bucket_name).blob(key).delete()
    assert bucket.object_info(key) is None


def test_ignores_hidden_temporary_and_non_csv_objects(client, bucket_name):
    ignored = [
        ".hidden.csv",
        "_SUCCESS",
        "_partial.csv",
        "2019-10-01.csv.tmp",
        "2019-10-01.csv.part",
        "2019-10-01.csv._COPYING_",
        "2019-10-01.partial.csv",
        "notes.txt",
        "2019-10-01.parquet",
        "2019-10-01.csv.zip",
        "sub/",  # a "folder" placeholder object
    ]
    wanted = ["2019-10-01.csv", "2019-10-02.csv.gz", "sub/2019-10-03.csv"]
    for name in ignored + wanted:
        put(client, bucket_name, PREFIX + name)

    listed = keys(GcsBucket(f"gs://{bucket_name}", client, page_size=3).list_objects(PREFIX))
    assert listed == sorted(PREFIX + name for name in wanted)


def test_prefix_isolation(client, bucket_name):
    inside = [f"{PREFIX}a.csv", f"{PREFIX}2019/b.csv"]
    outside = [
        "landing/events.csv",
        "landing/eventsx/c.csv",
        "landing/events_old/d.csv",
        "landing/other/e.csv",
        "archive/landing/events/f.csv",
        "ground_truth/g.csv",
    ]
    for key in inside + outside:
        put(client, bucket_name, key)
    bucket = GcsBucket(f"gs://{bucket_name}", client)

    assert keys(bucket.list_objects(PREFIX)) == sorted(inside)
    assert keys(bucket.list_objects("ground_truth/")) == ["ground_truth/g.csv"]
    assert keys(bucket.list_objects("nothing/here/")) == []
    assert len(keys(bucket.list_objects(""))) == len(inside + outside)


def test_client_is_made_lazily_from_storage_emulator_host(emulator, client, bucket_name):
    put(client, bucket_name, f"{PREFIX}a.csv")
    bucket = open_bucket(f"gs://{bucket_name}")  # no client: google-cloud-storage makes one
    assert keys(bucket.list_objects(PREFIX)) == [f"{PREFIX}a.csv"]


def test_prod_landing_resource_lists_through_dagster_gcps_gcs_resource(
    emulator, client, bucket_name
):
    from dagster_project.defs.ingest.resources import LandingBucket

    put(client, bucket_name, f"{PREFIX}a.csv")
    landing = LandingBucket(
        uri=f"gs://{bucket_name}",
        prefix=PREFIX,
        settle_seconds=0,
        max_files_per_tick=10,
        gcp_project="test",
    )
    bucket = landing.open()
    assert isinstance(bucket, GcsBucket) and bucket.client.project == "test"
    assert keys(bucket.list_objects(PREFIX)) == [f"{PREFIX}a.csv"]


def test_upload_file(tmp_path, client, bucket_name):
    bucket = GcsBucket(f"gs://{bucket_name}", client)
    local = tmp_path / "2019-10-01.csv"
    local.write_text("event_time,event_type\n")
    key = f"{PREFIX}2019-10-01.csv"

    uploaded = bucket.upload_file(local, key)

    (listed,) = bucket.list_objects(PREFIX)
    assert listed == uploaded
    blob = client.bucket(bucket_name).get_blob(key)
    assert blob.download_as_bytes() == b"event_time,event_type\n"
    assert blob.content_type == "text/csv"

    gz = tmp_path / "2019-10-02.csv.gz"
    gz.write_bytes(b"\x1f\x8b not really gzip")
    bucket.upload_file(gz, f"{PREFIX}2019-10-02.csv.gz")
    gz_blob = client.bucket(bucket_name).get_blob(f"{PREFIX}2019-10-02.csv.gz")
    assert gz_blob.content_type == "application/gzip"
    assert gz_blob.content_encoding is None  # stored as-is, never transcoded


def test_upload_file_if_generation_match(tmp_path, client, bucket_name):
    """Precondition semantics come from the shim (the plain emulator ignores them)."""
    bucket = GcsBucket(f"gs://{bucket_name}", client)
    local = tmp_path / "a.csv"
    local.write_text("v1\n")
    key = f"{PREFIX}a.csv"

    first = bucket.upload_file(local, key, if_generation_match=0)  # create only
    with pytest.raises(PreconditionFailed):
        bucket.upload_file(local, key, if_generation_match=0)

    local.write_text("v2, replacing exactly the version we saw\n")
    second = bucket.upload_file(local, key, if_generation_match=int(first.version))
    assert second.version != first.version
    with pytest.raises(PreconditionFailed):  # that version is gone now
        bucket.upload_file(local, key, if_generation_match=int(first.version))
    (listed,) = bucket.list_objects(PREFIX)
    assert listed.version == second.version


def test_dashboards_are_published_to_a_gcs_bucket_only(tmp_path, client, bucket_name):
    """In production the extract, page and findings are copied to gs://<bucket>/dashboards/;
    with a local bucket they already sit under the data folder and nothing is copied."""
    from dagster_project.lib.dashboards.publish import publish
    from dagster_project.lib.ingest.bucket import LocalBucket

    extract = tmp_path / "estore.hyper"
    extract.write_bytes(b"hyper bytes")

    uris = publish(GcsBucket(f"gs://{bucket_name}", client), [extract])

    assert uris == [f"gs://{bucket_name}/dashboards/estore.hyper"]
    blob = client.bucket(bucket_name).get_blob("dashboards/estore.hyper")
    assert blob.download_as_bytes() == b"hyper bytes"
    assert publish(LocalBucket(tmp_path / "bucket"), [extract]) == []
