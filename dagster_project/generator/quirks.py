"""Data-quality quirks of the real export that the pipeline must survive.

Zero prices and products with varying brand/category_code are applied where rows are built
(behaviour.py); here are the row-level ones: exact duplicates, cart bursts (one cart row repeated
up to ~80 times in the same second) and a handful of rows without user_session.
"""

from __future__ import annotations

import numpy as np

from .events import CART, Events
from .params import ModelParams

BURST_ZIPF = 1.6  # burst lengths are heavy-tailed: mostly a few copies, sometimes ~80


def add_duplicates(events: Events, params: ModelParams, rng: np.random.Generator) -> Events:
    n = len(events)
    copies = np.ones(n, dtype=np.int64)
    copies += rng.random(n) < params.duplicate_prob
    burst = (events.kind == CART) & (rng.random(n) < params.burst_prob)
    sizes = np.minimum(rng.zipf(BURST_ZIPF, int(burst.sum())), params.burst_max - 1)
    copies[burst] += sizes
    if np.all(copies == 1):
        return events
    return events.take(np.repeat(np.arange(n), copies))


def blank_sessions(events: Events, params: ModelParams, rng: np.random.Generator) -> Events:
    n = len(events)
    count = min(n, int(rng.poisson(0.5 + n * params.empty_session_rate)))
    if count == 0:
        return events
    rows = rng.choice(n, size=count, replace=False)
    session = events.session.copy()
    session[rows] = -1
    return Events(**{**events.__dict__, "session": session})
