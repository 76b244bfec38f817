"""The whole Definitions load (a broken import or asset key fails here first), and the pure
helpers that decide what dbt is asked to do."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime

import dagster as dg
import pytest

from dagster_project.cli.run import load_definitions
from dagster_project.cli.runner import contiguous_ranges
from dagster_project.defs.ingest.assets import LANDING_EVENTS, RAW_EVENTS
from dagster_project.lib.automation import any_day_updated, upstream_or_code_changed
from dagster_project.lib.dbt.invocation import window_args
from dagster_project.lib.dbt.translator import MAX_NODE_NAME, SHORT_KEYS
from dagster_project.lib.ingest.parse import DayRange
from dagster_project.lib.partitions import EVENT_DAYS, day_partition_keys, window_of
from dagster_project.lib.settings import Settings


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    return load_definitions(Settings.from_env())


def test_definitions_load_with_the_full_lineage(defs: dg.Definitions):
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {"landing/event_files", "raw/events", "stg_events", "fct_events"} <= keys
    assert graph.get(RAW_EVENTS).parent_keys == {LANDING_EVENTS}
    assert RAW_EVENTS in graph.get(dg.AssetKey("stg_events")).parent_keys
    assert dg.AssetKey("stg_events") in graph.get(dg.AssetKey("fct_events")).parent_keys
    for name in ("ingest_file_job", "dbt_daily_job", "dbt_marts_job", "dbt_snapshots_job"):
        assert defs.resolve_job_def(name)
    assert defs.resolve_sensor_def("landing_sensor")
    assert defs.resolve_sensor_def("estore_automation")
    assert defs.resolve_schedule_def("dbt_snapshots_job_schedule")


def test_daily_models_share_the_day_partitions_and_rebuild_any_updated_day(defs):
    graph = defs.resolve_asset_graph()
    fct_events = graph.get(dg.AssetKey("fct_events"))
    assert fct_events.partitions_def == graph.get(RAW_EVENTS).partitions_def
    # Partitions follow the data (issue 13.3): the days loads touched, not a calendar.
    assert isinstance(fct_events.partitions_def, dg.DynamicPartitionsDefinition)
    assert fct_events.partitions_def.name == EVENT_DAYS
    assert fct_events.automation_condition == any_day_updated
    marts = [n for n in graph.asset_nodes if n.key.path[0].startswith(("dim_", "metrics_"))]
    assert marts, "no marts found"
    for node in marts:
        assert node.partitions_def is None
        assert node.automation_condition == upstream_or_code_changed


def test_dbt_tests_surface_as_asset_checks(defs):
    checks = {key.asset_key for key in defs.resolve_asset_graph().asset_check_keys}
    assert dg.AssetKey("fct_events") in checks


def test_window_args_end_exclusive():
    assert window_args(datetime(2019, 10, 1), datetime(2019, 10, 3)) == [
        "--event-time-start",
        "2019-10-01 00:00:00",
        "--event-time-end",
        "2019-10-03 00:00:00",
    ]


def test_contiguous_ranges():
    keys = {"2019-10-03", "2019-10-01", "2019-10-02", "2019-10-05", "2019-11-01"}
    assert contiguous_ranges(keys) == [
        ("2019-10-01", "2019-10-03"),
        ("2019-10-05", "2019-10-05"),
        ("2019-11-01", "2019-11-01"),
    ]
    assert contiguous_ranges(set()) == []


def test_contiguous_ranges_are_valid_in_the_partitions_insertion_order():
    """Day partitions are ordered by insertion: a late 09-30 sits after 10-03. A range must be
    consecutive in that order (else Dagster reads it backwards or across other days) and in
    dates (else the build's window covers days nobody asked for)."""
    order = ["2019-10-01", "2019-10-02", "2019-10-04", "2019-10-03", "2019-09-30"]
    keys = {"2019-09-30", "2019-10-01", "2019-10-02", "2019-10-03", "2019-10-04"}
    assert contiguous_ranges(keys, order) == [
        ("2019-09-30", "2019-09-30"),
        ("2019-10-01", "2019-10-02"),
        ("2019-10-03", "2019-10-03"),
        ("2019-10-04", "2019-10-04"),
    ]
    assert contiguous_ranges({"2019-10-01", "2019-10-02"}, order) == [("2019-10-01", "2019-10-02")]


def test_a_range_of_day_partitions_builds_from_its_first_to_its_last_date():
    assert window_of(["2019-10-03", "2019-09-30", "2019-10-01"]) == (
        date(2019, 9, 30),
        date(2019, 10, 3),
    )
    with pytest.raises(ValueError):
        window_of([])


def test_day_partitions_are_the_plausible_days_only():
    days = DayRange(date(2019, 9, 1), date(2019, 10, 2))
    keys, outside = day_partition_keys(
        [date(2019, 10, 1), date(2019, 8, 31), date(2019, 10, 3), date(2019, 10, 1)], days
    )
    assert (keys, outside) == (["2019-10-01"], ["2019-08-31", "2019-10-03"])


def test_session_models_need_no_neighbouring_days(defs):
    """Sessions are keyed by session with no look-around (a window rebuilds every session it
    touches from all its events), so day D of a session model depends on day D upstream only."""
    graph = defs.resolve_asset_graph()
    child, parent = dg.AssetKey("fct_sess_products"), dg.AssetKey("fct_events")
    mapping = graph.get_partition_mapping(child, parent)
    # day D -> day D: no offset, and not all partitions
    assert isinstance(mapping, dg.IdentityPartitionMapping), mapping


# Asset keys and the warehouse tables behind them are the project's public names (dashboards,
# Tableau and users' SQL read the tables): a layout change must not rename any silently. Keys
# longer than the lineage view shows are shortened on purpose (lib/dbt/translator.SHORT_KEYS);
# their tables keep their names.
PUBLIC_ASSET_KEYS = {
    "landing/event_files",
    "raw/events",
    "stg_events",
    "fct_events",
    "fct_sessions",
    "fct_sess_products",
    "fct_user_daily",
    "ml_user_days",
    "ml_user_catalog",
    "int_user_daily",
    "dim_users",
    "dim_user_rfm",
    "dim_products",
    "dim_categories",
    "metrics_churn",
    "metrics_conversion",
    "metrics_funnel",
    "metrics_retention",
    "metrics_rfm",
    "metrics_sales",
    "metrics_headline",
    "mart_products",
    "mart_cross_sell",
    "snap_user_rfm",
    "snap_user_status",
}


def test_public_asset_keys_are_unchanged(defs):
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys >= PUBLIC_ASSET_KEYS, sorted(PUBLIC_ASSET_KEYS - keys)


def test_dbt_asset_names_fit_the_lineage_view_and_keep_their_tables(defs):
    """Issue 13.8: every dbt node's name is shown whole (the lineage view cuts past 18
    characters) and distinct; a shortened key still names its table."""
    graph = defs.resolve_asset_graph()
    dbt_nodes = [n for n in graph.asset_nodes if "dagster_dbt/unique_id" in n.metadata]
    assert len(dbt_nodes) > 20
    names = [n.key.path[-1] for n in dbt_nodes]
    assert len(set(names)) == len(names)
    assert [n for n in names if len(n) > MAX_NODE_NAME] == []
    for model, short in SHORT_KEYS.items():
        table = graph.get(dg.AssetKey(short)).metadata["dagster/table_name"]
        assert str(table).endswith(f".{model}"), (short, table)


def test_runner_drives_the_jobs_and_sensor_it_imports(defs):
    """`estore run` refers to the definitions by object, so a rename cannot break it."""
    from dagster_project.cli import runner

    for job in (runner.ingest_file_job, runner.daily_models_job, runner.marts_job):
        assert defs.resolve_job_def(job.name)
    assert defs.resolve_sensor_def(runner.landing_sensor.name)


def test_settings_is_the_only_reader_of_the_environment():
    from pathlib import Path

    package = Path(__file__).resolve().parents[1] / "dagster_project"
    offenders = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "os.environ" in path.read_text() and path.name != "settings.py"
    ]
    assert offenders == []


def test_loading_the_definitions_imports_no_training_or_plotting_library():
    """Every process that loads the definitions (`estore run`, each Dagster run, the code
    server) paid seconds for scikit-learn, pandas, matplotlib and plotly it did not use:
    the assets that need them import them when they run."""
    code = (
        "import sys; from dagster_project.definitions import defs; defs(); "
        "print(','.join(m for m in ('sklearn', 'pandas', 'matplotlib', 'plotly', "
        "'tableauhyperapi', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


PROD_ENV = {
    "ESTORE_ENV": "prod",
    "ESTORE_BUCKET": "gs://estore-test-landing",
    "GCP_PROJECT": "estore-test",
    "ESTORE_BQ_DATASET": "estore",
    "ESTORE_BQ_LOCATION": "EU",
}


def test_prod_switch_picks_gcs_bigquery_and_the_prod_target(defs):
    """ESTORE_ENV=prod: the same definitions load with dagster-gcp's resources and dbt's prod
    target, and nothing talks to Google (no client is made until a run asks for one)."""
    from dagster_project.definitions import defs as load_defs
    from dagster_project.defs.ingest.resources import BigQueryWarehouse, LandingBucket
    from dagster_project.lib.settings import environment

    with environment(**PROD_ENV) as settings:
        assert (settings.warehouse, settings.dbt_target) == ("bigquery", "prod")
        prod = load_defs()
    resources = prod.resources
    landing, warehouse = resources["landing"], resources["warehouse"]
    assert isinstance(landing, LandingBucket) and landing.uri == "gs://estore-test-landing"
    assert landing.gcp_project == "estore-test"  # its client: dagster-gcp's GCSResource
    assert isinstance(warehouse, BigQueryWarehouse)  # its client: dagster-gcp's BigQueryResource
    assert (warehouse.project, warehouse.location) == ("estore-test", "EU")
    assert warehouse.raw_dataset == "estore_raw"  # what dbt's sources read
    assert resources["dbt"].target == "prod"
    assert prod.resolve_job_def("ingest_file_job")
    assert defs.resources["dbt"].target == "local"  # and the local default is untouched
    assert type(defs.resources["warehouse"]).__name__ == "Warehouse"
    assert defs.resources["landing"].gcp_project is None


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [({"ESTORE_BUCKET": None}, "ESTORE_BUCKET must be gs://"), ({"GCP_PROJECT": None}, "GCP_")],
)
def test_prod_switch_refuses_a_half_configured_environment(overrides, problem):
    from dagster_project.defs.ingest.resources import raw_warehouse
    from dagster_project.lib.settings import environment

    with (
        environment(**{**PROD_ENV, **overrides}) as settings,
        pytest.raises(dg.DagsterInvalidDefinitionError, match=problem),
    ):
        raw_warehouse(settings)
