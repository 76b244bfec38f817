"""dbt runs inside the Dagster step's process (lib/dbt/in_process.py): what the CLI guaranteed
must still hold. A failed call is a non-zero exit status with dbt's error (never a success),
and the warehouse is let go once the call is over, so the loader's own connection (another
DuckDB configuration) opens in the same process."""

from __future__ import annotations

import os

import duckdb
import orjson

from dagster_project.lib.dbt.in_process import RUN_RESULTS, invoke, write_run_results
from dagster_project.lib.settings import DBT_PROJECT_DIR


def _env() -> dict[str, str]:
    return {**os.environ, "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR)}


def _events(process) -> list[dict]:
    return [orjson.loads(line) for line in process.stdout.read().splitlines()]


def test_a_successful_call_exits_0_and_lets_go_of_the_warehouse(estore_env):
    process = invoke(
        ["dbt", "show", "--inline", "select 42 as answer", "--project-dir", str(DBT_PROJECT_DIR)],
        _env(),
    )
    assert process.wait() == 0
    names = {event["info"]["name"] for event in _events(process)}
    assert "ShowNode" in names  # dbt's events are handed over, as the CLI printed them
    assert not any(name.startswith("Debug") for name in names)

    # dbt-duckdb would keep its database open for the next call: DuckDB then refuses a
    # connection with another configuration ("different configuration than existing").
    con = duckdb.connect(str(estore_env.settings.duckdb_path), config={"threads": 1})
    assert con.execute("select 1").fetchall() == [(1,)]
    con.close()


def test_a_failing_call_exits_non_zero_with_dbt_s_error(estore_env):
    process = invoke(
        [
            "dbt",
            "show",
            "--inline",
            "select * from no_such_table",
            "--project-dir",
            str(DBT_PROJECT_DIR),
        ],  # fmt: skip
        _env(),
    )
    assert process.wait() != 0
    errors = [e["info"]["msg"] for e in _events(process) if e["info"]["level"] == "error"]
    assert any("no_such_table" in message for message in errors), errors


def test_a_call_leaves_its_run_results_and_no_manifest(estore_env, tmp_path):
    """dbt's JSON writer is off in-process (its manifest is the kept parse, slow to serialize
    on every call); the call's run_results.json is still left in its target folder, where the
    asset reads it as proof the call completed."""
    target = tmp_path / "call"
    process = invoke(
        ["dbt", "compile", "--select", "int_as_of", "--project-dir", str(DBT_PROJECT_DIR)],
        {**_env(), "DBT_TARGET_PATH": str(target)},
    )
    assert process.wait() == 0, _events(process)
    write_run_results(process, target)
    results = orjson.loads((target / RUN_RESULTS).read_bytes())
    statuses = {r["unique_id"]: r["status"] for r in results["results"]}
    assert statuses["model.estore.int_as_of"] == "success", statuses
    assert not (target / "manifest.json").exists()
