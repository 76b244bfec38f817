"""The day partitions every day-grained asset shares (raw events, dbt facts).

They follow the data: a partition exists for each day some load has touched (the ingest op adds
it before reporting the day), so the UI's "missing" means "loaded but not built", never "a day
with no data". Dynamic partition keys are ordered by insertion, not by date: a late file's day
comes after later days. Every consumer of a key range therefore reads its days as a set (the
daily build takes min..max of the range's dates; `estore run` splits ranges on both orders).
"""

from __future__ import annotations

from datetime import date

import dagster as dg

from dagster_project.lib.ingest.parse import DayRange
from dagster_project.lib.settings import Settings

EVENT_DAYS = "event_days"

daily_partitions = dg.DynamicPartitionsDefinition(name=EVENT_DAYS)


def day_partition_keys(
    days: list[date], day_range: DayRange | None = None
) -> tuple[list[str], list[str]]:
    """Split days into (partition keys, days outside the plausible range). The range is the
    loader's rule (ESTORE_PARTITIONS_START to today, UTC): rows outside it were rejected, so
    only a day that a change of the setting dropped can show up here."""
    day_range = day_range or DayRange.from_settings(Settings.from_env().partitions_start)
    inside = [d for d in sorted(set(days)) if day_range.first <= d <= day_range.last]
    outside = [d for d in sorted(set(days)) if not day_range.first <= d <= day_range.last]
    return [d.isoformat() for d in inside], [d.isoformat() for d in outside]


def ensure_day_partitions(instance: dg.DagsterInstance, keys: list[str]) -> list[str]:
    """Add the days' partitions that do not exist yet (in date order); returns the new ones."""
    existing = set(instance.get_dynamic_partitions(EVENT_DAYS))
    new = sorted(k for k in set(keys) if k not in existing)
    if new:
        instance.add_dynamic_partitions(EVENT_DAYS, new)
    return new


def window_of(partition_keys: list[str]) -> tuple[date, date]:
    """[first day, last day] of a range of day keys, whatever their partition order."""
    days = [date.fromisoformat(k) for k in partition_keys]
    if not days:
        raise ValueError("an empty range of day partitions has no window")
    return min(days), max(days)
