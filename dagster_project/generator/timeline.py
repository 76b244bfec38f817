"""Calendar intensity: when sessions happen (hour of day, weekday, the spike day).

Session times are drawn by "time warping": a homogeneous draw on the cumulative intensity axis,
mapped back through its inverse, gives times that follow the daily/weekly rhythm exactly, with
one `np.interp` per batch instead of thinning loops.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from .params import ModelParams

DAY = 86_400
HOUR = 3_600


def epoch_seconds(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def pick_spike_day(start_date: date, days: int) -> date:
    """17 November if the window holds one (the real 2019 peak), else a day ~2/3 into the window."""
    end = start_date + timedelta(days=days)
    for year in range(start_date.year, end.year + 1):
        candidate = date(year, 11, 17)
        if start_date <= candidate < end:
            return candidate
    return start_date + timedelta(days=min(days - 1, (2 * days) // 3))


@dataclass(frozen=True)
class Timeline:
    start_date: date
    days: int
    start: int  # epoch seconds of the window start (midnight UTC)
    end: int  # exclusive
    origin: int  # start of the burn-in period
    edges: np.ndarray  # int64 hour boundaries from origin to end
    cum: np.ndarray  # float64 cumulative intensity at the edges, in "average days"
    spike_day: date
    purchase_boost: np.ndarray  # float64 per window day

    def warp(self, t: np.ndarray | int) -> np.ndarray:
        """Cumulative intensity at times t (piecewise linear per hour; O(1) per element)."""
        t = np.clip(np.asarray(t, dtype=np.int64), self.origin, self.end)
        hour = np.minimum((t - self.origin) // HOUR, len(self.edges) - 2)
        rate = self.cum[hour + 1] - self.cum[hour]
        return self.cum[hour] + rate * ((t - self.edges[hour]) / HOUR)

    def unwarp(self, v: np.ndarray) -> np.ndarray:
        """Inverse of `warp`, floored to whole seconds and kept inside [origin, end)."""
        t = np.floor(np.interp(v, self.cum, self.edges)).astype(np.int64)
        return np.clip(t, self.origin, self.end - 1)

    def day_start(self, day_index: int) -> int:
        return self.start + day_index * DAY

    def date_of(self, day_index: int) -> date:
        return self.start_date + timedelta(days=day_index)


def build_timeline(start_date: date, days: int, params: ModelParams) -> Timeline:
    start = epoch_seconds(start_date)
    end = start + days * DAY
    origin = start - params.burn_in_days * DAY
    edges = np.arange(origin, end + 1, HOUR, dtype=np.int64)
    hour_start = edges[:-1]
    hour = (hour_start // HOUR) % 24
    weekday = (hour_start // DAY + 3) % 7  # 1970-01-01 was a Thursday (weekday 3)
    hours = np.asarray(params.hour_profile) / np.mean(params.hour_profile)
    week = np.asarray(params.weekday_profile) / np.mean(params.weekday_profile)
    rate = hours[hour] * week[weekday] / 24.0  # an average day integrates to 1
    spike = pick_spike_day(start_date, days)
    spike_start = epoch_seconds(spike)
    rate[(hour_start >= spike_start) & (hour_start < spike_start + DAY)] *= params.spike_traffic
    cum = np.r_[0.0, np.cumsum(rate)]
    boost = np.ones(days)
    boost[(spike - start_date).days] = params.spike_purchase
    return Timeline(
        start_date=start_date,
        days=days,
        start=start,
        end=end,
        origin=origin,
        edges=edges,
        cum=cum,
        spike_day=spike,
        purchase_boost=boost,
    )
