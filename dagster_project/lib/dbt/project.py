"""The dbt project as Dagster sees it, and keeping its manifest current."""

from __future__ import annotations

from pathlib import Path

from dagster_dbt import DbtProject

from dagster_project.lib.settings import DBT_PROJECT_DIR, Settings

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)

_SOURCE_DIRS = ("models", "macros", "snapshots", "seeds", "tests")


def _newest_source_mtime(project_dir: Path) -> float:
    files = [project_dir / "dbt_project.yml", project_dir / "profiles.yml"]
    for folder in _SOURCE_DIRS:
        files.extend(p for p in (project_dir / folder).rglob("*") if p.is_file())
    return max(p.stat().st_mtime for p in files if p.exists())


def ensure_manifest(settings: Settings | None = None) -> Path:
    """Run `dbt parse` when the manifest is missing or older than any project file, so a
    fresh clone, `estore run` and the UI all see the current models."""
    manifest = dbt_project.manifest_path
    if manifest.exists() and manifest.stat().st_mtime >= _newest_source_mtime(DBT_PROJECT_DIR):
        return manifest
    from dbt.cli.main import dbtRunner

    (settings or Settings.from_env()).export_dbt_env()
    result = dbtRunner().invoke(
        [
            "parse",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--quiet",
        ]
    )
    if not result.success:
        raise RuntimeError(f"dbt parse failed: {result.exception}")
    return manifest
