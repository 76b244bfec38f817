"""dbt in this very process (dbtRunner), the parsed project kept between calls.

A dbt CLI process costs ~4 s before its first statement on this machine: Python imports, the
adapter, reading the partial-parse state. A new day makes three dbt calls, so that was a third
of the pass (issue 9). Here the project is parsed once per process and every call reuses it.

dagster-dbt still builds the command (the run's selection, target path, indirect selection)
and turns dbt's events into Dagster's: `InProcessDbtCliInvocation` only replaces its
`subprocess.Popen` with `FinishedDbt`, which hands over what dbt said as the JSON lines the CLI
would have printed, and its success as an exit status.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import orjson
from dagster import get_dagster_logger
from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation

from dagster_project.lib.heap import long_lived
from dagster_project.lib.settings import environment

# Keys of the CLI's environment that do not apply in-process.
_CLI_ONLY_ENV = {"DBT_LOG_FORMAT", "PYTHONUNBUFFERED", "PYTHONLEGACYWINDOWSSTDIO"}
# dbt's events reach Dagster through a callback, and dagster-dbt prints them (as it prints the
# CLI's): dbt's own stdout would print each line twice. Its log file (dbt.log) stays.
# No JSON artifacts from dbt: its manifest.json is the parse every call reuses, yet serializing
# it took ~0.3 s per call (~1 s for a process's first); run_results.json is written here.
_IN_PROCESS_ENV = {"DBT_LOG_LEVEL": "none", "DBT_USE_COLORS": "false", "DBT_WRITE_JSON": "false"}
RUN_RESULTS = "run_results.json"

_manifests: dict[str, object] = {}
JINJA_CACHE_DIR = "jinja-cache"  # under dbt-project/target
SCHEMA_CACHE_DIR = "schema-cache"  # under dbt-project/target


class FinishedDbt:
    """The part of `subprocess.Popen` that DbtCliInvocation reads, for a dbt call that has run
    in this process: its events as JSON lines on `stdout`, its exit status."""

    def __init__(self, args: Sequence[str], lines: list[bytes], returncode: int, results=None):
        self.args = list(args)
        self.stdout = io.BytesIO(b"\n".join(lines))
        self.returncode = returncode
        self.results = results  # dbt's result object (RunExecutionResult, ...), if any

    def wait(self, timeout: float | None = None) -> int:
        return self.returncode

    def send_signal(self, signum: int) -> None:
        """Nothing to signal: the call is over before its events are read."""


def _environ(env: Mapping[str, str]):
    """The CLI's environment (target path, profiles dir, ...) for the duration of the call."""
    wanted = {k: v for k, v in env.items() if k not in _CLI_ONLY_ENV}
    return environment(**{**wanted, **_IN_PROCESS_ENV})


def _profile_args(args: Sequence[str]) -> list[str]:
    """`--target X` / `--profile X` of a command: they are part of what was parsed."""
    kept = []
    for i, arg in enumerate(args[:-1]):
        if arg in ("--target", "--profile"):
            kept += [arg, args[i + 1]]
    return kept


def parsed_manifest(profile_args: list[str]):
    """The project parsed once per process and connection settings, then kept: read back from
    the last process's parse when nothing it depends on changed (`manifest_cache`), else parsed
    (dbt reuses the partial-parse state `ensure_manifest` left on disk: ~3 s)."""
    from dagster_project.lib.dbt import manifest_cache
    from dagster_project.lib.dbt.project import dbt_project, parse_key, parse_project

    keep_between_processes()
    key = f"{profile_args}|{parse_key()}"
    if key not in _manifests:
        # Taken before the parse: a file changed meanwhile makes the next process parse again.
        stored_key = manifest_cache.fingerprint(dbt_project.project_dir, key)
        target = dbt_project.manifest_path.parent
        with long_lived():  # the parsed project: kept for every later call
            manifest = manifest_cache.load(target, stored_key)
        if manifest is None:
            manifest = parse_project(profile_args)
            manifest_cache.save(target, stored_key, manifest)
        _manifests.clear()  # one project state at a time
        _manifests[key] = manifest
    return _manifests[key]


def prepare() -> None:
    """Parse the project for the current settings unless that is done already: the manifest
    the assets are defined from, and the parsed project every dbt call reuses. What the first
    pass after a change of the project pays (`estore bench` measures it apart)."""
    from dagster_project.lib.dbt.project import ensure_manifest
    from dagster_project.lib.settings import Settings

    settings = Settings.from_env()
    ensure_manifest(settings)
    settings.export_dbt_env()
    parsed_manifest(["--target", settings.dbt_target])


def keep_between_processes() -> None:
    """Keep what dbt rebuilds in every new process on disk under dbt-project/target: the code
    Jinja generates for dbt's templates (`jinja_cache`) and the JSON schemas dbt validates its
    settings against (`schema_cache`)."""
    from dagster_project.lib.dbt import jinja_cache, schema_cache
    from dagster_project.lib.dbt.project import dbt_project

    target = dbt_project.manifest_path.parent
    jinja_cache.install(target / JINJA_CACHE_DIR)
    schema_cache.install(target / SCHEMA_CACHE_DIR)


def release_duckdb() -> None:
    """dbt-duckdb keeps its database open for the next call in this process; DuckDB then
    refuses the loader's own connection ("different configuration"). Close it."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # BigQuery only: nothing held
        return
    with DuckDBConnectionManager._LOCK:
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
            DuckDBConnectionManager._ENV = None


def invoke(args: Sequence[str], env: Mapping[str, str]) -> FinishedDbt:
    """Run a dbt command line (`args[0]` is the executable) here; interrupts (Ctrl-C, Dagster
    terminating the run) propagate instead of becoming a failed result."""
    from dbt.cli.main import dbtRunner
    from dbt_common.events.functions import msg_to_dict

    lines: list[bytes] = []

    def keep(event) -> None:
        # What the CLI prints at its default log level: dagster-dbt reads the result events.
        if event.info.level != "debug":
            lines.append(orjson.dumps(msg_to_dict(event), default=str))

    with _environ(env):
        try:
            manifest = parsed_manifest(_profile_args(args))
            result = dbtRunner(manifest=manifest, callbacks=[keep]).invoke(list(args[1:]))
        finally:
            release_duckdb()
    if result.exception is not None and not isinstance(result.exception, Exception):
        raise result.exception  # KeyboardInterrupt, DagsterExecutionInterruptedError, ...
    returncode = 0 if result.success else (2 if result.exception is not None else 1)
    if result.exception is not None:
        error = {"info": {"level": "error", "name": "InProcessError", "msg": str(result.exception)}}
        lines.append(orjson.dumps({**error, "data": {}}))
    return FinishedDbt(args, lines, returncode, result.result)


def write_run_results(finished: FinishedDbt, target_path: Path) -> None:
    """The call's run_results.json, as the CLI leaves it in its target folder (dbt's own writer
    is off, see `_IN_PROCESS_ENV`): for whoever debugs a build, and its presence says the call
    completed. Commands without run results (`parse`, `ls`) write none."""
    if hasattr(finished.results, "write"):
        target_path.mkdir(parents=True, exist_ok=True)
        finished.results.write(str(target_path / RUN_RESULTS))


class InProcessDbtCliInvocation(DbtCliInvocation):
    """DbtCliInvocation whose dbt ran in this process (see `invoke`)."""

    @classmethod
    def run(cls, args, env, manifest, dagster_dbt_translator, project_dir, target_path,
            raise_on_error, context, adapter, cli_version, dbt_project=None):  # fmt: skip
        # The line dagster-dbt logs for the CLI (`estore bench` reads its calls from it).
        get_dagster_logger().info(f"Running dbt command: `{' '.join(args)}` in this process.")
        finished = invoke(args, env)
        write_run_results(finished, Path(target_path))  # absolute: dagster-dbt resolved it
        return cls(
            process=finished,  # type: ignore[arg-type]
            manifest=manifest,
            project=dbt_project,
            dagster_dbt_translator=dagster_dbt_translator,
            project_dir=project_dir,
            target_path=target_path,
            raise_on_error=raise_on_error,
            context=context,
            adapter=adapter,
            cli_version=cli_version,
        )


@contextmanager
def dbt_in_process() -> Iterator[None]:
    """dagster-dbt's `DbtCliResource.cli` builds its invocation through this module global."""
    import dagster_dbt.core.resource as resource_module

    resource_module.DbtCliInvocation = InProcessDbtCliInvocation  # type: ignore[misc]
    try:
        yield
    finally:
        resource_module.DbtCliInvocation = DbtCliInvocation  # type: ignore[misc]
