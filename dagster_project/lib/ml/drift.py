"""Feature drift: population stability index (PSI) between training and scoring rows."""

from __future__ import annotations

import numpy as np

WARN_PSI = 0.2  # the usual rule of thumb: > 0.2 is a significant shift


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10) -> float:
    """PSI over the expected sample's quantile bins (ties merged); 0 when identical."""
    expected, actual = np.asarray(expected, float), np.asarray(actual, float)
    if len(expected) == 0 or len(actual) == 0:
        return 0.0
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        return 0.0
    edges[0], edges[-1] = -np.inf, np.inf
    e = np.histogram(expected, edges)[0] / len(expected)
    a = np.histogram(actual, edges)[0] / len(actual)
    e, a = np.clip(e, 1e-4, None), np.clip(a, 1e-4, None)
    return float(np.sum((a - e) * np.log(a / e)))
