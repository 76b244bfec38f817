"""Python's garbage collector, told which objects live as long as the process.

A pass imports Dagster, dbt and their dependencies and loads the parsed dbt project: about half
a million objects that stay until the process ends. Python's collector walked all of them again
in each of its full collections: nine per new day, 1.4 s of a ~20 s pass (measured with
`gc.callbacks`; issue 9). `gc.freeze()` moves them into a permanent generation it skips;
objects made afterwards are collected as before. At exit they are handed back, so that a
normal exit still frees them (nanobind, under DuckDB, reports what was never freed as leaks).
"""

from __future__ import annotations

import atexit
import functools
import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def long_lived() -> Iterator[None]:
    """What is made inside lives as long as the process (imports, a loaded project): no
    collection while it is made (it would find nothing to free), none walks it afterwards."""
    _unfreeze_at_exit()
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


@functools.cache
def _unfreeze_at_exit() -> None:
    atexit.register(gc.unfreeze)
