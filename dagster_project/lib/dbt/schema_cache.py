"""The JSON schemas dbt validates its settings against, kept on disk between processes.

dbt checks dbt_project.yml, profiles.yml, selectors.yml and each test's result against JSON
schemas that mashumaro builds from dbt's dataclasses, once per class and process: ~0.5 s of the
first dbt call of every `estore run` (issue 9). A schema depends only on the class's code, so
the key is the class's module and name with the versions of Python and of the packages that
define such classes or build their schemas.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import sys
from importlib import metadata
from pathlib import Path

from dbt_common.dataclass_schema import dbtClassMixin

from dagster_project.lib.files import write_atomically

_PACKAGES = ("dbt-core", "dbt-common", "dbt-adapters", "dbt-duckdb", "dbt-bigquery", "mashumaro")

_cache_dir: Path | None = None
_build_schema = None  # dbt's own json_schema, once replaced


@functools.cache
def _versions() -> str:
    found = []
    for package in _PACKAGES:
        try:
            found.append(f"{package}=={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            found.append(f"{package} absent")
    return f"{sys.version}|{'|'.join(found)}"


def _key(cls: type) -> str:
    parts = f"{_versions()}|{cls.__module__}.{cls.__qualname__}"
    return hashlib.sha256(parts.encode()).hexdigest()


def install(cache_dir: Path) -> None:
    """Keep every schema dbt builds in this process under `cache_dir`."""
    global _cache_dir, _build_schema
    if cache_dir != _cache_dir:  # every dbt call asks; the folder is set up once per process
        cache_dir.mkdir(parents=True, exist_ok=True)
        _cache_dir = cache_dir
    current = dbtClassMixin.__dict__["json_schema"].__func__
    if current is not _cached_schema:  # installed once per process
        _build_schema = current
        dbtClassMixin.json_schema = classmethod(_cached_schema)  # type: ignore[method-assign]


@functools.cache  # per process, as dbt's own: the same dict for every call
def _cached_schema(cls: type) -> dict:
    if _cache_dir is None:
        return _build_schema(cls)
    path = _cache_dir / f"{_key(cls)}.json"
    with contextlib.suppress(OSError, ValueError):
        schema = json.loads(path.read_bytes())
        if isinstance(schema, dict):
            return schema
    schema = _build_schema(cls)
    with contextlib.suppress(OSError, TypeError, ValueError):  # unstorable: built next time
        write_atomically(path, json.dumps(schema).encode())
    return schema
