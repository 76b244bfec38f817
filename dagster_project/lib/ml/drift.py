"""Feature drift: population stability index (PSI) between training and scoring rows.

`feature_psi` bins in the warehouse and reads back only the bin counts (one pass over each side):
Python receives a few numbers per feature whatever the number of users.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import numpy as np

WARN_PSI = 0.2  # the usual rule of thumb: > 0.2 is a significant shift
BINS = 10
_FLOOR = 1e-4  # an empty bin's share: keeps log(a / e) finite


def bin_edges(quantiles: Sequence[float] | np.ndarray) -> np.ndarray | None:
    """The expected sample's quantiles as bin edges (ties merged, outer edges open); None when
    fewer than two distinct values (a constant feature has no bins)."""
    edges = np.unique(np.asarray(quantiles, float))
    if len(edges) < 2:
        return None
    edges[0], edges[-1] = -np.inf, np.inf
    return edges


def psi_from_counts(expected: np.ndarray, actual: np.ndarray) -> float:
    e = np.clip(expected / expected.sum(), _FLOOR, None)
    a = np.clip(actual / actual.sum(), _FLOOR, None)
    return float(np.sum((a - e) * np.log(a / e)))


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def feature_edges(
    con: duckdb.DuckDBPyConnection, sql: str, features: Sequence[str], bins: int = BINS
) -> dict[str, np.ndarray | None]:
    """`bin_edges` of each feature column of a query, from the warehouse's quantiles (linear
    interpolation, as numpy's default: equal up to rounding)."""
    levels = [i / bins for i in range(bins + 1)]
    quantiles = ", ".join(f"quantile_cont({_quoted(f)}, {levels})" for f in features)
    (rows, *per_feature), *_ = con.execute(f"select count(*), {quantiles} from ({sql})").fetchall()
    return {
        f: bin_edges(q) if rows and q else None for f, q in zip(features, per_feature, strict=True)
    }


def bin_counts(
    con: duckdb.DuckDBPyConnection, sql: str, edges: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Rows of a query per bin of each feature (numpy.histogram's rule: the bin of x is the
    number of inner edges <= x), counted in the warehouse in one pass."""
    # Each edge is written as text cast to double: exactly the float (a bare literal is a
    # DECIMAL). A feature with one bin needs no comparison.
    columns = ", ".join(
        "histogram("
        + (" + ".join(f"({_quoted(f)} >= '{float(e)!r}'::double)::int" for e in e_[1:-1]) or "0")
        + ")"
        for f, e_ in edges.items()
    )
    (maps,) = con.execute(f"select {columns} from ({sql})").fetchall()
    return {
        f: np.array([(counts or {}).get(i, 0) for i in range(len(e_) - 1)], float)
        for (f, e_), counts in zip(edges.items(), maps, strict=True)
    }


def feature_psi(
    con: duckdb.DuckDBPyConnection,
    expected_sql: str,
    actual_sql: str,
    features: Sequence[str],
    bins: int = BINS,
) -> dict[str, float]:
    """PSI of each feature column of two queries over the expected side's quantile bins (ties
    merged), computed where the rows are: the expected side's quantiles, then each side's bin
    counts (0 where a side is empty or there is one bin; 0 when the sides are identical)."""
    edges = {
        f: e for f, e in feature_edges(con, expected_sql, features, bins).items() if e is not None
    }
    result = dict.fromkeys(features, 0.0)
    if edges:
        expected, actual = bin_counts(con, expected_sql, edges), bin_counts(con, actual_sql, edges)
        for feature in edges:
            if actual[feature].sum() > 0:
                result[feature] = psi_from_counts(expected[feature], actual[feature])
    return result
