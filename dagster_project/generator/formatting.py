"""Events -> CSV bytes in the exact REES46 format, without per-row Python.

Strings are never built per row in Python: timestamps, session UUIDs and the fixed-width ids
(19-digit category_id, 9-digit user_id) are byte matrices built vectorised and gathered per row
with np.take; event types, codes and brands are taken from small dictionaries; pyarrow's C++ CSV
writer (quoting off) renders the rows. Prices are decimal(18,2), so they always print with two
decimals ("33.20").
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from . import arrow
from .catalog import Catalog
from .events import EVENT_TYPES, Events
from .rand import splitmix64

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)
_CSV_OPTIONS = pa_csv.WriteOptions(include_header=False, quoting_style="none", batch_size=1 << 16)


def fixed_width_strings(matrix: np.ndarray, present: np.ndarray | None = None) -> pa.StringArray:
    """Rows of an (n, w) uint8 matrix as a pyarrow string array; rows where `present` is False
    become empty strings."""
    n, width = matrix.shape
    if present is None or present.all():
        offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
        data = np.ascontiguousarray(matrix)
    else:
        offsets = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(present * width, out=offsets[1:])
        data = matrix[present]
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def digit_matrix(values: np.ndarray) -> np.ndarray | None:
    """(n, w) ASCII digits of non-negative integers that all have w digits, else None.

    Rendering ids once here and copying bytes per row is ~4x cheaper for the CSV writer than
    formatting int64 values row by row."""
    if len(values) == 0 or values.min() < 1:
        return None
    width = len(str(int(values.max())))
    if len(str(int(values.min()))) != width:
        return None
    matrix = np.empty((len(values), width), dtype=np.uint8)
    rest = values.astype(np.int64)
    for i in range(width - 1, -1, -1):
        matrix[:, i] = _DIGITS[rest % 10]
        rest //= 10
    return matrix


@functools.cache
def _time_of_day_template() -> np.ndarray:
    """(86400, 23) bytes '????-??-?? HH:MM:SS UTC' for every second of a day; built once."""
    seconds = np.arange(86_400)
    fields = (seconds // 3600, (seconds // 60) % 60, seconds % 60)
    matrix = np.empty((86_400, 23), dtype=np.uint8)
    matrix[:, 10] = ord(" ")
    for i, value in enumerate(fields):
        matrix[:, 11 + 3 * i] = _DIGITS[value // 10]
        matrix[:, 12 + 3 * i] = _DIGITS[value % 10]
    matrix[:, [13, 16]] = ord(":")
    matrix[:, 19:] = np.frombuffer(b" UTC", dtype=np.uint8)
    matrix.flags.writeable = False
    return matrix


def day_timestamps(day_start: int) -> np.ndarray:
    """(86400, 23) bytes: 'YYYY-MM-DD HH:MM:SS UTC' of each second of one day."""
    date_part = np.datetime64(day_start, "s").astype("datetime64[D]").astype(str)
    matrix = _time_of_day_template().copy()
    matrix[:, :10] = np.frombuffer(date_part.encode(), dtype=np.uint8)
    return matrix


def session_uuids(seed: int, first: int, count: int) -> np.ndarray:
    """(count, 36) bytes: version-4-looking UUIDs of sessions first..first+count-1.

    A pure function of (seed, index): a session keeps its id whichever chunk or file its events
    land in."""
    index = np.arange(first, first + count, dtype=np.uint64)
    key = splitmix64(np.array([seed], dtype=np.uint64))[0]
    high = splitmix64(index ^ key)
    low = splitmix64(high ^ np.uint64(0x5DEECE66D))
    raw = np.stack([high, low], axis=1).view(np.uint8).reshape(count, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    hexed = np.empty((count, 32), dtype=np.uint8)
    hexed[:, 0::2] = _HEX[raw >> 4]
    hexed[:, 1::2] = _HEX[raw & 0x0F]
    matrix = np.full((count, 36), ord("-"), dtype=np.uint8)
    for src, dst, length in ((0, 0, 8), (8, 9, 4), (12, 14, 4), (16, 19, 4), (20, 24, 12)):
        matrix[:, dst : dst + length] = hexed[:, src : src + length]
    return matrix


def _take(dictionary: pa.Array, indices: np.ndarray) -> pa.Array:
    # Dense strings: pyarrow's CSV writer is ~10x slower on dictionary-encoded columns.
    return arrow.take(dictionary, indices)


def _decimal_cents(cents: np.ndarray) -> pa.Array:
    """Non-negative integer cents as decimal128(18, 2) without any float formatting."""
    words = np.empty((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = 0
    return pa.Array.from_buffers(pa.decimal128(18, 2), len(cents), [None, pa.py_buffer(words)])


class Formatter:
    """Renders event blocks of one data set; holds the dictionaries shared by all chunks."""

    def __init__(self, seed: int, catalog: Catalog, user_ids: np.ndarray):
        self.seed = seed
        self.catalog = catalog
        self.user_ids = user_ids  # int64 per population user index
        # Empty fields are an extra '' entry at the end of each dictionary (index -1 -> last).
        self._types = arrow.strings(EVENT_TYPES)
        self._codes = arrow.strings([*catalog.codes, ""])
        self._brands = arrow.strings([*catalog.brands, ""])
        self._day_start = -1
        self._day_strings = np.empty((0, 23), dtype=np.uint8)
        # Fixed-width ids (19-digit category ids, 9-digit user ids) pre-rendered as text.
        self._category_digits = digit_matrix(catalog.product_category_id)
        self._user_digits = digit_matrix(user_ids)

    def _ids(self, values: np.ndarray, digits: np.ndarray | None, index: np.ndarray) -> pa.Array:
        if digits is None:
            return arrow.numeric(np.take(values, index))
        return fixed_width_strings(np.take(digits, index, axis=0))

    def _timestamps(self, day_start: int) -> np.ndarray:
        if day_start != self._day_start:  # chunks arrive in day order: cache one day
            self._day_start, self._day_strings = day_start, day_timestamps(day_start)
        return self._day_strings

    def columns(self, events: Events, day_start: int) -> dict[str, Any]:
        """The CSV columns in order, part numpy (small dictionary indices), part Arrow.

        Split from `write_csv` so the caller can run the two halves on different threads.
        """
        cat = self.catalog
        has_session = events.session >= 0
        lo = int(events.session[has_session].min()) if has_session.any() else 0
        hi = int(events.session.max())
        uuids = session_uuids(self.seed, lo, max(0, hi - lo + 1))
        if len(uuids):
            # np.take on axis 0 copies fixed-width rows ~4x faster than fancy indexing.
            rows = np.take(uuids, np.where(has_session, events.session - lo, 0), axis=0)
            session = fixed_width_strings(rows, has_session)
        else:
            session = arrow.take(arrow.strings([""]), np.zeros(len(events), dtype=np.int32))
        return {
            "event_time": fixed_width_strings(
                np.take(self._timestamps(day_start), events.time - day_start, axis=0)
            ),
            "event_type": events.kind,
            "product_id": arrow.numeric(np.take(cat.product_id, events.product)),
            "category_id": self._ids(
                cat.product_category_id, self._category_digits, events.product
            ),
            "category_code": np.where(events.code < 0, len(cat.codes), events.code),
            "brand": np.where(events.brand < 0, len(cat.brands), events.brand),
            "price": _decimal_cents(events.cents),
            "user_id": self._ids(self.user_ids, self._user_digits, events.user),
            "user_session": session,
        }

    def write_csv(self, columns: dict[str, Any], stream: Any) -> None:
        """Append the rows (no header, LF endings) to an open binary stream."""
        dictionaries = {
            "event_type": self._types,
            "category_code": self._codes,
            "brand": self._brands,
        }
        for name, dictionary in dictionaries.items():
            columns[name] = _take(dictionary, columns[name])
        pa_csv.write_csv(pa.table(columns), stream, write_options=_CSV_OPTIONS)
