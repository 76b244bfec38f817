"""Tests of the REES46 event generator (dagster_project.generator).

One ~400k-event month is generated once per module and checked for the exact file format, the
statistics of ../shared/reference/rees46.md (within tolerances), the quirks and the ground truth;
small extra data sets cover determinism, gzip / per-month files, atomic writes and validation.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import REAL_SAMPLES

from dagster_project.generator import (
    BYTES_PER_ROW,
    HEADER,
    GenerateReport,
    GeneratorConfig,
    data_file_name,
    generate,
)
from dagster_project.generator import engine as generator_engine
from dagster_project.generator import sink as generator_sink
from dagster_project.generator.timeline import pick_spike_day
from dagster_project.lib.ingest.schema import EXPECTED_HEADER

COLUMNS = {
    "event_time": "TIMESTAMP",
    "event_type": "VARCHAR",
    "product_id": "BIGINT",
    "category_id": "BIGINT",
    "category_code": "VARCHAR",
    "brand": "VARCHAR",
    "price": "DECIMAL(18,2)",
    "user_id": "BIGINT",
    "user_session": "VARCHAR",
}
UUID = rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# One full row; every field anchored. Holds for the real sample too (see test below).
ROW = re.compile(
    rb"(?P<time>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) UTC"
    rb",(?P<type>view|cart|purchase)"
    rb",(?P<product>[1-9]\d{5,8})"
    rb",(?P<category>[12]\d{18})"
    rb",(?P<code>[a-z_]+(?:\.[a-z_]+){0,3})?"
    rb",(?P<brand>[a-z0-9][a-z0-9.&'+_-]*)?"
    rb",(?P<price>(?:0|[1-9]\d*)\.\d{2})"
    rb",(?P<user>[1-9]\d{8})"
    rb",(?P<session>" + UUID + rb")?"
)
# Our UUIDs are proper version-4 ones.
UUID4 = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")

MONTH_EVENTS = 400_000


def read_events(con: duckdb.DuckDBPyConnection, pattern: str, table: str = "e") -> None:
    """Strict typed parse; any malformed row raises."""
    con.execute(
        f"create or replace table {table} as select * from read_csv(?, header=true, "
        f"columns={COLUMNS!r}, timestampformat='%Y-%m-%d %H:%M:%S UTC', filename=true, "
        "auto_detect=false, delim=',', quote='\"', strict_mode=true)",
        [pattern],
    )


def one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple:
    rows = con.execute(sql).fetchall()
    assert len(rows) == 1
    return rows[0]


def data_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> tuple[GeneratorConfig, GenerateReport]:
    root = tmp_path_factory.mktemp("month")
    config = GeneratorConfig(output_dir=root, days=31, events=MONTH_EVENTS, seed=42)
    return config, generate(config)


@pytest.fixture(scope="module")
def con(month: tuple[GeneratorConfig, GenerateReport]) -> Iterator[duckdb.DuckDBPyConnection]:
    config, _ = month
    connection = duckdb.connect()
    read_events(connection, str(config.landing_dir / "*.csv"))
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> GeneratorConfig:
    """A small data set crossing a month end (for per-month, gzip and determinism tests)."""
    root = tmp_path_factory.mktemp("tiny")
    config = GeneratorConfig(output_dir=root, start_date=date(2019, 10, 30), days=3, events=30_000)
    generate(config)
    return config


# --- files -------------------------------------------------------------------------------------


def test_one_file_per_day_named_like_the_exports(month: tuple[GeneratorConfig, GenerateReport]):
    config, report = month
    expected = [f"2019-10-{d:02d}.csv" for d in range(1, 32)]
    assert [p.name for p in data_files(config.landing_dir)] == expected
    assert [p.name for p in report.files] == expected
    assert not list(config.landing_dir.glob(".*")), "temporary files left behind"
    assert report.bytes == sum(p.stat().st_size for p in report.files)
    assert abs(report.rows - MONTH_EVENTS) <= 0.1 * MONTH_EVENTS
    assert report.rows_per_second > 0


def test_report_matches_files(month, con):
    _, report = month
    rows, users = one(con, "select count(*), count(distinct user_id) from e")
    assert rows == report.rows
    assert users == report.users


def test_exact_header_lf_endings_no_quotes(month):
    config, _ = month
    assert HEADER == EXPECTED_HEADER
    for path in data_files(config.landing_dir)[:3]:
        data = path.read_bytes()
        assert data.startswith(HEADER.encode() + b"\n")
        assert data.endswith(b"\n")
        assert b"\r" not in data and b'"' not in data


def test_every_field_of_every_row_matches_the_format(tiny):
    lines = 0
    for path in data_files(tiny.landing_dir):
        body = path.read_bytes().split(b"\n")
        assert body[0] == HEADER.encode() and body[-1] == b""
        for line in body[1:-1]:
            match = ROW.fullmatch(line)
            assert match, line
            session = match["session"]
            assert session is None or UUID4.fullmatch(session)
            day = date.fromisoformat(match["time"][:10].decode())
            assert day == date.fromisoformat(path.name[:10])
            lines += 1
    assert lines > 20_000


@pytest.mark.parametrize("sample", REAL_SAMPLES, ids=lambda p: p.name)
def test_format_regex_accepts_the_real_sample(sample: Path):
    # Guards the regex above: it must describe the published files, not only our output.
    body = sample.read_bytes().split(b"\n")
    assert body[0] == HEADER.encode()
    assert all(ROW.fullmatch(line) for line in body[1:] if line)


def test_strict_typed_parse_counts_every_line(month, con):
    config, _ = month
    lines = sum(p.read_bytes().count(b"\n") - 1 for p in data_files(config.landing_dir))
    assert one(con, "select count(*) from e")[0] == lines
    types = dict(con.execute("select column_name, column_type from (describe e)").fetchall())
    assert types["price"] == "DECIMAL(18,2)" and types["category_id"] == "BIGINT"


def test_files_hold_only_their_day_in_time_order(month):
    config, _ = month
    for path in data_files(config.landing_dir):
        times = [line[:19] for line in path.read_bytes().split(b"\n")[1:-1]]
        assert times, path
        assert times == sorted(times), f"{path.name} not in event_time order"
        assert times[0][:10] == times[-1][:10] == path.name[:10].encode()


def test_sessions_cross_midnight(con):
    crossing = one(
        con,
        """select count(*) from (select user_session from e where user_session is not null
           group by 1 having count(distinct event_time::date) > 1)""",
    )[0]
    assert crossing > 0


# --- statistics (targets from rees46.md) ---------------------------------------------------------


def test_event_mix(con):
    view, cart, purchase = one(
        con,
        """select 100 * avg((event_type = 'view')::int), 100 * avg((event_type = 'cart')::int),
                  100 * avg((event_type = 'purchase')::int) from e""",
    )
    assert view == pytest.approx(96.07, abs=0.5)
    assert cart == pytest.approx(2.18, abs=0.4)
    assert purchase == pytest.approx(1.75, abs=0.35)


def test_sessions_per_user(con):
    per_user, per_session = one(
        con,
        "select count(distinct user_session) / count(distinct user_id), "
        "count(*) / count(distinct user_session) from e",
    )
    assert per_user == pytest.approx(3.1, abs=0.5)
    assert per_session == pytest.approx(4.6, abs=0.8)


def test_funnel_and_repeat_purchases(con):
    carted, bought = one(
        con,
        """with u as (select user_id, bool_or(event_type = 'view') v,
                      bool_or(event_type = 'cart') c, bool_or(event_type = 'purchase') p
                      from e group by 1)
           select avg(c::int) filter (where v), avg(p::int) filter (where v) from u""",
    )
    assert carted == pytest.approx(0.11, abs=0.03)
    assert bought == pytest.approx(0.115, abs=0.03)
    # "Buy again": purchases in at least two different sessions within the month.
    again = one(
        con,
        """select avg((n >= 2)::int) from (select user_id, count(distinct user_session) n
           from e where event_type = 'purchase' group by 1)""",
    )[0]
    assert again == pytest.approx(0.38, abs=0.08)


def test_most_active_users_do_not_come_back_next_week(con):
    # Weeks 0..2 -> 1..3 of the month (all complete weeks).
    share = one(
        con,
        """with w as (select distinct user_id, datediff('day', date '2019-10-01',
                      event_time::date) // 7 wk from e)
           select 1 - avg((exists (select 1 from w n where n.user_id = w.user_id
                                   and n.wk = w.wk + 1))::int) from w where wk < 3""",
    )[0]
    assert share == pytest.approx(0.70, abs=0.07)


def test_purchase_prices_are_heavy_tailed(con):
    p25, p50, p75, mean = one(
        con,
        """select quantile_cont(price, 0.25), quantile_cont(price, 0.5),
                  quantile_cont(price, 0.75), avg(price)
           from e where event_type = 'purchase' and price > 0""",
    )
    assert 60 <= p25 <= 110
    assert 130 <= p50 <= 230
    assert 270 <= p75 <= 480
    assert 230 <= mean <= 400
    assert mean > p50  # right-skewed


def test_product_popularity_is_heavy_tailed(con):
    top_share, median_views, mean_views = one(
        con,
        """with p as (select product_id, count(*) n from e where event_type = 'view' group by 1),
           r as (select n, row_number() over (order by n desc) rk, count(*) over () k from p)
           select sum(n) filter (where rk <= k / 100) / sum(n), median(n), avg(n) from r""",
    )
    assert top_share > 0.15  # the top 1% of products gets a large share of the views
    assert mean_views > 1.5 * median_views


def test_empty_code_brand_and_zero_price_shares(con):
    no_code, no_brand, zero = one(
        con,
        "select avg((category_code is null)::int), avg((brand is null)::int), "
        "avg((price = 0)::int) from e",
    )
    assert no_code == pytest.approx(0.32, abs=0.04)
    assert no_brand == pytest.approx(0.14, abs=0.04)
    assert zero == pytest.approx(0.002, abs=0.001)


def test_weekly_seasonality_and_spike_day(month, con):
    _, report = month
    assert report.spike_day == date(2019, 10, 21)  # no 17 November in October: ~2/3 in
    days = dict(
        con.execute(
            "select event_time::date, count(*) filter (where event_type = 'purchase') "
            "from e group by 1"
        ).fetchall()
    )
    normal = np.median([n for d, n in days.items() if d != report.spike_day])
    assert days[report.spike_day] / normal == pytest.approx(7, abs=2)
    weekend, weekday = one(
        con,
        """with d as (select event_time::date d, count(*) n from e
                      where event_time::date <> date '2019-10-21' group by 1)
           select avg(n) filter (where isodow(d) >= 6), avg(n) filter (where isodow(d) <= 5)
           from d""",
    )
    assert weekend > 1.05 * weekday


def test_catalogue_shape(con):
    codes, category_ids, brands, max_levels = one(
        con,
        "select count(distinct category_code), count(distinct category_id), "
        "count(distinct brand), max(len(string_split(category_code, '.'))) from e",
    )
    assert 110 <= codes <= 127
    assert 400 <= category_ids <= 624
    assert brands >= 300
    assert max_levels <= 4
    assert one(con, "select count(*) from e where brand <> lower(brand)")[0] == 0
    assert one(con, "select count(*) from e where category_code = 'electronics.smartphone'")[0]


def test_ids_look_like_the_real_ones(con):
    users_lo, users_hi, products_lo, products_hi, cat_lo, cat_hi = one(
        con,
        "select min(user_id), max(user_id), min(product_id), max(product_id), "
        "min(category_id), max(category_id) from e",
    )
    assert users_lo >= 100_000_000 and users_hi < 1_000_000_000
    assert products_lo >= 1_000_000 and products_hi < 100_000_000
    assert cat_lo >= 10**18 and cat_hi < 3 * 10**18


def test_products_have_stable_attributes_and_prices(con):
    products, multi_category, multi_brand, multi_code, drifting = one(
        con,
        """with p as (select product_id, count(distinct category_id) c,
                      count(distinct coalesce(brand, '')) b,
                      count(distinct coalesce(category_code, '')) k,
                      max(price) filter (where price > 0) / min(price) filter (where price > 0) r
                      from e group by 1)
           select count(*), count(*) filter (where c > 1), count(*) filter (where b > 1),
                  count(*) filter (where k > 1), count(*) filter (where r > 1.35) from p""",
    )
    assert multi_category == 0
    # The quirk exists, but for a handful of products only.
    assert 0 < multi_brand <= 0.01 * products
    assert 0 < multi_code <= 0.01 * products
    assert drifting <= 0.01 * products


# --- quirks ---------------------------------------------------------------------------------------


def test_duplicate_rows_and_cart_bursts(con):
    rows, distinct = one(
        con, "select count(*), (select count(*) from (select distinct * from e)) from e"
    )
    assert 0.0002 <= (rows - distinct) / rows <= 0.002
    longest_burst = one(
        con,
        """select max(n) from (select count(*) n from e where event_type = 'cart'
           group by event_time, product_id, user_id, user_session, price)""",
    )[0]
    assert 5 <= longest_burst <= 80  # identical cart rows in one second: never by chance


def test_purchases_without_cart_and_empty_sessions(con):
    without_cart = one(
        con,
        """select avg((c.user_session is null)::int) from e p left join
           (select distinct user_session, product_id from e where event_type = 'cart') c
           using (user_session, product_id) where p.event_type = 'purchase'""",
    )[0]
    assert 0.2 <= without_cart <= 0.8
    empty = one(con, "select count(*) from e where user_session is null")[0]
    assert 1 <= empty <= 100  # "a handful"


# --- behaviour emerges from the latent traits ---------------------------------------------------


def test_ground_truth_lives_outside_landing_and_matches_the_events(month, con):
    config, report = month
    assert report.ground_truth == config.output_dir / "ground_truth" / "users.parquet"
    assert config.landing_dir not in report.ground_truth.parents
    truth = pq.read_table(report.ground_truth)
    for column in (
        "visit_rate",
        "purchase_prob",
        "churn_hazard",
        "churned_at",
        "favourite_category_id",
    ):
        assert column in truth.column_names
    con.register("truth", truth)
    missing, extra = one(
        con,
        """with u as (select distinct user_id from e)
           select (select count(*) from u anti join truth using (user_id)),
                  (select count(*) from truth anti join u using (user_id))""",
    )
    assert missing == extra == 0
    assert truth.num_rows == report.users


def test_traits_drive_behaviour(con, month):
    _, report = month
    con.register("truth", pq.read_table(report.ground_truth))
    # Frequent visitors have more sessions; users who buy have a higher purchase propensity;
    # churned users stop: nobody has events after their churn time.
    corr, buyer_prop, other_prop, after_churn = one(
        con,
        """with s as (select user_id, count(distinct user_session) n, max(event_time) last,
                      bool_or(event_type = 'purchase') bought from e group by 1)
           select corr(ln(t.visit_rate), ln(greatest(s.n, 1))),
                  avg(t.purchase_prob) filter (where s.bought),
                  avg(t.purchase_prob) filter (where not s.bought),
                  count(*) filter (where s.last > t.churned_at + interval 2 hour)
           from s join truth t using (user_id)""",
    )
    assert corr > 0.3
    assert buyer_prop > 2 * other_prop
    assert after_churn == 0


# --- determinism, layouts, compression ----------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_bytes(tiny, tmp_path):
    again = replace(tiny, output_dir=tmp_path / "again")
    generate(again)
    for a, b in zip(data_files(tiny.landing_dir), data_files(again.landing_dir), strict=True):
        assert a.name == b.name and a.read_bytes() == b.read_bytes()
    truth = tiny.ground_truth_dir / "users.parquet"
    assert pq.read_table(truth).equals(pq.read_table(again.ground_truth_dir / "users.parquet"))
    other = replace(tiny, output_dir=tmp_path / "other", seed=43)
    generate(other)
    first = data_files(tiny.landing_dir)[0].read_bytes()
    assert data_files(other.landing_dir)[0].read_bytes() != first


def test_month_files_gzip_hold_the_same_rows_as_daily_files(tiny, tmp_path):
    monthly = replace(tiny, output_dir=tmp_path / "m", file_per="month", compression="gzip")
    report = generate(monthly)
    assert [p.name for p in report.files] == ["2019-Oct.csv.gz", "2019-Nov.csv.gz"]
    daily = data_files(tiny.landing_dir)
    assert [p.name for p in daily] == ["2019-10-30.csv", "2019-10-31.csv", "2019-11-01.csv"]
    bodies = [p.read_bytes().split(b"\n", 1)[1] for p in daily]
    october, november = (gzip.decompress(p.read_bytes()) for p in report.files)
    header = HEADER.encode() + b"\n"
    assert october == header + bodies[0] + bodies[1]  # same events, whatever the layout
    assert november == header + bodies[2]
    con = duckdb.connect()
    read_events(con, str(monthly.landing_dir / "*.csv.gz"))
    months = con.execute(
        "select parse_filename(filename), min(event_time)::date, max(event_time)::date "
        "from e group by 1 order by 2"
    ).fetchall()
    assert months == [
        ("2019-Oct.csv.gz", date(2019, 10, 30), date(2019, 10, 31)),
        ("2019-Nov.csv.gz", date(2019, 11, 1), date(2019, 11, 1)),
    ]


def test_data_file_names():
    day = date(2020, 2, 3)
    assert data_file_name(day, "day", "none") == "2020-02-03.csv"
    assert data_file_name(day, "day", "gzip") == "2020-02-03.csv.gz"
    assert data_file_name(day, "month", "none") == "2020-Feb.csv"
    assert data_file_name(day, "month", "gzip") == "2020-Feb.csv.gz"


def test_files_appear_atomically(tmp_path, monkeypatch):
    config = GeneratorConfig(output_dir=tmp_path, days=4, events=40_000, seed=5)
    renames: list[tuple[Path, Path, int]] = []
    real_replace = generator_sink.os.replace

    def replace_spy(src, dst):
        # At rename time the temporary file is complete: record its size.
        renames.append((Path(src), Path(dst), Path(src).stat().st_size))
        real_replace(src, dst)

    monkeypatch.setattr(generator_sink.os, "replace", replace_spy)
    seen: dict[str, int] = {}
    calls: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        # What a sensor listing the folder mid-run sees: only complete files, never a partial one.
        calls.append((done, total))
        for path in config.landing_dir.glob("*") if config.landing_dir.exists() else ():
            if not path.name.startswith("."):
                seen.setdefault(path.name, path.stat().st_size)

    report = generate(config, progress=progress)
    final = {p.name: p.stat().st_size for p in report.files}
    assert seen and all(final[name] == size for name, size in seen.items())
    assert {dst.name for _, dst, _ in renames if dst.parent == config.landing_dir} == set(final)
    for src, dst, size in renames:
        assert src.parent == dst.parent and src.name == f".{dst.name}.tmp"
        if dst.name in final:
            assert size == final[dst.name]
    dones = [done for done, _ in calls]
    assert dones == sorted(dones) and calls[-1] == (report.rows, report.rows)


def test_small_blocks_keep_order_and_sessions(tmp_path, monkeypatch):
    # Busy days are cut into blocks; events carried across block borders must stay ordered.
    monkeypatch.setattr(generator_engine, "MAX_BLOCK_SESSIONS", 500)
    config = GeneratorConfig(output_dir=tmp_path, days=2, events=40_000, seed=9)
    report = generate(config)
    for path in report.files:
        times = [line[:19] for line in path.read_bytes().split(b"\n")[1:-1]]
        assert times == sorted(times)
    con = duckdb.connect()
    read_events(con, str(config.landing_dir / "*.csv"))
    assert one(con, "select count(*) from e")[0] == report.rows
    users_per_session = one(
        con,
        "select max(n) from (select count(distinct user_id) n from e "
        "where user_session is not null group by user_session)",
    )[0]
    assert users_per_session == 1


def test_volume_from_target_bytes_and_default(tmp_path):
    report = generate(GeneratorConfig(output_dir=tmp_path / "b", days=2, target_bytes=4_000_000))
    assert report.bytes == pytest.approx(4_000_000, rel=0.1)
    assert report.bytes / report.rows == pytest.approx(BYTES_PER_ROW, rel=0.05)
    report = generate(GeneratorConfig(output_dir=tmp_path / "d", days=1))
    assert report.rows == pytest.approx(50_000, rel=0.1)


def test_config_validation(tmp_path):
    with pytest.raises(ValueError):
        GeneratorConfig(output_dir=tmp_path, events=10, target_bytes=10_000)
    with pytest.raises(ValueError):
        GeneratorConfig(output_dir=tmp_path, days=0)
    with pytest.raises(ValueError):
        GeneratorConfig(output_dir=tmp_path, file_per="week")  # type: ignore[arg-type]


def test_spike_day_choice():
    assert pick_spike_day(date(2019, 10, 1), 60) == date(2019, 11, 17)
    assert pick_spike_day(date(2019, 11, 17), 1) == date(2019, 11, 17)
    start = date(2020, 1, 1)
    assert pick_spike_day(start, 30) == start + timedelta(days=20)
