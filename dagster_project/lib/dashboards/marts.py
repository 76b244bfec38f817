"""Which warehouse tables the dashboards read, and where their outputs go."""

from __future__ import annotations

from pathlib import Path

import duckdb

SCHEMA = "analytics"

# The marts every dashboard surface reads (the dbt exposures list the same names).
DASHBOARD_MARTS = (
    "metrics_headline",
    "metrics_sales_daily",
    "metrics_funnel",
    "metrics_conversion_daily",
    "metrics_churn_cohorts",
    "metrics_retention_weekly",
    "metrics_rfm_segments",
    "dim_users",
    "dim_user_rfm",
    "dim_products",
    "mart_product_performance",
    "mart_cross_sell_candidates",
)
# Written by the ML assets once the models are trained; optional everywhere.
MODEL_TABLES = (
    "ml_purchase_scores",
    "ml_churn_scores",
    "ml_retention_targets",
    "ml_model_evaluation",
)


def existing_tables(con: duckdb.DuckDBPyConnection, schema: str = SCHEMA) -> set[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = ?", [schema]
    ).fetchall()
    return {name for (name,) in rows}


def dashboard_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "dashboards"


def dashboard_paths(settings) -> dict[str, Path]:
    """Where `make demo` finds the outputs (settings: anything with a `data_dir`)."""
    base = dashboard_dir(settings.data_dir)
    return {
        "extract": base / "estore.hyper",
        "page": base / "dashboard.html",
        "findings": base / "findings.md",
    }
