"""Metrics of a score against binary labels on one holdout."""

from __future__ import annotations

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

EPS = 1e-6


def operating_threshold(scores: np.ndarray, base_rate: float) -> float:
    """The threshold that flags as many users as the (training) base rate predicts positives:
    a campaign sized to the expected number of buyers/churners."""
    if len(scores) == 0:
        return 0.5
    return float(np.quantile(scores, 1.0 - min(max(base_rate, 0.0), 1.0)))


def top_decile_lift(y: np.ndarray, scores: np.ndarray) -> float:
    n = max(1, len(y) // 10)
    top = np.argsort(-scores, kind="stable")[:n]
    rate = y.mean()
    return float(y[top].mean() / rate) if rate > 0 else float("nan")


def evaluate(y: np.ndarray, p: np.ndarray, threshold: float, probabilistic: bool = True) -> dict:
    """ROC/PR AUC always; log loss, Brier and calibration only for calibrated probabilities."""
    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=float)
    flagged = p >= threshold
    out = {
        "n": int(len(y)),
        "positive_rate": float(y.mean()),
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "top_decile_lift": top_decile_lift(y, p),
        "threshold": float(threshold),
        "precision_at_threshold": float(precision_score(y, flagged, zero_division=0)),
        "recall_at_threshold": float(recall_score(y, flagged, zero_division=0)),
    }
    if probabilistic:
        clipped = np.clip(p, EPS, 1 - EPS)
        prob_true, prob_pred = calibration_curve(y, clipped, n_bins=10, strategy="quantile")
        out.update(
            log_loss=float(log_loss(y, clipped, labels=[0, 1])),
            brier=float(brier_score_loss(y, clipped)),
            # Expected calibration error over quantile bins (0 = perfectly calibrated).
            calibration_error=float(np.mean(np.abs(prob_true - prob_pred))),
            calibration_curve={"predicted": prob_pred.tolist(), "observed": prob_true.tolist()},
        )
    return out


def oracle_fraction(model_auc: float, oracle_auc: float) -> float:
    """(model AUC - 0.5) / (oracle AUC - 0.5): the share of the achievable lift over chance."""
    return (model_auc - 0.5) / (oracle_auc - 0.5) if oracle_auc > 0.5 else float("nan")
