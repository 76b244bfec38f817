"""Count a file's physical lines independently of any CSV reader, so that a reader that skips
or merges lines cannot go unnoticed."""

from __future__ import annotations

import gzip
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

CHUNK = 8 << 20


def count_physical_lines(path: Path) -> int:
    """'\\n'-terminated lines, plus a last line without one (what an editor shows), of the
    file's content (decompressed for .gz). Raises BadFileError-worthy OSError/EOFError on a
    truncated gzip, as the reader would."""
    opener = gzip.open if path.name.endswith(".gz") else open
    lines, last = 0, b"\n"
    with opener(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (0 if last == b"\n" else 1)


def count_in_background(path: Path, count=count_physical_lines) -> Future[int]:
    """Count while DuckDB reads (it releases the GIL): on gzip files the reader decompresses
    on one core, so the count mostly uses the other one."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="count-lines")
    try:
        return pool.submit(count, path)
    finally:
        pool.shutdown(wait=False)


COUNT_ERRORS = (OSError, EOFError, zlib.error)
