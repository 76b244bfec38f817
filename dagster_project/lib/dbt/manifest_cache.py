"""The parsed dbt project (dbt's Manifest), kept on disk between processes.

Every `estore run` is a new process, and parsing the project, even from dbt's partial-parse
state, took ~3 s of each pass (dbt reads and converts that state and checks every file). The
Manifest pickles to ~1.3 MB and loads in ~0.03 s. It is stored with the key of everything a parse
reads: every project file (path, size, modification time), the target and the profile's
variables (`project.parse_key`), the call's profile arguments, and the dbt and Python versions.
Anything else means a real parse, as before.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import pickle
import sys
from pathlib import Path

from dbt.contracts.graph.manifest import Manifest
from dbt.version import __version__ as dbt_version

from dagster_project.lib.dbt.project import project_files
from dagster_project.lib.files import keep_newest, write_atomically

# One file per key, the newest KEEP kept: tests, `make demo` and `make bench` each parse for
# their own warehouse, and one file would make them take turns re-parsing.
CACHE_GLOB = "estore_manifest-*.pickle"
KEEP = 8


def fingerprint(project_dir: Path, parse_key: str) -> str:
    """What a parse of `project_dir` depends on, as one hash."""
    stats = []
    for path in project_files(project_dir):
        with contextlib.suppress(FileNotFoundError):
            stat = path.stat()
            stats.append((str(path.relative_to(project_dir)), stat.st_size, stat.st_mtime_ns))
    parts = (sys.version, dbt_version, parse_key, stats)
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _path(cache_dir: Path, key: str) -> Path:
    return cache_dir / CACHE_GLOB.replace("*", hashlib.sha256(key.encode()).hexdigest()[:24])


def load(cache_dir: Path, key: str):
    """The Manifest stored under `key`, or None (none stored, another key, unreadable)."""
    unreadable = (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError,
                  IndexError, TypeError, ValueError)  # fmt: skip
    with contextlib.suppress(*unreadable), _path(cache_dir, key).open("rb") as handle:
        if pickle.load(handle) == key:
            return Manifest(**pickle.load(handle))
    return None


def _contents(manifest: Manifest) -> dict:
    """The Manifest's public fields. Not the Manifest itself: its `__reduce_ex__` passes its
    fields by position and misses two (dbt-core 1.11), so an unpickled one has each lookup in
    the next field ("RefableLookup.find() missing 1 required positional argument"). The lookups
    and caches (the private fields) are rebuilt on first use."""
    return {
        field.name: getattr(manifest, field.name)
        for field in dataclasses.fields(manifest)
        if not field.name.startswith("_")
    }


def save(cache_dir: Path, key: str, manifest: Manifest) -> None:
    """Store `manifest` under `key` (atomically: readers see the old file or the new one)."""
    with contextlib.suppress(OSError, pickle.PicklingError):  # next process parses instead
        data = pickle.dumps(key, protocol=pickle.HIGHEST_PROTOCOL) + pickle.dumps(
            _contents(manifest), protocol=pickle.HIGHEST_PROTOCOL
        )
        write_atomically(_path(cache_dir, key), data)
        keep_newest(list(cache_dir.glob(CACHE_GLOB)), KEEP)
