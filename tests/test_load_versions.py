"""A local object's version changes whenever its content may have changed, even when a copy
keeps the size and the modification time (`cp -p`, `rsync -t`)."""

from __future__ import annotations

import os
import shutil
import subprocess

from conftest import EstoreEnv, csv_lines, event_row
from test_loader import current, load, query

from dagster_project.lib.ingest.bucket import LocalBucket
from dagster_project.lib.ingest.loader import LOADED, SKIPPED


def test_same_size_and_preserved_mtime_is_a_new_version_and_is_reloaded(estore_env: EstoreEnv):
    path = estore_env.drop("day.csv", csv_lines(event_row(product_id=1111)))
    first = current(estore_env, path)
    assert load(estore_env, path).status == LOADED
    assert current(estore_env, path).version == first.version  # stable while untouched
    assert load(estore_env, path).status == SKIPPED

    # A corrected file of the same size, copied over with its timestamps preserved.
    fixed = path.parent.parent / "fixed.csv"
    fixed.write_bytes(path.read_bytes().replace(b",1111,", b",2222,"))
    stat = path.stat()
    os.utime(fixed, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    subprocess.run(["cp", "-p", str(fixed), str(path)], check=True)
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)

    second = current(estore_env, path)
    assert second.version != first.version
    assert load(estore_env, path).status == LOADED
    assert query(estore_env, "select product_id from raw.events") == [(2222,)]


def test_rsync_style_in_place_rewrite_is_a_new_version(tmp_path):
    bucket = LocalBucket(tmp_path, settle_seconds=0)
    path = tmp_path / "a.csv"
    path.write_bytes(b"abc\n")
    before = path.stat()
    version = bucket.object_info("a.csv").version
    with path.open("r+b") as handle:  # same inode, same size
        handle.write(b"xyz\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    rewritten = bucket.object_info("a.csv").version
    assert rewritten != version
    # reading or copying the file elsewhere (same bytes and mtime) leaves its version alone
    shutil.copy2(path, tmp_path / "b.csv")
    assert bucket.object_info("a.csv").version == rewritten
