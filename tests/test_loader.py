"""The raw load: every input line ends up loaded or rejected with a reason, exactly once."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest
from conftest import REAL_SAMPLES, EstoreEnv, age, csv_lines, event_row

from dagster_project.lib.ingest.bucket import LocalBucket, ObjectInfo
from dagster_project.lib.ingest.loader import (
    ALREADY_FAILED,
    FAILED,
    LOADED,
    SKIPPED,
    last_rowid,
    load_file,
)


def current(env: EstoreEnv, path: Path) -> ObjectInfo:
    bucket = LocalBucket(env.settings.bucket, settle_seconds=0)
    key = path.relative_to(bucket.root).as_posix()
    return next(o for o in bucket.list_objects(env.settings.landing_prefix) if o.key == key)


def load(env: EstoreEnv, path: Path, **kwargs):
    con = duckdb.connect(str(env.settings.duckdb_path))
    try:
        return load_file(con, current(env, path), path, **kwargs)
    finally:
        con.close()


def query(env: EstoreEnv, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(env.settings.duckdb_path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def data_lines(path: Path) -> int:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        return sum(1 for _ in handle) - 1


def test_the_real_samples_ship_with_the_repository():
    """Parametrized tests over a missing folder would silently run nothing: fail instead."""
    assert [p.name for p in REAL_SAMPLES] == ["2019-Nov-head.csv", "2019-Oct-head.csv"]


@pytest.mark.parametrize("sample", REAL_SAMPLES, ids=lambda p: p.name)
def test_real_samples_load_unchanged(estore_env: EstoreEnv, sample: Path):
    path = estore_env.landing / sample.name
    shutil.copyfile(sample, path)
    age(path, 60)
    result = load(estore_env, path)
    assert result.status == LOADED, result.error
    assert result.rows_rejected == 0
    assert result.rows_loaded == data_lines(path)
    first_line = query(
        estore_env, "select source_line, product_id from raw.events order by source_line limit 1"
    )
    expected_product = int(sample.read_text().splitlines()[1].split(",")[2])
    assert first_line == [(2, expected_product)]


def test_every_line_is_loaded_or_rejected_with_its_line_and_reason(estore_env: EstoreEnv):
    path = estore_env.drop(
        "mixed.csv",
        csv_lines(
            event_row(product_id=1),  # line 2: fine
            event_row(product_id="not-a-number"),  # line 3: bad type
            event_row(product_id=3)[: -len(",4d3b30da-a5e4-49df-b1a8-ba5943f1dd33")],  # 4: short
            event_row(product_id=4),  # line 5: fine
            event_row(event_type="wishlist", product_id=5),  # line 6: unknown type
            event_row(user_id="", product_id=6),  # line 7: missing user
            event_row(when="2019-13-45 99:00:00", product_id=7),  # line 8: bad timestamp
            event_row(product_id=8, session=""),  # line 9: fine, no session
        ),
    )
    result = load(estore_env, path)
    assert result.status == LOADED
    assert (result.rows_loaded, result.rows_rejected) == (3, 5)
    assert result.rows_loaded + result.rows_rejected == data_lines(path)
    loaded = query(estore_env, "select source_line, product_id from raw.events order by 1")
    assert loaded == [(2, 1), (5, 4), (9, 8)]
    rejects = dict(query(estore_env, "select source_line, reason from raw.load_rejects"))
    assert set(rejects) == {3, 4, 6, 7, 8}
    assert "product_id" in rejects[3]
    assert rejects[4] == "expected 9 fields, found 8"
    assert rejects[6] == "unknown event_type wishlist"
    assert rejects[7] == "missing user_id"
    assert "event_time" in rejects[8]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "empty file"),
        ("wrong-header.csv", b"time,type,product\n2019-10-01,view,1\n", "wrong header"),
        ("garbage.csv", os.urandom(2048), "wrong header"),
        ("not-gzip.csv.gz", b"\x1f\x8bthis is not gzip at all" * 10, "not-gzip.csv.gz"),
    ],
)
def test_a_bad_file_fails_whole_with_a_clear_error(estore_env, name, content, message):
    path = estore_env.drop(name, content)
    result = load(estore_env, path)
    assert result.status == FAILED
    assert message in result.error
    manifest = query(estore_env, "select status, error from raw.load_manifest")
    assert manifest == [("failed", result.error)]
    assert query(estore_env, "select count(*) from raw.events") == [(0,)]
    # The same version fails fast with the recorded reason; it is not read again.
    again = load(estore_env, path)
    assert (again.status, again.error) == (FAILED, f"{ALREADY_FAILED}{result.error}")


def test_truncated_gzip_fails_whole_and_other_files_keep_flowing(estore_env: EstoreEnv):
    rows = [event_row(product_id=i, when=f"2019-10-01 10:{i % 60:02d}:00") for i in range(20_000)]
    full = gzip.compress(("\n".join(csv_lines(*rows)) + "\n").encode())
    bad = estore_env.drop("truncated.csv.gz", full[: len(full) // 2])
    good = estore_env.drop("good.csv", csv_lines(event_row()))
    failed = load(estore_env, bad)
    assert failed.status == FAILED
    assert failed.error
    assert load(estore_env, good).status == LOADED
    assert query(estore_env, "select source_file from raw.events") == [
        (f"{estore_env.settings.landing_prefix}good.csv",)
    ]


def test_header_only_file_loads_zero_rows(estore_env: EstoreEnv):
    result = load(estore_env, estore_env.drop("header-only.csv", csv_lines()))
    assert (result.status, result.rows_loaded, result.rows_rejected) == (LOADED, 0, 0)


def test_crlf_and_gzip_files_load(estore_env: EstoreEnv):
    text = "\r\n".join(csv_lines(event_row(product_id=1), event_row(product_id=2))) + "\r\n"
    crlf = load(estore_env, estore_env.drop("crlf.csv", text.encode()))
    gz = load(estore_env, estore_env.drop("rows.csv.gz", csv_lines(event_row(product_id=3))))
    assert (crlf.rows_loaded, gz.rows_loaded) == (2, 1)
    assert query(estore_env, "select max(length(user_session)) from raw.events") == [(36,)]


def test_same_version_is_skipped_and_a_new_version_replaces_the_rows(estore_env: EstoreEnv):
    path = estore_env.drop(
        "day.csv", csv_lines(event_row(when="2019-10-01 10:00:00"), event_row(product_id=2))
    )
    first = load(estore_env, path)
    assert load(estore_env, path).status == SKIPPED
    # Re-drop the same content (a new version): rows replaced, counts unchanged.
    estore_env.drop("day.csv", path.read_bytes(), age_seconds=30)
    again = load(estore_env, path)
    assert again.status == LOADED
    assert query(estore_env, "select count(*) from raw.events") == [(first.rows_loaded,)]
    # A corrected file that moved its rows to another day touches both days.
    estore_env.drop("day.csv", csv_lines(event_row(when="2019-10-02 10:00:00")), age_seconds=20)
    corrected = load(estore_env, path)
    assert [d.isoformat() for d in corrected.touched_dates] == ["2019-10-01", "2019-10-02"]
    assert query(estore_env, "select count(*) from raw.events") == [(1,)]


def test_a_failed_new_version_keeps_the_last_good_rows(estore_env: EstoreEnv):
    path = estore_env.drop("day.csv", csv_lines(event_row()))
    load(estore_env, path)
    estore_env.drop("day.csv", b"garbage\n", age_seconds=10)
    result = load(estore_env, path)
    assert result.status == FAILED
    assert query(estore_env, "select count(*) from raw.events") == [(1,)]
    status, loaded_version, version = query(
        estore_env, "select status, loaded_version, source_version from raw.load_manifest"
    )[0]
    assert status == "failed" and loaded_version != version


def test_an_error_before_commit_leaves_nothing_and_the_next_load_repairs(estore_env: EstoreEnv):
    path = estore_env.drop("day.csv", csv_lines(event_row(), event_row(product_id="x")))

    def crash() -> None:
        raise duckdb.IOException("disk went away")

    # Not the file's fault: the error propagates (the run fails) and nothing is recorded.
    with pytest.raises(duckdb.IOException, match="disk went away"):
        load(estore_env, path, before_commit=crash)
    assert query(estore_env, "select count(*) from raw.events") == [(0,)]
    assert query(estore_env, "select count(*) from raw.load_rejects") == [(0,)]
    assert query(estore_env, "select count(*) from raw.load_manifest") == [(0,)]
    repaired = load(estore_env, path)
    assert (repaired.rows_loaded, repaired.rows_rejected) == (1, 1)


def test_a_process_killed_mid_load_leaves_a_state_the_next_run_repairs(estore_env: EstoreEnv):
    path = estore_env.drop("day.csv", csv_lines(*(event_row(product_id=i) for i in range(500))))
    script = textwrap.dedent(
        f"""
        import os, duckdb
        from pathlib import Path
        from dagster_project.lib.ingest.bucket import LocalBucket
        from dagster_project.lib.ingest.loader import load_file
        bucket = LocalBucket({estore_env.settings.bucket!r}, settle_seconds=0)
        obj = next(bucket.list_objects({estore_env.settings.landing_prefix!r}))
        con = duckdb.connect({str(estore_env.settings.duckdb_path)!r})
        load_file(con, obj, Path({str(path)!r}), before_commit=lambda: os._exit(9))
        """
    )
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert killed.returncode == 9, killed.stderr.decode()
    assert query(estore_env, "select count(*) from raw.events") == [(0,)]
    assert query(estore_env, "select count(*) from raw.load_manifest") == [(0,)]
    assert load(estore_env, path).rows_loaded == 500
    assert load(estore_env, path).status == SKIPPED


def test_last_rowid_is_the_highest_row_id_after_deletes_and_inside_a_transaction(tmp_path):
    """The loader's lower bound for this load's rows, read without scanning every row id."""
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create table t (x integer)")
    highest = lambda: con.execute("select coalesce(max(rowid), -1) from t").fetchone()[0]  # noqa: E731
    assert last_rowid(con, "t") == -1  # empty
    con.execute("insert into t select range from range(300000)")  # several row groups
    assert last_rowid(con, "t") == highest() == 299_999
    con.execute("delete from t where x between 1000 and 250000")  # holes below the last rows
    assert last_rowid(con, "t") == highest() == 299_999
    con.execute("delete from t where x >= 299000")  # the last rows gone
    con.execute("checkpoint")
    assert last_rowid(con, "t") == highest()
    con.execute("begin transaction")
    con.execute("insert into t select range from range(10)")  # appended, not committed
    assert last_rowid(con, "t") == highest()
    con.execute("delete from t")
    assert last_rowid(con, "t") == highest() == -1
    con.execute("rollback")
