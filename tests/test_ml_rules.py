"""Hand-computed cases for the ML rules: promotion, time split, sampling, metrics, drift, score
sanity, and the oracle's closed form."""

from __future__ import annotations

import datetime as dt
import math

import duckdb
import numpy as np
import pandas as pd
import pytest

from dagster_project.defs.ml.checks import score_sanity_problems
from dagster_project.lib.ml.config import CHURN, PURCHASE
from dagster_project.lib.ml.data import InsufficientHistory, stratified_sample, time_split
from dagster_project.lib.ml.drift import (
    BINS,
    bin_counts,
    bin_edges,
    feature_edges,
    feature_psi,
    psi_from_counts,
)
from dagster_project.lib.ml.evaluation import evaluate, oracle_fraction, top_decile_lift
from dagster_project.lib.ml.oracle import true_probabilities
from dagster_project.lib.ml.promotion import decide_promotion

BASELINES = {"heuristic": 0.70, "bgnbd": 0.72, "logistic": 0.78}


@pytest.mark.parametrize(
    ("candidate", "current", "promote", "reason"),
    [
        (0.80, None, True, "no current model"),
        (0.80, 0.79, True, "current 0.7900"),
        (0.80, 0.80, False, "current model"),  # a tie keeps the current model
        (0.80, 0.85, False, "current model"),
        (0.75, None, False, "baseline logistic"),  # beats two baselines, not the third
        (0.71, 0.60, False, "baseline bgnbd"),
    ],
)
def test_promotion(candidate, current, promote, reason):
    decision = decide_promotion(candidate, BASELINES, current)
    assert decision.promote is promote
    assert reason in decision.reason


def test_promotion_margin():
    assert not decide_promotion(0.785, BASELINES, None, min_gain=0.01).promote
    assert decide_promotion(0.795, BASELINES, None, min_gain=0.01).promote


def _dates(roles: dict[str, tuple[str | None, str | None]]) -> pd.DataFrame:
    """ml_as_of_dates rows: {as_of date: (purchase_role, churn_role)}."""
    days = sorted(roles)
    return pd.DataFrame(
        {
            "as_of_date": [dt.date.fromisoformat(d) for d in days],
            "purchase_horizon_days": 7,
            "churn_horizon_days": 30,
            "purchase_role": [roles[d][0] for d in days],
            "churn_role": [roles[d][1] for d in days],
        }
    )


def test_time_split_reads_each_tasks_roles_from_ml_as_of_dates():
    """The rule itself (which date trains, which evaluates) is ml_as_of_dates' SQL, with its dbt
    unit tests; training reads exactly those dates (never the latest, the scoring date)."""
    dates = _dates(
        {
            "2019-12-04": ("train", "train"),
            "2019-12-11": ("train", None),
            "2019-12-18": ("evaluate", "evaluate"),
            "2019-12-25": (None, None),
        }
    )
    p = time_split(dates, PURCHASE)
    assert p.train_dates == [dt.date(2019, 12, 4), dt.date(2019, 12, 11)]
    assert p.eval_date == dt.date(2019, 12, 18)
    assert p.horizon_days == 7
    c = time_split(dates, CHURN)
    assert c.train_dates == [dt.date(2019, 12, 4)] and c.eval_date == dt.date(2019, 12, 18)
    assert c.horizon_days == 30
    # a first month: no date has a role, so there is nothing to train on (a state, not a bug)
    first_month = _dates({"2019-10-25": (None, None), "2019-11-01": (None, None)})
    with pytest.raises(InsufficientHistory, match="no purchase training date"):
        time_split(first_month, PURCHASE)


def test_stratified_sample_keeps_label_shares():
    frame = pd.DataFrame({"as_of_date": 0, "user_id": range(1000), "label": [1] * 50 + [0] * 950})
    sample = stratified_sample(frame, 100, seed=1)
    assert len(sample) == 100 and sample["label"].sum() == 5
    assert len(stratified_sample(frame, 5000, seed=1)) == 1000


def test_metrics_by_hand():
    y = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1] * 2)
    p = np.array([0.1] * 8 + [0.9, 0.2] + [0.1] * 8 + [0.8, 0.3])
    # 20 rows: the top 2 scores (0.9, 0.8) are both positive: lift = 1 / 0.2 = 5.
    assert top_decile_lift(y, p) == pytest.approx(5.0)
    m = evaluate(y, p, threshold=0.5)
    assert m["precision_at_threshold"] == 1.0 and m["recall_at_threshold"] == 0.5
    # positives (0.9, 0.2, 0.8, 0.3) vs 16 negatives at 0.1: every pair ranked right.
    assert m["roc_auc"] == pytest.approx(1.0)
    assert oracle_fraction(0.85, 0.9) == pytest.approx(0.875)


def numpy_psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """The drift check's rule in numpy: the reference its SQL is compared with."""
    edges = bin_edges(np.quantile(expected, np.linspace(0, 1, BINS + 1)))
    if edges is None:
        return 0.0
    counts = (np.histogram(v, edges)[0].astype(float) for v in (expected, actual))
    return psi_from_counts(*counts)


def warehouse_with(tables: dict[str, dict[str, np.ndarray]]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with one table per entry (its columns)."""
    con = duckdb.connect()
    for name, columns in tables.items():
        frame = pd.DataFrame(columns)  # noqa: F841 - read by name below
        con.execute(f"create table {name} as select * from frame")
    return con


def warehouse_psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """PSI of one feature as the drift check computes it, in DuckDB."""
    sides = {"expected": expected, "actual": actual}
    con = warehouse_with({name: {"x": np.asarray(v, float)} for name, v in sides.items()})
    return feature_psi(con, "select * from expected", "select * from actual", ["x"])["x"]


def test_psi():
    rng = np.random.default_rng(0)
    a = rng.normal(size=20_000)
    assert warehouse_psi(a, rng.normal(size=20_000)) < 0.01
    assert warehouse_psi(a, rng.normal(1.0, 1.0, size=20_000)) > 0.2
    assert warehouse_psi(np.zeros(10), np.ones(10)) == 0.0  # a constant feature has no bins


def test_psi_by_hand():
    # Expected 0..9: deciles 0, 0.9, ..., 9 make ten bins of one value each. Actual: five 0s and
    # five 9s, so two bins hold half each and eight are empty (counted as 1e-4).
    half = (0.5 - 0.1) * math.log(0.5 / 0.1)
    empty = (1e-4 - 0.1) * math.log(1e-4 / 0.1)
    expected = 2 * half + 8 * empty
    assert warehouse_psi(np.arange(10), np.array([0] * 5 + [9] * 5)) == pytest.approx(expected)


def test_feature_psi_in_the_warehouse_bins_as_numpy():
    """The warehouse's edges are numpy's quantiles (up to rounding: a value exactly on an edge
    may fall on either side of it), its bin counts are numpy.histogram's over those edges, and
    PSI follows: continuous values, integer counts with many ties, a binary flag (one bin), a
    constant (no bins), an empty side."""
    rng = np.random.default_rng(7)
    n, m = 5_000, 3_000
    sides = {
        "expected": {
            "x": rng.normal(size=n),
            "counts": rng.poisson(1.5, size=n).astype(float),
            "flag": rng.integers(0, 2, size=n).astype(float),
            "constant": np.zeros(n),
        },
        "actual": {
            "x": rng.normal(0.5, 1.2, size=m),
            "counts": rng.poisson(2.5, size=m).astype(float),
            "flag": np.ones(m),
            "constant": np.ones(m),
        },
    }
    features = list(sides["expected"])
    con = warehouse_with(sides)
    expected, actual = "select * from expected", "select * from actual"
    edges = feature_edges(con, expected, features)
    assert edges["constant"] is None and list(edges["flag"]) == [-np.inf, np.inf]
    got = feature_psi(con, expected, actual, features)
    for feature in ("x", "counts", "flag"):
        x, y = sides["expected"][feature], sides["actual"][feature]
        assert edges[feature] == pytest.approx(
            bin_edges(np.quantile(x, np.linspace(0, 1, 11))), rel=1e-12
        )
        numpy_counts = [np.histogram(v, edges[feature])[0] for v in (x, y)]
        counted = bin_counts(con, expected, {feature: edges[feature]})[feature]
        assert list(counted) == list(numpy_counts[0])
        assert got[feature] == psi_from_counts(*(c.astype(float) for c in numpy_counts))
        assert got[feature] == pytest.approx(numpy_psi(x, y))  # no value sits on an edge here
    assert got["x"] > 0.1 and got["counts"] > 0.1  # the shifts are seen
    assert got["flag"] == got["constant"] == 0.0  # one bin or none
    nothing = feature_psi(con, expected, "select * from actual where false", features)
    assert nothing == dict.fromkeys(features, 0.0)


def test_score_sanity():
    good = np.array([0.1, 0.5, 0.9])
    assert score_sanity_problems(good, 3, 3) == []
    assert "probability outside [0, 1]" in score_sanity_problems(np.array([0.1, 1.2]), 2, 2)
    assert "constant scores" in score_sanity_problems(np.array([0.3, 0.3]), 2, 2)
    assert "users scored more than once" in score_sanity_problems(good, 3, 2)
    assert "no scores" in score_sanity_problems(np.empty(0), 0, 0)


def test_oracle_closed_form_for_an_immortal_visitor():
    """No churn, seen just before as_of: P(order in H days) = 1 - exp(-visit_rate x q x W),
    W = the calendar intensity over the horizon (about H days), q = purchase_prob x conversion."""
    truth = pd.DataFrame(
        {
            "visit_rate": [0.5, 2.0],
            "churn_hazard": [1e-9, 1e-9],
            "purchase_prob": [0.1, 0.1],
            "category_affinity": [1.0, 1.0],
            "favourite_category_code": ["appliances.kitchen.washer", "appliances.kitchen.washer"],
        }
    )
    as_of = dt.date(2019, 10, 15)  # the spike day of a 100-day window from 10-01 is 11-17
    last = pd.Series([pd.Timestamp("2019-10-14 23:59:59")] * 2)
    p = true_probabilities(truth, last, as_of, 7, dt.date(2019, 10, 1), 100)
    from dagster_project.generator.params import ModelParams
    from dagster_project.generator.timeline import build_timeline, epoch_seconds

    timeline = build_timeline(dt.date(2019, 10, 1), 100, ModelParams())
    w = float(timeline.warp(epoch_seconds(as_of) + 7 * 86400) - timeline.warp(epoch_seconds(as_of)))
    for rate, prob in zip([0.5, 2.0], p, strict=True):
        assert prob == pytest.approx(1 - math.exp(-rate * 0.1 * 1.0 * w), rel=1e-3)


def test_oracle_a_long_silence_means_probably_gone():
    """Same traits, but silent for 30 days: P(alive) falls, so does P(order)."""
    truth = pd.DataFrame(
        {
            "visit_rate": [1.0, 1.0],
            "churn_hazard": [0.05, 0.05],
            "purchase_prob": [0.2, 0.2],
            "category_affinity": [1.0, 1.0],
            "favourite_category_code": [None, None],
        }
    )
    last = pd.Series([pd.Timestamp("2019-11-14 12:00"), pd.Timestamp("2019-10-16 12:00")])
    p = true_probabilities(truth, last, dt.date(2019, 11, 15), 7, dt.date(2019, 10, 1), 100)
    assert p[1] < 0.01 < p[0]


def test_score_sanity_check_reads_the_scores_it_found(tmp_path):
    """The check looked the table up with fetchone() and then queried the same connection:
    DuckDB refuses while a result is unfinished, so the check failed on every real demo."""
    import duckdb

    from dagster_project.defs.ingest.resources import Warehouse
    from dagster_project.defs.ml.checks import _sanity
    from dagster_project.lib.ml.config import PURCHASE

    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema analytics")
        con.execute(
            "create table analytics.ml_purchase_scores as "
            "select * from (values (1, 0.2), (2, 0.7)) t(user_id, probability)"
        )
    result = _sanity(PURCHASE, Warehouse(duckdb_path=str(path)))
    assert result.passed, result.description
    assert result.metadata["rows"].value == 2
    assert result.metadata["mean"].value == pytest.approx(0.45)
    with duckdb.connect(str(path)) as con:  # a null score, and a user scored twice
        con.execute("insert into analytics.ml_purchase_scores values (2, null)")
    result = _sanity(PURCHASE, Warehouse(duckdb_path=str(path)))
    assert not result.passed
    assert result.description == "null probability; users scored more than once"
    assert result.metadata["rows"].value == 3
