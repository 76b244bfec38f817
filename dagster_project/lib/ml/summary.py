"""A table of the promoted models' holdout AUCs beside the baselines' and the oracle's (for the
CLI: `estore demo` prints it)."""

from __future__ import annotations

import json

from rich.table import Table

from dagster_project.lib.settings import Settings

from . import artifacts
from .config import TASKS

COLUMNS = ("model", "logistic", "boosted", "bgnbd", "heuristic", "oracle")


def summarize_models(settings: Settings) -> Table | None:
    """ROC AUC per scorer for each task's latest trained version (None if nothing trained)."""
    table = Table(title="ML models (holdout ROC AUC)")
    for column in ("task", "learner", "promoted", *COLUMNS, "oracle share"):
        table.add_column(column, justify="right" if column in COLUMNS else "left")
    rows = 0
    for task in TASKS.values():
        root = artifacts.model_root(settings.data_dir, task.model_name)
        versions = sorted(p for p in root.glob("*/metadata.json")) if root.exists() else []
        if not versions:
            continue
        meta = json.loads(versions[-1].read_text())
        m = meta["metrics"]
        share = m["model"].get("oracle_fraction")
        table.add_row(
            task.name,
            meta.get("learner", "-"),
            "yes" if meta["promoted"] else f"no ({meta['decision']})",
            *(f"{m[c]['roc_auc']:.3f}" if c in m else "-" for c in COLUMNS),
            "-" if share is None else f"{share:.2f}",
        )
        rows += 1
    return table if rows else None
