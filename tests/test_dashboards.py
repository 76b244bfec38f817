"""Dashboards: the Tableau extract round-trip, the HTML page in a real browser, findings."""

from __future__ import annotations

import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from conftest import CHROMIUM_FLAGS, chromium_path
from tableauhyperapi import Connection, HyperProcess, TableName, Telemetry

from dagster_project.lib.dashboards.extract import HYPER_SCHEMA, write_extract
from dagster_project.lib.dashboards.findings import build_findings
from dagster_project.lib.dashboards.page import render_page

# A tiny hand-made warehouse: three marts with every column type the extract maps.
TINY_MARTS = """
create schema analytics;
create table analytics.metrics_sales_daily as
select * from (values
    (date '2026-01-01', 100.50::decimal(18,2), 2::bigint, 2::bigint, 50.25::double, date '2025-12-25', null::decimal(18,2), null::bigint, null::bigint, null::double, null::decimal(18,2), null::double, null::double, null::double, null::double),
    (date '2026-01-02', 80.00::decimal(18,2), 1, 1, 80.0, date '2025-12-26', null, null, null, null, null, null, null, null, null),
    (date '2026-01-08', 120.25::decimal(18,2), 3, 2, 40.0833, date '2026-01-01', 100.50, 2, 2, 50.25, 19.75, 0.1965, 0.5, 0.0, -0.2023)
) t(sales_date, revenue, orders, buyers, aov, comparison_date, previous_revenue, previous_orders,
    previous_buyers, previous_aov, revenue_change, revenue_change_rate, orders_change_rate,
    buyers_change_rate, aov_change_rate);
create table analytics.metrics_rfm_segments as
select * from (values
    (1::bigint, 'Champions', 2::bigint, 0.5::double, 200.00::decimal(18,2), 0.66::double, 3.0::double, 4.0::double, 100.0::double, date '2026-01-08'),
    (4::bigint, 'At Risk', 1, 0.25, 80.00::decimal(18,2), 0.27, 40.0, 2.0, 80.0, date '2026-01-08'),
    (8::bigint, 'Lost', 1, 0.25, 20.75::decimal(18,2), 0.07, 90.0, 1.0, 20.75, date '2026-01-08')
) t(segment_order, rfm_segment, buyers, buyer_share, revenue, revenue_share, avg_recency_days,
    avg_frequency, avg_monetary, as_of_date);
create table analytics.dim_users as
select * from (values
    (1::bigint, timestamp '2026-01-01 10:00:00', true, 'active', 150.25::decimal(18,2)),
    (2::bigint, timestamp '2026-01-02 11:30:00', true, 'lapsing', 50.50::decimal(18,2)),
    (3::bigint, timestamp '2026-01-03 12:45:00', false, 'active', 0.00::decimal(18,2)),
    (4::bigint, null, false, null, 0.00::decimal(18,2))
) t(user_id, first_event_time, is_buyer, activity_status, historical_ltv);
"""  # noqa: E501


@pytest.fixture(scope="module")
def tiny_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dash") / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(TINY_MARTS)
    return path


def test_extract_round_trip_matches_the_warehouse(tiny_warehouse: Path, tmp_path: Path) -> None:
    target = tmp_path / "dashboards" / "estore.hyper"
    with duckdb.connect(str(tiny_warehouse), read_only=True) as con:
        written = write_extract(con, target)
    assert {t.name: t.rows for t in written} == {
        "metrics_sales_daily": 3,
        "metrics_rfm_segments": 3,
        "dim_users": 4,
    }
    assert sorted(p.name for p in target.parent.iterdir()) == ["estore.hyper"]  # no temp left

    params = {"log_dir": str(tmp_path)}
    with (
        HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters=params) as hyper,
        Connection(hyper.endpoint, str(target)) as hcon,
    ):
        sales = TableName(HYPER_SCHEMA, "metrics_sales_daily")
        users = TableName(HYPER_SCHEMA, "dim_users")
        assert hcon.execute_scalar_query(f"select count(*) from {sales}") == 3
        # Decimals stay exact: 100.50 + 80.00 + 120.25.
        assert hcon.execute_scalar_query(f"select sum(revenue) from {sales}") == Decimal("300.75")
        assert hcon.execute_scalar_query(f"select sum(orders) from {sales}") == 6
        assert (
            hcon.execute_scalar_query(f"select count(*) from {sales} where revenue_change is null")
            == 2
        )
        assert hcon.execute_scalar_query(f"select count(*) from {users} where is_buyer") == 2
        assert (
            hcon.execute_scalar_query(
                f"select count(*) from {users} where first_event_time is null"
            )
            == 1
        )
        assert str(
            hcon.execute_scalar_query(f"select max(first_event_time) from {users}")
        ).startswith("2026-01-03 12:45:00")
        columns = {
            str(c.name).strip('"'): str(c.type)
            for c in hcon.catalog.get_table_definition(sales).columns
        }
    assert columns["sales_date"] == "DATE"
    assert columns["revenue"] == "NUMERIC(18, 2)"
    assert columns["orders"] == "BIG_INT"
    assert columns["aov"] == "DOUBLE"


def test_findings_are_computed_from_the_marts(tiny_warehouse: Path) -> None:
    with duckdb.connect(str(tiny_warehouse), read_only=True) as con:
        text = build_findings(con)
    # Champions: 200.00 of 300.75 revenue is the largest segment (shares come from the mart).
    assert "| Champions | 2 | 50.0% | 200.00 | 66.0% |" in text
    assert "The largest revenue segment is **Champions**" in text
    # Best day 2026-01-08 (120.25), worst 2026-01-02 (80.00).
    assert "- Best: 2026-01-08 with revenue 120.25 from 3 orders." in text
    assert "- Worst: 2026-01-02 with revenue 80.00 from 1 orders." in text
    assert "_Not available yet (needs metrics_funnel)._" in text
    assert "Models not trained yet" in text


def test_page_skips_missing_marts_and_draws_the_rest(tiny_warehouse: Path, tmp_path: Path) -> None:
    with duckdb.connect(str(tiny_warehouse), read_only=True) as con:
        page = render_page(con, tmp_path / "dashboard.html")
    assert page.charts == ["sales", "ltv", "rfm", "rfm_actions"]
    assert "funnel" in page.notes and "model_scores" in page.notes
    text = page.path.read_text()
    assert "Models not trained yet" in text
    assert not re.search(r"<script[^>]*\ssrc=", text)  # everything inlined: works offline
    assert text.count('<div class="chart"') == len(page.charts)


def test_page_draws_before_the_first_purchase(tmp_path: Path) -> None:
    """A warehouse with views and no purchase yet: every RFM segment has 0 buyers and null
    shares, which the page shows as '-' instead of failing the dashboard run."""
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(TINY_MARTS)
        con.execute(
            "update analytics.metrics_rfm_segments"
            " set buyers = 0, buyer_share = null, revenue = 0, revenue_share = null"
        )
    with duckdb.connect(str(path), read_only=True) as con:
        page = render_page(con, tmp_path / "dashboard.html")
    assert "rfm_actions" in page.charts
    assert '"-"' in page.path.read_text()


def test_every_chart_has_the_page_template_and_the_process_default_is_kept(
    tiny_warehouse: Path, tmp_path: Path
) -> None:
    import plotly.io as pio

    white = pio.templates["plotly_white"].layout.plot_bgcolor
    assert pio.templates.default == "plotly"
    with duckdb.connect(str(tiny_warehouse), read_only=True) as con:
        page = render_page(con, tmp_path / "dashboard.html")
    text = page.path.read_text()
    backgrounds = re.findall(r'"plot_bgcolor":"([^"]+)"', text)
    assert backgrounds == [white] * len(page.charts)  # one template per chart, the white one
    assert pio.templates.default == "plotly"  # other figures in the process are left alone


def run_chromium(page: Path, profile: Path, *args: str) -> str:
    command = [
        str(chromium_path()),
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        "--virtual-time-budget=15000",
        "--window-size=1280,2400",
        *args,
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return done.stdout


def render_status(dom: str) -> dict[str, str]:
    """The page's own report: `<chart> plots=N marks=M` per chart and `errors=[...]`."""
    match = re.search(r'<pre id="render-status">(.*?)</pre>', dom, re.S)
    assert match, "the page has no render-status element"
    status = {}
    for line in match.group(1).strip().splitlines():
        key, sep, value = line.partition("=" if line.startswith("errors=") else " ")
        status[key] = value
    return status


def test_every_chart_draws_in_headless_chromium(tiny_warehouse: Path, tmp_path: Path) -> None:
    with duckdb.connect(str(tiny_warehouse), read_only=True) as con:
        page = render_page(con, tmp_path / "dashboard.html")
    dom = run_chromium(page.path, tmp_path / "profile", "--dump-dom")
    status = render_status(dom)
    assert status.pop("errors") == "[]"
    assert sorted(status) == sorted(page.charts)
    for chart, counts in status.items():
        plots, marks = (int(x.split("=")[1]) for x in counts.split())
        assert plots >= 1 and marks >= 1, f"{chart} drew nothing: {counts}"

    shot = tmp_path / "dashboard.png"
    run_chromium(page.path, tmp_path / "profile", f"--screenshot={shot}")
    assert shot.stat().st_size > 10_000  # a real picture, not a blank page


def test_dashboard_assets_materialize_next_to_the_warehouse(
    tiny_warehouse: Path, tmp_path: Path
) -> None:
    import dagster as dg

    from dagster_project.defs.dashboards import assets
    from dagster_project.defs.ingest.resources import LandingBucket, Warehouse
    from dagster_project.lib.automation import upstream_or_code_changed
    from dagster_project.lib.dashboards.marts import dashboard_paths

    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(tiny_warehouse, warehouse)
    defs = [assets.tableau_extract, assets.web_dashboard, assets.findings_report]
    for asset in defs:
        spec = next(iter(asset.specs))
        assert spec.group_name == "dashboards"
        assert {dep.asset_key for dep in spec.deps} >= {dg.AssetKey(["metrics_sales"])}
        assert spec.automation_condition == upstream_or_code_changed
        assert asset.op.pool == "warehouse"

    landing = LandingBucket(
        uri=str(tmp_path / "bucket"),
        prefix="landing/events/",
        settle_seconds=0,
        max_files_per_tick=1,
    )
    resources = {"warehouse": Warehouse(duckdb_path=str(warehouse)), "landing": landing}
    result = dg.materialize(defs, resources=resources)
    assert result.success
    meta = {
        e.materialization.asset_key.path[-1]: e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    paths = dashboard_paths(type("S", (), {"data_dir": tmp_path})())
    assert meta["tableau_extract"]["path"].value == str(paths["extract"])
    assert meta["web_dashboard"]["path"].value == str(paths["page"])
    assert meta["findings_report"]["path"].value == str(paths["findings"])
    assert meta["tableau_extract"]["tables"].value == 3
    assert all(p.exists() for p in paths.values())


def test_models_section_draws_when_the_ml_tables_exist(
    tiny_warehouse: Path, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(tiny_warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            """create table analytics.ml_purchase_scores as
               select range as user_id, (range / 10)::double as probability, 1 as score_rank
               from range(10);
               create table analytics.ml_retention_targets as
               select range as user_id, 0.5::double as p_churn,
                      (100 - range)::double as expected_future_value,
                      (range * 2)::double as expected_value, range as target_rank
               from range(30);
               create table analytics.ml_model_evaluation as
               select 'churn' as task, 'v1' as model_version, scorer, 100 as n,
                      auc as roc_auc, 0.5 as pr_auc, lift as top_decile_lift,
                      0.4 as log_loss, 0.1 as brier
               from (values ('model', 0.91, 3.2), ('heuristic', 0.80, 2.1),
                            ('oracle', 0.95, 3.6)) t(scorer, auc, lift)"""
        )
        page = render_page(con, tmp_path / "dashboard.html")
    assert page.charts[-3:] == ["model_quality", "model_scores", "retention_targets"]
    text = page.path.read_text()
    # Targets are ranked by expected value: 29 * 2 = 58 down to 10 * 2 = 20, 20 rows only.
    assert "58.000" in text and "20.000" in text and "18.000" not in text
