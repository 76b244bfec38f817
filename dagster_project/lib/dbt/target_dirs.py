"""dagster-dbt gives every dbt call its own folder under dbt-project/target/ (`<op>-<run id>-<id>`:
manifest, run results, compiled SQL, ~2-3 MB) and never removes it: three folders per new day,
for as long as the pipeline runs. The newest ones are kept for debugging, the rest removed."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

KEEP = 30
# Older than this only: a folder that another dbt call may still be writing is never removed.
MIN_AGE_SECONDS = 3600
INVOCATION_DIR = re.compile(r"^\w+-[0-9a-f]{7}-[0-9a-f]{7}$")


def prune_invocation_dirs(
    target: Path, keep: int = KEEP, min_age_seconds: float = MIN_AGE_SECONDS
) -> list[Path]:
    """Remove the dbt calls' folders in `target` but the newest `keep` ones; return them."""
    folders = [p for p in target.iterdir() if p.is_dir() and INVOCATION_DIR.match(p.name)]
    folders.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    cutoff = time.time() - min_age_seconds
    removed = [p for p in folders[keep:] if p.stat().st_mtime < cutoff]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed
