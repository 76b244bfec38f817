"""The GitHub Actions workflows: pinned actions, least privilege, keyless GCP auth, and zizmor.

actionlint is not installable here, so syntax beyond YAML is not checked; zizmor audits the rest.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS_DIR = ROOT / ".github" / "workflows"
WORKFLOW_FILES = sorted([*WORKFLOWS_DIR.glob("*.yml"), *WORKFLOWS_DIR.glob("*.yaml")])

SHA_PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*['\"]?([^'\"\s#]+)['\"]?\s*(#.*)?$")
# Scopes a job may be granted `write` on, and why. Anything else is read or none.
WRITE_ALLOWED = {"id-token"}  # OIDC token for Workload Identity Federation only
READ_ONLY_LEVELS = {"read", "none"}
GCP_AUTH = "google-github-actions/auth"


def load(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text())
    # YAML 1.1 (PyYAML) reads the bare key `on` as the boolean True.
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow


def triggers(workflow: dict) -> dict:
    on = workflow["on"]
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return on


def steps(workflow: dict):
    for job_id, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_id, job, step


@pytest.fixture(scope="module")
def ci() -> dict:
    return load(WORKFLOWS_DIR / "ci.yml")


@pytest.fixture(scope="module")
def cd() -> dict:
    return load(WORKFLOWS_DIR / "cd.yml")


def test_ci_and_cd_workflows_exist():
    assert {path.name for path in WORKFLOW_FILES} >= {"ci.yml", "cd.yml"}


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.name)
def test_every_action_is_pinned_to_a_commit_sha_with_a_version_comment(path: Path):
    workflow = load(path)
    uses = [step["uses"] for _, _, step in steps(workflow) if "uses" in step]
    uses += [job["uses"] for job in workflow["jobs"].values() if "uses" in job]
    unpinned = [ref for ref in uses if not ref.startswith("./") and not SHA_PINNED.fullmatch(ref)]
    assert not unpinned, f"{path.name}: not pinned to a full commit SHA: {unpinned}"

    lines = [USES_LINE.match(line) for line in path.read_text().splitlines()]
    uncommented = [
        match.group(1)
        for match in lines
        if match and not match.group(1).startswith("./") and not match.group(2)
    ]
    assert not uncommented, f"{path.name}: say which version each SHA is: {uncommented}"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.name)
def test_permissions_are_least_privilege(path: Path):
    workflow = load(path)
    top = workflow.get("permissions")
    assert isinstance(top, dict), f"{path.name}: top-level permissions must be an explicit map"
    assert set(top.values()) <= READ_ONLY_LEVELS, f"{path.name}: top level grants {top}"
    assert set(top) <= {"contents"}, f"{path.name}: top level grants more than contents: {top}"
    for job_id, job in workflow["jobs"].items():
        job_permissions = job.get("permissions", {})
        assert isinstance(job_permissions, dict), f"{path.name}:{job_id}: {job_permissions!r}"
        writes = {scope for scope, level in job_permissions.items() if level == "write"}
        assert writes <= WRITE_ALLOWED, f"{path.name}:{job_id}: writes {writes}"
        if "id-token" in writes:  # only a job that exchanges the token needs it
            used = [step.get("uses", "") for step in job.get("steps", [])]
            assert any(ref.startswith(f"{GCP_AUTH}@") for ref in used), (
                f"{path.name}:{job_id}: id-token: write without {GCP_AUTH}"
            )


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.name)
def test_checkout_never_persists_credentials(path: Path):
    for job_id, _, step in steps(load(path)):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, (
                f"{path.name}:{job_id}: checkout without persist-credentials: false"
            )


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.name)
def test_every_job_has_a_timeout(path: Path):
    for job_id, job in load(path)["jobs"].items():
        if "uses" not in job:  # reusable-workflow calls cannot set one
            assert isinstance(job.get("timeout-minutes"), int), f"{path.name}:{job_id}"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.name)
def test_gcp_auth_is_keyless(path: Path):
    text = path.read_text()
    assert "credentials_json" not in text, f"{path.name}: GCP JSON key auth"
    assert not re.search(r"GOOGLE_(APPLICATION_)?CREDENTIALS\s*:", text), (
        f"{path.name}: sets Google credentials directly"
    )
    for job_id, _, step in steps(load(path)):
        if step.get("uses", "").startswith(f"{GCP_AUTH}@"):
            inputs = step.get("with", {})
            for name in ("workload_identity_provider", "service_account"):
                assert re.fullmatch(r"\$\{\{\s*vars\.\w+\s*\}\}", str(inputs.get(name, ""))), (
                    f"{path.name}:{job_id}: {name} must come from repository vars"
                )
            assert not any("secrets." in str(value) for value in inputs.values()), (
                f"{path.name}:{job_id}: secrets passed to {GCP_AUTH}"
            )


def test_ci_lints_and_tests_pull_requests_and_main(ci: dict):
    on = triggers(ci)
    assert "pull_request" in on
    assert "main" in on["push"]["branches"]
    runs = [step.get("run", "") for _, _, step in steps(ci)]
    assert any(re.search(r"\bmake test\b", run) for run in runs)
    assert any(re.search(r"\bmake lint\b", run) for run in runs)
    setup = [s for _, _, s in steps(ci) if s.get("uses", "").startswith("actions/setup-python@")]
    assert setup and str(setup[0]["with"]["python-version"]) == "3.11"
    assert ci["concurrency"]["cancel-in-progress"] is True
    assert "github.ref" in ci["concurrency"]["group"]


def _job_runs(job: dict) -> list[str]:
    return [step.get("run", "") for step in job.get("steps", [])]


def _job_uses(job: dict) -> list[str]:
    return [step.get("uses", "").split("@")[0] for step in job.get("steps", [])]


def test_ci_checks_terraform_workflows_and_dbt_on_duckdb(ci: dict):
    (test,) = [job for name, job in ci["jobs"].items() if name == "test"]
    runs, uses = _job_runs(test), _job_uses(test)
    # `make lint` runs terraform fmt -check only when terraform is installed: install it first.
    assert uses.index("hashicorp/setup-terraform") < runs.index("make lint")
    assert "make checkov" in runs
    assert any(run.startswith(".venv/bin/zizmor") for run in runs)
    assert any("estore demo" in run for run in runs)  # load + dbt build on DuckDB


def test_bigquery_integration_runs_only_with_wif_and_cleans_up_exactly_its_datasets(ci: dict):
    job = ci["jobs"]["bigquery-integration"]
    assert "vars.GCP_WORKLOAD_IDENTITY_PROVIDER != ''" in job["if"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in job["if"]
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    assert job["env"]["PR"] == "${{ github.event.pull_request.number }}"
    build = next(run for run in _job_runs(job) if "dbt build" in run)
    for flag in ("--select state:modified+", "--defer", "--state prod-state", "--target prod"):
        assert flag in build
    assert "--exclude resource_type:snapshot" in build
    create = next(
        step for step in job["steps"] if "bq" in step.get("run", "") and "mk" in step["run"]
    )
    assert '"ci_pr_${PR}" "ci_pr_${PR}_raw"' in create["run"]
    (cleanup,) = [step for step in job["steps"] if "bq rm" in step.get("run", "")]
    assert cleanup["if"] == "always()"
    commands = [line.strip() for line in cleanup["run"].splitlines() if line.strip()]
    assert commands == [
        'bq rm -r -f -d "${PROJECT}:ci_pr_${PR}"',
        'bq rm -r -f -d "${PROJECT}:ci_pr_${PR}_raw"',
    ]  # exact names: no ls | grep, no wildcard, no prefix match


def test_cd_plans_then_applies_behind_the_production_environment(cd: dict):
    on = triggers(cd)
    assert set(on) == {"push", "workflow_dispatch"}  # never from a pull request
    assert on["push"]["branches"] == ["main"]
    assert cd["concurrency"]["cancel-in-progress"] is False
    jobs = cd["jobs"]
    assert "environment" not in jobs["terraform-plan"]
    assert any("terraform plan" in run for run in _job_runs(jobs["terraform-plan"]))
    apply = jobs["terraform-apply"]
    assert apply["needs"] == "terraform-plan"
    assert apply["environment"] == "production"
    assert any("terraform apply" in run for run in _job_runs(apply))
    # Everything that changes production waits for the approval.
    for name in ("terraform-apply", "dbt-deploy", "deploy-dagster"):
        assert jobs[name]["environment"] == "production", name
    for job in jobs.values():
        assert job["permissions"] == {"contents": "read", "id-token": "write"}


def test_cd_builds_whole_table_models_never_snapshots_and_uploads_the_manifest(cd: dict):
    job = cd["jobs"]["dbt-deploy"]
    names = [step.get("uses", "").split("@")[0] or step.get("run", "") for step in job["steps"]]
    auth = names.index(GCP_AUTH)
    build = next(i for i, name in enumerate(names) if "dbt build" in name)
    assert auth < build
    assert "--target prod" in names[build]
    assert "--selector whole_table" in names[build]
    assert any(name.strip() == "make install" for name in names[:build])
    upload = next(i for i, name in enumerate(names) if "manifest.json" in name)
    assert build < upload and "gcloud storage cp dbt-project/target/manifest.json" in names[upload]
    # Snapshots run only through Dagster's single-writer job.
    for step in (step for workflow_job in cd["jobs"].values() for step in workflow_job["steps"]):
        assert "dbt snapshot" not in step.get("run", "")
        assert "selector snapshots" not in step.get("run", "")
    deploy = cd["jobs"]["deploy-dagster"]
    assert deploy["needs"] == "dbt-deploy"
    assert any("--tunnel-through-iap" in run for run in _job_runs(deploy))


def _zizmor() -> str:
    beside_python = Path(sys.executable).parent / "zizmor"
    found = str(beside_python) if beside_python.exists() else shutil.which("zizmor")
    if not found:
        pytest.fail("zizmor is not installed (it is a dev dependency)")
    return found


def zizmor_findings(target: Path) -> list[dict]:
    result = subprocess.run(
        [_zizmor(), "--offline", "--min-severity", "medium", "--format", "json", str(target)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # Exit codes: 0 clean, 10-14 findings (by highest severity), anything else a failure.
    assert result.returncode == 0 or 10 <= result.returncode <= 14, result.stderr
    return json.loads(result.stdout or "[]")


def test_zizmor_finds_nothing_of_medium_or_higher_severity():
    findings = [f for f in zizmor_findings(WORKFLOWS_DIR) if not f.get("ignored")]
    summary = []
    for finding in findings:
        where = finding["locations"][0]
        path = where["symbolic"]["key"].get("Local", {}).get("verbatim_path", "?")
        line = where["concrete"]["location"]["start_point"]["row"] + 1
        severity = finding["determinations"]["severity"]
        summary.append(f"{path}:{line}: {finding['ident']} ({severity}) {finding['desc']}")
    assert not findings, "zizmor findings:\n" + "\n".join(summary)


def test_zizmor_check_would_catch_a_bad_workflow(tmp_path: Path):
    """The check above is only worth something if these flags still report real problems."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "name: bad\n"
        "on: pull_request_target\n"
        "jobs:\n"
        "  j:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - uses: google-github-actions/auth@v2\n"
        '      - run: echo "${{ github.event.pull_request.title }}"\n'
    )
    idents = {finding["ident"] for finding in zizmor_findings(bad)}
    assert {"dangerous-triggers", "template-injection", "unpinned-uses"} <= idents
