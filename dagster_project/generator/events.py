"""A block of events as parallel numpy columns (struct of arrays)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

VIEW, CART, PURCHASE = 0, 1, 2
EVENT_TYPES = ("view", "cart", "purchase")


@dataclass(frozen=True)
class Events:
    time: np.ndarray  # int64 epoch seconds
    kind: np.ndarray  # int8: VIEW / CART / PURCHASE
    product: np.ndarray  # int32 catalog product index
    user: np.ndarray  # int32 population user index
    session: np.ndarray  # int64 global session index, -1 = empty user_session
    cents: np.ndarray  # int32 price in cents
    brand: np.ndarray  # int32 brand index, -1 = empty
    code: np.ndarray  # int16 category_code index, -1 = empty

    def __len__(self) -> int:
        return len(self.time)

    def take(self, index: np.ndarray | slice) -> Events:
        if isinstance(index, slice):
            return Events(**{f.name: getattr(self, f.name)[index] for f in fields(self)})
        return Events(**{f.name: np.take(getattr(self, f.name), index) for f in fields(self)})

    @staticmethod
    def concat(parts: list[Events]) -> Events:
        return Events(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Events)}
        )

    @staticmethod
    def empty() -> Events:
        dtypes = (np.int64, np.int8, np.int32, np.int32, np.int64, np.int32, np.int32, np.int16)
        return Events(*(np.empty(0, dtype=d) for d in dtypes))

    def sorted_by_time(self) -> Events:
        """Sorted by time; events of one second keep their build order (view, cart, purchase)."""
        n = len(self.time)
        if n == 0:
            return self
        base = int(self.time.min())
        shift = n.bit_length()
        if (int(self.time.max()) - base).bit_length() + shift > 62:
            return self.take(np.argsort(self.time, kind="stable"))
        # Unique keys (time, row): a plain sort (SIMD-accelerated in numpy 2) is as good as a
        # stable argsort and several times faster.
        key = ((self.time - base) << shift) | np.arange(n, dtype=np.int64)
        key.sort()
        return self.take(key & ((1 << shift) - 1))

    def split_at(self, boundary: int) -> tuple[Events, Events]:
        """(events before boundary, the rest) of a time-sorted block."""
        cut = int(np.searchsorted(self.time, boundary, side="left"))
        return self.take(slice(0, cut)), self.take(slice(cut, None))
