"""Reading the point-in-time feature and label tables (training reads only these)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from .config import AS_OF_TABLE, FEATURES, FEATURES_TABLE, LABELS_TABLE, SCORE_FEATURES_TABLE, Task

# Value used for "never happened" day counts (e.g. days since last order for a non-buyer), so
# linear models see "long ago"; tree models would cope with NaN, linear ones do not.
NEVER_DAYS = 365.0
NEVER_HAPPENED = ("days_since_last_order", "days_since_first_order", "days_between_orders")


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


def training_rows_sql(
    task: Task, dates: list[date], with_labels: bool = True, features=None
) -> str:
    """The query of `load_rows`; `features`: select expressions for the features instead of
    the plain columns (e.g. `model_input_sql`)."""
    literal = ", ".join(f"date '{d.isoformat()}'" for d in dates)
    return _rows_sql(task, FEATURES_TABLE, f"f.as_of_date in ({literal})", with_labels, features)


def score_rows_sql(task: Task, features=None) -> str:
    """The query of `score_rows` (`features` as in `training_rows_sql`)."""
    return _rows_sql(task, SCORE_FEATURES_TABLE, "true", False, features)


def model_input_sql(column: str) -> str:
    """A feature as `matrix` hands it to the model, in SQL: drift is binned in the warehouse."""
    fill = NEVER_DAYS if column in NEVER_HAPPENED else 0.0
    return f"coalesce(cast(f.{column} as double), {fill}) as {column}"


def _frame(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    frame = con.sql(sql).df()
    frame["as_of_date"] = pd.to_datetime(frame["as_of_date"]).dt.date
    return frame


def _rows_sql(task: Task, table: str, condition: str, with_labels: bool, features=None) -> str:
    label = f", l.{task.label} as label" if with_labels else ""
    join = f"inner join {LABELS_TABLE} l using (as_of_date, user_id)" if with_labels else ""
    where = [condition]
    if task.buyers_only:
        where.append("f.is_buyer")
    if with_labels:
        where.append(f"l.{task.label} is not null")
    columns = ", ".join(features(c) if features else f"f.{c}" for c in FEATURES)
    return f"""
        select f.as_of_date, f.user_id, {columns} {label}
        from {table} f {join}
        where {" and ".join(where)}
        order by f.as_of_date, f.user_id
    """


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
