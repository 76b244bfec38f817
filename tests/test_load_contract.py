"""The raw load's contract, line by line: every physical line is loaded, rejected with its true
line number and a reason, or the file fails whole; values are stored exactly as written."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from conftest import EstoreEnv, csv_lines, event_row
from test_loader import load, query

from dagster_project.lib.ingest import loader
from dagster_project.lib.ingest.loader import FAILED, LOADED, count_physical_lines


def physical_lines(path: Path) -> int:
    """Lines as a text editor shows them: '\\n'-terminated, plus an unterminated last one."""
    data = path.read_bytes()
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def test_source_line_is_the_physical_line_blank_lines_included(estore_env: EstoreEnv):
    text = "\n".join(
        csv_lines(
            event_row(product_id=1),  # 2
            "",  # 3: blank
            event_row(product_id=2),  # 4
            "",  # 5
            "",  # 6
            event_row(product_id=3),  # 7
        )
    )
    path = estore_env.drop("blank.csv", (text + "\n\n").encode())  # 8: a trailing blank line
    result = load(estore_env, path)
    assert result.status == LOADED, result.error
    loaded = query(estore_env, "select source_line, product_id from raw.events order by 1")
    assert loaded == [(2, 1), (4, 2), (7, 3)]
    rejects = query(estore_env, "select source_line, reason from raw.load_rejects order by 1")
    assert rejects == [(3, "blank line"), (5, "blank line"), (6, "blank line"), (8, "blank line")]
    assert 1 + result.rows_loaded + result.rows_rejected == physical_lines(path) == 8


def test_lines_the_reader_cannot_decode_keep_later_line_numbers_true(estore_env: EstoreEnv):
    lines = csv_lines(event_row(product_id=1), "", event_row(product_id=2), event_row(product_id=3))
    data = "\n".join(lines).encode() + b"\n"
    data = data.replace(b"2,2053013555631882655", b"2,2053013555631882655\xff", 1)  # line 4
    path = estore_env.drop("latin.csv", data)
    result = load(estore_env, path)
    assert result.status == LOADED, result.error
    assert query(estore_env, "select source_line, product_id from raw.events order by 1") == [
        (2, 1),
        (5, 3),
    ]
    rejects = dict(query(estore_env, "select source_line, reason from raw.load_rejects"))
    assert set(rejects) == {3, 4}
    assert "unicode" in rejects[4].lower()


def test_a_file_whose_lines_do_not_reconcile_fails_whole(estore_env, monkeypatch):
    path = estore_env.drop("day.csv", csv_lines(event_row(product_id=1), event_row(product_id=2)))
    # The reader must account for every line counted independently in the file: one more
    # physical line than the reader saw means something was swallowed.
    monkeypatch.setattr(loader, "count_physical_lines", lambda p: physical_lines(p) + 1)
    result = load(estore_env, path)
    assert result.status == FAILED
    assert "4 lines" in result.error and "3" in result.error
    assert query(estore_env, "select count(*) from raw.events") == [(0,)]
    assert query(estore_env, "select status from raw.load_manifest") == [("failed",)]


def test_a_carriage_return_inside_a_line_fails_the_file_instead_of_shifting_lines(estore_env):
    data = "\n".join(csv_lines(event_row(product_id=1), event_row(product_id=2))).encode() + b"\n"
    data = data.replace(b"view,2", b"vi\rew,2")
    result = load(estore_env, estore_env.drop("cr.csv", data))
    if result.status == LOADED:  # acceptable only if every line is accounted for truly
        assert query(estore_env, "select source_line from raw.events") == [(2,)]
        assert query(estore_env, "select source_line from raw.load_rejects") == [(3,)]
    else:
        assert result.status == FAILED and "cannot split the file into lines" in result.error


@pytest.mark.parametrize("gz", [False, True], ids=["csv", "gzip"])
def test_count_physical_lines(tmp_path: Path, gz: bool):
    import gzip

    for data, expected in [(b"", 0), (b"a", 1), (b"a\n", 1), (b"a\n\nb", 3), (b"\n\n", 2)]:
        path = tmp_path / ("f.csv.gz" if gz else "f.csv")
        path.write_bytes(gzip.compress(data) if gz else data)
        assert count_physical_lines(path) == expected, data


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (event_row(product_id="2.05301355563188E+18"), "product_id is not an integer"),
        (event_row(product_id="1e3"), "product_id is not an integer"),
        (event_row(product_id="+12"), "product_id is not an integer"),
        (event_row(product_id=" 12"), "product_id is not an integer"),
        (event_row(product_id="1_000"), "product_id is not an integer"),
        (event_row(product_id="0x10"), "product_id is not an integer"),
        (event_row(product_id="99999999999999999999"), "product_id is not an integer"),
        (event_row(user_id="5.2e8"), "user_id is not an integer"),
        (
            event_row().replace("2053013555631882655", "2.05301355563188E+18"),
            "category_id is not an integer",
        ),
        (event_row(price="1.234"), "price has more than 2 decimal places"),
        (event_row(price="1e2"), "price is not a decimal number"),
        (event_row(price="12,5"), "expected 9 fields, found 10"),
        (event_row(when="2019-10-1 10:00:00"), "event_time is not YYYY-MM-DD HH:MM:SS UTC"),
        (event_row(when="2019-10-01 1:00:00"), "event_time is not YYYY-MM-DD HH:MM:SS UTC"),
        (event_row(when="2019-10-01T10:00:00"), "event_time is not YYYY-MM-DD HH:MM:SS UTC"),
        (event_row(when="2019-10-01  10:00:00"), "event_time is not YYYY-MM-DD HH:MM:SS UTC"),
        (event_row(when="2019-02-30 10:00:00"), "event_time is not YYYY-MM-DD HH:MM:SS UTC"),
        (event_row(when=" 2019-10-01 10:00:00"), "event_time is not YYYY-MM-DD HH:MM:SS UTC"),
        (event_row(when="2019-10-01 10:00:00.5"), "event_time is not YYYY-MM-DD HH:MM:SS UTC"),
        (
            event_row().replace("2019-10-01 10:00:00 UTC", " UTC"),
            "event_time is not YYYY-MM-DD HH:MM:SS UTC",
        ),
        (event_row().replace("2019-10-01 10:00:00 UTC", ""), "missing event_time"),
        (event_row(product_id=""), "missing product_id"),
        (event_row(user_id=""), "missing user_id"),
        (event_row(event_type="wishlist"), "unknown event_type wishlist"),
    ],
)
def test_values_are_stored_as_written_or_rejected(estore_env: EstoreEnv, row: str, reason: str):
    path = estore_env.drop("day.csv", csv_lines(event_row(product_id=7), row))
    result = load(estore_env, path)
    assert (result.status, result.rows_loaded, result.rows_rejected) == (LOADED, 1, 1)
    assert query(estore_env, "select source_line, reason from raw.load_rejects") == [(3, reason)]
    assert query(estore_env, "select product_id from raw.events") == [(7,)]


def test_exact_values_load_unchanged(estore_env: EstoreEnv):
    path = estore_env.drop(
        "day.csv",
        csv_lines(
            event_row(product_id=9223372036854775807, price="35.8", user_id=-5),
            event_row(price="", category_code="", brand="", session=""),
            event_row(price="-0.05"),
        ),
    )
    result = load(estore_env, path)
    assert (result.rows_loaded, result.rows_rejected) == (3, 0), result
    rows = query(
        estore_env,
        "select product_id, category_id, cast(price as varchar), user_id, category_code, brand,"
        " user_session from raw.events order by source_line",
    )
    assert rows[0][:4] == (9223372036854775807, 2053013555631882655, "35.80", -5)
    assert rows[1][2:] == (None, 520088904, None, None, None)
    assert rows[2][2] == "-0.05"


def test_rows_outside_the_day_partitions_are_rejected_naming_the_setting(estore_env: EstoreEnv):
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    path = estore_env.drop(
        "day.csv",
        csv_lines(
            event_row(when="2019-08-31 23:59:59", product_id=1),  # before 2019-09-01
            event_row(when="2019-09-01 00:00:00", product_id=2),
            event_row(when=f"{tomorrow} 00:00:01", product_id=3),
        ),
    )
    result = load(estore_env, path)
    assert (result.rows_loaded, result.rows_rejected) == (1, 2)
    assert result.event_dates == [date(2019, 9, 1)]
    rejects = dict(query(estore_env, "select source_line, reason from raw.load_rejects"))
    assert "ESTORE_PARTITIONS_START" in rejects[2] and "2019-09-01" in rejects[2]
    assert "no day partition" in rejects[4]


def test_timestamps_are_utc_whatever_the_host_time_zone(estore_env: EstoreEnv):
    path = estore_env.drop("day.csv", csv_lines(event_row(), event_row(product_id="x")))
    script = textwrap.dedent(
        f"""
        import duckdb
        from pathlib import Path
        from dagster_project.lib.ingest.bucket import LocalBucket
        from dagster_project.lib.ingest.loader import load_file
        bucket = LocalBucket({estore_env.settings.bucket!r}, settle_seconds=0)
        obj = next(bucket.list_objects({estore_env.settings.landing_prefix!r}))
        con = duckdb.connect({str(estore_env.settings.duckdb_path)!r})
        con.execute("set TimeZone = 'America/Los_Angeles'")
        assert load_file(con, obj, Path({str(path)!r})).status == "loaded"
        """
    )
    env = {**os.environ, "TZ": "America/Los_Angeles"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, env=env)
    assert done.returncode == 0, done.stderr.decode()
    now = datetime.now(UTC).replace(tzinfo=None)
    stamps = query(
        estore_env,
        "select loaded_at from raw.events union all select rejected_at from raw.load_rejects"
        " union all select loaded_at from raw.load_manifest"
        " union all select attempted_at from raw.load_manifest"
        " union all select recorded_at from raw.pending_days",
    )
    assert len(stamps) == 5
    for (stamp,) in stamps:
        assert abs(stamp - now) < timedelta(minutes=5), (stamp, now)
    # The event time is stored as written (UTC), not shifted to the session's zone.
    assert query(estore_env, "select cast(event_time as varchar) from raw.events") == [
        ("2019-10-01 10:00:00",)
    ]


def test_every_line_of_a_generated_month_is_accounted_for(estore_env: EstoreEnv):
    from dagster_project.generator import GeneratorConfig, generate

    generate(
        GeneratorConfig(
            output_dir=Path(estore_env.settings.bucket),
            prefix=estore_env.settings.landing_prefix,
            start_date=date(2019, 10, 1),
            days=3,
            events=30_000,
            seed=3,
            file_per="month",
        )
    )
    (path,) = estore_env.landing.glob("*.csv")
    os.utime(path, (0, 0))
    result = load(estore_env, path)
    assert (result.status, result.rows_rejected) == (LOADED, 0)
    assert result.rows_loaded == physical_lines(path) - 1
    con = duckdb.connect(str(estore_env.settings.duckdb_path), read_only=True)
    try:
        # Each loaded row is the very line of the file at its source_line.
        lines = path.read_text().splitlines()
        rows = con.execute(
            "select source_line, strftime(event_time, '%Y-%m-%d %H:%M:%S UTC') || ',' ||"
            " event_type || ',' || product_id || ',' || coalesce(cast(category_id as varchar), '')"
            " || ',' || coalesce(category_code, '') || ',' || coalesce(brand, '') || ',' ||"
            " coalesce(cast(price as varchar), '') || ',' || user_id || ',' ||"
            " coalesce(user_session, '') from raw.events using sample 500"
        ).fetchall()
    finally:
        con.close()
    assert rows
    for line_no, text in rows:
        assert lines[line_no - 1] == text


def test_the_fast_path_loads_no_line_the_line_by_line_parse_would_reject(tmp_path: Path):
    """Clean files are read by DuckDB's typed CSV reader (fast_rows_sql), the others line by
    line (parsed_lines_sql): the fast path must never accept a line the exact parse rejects,
    or a file's rows would depend on whether another line of it is bad."""
    from dagster_project.lib.ingest.parse import DayRange, fast_rows_sql, parsed_lines_sql
    from dagster_project.lib.ingest.schema import SOURCE_COLUMNS

    good = [
        event_row(product_id=0, user_id=-5, price="0"),
        event_row(price="35.8"),
        event_row(price="-0.05"),
        event_row(price="-0.5"),
        event_row(price="5."),  # 5.00, as the exact parse reads it
        event_row(price="", category_code="", brand="", session=""),
        event_row().replace("2053013555631882655", ""),
        event_row(product_id=9223372036854775807),
    ]
    odd_integers = ["007", "-0", "+12", " 12", "12 ", "1e3", "1.5", "1_000", "0x10", "--5", "5-"]
    odd_prices = [".5", "00.5", "-0", "-0.0", "-0.00", "+5", "1.234", "1e2", " 5", "0x1"]
    odd_times = [
        "2019-10-1  10:00:00",
        "2019-10-01 24:00:00",
        "2019-10-01 10:00:60",
        " 2019-10-01 10:00:00",
    ]
    bad = (
        [event_row(product_id=x) for x in odd_integers]
        + [event_row(user_id=x) for x in odd_integers]
        + [event_row().replace("2053013555631882655", x) for x in odd_integers]
        + [event_row(price=x) for x in odd_prices]
        + [event_row(when=x) for x in odd_times]
        + [
            event_row(brand='a"b'),
            event_row(event_type="View"),
            event_row(when="2019-08-31 10:00:00"),
        ]
    )
    path = tmp_path / "odd.csv"
    path.write_text("\n".join(csv_lines(*good, *bad)) + "\n")
    days = DayRange(date(2019, 9, 1), date(2030, 1, 1))
    columns = ", ".join(SOURCE_COLUMNS)
    con = duckdb.connect()
    fast = con.execute(f"select {columns} from ({fast_rows_sql(path, days)})").fetchall()
    exact = con.execute(
        f"select {columns} from ({parsed_lines_sql(path, 'r', 's', days)}) where ok"
    ).fetchall()
    assert sorted(fast, key=repr) == sorted(exact, key=repr)
    assert len(fast) == len(good)


def test_fast_path_line_numbers_hold_across_parallel_reads(estore_env: EstoreEnv, monkeypatch):
    """A clean file big enough for DuckDB to read in several parallel chunks and row groups:
    every row's source_line is its physical line (product_id = line number here)."""

    def no_fallback(*args):
        raise AssertionError("a clean file must not need the line-by-line parse")

    monkeypatch.setattr(loader, "parsed_lines_sql", no_fallback)
    rows = [event_row(product_id=line) for line in range(2, 300_002)]
    path = estore_env.drop("big.csv", csv_lines(*rows))
    result = load(estore_env, path)
    assert (result.status, result.rows_loaded, result.rows_rejected) == (LOADED, 300_000, 0)
    assert query(
        estore_env,
        "select count(*), count_if(source_line = product_id), min(source_line), max(source_line)"
        " from raw.events",
    ) == [(300_000, 300_000, 2, 300_001)]
