"""The Python code Jinja generates for dbt's templates, kept on disk between processes.

Every `estore run` is a new process, and dbt compiles each macro and model it renders from its
source the first time it renders it: Jinja parses the template and generates and compiles
Python code, ~2.8 CPU-s of a new day's pass (py-spy). That code depends only on the template's
source and name, the environment's class, extensions and syntax options, and the Jinja and
Python versions: all of them are in the cache key. Jinja's own bytecode cache does the same,
but only for templates read through a loader; dbt renders strings (`from_string`).
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import sys
from pathlib import Path
from types import CodeType

import jinja2
from dbt_common.clients.jinja import MacroFuzzEnvironment

from dagster_project.lib.files import keep_newest, write_atomically

# Environment options that change the generated code (jinja2.Environment.__init__'s syntax and
# code-generation options).
_OPTIONS = (
    "block_start_string",
    "block_end_string",
    "variable_start_string",
    "variable_end_string",
    "comment_start_string",
    "comment_end_string",
    "line_statement_prefix",
    "line_comment_prefix",
    "trim_blocks",
    "lstrip_blocks",
    "newline_sequence",
    "keep_trailing_newline",
    "optimized",
    "is_async",
)

# Each new version of a template adds an entry (~5 KB): past this many, the oldest half goes
# (a removed entry that is still in use only costs its next process one compile).
MAX_ENTRIES = 4_000

_cache_dir: Path | None = None
_compile_template = None  # Jinja's own compile, once replaced


def _key(env: jinja2.Environment, source: str, name, filename, defer_init: bool) -> str:
    extensions = sorted(
        f"{type(e).__module__}.{type(e).__qualname__}" for e in env.extensions.values()
    )
    parts = (
        sys.version,
        jinja2.__version__,
        f"{type(env).__module__}.{type(env).__qualname__}",
        extensions,
        [getattr(env, option, None) for option in _OPTIONS],
        callable(env.finalize),
        "callable" if callable(env.autoescape) else repr(env.autoescape),
        name,
        filename,
        defer_init,
        source,
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def install(cache_dir: Path) -> None:
    """Cache the code of every template dbt compiles in this process under `cache_dir`."""
    global _cache_dir, _compile_template
    if cache_dir != _cache_dir:  # every dbt call asks; the folder is set up once per process
        cache_dir.mkdir(parents=True, exist_ok=True)
        _prune(cache_dir)
        _cache_dir = cache_dir
    if _compile_template is None:
        _compile_template = MacroFuzzEnvironment.compile
        MacroFuzzEnvironment.compile = _cached_compile  # type: ignore[method-assign]


def _cached_compile(self, source, name=None, filename=None, raw=False, defer_init=False):
    if raw or not isinstance(source, str) or _cache_dir is None:
        return _compile_template(self, source, name, filename, raw, defer_init)
    path = _cache_dir / f"{_key(self, source, name, filename, defer_init)}.code"
    with contextlib.suppress(OSError, ValueError, EOFError, TypeError):
        code = marshal.loads(path.read_bytes())
        if isinstance(code, CodeType):
            return code
    code = _compile_template(self, source, name, filename, raw, defer_init)
    with contextlib.suppress(OSError):  # a full disk only costs the next process a compile
        write_atomically(path, marshal.dumps(code))
    return code


def _prune(cache_dir: Path) -> None:
    entries = list(cache_dir.glob("*.code"))
    if len(entries) > MAX_ENTRIES:
        keep_newest(entries, len(entries) - len(entries) // 2)
