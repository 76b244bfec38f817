"""The Dagster instances: production (deploy/dagster.yaml) valid for this Dagster, its run
storage on Postgres with every value from the environment, and the names Terraform creates."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster_postgres import PostgresRunStorage
from dagster_postgres.utils import pg_url_from_config

from dagster_project.cli.instance import TEMPLATE as LOCAL_INSTANCE

ROOT = Path(__file__).resolve().parents[1]
PROD_INSTANCE = ROOT / "deploy" / "dagster.yaml"
PG_ENV = {
    "DAGSTER_PG_HOST": "10.20.0.3",
    "DAGSTER_PG_DB": "dagster",
    "DAGSTER_PG_USER": "dagster",
    "DAGSTER_PG_PASSWORD": "s3cret-from-secret-manager",
}


@pytest.fixture
def pg_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in PG_ENV.items():
        monkeypatch.setenv(name, value)
    return PG_ENV


def test_prod_instance_validates_against_dagsters_schema(pg_env):
    config, instance_class = dagster_instance_config(str(PROD_INSTANCE.parent))
    assert instance_class is None  # the stock DagsterInstance
    assert set(config) >= {"storage", "concurrency", "run_retries", "run_monitoring"}
    assert config["concurrency"]["pools"]["default_limit"] == 1  # one raw transaction at a time


@pytest.mark.parametrize("instance", [PROD_INSTANCE, LOCAL_INSTANCE], ids=["prod", "local"])
def test_snapshot_runs_never_overlap(instance):
    """Two snapshot runs at once would close each other's versions: the snapshot job carries the
    concurrency key that both instances limit to one run."""
    from dagster_project.defs.dbt.assets import SNAPSHOT_POOL, snapshots_job

    assert snapshots_job.tags["dagster/concurrency_key"] == SNAPSHOT_POOL
    limits = yaml.safe_load(instance.read_text())["concurrency"]["runs"]["tag_concurrency_limits"]
    matching = [
        limit
        for limit in limits
        if limit["key"] == "dagster/concurrency_key" and limit.get("value") == SNAPSHOT_POOL
    ]
    assert [limit["limit"] for limit in matching] == [1]


def test_run_storage_is_postgres_from_the_environment_only(pg_env):
    raw = yaml.safe_load(PROD_INSTANCE.read_text())
    postgres = raw["storage"]["postgres"]
    db = postgres["postgres_db"]
    # Nothing secret or site-specific in the file: every value that varies is an env reference.
    for key in ("hostname", "db_name", "username", "password"):
        assert set(db[key]) == {"env"}, key
    result = process_config(PostgresRunStorage.config_type(), postgres)
    assert result.success, result.errors
    url = pg_url_from_config(result.value)
    assert url == (
        "postgresql://dagster:s3cret-from-secret-manager@10.20.0.3:5432/dagster?sslmode=require"
    )


def test_deploy_doc_and_terraform_agree_with_the_instance():
    deploy = (ROOT / "docs" / "deploy.md").read_text()
    assert "deploy/dagster.yaml" in deploy
    for name in PG_ENV:
        assert name in deploy, f"docs/deploy.md never sets {name}"
    terraform = (ROOT / "terraform" / "dagster.tf").read_text()
    assert 'ssl_mode        = "ENCRYPTED_ONLY"' in terraform  # hence sslmode=require
    assert 'secret_id = "estore-dagster-db-password"' in terraform
    assert "--secret estore-dagster-db-password" in deploy
