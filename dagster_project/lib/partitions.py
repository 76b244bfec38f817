"""The day partitions every day-grained asset shares (raw events, dbt facts)."""

from __future__ import annotations

import os
from datetime import date

import dagster as dg

# Days before this have no partition (data from before it is loaded but not built downstream).
PARTITIONS_START = os.environ.get("ESTORE_PARTITIONS_START", "2019-09-01")

# end_offset=1: today is a partition too (files can hold today's events).
daily_partitions = dg.DailyPartitionsDefinition(
    start_date=PARTITIONS_START, timezone="UTC", end_offset=1
)


def day_partition_keys(days: list[date]) -> tuple[list[str], list[str]]:
    """Split days into (partition keys that exist, days outside the partition range)."""
    valid = set(daily_partitions.get_partition_keys())
    keys = [d.isoformat() for d in days]
    return [k for k in keys if k in valid], [k for k in keys if k not in valid]
