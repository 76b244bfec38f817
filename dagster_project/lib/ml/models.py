"""The two learners: logistic regression (a baseline) and gradient-boosted trees (the candidate)."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler


def _signed_log(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))  # counts and money are heavy-tailed


def logistic(seed: int):
    return make_pipeline(
        FunctionTransformer(_signed_log),
        StandardScaler(),
        LogisticRegression(max_iter=500, C=1.0, random_state=seed),
    )


def boosted(seed: int):
    return HistGradientBoostingClassifier(
        max_iter=200,
        learning_rate=0.06,
        max_leaf_nodes=31,
        min_samples_leaf=40,
        l2_regularization=1.0,
        early_stopping=True,
        validation_fraction=0.15,
        n_iter_no_change=15,
        random_state=seed,
    )


def params_of(model) -> dict:
    return {k: v for k, v in model.get_params().items() if isinstance(v, int | float | str | bool)}
