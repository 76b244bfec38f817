"""The bench's breakdown of a pass, read from an `estore run` log (hand-made sample)."""

from pathlib import Path

import pytest

from dagster_project.cli.bench_logs import parse_pass_log

SAMPLE = Path(__file__).parent / "fixtures" / "estore-run-sample.log"


def test_pass_log_breakdown():
    log = parse_pass_log(SAMPLE)
    assert log.runs == 3
    assert log.load_seconds == pytest.approx(4.78)
    assert log.dagster_span_seconds == 61  # 23:43:30 .. 23:44:31
    daily, snapshots = log.calls
    assert (daily.job, daily.command) == ("dbt_daily_job", "build")
    assert daily.step_seconds == pytest.approx(73.0)  # "1m13s"
    assert daily.dbt_seconds == pytest.approx(3.0)
    assert daily.overhead_seconds == pytest.approx(70.0)
    assert daily.models == {"analytics.stg_events": 0.24, "analytics.fct_events": 1.30}
    assert daily.batches["analytics.fct_events"] == [0.5, 0.7]
    assert (daily.tests, daily.tests_seconds) == (2, pytest.approx(1.0))
    assert snapshots.command == "snapshot"
    assert snapshots.models == {"analytics.snap_user_rfm": 0.56}
    assert snapshots.step_seconds == pytest.approx(0.85)  # "850ms"


def test_reads_only_the_pass_after_the_offset():
    text = SAMPLE.read_text()
    offset = len(text[: text.index("2026-11-22 23:44:21")].encode())
    log = parse_pass_log(SAMPLE, since=offset)
    assert log.runs == 1
    assert [c.command for c in log.calls] == ["snapshot"]
    assert log.load_seconds == 0
