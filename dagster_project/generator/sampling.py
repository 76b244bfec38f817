"""Weighted sampling by a single table lookup ("urn" of slots).

Each item gets a number of slots proportional to its weight (at least one) inside its segment's
contiguous run of the table; a draw is `slots[start + floor(u * size)]`. One gather per event is
several times faster than a binary search over cumulative weights on 250k products.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Urn:
    slots: np.ndarray  # int32 item index per slot; each segment's slots are contiguous
    offset: np.ndarray  # int64 [segments + 1]: first slot of each segment

    def sample(self, segment: np.ndarray | int, u32: np.ndarray) -> np.ndarray:
        """One item per uniform 32-bit draw, from the given segment(s)."""
        start = self.offset[segment]
        size = (self.offset[np.asarray(segment) + 1] - start).astype(np.uint64)
        pick = (u32.astype(np.uint64) * size) >> np.uint64(32)
        return self.slots[start + pick.astype(np.int64)]


def build_urn(
    segment: np.ndarray,
    weight: np.ndarray,
    slots_per_item: int = 24,
    items: np.ndarray | None = None,
) -> Urn:
    """Entries sorted by segment (segments numbered 0..S-1, every segment non-empty); entry k
    stands for item items[k] (default k), so one item may appear in several segments."""
    segment = np.asarray(segment, dtype=np.int64)
    items = np.arange(len(segment), dtype=np.int32) if items is None else items
    n_segments = int(segment.max()) + 1 if len(segment) else 0
    seg_total = np.bincount(segment, weights=weight, minlength=n_segments)
    seg_items = np.bincount(segment, minlength=n_segments)
    share = weight / seg_total[segment]
    spare = (slots_per_item - 1) * seg_items[segment]
    count = 1 + np.floor(share * spare).astype(np.int64)
    seg_slots = np.bincount(segment, weights=count, minlength=n_segments).astype(np.int64)
    offset = np.r_[0, np.cumsum(seg_slots)].astype(np.int64)
    slots = np.repeat(items.astype(np.int32), count)
    return Urn(slots=slots, offset=offset)
