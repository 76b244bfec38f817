"""Small file helpers shared by the dbt caches."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes) -> None:
    """Readers (other threads, other processes) see the old file or the whole new one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{path.name}-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def keep_newest(paths: list[Path], keep: int) -> None:
    """Remove all but the `keep` most recently modified of `paths` (a cache's pruning)."""
    for old in sorted(paths, key=mtime_or_zero, reverse=True)[keep:]:
        old.unlink(missing_ok=True)


def mtime_or_zero(path: Path) -> float:
    """The modification time, or 0 for a file another process removed meanwhile."""
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
