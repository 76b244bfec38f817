"""Baselines every candidate must beat on the same holdout.

- `heuristic`: an RFM rule a marketer would use without a model (recent, frequent buyers buy).
- `bgnbd`: the buy-till-you-die BG/NBD model (pymc-marketing CLV module, MAP fit), the field's
  standard for "will this customer buy again": P(alive) and expected purchases over the horizon.
  The customer's first visit is the birth, order days are the transactions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .queries import NEVER_DAYS


def heuristic_score(frame: pd.DataFrame, task: str) -> np.ndarray:
    """Purchase: RFM-style score, higher = more likely to buy. Churn: its opposite for buyers."""
    recency = frame["recency_days"].astype(float).to_numpy()
    since_order = frame["days_since_last_order"].astype(float).fillna(NEVER_DAYS).to_numpy()
    frequency = frame["order_days"].astype(float).to_numpy()
    # Quintile-free RFM: ranks of recency (visit and order) and frequency, equally weighted.
    rank = (
        pd.Series(-recency).rank(pct=True).to_numpy()
        + pd.Series(-since_order).rank(pct=True).to_numpy()
        + pd.Series(frequency).rank(pct=True).to_numpy()
    ) / 3.0
    return rank if task == "purchase" else 1.0 - rank


def rfm_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """BG/NBD inputs in days: frequency (order days after the first visit day), recency (first
    visit to last order), T (first visit to as_of)."""
    tenure = frame["tenure_days"].astype(float).to_numpy()
    since_order = frame["days_since_last_order"].astype(float).to_numpy()
    order_days = frame["order_days"].astype(float).to_numpy()
    recency = np.where(np.isnan(since_order), 0.0, np.maximum(tenure - since_order, 0.0))
    frequency = np.where(recency > 0, order_days, 0.0)
    return pd.DataFrame(
        {
            "customer_id": np.arange(len(frame)),
            "frequency": frequency,
            "recency": recency,
            "T": np.maximum(tenure, 1.0),
        }
    )


def bgnbd_scores(
    frame: pd.DataFrame, horizon_days: int, fit_cap: int, seed: int
) -> dict[str, np.ndarray]:
    """Fit BG/NBD (MAP) on the holdout's own history (no labels needed) and return, per row,
    P(alive), expected purchases in the horizon, and P(at least one order) assuming Poisson."""
    from pymc_marketing.clv import BetaGeoModel  # heavy import: only when this baseline runs

    data = rfm_summary(frame)
    fit_data = data if len(data) <= fit_cap else data.sample(fit_cap, random_state=seed)
    model = BetaGeoModel(data=fit_data.reset_index(drop=True))
    model.fit(method="map", progressbar=False)
    alive = model.expected_probability_alive(data=data)
    expected = model.expected_purchases(data=data, future_t=horizon_days)
    p_alive = np.asarray(alive.mean(("chain", "draw"))).ravel()
    n = np.asarray(expected.mean(("chain", "draw"))).ravel()
    return {"p_alive": p_alive, "expected_purchases": n, "p_order": 1.0 - np.exp(-n)}
