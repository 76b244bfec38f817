"""terraform/: the settings the issue requires, read from the parsed HCL (python-hcl2), the
names Terraform, Dagster's Settings and dbt's profile must agree on, `terraform fmt` and checkov.

Nothing here talks to Google Cloud: `terraform validate/plan` need provider downloads.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import hcl2
import pytest
import yaml

from dagster_project.lib.settings import DEFAULTS, Settings

ROOT = Path(__file__).resolve().parent.parent
TERRAFORM_DIR = ROOT / "terraform"
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
PROFILES = ROOT / "dbt-project" / "profiles.yml"
SOURCES = ROOT / "dbt-project" / "models" / "staging" / "_sources.yml"

# The only project-level roles: BigQuery jobs are created in a project, and so are datasets.
PROJECT_LEVEL_ROLES = {"roles/bigquery.jobUser", "ci_dataset_creator"}


def _unquote(value):
    """python-hcl2 keeps HCL string quotes ('"x"'); drop them, and its bookkeeping keys."""
    if isinstance(value, str):
        if len(value) >= 2 and value[0] == value[-1] == '"':
            return value[1:-1].replace('\\"', '"')
        return value
    if isinstance(value, list):
        return [_unquote(item) for item in value]
    if isinstance(value, dict):
        return {
            _unquote(key): _unquote(item)
            for key, item in value.items()
            if key not in ("__is_block__", "__comments__")
        }
    return value


def _parse() -> dict[str, list]:
    merged: dict[str, list] = {}
    for path in sorted(TERRAFORM_DIR.glob("*.tf")):
        with path.open() as handle:
            for kind, blocks in _unquote(hcl2.load(handle)).items():
                merged.setdefault(kind, []).extend(blocks if isinstance(blocks, list) else [blocks])
    return merged


@pytest.fixture(scope="module")
def tf() -> dict[str, list]:
    return _parse()


def resources(tf: dict, type_: str) -> dict[str, dict]:
    found = {}
    for block in tf.get("resource", []):
        for name, body in block.get(type_, {}).items():
            found[name] = body
    return found


def all_resource_types(tf: dict) -> set[str]:
    return {type_ for block in tf.get("resource", []) for type_ in block}


def variable(tf: dict, name: str) -> dict:
    (found,) = [block[name] for block in tf["variable"] if name in block]
    return found


def output(tf: dict, name: str) -> dict:
    (found,) = [block[name] for block in tf["output"] if name in block]
    return found


def _one(body: dict, key: str):
    (value,) = body[key]
    return value


def test_providers_are_pinned_exactly_and_state_is_remote(tf):
    (terraform,) = tf["terraform"]
    assert terraform["required_version"]
    providers = {k: v for block in terraform["required_providers"] for k, v in block.items()}
    assert set(providers) >= {"google", "random"}
    for name, spec in providers.items():
        assert re.fullmatch(r"= \d+\.\d+\.\d+", spec["version"]), f"{name}: {spec['version']}"
    (backend,) = terraform["backend"]
    assert "gcs" in backend
    assert "bucket" not in backend["gcs"], "the state bucket is given at init (-backend-config)"


def test_environment_is_validated_to_dev_or_prod(tf):
    env = variable(tf, "environment")
    (rule,) = env["validation"]
    assert '["dev", "prod"]' in rule["condition"]


def test_landing_bucket_is_private_versioned_and_kept_in_prod(tf):
    (bucket,) = resources(tf, "google_storage_bucket").values()
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["public_access_prevention"] == "enforced"
    assert _one(bucket, "versioning")["enabled"] is True
    (rule,) = bucket["lifecycle_rule"]
    condition, action = _one(rule, "condition"), _one(rule, "action")
    assert action["type"] == "Delete"
    assert "days_since_noncurrent_time" in condition  # only noncurrent versions expire
    assert "age" not in condition  # a live file is never deleted by age
    # force_destroy is only ever true outside prod.
    assert bucket["force_destroy"] == '${var.environment != "prod"}'


def test_datasets_share_one_location_keep_contents_and_are_labelled(tf):
    (datasets,) = resources(tf, "google_bigquery_dataset").values()
    assert datasets["for_each"] == "${var.datasets}"
    assert set(variable(tf, "datasets")["default"]) == {"raw", "analytics", "snapshots", "ml"}
    assert datasets["location"] == "${var.location}"
    assert datasets["delete_contents_on_destroy"] is False
    assert "labels" in datasets


def test_no_service_account_keys_anywhere(tf):
    assert "google_service_account_key" not in all_resource_types(tf)
    for path in TERRAFORM_DIR.glob("*.tf"):
        assert "google_service_account_key" not in path.read_text(), path.name


def test_one_service_account_per_workload(tf):
    workload = resources(tf, "google_service_account")["workload"]
    assert workload["for_each"] == "${local.service_accounts}"
    (local_values,) = [block for block in tf["locals"] if "service_accounts" in block]
    assert set(local_values["service_accounts"]) == {"loader", "transformer", "ml", "ci-deployer"}


def test_data_roles_are_granted_on_the_bucket_or_a_dataset_only(tf):
    project_members = resources(tf, "google_project_iam_member")
    roles = {
        name: "roles/bigquery.jobUser"
        if body["role"] == "roles/bigquery.jobUser"
        else body["role"].split(".")[1]  # ${google_project_iam_custom_role.<name>.name}
        for name, body in project_members.items()
    }
    assert set(roles.values()) <= PROJECT_LEVEL_ROLES, roles
    (custom,) = resources(tf, "google_project_iam_custom_role").values()
    assert custom["permissions"] == ["bigquery.datasets.create"]
    for forbidden in ("google_project_iam_binding", "google_project_iam_policy"):
        assert forbidden not in all_resource_types(tf)
    assert resources(tf, "google_bigquery_dataset_iam_member")
    assert resources(tf, "google_storage_bucket_iam_member")


def test_ci_touches_only_the_manifest_prefix_of_the_bucket(tf):
    grant = resources(tf, "google_storage_bucket_iam_member")["ci_manifest"]
    expression = _one(grant, "condition")["expression"]
    assert "/objects/ci/" in expression and "startsWith" in expression


def test_workload_identity_provider_only_trusts_this_repository(tf):
    (provider,) = resources(tf, "google_iam_workload_identity_pool_provider").values()
    assert provider["attribute_condition"] == 'assertion.repository == "${var.github_repository}"'
    assert _one(provider, "oidc")["issuer_uri"] == "https://token.actions.githubusercontent.com"
    for binding in resources(tf, "google_service_account_iam_member").values():
        if binding["role"] == "roles/iam.workloadIdentityUser":
            assert binding["member"].endswith("/attribute.repository/${var.github_repository}")


def test_dagster_vm_has_no_external_ip_and_ssh_only_through_iap(tf):
    (vm,) = resources(tf, "google_compute_instance").values()
    (nic,) = vm["network_interface"]
    assert "access_config" not in nic
    shielded = _one(vm, "shielded_instance_config")
    assert shielded["enable_secure_boot"] is True
    # exactly these keys: no startup-script or ssh-keys carrying secrets or access
    assert vm["metadata"] == {
        "enable-oslogin": "TRUE",
        "block-project-ssh-keys": "true",
        "serial-port-enable": "false",
    }
    (firewall,) = resources(tf, "google_compute_firewall").values()
    assert firewall["source_ranges"] == ["35.235.240.0/20"]
    assert firewall["direction"] == "INGRESS"
    # SSH only: the Dagster UI (3000) and everything else stay closed
    assert [(rule["protocol"], rule.get("ports")) for rule in firewall["allow"]] == [
        ("tcp", ["22"])
    ]


def test_run_storage_is_private_backed_up_and_its_password_in_secret_manager(tf):
    (sql,) = resources(tf, "google_sql_database_instance").values()
    settings = _one(sql, "settings")
    ip = _one(settings, "ip_configuration")
    assert ip["ipv4_enabled"] is False
    assert _one(settings, "backup_configuration")["enabled"] is True
    assert sql["deletion_protection"] == "${local.is_prod}"
    # The password is ephemeral and goes only to write-only arguments: never in state or plan.
    password = "${ephemeral.random_password.dagster_db.result}"
    (version,) = resources(tf, "google_secret_manager_secret_version").values()
    assert version["secret_data_wo"] == password and "secret_data" not in version
    (user,) = resources(tf, "google_sql_user").values()
    assert user["password_wo"] == password and "password" not in user
    # one version for both, so a rotation changes them together
    assert version["secret_data_wo_version"] == user["password_wo_version"]
    assert "random_password" not in {kind for block in tf.get("resource", []) for kind in block}


# ---- Names that Terraform, Dagster Settings and dbt must agree on ----


def _settings_env_names() -> set[str]:
    """Every environment variable Settings reads (DEFAULTS, plus the ones without a default)."""
    source = (ROOT / "dagster_project" / "lib" / "settings.py").read_text()
    return set(DEFAULTS) | set(re.findall(r'os\.environ\.get\("(\w+)"', source))


def _profile_env_defaults(output_name: str) -> dict[str, str]:
    profile = yaml.safe_load(PROFILES.read_text())["estore"]["outputs"][output_name]
    text = json.dumps(profile)
    return dict(re.findall(r"env_var\('(\w+)', '([^']*)'\)", text))


def test_terraform_env_output_uses_the_names_settings_reads(tf):
    env = output(tf, "env")["value"]
    unknown = set(env) - _settings_env_names()
    assert not unknown, f"terraform outputs variables Settings never reads: {unknown}"
    assert env["ESTORE_ENV"] == "prod"
    assert env["ESTORE_BUCKET"].startswith("gs://")
    assert env["ESTORE_BQ_DATASET"] == '${google_bigquery_dataset.this["analytics"].dataset_id}'


def test_dbt_prod_profile_reads_what_settings_exports():
    settings = Settings.from_env()
    exported = set(settings.dbt_env()) | {"GCP_PROJECT"}
    # Auth comes from the runtime (ADC / the auth action), not from Settings.
    runtime = {"ESTORE_BQ_AUTH_METHOD", "GOOGLE_APPLICATION_CREDENTIALS"}
    read = set(_profile_env_defaults("prod"))
    assert read - runtime <= exported, read - runtime - exported


def test_defaults_agree_across_terraform_settings_and_dbt(tf):
    datasets = variable(tf, "datasets")["default"]
    profile = _profile_env_defaults("prod")
    assert datasets["analytics"] == DEFAULTS["ESTORE_BQ_DATASET"] == profile["ESTORE_BQ_DATASET"]
    assert variable(tf, "location")["default"] == DEFAULTS["ESTORE_BQ_LOCATION"]
    assert DEFAULTS["ESTORE_BQ_LOCATION"] == profile["ESTORE_BQ_LOCATION"]
    assert variable(tf, "landing_prefix")["default"] == DEFAULTS["ESTORE_LANDING_PREFIX"]
    # dbt derives the other datasets from the analytics one: sources read `<dataset>_raw`, a
    # custom `+schema: x` lands in `<dataset>_x` (dbt's default generate_schema_name).
    assert "target.dataset ~ '_raw'" in SOURCES.read_text()
    analytics = datasets["analytics"]
    assert datasets["raw"] == f"{analytics}_raw"
    assert datasets["snapshots"] == f"{analytics}_snapshots"
    assert datasets["ml"] == f"{analytics}_ml"


# ---- Tools ----


def test_terraform_fmt_is_clean():
    terraform = shutil.which("terraform")
    if not terraform:
        pytest.skip("terraform is not installed: `terraform fmt -check` not run (CI runs it)")
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM_DIR)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_checkov_skip_says_why():
    skips = []
    for path in TERRAFORM_DIR.glob("*.tf"):
        skips += re.findall(r"#checkov:skip=(\S[^\n]*)", path.read_text())
    assert skips
    for skip in skips:
        assert re.fullmatch(r"CKV2?_GCP_\d+:.{20,}", skip), f"skip without a reason: {skip}"


def test_checkov_finds_no_failed_check():
    if not CHECKOV.exists():
        pytest.skip("checkov is not installed: run `make checkov` once (own venv .venv-checkov)")
    result = subprocess.run(
        [str(CHECKOV), "-d", str(TERRAFORM_DIR), "--quiet", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [
        f"{check['check_id']} {check['resource']} ({check['file_path']})"
        for check in report["results"]["failed_checks"]
    ]
    assert summary["failed"] == 0, "\n".join(failed)
    assert summary["passed"] > 50  # it really scanned the configuration
