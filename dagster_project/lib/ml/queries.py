"""The SQL that reads the feature and label tables: `data` reads it into pandas, the drift check
bins it in the warehouse (without importing pandas: ~0.5 s of a pass that scores nothing)."""

from __future__ import annotations

from datetime import date

from .config import FEATURES, FEATURES_TABLE, LABELS_TABLE, SCORE_FEATURES_TABLE, Task

# Value used for "never happened" day counts (e.g. days since last order for a non-buyer), so
# linear models see "long ago"; tree models would cope with NaN, linear ones do not.
NEVER_DAYS = 365.0
NEVER_HAPPENED = ("days_since_last_order", "days_since_first_order", "days_between_orders")


def training_rows_sql(
    task: Task, dates: list[date], with_labels: bool = True, features=None
) -> str:
    """The query of `data.load_rows`; `features`: select expressions for the features instead of
    the plain columns (e.g. `model_input_sql`)."""
    literal = ", ".join(f"date '{d.isoformat()}'" for d in dates)
    return _rows_sql(task, FEATURES_TABLE, f"f.as_of_date in ({literal})", with_labels, features)


def score_rows_sql(task: Task, features=None) -> str:
    """The query of `data.score_rows` (`features` as in `training_rows_sql`)."""
    return _rows_sql(task, SCORE_FEATURES_TABLE, "true", False, features)


def model_input_sql(column: str) -> str:
    """A feature as `data.matrix` hands it to the model, in SQL: drift is binned in the
    warehouse."""
    fill = NEVER_DAYS if column in NEVER_HAPPENED else 0.0
    return f"coalesce(cast(f.{column} as double), {fill}) as {column}"


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
    """
