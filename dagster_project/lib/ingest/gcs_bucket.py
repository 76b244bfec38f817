"""The landing area as a Google Cloud Storage bucket (`gs://bucket-name`).

Listing is paged and lazy: the sensor pulls objects one at a time, so a tick over a bucket of
thousands of objects makes one request per page actually consumed and can stop early and resume
from its cursor (`start_after`). An object's version is its GCS generation: a re-upload of the
same name gets a new generation, so it is a new run key; a re-tick is not.

GCS object uploads are atomic (an object is invisible until its upload completes), so unlike the
local folder there is no settle time; temporary and hidden names are still skipped.

`STORAGE_EMULATOR_HOST` is honoured by google-cloud-storage itself: when it is set, a client made
here talks to the emulator with anonymous credentials.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from google.cloud import storage

from dagster_project.lib.ingest.bucket import ObjectInfo, is_data_object

DEFAULT_PAGE_SIZE = 1000  # the GCS maximum for objects.list
# Partial responses: only what ObjectInfo needs. nextPageToken must stay, or paging stops.
LIST_FIELDS = "items(name,generation,size,updated),nextPageToken"
LIST_TIMEOUT_SECONDS = 30.0  # per page request; well inside a sensor tick's 60 s


def parse_gcs_uri(uri: str) -> str:
    """The bucket name of `gs://bucket-name` (a trailing slash is allowed, a path is not)."""
    if not uri.startswith("gs://"):
        raise ValueError(f"not a gs:// URI: {uri!r}")
    name = uri.removeprefix("gs://").rstrip("/")
    if not name or "/" in name:
        raise ValueError(
            f"expected gs://bucket-name, got {uri!r}; put object paths in the prefix instead"
        )
    return name


def _content_type(path: str) -> str:
    # Gzipped files are stored as-is (no Content-Encoding), so loaders read the gzip bytes.
    if path.endswith(".gz"):
        return "application/gzip"
    if path.endswith(".csv"):
        return "text/csv"
    return "application/octet-stream"


def _object_info(blob: storage.Blob) -> ObjectInfo:
    return ObjectInfo(
        key=blob.name,
        version=str(blob.generation),
        size=int(blob.size or 0),
        updated=blob.updated.timestamp() if blob.updated else 0.0,
    )


class GcsBucket:
    """A GCS bucket behind the `Bucket` protocol of `dagster_project.lib.ingest.bucket`."""

    def __init__(
        self,
        uri: str,
        client: storage.Client | None = None,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
    ):
        self.bucket_name = parse_gcs_uri(uri)
        self.uri = f"gs://{self.bucket_name}"
        if page_size < 1:
            raise ValueError("page_size must be positive")
        self.page_size = page_size
        self._client = client  # made on first use: constructing needs credentials

    @property
    def client(self) -> storage.Client:
        if self._client is None:
            self._client = storage.Client()
        return self._client

    def list_objects(self, prefix: str, start_after: str = "") -> Iterator[ObjectInfo]:
        """Data objects under `prefix` with key > `start_after`, in key order, one page at a time.

        `start_offset` is inclusive, so the object named `start_after` itself is skipped here.
        The same check also keeps the result right on servers that ignore `startOffset` (the
        gcp-storage-emulator does): they only make the listing longer, never wrong.
        """
        blobs = self.client.list_blobs(
            self.bucket_name,
            prefix=prefix or None,
            start_offset=start_after or None,
            page_size=self.page_size,
            fields=LIST_FIELDS,
            timeout=LIST_TIMEOUT_SECONDS,
        )
        for blob in blobs:
            key = blob.name
            if key <= start_after or not key.startswith(prefix):
                continue
            if not is_data_object(key):
                continue
            yield _object_info(blob)

    def object_info(self, key: str) -> ObjectInfo | None:
        blob = self.client.bucket(self.bucket_name).get_blob(key)
        return _object_info(blob) if blob is not None else None

    def local_path(self, key: str) -> Path | None:
        return None

    def read_head(self, key: str, version: str, size: int = 64 * 1024) -> bytes:
        """The first `size` bytes of that exact object version (its generation), as stored."""
        blob = self.client.bucket(self.bucket_name).blob(key, generation=int(version))
        return blob.download_as_bytes(start=0, end=size - 1, raw_download=True)

    def uri_for(self, key: str) -> str:
        return f"{self.uri}/{key}"

    def upload_file(
        self,
        local_path: str | Path,
        key: str,
        *,
        if_generation_match: int | None = None,
    ) -> ObjectInfo:
        """Upload a local file to `key` and return the new object's info (its generation).

        `if_generation_match=0` uploads only if no live object has that name (GCS answers
        412, raised as `google.api_core.exceptions.PreconditionFailed`, otherwise); a
        generation number replaces only that exact version. None overwrites unconditionally.
        """
        blob = self.client.bucket(self.bucket_name).blob(key)
        blob.upload_from_filename(
            str(local_path),
            content_type=_content_type(key),
            if_generation_match=if_generation_match,
        )
        return _object_info(blob)
