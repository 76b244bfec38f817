"""The landing sensor: finds new object versions in the bucket and requests one load each."""

import dagster as dg
from dagster._core.storage.tags import RUN_KEY_TAG

from dagster_project.defs.ingest.assets import ingest_file_job
from dagster_project.defs.ingest.resources import LandingBucket
from dagster_project.lib.ingest.plan import ListingCursor, plan_tick

# A run in any of these states means its object version needs no new request: finished, or
# still on its way (re-requesting while a load runs is how files get appended twice).
HANDLED_STATUSES = [
    dg.DagsterRunStatus.SUCCESS,
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
OBJECT_TAG = "estore/object"
# A load that failed for a reason that is not the file's (disk full, a lock, out of memory, a
# killed process) is requested again under a new run key (Dagster launches a run key once):
# `key@version#retry-1`, ... at most this many times. A file the loader found bad fails with a
# dg.Failure and is not retried (it is recorded in raw.load_manifest; drop a fixed version).
MAX_LOAD_RETRIES = 3
RETRY_SEPARATOR = "#retry-"


def base_run_key(run_key: str) -> str:
    return run_key.split(RETRY_SEPARATOR, 1)[0]


def retry_run_key(run_key: str, attempt: int) -> str:
    return run_key if attempt == 0 else f"{run_key}{RETRY_SEPARATOR}{attempt}"


def failed_because_of_the_file(instance: dg.DagsterInstance, run_id: str) -> bool:
    """The op decided the file is bad (raised dg.Failure), as opposed to an error of the
    machine (any other exception, or a run that died without a step failure)."""
    for record in instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.STEP_FAILURE
    ).records:
        failure = record.event_log_entry.dagster_event.step_failure_data
        if failure is not None and failure.user_failure_data is not None:
            return True
    return False


def load_attempts(instance: dg.DagsterInstance, run_keys: list[str]) -> dict[str, int | None]:
    """For each run key: None when it needs no new request (loaded, in progress, failed because
    of the file, or out of retries), else the attempt number of the next request."""
    variants = [retry_run_key(k, n) for k in run_keys for n in range(MAX_LOAD_RETRIES + 1)]
    runs: dict[str, list[dg.DagsterRun]] = {k: [] for k in run_keys}
    for record in instance.get_run_records(filters=dg.RunsFilter(tags={RUN_KEY_TAG: variants})):
        run = record.dagster_run
        runs.setdefault(base_run_key(run.tags[RUN_KEY_TAG]), []).append(run)
    attempts: dict[str, int | None] = {}
    for key in run_keys:
        tried = runs.get(key, [])
        attempts[key] = None if _needs_no_request(instance, tried) else len(tried)
    return attempts


def _needs_no_request(instance: dg.DagsterInstance, tried: list[dg.DagsterRun]) -> bool:
    if not tried:
        return False
    if any(run.status in HANDLED_STATUSES for run in tried) or len(tried) > MAX_LOAD_RETRIES:
        return True
    return any(
        run.status == dg.DagsterRunStatus.CANCELED
        or failed_because_of_the_file(instance, run.run_id)
        for run in tried
    )


def handled_run_keys(instance: dg.DagsterInstance, run_keys: list[str]) -> set[str]:
    return {k for k, attempt in load_attempts(instance, run_keys).items() if attempt is None}


def ingest_run_request(key: str, version: str, size: int, run_key: str) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=run_key,
        run_config={
            "ops": {"ingest_file": {"config": {"key": key, "version": version, "size": size}}}
        },
        tags={OBJECT_TAG: key},
    )


@dg.sensor(
    job=ingest_file_job,
    minimum_interval_seconds=5,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests one ingest_file run per new or overwritten object version.",
)
def landing_sensor(context: dg.SensorEvaluationContext, landing: LandingBucket):
    bucket = landing.open()
    cursor = ListingCursor.parse(context.cursor)
    plan = plan_tick(
        bucket.list_objects(landing.prefix, start_after=cursor.after),
        cursor,
        lambda run_keys: handled_run_keys(context.instance, run_keys),
        max_requests=landing.max_files_per_tick,
    )
    context.update_cursor(plan.cursor.serialize())
    if not plan.requests:
        return dg.SkipReason(
            f"No new files (scanned {plan.scanned}, already handled {plan.already_handled})."
        )
    attempts = load_attempts(context.instance, [o.run_key for o in plan.requests])
    return [
        ingest_run_request(
            o.key, o.version, o.size, retry_run_key(o.run_key, attempts[o.run_key] or 0)
        )
        for o in plan.requests
    ]
