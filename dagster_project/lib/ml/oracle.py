"""The true probability of each label, from the generator's latent traits (the oracle).

The generator's process for a user (dagster_project/generator/population.py, behaviour.py):
sessions arrive as a Poisson process of rate `visit_rate` on the calendar-intensity axis
(Timeline.warp) until the user churns at an exponential time of rate `churn_hazard` per day; each
session buys with probability purchase_prob x conversion(focus category) x the day's boost
(focus = favourite category with probability category_affinity). So, given the traits:
- P(alive at as_of) follows from the last visit t_last before as_of (memoryless lifetime, Poisson
  visits): alive with survival e^{-h d} and no visit since, against dying in between;
- if alive, purchase sessions form a thinned Poisson process of rate visit_rate x q(t) until the
  exponential death, integrated hour by hour over the horizon.
This is exact up to two approximations: the visit intensity between t_last and as_of is taken at
its average, and the 0.95 cap on the per-session purchase probability is applied per category
group (favourite vs the mean of the others).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from dagster_project.generator.catalog import CONVERSION, UNCODED_CONVERSION, _categories
from dagster_project.generator.params import ModelParams
from dagster_project.generator.rand import rng_for
from dagster_project.generator.timeline import DAY, HOUR, build_timeline, epoch_seconds

CHUNK = 20_000


def category_conversion(code: str | None) -> float:
    if code is None or (isinstance(code, float) and np.isnan(code)):
        return UNCODED_CONVERSION
    return next((f for prefix, f in CONVERSION if code.startswith(prefix)), UNCODED_CONVERSION)


def mean_conversion(seed: int, params: ModelParams) -> float:
    """Conversion of a random (non-favourite) focus category, weighted like the generator's
    `sample_category` (the category list depends only on the seed)."""
    cats = _categories(rng_for(seed, "catalog"), params)
    from dagster_project.generator.catalog import CODED_CATEGORIES

    codes = [c.code for c in CODED_CATEGORIES]
    conv = np.array(
        [category_conversion(codes[k]) if k >= 0 else UNCODED_CONVERSION for k in cats.code]
    )
    return float(np.dot(cats.weight, conv))


def true_probabilities(
    truth: pd.DataFrame,
    last_seen: pd.Series,
    as_of: date,
    horizon_days: int,
    window_start: date,
    window_days: int,
    seed: int = 42,
    params: ModelParams | None = None,
) -> np.ndarray:
    """P(at least one order in [as_of, as_of + horizon)) for each row of `truth` (ground-truth
    traits joined with `last_seen`, the user's last event time before as_of, naive UTC)."""
    params = params or ModelParams()
    timeline = build_timeline(window_start, window_days, params)
    start = epoch_seconds(as_of)
    n_hours = horizon_days * 24
    edges = start + HOUR * np.arange(n_hours + 1, dtype=np.int64)
    warped = timeline.warp(edges)  # clipped at the window end: no visits after it
    w = np.diff(warped)  # visit intensity of each hour, in average days
    boost = np.ones(n_hours)
    for i, t in enumerate(edges[:-1]):
        day_index = (int(t) - timeline.start) // DAY
        if 0 <= day_index < window_days:
            boost[i] = timeline.purchase_boost[day_index]
    conv_fav = truth["favourite_category_code"].map(category_conversion).to_numpy(float)
    conv_other = mean_conversion(seed, params)
    pp = truth["purchase_prob"].to_numpy(float)
    aff = truth["category_affinity"].to_numpy(float)
    lam = truth["visit_rate"].to_numpy(float)
    h = truth["churn_hazard"].to_numpy(float)

    last = pd.to_datetime(last_seen).to_numpy("datetime64[s]").astype(np.int64)
    gap_days = np.maximum((start - last) / DAY, 0.0)
    gap_warp = timeline.warp(np.full(len(last), start)) - timeline.warp(last)
    # Alive at as_of given alive at t_last and no visit since (average intensity over the gap).
    lam_gap = lam * np.where(gap_days > 0, gap_warp / np.maximum(gap_days, 1e-9), 0.0)
    k = h + lam_gap
    stay = np.exp(-k * gap_days)
    died = np.where(k > 0, h / np.maximum(k, 1e-12) * (1 - stay), 0.0)
    p_alive = stay / np.maximum(stay + died, 1e-300)

    out = np.empty(len(truth))
    real = (edges[:-1] - start + HOUR / 2) / DAY  # hour midpoints, days after as_of
    for lo in range(0, len(truth), CHUNK):
        s = slice(lo, lo + CHUNK)
        q = np.zeros((len(pp[s]), n_hours))
        for b in np.unique(boost):
            cols = boost == b
            qb = aff[s] * np.minimum(pp[s] * conv_fav[s] * b, 0.95)
            qb += (1 - aff[s]) * np.minimum(pp[s] * conv_other * b, 0.95)
            q[:, cols] = qb[:, None]
        rate = lam[s, None] * q * w[None, :]  # expected purchase sessions per hour, if alive
        cum = np.cumsum(rate, axis=1) - rate / 2  # up to each hour's midpoint
        hazard = h[s, None]
        # Death in hour i (density at the midpoint x 1 hour) sees cum[i]; surviving sees the total.
        death = hazard * np.exp(-hazard * real[None, :]) / 24.0
        no_buy = np.sum(death * np.exp(-cum), axis=1)
        no_buy += np.exp(-h[s] * horizon_days) * np.exp(-rate.sum(axis=1))
        out[s] = p_alive[s] * (1.0 - np.clip(no_buy, 0.0, 1.0))
    return out


def window_bounds(first_event: datetime | date, last_event: datetime | date) -> tuple[date, int]:
    """The generator window (start date, days) that produced events from first to last day."""
    first = first_event.date() if isinstance(first_event, datetime) else first_event
    last = last_event.date() if isinstance(last_event, datetime) else last_event
    return first, (last - first + timedelta(days=1)).days
