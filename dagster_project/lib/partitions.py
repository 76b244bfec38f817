"""The day partitions every day-grained asset shares (raw events, dbt facts)."""

from __future__ import annotations

from datetime import date

import dagster as dg

from dagster_project.lib.settings import Settings

# Days before the start have no partition (see README: rows of such days are reported).
# end_offset=1: today is a partition too (files can hold today's events).
daily_partitions = dg.DailyPartitionsDefinition(
    start_date=Settings.from_env().partitions_start, timezone="UTC", end_offset=1
)


def day_partition_keys(days: list[date]) -> tuple[list[str], list[str]]:
    """Split days into (partition keys that exist, days outside the partition range)."""
    valid = set(daily_partitions.get_partition_keys())
    keys = [d.isoformat() for d in days]
    return [k for k in keys if k in valid], [k for k in keys if k not in valid]
