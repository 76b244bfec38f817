"""End to end through the real Definitions: generated files + a real sample + a bad file ->
sensor -> ingest runs -> declarative automation -> dbt -> marts, exactly as `estore run` does."""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from conftest import REAL_SAMPLES, EstoreEnv, age, csv_lines, event_row

from dagster_project.cli.instance import render_dagster_yaml
from dagster_project.cli.run import load_definitions
from dagster_project.cli.runner import AUTOMATION_CURSOR_FILE, PipelineRunner
from dagster_project.cli.summary import summarize
from dagster_project.generator import GeneratorConfig, generate
from dagster_project.lib.dbt.metadata import HEADLINES
from dagster_project.lib.dbt.translator import model_asset_key
from dagster_project.lib.partitions import EVENT_DAYS

pytestmark = pytest.mark.slow


def counts(env: EstoreEnv) -> dict[str, int]:
    con = duckdb.connect(str(env.settings.duckdb_path), read_only=True)
    try:
        names = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema in ('raw', 'analytics', 'snapshots') "
            "and table_name not like 'dbt_%'"
        ).fetchall()
        return {n: con.execute(f"select count(*) from {n}").fetchone()[0] for (n,) in names}
    finally:
        con.close()


def scalar(env: EstoreEnv, sql: str):
    con = duckdb.connect(str(env.settings.duckdb_path), read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def day_keys(env: EstoreEnv, sql: str) -> list[str]:
    con = duckdb.connect(str(env.settings.duckdb_path), read_only=True)
    try:
        return sorted(day.isoformat() for (day,) in con.execute(sql).fetchall())
    finally:
        con.close()


def day_partitions() -> list[str]:
    return dg.DagsterInstance.get().get_dynamic_partitions(EVENT_DAYS)


def latest_run(key: str) -> str:
    return dg.DagsterInstance.get().get_latest_materialization_event(dg.AssetKey(key)).run_id


def materialized_since(when: datetime) -> Counter[str]:
    """How many times each asset was materialized by the runs created after `when`."""
    instance = dg.DagsterInstance.get()
    built: Counter[str] = Counter()
    for record in instance.get_run_records(filters=dg.RunsFilter(created_after=when)):
        for entry in instance.all_logs(
            record.dagster_run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ):
            built[entry.dagster_event.asset_key.to_user_string()] += 1
    return built


def latest_metadata(key: str) -> dict:
    event = dg.DagsterInstance.get().get_latest_materialization_event(dg.AssetKey(key))
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def assert_model_metadata(env: EstoreEnv, counted: dict[str, int]) -> None:
    """Issue 13.6: each model's materialization says its rows, days and headline figures."""
    events = latest_metadata("fct_events")
    assert events["rows_in_window"] == counted["analytics.fct_events"]  # the window is all days
    assert (events["first_day"], events["last_day"]) == ("2019-10-01", "2019-10-04")
    sales = latest_metadata("metrics_sales")
    assert sales["dagster/row_count"] == counted["analytics.metrics_sales_daily"]
    assert sales["revenue"] == pytest.approx(
        float(scalar(env, "select sum(revenue) from analytics.metrics_sales_daily")), abs=1e-3
    )
    assert sales["days_covered"] == 4
    users = latest_metadata("dim_users")
    assert users["dagster/row_count"] == counted["analytics.dim_users"]
    assert users["buyers"] == scalar(
        env, "select count(*) from analytics.dim_users where orders > 0"
    )
    for mart, figures in HEADLINES.items():  # every headline's SQL ran on the real table
        assert set(figures) <= set(latest_metadata(model_asset_key(mart).path[0])), mart


def run_pipeline(env: EstoreEnv, defs: dg.Definitions):
    instance = dg.DagsterInstance.get()
    return PipelineRunner(defs, instance, env.settings.dagster_home).run()


class StopBeforeMarts(PipelineRunner):
    """Stops as Ctrl-C does (`stopping`: nothing new starts) when the marts are next."""

    def _execute(self, job: dg.JobDefinition, label: str, **kwargs) -> None:
        self.stopping = self.stopping or job.name == "dbt_marts_job"
        super()._execute(job, label, **kwargs)


def input_lines(env: EstoreEnv, valid_only: bool = True) -> int:
    total = 0
    for path in env.landing.glob("*.csv"):
        if valid_only and path.name.startswith("garbage"):
            continue
        total += sum(1 for _ in path.open("rb")) - 1
    return total


@pytest.fixture
def pipeline_env(estore_env: EstoreEnv):
    home = estore_env.settings.dagster_home
    (home / "dagster.yaml").write_text(render_dagster_yaml(home))
    return estore_env


def test_files_become_marts_exactly_once(pipeline_env: EstoreEnv):
    env = pipeline_env
    generate(
        GeneratorConfig(
            output_dir=Path(env.settings.bucket),
            prefix=env.settings.landing_prefix,
            start_date=date(2019, 10, 1),
            days=4,
            events=20_000,
            seed=7,
        )
    )
    october_sample = next(p for p in REAL_SAMPLES if "Oct" in p.name)
    shutil.copyfile(october_sample, env.landing / october_sample.name)
    env.drop("garbage.csv", os.urandom(512))
    for path in env.landing.iterdir():
        age(path, 60)
    defs = load_definitions(env.settings)

    first = run_pipeline(env, defs)

    assert [f.key.rsplit("/", 1)[-1] for f in first.files_failed] == ["garbage.csv"]
    assert "wrong header" in first.files_failed[0].error
    assert first.files_loaded == 5
    assert first.failed_runs == []
    # The loaded days; then the session models over those days and one day around them.
    assert first.day_ranges == [("2019-10-01", "2019-10-04")]
    # The day partitions are exactly the days that have events (issue 13.3), in date order.
    loaded_days = day_keys(env, "select distinct cast(event_time as date) from raw.events")
    assert day_partitions() == loaded_days
    assert first.mart_runs >= 1 and first.snapshot_runs == 1
    before = counts(env)
    # Nothing lost: every valid input line is loaded or rejected.
    assert before["raw.events"] + before["raw.load_rejects"] == input_lines(env)
    # Nothing doubled: exact duplicate rows count once downstream.
    distinct_raw = scalar(
        env,
        "select count(*) from (select distinct event_time, event_type, product_id, category_id,"
        " category_code, brand, price, user_id, user_session from raw.events)",
    )
    assert before["analytics.fct_events"] == distinct_raw < before["raw.events"]
    for mart in ("dim_users", "dim_user_rfm", "metrics_funnel", "metrics_sales_daily"):
        assert before[f"analytics.{mart}"] > 0, mart
    assert_model_metadata(env, before)

    # A second run loads nothing and rebuilds nothing. The bad file is not requested again
    # (the loader found it bad: only a new version is loaded); the summary still reports it.
    again = run_pipeline(env, defs)
    assert (again.files_loaded, again.day_ranges, again.mart_runs) == (0, [], 0)
    assert again.files_failed == []
    assert [k.rsplit("/", 1)[-1] for k, _ in summarize(env.settings.duckdb_path).files_failed] == [
        "garbage.csv"
    ]
    assert counts(env) == before

    # Re-dropping every file (new versions, same content) changes no count.
    time.sleep(0.01)
    for path in env.landing.iterdir():
        path.write_bytes(path.read_bytes())
        age(path, 30)
    redrop = run_pipeline(env, defs)
    assert redrop.files_loaded == 5
    assert redrop.day_ranges == [("2019-10-01", "2019-10-04")]
    assert counts(env) == before

    # A late file for an earlier day rebuilds that day (and its session look-around) only.
    training_set_run = latest_run("ml_user_features")
    score_features_run = latest_run("ml_score_features")
    env.drop("late.csv", csv_lines(event_row(when="2019-09-30 23:59:00", event_type="purchase")))
    late = run_pipeline(env, defs)
    # The features to score follow every new day; the training set waits for the next retrain.
    assert latest_run("ml_score_features") != score_features_run
    assert latest_run("ml_user_features") == training_set_run
    assert late.files_loaded == 1
    assert late.day_ranges == [("2019-09-30", "2019-09-30")]
    assert counts(env)["analytics.fct_events"] == before["analytics.fct_events"] + 1
    # Its partition is added last (insertion order), and the day is built into the marts.
    assert day_partitions() == [*loaded_days, "2019-09-30"]
    assert (
        scalar(
            env,
            "select count(*) from analytics.metrics_sales_daily where "
            "sales_date = date '2019-09-30'",
        )
        == 1
    )

    # An upgrade that changes a whole-table model's code arrives with a new day: what reads that
    # model is built once, after the day, not once before it and again after it.
    # Dagster sees a code change as a code version unlike the one its automation cursor kept.
    version = defs.resolve_asset_graph().get(model_asset_key("int_as_of")).code_version
    cursor_file = env.settings.dagster_home / AUTOMATION_CURSOR_FILE
    kept = cursor_file.read_text()
    assert version and version in kept
    cursor_file.write_text(kept.replace(version, "the-previous-release"))
    env.drop("next.csv", csv_lines(event_row(when="2019-10-05 08:00:00", event_type="purchase")))
    # Stopped (Ctrl-C) once the day is built, before the marts that waited for it: nothing lost.
    stopped = StopBeforeMarts(defs, dg.DagsterInstance.get(), env.settings.dagster_home)
    with pytest.raises(KeyboardInterrupt):
        stopped.run()
    assert stopped.report.day_ranges == [("2019-10-05", "2019-10-05")]
    started = datetime.now(UTC)
    upgrade = run_pipeline(env, defs)
    assert upgrade.failed_runs == []
    built = materialized_since(started)
    assert built["int_as_of"] == built["dim_users"] == built["ml_score_features"] == 1
    assert max(built.values()) == 1, built
    assert scalar(env, "select max(last_event_date) from analytics.int_as_of") == date(2019, 10, 5)
