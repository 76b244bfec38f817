"""DuckDB's memory limit and spill directory come from Settings, so a month never OOMs."""

from __future__ import annotations

from pathlib import Path

from dagster_project.defs.ingest.resources import warehouse_resource
from dagster_project.lib.settings import Settings


def test_warehouse_connections_use_the_memory_settings(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("ESTORE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ESTORE_DUCKDB_PATH", raising=False)
    monkeypatch.setenv("ESTORE_DUCKDB_MEMORY_LIMIT", "1GB")
    monkeypatch.delenv("ESTORE_DUCKDB_TEMP_DIR", raising=False)
    settings = Settings.from_env()
    assert settings.duckdb_temp_dir == tmp_path / "tmp"
    with warehouse_resource(settings).connect() as con:
        limit, temp, checkpoint = con.execute(
            "select current_setting('memory_limit'), current_setting('temp_directory'),"
            " current_setting('checkpoint_threshold')"
        ).fetchone()
    assert limit == "953.6 MiB"  # 1 GB
    assert Path(temp) == tmp_path / "tmp"
    # Small files' commits do not each checkpoint (see loader.CONNECTION_CONFIG).
    assert checkpoint == "953.6 MiB"

    monkeypatch.setenv("ESTORE_DUCKDB_TEMP_DIR", str(tmp_path / "spill"))
    monkeypatch.delenv("ESTORE_DUCKDB_MEMORY_LIMIT")
    settings = Settings.from_env()
    assert settings.duckdb_memory_limit == "5GB"
    with warehouse_resource(settings).connect() as con:
        temp = con.execute("select current_setting('temp_directory')").fetchone()[0]
    assert Path(temp) == tmp_path / "spill"
