"""End-to-end tests of the dbt project on DuckDB: day-window (microbatch) runs give the same
marts as a full rebuild, whatever the order of the days, after a corrected re-drop of a day and
after late data for an earlier day; snapshots keep one version per change.

The warehouse is built from the real REES46 samples (shifted onto several days so that sessions
cross midnight and users return) plus hand-written rows for the quirks: exact duplicates, events
without a session, a purchase without a cart, a zero price, a brand change, remove_from_cart.
dbt runs in-process (dbtRunner) on a manifest parsed once, with ESTORE_DUCKDB_PATH and
DBT_TARGET_PATH pointing at temporary paths. Dagster's rule is reproduced: a file touching days
[a, b] rebuilds the daily models for the window [a, b + 1 day) (end exclusive).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT = ROOT / "dbt-project"
# The real REES46 samples ship with the repository (see tests/fixtures/rees46/README.md).
SAMPLE_DIR = ROOT / "tests" / "fixtures" / "rees46"
OCT_SAMPLE = SAMPLE_DIR / "2019-Oct-head.csv"
NOV_SAMPLE = SAMPLE_DIR / "2019-Nov-head.csv"

# Same file name everywhere: dbt-duckdb names the database after the file stem, and the manifest
# parsed once is reused for every warehouse.
DB_NAME = "warehouse.duckdb"
# The selectors Dagster runs (dbt-project/selectors.yml).
DAILY = ["--selector", "daily"]
UNPARTITIONED = ["--selector", "whole_table"]
CORRECTED_DAY = dt.date(2019, 10, 4)
LATE_DAY = dt.date(2019, 10, 1)
MODELS = {
    "ml_as_of_dates",
    "ml_user_days",
    "ml_user_catalog",
    "ml_user_features",
    "ml_score_features",
    "ml_user_labels",
    "stg_events",
    "fct_events",
    "fct_session_products",
    "fct_sessions",
    "fct_user_daily",
    "int_as_of",
    "int_user_daily",
    "int_user_rfm_scores",
    "dim_users",
    "dim_user_rfm",
    "dim_products",
    "dim_categories",
    "metrics_conversion_daily",
    "metrics_funnel",
    "metrics_sales_daily",
    "metrics_churn_cohorts",
    "metrics_retention_weekly",
    "metrics_rfm_segments",
    "metrics_headline",
    "mart_product_performance",
    "mart_cross_sell_candidates",
}

RAW_DDL = """
create schema if not exists raw;
create table if not exists raw.events (
    event_time timestamp, event_type varchar, product_id bigint, category_id bigint,
    category_code varchar, brand varchar, price decimal(18, 2), user_id bigint,
    user_session varchar, source_file varchar, source_version varchar, source_line bigint,
    loaded_at timestamp
);
"""
CSV_COLUMNS = (
    "{'event_time': 'TIMESTAMP', 'event_type': 'VARCHAR', 'product_id': 'BIGINT', "
    "'category_id': 'BIGINT', 'category_code': 'VARCHAR', 'brand': 'VARCHAR', "
    "'price': 'DECIMAL(18,2)', 'user_id': 'BIGINT', 'user_session': 'VARCHAR'}"
)

# Hand-written rows: (event_time, event_type, product_id, brand, price, user_id, user_session);
# category_code comes from PRODUCTS, category_id is derived from the product.
PRODUCTS = {
    1: "electronics.audio.headphone",
    2: "appliances.kitchen.kettle",
    3: "furniture.living_room.sofa",
    4: None,
    5: "computers.notebook",
    6: "sport.bicycle",
}
HAND_ROWS = [
    # an order with a cart burst: the same cart row twice (exact duplicate, counts once)
    ("2019-10-02 10:00:00", "view", 1, "alpha", 50, 900001, "h-a"),
    ("2019-10-02 10:01:00", "cart", 1, "alpha", 50, 900001, "h-a"),
    ("2019-10-02 10:01:00", "cart", 1, "alpha", 50, 900001, "h-a"),
    ("2019-10-02 10:05:00", "purchase", 1, "alpha", 50, 900001, "h-a"),
    # events without a session: count as events, never as sessions or orders
    ("2019-10-02 11:00:00", "view", 2, "kettlr", 15, 900002, None),
    ("2019-10-02 11:05:00", "purchase", 2, "kettlr", 15, 900002, None),
    # purchase without a cart, and a zero-price purchase in the same order
    ("2019-10-03 09:00:00", "view", 3, None, 30, 900002, "h-b"),
    ("2019-10-03 09:02:00", "purchase", 3, None, 30, 900002, "h-b"),
    ("2019-10-03 09:03:00", "purchase", 4, "freebie", 0, 900002, "h-b"),
    # a session crossing midnight: its purchase on 2019-10-04 belongs to the 2019-10-03 order
    ("2019-10-03 23:55:00", "view", 5, "acer", 20, 900003, "h-c"),
    ("2019-10-03 23:58:00", "cart", 5, "acer", 20, 900003, "h-c"),
    ("2019-10-04 00:05:00", "purchase", 5, "acer", 20, 900003, "h-c"),
    # a buyer who only exists on 2019-10-04 (removed by the corrected re-drop of that day)
    ("2019-10-04 15:00:00", "purchase", 6, "bikr", 99, 900004, "h-d"),
    # brand change of product 1, and a remove_from_cart
    ("2019-10-03 12:00:00", "view", 1, "beta", 55, 900005, "h-e"),
    ("2019-10-03 12:01:00", "cart", 1, "beta", 55, 900005, "h-e"),
    ("2019-10-03 12:02:00", "remove_from_cart", 1, "beta", 55, 900005, "h-e"),
    # a returning buyer
    ("2019-10-07 13:00:00", "purchase", 2, "kettlr", 15, 900001, "h-f"),
    # a sale on Wednesday 2019-10-09: compared with Wednesday 2019-10-02 (week over week)
    ("2019-10-09 09:00:00", "purchase", 6, "bikr", 99, 900007, "h-g"),
]


def _hand_rows_sql(rows: list[tuple]) -> str:
    values = []
    for time, kind, product, brand, price, user, session in rows:
        code = PRODUCTS[product]
        values.append(
            "(timestamp '{}', '{}', {}, {}, {}, {}, {}, {}, {})".format(
                time,
                kind,
                product,
                1000 + product,
                f"'{code}'" if code else "null",
                f"'{brand}'" if brand else "null",
                price,
                user,
                f"'{session}'" if session else "null",
            )
        )
    return (
        "select * from (values "
        + ", ".join(values)
        + ") as t(event_time, event_type, product_id, category_id, category_code, brand, "
        "price, user_id, user_session)"
    )


def build_datasets(directory: Path) -> tuple[Path, Path]:
    """Write the original and the final (2019-10-04 corrected) event sets as parquet files."""
    con = duckdb.connect()

    def read(path: Path) -> str:
        return (
            f"read_csv('{path}', header=true, columns={CSV_COLUMNS}, "
            "timestampformat='%Y-%m-%d %H:%M:%S UTC')"
        )

    # October sample (2019-10-01 00:00-02:50) copied onto four evenings, 22:00-00:50, so each
    # copy crosses midnight; a third of the users skip each copy; sessions renamed per copy,
    # except every fifth user's, which run from the first evening to the last (> 3 days).
    con.execute(
        f"""
        create table events as
        select
            event_time + to_days(k) + interval 22 hour as event_time,
            event_type, product_id, category_id, category_code, brand,
            cast(price as decimal(18, 2)) as price, user_id,
            case when user_session is null or user_session = '' then user_session
                 -- every fifth user keeps ONE session across the four evenings: sessions
                 -- whose events span more than three days
                 when user_id % 5 = 0 then user_session || '-long'
                 else user_session || '-' || k end as user_session
        from {read(OCT_SAMPLE)}, range(4) as copies(k)
        where (user_id + k) % 3 <> 0
        union all
        -- November sample moved to 2019-10-07 12:00 (2019-10-06 stays empty: a gap day)
        select event_time - interval 24 day - interval 12 hour, event_type, product_id,
            category_id, category_code, brand, cast(price as decimal(18, 2)), user_id,
            user_session
        from {read(NOV_SAMPLE)}
        union all
        select event_time, event_type, product_id, category_id, category_code, brand,
            cast(price as decimal(18, 2)), user_id, user_session
        from ({_hand_rows_sql(HAND_ROWS)})
        """
    )
    original = directory / "original.parquet"
    final = directory / "final.parquet"
    con.execute(f"copy events to '{original}' (format parquet)")
    # The corrected file of 2019-10-04: buyer 900004 removed, the price of the cross-midnight
    # purchase corrected (20 -> 25, which changes the order of 2019-10-03), some views dropped.
    con.execute(
        f"""
        copy (
            select * replace (
                case when user_id = 900003 and event_type = 'purchase'
                     then cast(25 as decimal(18, 2)) else price end as price
            )
            from events
            where not (cast(event_time as date) = date '{CORRECTED_DAY}'
                       and (user_id = 900004 or (event_type = 'view' and user_id % 7 = 0)))
        ) to '{final}' (format parquet)
        """
    )
    con.close()
    return original, final


def day_window(first: dt.date, last: dt.date) -> list[str]:
    """Dagster's window for a file touching days first..last: exactly those days (end
    exclusive). No neighbouring day: sessions find their other days themselves."""
    end = last + dt.timedelta(days=1)
    return ["--event-time-start", first.isoformat(), "--event-time-end", end.isoformat()]


class Warehouse:
    """One temporary DuckDB warehouse with its own dbt target path."""

    def __init__(self, runner, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.runner = runner
        self.path = directory / DB_NAME
        self.target = directory / "target"
        self.logs = directory / "logs"
        with duckdb.connect(str(self.path)) as con:
            con.execute(RAW_DDL)

    def load(self, dataset: Path, days: list[dt.date], version: str = "v1") -> None:
        """Load (or replace) the per-day files of `days` from a dataset, like the loader."""
        with duckdb.connect(str(self.path)) as con:
            for day in days:
                name = f"events-{day.isoformat()}.csv"
                con.execute("delete from raw.events where source_file = ?", [name])
                con.execute(
                    f"""
                    insert into raw.events
                    select *, ? as source_file, ? as source_version,
                        row_number() over () + 1 as source_line,
                        timestamp '2024-01-01 00:00:00' as loaded_at
                    from read_parquet('{dataset}')
                    where cast(event_time as date) = ?
                    """,
                    [name, version, day],
                )

    def dbt(self, *args: str) -> None:
        env = {
            "ESTORE_DBT_TARGET": "local",
            "ESTORE_DUCKDB_PATH": str(self.path),
            "DBT_TARGET_PATH": str(self.target),
            "DBT_LOG_PATH": str(self.logs),
        }
        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        try:
            result = self.runner.invoke(
                [
                    *args,
                    "--project-dir",
                    str(DBT_PROJECT),
                    "--profiles-dir",
                    str(DBT_PROJECT),
                    "--log-level",
                    "warn",
                ]
            )
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        if not result.success:
            failures = [
                f"{r.node.unique_id}: {r.status} {r.message}"
                for r in getattr(result.result, "results", [])
                if str(r.status) not in ("success", "pass", "skipped", "no-op")
            ]
            raise AssertionError(f"dbt {' '.join(args)} failed: {result.exception} {failures}")

    def tables(self) -> dict[str, object]:
        """Every relation dbt built in the analytics schema, as Arrow tables."""
        with duckdb.connect(str(self.path)) as con:
            names = [
                row[0]
                for row in con.execute(
                    "select table_name from information_schema.tables "
                    "where table_schema = 'analytics' order by 1"
                ).fetchall()
            ]
            return {
                name: con.execute(f"select * from analytics.{name}").to_arrow_table()
                for name in names
            }


def copy_warehouse(source: Path, target: Path) -> Path:
    """A copy of a DuckDB warehouse file, with what is still in its WAL checkpointed first."""
    with duckdb.connect(str(source)) as con:
        con.execute("checkpoint")
    return shutil.copyfile(source, target)


def assert_same_marts(expected: Warehouse, actual: Warehouse) -> None:
    """Every relation of the full rebuild equals the incremental one (EXCEPT ALL both ways)."""
    expected_tables = expected.tables()
    actual_tables = actual.tables()
    con = duckdb.connect()
    differences = []
    for name, table in expected_tables.items():
        if name.startswith("snap_"):
            continue
        assert name in actual_tables, f"{name} missing"
        con.register("expected_table", table)
        con.register("actual_table", actual_tables[name])
        missing = con.execute(
            "select count(*) from (select * from expected_table except all "
            "select * from actual_table)"
        ).fetchall()[0][0]
        extra = con.execute(
            "select count(*) from (select * from actual_table except all "
            "select * from expected_table)"
        ).fetchall()[0][0]
        if missing or extra:
            differences.append(f"{name}: {missing} rows missing, {extra} rows extra")
        con.unregister("expected_table")
        con.unregister("actual_table")
    assert set(expected_tables) == MODELS, sorted(expected_tables)
    assert not differences, differences


# The independent oracle: the contract's rules as plain SQL over ALL the final events, with no
# window, no increment and none of the models' code. A session is the (user_id, user_session)
# pair however far apart its events; an order is a session with a purchase, dated by the
# session's first day; revenue is every purchase price > 0: the orders' on their session's first
# day, a purchase without a session's on its own day (revenue, but no order and no buyer).
ORACLE_EVENTS = """
select distinct event_time, event_type, product_id, category_id, category_code, brand,
    price, user_id, nullif(user_session, '') as user_session
from read_parquet('{dataset}')
where event_type in ('view', 'cart', 'remove_from_cart', 'purchase')
    and user_id is not null and product_id is not null and event_time is not null
"""

ORACLE_SESSIONLESS_REVENUE = """
select user_id, cast(event_time as date) as event_date, sum(price) as revenue
from events
where user_session is null and event_type = 'purchase' and price > 0
group by all
"""

ORACLE_SESSIONS = """
select
    user_id,
    user_session,
    cast(min(event_time) as date) as session_date,
    max(event_time) - min(event_time) > interval 3 day as is_long,
    bool_or(event_type = 'view') as has_view,
    bool_or(event_type = 'cart') as has_cart,
    bool_or(event_type = 'purchase') as has_purchase,
    sum(case when event_type = 'purchase' and price > 0 then price else 0 end) as revenue,
    (select max(cast(event_time as date)) from events) as last_event_date
from events
where user_session is not null
group by user_id, user_session
"""


def oracle_figures(dataset: Path) -> dict[str, object]:
    con = duckdb.connect()
    con.execute(f"create table events as {ORACLE_EVENTS.format(dataset=dataset)}")
    con.execute(f"create table s as {ORACLE_SESSIONS}")
    con.execute(f"create table sessionless as {ORACLE_SESSIONLESS_REVENUE}")
    figures = {
        "totals": con.execute(
            """
            select count(*), count(*) filter (has_view), count(*) filter (has_cart),
                count(*) filter (has_purchase), count(*) filter (has_view and has_cart),
                count(*) filter (has_cart and has_purchase),
                count(*) filter (has_view and has_purchase),
                count(*) filter (has_view and not has_cart and not has_purchase),
                count(*) filter (has_cart and not has_purchase),
                count(*) filter (has_purchase),
                sum(revenue) filter (has_purchase)
                    + (select coalesce(sum(revenue), 0) from sessionless)
            from s
            """
        ).fetchone(),
        "long_sessions": con.execute("select count(*) from s where is_long").fetchone()[0],
        "daily": sorted(
            con.execute(
                "select session_date, count(*), count(*) filter (has_purchase), "
                "coalesce(sum(revenue) filter (has_purchase), 0) + coalesce(("
                "    select sum(revenue) from sessionless where event_date = session_date), 0) "
                "from s group by 1"
            ).fetchall()
        ),
        "users": sorted(
            con.execute(
                "select user_id, count(*) filter (has_purchase), "
                "coalesce(sum(revenue) filter (has_purchase), 0) + coalesce(("
                "    select sum(revenue) from sessionless where sessionless.user_id = s.user_id"
                "), 0), "
                "min(session_date) filter (has_purchase), max(session_date) filter (has_purchase) "
                "from s group by 1"
            ).fetchall()
        ),
        # churn: eligible when first order + 90 <= last event date; retained when another
        # order day falls in (first, first + 90]
        "churn": con.execute(
            """
            with orders as (select user_id, session_date, last_event_date from s
                            where has_purchase),
            buyers as (select user_id, min(session_date) as first_order,
                           max(last_event_date) as last_event_date
                       from orders group by 1)
            select count(*),
                count(*) filter (first_order + 90 <= last_event_date),
                count(*) filter (first_order + 90 <= last_event_date and exists (
                    select 1 from orders o where o.user_id = buyers.user_id
                        and o.session_date > first_order and o.session_date <= first_order + 90))
            from buyers
            """
        ).fetchone(),
    }
    con.close()
    return figures


def assert_matches_oracle(warehouse: Warehouse, dataset: Path) -> None:
    """The warehouse's sessions, orders, revenue, funnel and churn equal the oracle's."""
    expected = oracle_figures(dataset)
    assert expected["long_sessions"] > 0, "the data must include sessions longer than 3 days"
    with duckdb.connect(str(warehouse.path)) as con:
        totals = con.execute(
            """
            select f.sessions, f.sessions_with_view, f.sessions_with_cart,
                f.sessions_with_purchase, f.sessions_with_view_and_cart,
                f.sessions_with_cart_and_purchase, f.sessions_with_view_and_purchase,
                f.sessions_at_stage_view, f.sessions_at_stage_cart, f.sessions_at_stage_purchase,
                h.revenue
            from analytics.metrics_funnel as f cross join analytics.metrics_headline as h
            """
        ).fetchone()
        assert totals == expected["totals"]
        assert (
            con.execute("select count(*) from analytics.fct_sessions").fetchone()[0]
            == (expected["totals"][0])
        )
        daily = con.execute(
            """
            select c.session_date, c.sessions, s.orders, s.revenue
            from analytics.metrics_conversion_daily as c
            join analytics.metrics_sales_daily as s on s.sales_date = c.session_date
            where c.sessions > 0
            order by 1
            """
        ).fetchall()
        assert daily == expected["daily"]
        users = con.execute(
            "select user_id, orders, revenue, first_order_date, last_order_date "
            "from analytics.dim_users where sessions > 0 order by 1"
        ).fetchall()
        assert users == expected["users"]
        churn = con.execute(
            "select buyers, eligible_buyers, retained_buyers from analytics.metrics_churn_cohorts "
            "where is_overall"
        ).fetchone()
        assert churn == expected["churn"]


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A dbtRunner holding a manifest parsed once (parsing is the slow part of each call)."""
    missing = [path for path in (OCT_SAMPLE, NOV_SAMPLE) if not path.exists()]
    assert not missing, f"REES46 fixtures missing (they ship with the repository): {missing}"
    from dbt.cli.main import dbtRunner

    directory = tmp_path_factory.mktemp("parse")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    saved = {key: os.environ.get(key) for key in ("DBT_TARGET_PATH", "DBT_LOG_PATH")}
    os.environ["DBT_TARGET_PATH"] = str(directory / "target")
    os.environ["DBT_LOG_PATH"] = str(directory / "logs")
    os.environ["ESTORE_DUCKDB_PATH"] = str(directory / DB_NAME)
    try:
        parsed = dbtRunner().invoke(
            ["parse", "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT)]
        )
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    assert parsed.success, parsed.exception
    yield dbtRunner(manifest=parsed.result)


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_datasets(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def all_days(datasets: tuple[Path, Path]) -> list[dt.date]:
    with duckdb.connect() as con:
        rows = con.execute(
            f"select distinct cast(event_time as date) from read_parquet('{datasets[0]}') "
            "order by 1"
        ).fetchall()
    days = [row[0] for row in rows]
    assert len(days) == 7 and dt.date(2019, 10, 6) not in days, days
    return days


@pytest.fixture(scope="module")
def full_rebuild(runner, datasets, all_days, tmp_path_factory) -> Warehouse:
    """The reference: the final data, every day in one window, then the marts (with tests)."""
    warehouse = Warehouse(runner, tmp_path_factory.mktemp("full"))
    warehouse.load(datasets[1], all_days)
    warehouse.dbt(
        "build",
        *DAILY,
        "--event-time-start",
        all_days[0].isoformat(),
        "--event-time-end",
        (all_days[-1] + dt.timedelta(days=1)).isoformat(),
    )
    warehouse.dbt("build", *UNPARTITIONED)
    return warehouse


def test_full_rebuild_matches_the_oracle(full_rebuild: Warehouse, datasets) -> None:
    assert_matches_oracle(full_rebuild, datasets[1])


def test_full_rebuild_applies_the_metric_rules(full_rebuild: Warehouse) -> None:
    with duckdb.connect(str(full_rebuild.path)) as con:
        as_of = con.execute("select as_of_date from analytics.int_as_of").fetchall()[0][0]
        assert as_of == dt.date(2019, 10, 10)
        # the duplicated cart row counts once
        carts = con.execute(
            "select carts from analytics.fct_sessions where user_session = 'h-a'"
        ).fetchall()[0][0]
        assert carts == 1
        # events without a session count as events, never as sessions or orders; a purchase
        # without a session (15) is revenue, but not in AOV (the order's 30 / 1 order)
        user = con.execute(
            "select events, sessions, orders, purchases, revenue, aov "
            "from analytics.dim_users where user_id = 900002"
        ).fetchall()[0]
        assert user == (5, 1, 1, 3, 45, 30.0)
        # purchase without a cart; the zero-price item adds no revenue; AOV by orders
        session = con.execute(
            "select has_cart, funnel_stage, is_order, items_purchased, order_revenue "
            "from analytics.fct_sessions where user_session = 'h-b'"
        ).fetchall()[0]
        assert session == (False, "purchase", True, 2, 30)
        # the cross-midnight session belongs to its start day with the corrected price
        crossing = con.execute(
            "select session_date, duration_seconds, order_revenue "
            "from analytics.fct_sessions where user_session = 'h-c'"
        ).fetchall()[0]
        assert crossing == (dt.date(2019, 10, 3), 600, 25)
        buyer = con.execute(
            "select orders, revenue, aov, last_order_date from analytics.dim_users "
            "where user_id = 900001"
        ).fetchall()[0]
        assert buyer == (2, 65, 32.5, dt.date(2019, 10, 7))
        # the removed buyer is gone, the latest brand wins
        assert not con.execute(
            "select * from analytics.dim_users where user_id = 900004"
        ).fetchall()
        brand = con.execute("select brand from analytics.dim_products where product_id = 1")
        assert brand.fetchall()[0][0] == "beta"
        # fewer than 90 days: no cohort rows, a status row
        churn = con.execute(
            "select cohort, status, churn_rate from analytics.metrics_churn_cohorts"
        )
        assert churn.fetchall() == [("overall", "insufficient_history", None)]
        # the gap day (2019-10-06) has no sales row; a day compares with the same weekday a
        # week earlier when that day has data (2019-10-09 vs 2019-10-02), else null
        sales = {
            row[0]: row[1:]
            for row in con.execute(
                "select sales_date, revenue, previous_revenue, revenue_change "
                "from analytics.metrics_sales_daily"
            ).fetchall()
        }
        assert sorted(sales) == [dt.date(2019, 10, day) for day in (1, 2, 3, 4, 5, 7, 9)]
        wednesday, week_before = sales[dt.date(2019, 10, 9)], sales[dt.date(2019, 10, 2)]
        assert wednesday[0] == 99 and week_before[0] > 0
        assert wednesday[1] == week_before[0]
        assert wednesday[2] == wednesday[0] - week_before[0]
        assert all(sales[day][1] is None for day in sales if day != dt.date(2019, 10, 9))


def test_shuffled_day_windows_and_redrop_equal_full_rebuild(
    runner, datasets, all_days, full_rebuild, tmp_path
) -> None:
    original, final = datasets
    warehouse = Warehouse(runner, tmp_path / "incremental")
    warehouse.load(original, all_days)
    days = list(all_days)
    random.Random(20191001).shuffle(days)
    for day in days:
        warehouse.dbt("run", *DAILY, *day_window(day, day))
    warehouse.dbt("run", *UNPARTITIONED)
    warehouse.dbt("snapshot")

    # a corrected version of one day's file replaces that day's rows
    warehouse.load(final, [CORRECTED_DAY], version="v2")
    warehouse.dbt("run", *DAILY, *day_window(CORRECTED_DAY, CORRECTED_DAY))
    warehouse.dbt("run", *UNPARTITIONED)
    warehouse.dbt("snapshot")

    assert_same_marts(full_rebuild, warehouse)
    assert_matches_oracle(warehouse, final)

    with duckdb.connect(str(warehouse.path)) as con:
        for snapshot in ("snap_user_status", "snap_user_rfm"):
            current = con.execute(
                f"select max(n) from (select count(*) as n from analytics.{snapshot} "
                "where dbt_valid_to is null group by user_id)"
            ).fetchall()[0][0]
            assert current == 1, snapshot
            # the user removed by the re-drop: version closed, deletion recorded
            gone = con.execute(
                f"select dbt_is_deleted, dbt_valid_to is null from analytics.{snapshot} "
                "where user_id = 900004 order by dbt_valid_from"
            ).fetchall()
            assert gone == [("False", False), ("True", True)], (snapshot, gone)
        # as_of did not move, so no other status changed: one version per user
        versions = con.execute(
            "select max(n) from (select count(*) as n from analytics.snap_user_status "
            "where user_id <> 900004 group by user_id)"
        ).fetchall()[0][0]
        assert versions == 1
        # RFM: a real change (monetary 20 -> 25) makes a version
        monetary = con.execute(
            "select monetary from analytics.snap_user_rfm where user_id = 900003 "
            "order by dbt_valid_from"
        ).fetchall()
        assert monetary == [(20,), (25,)]
        # ...but versions are never recorded for score-only changes
        score_only = con.execute(
            """
            select count(*) from analytics.snap_user_rfm as a
            join analytics.snap_user_rfm as b
                on a.user_id = b.user_id and a.dbt_valid_to = b.dbt_valid_from
            where b.dbt_is_deleted = 'False'
                and a.rfm_segment = b.rfm_segment and a.frequency = b.frequency
                and a.monetary = b.monetary and a.last_order_date = b.last_order_date
            """
        ).fetchall()[0][0]
        assert score_only == 0


def test_late_earlier_day_equals_full_rebuild(
    runner, datasets, all_days, full_rebuild, tmp_path
) -> None:
    final = datasets[1]
    later_days = [day for day in all_days if day != LATE_DAY]
    warehouse = Warehouse(runner, tmp_path / "late")
    warehouse.load(final, later_days)
    warehouse.dbt("run", *DAILY, *day_window(later_days[0], later_days[-1]))
    warehouse.dbt("run", *UNPARTITIONED)

    # a file for an earlier day arrives: only its window (one day either side) is rebuilt
    warehouse.load(final, [LATE_DAY])
    warehouse.dbt("run", *DAILY, *day_window(LATE_DAY, LATE_DAY))
    warehouse.dbt("run", *UNPARTITIONED)

    assert_same_marts(full_rebuild, warehouse)
    assert_matches_oracle(warehouse, final)


def test_first_build_of_the_session_facts_reads_only_the_sessions_its_window_touches(
    runner, full_rebuild, all_days, tmp_path
) -> None:
    """A first build (--full-refresh) skips the session lookup only when its window holds every
    event; a narrower window still builds just the sessions with an event in it."""
    warehouse = Warehouse(runner, tmp_path / "first-build")
    copy_warehouse(full_rebuild.path, warehouse.path)
    sessions = ["--select", "fct_session_products", "fct_sessions", "--full-refresh"]
    run_sql = warehouse.target / "run" / "estore" / "models" / "facts"
    day = all_days[3]

    warehouse.dbt("run", *sessions, *day_window(day, day))
    for model in ("fct_session_products", "fct_sessions"):
        assert "inner join window_sessions" in (run_sql / f"{model}.sql").read_text(), model
    touched = (
        "select distinct user_id, user_session from analytics.fct_events "
        f"where event_date = date '{day}'"
    )
    expected = {
        "fct_session_products": f"""select * from analytics.fct_session_products
            where (user_id, user_session) in ({touched})
                or (user_session is null and activity_date = date '{day}')""",
        "fct_sessions": f"""select * from analytics.fct_sessions
            where (user_id, user_session) in ({touched})""",
    }
    with duckdb.connect(str(full_rebuild.path)) as con:
        want = {name: con.execute(sql).fetchall() for name, sql in expected.items()}
    with duckdb.connect(str(warehouse.path)) as con:
        for name, rows in want.items():
            got = con.execute(f"select * from analytics.{name}").fetchall()
            assert rows and sorted(map(repr, got)) == sorted(map(repr, rows)), name
        assert (
            len(want["fct_sessions"])
            < con.execute("select count(*) from analytics.fct_events").fetchall()[0][0]
        )

    # the whole history in the window: no lookup, and the full rebuild's rows
    warehouse.dbt("run", *sessions, *day_window(all_days[0], all_days[-1]))
    for model in ("fct_session_products", "fct_sessions"):
        assert "inner join window_sessions" not in (run_sql / f"{model}.sql").read_text(), model
    assert_same_marts(full_rebuild, warehouse)


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("fct_events", "event_id"),
        ("fct_session_products", "session_product_id"),
        ("fct_sessions", "session_id"),
    ],
)
def test_a_fact_with_text_keys_from_an_earlier_release_stops_the_run(
    runner, full_rebuild, all_days, tmp_path, model, key
) -> None:
    """Keys are md5 digests as 128-bit integers on DuckDB; an earlier release kept them as hex
    text. New keys never match old ones, so a rebuilt session would sit beside its old rows:
    the run must stop, name the table and the fix, and leave the table as it was."""
    warehouse = Warehouse(runner, tmp_path / "text-keys")
    copy_warehouse(full_rebuild.path, warehouse.path)
    with duckdb.connect(str(warehouse.path)) as con:
        con.execute(f"alter table analytics.{model} alter {key} type varchar")
        before = con.execute(f"select count(*) from analytics.{model}").fetchone()

    day = all_days[3]
    with pytest.raises(AssertionError, match=rf"{model}\.{key} holds VARCHAR keys.*make clean"):
        warehouse.dbt("run", *DAILY, *day_window(day, day))

    with duckdb.connect(str(warehouse.path)) as con:
        assert con.execute(f"select count(*) from analytics.{model}").fetchone() == before


def test_text_like_a_separator_or_a_missing_value_never_merges_two_events(
    runner, full_rebuild, all_days, tmp_path
) -> None:
    """Keys hash their columns joined by '|', with '~' for a missing value. A brand '~' must not
    hash like a missing brand, nor ('a|b', 'c') like ('a', 'b|c'): two events would share one
    event_id, the unique test would fail the day's build, and every later run would retry it."""
    warehouse = Warehouse(runner, tmp_path / "separators")
    copy_warehouse(full_rebuild.path, warehouse.path)
    day = all_days[3]
    odd = [("^", "^^"), ("~", None), ("a|b", "c"), ("a", "b|c"), ("a^", "|c"), ("a^|", "c")]
    with duckdb.connect(str(warehouse.path)) as con:
        for line, (code, brand) in enumerate(odd, start=2):
            con.execute(
                "insert into raw.events values (?, 'view', 77, 7, ?, ?, 1.50, 990001, ?,"
                " 'odd.csv', 'v1', ?, timestamp '2024-01-01 00:00:00')",
                [dt.datetime.combine(day, dt.time(12)), code, brand, "s|~", line],
            )

    warehouse.dbt("build", *DAILY, *day_window(day, day))

    with duckdb.connect(str(warehouse.path)) as con:
        events = con.execute(
            "select count(*), count(distinct event_id) from analytics.fct_events"
            " where user_id = 990001"
        ).fetchone()
        products = con.execute(
            "select events, session_id is not null from analytics.fct_session_products"
            " where user_id = 990001"
        ).fetchall()
    assert events == (len(odd), len(odd))
    assert products == [(len(odd), True)]


def test_docs_generate_documents_every_mart_column(full_rebuild: Warehouse) -> None:
    full_rebuild.dbt("docs", "generate")
    catalog = json.loads((full_rebuild.target / "catalog.json").read_text())
    manifest = json.loads((full_rebuild.target / "manifest.json").read_text())
    marts = [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
        and node["name"].startswith(("dim_", "metrics_", "mart_"))
    ]
    assert marts
    for node in marts:
        assert node["description"], node["name"]
        assert node["unique_id"] in catalog["nodes"], node["name"]
        for column in catalog["nodes"][node["unique_id"]]["columns"]:
            assert node["columns"].get(column, {}).get("description"), f"{node['name']}.{column}"


def test_not_null_constraints_are_enforced_by_the_warehouse_instead_of_tests(
    full_rebuild: Warehouse, runner
) -> None:
    """A column with a not_null constraint in an enforced contract is NOT NULL in the built
    table (a null fails the build), so a not_null test beside it could never fail: none is."""
    constrained, doubled = [], []
    for node in runner.manifest.nodes.values():
        if node.resource_type != "model":
            continue
        for column in node.columns.values():
            if any(c.type == "not_null" for c in column.constraints):
                assert node.contract.enforced, f"{node.name}.{column.name}: contract not enforced"
                constrained.append((node.name, column.name))
    for test in runner.manifest.nodes.values():
        metadata = getattr(test, "test_metadata", None)
        if test.resource_type == "test" and metadata and metadata.name == "not_null":
            model = test.attached_node.split(".")[-1] if test.attached_node else None
            if (model, test.column_name) in constrained:
                doubled.append(test.name)
    assert constrained
    assert not doubled, f"not_null tests beside a not_null constraint: {doubled}"
    with duckdb.connect(str(full_rebuild.path)) as con:
        nullable = {
            (table, column): flag
            for table, column, flag in con.execute(
                "select table_name, column_name, is_nullable from information_schema.columns"
                " where table_schema = 'analytics'"
            ).fetchall()
        }
    assert all(nullable[key] == "NO" for key in constrained), [
        key for key in constrained if nullable[key] != "NO"
    ]


LAYERS = {"staging": 0, "facts": 1, "intermediate": 2, "marts": 3, "ml": 4}


def test_models_flow_one_way_through_the_layers(runner) -> None:
    """staging -> facts -> intermediate -> marts -> ml: no model reads a later layer."""
    nodes = runner.manifest.nodes
    backwards = []
    for node in nodes.values():
        if node.resource_type != "model":
            continue
        layer = node.fqn[1]
        assert layer in LAYERS, f"{node.name} is outside the layer folders: {node.fqn}"
        for parent_id in node.depends_on.nodes:
            parent = nodes.get(parent_id)
            if (
                parent is not None
                and parent.resource_type == "model"
                and LAYERS[parent.fqn[1]] > LAYERS[layer]
            ):
                backwards.append(f"{node.name} ({layer}) reads {parent.name} ({parent.fqn[1]})")
    assert not backwards, backwards


def _selected(runner, selector: str) -> set[str]:
    result = runner.invoke(
        [
            "ls",
            "--selector",
            selector,
            "--resource-type",
            "model",
            "--resource-type",
            "snapshot",
            "--output",
            "name",
            "--project-dir",
            str(DBT_PROJECT),
            "--profiles-dir",
            str(DBT_PROJECT),
            "--quiet",
        ]
    )
    assert result.success, result.exception
    return set(result.result)


def test_selectors_split_every_model_into_three_groups(runner) -> None:
    daily, whole, snapshots = (
        _selected(runner, name) for name in ("daily", "whole_table", "snapshots")
    )
    assert daily == {
        "stg_events",
        "fct_events",
        "fct_session_products",
        "fct_sessions",
        "fct_user_daily",
        "ml_user_days",
        "ml_user_catalog",
    }
    assert snapshots == {"snap_user_rfm", "snap_user_status"}
    assert whole == MODELS - daily
    assert not (daily & whole) and not (whole & snapshots)


def test_only_day_facts_are_incremental(runner) -> None:
    """A dimension or mart built incrementally keeps stale rows (a user's status, a product's
    latest brand): everything outside the daily selector is rebuilt whole."""
    incremental = {
        node.name
        for node in runner.manifest.nodes.values()
        if node.resource_type == "model" and node.config.materialized == "incremental"
    }
    assert incremental == _selected(runner, "daily") - {"stg_events"}
