"""`estore run`: process everything pending in-process, with the very definitions the UI uses.

1. Tick the landing sensor until the bucket has nothing new; execute each run request as the
   daemon would (same job, run config, run key tag).
2. Evaluate the declarative automation conditions; execute what they request (day ranges of the
   daily dbt models, then the whole-table marts) until nothing more is requested. Whole-table
   assets requested beside day ranges are built in the next round, with what those days refresh.
3. Take the SCD2 snapshots (the daily schedule's job) when anything was rebuilt.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    AUTOMATION_CONDITION_TAG,
    RUN_KEY_TAG,
    SCHEDULE_NAME_TAG,
    SENSOR_NAME_TAG,
)
from dagster_shared.serdes import deserialize_value, serialize_value

from dagster_project.cli.instance import Recovery, recover_dead_runs
from dagster_project.defs.automation.sensor import automation_sensor
from dagster_project.defs.dashboards.assets import dashboards_job
from dagster_project.defs.dbt.assets import (
    daily_models_job,
    marts_job,
    snapshot_schedule,
    snapshots_job,
)
from dagster_project.defs.ingest.assets import ingest_file_job
from dagster_project.defs.ingest.sensor import OBJECT_TAG, base_run_key, landing_sensor
from dagster_project.defs.ml.assets import ml_job
from dagster_project.lib.ingest.bucket import LocalBucket
from dagster_project.lib.ingest.pending import pending_days
from dagster_project.lib.ingest.plan import ListingCursor
from dagster_project.lib.partitions import EVENT_DAYS, day_partition_keys, ensure_day_partitions

# Jobs of the unpartitioned assets, in the order their assets depend on each other.
WHOLE_TABLE_JOBS = (marts_job, ml_job, dashboards_job)

AUTOMATION_CURSOR_FILE = "estore_automation_cursor.json"
IN_PROCESS_TAG = "estore/in_process"
# The tags the daemon's automation sensor and schedule put on their runs: runs of `estore run`
# read the same in the UI ("Automation" / the schedule, not "Manually launched").
AUTOMATION_TAGS = {AUTOMATION_CONDITION_TAG: "true", SENSOR_NAME_TAG: automation_sensor.name}
SNAPSHOT_TAGS = {SCHEDULE_NAME_TAG: snapshot_schedule.name}


@contextmanager
def partitions_read_once(instance: dg.DagsterInstance) -> Iterator[None]:
    """Dagster's automation tick lists the day partitions from the run database once per
    subset it serializes into the cursor, through the instance itself (~4 s of a new day's
    pass on 90 days): answer from one read per tick instead. No partition is added meanwhile
    (this process holds the warehouse lock; the sensor adds them before the tick)."""
    read = functools.cache(instance.get_dynamic_partitions)
    instance.get_dynamic_partitions = read  # type: ignore[method-assign]
    try:
        yield
    finally:
        del instance.get_dynamic_partitions  # the class's method again


@dataclass
class FileOutcome:
    key: str
    ok: bool
    error: str | None = None


@dataclass
class RunReport:
    files: list[FileOutcome] = field(default_factory=list)
    day_ranges: list[tuple[str, str]] = field(default_factory=list)
    mart_runs: int = 0
    snapshot_runs: int = 0
    failed_runs: list[str] = field(default_factory=list)
    seconds: float = 0.0
    recovery: Recovery = field(default_factory=Recovery)

    @property
    def files_loaded(self) -> int:
        return sum(f.ok for f in self.files)

    @property
    def files_failed(self) -> list[FileOutcome]:
        return [f for f in self.files if not f.ok]


def contiguous_ranges(
    partition_keys: set[str], order: list[str] | None = None
) -> list[tuple[str, str]]:
    """Group ISO days into [first, last] runs of consecutive days that are also consecutive in
    the partitions' own order (`order`: the day partitions are ordered by insertion, so a late
    day sits after later days; a range is only valid in that order, and one whose days were not
    consecutive would rebuild the days between). Without `order`, date order is assumed."""
    days = sorted(date.fromisoformat(k) for k in partition_keys)
    position = {k: i for i, k in enumerate(order)} if order is not None else None
    ranges: list[tuple[date, date]] = []
    for day in days:
        follows = bool(ranges) and day == ranges[-1][1] + timedelta(days=1)
        if follows and position is not None:
            follows = position[day.isoformat()] == position[ranges[-1][1].isoformat()] + 1
        if follows:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return [(a.isoformat(), b.isoformat()) for a, b in ranges]


class PipelineRunner:
    def __init__(
        self,
        defs: dg.Definitions,
        instance: dg.DagsterInstance,
        state_dir: Path,
        on_event: Callable[[str, dict], None] | None = None,
    ):
        self.defs = defs
        self.instance = instance
        self.state_dir = state_dir
        self.on_event = on_event or (lambda kind, info: None)
        self.report = RunReport()
        self.current: str = "starting"  # what the runner is doing (said when interrupted)
        self.stopping = False  # set by a signal handler: start nothing new

    # -- ingest ------------------------------------------------------------------------------
    def ingest_pending(self, max_wait_seconds: float = 30.0) -> None:
        """Tick the sensor until one whole pass over the bucket requests nothing new.

        Each run key is executed at most once per call: a file that failed is reported, not
        retried in a loop (it is retried by the next `estore run`, and fails fast if the very
        same version was already recorded as bad)."""
        sensor = self.defs.resolve_sensor_def(landing_sensor.name)
        job = self.defs.resolve_job_def(ingest_file_job.name)
        cursor: str | None = None
        attempted: set[str] = set()
        new_in_pass = False
        waited = 0.0
        while True:
            with dg.build_sensor_context(
                instance=self.instance,
                cursor=cursor,
                resources=self.defs.resources,
                sensor_name=landing_sensor.name,
            ) as context:
                data = sensor.evaluate_tick(context)
            cursor = data.cursor
            for request in data.run_requests or []:
                # One attempt per file version per call (the sensor may offer a retry key).
                if base_run_key(request.run_key) not in attempted:
                    attempted.add(base_run_key(request.run_key))
                    new_in_pass = True
                    self._ingest(job, request)
            if ListingCursor.parse(cursor).after:
                continue  # the pass is not over
            if new_in_pass:
                new_in_pass = False
                continue  # another pass: loads may have taken long enough for files to land
            if self._unsettled_files() and waited < max_wait_seconds:
                time.sleep(1.0)  # files still being written: wait for them to settle
                waited += 1.0
                continue
            return

    def _unsettled_files(self) -> int:
        landing = self.defs.resources["landing"]  # type: ignore[index]
        bucket = landing.open()
        return bucket.unsettled_count(landing.prefix) if isinstance(bucket, LocalBucket) else 0

    def _ingest(self, job: dg.JobDefinition, request: dg.RunRequest) -> None:
        self._check_stopping()
        key = request.tags.get(OBJECT_TAG, request.run_key)
        self.current = f"loading {key}"
        self.on_event("file_start", {"key": key})
        result = job.execute_in_process(
            run_config=request.run_config,
            instance=self.instance,
            tags={
                **request.tags,
                RUN_KEY_TAG: request.run_key,
                SENSOR_NAME_TAG: landing_sensor.name,
                IN_PROCESS_TAG: "true",
            },
            raise_on_error=False,
        )
        error = None if result.success else _failure_message(result)
        self.report.files.append(FileOutcome(key, result.success, error))
        self.on_event("file_done", {"key": key, "ok": result.success, "error": error})

    # -- automation ----------------------------------------------------------------------------
    def _cursor_path(self) -> Path:
        return self.state_dir / AUTOMATION_CURSOR_FILE

    def _load_cursor(self):
        path = self._cursor_path()
        return deserialize_value(path.read_text()) if path.exists() else None

    def _save_cursor(self, cursor) -> None:
        path = self._cursor_path()
        temporary = path.with_suffix(".tmp")
        temporary.write_text(serialize_value(cursor))
        temporary.replace(path)

    def evaluate_automation(
        self, cursor: object | None
    ) -> tuple[dict[dg.AssetKey, set[str] | None], object]:
        """One automation tick from `cursor` (None: the first): ({asset key: requested
        partition keys (None = unpartitioned)}, the cursor to save once those requests have run)."""
        with partitions_read_once(self.instance):
            result = dg.evaluate_automation_conditions(
                defs=self.defs, instance=self.instance, cursor=cursor
            )
            requested: dict[dg.AssetKey, set[str] | None] = {}
            for key in {r.key for r in result.results if isinstance(r.key, dg.AssetKey)}:
                partitions = result.get_requested_partitions(key)
                if partitions:
                    named = {p for p in partitions if p is not None}
                    requested[key] = named or None
            return requested, result.cursor

    def build_downstream(self, max_rounds: int = 5) -> None:
        daily_job = self.defs.resolve_job_def(daily_models_job.name)
        daily_keys = set(daily_job.asset_layer.executable_asset_keys)
        cursor = self._load_cursor()
        deferred: dict[dg.AssetKey, set[str] | None] = {}
        for round_number in range(max_rounds):
            requested, next_cursor = self.evaluate_automation(cursor)
            if round_number == 0:
                self._add_pending_days(requested, daily_keys)
            requested = {**deferred, **requested}
            if not requested:
                self._save_cursor(next_cursor)
                return
            failures = len(self.report.failed_runs)
            daily = {k: p for k, p in requested.items() if k in daily_keys and p}
            order = self.instance.get_dynamic_partitions(EVENT_DAYS)
            for keys, days in self._daily_groups(daily):
                for start, end in contiguous_ranges(days, order):
                    self._execute(
                        daily_job,
                        f"days {start}..{end}",
                        asset_selection=keys,
                        tags={
                            **AUTOMATION_TAGS,
                            ASSET_PARTITION_RANGE_START_TAG: start,
                            ASSET_PARTITION_RANGE_END_TAG: end,
                        },
                    )
                    self.report.day_ranges.append((start, end))
            whole_table = [k for k in requested if k not in daily_keys]
            # Whole-table assets requested beside day ranges (their code changed, say) wait for
            # the next round, after the days they read are built, where most are requested again
            # anyway: one build each instead of one now and one then.
            wait = bool(daily) and round_number < max_rounds - 1
            deferred = {k: requested[k] for k in whole_table} if wait else {}
            for job, keys in self._whole_table_runs([] if wait else whole_table):
                self._execute(
                    job, f"{len(keys)} {job.name}", asset_selection=keys, tags=AUTOMATION_TAGS
                )
                self.report.mart_runs += 1
            if len(self.report.failed_runs) > failures:
                return  # keep the saved cursor: the next `estore run` requests these again
            cursor = next_cursor
            if not deferred:
                # Saved only once nothing requested is left waiting: a run killed before the
                # deferred builds requests them again.
                self._save_cursor(cursor)

    def _add_pending_days(
        self, requested: dict[dg.AssetKey, set[str] | None], daily_keys: set[dg.AssetKey]
    ) -> None:
        """Days the warehouse still lists in raw.pending_days were loaded but never built (a
        build killed or interrupted after Dagster recorded the load): request them again, since
        the automation cursor may already count them as handled."""
        with self.defs.resources["warehouse"].connect() as con:  # type: ignore[index]
            days, _outside = day_partition_keys(pending_days(con))
        # A load whose run died before it reported its days has not added their partitions.
        ensure_day_partitions(self.instance, days)
        if days:
            for key in daily_keys:
                requested[key] = (requested.get(key) or set()) | set(days)

    def _whole_table_runs(
        self, keys: list[dg.AssetKey]
    ) -> list[tuple[dg.JobDefinition, list[dg.AssetKey]]]:
        """Requested unpartitioned assets, split by the job that holds them, in lineage order
        (marts, then models and scores, then dashboards)."""
        runs = []
        for job_def in WHOLE_TABLE_JOBS:
            job = self.defs.resolve_job_def(job_def.name)
            mine = [k for k in keys if k in job.asset_layer.executable_asset_keys]
            if mine:
                runs.append((job, mine))
        return runs

    def _daily_groups(
        self, requested: dict[dg.AssetKey, set[str]]
    ) -> list[tuple[list[dg.AssetKey], set[str]]]:
        """Daily models grouped by the exact days requested for them, upstream groups first.

        A model that reads neighbouring days is requested for more days than its inputs; running
        everything over the widest window would rebuild (re-materialize) the inputs' neighbouring
        days too, and that would ripple one more day outward on every automation tick."""
        groups: dict[frozenset[str], list[dg.AssetKey]] = {}
        for key, days in requested.items():
            groups.setdefault(frozenset(days), []).append(key)
        order = {k: i for i, k in enumerate(self.defs.resolve_asset_graph().toposorted_asset_keys)}
        ranked = sorted(groups.items(), key=lambda item: min(order[k] for k in item[1]))
        return [(keys, set(days)) for days, keys in ranked]

    def take_snapshots(self) -> None:
        job = self.defs.resolve_job_def(snapshots_job.name)
        if not job.asset_layer.executable_asset_keys:
            return
        self._execute(job, "snapshots", tags=SNAPSHOT_TAGS)
        self.report.snapshot_runs += 1

    def _snapshots_unfinished(self) -> bool:
        """The last snapshot run did not succeed (killed, failed): take them again."""
        records = self.instance.get_run_records(
            filters=dg.RunsFilter(job_name=snapshots_job.name), limit=1
        )
        return bool(records) and records[0].dagster_run.status != dg.DagsterRunStatus.SUCCESS

    def _check_stopping(self) -> None:
        if self.stopping:
            raise KeyboardInterrupt("estore run is stopping")

    def _execute(self, job: dg.JobDefinition, label: str, **kwargs) -> None:
        self._check_stopping()
        self.current = f"building {label}"
        self.on_event("step_start", {"label": label})
        tags = {**kwargs.pop("tags", {}), IN_PROCESS_TAG: "true"}
        result = job.execute_in_process(
            instance=self.instance, raise_on_error=False, tags=tags, **kwargs
        )
        if not result.success:
            self.report.failed_runs.append(f"{label}: {_failure_message(result)}")
        self.on_event("step_done", {"label": label, "ok": result.success})

    def fail_orphaned_runs(self) -> int:
        """Runs an earlier process left in progress (a killed `estore run`, `make dev` stopped
        mid-run) would stay "started" forever, hold the `warehouse` pool slot and block their
        file or days. The caller holds the warehouse lock, so their processes are dead: they
        are marked failed and their slots freed."""
        self.report.recovery = recover_dead_runs(self.instance)
        return len(self.report.recovery.failed_runs)

    def run(self) -> RunReport:
        started = time.perf_counter()
        self.fail_orphaned_runs()
        if self._load_cursor() is None:
            # The first tick only records the current state.
            self._save_cursor(self.evaluate_automation(None)[1])
        self.ingest_pending()
        before = (len(self.report.day_ranges), self.report.mart_runs)
        self.build_downstream()
        changed = (len(self.report.day_ranges), self.report.mart_runs) != before
        if (changed or self._snapshots_unfinished()) and not self.report.failed_runs:
            self.take_snapshots()
        self.current = "done"
        self.report.seconds = time.perf_counter() - started
        return self.report


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            while error.cause and "Failure" not in error.cls_name and error.cause.message:
                error = error.cause
            return error.message.strip().splitlines()[0][:500]
    return "run failed"
