"""Asset checks: model quality, feature drift (PSI), score sanity."""

from datetime import date
from pathlib import Path

import dagster as dg
import numpy as np

from dagster_project.defs.ingest.resources import Warehouse
from dagster_project.defs.ml.resources import MLSettings
from dagster_project.lib.ml import artifacts
from dagster_project.lib.ml.config import CHURN, FEATURES, PURCHASE, SCORE_TABLES, Task
from dagster_project.lib.ml.drift import WARN_PSI, feature_psi
from dagster_project.lib.ml.queries import model_input_sql, score_rows_sql, training_rows_sql


def _quality(task: Task, ml: MLSettings) -> dg.AssetCheckResult:
    version = artifacts.current_version(Path(ml.data_dir), task.model_name)
    if version is None:
        return dg.AssetCheckResult(passed=False, description="no promoted model")
    meta = artifacts.load_metadata(Path(ml.data_dir), task.model_name, version)
    m = meta["metrics"]
    auc = m["model"]["roc_auc"]
    baselines = {n: m[n]["roc_auc"] for n in ("heuristic", "bgnbd") if n in m}
    passed = all(auc > b for b in baselines.values())
    return dg.AssetCheckResult(
        passed=passed,
        metadata={
            "version": version,
            "roc_auc": auc,
            **{f"{k}_roc_auc": v for k, v in baselines.items()},
        },
    )


@dg.asset_check(
    asset="purchase_model", description="Promoted model's holdout AUC beats every baseline."
)
def purchase_model_quality(ml: MLSettings) -> dg.AssetCheckResult:
    return _quality(PURCHASE, ml)


@dg.asset_check(
    asset="churn_model", description="Promoted model's holdout AUC beats every baseline."
)
def churn_model_quality(ml: MLSettings) -> dg.AssetCheckResult:
    return _quality(CHURN, ml)


def _drift(task: Task, warehouse: Warehouse, ml: MLSettings) -> dg.AssetCheckResult:
    """PSI of each feature: holdout as_of (what the model was validated on) vs the scored as_of."""
    version = artifacts.current_version(Path(ml.data_dir), task.model_name)
    if version is None:
        return dg.AssetCheckResult(passed=False, description="no promoted model")
    meta = artifacts.load_metadata(Path(ml.data_dir), task.model_name, version)
    evaluated = [date.fromisoformat(meta["eval_as_of_date"])]
    with warehouse.connect() as con:
        values = feature_psi(
            con,
            training_rows_sql(task, evaluated, with_labels=False, features=model_input_sql),
            score_rows_sql(task, features=model_input_sql),
            FEATURES,
        )
    drifted = sorted(f for f, v in values.items() if v > WARN_PSI)
    return dg.AssetCheckResult(
        passed=not drifted,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"PSI > {WARN_PSI}: {', '.join(drifted)}" if drifted else "no feature drifted",
        metadata={f"psi_{f}": float(v) for f, v in values.items()},
    )


@dg.asset_check(
    asset="ml_purchase_scores", description="Feature drift (PSI per feature, warn > 0.2)."
)
def purchase_feature_drift(warehouse: Warehouse, ml: MLSettings) -> dg.AssetCheckResult:
    return _drift(PURCHASE, warehouse, ml)


@dg.asset_check(asset="ml_churn_scores", description="Feature drift (PSI per feature, warn > 0.2).")
def churn_feature_drift(warehouse: Warehouse, ml: MLSettings) -> dg.AssetCheckResult:
    return _drift(CHURN, warehouse, ml)


def score_sanity_problems(probabilities: np.ndarray, n_users: int, n_distinct: int) -> list[str]:
    """Scores must be probabilities, one per user, and not constant."""
    problems = []
    if n_users == 0:
        problems.append("no scores")
    if len(probabilities) and (np.nanmin(probabilities) < 0 or np.nanmax(probabilities) > 1):
        problems.append("probability outside [0, 1]")
    if np.isnan(probabilities).any():
        problems.append("null probability")
    if n_distinct != n_users:
        problems.append("users scored more than once")
    if len(probabilities) > 1 and np.nanstd(probabilities) == 0:
        problems.append("constant scores")
    return problems


def _sanity(task: Task, warehouse: Warehouse) -> dg.AssetCheckResult:
    schema, table = SCORE_TABLES[task.name].split(".")
    with warehouse.connect() as con:
        # fetchall, not fetchone: an unfinished result blocks the next query on this connection
        ((exists,),) = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()
        if not exists:
            return dg.AssetCheckResult(passed=False, description="no scores yet (no model)")
        ((rows, users),) = con.execute(
            f"select count(*), count(distinct user_id) from {SCORE_TABLES[task.name]}"
        ).fetchall()
        # numpy straight from DuckDB (nulls masked): no pandas import (~0.5 s of a pass)
        fetched = con.execute(f"select probability from {SCORE_TABLES[task.name]}").fetchnumpy()
    p = np.ma.filled(np.ma.asarray(fetched["probability"], dtype=float), np.nan)
    problems = score_sanity_problems(p, rows, users)
    return dg.AssetCheckResult(
        passed=not problems,
        description="; ".join(problems) or "scores are sane",
        metadata={"rows": rows, "mean": float(np.nanmean(p)) if len(p) else 0.0},
    )


@dg.asset_check(
    asset="ml_purchase_scores", description="Probabilities in [0,1], one per user, not constant."
)
def purchase_score_sanity(warehouse: Warehouse) -> dg.AssetCheckResult:
    return _sanity(PURCHASE, warehouse)


@dg.asset_check(
    asset="ml_churn_scores", description="Probabilities in [0,1], one per user, not constant."
)
def churn_score_sanity(warehouse: Warehouse) -> dg.AssetCheckResult:
    return _sanity(CHURN, warehouse)
