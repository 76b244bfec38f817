"""Reading the point-in-time feature and label tables (training reads only these)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from .config import AS_OF_TABLE, FEATURES, Task
from .queries import NEVER_DAYS, NEVER_HAPPENED, score_rows_sql, training_rows_sql


@dataclass(frozen=True)
class Split:
    """A time split: train on as_of dates whose label horizon ends on or before the evaluation
    as_of; evaluate on the latest as_of whose labels are complete. (Scoring reads
    ml_score_features, the warehouse's latest as_of.)"""

    train_dates: list[date]
    eval_date: date
    horizon_days: int


class InsufficientHistory(ValueError):
    """The warehouse does not yet span a training date plus a later evaluation date."""


def as_of_dates(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.sql(f"select * from {AS_OF_TABLE} order by as_of_date").df()


def time_split(dates: pd.DataFrame, task: Task) -> Split:
    """The task's split as ml_as_of_dates assigns it (the rule lives in that model's SQL, so
    the training set holds exactly the dates read here)."""
    roles = dates[task.role_column]
    train = sorted(pd.Timestamp(d).date() for d in dates.loc[roles == "train", "as_of_date"])
    evaluation = [pd.Timestamp(d).date() for d in dates.loc[roles == "evaluate", "as_of_date"]]
    if not train or len(evaluation) != 1:
        raise InsufficientHistory(
            f"no {task.name} training date ends its horizon before a later evaluation date"
            " with complete labels: load more days"
        )
    horizon = int(dates[task.horizon_column].iloc[0])
    return Split(train, evaluation[0], horizon)


def load_rows(
    con: duckdb.DuckDBPyConnection, task: Task, dates: list[date], with_labels: bool = True
) -> pd.DataFrame:
    """Training-set feature rows (and the task's label) for the given as_of dates; buyers only
    for churn."""
    return _frame(con, training_rows_sql(task, dates, with_labels))


def score_rows(con: duckdb.DuckDBPyConnection, task: Task) -> pd.DataFrame:
    """The rows to score: features at the warehouse's as_of (buyers only for churn)."""
    return _frame(con, score_rows_sql(task))


def _frame(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    # Ordered here, where row order matters (sampling, hashing): the drift check only counts.
    frame = con.sql(sql).order("as_of_date, user_id").df()
    frame["as_of_date"] = pd.to_datetime(frame["as_of_date"]).dt.date
    return frame


def matrix(frame: pd.DataFrame) -> np.ndarray:
    """Model input: features as float64, 'never happened' day counts filled, other nulls 0."""
    x = frame[list(FEATURES)].astype("float64")
    for column in NEVER_HAPPENED:
        x[column] = x[column].fillna(NEVER_DAYS)
    return x.fillna(0.0).to_numpy()


def stratified_sample(frame: pd.DataFrame, cap: int, seed: int) -> pd.DataFrame:
    """At most `cap` rows, keeping each label's share (so rare positives are not lost)."""
    if len(frame) <= cap:
        return frame
    share = cap / len(frame)
    parts = [
        group.sample(n=max(1, int(round(len(group) * share))), random_state=seed)
        for _, group in frame.groupby("label", sort=True)
    ]
    return pd.concat(parts).sort_values(["as_of_date", "user_id"]).reset_index(drop=True)


def data_hash(frame: pd.DataFrame) -> str:
    """A short content hash of the training/evaluation rows (artifact provenance)."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]
