"""End the `estore` process once its command is done, without the interpreter's teardown.

After a pass, dbt, Dagster and their imports hold about half a million Python objects, and
freeing them one by one at exit took ~1.3 s of every `estore run` (24.69 s -> 26.03 s after the
summary was printed; issue 9). Nothing durable waits for that teardown: DuckDB connections,
Dagster's storage and the run log are closed by the command itself. What a normal exit does
before it is kept: other non-daemon threads are waited for, the exit handlers run (logging
flushes its files there), standard output and error are flushed.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading


def exit_code(code: object) -> int:
    """The status `sys.exit(code)` would give: None is 0, an int itself, anything else 1
    (printed to stderr, as Python does)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def finish(code: int) -> None:
    """Exit with `code` now: wait for other threads, run the exit handlers, flush, and skip
    freeing the heap."""
    # Python's own first step of an exit: stop idle thread pools, then join non-daemon threads
    # (joining them directly would wait forever on a pool nobody shut down).
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed, a broken pipe: nothing to add
            stream.flush()
    os._exit(code)
