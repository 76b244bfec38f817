"""What each dbt model materialization reports: rows, days covered and, for marts, a headline
figure or two. Pure SQL building (tested on DuckDB directly); defs/dbt/assets.py runs it once
per dbt call, on one connection: one information_schema query, then one UNION ALL query.

dagster-dbt's `fetch_row_counts()` would open a dbt adapter and a query per model; the adapter
alone costs seconds per call (see EstoreDbtCliResource), so this asks the warehouse directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

# Marts' headline figures: label -> aggregate over the table (at most two each).
HEADLINES: dict[str, dict[str, str]] = {
    "metrics_headline": {"revenue": "max(revenue)", "buyers": "max(buyers)"},
    "metrics_sales_daily": {"revenue": "sum(revenue)", "orders": "sum(orders)"},
    "metrics_conversion_daily": {
        "sessions": "sum(sessions)",
        "purchase_sessions": "sum(sessions_with_purchase)",
    },
    "metrics_funnel": {
        "sessions": "max(sessions)",
        "view_to_purchase_rate": "max(view_to_purchase_rate)",
    },
    "metrics_rfm_segments": {"buyers": "sum(buyers)", "revenue": "sum(revenue)"},
    "metrics_churn_cohorts": {"churn_rate": "max(case when is_overall then churn_rate end)"},
    "metrics_retention_weekly": {"cohorts": "count(distinct cohort_week)"},
    "dim_users": {"buyers": "count(*) filter (where orders > 0)", "revenue": "sum(revenue)"},
    "dim_user_rfm": {
        "buyers": "count(*)",
        "champions": "count(*) filter (where rfm_segment = 'Champions')",
    },
    "dim_products": {"brands": "count(distinct brand)"},
    "mart_product_performance": {
        "revenue": "sum(revenue)",
        "products_bought": "count(*) filter (where purchases > 0)",
    },
    "mart_cross_sell_candidates": {
        "users": "count(distinct user_id)",
        "expected_lost_revenue": "sum(expected_lost_revenue)",
    },
}
MAX_HEADLINES = 2


@dataclass(frozen=True)
class ModelTable:
    """One built dbt relation to describe."""

    name: str  # the dbt model name (the result's key)
    schema: str
    table: str
    # A day-partitioned model: counted over the build's window of days (its first date column).
    daily: bool = False
    headlines: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelStats:
    rows: int
    first_day: date | None
    last_day: date | None
    headlines: dict[str, float | None]


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def columns_sql(tables: Sequence[ModelTable]) -> str:
    """The date columns of the tables, in column order."""
    names = ", ".join(_quote(f"{t.schema}.{t.table}") for t in tables)
    return (
        "select table_schema, table_name, column_name from information_schema.columns "
        f"where table_schema || '.' || table_name in ({names}) and data_type = 'DATE' "
        "order by table_schema, table_name, ordinal_position"
    )


def day_bounds(date_columns: Sequence[str]) -> tuple[str, str] | None:
    """The (first, last) columns that say which days a table covers: a first_X_date /
    last_X_date pair (a dimension's life span) when there is one, else the first date column."""
    for column in date_columns:
        if column.startswith("first_") and column.endswith("_date"):
            last = "last_" + column.removeprefix("first_")
            if last in date_columns:
                return column, last
    return (date_columns[0], date_columns[0]) if date_columns else None


def stats_sql(
    tables: Sequence[ModelTable],
    date_columns: Mapping[tuple[str, str], Sequence[str]],
    window: tuple[date, date] | None = None,
) -> str:
    """One row per table: name, rows, first_day, last_day, headline_1, headline_2.

    A day-partitioned model is counted over `window` only (the days this build wrote), by its
    first date column (its day); any other table whole."""
    selects = []
    for t in tables:
        relation = f"{_ident(t.schema)}.{_ident(t.table)}"
        columns = list(date_columns.get((t.schema, t.table), []))
        where = ""
        if t.daily and columns:
            first = last = _ident(columns[0])
            if window is not None:
                where = f" where {first} between date '{window[0]}' and date '{window[1]}'"
        else:
            bounds = day_bounds(columns)
            first, last = (_ident(c) for c in bounds) if bounds else ("null", "null")
        figures = list(t.headlines.values())[:MAX_HEADLINES]
        figures += ["null"] * (MAX_HEADLINES - len(figures))
        headline_columns = ", ".join(
            f"cast({expr} as double) as headline_{i + 1}" for i, expr in enumerate(figures)
        )
        selects.append(
            f"select {_quote(t.name)} as name, count(*) as row_count, "
            f"cast(min({first}) as date) as first_day, cast(max({last}) as date) as last_day, "
            f"{headline_columns} from {relation}{where}"
        )
    return "\nunion all\n".join(selects)


def read_stats(con, tables: Sequence[ModelTable], window=None) -> dict[str, ModelStats]:
    """Run both queries on a DB-API connection (DuckDB): {model name: stats}."""
    if not tables:
        return {}
    date_columns: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in con.execute(columns_sql(tables)).fetchall():
        date_columns.setdefault((schema, table), []).append(column)
    by_name = {t.name: t for t in tables}
    stats = {}
    for name, rows, first_day, last_day, *figures in con.execute(
        stats_sql(tables, date_columns, window)
    ).fetchall():
        labels = list(by_name[name].headlines)[:MAX_HEADLINES]
        stats[name] = ModelStats(
            rows, first_day, last_day, dict(zip(labels, figures[: len(labels)], strict=True))
        )
    return stats
