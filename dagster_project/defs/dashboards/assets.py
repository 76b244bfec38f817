"""Dashboard assets: the Tableau extract, the HTML page and findings.md, from the marts."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb

from dagster_project.defs.ingest.assets import WAREHOUSE_POOL
from dagster_project.defs.ingest.resources import LandingBucket, Warehouse
from dagster_project.lib.automation import upstream_or_code_changed
from dagster_project.lib.dashboards.findings import write_findings
from dagster_project.lib.dashboards.marts import (
    DASHBOARD_MARTS,
    SCHEMA,
    dashboard_dir,
    existing_tables,
)
from dagster_project.lib.dashboards.publish import publish
from dagster_project.lib.dbt.translator import model_asset_key

GROUP = "dashboards"
MART_KEYS = [model_asset_key(name) for name in DASHBOARD_MARTS]

# What every dashboard asset shares: rebuilt from the marts after they change, one at a time.
DASHBOARD_ASSET = dict(
    group_name=GROUP,
    deps=MART_KEYS,
    automation_condition=upstream_or_code_changed,
    pool=WAREHOUSE_POOL,
    code_version="1",
)


def _output_dir(warehouse: Warehouse) -> Path:
    # Outputs live next to the warehouse file, under <data_dir>/dashboards.
    return dashboard_dir(Path(warehouse.duckdb_path).parent)


def _read_only(warehouse: Warehouse) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(warehouse.duckdb_path, read_only=True)


def _file_metadata(path: Path, landing: LandingBucket) -> dict[str, dg.MetadataValue]:
    """Where the file is (and, in production, its copy in the bucket) and how big."""
    published = publish(landing.open(), [path])
    return {
        "path": dg.MetadataValue.path(str(path)),
        "size_mb": dg.MetadataValue.float(round(path.stat().st_size / 1e6, 3)),
        **({"bucket_uri": dg.MetadataValue.url(published[0])} if published else {}),
    }


@dg.asset(
    **DASHBOARD_ASSET,
    description="The dashboard marts in one Tableau .hyper extract (one table per mart).",
)
def tableau_extract(warehouse: Warehouse, landing: LandingBucket) -> dg.MaterializeResult:
    target = _output_dir(warehouse) / "estore.hyper"
    with _read_only(warehouse) as con:
        from dagster_project.lib.dashboards.extract import write_extract  # tableauhyperapi

        tables = write_extract(con, target)
    return dg.MaterializeResult(
        metadata={
            **_file_metadata(target, landing),
            "tables": dg.MetadataValue.int(len(tables)),
            "rows": dg.MetadataValue.json({t.name: t.rows for t in tables}),
        }
    )


@dg.asset(
    **DASHBOARD_ASSET,
    description="One self-contained HTML dashboard (Plotly inlined, works offline).",
)
def web_dashboard(warehouse: Warehouse, landing: LandingBucket) -> dg.MaterializeResult:
    target = _output_dir(warehouse) / "dashboard.html"
    from dagster_project.lib.dashboards.page import render_page  # plotly: imported when used

    with _read_only(warehouse) as con:
        page = render_page(con, target)
        headline = (
            con.execute(
                f"select revenue::double, orders, aov, buyers from {SCHEMA}.metrics_headline"
            ).fetchone()
            if "metrics_headline" in existing_tables(con)
            else None
        )
    metadata = {
        **_file_metadata(target, landing),
        "charts": dg.MetadataValue.int(len(page.charts)),
        "skipped": dg.MetadataValue.text(", ".join(page.notes) or "none"),
    }
    if headline:
        revenue, orders, aov, buyers = headline
        metadata |= {
            "revenue": dg.MetadataValue.float(float(revenue or 0)),
            "orders": dg.MetadataValue.int(int(orders or 0)),
            "aov": dg.MetadataValue.float(float(aov or 0)),
            "buyers": dg.MetadataValue.int(int(buyers or 0)),
        }
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    **DASHBOARD_ASSET,
    description="findings.md: the headline insights computed from the marts.",
)
def findings_report(warehouse: Warehouse, landing: LandingBucket) -> dg.MaterializeResult:
    target = _output_dir(warehouse) / "findings.md"
    with _read_only(warehouse) as con:
        write_findings(con, target)
    return dg.MaterializeResult(
        metadata={
            **_file_metadata(target, landing),
            "findings": dg.MetadataValue.md(target.read_text()),
        }
    )


dashboards_job = dg.define_asset_job("dashboards_job", selection=dg.AssetSelection.groups(GROUP))
