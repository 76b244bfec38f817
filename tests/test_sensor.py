"""The landing sensor, evaluated through build_sensor_context on a real Dagster instance."""

from __future__ import annotations

import dagster as dg
import pytest
import yaml
from conftest import EstoreEnv, age, csv_lines, event_row
from dagster._core.storage.tags import RUN_KEY_TAG

from dagster_project.cli.instance import render_dagster_yaml
from dagster_project.defs.ingest.assets import ingest_file, ingest_file_job
from dagster_project.defs.ingest.resources import LandingBucket, Warehouse
from dagster_project.defs.ingest.sensor import landing_sensor
from dagster_project.lib.event_log import kept_open
from dagster_project.lib.ingest.plan import ListingCursor


@pytest.fixture
def instance(scratch_home):
    """A real instance with estore's event log, kept open as `estore run` keeps it: this file
    creates a thousand runs (with Dagster's stock log, ~0.2 s each: most of it creating the
    run's database)."""
    event_log = yaml.safe_load(render_dagster_yaml(scratch_home))["event_log_storage"]
    overrides = {"event_log_storage": event_log}
    with (
        kept_open(),
        dg.instance_for_test(overrides=overrides, temp_dir=str(scratch_home)) as instance,
    ):
        yield instance


def landing(env: EstoreEnv, max_files_per_tick: int = 50, settle: float = 2) -> LandingBucket:
    return LandingBucket(
        uri=env.settings.bucket,
        prefix=env.settings.landing_prefix,
        settle_seconds=settle,
        max_files_per_tick=max_files_per_tick,
    )


def tick(instance, env: EstoreEnv, cursor: str | None = None, cap: int = 50, settle: float = 2):
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"landing": landing(env, cap, settle)}
    ) as context:
        data = landing_sensor.evaluate_tick(context)
    return data.run_requests or [], data.cursor


def ingest_job(env: EstoreEnv) -> dg.JobDefinition:
    resources = {
        "landing": landing(env),
        "warehouse": Warehouse(duckdb_path=str(env.settings.duckdb_path)),
    }
    return dg.Definitions(
        assets=[ingest_file], jobs=[ingest_file_job], resources=resources
    ).resolve_job_def(ingest_file_job.name)


def execute(instance, env: EstoreEnv, request: dg.RunRequest) -> bool:
    """Run a request as the daemon would: same job, config and run-key tag."""
    job = ingest_job(env)
    result = job.execute_in_process(
        run_config=request.run_config,
        instance=instance,
        tags={**request.tags, RUN_KEY_TAG: request.run_key},
        raise_on_error=False,
    )
    return result.success


def drain(instance, env: EstoreEnv, cap: int = 50, max_ticks: int = 100) -> list[str]:
    """Tick and execute until a full pass over the bucket requests nothing new."""
    cursor, keys = None, []
    for _ in range(max_ticks):
        requests, cursor = tick(instance, env, cursor, cap)
        for request in requests:
            keys.append(request.run_key)
            execute(instance, env, request)
        if not requests and not ListingCursor.parse(cursor).after:
            return keys
    raise AssertionError("the sensor never finished a pass")


def test_new_files_are_requested_once_with_a_run_key_per_version(instance, estore_env):
    estore_env.drop("2019-10-01.csv", csv_lines(event_row()))
    estore_env.drop("2019-10-02.csv.gz", csv_lines(event_row(when="2019-10-02 00:00:00")))
    requests, cursor = tick(instance, estore_env)
    assert sorted(r.tags["estore/object"] for r in requests) == [
        "landing/events/2019-10-01.csv",
        "landing/events/2019-10-02.csv.gz",
    ]
    assert all(r.run_key.startswith(r.tags["estore/object"] + "@") for r in requests)
    for request in requests:
        assert execute(instance, estore_env, request)
    assert tick(instance, estore_env)[0] == []  # handled, whatever the cursor
    assert tick(instance, estore_env, cursor)[0] == []


def test_a_file_whose_run_is_in_progress_is_not_requested_again(instance, estore_env):
    estore_env.drop("2019-10-01.csv", csv_lines(event_row()))
    (request,), _ = tick(instance, estore_env)
    instance.create_run_for_job(
        ingest_job(estore_env),
        run_config=request.run_config,
        tags={RUN_KEY_TAG: request.run_key},
        status=dg.DagsterRunStatus.STARTED,
    )
    assert tick(instance, estore_env)[0] == []


def test_redrop_and_overwrite_are_new_versions(instance, estore_env):
    path = estore_env.drop("2019-10-01.csv", csv_lines(event_row()))
    assert len(drain(instance, estore_env)) == 1
    estore_env.drop("2019-10-01.csv", path.read_bytes(), age_seconds=30)  # same bytes, re-dropped
    (redrop,) = drain(instance, estore_env)
    estore_env.drop(
        "2019-10-01.csv", csv_lines(event_row(), event_row(product_id=2)), age_seconds=10
    )
    (overwrite,) = drain(instance, estore_env)
    assert len({redrop, overwrite}) == 2
    assert drain(instance, estore_env) == []


def test_files_still_being_written_are_not_picked_up(instance, estore_env):
    estore_env.drop("fresh.csv", csv_lines(event_row()), age_seconds=0)
    estore_env.drop(".fresh.csv.tmp", csv_lines(event_row()))
    estore_env.drop("upload.csv.part", csv_lines(event_row()))
    estore_env.drop("notes.txt", [b"hello".decode()])
    # A long settle time: "just written" holds however slow this machine is.
    assert tick(instance, estore_env, settle=600)[0] == []
    # Once settled, only the real data file is picked up (temporary names never are).
    for path in estore_env.landing.iterdir():
        age(path, 601)
    requests = tick(instance, estore_env, settle=600)[0]
    assert [r.tags["estore/object"] for r in requests] == ["landing/events/fresh.csv"]


def test_a_thousand_files_page_through_ticks_without_skips_or_doubles(instance, estore_env):
    for i in range(1_050):
        estore_env.drop(f"part-{i:05d}.csv", [f"{i}"])  # content is irrelevant to the sensor
    seen: list[str] = []
    cursor = None
    ticks = 0
    job = ingest_job(estore_env)
    while True:
        requests, cursor = tick(instance, estore_env, cursor, cap=100)
        ticks += 1
        assert len(requests) <= 100
        for request in requests:
            seen.append(request.run_key)
            instance.create_run_for_job(
                job,
                run_config=request.run_config,
                tags={RUN_KEY_TAG: request.run_key},
                status=dg.DagsterRunStatus.SUCCESS,
            )
        if not requests and not ListingCursor.parse(cursor).after:
            break
    assert len(seen) == len(set(seen)) == 1_050
    assert ticks >= 11
    # Cursor lost (or corrupted): a full rescan requests nothing already handled.
    assert drain(instance, estore_env, cap=100) == []
    assert tick(instance, estore_env, cursor="{not json")[0] == []


def test_a_deleted_cursor_key_does_not_reload_or_skip(instance, estore_env):
    for name in ("a.csv", "b.csv", "c.csv"):
        estore_env.drop(name, csv_lines(event_row()))
    requests, cursor = tick(instance, estore_env, cap=2)
    assert [r.tags["estore/object"][-5:] for r in requests] == ["a.csv", "b.csv"]
    for request in requests:
        execute(instance, estore_env, request)
    (estore_env.landing / "b.csv").unlink()  # the cursor's key disappears
    requests, cursor = tick(instance, estore_env, cursor, cap=2)
    assert [r.tags["estore/object"][-5:] for r in requests] == ["c.csv"]


def test_a_run_orphaned_by_a_killed_estore_run_is_failed_and_requested_again(
    instance, estore_env, tmp_path
):
    from dagster_project.cli.runner import IN_PROCESS_TAG, PipelineRunner

    estore_env.drop("2019-10-01.csv", csv_lines(event_row()))
    (request,), _ = tick(instance, estore_env)
    orphan = instance.create_run_for_job(
        ingest_job(estore_env),
        run_config=request.run_config,
        tags={RUN_KEY_TAG: request.run_key, IN_PROCESS_TAG: "true"},
        status=dg.DagsterRunStatus.STARTED,
    )
    assert tick(instance, estore_env)[0] == []  # looks in progress: blocked
    runner = PipelineRunner(dg.Definitions(), instance, tmp_path)
    assert runner.fail_orphaned_runs() == 1
    assert instance.get_run_by_id(orphan.run_id).status == dg.DagsterRunStatus.FAILURE
    # Requested again under a new run key (the daemon launches a run key only once).
    assert [r.run_key for r in tick(instance, estore_env)[0]] == [f"{request.run_key}#retry-1"]


def test_a_load_that_failed_for_a_transient_reason_is_retried_up_to_a_limit(instance, estore_env):
    """Issue 8.4: disk, lock or memory errors are not the file's fault: the daemon retries."""
    from dagster_project.defs.ingest.sensor import MAX_LOAD_RETRIES

    estore_env.drop("2019-10-01.csv", csv_lines(event_row()))
    (request,), _ = tick(instance, estore_env)
    requested = []
    for _ in range(MAX_LOAD_RETRIES + 1):
        (request,), _ = tick(instance, estore_env)
        requested.append(request.run_key)
        # The run dies or fails with an error of the machine (no dg.Failure of the op).
        instance.create_run_for_job(
            ingest_job(estore_env),
            run_config=request.run_config,
            tags={**request.tags, RUN_KEY_TAG: request.run_key},
            status=dg.DagsterRunStatus.FAILURE,
        )
    base = requested[0]
    assert requested == [base] + [f"{base}#retry-{n}" for n in range(1, MAX_LOAD_RETRIES + 1)]
    assert tick(instance, estore_env)[0] == []  # out of retries: reported, not looped


def test_a_file_the_loader_found_bad_is_not_requested_again(instance, estore_env):
    estore_env.drop("garbage.csv", b"this is not a csv file\n\x00\x01")
    (request,), _ = tick(instance, estore_env)
    assert execute(instance, estore_env, request) is False
    assert tick(instance, estore_env)[0] == []


def test_the_summary_reports_loads_that_failed_for_a_reason_other_than_the_file(estore_env):
    """Issue 13.2: "files failed" is truthful when nothing was written to the manifest."""
    from dagster_project.cli.instance import get_instance
    from dagster_project.cli.summary import pipeline_health

    instance = get_instance(estore_env.settings)
    estore_env.drop("2019-10-01.csv", csv_lines(event_row()))
    (request,), _ = tick(instance, estore_env)

    def attempt(run_key: str, status: dg.DagsterRunStatus) -> None:
        instance.create_run_for_job(
            ingest_job(estore_env),
            run_config=request.run_config,
            tags={**request.tags, RUN_KEY_TAG: run_key},
            status=status,
        )

    attempt(request.run_key, dg.DagsterRunStatus.FAILURE)
    health = pipeline_health(estore_env.settings.dagster_home)
    assert health.failed_loads == [(request.tags["estore/object"], "failure")]
    attempt(f"{request.run_key}#retry-1", dg.DagsterRunStatus.SUCCESS)
    assert pipeline_health(estore_env.settings.dagster_home).failed_loads == []
