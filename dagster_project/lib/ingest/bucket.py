"""Object listing for the landing area: a local folder or a GCS bucket, behind one interface.

The sensor only needs three things from a bucket: list objects under a prefix in key order,
starting after a given key (so a tick can page through thousands of objects and resume), and
tell each object's version (GCS generation; locally the file's identity and change time, see
`local_version`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

DATA_SUFFIXES = (".csv", ".csv.gz")
# Names that writers use while a file is still being written; never picked up.
IN_PROGRESS_MARKERS = (".tmp", ".part", ".partial", ".crdownload", "._COPYING_")


@dataclass(frozen=True)
class ObjectInfo:
    key: str  # path inside the bucket, e.g. landing/events/2019-10-01.csv
    version: str  # changes whenever the content may have changed
    size: int
    updated: float  # epoch seconds

    @property
    def run_key(self) -> str:
        """Unique per object version: a re-drop with new content is a new run, a re-tick is not."""
        return f"{self.key}@{self.version}"


def is_data_object(key: str) -> bool:
    name = key.rsplit("/", 1)[-1]
    if not name or name.startswith((".", "_")):
        return False
    if any(marker in name for marker in IN_PROGRESS_MARKERS):
        return False
    return name.endswith(DATA_SUFFIXES)


class Bucket(Protocol):
    uri: str

    def list_objects(self, prefix: str, start_after: str = "") -> Iterator[ObjectInfo]:
        """Objects under prefix with key > start_after, in key order (GCS: lazily, paged)."""
        ...

    def local_path(self, key: str) -> Path | None:
        """A local filesystem path for the object when there is one (local buckets)."""
        ...

    def object_info(self, key: str) -> ObjectInfo | None:
        """The object's current version, or None if it no longer exists."""
        ...

    def uri_for(self, key: str) -> str: ...


def local_version(stat: os.stat_result) -> str:
    """A local file's version: it changes whenever the content may have changed.

    Size and mtime alone miss a rewrite that keeps both (`cp -p`, `rsync -t` of a corrected
    file of the same size): the inode (a new file on replace) and the ctime (set by the kernel on
    every write or metadata change, and which no copy tool can set back) catch it. A metadata-only
    change (chmod, touch) is a new version too; reloading identical content changes nothing."""
    return f"{stat.st_mtime_ns}-{stat.st_size}-{stat.st_ino}-{stat.st_ctime_ns}"


class LocalBucket:
    """A folder standing in for a bucket. Objects still being written are hidden: temporary
    names are skipped and a file must be unchanged for `settle_seconds` before it is listed."""

    def __init__(self, root: str | Path, settle_seconds: float = 2.0):
        self.root = Path(root).resolve()
        self.uri = str(self.root)
        self.settle_seconds = settle_seconds

    def list_objects(self, prefix: str, start_after: str = "") -> Iterator[ObjectInfo]:
        base = self.root / prefix
        if not base.exists():
            return
        now = time.time()
        keys = sorted(
            path.relative_to(self.root).as_posix() for path in base.rglob("*") if path.is_file()
        )
        for key in keys:
            if key <= start_after or not key.startswith(prefix):
                continue
            info = self.object_info(key)
            if info is None or now - info.updated < self.settle_seconds:
                continue  # deleted meanwhile, or possibly still being written
            yield info

    def object_info(self, key: str) -> ObjectInfo | None:
        try:
            stat = (self.root / key).stat()
        except FileNotFoundError:
            return None
        return ObjectInfo(
            key=key,
            version=local_version(stat),
            size=stat.st_size,
            updated=stat.st_mtime,
        )

    def unsettled_count(self, prefix: str) -> int:
        """Data files too fresh to be listed yet (so `estore run` knows to wait for them)."""
        base = self.root / prefix
        if not base.exists():
            return 0
        now = time.time()
        return sum(
            1
            for path in base.rglob("*")
            if path.is_file()
            and is_data_object(path.name)
            and now - path.stat().st_mtime < self.settle_seconds
        )

    def local_path(self, key: str) -> Path | None:
        return self.root / key

    def uri_for(self, key: str) -> str:
        return str(self.root / key)


def open_bucket(uri: str, settle_seconds: float = 2.0) -> Bucket:
    if uri.startswith("gs://"):
        from dagster_project.lib.ingest.gcs_bucket import GcsBucket

        return GcsBucket(uri)
    return LocalBucket(uri, settle_seconds=settle_seconds)
