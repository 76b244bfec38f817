"""Scores of the latest as_of written back to the warehouse, and the retention target list."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from . import artifacts
from .config import CHURN, PURCHASE, SCORE_TABLES, MLConfig, Task
from .data import matrix, score_rows

TARGETS_TABLE = "analytics.ml_retention_targets"
# The current models' holdout metrics beside their baselines and the oracle (dashboards read it).
EVALUATION_TABLE = "analytics.ml_model_evaluation"
EVALUATION_METRICS = ("n", "roc_auc", "pr_auc", "top_decile_lift", "log_loss", "brier")


def score_task(
    con: duckdb.DuckDBPyConnection, task: Task, frame: pd.DataFrame, data_dir: Path
) -> pd.DataFrame:
    """Score `frame` (the task's rows of the features scored: every user of the warehouse's
    as_of) with the promoted model and replace the table."""
    version = artifacts.current_version(data_dir, task.model_name)
    if version is None:
        raise RuntimeError(f"no promoted {task.model_name}: materialize it first")
    model, _ = artifacts.load(data_dir, task.model_name, version)
    p = model.predict_proba(matrix(frame))[:, 1] if len(frame) else np.empty(0)
    out = pd.DataFrame(
        {
            "as_of_date": frame["as_of_date"],
            "user_id": frame["user_id"],
            "probability": p,
            "score_rank": pd.Series(-p).rank(method="first").astype("int64"),
            "decile": (np.ceil(pd.Series(-p).rank(pct=True) * 10)).clip(1, 10).astype("int64"),
            "model_version": version,
        }
    )
    _replace(con, SCORE_TABLES[task.name], out)
    return out


def retention_targets(
    con: duckdb.DuckDBPyConnection,
    frame: pd.DataFrame,
    churn_scores: pd.DataFrame,
    config: MLConfig,
) -> pd.DataFrame:
    """Buyers ranked by the expected value of contacting them:
    P(churn) x expected future value x win-back rate - contact cost, where the expected future
    value is the buyer's historical revenue per day of tenure over `value_horizon_days`.
    `frame`: the churn rows of the features scored (the rows `churn_scores` scored)."""
    if frame.empty:
        out = pd.DataFrame(columns=["as_of_date", "user_id", "p_churn", "expected_future_value",
                                    "expected_value", "target_rank"])  # fmt: skip
    else:
        merged = frame[["as_of_date", "user_id", "monetary", "tenure_days"]].merge(
            churn_scores[["user_id", "probability"]], on="user_id"
        )
        per_day = merged["monetary"].astype(float) / np.maximum(merged["tenure_days"], 30)
        future = per_day * config.value_horizon_days
        value = merged["probability"] * future * config.win_back_rate - config.contact_cost
        out = pd.DataFrame(
            {
                "as_of_date": merged["as_of_date"],
                "user_id": merged["user_id"],
                "p_churn": merged["probability"],
                "expected_future_value": future,
                "expected_value": value,
            }
        )
        out = out[out["expected_value"] > 0].sort_values("expected_value", ascending=False)
        out["target_rank"] = np.arange(1, len(out) + 1)
    _replace(con, TARGETS_TABLE, out.reset_index(drop=True))
    return out


def _replace(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    con.execute(f"create schema if not exists {table.split('.')[0]}")
    con.register("_ml_frame", frame)
    try:
        con.execute(f"create or replace table {table} as select * from _ml_frame")
    finally:
        con.unregister("_ml_frame")


def model_evaluation(data_dir: Path) -> pd.DataFrame:
    """One row per (task, scorer) of each current model's holdout evaluation."""
    rows = []
    for task in (PURCHASE, CHURN):
        version = artifacts.current_version(data_dir, task.model_name)
        if version is None:
            continue
        meta = artifacts.load_metadata(data_dir, task.model_name, version)
        for scorer, metrics in meta["metrics"].items():
            rows.append(
                {
                    "task": task.name,
                    "model_version": version,
                    "scorer": scorer,
                    **{m: metrics.get(m) for m in EVALUATION_METRICS},
                }
            )
    return pd.DataFrame(rows, columns=["task", "model_version", "scorer", *EVALUATION_METRICS])


def score_all(con: duckdb.DuckDBPyConnection, data_dir: Path, config: MLConfig) -> dict:
    purchase = score_task(con, PURCHASE, score_rows(con, PURCHASE), data_dir)
    churn_rows = score_rows(con, CHURN)  # read once: scored, then valued for retention
    churn = score_task(con, CHURN, churn_rows, data_dir)
    targets = retention_targets(con, churn_rows, churn, config)
    _replace(con, EVALUATION_TABLE, model_evaluation(data_dir))
    return {"purchase": purchase, "churn": churn, "targets": targets}
