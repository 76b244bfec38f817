"""The parsed dbt project kept on disk between processes (lib/dbt/manifest_cache.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time

import pytest
from dbt.contracts.graph.manifest import Manifest

from dagster_project.lib.dbt import manifest_cache
from dagster_project.lib.dbt.project import parse_key
from dagster_project.lib.settings import DBT_PROJECT_DIR, environment


@pytest.fixture
def project(tmp_path):
    """A copy of the dbt project's files (without its target folder)."""
    copy = tmp_path / "dbt-project"
    shutil.copytree(DBT_PROJECT_DIR, copy, ignore=shutil.ignore_patterns("target", "logs"))
    return copy


def test_the_key_follows_every_project_file_and_the_parse_key(project):
    key = manifest_cache.fingerprint(project, "local")
    assert manifest_cache.fingerprint(project, "local") == key
    assert manifest_cache.fingerprint(project, "prod") != key
    model = project / "models" / "facts" / "fct_events.sql"
    stat = model.stat()
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000))  # saved again
    touched = manifest_cache.fingerprint(project, "local")
    assert touched != key
    (project / "macros" / "new_macro.sql").write_text("{% macro m() %}1{% endmacro %}")
    assert manifest_cache.fingerprint(project, "local") not in (key, touched)
    (project / "dbt_project.yml").write_text((project / "dbt_project.yml").read_text() + "\n")
    assert len({key, touched, manifest_cache.fingerprint(project, "local")}) == 3


def manifest(n: int = 0) -> Manifest:
    return Manifest(env_vars={"n": str(n)})


def test_a_stored_manifest_is_read_back_only_under_its_key(tmp_path):
    assert manifest_cache.load(tmp_path, "k1") is None  # nothing stored
    manifest_cache.save(tmp_path, "k1", manifest(1))
    assert manifest_cache.load(tmp_path, "k1").env_vars == {"n": "1"}
    assert manifest_cache.load(tmp_path, "k2") is None
    (stored,) = tmp_path.glob(manifest_cache.CACHE_GLOB)
    stored.write_bytes(stored.read_bytes()[:20])  # truncated
    assert manifest_cache.load(tmp_path, "k1") is None
    stored.write_bytes(b"not a pickle")
    assert manifest_cache.load(tmp_path, "k1") is None
    assert list(tmp_path.iterdir()) == [stored]  # no temporary file left behind


def test_each_key_has_its_own_file_and_only_the_newest_are_kept(tmp_path):
    long_ago = time.time() - 1_000
    for n in range(manifest_cache.KEEP + 3):
        manifest_cache.save(tmp_path, f"key {n}", manifest(n))
        stored = manifest_cache._path(tmp_path, f"key {n}")
        os.utime(stored, (long_ago + n, long_ago + n))  # saved in this order, seconds apart
    kept = [manifest_cache.load(tmp_path, f"key {n}") for n in range(manifest_cache.KEEP + 3)]
    assert len(list(tmp_path.glob(manifest_cache.CACHE_GLOB))) == manifest_cache.KEEP
    assert kept[-1].env_vars == {"n": str(manifest_cache.KEEP + 2)}  # the newest is there
    assert [m is None for m in kept] == [True] * 3 + [False] * manifest_cache.KEEP


def test_a_new_process_uses_the_last_parse_without_parsing(tmp_path):
    """The first process parses the real project and stores it; the next one must not parse
    (parse_project raises there) and gets the same models."""
    script = textwrap.dedent(
        """
        import sys
        from dagster_project.lib.dbt import in_process, project
        from dagster_project.lib.settings import Settings
        settings = Settings.from_env()
        settings.export_dbt_env()
        if sys.argv[1] == "forbid":
            def parse_project(args):
                raise AssertionError("parsed again")
            project.parse_project = parse_project
        manifest = in_process.parsed_manifest(["--target", settings.dbt_target])
        # A read-back manifest must work in dbt (refs, sources, lookups), not just load.
        from dbt.cli.main import dbtRunner
        compiled = dbtRunner(manifest=manifest).invoke([
            "compile", "--select", "fct_sessions", "--project-dir", str(project.DBT_PROJECT_DIR),
            "--profiles-dir", str(project.DBT_PROJECT_DIR), "--target-path", sys.argv[2],
            "--target", settings.dbt_target, "--quiet",
        ])
        assert compiled.success, compiled.exception
        nodes = manifest.nodes
        print(len(nodes), len(manifest.macros), len(manifest.unit_tests), len(manifest.fixtures))
        """
    )
    env = dict(os.environ)
    for name in ("ESTORE_BUCKET", "ESTORE_DUCKDB_PATH", "DAGSTER_HOME"):
        env.pop(name, None)

    def run(mode: str, data: str = "data") -> str:
        (tmp_path / data).mkdir(exist_ok=True)  # compile opens the (empty) warehouse there
        target = str(tmp_path / f"target-{mode}-{data}")
        result = subprocess.run(
            [sys.executable, "-c", script, mode, target],
            env={**env, "ESTORE_DATA_DIR": str(tmp_path / data)},
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout.strip().splitlines()[-1]  # after what dbt compile prints

    parsed = run("parse")
    assert int(parsed.split()[2]) > 0  # the unit tests are there
    assert run("forbid") == parsed
    # A warehouse in another folder (same database name) reuses the parse, and dbt connects
    # to that folder's warehouse, not the one the project was parsed with.
    assert run("forbid", "elsewhere") == parsed
    assert (tmp_path / "elsewhere" / "warehouse.duckdb").exists()


def test_the_parse_follows_the_database_name_not_the_folder(tmp_path):
    def key(path: str, memory: str = "5GB") -> str:
        with environment(
            ESTORE_DUCKDB_PATH=path, ESTORE_DUCKDB_MEMORY_LIMIT=memory, ESTORE_DBT_TARGET="local"
        ):
            return parse_key()

    same = key(f"{tmp_path}/a/warehouse.duckdb")
    assert key(f"{tmp_path}/b/warehouse.duckdb", memory="7GB") == same
    assert key(f"{tmp_path}/a/other.duckdb") != same  # models are other.analytics.x there
