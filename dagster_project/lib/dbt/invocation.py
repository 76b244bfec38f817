"""The arguments of each dbt call Dagster makes (pure: unit-tested directly)."""

from __future__ import annotations

from datetime import datetime

# dbt unit tests check SQL logic, not data: they run in `make test` and CI, not on every build.
BUILD_FLAGS = ["--exclude-resource-type", "unit_test"]


def window_args(start: datetime, end: datetime) -> list[str]:
    """dbt microbatch window for a partition range; end is exclusive."""
    return [
        "--event-time-start",
        start.strftime("%Y-%m-%d %H:%M:%S"),
        "--event-time-end",
        end.strftime("%Y-%m-%d %H:%M:%S"),
    ]
