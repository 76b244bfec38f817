"""SQL portability: every dbt model compiles for the BigQuery target and parses as BigQuery SQL.

`dbt compile --target prod` runs OFFLINE here:
- the profile's service-account method gets a throwaway key generated into a temp folder (a fresh
  RSA key and a fake client_email: it can sign nothing Google would accept, and is never
  committed); building the BigQuery client from it makes no request;
- `--no-introspect` makes dbt open no connection per node, so a model that needs the warehouse at
  compile time (`run_query`, `is_incremental()`, `adapter.get_relation`) fails loudly instead of
  calling BigQuery, and `--no-populate-cache` skips listing the datasets at start;
- HTTP(S)_PROXY point at a closed local port, so any request that still slipped through
  (token refresh, metadata server, API call) fails fast instead of reaching Google.
dbt writes to a temporary target and log path: other engineers use dbt-project/target.

Models are discovered from the manifest and the compiled folder, never listed here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlglot
from sqlglot.tokens import TokenType

from dagster_project.lib.settings import DBT_PROJECT_DIR

PROJECT_NAME = "estore"
DAILY_TAG = "daily"
STORES_NOTHING = {"view", "ephemeral"}  # materializations BigQuery cannot partition
CLOSED_LOCAL_PORT = "http://127.0.0.1:9"  # the discard port: nothing listens there

# DuckDB-only constructs that sqlglot's BigQuery reader still accepts (it is lenient, e.g. it
# reads `a::int` as a cast and `group by all` as a group), so parsing alone would not catch them.
# Checked on the SQL tokens without comments, string literals and quoted identifiers.
DUCKDB_ONLY = {
    "`::` cast": re.compile(r"::"),
    "count_if() (BigQuery: countif)": re.compile(r"\bcount_if\s*\("),
    "list_*() functions": re.compile(r"\blist_\w*\s*\("),
    "epoch*() (BigQuery: unix_seconds)": re.compile(r"\bepoch(_\w+)?\s*\("),
    "strftime() (BigQuery: format_timestamp)": re.compile(r"\bstrftime\s*\("),
    "group by all (preview only in BigQuery)": re.compile(r"\bgroup\s+by\s+all\b"),
}
_NOT_CODE = {
    TokenType.IDENTIFIER,  # `quoted`
    TokenType.STRING,
    TokenType.RAW_STRING,
    TokenType.BYTE_STRING,
    TokenType.HEREDOC_STRING,
}


@dataclass(frozen=True)
class Compiled:
    target: Path
    manifest: dict

    @property
    def models_dir(self) -> Path:
        return self.target / "compiled" / PROJECT_NAME / "models"

    def nodes(self, resource_type: str) -> list[dict]:
        return sorted(
            (
                node
                for node in self.manifest["nodes"].values()
                if node["resource_type"] == resource_type and node["package_name"] == PROJECT_NAME
            ),
            key=lambda node: node["unique_id"],
        )

    def model_files(self) -> list[Path]:
        """Compiled model files. Data tests defined in a YAML file compile into a folder named
        after it (models/facts/fct_events.yml/...), so those are not models."""
        return sorted(
            path
            for path in self.models_dir.rglob("*.sql")
            if not any(part.endswith((".yml", ".yaml")) for part in path.parts)
        )

    def rel(self, path: Path) -> str:
        return path.relative_to(self.target).as_posix()


def write_throwaway_service_account_key(path: Path, project: str) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    email = f"offline-compile@{project}.iam.gserviceaccount.com"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": project,
                "private_key_id": "0" * 40,
                "private_key": pem,
                "client_email": email,
                "client_id": "100000000000000000000",
                "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    path.chmod(0o600)


def _dbt_executable() -> str:
    beside_python = Path(sys.executable).parent / "dbt"
    found = str(beside_python) if beside_python.exists() else shutil.which("dbt")
    if not found:
        pytest.fail("dbt is not installed in this environment")
    return found


def offline_env(tmp: Path, keyfile: Path, project: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        # Nothing from the caller's shell may steer dbt elsewhere.
        if not name.startswith(("DBT_", "ESTORE_", "GOOGLE_", "GCP_", "CLOUDSDK_"))
        and name.lower() not in {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
    }
    env.update(
        ESTORE_BQ_AUTH_METHOD="service-account",
        GOOGLE_APPLICATION_CREDENTIALS=str(keyfile),
        GCP_PROJECT=project,
        ESTORE_BQ_DATASET="estore",
        ESTORE_BQ_LOCATION="EU",
        DBT_TARGET_PATH=str(tmp / "target"),
        DBT_LOG_PATH=str(tmp / "logs"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        HTTP_PROXY=CLOSED_LOCAL_PORT,
        HTTPS_PROXY=CLOSED_LOCAL_PORT,
        http_proxy=CLOSED_LOCAL_PORT,
        https_proxy=CLOSED_LOCAL_PORT,
        GCE_METADATA_HOST="127.0.0.1:9",
        GCE_METADATA_IP="127.0.0.1:9",
    )
    return env


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Compiled:
    tmp = tmp_path_factory.mktemp("bigquery_compile")
    project = "estore-offline-compile"
    keyfile = tmp / "service-account.json"
    write_throwaway_service_account_key(keyfile, project)
    command = [
        _dbt_executable(),
        "compile",
        "--target",
        "prod",
        "--no-introspect",
        "--no-populate-cache",
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--project-dir",
        str(DBT_PROJECT_DIR),
    ]
    result = subprocess.run(
        command,
        env=offline_env(tmp, keyfile, project),
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-6000:]
        hint = ""
        if "connection never acquired" in output:
            hint = (
                "\nA model asks the warehouse at compile time (is_incremental(), run_query, "
                "adapter.get_relation): that cannot compile offline. Prefer microbatch, or "
                "guard the call with `if execute and flags.INTROSPECT`."
            )
        pytest.fail(f"dbt compile --target prod failed offline:\n{output}{hint}", pytrace=False)
    target = tmp / "target"
    return Compiled(target=target, manifest=json.loads((target / "manifest.json").read_text()))


def code_without_literals(sql: str) -> str:
    """The SQL's tokens, lower-cased, without comments, string literals or quoted identifiers."""
    tokens = sqlglot.tokenize(sql, read="bigquery")
    return " ".join(token.text.lower() for token in tokens if token.token_type not in _NOT_CODE)


def test_every_model_compiled(compiled: Compiled):
    models = compiled.nodes("model")
    assert models, "the manifest has no models"
    expected = {Path(node["compiled_path"]).resolve() for node in models if node["compiled_path"]}
    missing = [node["unique_id"] for node in models if not node.get("compiled_path")]
    assert not missing, f"models with no compiled SQL: {missing}"
    found = {path.resolve() for path in compiled.model_files()}
    assert found == expected, (
        f"compiled files without a model: {sorted(map(str, found - expected))}; "
        f"models without a compiled file: {sorted(map(str, expected - found))}"
    )


def test_every_compiled_model_parses_as_bigquery(compiled: Compiled):
    failures = []
    for path in compiled.model_files():
        try:
            statements = [s for s in sqlglot.parse(path.read_text(), read="bigquery") if s]
        except sqlglot.errors.SqlglotError as error:
            failures.append(f"{compiled.rel(path)}: {str(error).splitlines()[0]}")
            continue
        if not statements:
            failures.append(f"{compiled.rel(path)}: no SQL statement")
    assert not failures, "compiled models that are not BigQuery SQL:\n" + "\n".join(failures)


def test_compiled_data_tests_and_snapshots_parse_as_bigquery(compiled: Compiled):
    """They run on BigQuery too (`dbt build --target prod`)."""
    failures = []
    for node in compiled.nodes("test") + compiled.nodes("snapshot"):
        try:
            sqlglot.parse(node.get("compiled_code") or "", read="bigquery")
        except sqlglot.errors.SqlglotError as error:
            failures.append(f"{node['unique_id']}: {str(error).splitlines()[0]}")
    assert not failures, "compiled nodes that are not BigQuery SQL:\n" + "\n".join(failures)


def test_no_duckdb_only_constructs(compiled: Compiled):
    sources = {compiled.rel(path): path.read_text() for path in compiled.model_files()}
    for node in compiled.nodes("test") + compiled.nodes("snapshot"):
        sources[node["unique_id"]] = node.get("compiled_code") or ""
    findings = []
    for name, sql in sources.items():
        try:
            code = code_without_literals(sql)
        except sqlglot.errors.SqlglotError:
            code = sql.lower()  # the parse tests report it; still scan the raw text
        findings += [
            f"{name}: {what}" for what, pattern in DUCKDB_ONLY.items() if pattern.search(code)
        ]
    assert not findings, "DuckDB-only SQL in the BigQuery build:\n" + "\n".join(findings)


def test_daily_facts_are_partitioned_and_clustered(compiled: Compiled):
    """Every model tagged daily that stores data (a table or incremental: the facts) is
    partitioned by day and clustered. Daily views (staging) store nothing to partition."""
    daily = [node for node in compiled.nodes("model") if DAILY_TAG in node["tags"]]
    facts = [node for node in daily if node["config"].get("materialized") not in STORES_NOTHING]
    assert facts, f"no table or incremental model is tagged {DAILY_TAG!r}"
    problems = []
    for node in facts:
        config = node["config"]
        partition_by = config.get("partition_by") or {}
        if not partition_by.get("field"):
            problems.append(f"{node['name']}: no partition_by field")
        elif partition_by.get("granularity", "day") != "day" or "range" in partition_by:
            problems.append(f"{node['name']}: partitioned by {partition_by}, not by day")
        if not config.get("cluster_by"):
            problems.append(f"{node['name']}: no cluster_by")
    assert not problems, "daily facts not partitioned and clustered:\n" + "\n".join(problems)


# The denylist itself: a check that can never fire proves nothing.


@pytest.mark.parametrize(
    "sql",
    [
        "select a::int from t",
        "select count_if(x > 1) from t",
        "select list_aggregate(l, 'sum') from t",
        "select epoch_ms(ts) from t",
        "select strftime(ts, '%Y') from t",
        "select a, count(*) from t GROUP  BY ALL",
    ],
)
def test_denylist_catches_duckdb_sql(sql):
    code = code_without_literals(sql)
    assert any(pattern.search(code) for pattern in DUCKDB_ONLY.values())


@pytest.mark.parametrize(
    "sql",
    [
        "select countif(x > 1), format_timestamp('%Y', ts), unix_seconds(ts) from t",
        "select cast(a as int64), list_price, wishlist_id from t group by 1, 2",
        "select 'a::b' as s, `list_x` from t -- a::b, count_if(x)\n",
    ],
)
def test_denylist_ignores_bigquery_sql_comments_and_strings(sql):
    code = code_without_literals(sql)
    assert not any(pattern.search(code) for pattern in DUCKDB_ONLY.values())
