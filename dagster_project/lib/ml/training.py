"""Train, evaluate against baselines and the oracle, decide promotion, save the artifact."""

from __future__ import annotations

import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from . import artifacts, baselines, models, oracle
from .config import FEATURES, MLConfig, Task
from .data import Split, as_of_dates, data_hash, load_rows, matrix, stratified_sample, time_split
from .evaluation import evaluate, operating_threshold, oracle_fraction
from .promotion import Decision, decide_promotion


@dataclass
class TrainingResult:
    task: Task
    split: Split
    version: str
    metrics: dict[str, dict]  # name -> metrics on the holdout (model, heuristic, bgnbd, ...)
    decision: Decision
    current_version: str | None  # the promoted version after this run
    artifact_dir: Path
    feature_importance: dict[str, float] = field(default_factory=dict)
    eval_frame: pd.DataFrame | None = None
    eval_scores: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0

    def auc(self, name: str) -> float | None:
        m = self.metrics.get(name)
        return None if m is None else m["roc_auc"]


LEARNERS = {"logistic": models.logistic, "boosted": models.boosted}


def fit_candidates(x: np.ndarray, y: np.ndarray, seed: int) -> dict:
    return {name: make(seed).fit(x, y) for name, make in LEARNERS.items()}


def select_learner(train: pd.DataFrame, x: np.ndarray, y: np.ndarray, seed: int) -> dict:
    """Validation ROC AUC of each learner, fitted on the training rows before the last training
    as_of and validated on that date (or on a stratified quarter with a single date). The
    holdout is never used to choose."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    dates = train["as_of_date"].to_numpy()
    last = max(dates)
    fit_mask = dates < last
    if fit_mask.sum() == 0 or len(np.unique(y[fit_mask])) < 2 or len(np.unique(y[~fit_mask])) < 2:
        idx_fit, idx_val = train_test_split(
            np.arange(len(y)), test_size=0.25, stratify=y, random_state=seed
        )
    else:
        idx_fit, idx_val = np.flatnonzero(fit_mask), np.flatnonzero(~fit_mask)
    out = {}
    for name, make in LEARNERS.items():
        model = make(seed).fit(x[idx_fit], y[idx_fit])
        out[name] = float(roc_auc_score(y[idx_val], model.predict_proba(x[idx_val])[:, 1]))
    return out


def permutation_importance(model, x: np.ndarray, y: np.ndarray, seed: int) -> dict[str, float]:
    """Drop in ROC AUC when one feature is shuffled (on at most 20k holdout rows)."""
    from sklearn.inspection import permutation_importance as sk_perm

    rng = np.random.default_rng(seed)
    rows = rng.choice(len(y), size=min(len(y), 20_000), replace=False)
    result = sk_perm(model, x[rows], y[rows], scoring="roc_auc", n_repeats=2, random_state=seed)
    return {f: float(v) for f, v in zip(FEATURES, result.importances_mean, strict=True)}


def ground_truth_scores(
    con: duckdb.DuckDBPyConnection, truth: pd.DataFrame, frame: pd.DataFrame, split: Split,
    task: Task, seed: int,
) -> np.ndarray:  # fmt: skip
    """The oracle's probability of the label for each holdout row."""
    as_of = split.eval_date
    last = con.sql(
        f"""select user_id, max(last_event_time) as last_seen from analytics.fct_user_daily
        where activity_date < date '{as_of.isoformat()}' group by user_id"""
    ).df()
    first, last_day = con.execute(
        "select min(activity_date), max(activity_date) from analytics.fct_user_daily"
    ).fetchall()[0]
    start, days = oracle.window_bounds(first, last_day)
    rows = frame[["user_id"]].merge(truth, on="user_id", how="left").merge(last, on="user_id")
    if rows["visit_rate"].isna().any():
        raise ValueError("ground truth lacks some users of the holdout (another data set?)")
    p_order = oracle.true_probabilities(
        rows, rows["last_seen"], as_of, split.horizon_days, start, days, seed=seed
    )
    return p_order if task.name == "purchase" else 1.0 - p_order


def train_task(
    con: duckdb.DuckDBPyConnection,
    task: Task,
    data_dir: Path,
    config: MLConfig | None = None,
    truth: pd.DataFrame | None = None,
) -> TrainingResult:
    config = config or MLConfig()
    began = time.perf_counter()
    split = time_split(as_of_dates(con), task)
    train = stratified_sample(
        load_rows(con, task, split.train_dates), config.sample_cap, config.seed
    )
    holdout = load_rows(con, task, [split.eval_date])
    if train["label"].nunique() < 2 or holdout["label"].nunique() < 2:
        raise ValueError(f"{task.name}: both label values are needed in training and holdout")
    x, y = matrix(train), train["label"].to_numpy(int)
    xe, ye = matrix(holdout), holdout["label"].to_numpy(int)
    validation = select_learner(train, x, y, config.seed)
    learner = max(validation, key=lambda name: validation[name])
    fitted = fit_candidates(x, y, config.seed)
    fitted["model"] = fitted[learner]
    threshold_rate = float(y.mean())

    scores = {name: m.predict_proba(xe)[:, 1] for name, m in fitted.items()}
    scores["heuristic"] = baselines.heuristic_score(holdout, task.name)
    if config.with_bgnbd:
        bg = baselines.bgnbd_scores(holdout, split.horizon_days, config.bgnbd_fit_cap, config.seed)
        scores["bgnbd"] = bg["p_order"] if task.name == "purchase" else 1.0 - bg["p_order"]
    if truth is not None:
        scores["oracle"] = ground_truth_scores(
            con, truth, holdout, split, task, config.generator_seed
        )

    probabilistic = {"model", "logistic", "boosted", "bgnbd", "oracle"}
    metrics = {
        name: evaluate(
            ye, s, operating_threshold(s, threshold_rate), probabilistic=name in probabilistic
        )
        for name, s in scores.items()
    }

    # The current model, re-scored on this holdout (same rows, same labels).
    previous = artifacts.current_version(data_dir, task.model_name)
    current_auc = None
    if previous is not None:
        old_model, old_meta = artifacts.load(data_dir, task.model_name, previous)
        if old_meta.get("features") == list(FEATURES):
            s = old_model.predict_proba(xe)[:, 1]
            metrics["current"] = evaluate(ye, s, operating_threshold(s, threshold_rate))
            current_auc = metrics["current"]["roc_auc"]
    # The learners compete on validation; the holdout then judges the chosen one against the
    # baselines that need no learning and the current model.
    baseline_aucs = {n: metrics[n]["roc_auc"] for n in ("heuristic", "bgnbd") if n in metrics}
    decision = decide_promotion(
        metrics["model"]["roc_auc"], baseline_aucs, current_auc, config.min_auc_gain
    )
    if "oracle" in metrics:
        metrics["model"]["oracle_fraction"] = oracle_fraction(
            metrics["model"]["roc_auc"], metrics["oracle"]["roc_auc"]
        )

    importance = permutation_importance(fitted["model"], xe, ye, config.seed)
    digest = data_hash(pd.concat([train, holdout]))
    version = artifacts.new_version(digest)
    metadata = {
        "model": task.model_name,
        "version": version,
        "task": task.name,
        "label": task.label,
        "horizon_days": split.horizon_days,
        "train_as_of_dates": [d.isoformat() for d in split.train_dates],
        "eval_as_of_date": split.eval_date.isoformat(),
        "data_window": {
            "first_train_as_of": min(split.train_dates).isoformat(),
            "eval_as_of": split.eval_date.isoformat(),
        },
        "train_rows": len(train),
        "eval_rows": len(holdout),
        "features": list(FEATURES),
        "learner": learner,
        "validation_roc_auc": validation,
        "params": models.params_of(fitted["model"]),
        "metrics": metrics,
        "feature_importance": importance,
        "code_version": artifacts.code_version(),
        "data_hash": digest,
        "promoted": decision.promote,
        "decision": decision.reason,
        "operating_threshold_rate": threshold_rate,
        "config": config.__dict__,
    }
    folder = artifacts.save(data_dir, task.model_name, version, fitted["model"], metadata)
    if decision.promote:
        artifacts.promote(data_dir, task.model_name, version)
    result = TrainingResult(
        task=task,
        split=split,
        version=version,
        metrics=metrics,
        decision=decision,
        current_version=artifacts.current_version(data_dir, task.model_name),
        artifact_dir=folder,
        feature_importance=importance,
        eval_frame=holdout,
        eval_scores=scores,
        seconds=time.perf_counter() - began,
    )
    return result


def bench_training(n_rows: int = 1_000_000, seed: int = 0) -> dict:
    """Time and peak Python memory of training + evaluating both models on n_rows synthetic
    feature rows (the bench calls this; the sample cap bounds the training part)."""
    rng = np.random.default_rng(seed)
    config = MLConfig(with_bgnbd=False)
    began = time.perf_counter()
    tracemalloc.start()
    out = {}
    for task in ("purchase", "churn"):
        x = rng.gamma(1.0, 5.0, size=(n_rows, len(FEATURES)))
        logit = -3 + 0.3 * np.log1p(x[:, 4]) - 0.05 * x[:, 0] + rng.normal(0, 1, n_rows)
        y = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(int)
        frame = pd.DataFrame({"label": y, "as_of_date": 0, "user_id": np.arange(n_rows)})
        train_idx = stratified_sample(frame.iloc[: n_rows * 4 // 5], config.sample_cap, seed).index
        fitted = fit_candidates(x[train_idx], y[train_idx], seed)
        xe, ye = x[n_rows * 4 // 5 :], y[n_rows * 4 // 5 :]
        for name, m in fitted.items():
            s = m.predict_proba(xe)[:, 1]
            out[f"{task}_{name}_auc"] = evaluate(ye, s, operating_threshold(s, y.mean()))["roc_auc"]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out.update(rows=n_rows, seconds=time.perf_counter() - began, peak_python_mb=peak / 2**20)
    return out
