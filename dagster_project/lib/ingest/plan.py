"""What one sensor tick should request: a pure function of the listing, the cursor and what
has already been handled, so it can be tested without a sensor.

The cursor is only a position in the key-ordered listing ("resume after this key"), which lets a
tick page through a huge bucket in bounded time. It is never the source of truth: whether an
object version was handled is decided by its run key (`key@version`), so a lost or stale cursor,
a deleted object or an overwrite can neither skip a file nor load one twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from dagster_project.lib.ingest.bucket import ObjectInfo, is_data_object


@dataclass(frozen=True)
class ListingCursor:
    after: str = ""  # resume the listing after this key; "" = from the start

    def serialize(self) -> str:
        return json.dumps({"after": self.after})

    @classmethod
    def parse(cls, raw: str | None) -> ListingCursor:
        if not raw:
            return cls()
        try:
            return cls(after=str(json.loads(raw).get("after", "")))
        except (ValueError, AttributeError):
            return cls()  # unreadable cursor: rescan; run keys prevent double loads


@dataclass
class TickPlan:
    requests: list[ObjectInfo] = field(default_factory=list)
    cursor: ListingCursor = field(default_factory=ListingCursor)
    scanned: int = 0
    already_handled: int = 0


def plan_tick(
    listing: Iterable[ObjectInfo],
    cursor: ListingCursor,
    handled: Callable[[list[str]], set[str]],
    *,
    max_requests: int = 50,
    max_scanned: int = 5_000,
    batch_size: int = 500,
) -> TickPlan:
    """Walk the listing from the cursor; request unhandled data objects, at most
    `max_requests`, scanning at most `max_scanned` objects. The new cursor stops right after the
    last object this tick decided about, and wraps to the start once the listing is exhausted
    (so overwritten objects are found on the next pass)."""
    plan = TickPlan(cursor=cursor)
    objects: Iterator[ObjectInfo] = iter(listing)
    while plan.scanned < max_scanned:
        batch = list(islice(objects, min(batch_size, max_scanned - plan.scanned)))
        if not batch:
            plan.cursor = ListingCursor()
            return plan
        data = [obj for obj in batch if is_data_object(obj.key)]
        done = handled([obj.run_key for obj in data]) if data else set()
        for obj in batch:
            plan.scanned += 1
            plan.cursor = ListingCursor(after=obj.key)
            if not is_data_object(obj.key):
                continue
            if obj.run_key in done:
                plan.already_handled += 1
                continue
            plan.requests.append(obj)
            if len(plan.requests) >= max_requests:
                return plan
    return plan
