"""Zero-copy numpy -> Arrow constructors.

`pa.array()` imports pandas on first use to check for pandas inputs: over a second per process
when bytecode is not cached (PYTHONDONTWRITEBYTECODE). Building arrays from buffers avoids that
and copies nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

_TYPES = {
    np.dtype(np.int8): pa.int8(),
    np.dtype(np.int16): pa.int16(),
    np.dtype(np.int32): pa.int32(),
    np.dtype(np.int64): pa.int64(),
    np.dtype(np.float32): pa.float32(),
    np.dtype(np.float64): pa.float64(),
}


def _validity(valid: np.ndarray | None) -> pa.Buffer | None:
    if valid is None or valid.all():
        return None
    return pa.py_buffer(np.packbits(valid, bitorder="little"))


def numeric(values: np.ndarray, valid: np.ndarray | None = None, type: pa.DataType | None = None):
    """A numeric numpy array as an Arrow array (optionally with nulls where valid is False)."""
    values = np.ascontiguousarray(values)
    arrow_type = type if type is not None else _TYPES[values.dtype]
    buffers = [_validity(valid), pa.py_buffer(values)]
    return pa.Array.from_buffers(arrow_type, len(values), buffers)


def strings(values: Sequence[str]) -> pa.StringArray:
    encoded = [v.encode() for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    data = pa.py_buffer(b"".join(encoded))
    return pa.StringArray.from_buffers(len(encoded), pa.py_buffer(offsets), data)


def take(dictionary: pa.Array, indices: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """dictionary[indices] as a dense array; null where valid is False."""
    return dictionary.take(numeric(indices, valid))
