"""What each dbt model materialization reports (issue 13.6): the SQL of lib/dbt/metadata.py,
run on hand-made DuckDB tables whose answers are counted by hand. The e2e test checks the
same metadata on real materializations."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from dagster_project.lib.dbt.metadata import (
    HEADLINES,
    MAX_HEADLINES,
    ModelTable,
    day_bounds,
    read_stats,
)


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("create schema analytics")
    con.execute(
        "create table analytics.fct_events as select * from (values "
        "(1, date '2019-10-01', timestamp '2019-10-01 10:00:00'), "
        "(2, date '2019-10-02', timestamp '2019-10-02 10:00:00'), "
        "(3, date '2019-10-02', timestamp '2019-10-02 11:00:00'), "
        "(4, date '2019-10-05', timestamp '2019-10-05 11:00:00')) "
        "as t(event_id, event_date, event_time)"
    )
    con.execute(
        "create table analytics.dim_users as select * from (values "
        "(1, date '2019-10-03', date '2019-10-01', date '2019-10-04', 2, 10.5), "
        "(2, date '2019-10-03', date '2019-09-30', date '2019-10-02', 0, 0.0), "
        "(3, date '2019-10-03', date '2019-10-02', date '2019-10-06', 1, 4.25)) "
        "as t(user_id, as_of_date, first_event_date, last_event_date, orders, revenue)"
    )
    con.execute("create table analytics.no_dates as select 1 as x")
    yield con
    con.close()


def test_a_daily_model_counts_the_window_by_its_day(con):
    tables = [ModelTable("fct_events", "analytics", "fct_events", daily=True)]
    stats = read_stats(con, tables, window=(date(2019, 10, 2), date(2019, 10, 4)))
    assert stats["fct_events"].rows == 2
    assert (stats["fct_events"].first_day, stats["fct_events"].last_day) == (
        date(2019, 10, 2),
        date(2019, 10, 2),
    )


def test_a_whole_table_counts_all_rows_over_its_life_span_with_its_headlines(con):
    tables = [
        ModelTable("dim_users", "analytics", "dim_users", headlines=HEADLINES["dim_users"]),
        ModelTable("no_dates", "analytics", "no_dates"),
    ]
    stats = read_stats(con, tables, window=(date(2019, 10, 2), date(2019, 10, 2)))
    users = stats["dim_users"]
    # Whole table whatever the window; days from min(first_event_date) to max(last_event_date).
    assert (users.rows, users.first_day, users.last_day) == (
        3,
        date(2019, 9, 30),
        date(2019, 10, 6),
    )
    assert users.headlines == {"buyers": 2.0, "revenue": 14.75}
    assert (stats["no_dates"].rows, stats["no_dates"].first_day) == (1, None)


def test_day_bounds_prefer_a_life_span_then_the_first_date_column():
    assert day_bounds(["as_of_date", "first_seen_date", "last_seen_date"]) == (
        "first_seen_date",
        "last_seen_date",
    )
    assert day_bounds(["sales_date", "comparison_date"]) == ("sales_date", "sales_date")
    assert day_bounds([]) is None


def test_headlines_are_at_most_two_per_mart():
    assert all(len(figures) <= MAX_HEADLINES for figures in HEADLINES.values())
