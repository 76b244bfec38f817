"""Copy the dashboard files to the bucket in production (locally they already sit in data/)."""

from __future__ import annotations

from pathlib import Path

from dagster_project.lib.ingest.bucket import Bucket

PUBLISH_PREFIX = "dashboards/"


def publish(bucket: Bucket, files: list[Path]) -> list[str]:
    """Upload each file to `dashboards/<name>` of a GCS bucket; return the gs:// URIs.
    A local bucket needs no copy (the files are under the data folder): returns []."""
    upload = getattr(bucket, "upload_file", None)
    if upload is None:
        return []
    uris = []
    for path in files:
        key = PUBLISH_PREFIX + path.name
        upload(path, key)
        uris.append(f"{bucket.uri.rstrip('/')}/{key}")
    return uris
