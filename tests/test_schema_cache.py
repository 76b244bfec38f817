"""The JSON schemas dbt validates its settings against, kept on disk between processes
(lib/dbt/schema_cache.py)."""

from __future__ import annotations

import textwrap

import pytest
from conftest import python_stdout
from dbt.contracts.project import Project
from dbt_common.dataclass_schema import ValidationError, dbtClassMixin

from dagster_project.lib.dbt import schema_cache

VALID = {"name": "estore", "version": "1.0.0", "profile": "estore", "config-version": 2}


@pytest.fixture
def builds(tmp_path, monkeypatch):
    """The cache installed in `tmp_path` (all undone afterwards); the classes whose schema
    mashumaro built."""
    monkeypatch.setattr(dbtClassMixin, "json_schema", dbtClassMixin.__dict__["json_schema"])
    monkeypatch.setattr(schema_cache, "_cache_dir", schema_cache._cache_dir)
    monkeypatch.setattr(schema_cache, "_build_schema", schema_cache._build_schema)
    schema_cache._cached_schema.cache_clear()
    schema_cache.install(tmp_path)
    built: list[type] = []
    original = schema_cache._build_schema

    def counting(cls):
        built.append(cls)
        return original(cls)

    monkeypatch.setattr(schema_cache, "_build_schema", counting)
    yield built
    schema_cache._cached_schema.cache_clear()


def new_process() -> None:
    """What a new process starts with: nothing built in memory."""
    schema_cache._cached_schema.cache_clear()


def test_a_schema_is_built_once_then_read_back(tmp_path, builds):
    first = Project.json_schema()
    assert builds == [Project]
    assert len(list(tmp_path.glob("*.json"))) == 1
    new_process()
    assert Project.json_schema() == first
    assert builds == [Project]


def test_validation_is_the_same_with_the_stored_schema(builds):
    Project.validate(VALID)
    new_process()
    Project.validate(VALID)  # from the file
    with pytest.raises(ValidationError, match="version"):
        Project.validate({**VALID, "version": ["not", "a", "version"]})
    assert builds == [Project]


def test_an_unreadable_entry_is_built_again_and_replaced(tmp_path, builds):
    Project.json_schema()
    (entry,) = tmp_path.glob("*.json")
    entry.write_text('{"truncated": ')
    new_process()
    Project.validate(VALID)
    assert builds == [Project, Project]
    new_process()
    Project.validate(VALID)
    assert builds == [Project, Project]


def test_a_new_process_reuses_what_an_earlier_one_built(tmp_path):
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from dbt.contracts.project import Project
        from dagster_project.lib.dbt import schema_cache
        schema_cache.install(Path({str(tmp_path)!r}))
        built = []
        original = schema_cache._build_schema
        schema_cache._build_schema = lambda cls: built.append(cls) or original(cls)
        Project.validate({VALID!r})
        print(len(built))
        """
    )
    assert python_stdout(script) == "1"
    assert python_stdout(script) == "0"


def test_the_key_follows_the_class_and_the_installed_versions(monkeypatch):
    from dbt.contracts.project import PackageConfig

    key = schema_cache._key(Project)
    assert schema_cache._key(Project) == key
    assert schema_cache._key(PackageConfig) != key
    schema_cache._versions.cache_clear()
    monkeypatch.setattr(schema_cache.metadata, "version", lambda package: "0.0.0")
    try:
        assert schema_cache._key(Project) != key
    finally:
        schema_cache._versions.cache_clear()
