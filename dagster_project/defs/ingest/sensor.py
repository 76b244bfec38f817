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


def handled_run_keys(instance: dg.DagsterInstance, run_keys: list[str]) -> set[str]:
    records = instance.get_run_records(
        filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_keys}, statuses=HANDLED_STATUSES)
    )
    return {record.dagster_run.tags.get(RUN_KEY_TAG) for record in records}


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
    minimum_interval_seconds=30,
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
    return [ingest_run_request(o.key, o.version, o.size, o.run_key) for o in plan.requests]
