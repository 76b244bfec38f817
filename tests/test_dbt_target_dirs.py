"""Each dbt call's folder under target/ is removed once it is old and not among the newest."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from dagster_project.lib.dbt.target_dirs import prune_invocation_dirs


def invocation_dir(target: Path, op: str, age_seconds: float) -> Path:
    """A folder named as dagster-dbt names a call's target path: <op>-<run id[:7]>-<uuid[:7]>."""
    path = target / f"{op}-{uuid.uuid4().hex[:7]}-{str(uuid.uuid4())[:7]}"
    (path / "compiled").mkdir(parents=True)
    (path / "run_results.json").write_text("{}")
    stamp = time.time() - age_seconds
    os.utime(path, (stamp, stamp))
    return path


def test_old_call_folders_beyond_the_newest_are_removed_and_nothing_else(tmp_path: Path):
    old = [invocation_dir(tmp_path, "dbt_marts", 7200 + i) for i in range(6)]  # newest first
    young = [invocation_dir(tmp_path, "dbt_daily_models", 60 + i) for i in range(3)]
    (tmp_path / "compiled").mkdir()
    (tmp_path / "partial_parse.msgpack").write_bytes(b"state")
    (tmp_path / "manifest.json").write_text("{}")

    removed = prune_invocation_dirs(tmp_path, keep=4, min_age_seconds=3600)

    # The 4 newest stay (3 young, the newest old one); of the rest only the old go.
    assert sorted(removed) == sorted(old[1:])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [p.name for p in young]
        + [old[0].name, "compiled", "partial_parse.msgpack", "manifest.json"]
    )


def test_a_folder_younger_than_the_minimum_age_is_kept_even_beyond_the_newest(tmp_path: Path):
    folders = [invocation_dir(tmp_path, "dbt_snapshots", 10 + i) for i in range(5)]
    assert prune_invocation_dirs(tmp_path, keep=2, min_age_seconds=3600) == []
    assert all(p.exists() for p in folders)
