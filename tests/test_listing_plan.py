"""plan_tick, the sensor's decision, on its own: a bucket of mostly loaded files is paged through
in bounded ticks, and a file dropped late behind the cursor (an old key, an old mtime) is still
requested exactly once."""

from __future__ import annotations

from dagster_project.lib.ingest.bucket import ObjectInfo
from dagster_project.lib.ingest.plan import ListingCursor, TickPlan, plan_tick

YEAR_AGO = 1_700_000_000.0


def obj(key: str, updated: float = YEAR_AGO + 3e7) -> ObjectInfo:
    return ObjectInfo(key=f"landing/events/{key}", version="v1", size=10, updated=updated)


class Bucket:
    """A key-ordered listing that resumes after the cursor, as LocalBucket and GCS list."""

    def __init__(self, objects: list[ObjectInfo]) -> None:
        self.objects = objects
        self.handled: set[str] = set()

    def tick(self, cursor: ListingCursor, **limits: int) -> TickPlan:
        listing = sorted((o for o in self.objects if o.key > cursor.after), key=lambda o: o.key)
        plan = plan_tick(listing, cursor, lambda keys: self.handled & set(keys), **limits)
        self.handled |= {o.run_key for o in plan.requests}  # the requested runs get their keys
        return plan


def test_a_bucket_of_loaded_files_is_paged_through_in_capped_ticks():
    bucket = Bucket([obj(f"{n:05d}.csv") for n in range(12_000)])
    bucket.handled = {o.run_key for o in bucket.objects}
    bucket.objects.append(obj("99999.csv"))  # the one new file, at the end of the listing

    first = bucket.tick(ListingCursor())
    assert (first.scanned, first.requests, first.already_handled) == (5_000, [], 5_000)
    assert first.cursor.after == "landing/events/04999.csv"

    second = bucket.tick(first.cursor)
    assert (second.scanned, second.requests) == (5_000, [])
    assert second.cursor.after == "landing/events/09999.csv"

    third = bucket.tick(second.cursor)  # 2,000 loaded files and the new one, then the end
    assert third.scanned == 2_001
    assert [o.key for o in third.requests] == ["landing/events/99999.csv"]
    assert third.cursor == ListingCursor()  # wrapped: the next pass starts over

    fourth = bucket.tick(third.cursor)
    assert fourth.requests == [] and fourth.scanned == 5_000


def test_a_late_file_behind_the_cursor_with_an_old_mtime_is_requested_exactly_once():
    bucket = Bucket([obj(key) for key in ("a.csv", "b.csv", "c.csv", "d.csv")])
    requested: list[str] = []

    plan = bucket.tick(ListingCursor(), max_scanned=2)
    requested += [o.key for o in plan.requests]
    assert plan.cursor.after == "landing/events/b.csv"

    # dropped mid-pass, with a key before the cursor and a modification time a year old
    bucket.objects.append(obj("0-old.csv", updated=YEAR_AGO))
    for _ in range(6):  # enough ticks to finish this pass and go round once more
        plan = bucket.tick(plan.cursor, max_scanned=2)
        requested += [o.key for o in plan.requests]

    assert sorted(requested) == [
        f"landing/events/{key}" for key in ("0-old.csv", "a.csv", "b.csv", "c.csv", "d.csv")
    ]
