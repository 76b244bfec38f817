"""PNG plots of a training result (ROC, calibration, lift, feature importance)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402


def write_plots(result, folder: Path) -> dict[str, Path]:
    y = result.eval_frame["label"].to_numpy(int)
    paths = {}
    fig, ax = plt.subplots(figsize=(5, 4))
    for name, s in result.eval_scores.items():
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, label=f"{name} {result.metrics[name]['roc_auc']:.3f}")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    ax.legend(fontsize=7)
    paths["roc"] = _save(fig, folder / "roc.png")

    fig, ax = plt.subplots(figsize=(5, 4))
    for name in ("logistic", "boosted", "oracle"):
        curve = result.metrics.get(name, {}).get("calibration_curve")
        if curve:
            ax.plot(curve["predicted"], curve["observed"], "o-", label=name)
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set(xlabel="predicted", ylabel="observed", title="Calibration")
    ax.legend(fontsize=7)
    paths["calibration"] = _save(fig, folder / "calibration.png")

    fig, ax = plt.subplots(figsize=(5, 4))
    s = result.eval_scores["model"]
    order = np.argsort(-s)
    deciles = np.array_split(y[order], 10)
    ax.bar(range(1, 11), [d.mean() / max(y.mean(), 1e-12) for d in deciles])
    ax.set(xlabel="decile (1 = highest score)", ylabel="lift", title="Lift by decile")
    paths["lift"] = _save(fig, folder / "lift.png")

    fig, ax = plt.subplots(figsize=(5, 6))
    top = sorted(result.feature_importance.items(), key=lambda kv: kv[1])[-15:]
    ax.barh([k for k, _ in top], [v for _, v in top])
    ax.set(xlabel="ROC AUC drop when shuffled", title="Feature importance")
    fig.tight_layout()
    paths["importance"] = _save(fig, folder / "importance.png")
    return paths


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(fig)
    return path
