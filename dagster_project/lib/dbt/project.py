"""The dbt project as Dagster sees it, and keeping its manifest current."""

from __future__ import annotations

import json
from pathlib import Path

from dagster_dbt import DbtProject

from dagster_project.lib.settings import DBT_PROJECT_DIR, Settings

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)

# What a parse reads besides the profile's variables (dbt_project.yml names these folders).
_PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "selectors.yml", "packages.yml")
_SOURCE_DIRS = ("models", "macros", "snapshots", "seeds", "tests", "analyses")
# What the last `dbt parse` was run for (`parse_key`): its manifest.json defines the assets and
# its parsed project is what every dbt call in a process reuses (lib/dbt/in_process.py).
_PARSE_KEY_FILE = "estore_parse_key.json"


def project_files(project_dir: Path) -> list[Path]:
    """Every file a parse of the project reads, in a stable order (some may not exist)."""
    files = [project_dir / name for name in _PROJECT_FILES]
    for folder in _SOURCE_DIRS:
        files.extend(sorted(p for p in (project_dir / folder).rglob("*") if p.is_file()))
    return files


def _newest_source_mtime(project_dir: Path) -> float:
    return max(p.stat().st_mtime for p in project_files(project_dir) if p.exists())


def parse_key(settings: Settings | None = None) -> str:
    """What a parse depends on besides the files: the target and the profile's variables that
    reach the parsed project. Of the DuckDB file, only the database name dbt-duckdb takes from
    its stem (models are `warehouse.analytics.x` wherever the file is), and not DuckDB's
    memory limit: a warehouse in another folder (a test's, `make bench`'s) reuses the parse."""
    settings = settings or Settings.from_env()
    variables = settings.dbt_env()
    del variables["ESTORE_DUCKDB_MEMORY_LIMIT"]
    variables["ESTORE_DUCKDB_PATH"] = Path(variables["ESTORE_DUCKDB_PATH"]).stem
    return json.dumps({"target": settings.dbt_target, **variables}, sort_keys=True)


def ensure_manifest(settings: Settings | None = None) -> Path:
    """Run `dbt parse` when the manifest is missing or older than any project file, or was
    parsed for another target or database, so a fresh clone, `estore run` and the UI all see
    the current models and every dbt call Dagster makes can reuse the parse (partial parsing)."""
    settings = settings or Settings.from_env()
    manifest = dbt_project.manifest_path
    key_file = manifest.parent / _PARSE_KEY_FILE
    key = parse_key(settings)
    if (
        manifest.exists()
        and manifest.stat().st_mtime >= _newest_source_mtime(DBT_PROJECT_DIR)
        and key_file.exists()
        and key_file.read_text() == key
    ):
        return manifest
    settings.export_dbt_env()
    # The same --target as DbtCliResource passes: it is part of dbt's parse state.
    parse_project(["--target", settings.dbt_target])
    key_file.write_text(key)
    return manifest


def parse_project(profile_args: list[str]):
    """`dbt parse` in this process, into the project's own target folder (where the manifest
    and the partial-parse state live): the parsed project (dbt's Manifest)."""
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(
        ["parse", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
        + ["--target-path", str(dbt_project.manifest_path.parent), *profile_args, "--quiet"]
    )
    if not result.success:
        raise RuntimeError(f"dbt parse failed: {result.exception}")
    return result.result
