"""Which days need rebuilding is recoverable from the warehouse: a crash after a load commits but
before its day materializations are recorded still gets those days rebuilt."""

from __future__ import annotations

from datetime import date

import dagster as dg
import duckdb
import pytest
from conftest import EstoreEnv, csv_lines, event_row
from test_loader import query

from dagster_project.defs.ingest import assets
from dagster_project.defs.ingest.assets import RAW_EVENTS, ingest_file_job
from dagster_project.defs.ingest.resources import LandingBucket, Warehouse
from dagster_project.lib.ingest.bucket import LocalBucket
from dagster_project.lib.ingest.pending import clear_pending_days, pending_days


def ingest_job(env: EstoreEnv) -> dg.JobDefinition:
    """ingest_file_job on the test's bucket and warehouse."""
    resources = {
        "landing": LandingBucket(
            uri=env.settings.bucket,
            prefix=env.settings.landing_prefix,
            settle_seconds=0,
            max_files_per_tick=50,
        ),
        "warehouse": Warehouse(duckdb_path=str(env.settings.duckdb_path)),
    }
    return dg.Definitions(
        assets=[assets.ingest_file], jobs=[ingest_file_job], resources=resources
    ).resolve_job_def(ingest_file_job.name)


def ingest(instance, env: EstoreEnv, key: str) -> dg.ExecuteInProcessResult:
    bucket = LocalBucket(env.settings.bucket, settle_seconds=0)
    obj = bucket.object_info(key)
    job = ingest_job(env)
    config = {"key": obj.key, "version": obj.version, "size": obj.size}
    return job.execute_in_process(
        run_config={"ops": {"ingest_file": {"config": config}}},
        instance=instance,
        raise_on_error=False,
    )


def reported_days(result: dg.ExecuteInProcessResult) -> list[str]:
    return sorted(
        m.partition
        for m in result.asset_materializations_for_node("ingest_file")
        if m.asset_key == RAW_EVENTS
    )


def test_a_crash_after_the_load_commits_still_gets_its_days_rebuilt(
    instance, estore_env: EstoreEnv, monkeypatch
):
    path = estore_env.drop(
        "two-days.csv",
        csv_lines(event_row(when="2019-10-01 10:00:00"), event_row(when="2019-10-02 10:00:00")),
    )
    key = f"{estore_env.settings.landing_prefix}{path.name}"

    def crash(*args, **kwargs):
        raise RuntimeError("killed after the load committed")

    monkeypatch.setattr(assets, "load_metadata", crash)  # runs right after load_file returns
    crashed = ingest(instance, estore_env, key)
    assert not crashed.success
    assert reported_days(crashed) == []
    assert query(estore_env, "select count(*) from raw.events") == [(2,)]  # committed
    monkeypatch.undo()

    retry = ingest(instance, estore_env, key)
    assert retry.success
    observation = retry.asset_observations_for_node("ingest_file")[0]
    assert observation.metadata["status"].value == "skipped"
    assert reported_days(retry) == ["2019-10-01", "2019-10-02"]

    # Once recorded in Dagster, a later load does not report those days again...
    other = estore_env.drop("other.csv", csv_lines(event_row(when="2019-10-05 10:00:00")))
    later = ingest(instance, estore_env, f"{estore_env.settings.landing_prefix}{other.name}")
    assert reported_days(later) == ["2019-10-05"]
    # A new version of a file is a new change of its days: reported again.
    estore_env.drop("other.csv", other.read_bytes(), age_seconds=30)
    redrop = ingest(instance, estore_env, f"{estore_env.settings.landing_prefix}{other.name}")
    assert reported_days(redrop) == ["2019-10-05"]
    # ...but they stay pending in the warehouse until the build clears them.
    con = duckdb.connect(str(estore_env.settings.duckdb_path))
    try:
        assert sorted(pending_days(con)) == [
            date(2019, 10, 1),
            date(2019, 10, 2),
            date(2019, 10, 5),
        ]
        clear_pending_days(con, date(2019, 10, 1), date(2019, 10, 2))
        assert sorted(pending_days(con)) == [date(2019, 10, 2), date(2019, 10, 5)]
    finally:
        con.close()


def test_pending_days_are_written_in_the_load_transaction(estore_env: EstoreEnv):
    from test_loader import load

    path = estore_env.drop("day.csv", csv_lines(event_row(when="2019-10-03 10:00:00")))

    def crash() -> None:
        raise duckdb.IOException("disk went away")

    with pytest.raises(duckdb.IOException):
        load(estore_env, path, before_commit=crash)
    assert query(estore_env, "select count(*) from raw.pending_days") == [(0,)]
    load(estore_env, path)
    assert query(estore_env, "select day, source_file from raw.pending_days") == [
        (date(2019, 10, 3), f"{estore_env.settings.landing_prefix}day.csv")
    ]
    # A new version moving the rows to another day leaves both days pending.
    estore_env.drop("day.csv", csv_lines(event_row(when="2019-10-04 10:00:00")), age_seconds=30)
    load(estore_env, path)
    assert [
        d for (d,) in query(estore_env, "select distinct day from raw.pending_days order by 1")
    ] == [
        date(2019, 10, 3),
        date(2019, 10, 4),
    ]


def test_clear_pending_days_keeps_days_recorded_after_the_build_started(estore_env: EstoreEnv):
    from datetime import datetime

    from test_loader import load

    load(estore_env, estore_env.drop("day.csv", csv_lines(event_row(when="2019-10-03 10:00:00"))))
    con = duckdb.connect(str(estore_env.settings.duckdb_path))
    try:
        clear_pending_days(
            con, date(2019, 10, 1), date(2019, 10, 10), recorded_before=datetime(2000, 1, 1)
        )
        assert pending_days(con) == [date(2019, 10, 3)]
        clear_pending_days(con, date(2019, 10, 1), date(2019, 10, 10))
        assert pending_days(con) == []
    finally:
        con.close()


def test_launched_without_a_file_the_ingest_loads_and_reports_nothing(
    instance, estore_env: EstoreEnv
):
    """`raw/events` is an asset, so the UI's "Materialize all" may launch it with no file: that
    run succeeds, loads nothing and reports no day."""
    result = ingest_job(estore_env).execute_in_process(instance=instance)
    assert result.success
    assert result.asset_materializations_for_node("ingest_file") == []
