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
from sqlglot import exp
from sqlglot.tokens import TokenType

from dagster_project.lib.settings import DBT_PROJECT_DIR

PROJECT_NAME = "estore"
DAILY_TAG = "daily"
STORES_NOTHING = {"view", "ephemeral"}  # materializations BigQuery cannot partition
CLOSED_LOCAL_PORT = "http://127.0.0.1:9"  # the discard port: nothing listens there
# The [start, end) window the compile renders, as Dagster passes a two-day partition range.
WINDOW = ("2019-10-03", "2019-10-05")

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
        # A two-day window, as Dagster passes it, so the daily models render their filters.
        "--vars",
        json.dumps({"min_date": WINDOW[0], "max_date": WINDOW[1]}),
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


# ---- Cost: a day-window build reads only the window's partitions of its daily inputs ----
#
# Checked on the sqlglot AST of each compiled daily model (rendered with WINDOW): every read of
# a daily input (a FROM/JOIN of it) must sit in a SELECT whose WHERE bounds the input's
# partition column by the window, `col >= <start>` and `col < <end>`, which BigQuery prunes on.
# The session facts also read, by design, EVERY event of the sessions the window touches
# however far apart (docs/metrics.md: a session is (user_id, user_session)); those reads cannot
# be bounded by the window and are listed here, one each, so any other unbounded read fails.
# Their cost is stated in docs/deploy.md.
SESSION_REBUILD_READS = {
    ("fct_session_products", "fct_events"): 1,
    ("fct_sessions", "fct_session_products"): 1,
}


def _bound(where: exp.Expression | None, column: str, kind: type, day: str) -> bool:
    """`column <kind> <a literal of day>` is one of the AND-ed conditions of `where`."""
    if where is None:
        return False
    for condition in where.this.flatten() if isinstance(where.this, exp.And) else [where.this]:
        if (
            isinstance(condition, kind)
            and isinstance(condition.this, exp.Column)
            and condition.this.name == column
            and any(day in lit.this for lit in condition.expression.find_all(exp.Literal))
        ):
            return True
    return False


def window_reads(sql: str, inputs: dict[str, str]) -> list[tuple[str, bool]]:
    """(input, read only inside the window?) for each read of an input in `sql`; `inputs` maps
    an input's table name to its partition column."""
    reads = []
    for statement in sqlglot.parse(sql, read="bigquery"):
        for table in statement.find_all(exp.Table) if statement else ():
            if table.name not in inputs:
                continue
            select = table.find_ancestor(exp.Select)
            where = select.args.get("where") if select else None
            column = inputs[table.name]
            pruned = _bound(where, column, exp.GTE, WINDOW[0]) and _bound(
                where, column, exp.LT, WINDOW[1]
            )
            reads.append((table.name, pruned))
    return reads


def _partition_column(node: dict) -> str | None:
    """A stored model's partition column; a view's the column it passes its source's through
    (its event_time, checked against the raw table's DDL below)."""
    return (node["config"].get("partition_by") or {}).get("field") or node["config"].get(
        "event_time"
    )


def test_raw_events_partition_column_is_the_sources_event_time(compiled: Compiled):
    from dagster_project.lib.ingest.bigquery_load import raw_tables_ddl

    (source,) = [s for s in compiled.manifest["sources"].values() if s["name"] == "events"]
    ddl = sqlglot.parse(raw_tables_ddl("p", "d"), read="bigquery")[0]
    partition = ddl.find(exp.PartitionedByProperty)
    assert (
        partition is not None and partition.find(exp.Column).name == source["config"]["event_time"]
    )
    (staging,) = [n for n in compiled.nodes("model") if n["name"] == "stg_events"]
    assert staging["config"]["event_time"] == source["config"]["event_time"]


def test_every_daily_model_prunes_to_the_window_partitions(compiled: Compiled):
    nodes = {node["unique_id"]: node for node in compiled.nodes("model")}
    daily = [n for n in nodes.values() if DAILY_TAG in n["tags"]]
    facts = [n for n in daily if n["config"].get("materialized") not in STORES_NOTHING]
    assert {n["name"] for n in facts} >= {"fct_events", "fct_user_daily", "fct_sessions"}
    problems, unbounded = [], {}
    for node in facts:
        inputs = {
            nodes[uid]["alias"]: _partition_column(nodes[uid])
            for uid in node["depends_on"]["nodes"]
            if uid in nodes and DAILY_TAG in nodes[uid]["tags"]
        }
        assert inputs and all(inputs.values()), f"{node['name']}: inputs {inputs}"
        reads = window_reads(Path(compiled.target / node["compiled_path"]).read_text(), inputs)
        if not any(pruned for _, pruned in reads):
            problems.append(f"{node['name']}: no read of {sorted(inputs)} inside the window")
        for name, pruned in reads:
            if not pruned:
                unbounded[(node["name"], name)] = unbounded.get((node["name"], name), 0) + 1
    assert not problems, "\n".join(problems)
    assert unbounded == SESSION_REBUILD_READS, (
        f"reads of daily inputs not bounded by the window: {unbounded}"
    )


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (f"select * from t where ts >= timestamp('{WINDOW[0]}') and ts < '{WINDOW[1]}'", True),
        # one bound only, the wrong column, another window, or the filter in another SELECT
        (f"select * from t where ts >= timestamp('{WINDOW[0]}')", False),
        (f"select * from t where other >= '{WINDOW[0]}' and other < '{WINDOW[1]}'", False),
        ("select * from t where ts >= '2000-01-01' and ts < '2000-01-02'", False),
        (f"select * from t join (select 1 from u where ts >= '{WINDOW[0]}' and ts < "
         f"'{WINDOW[1]}') using (x)", False),
        (f"select * from t where ts >= '{WINDOW[0]}' or ts < '{WINDOW[1]}'", False),
    ],
)  # fmt: skip
def test_window_read_check_can_fail(sql, expected):
    assert window_reads(sql, {"t": "ts"}) == [("t", expected)]


# ---- A day a corrected file empties is emptied on BigQuery too ----
#
# The day facts (DAY_FACTS) replace the window's days with a pre-hook that
# deletes the window's rows, then insert the new rows (a merge with no key: insert only). The
# delete depends on the window only, never on the new rows, so days that now have no rows are
# emptied; the old failure (an insert_overwrite/microbatch that replaces only the partitions the
# new rows fall in) cannot happen. `dbt compile --no-introspect` renders no hook (it cannot know
# the table exists), so the hook's statement is rendered by its macro with the same window.
DAY_FACTS = {"fct_events", "fct_user_daily", "ml_user_days", "ml_user_catalog"}
_HOOK = re.compile(r"^\{\{\s*estore_delete_window\('(\w+)'\)\s*\}\}$")


@pytest.fixture(scope="module")
def window_deletes(compiled: Compiled) -> dict[str, exp.Delete]:
    day_facts = [
        node
        for node in compiled.nodes("model")
        if DAILY_TAG in node["tags"]
        and any("estore_delete_window" in hook["sql"] for hook in node["config"]["pre-hook"])
    ]
    assert {node["name"] for node in day_facts} == DAY_FACTS
    calls = []
    for node in day_facts:
        (hook,) = node["config"]["pre-hook"]
        column = _HOOK.match(hook["sql"].strip()).group(1)
        assert column == node["config"]["partition_by"]["field"], node["name"]
        assert node["config"]["incremental_strategy"] == "merge", node["name"]
        assert not node["config"].get("unique_key"), node["name"]  # insert only, no update
        relation = (
            f"api.Relation.create(database='{node['database']}', schema='{node['schema']}', "
            f"identifier='{node['alias']}')"
        )
        calls.append(f"{{{{ estore_window_delete_sql({relation}, '{column}') }}}};")
    # Its own target folder (an inline compile rewrites the manifest), seeded with the parse.
    tmp = compiled.target.parent
    inline = tmp / "inline"
    (inline / "target").mkdir(parents=True, exist_ok=True)
    shutil.copy(compiled.target / "partial_parse.msgpack", inline / "target")
    command = [
        _dbt_executable(),
        "compile",
        "--target",
        "prod",
        "--no-introspect",
        "--no-populate-cache",
        "--quiet",
        "--vars",
        json.dumps({"min_date": WINDOW[0], "max_date": WINDOW[1]}),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--inline",
        "\n".join(calls),
    ]
    keyfile = tmp / "service-account.json"
    result = subprocess.run(
        command,
        env=offline_env(inline, keyfile, "estore-offline-compile"),
        cwd=inline,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    statements = [s for s in sqlglot.parse(result.stdout, read="bigquery") if s is not None]
    assert all(isinstance(s, exp.Delete) for s in statements), result.stdout
    return {s.this.name: s for s in statements}


def test_day_facts_delete_the_whole_window_whatever_the_new_rows(compiled, window_deletes):
    assert set(window_deletes) == DAY_FACTS
    for name, delete in window_deletes.items():
        (node,) = [n for n in compiled.nodes("model") if n["name"] == name]
        column = node["config"]["partition_by"]["field"]
        where = delete.args["where"]
        assert _bound(where, column, exp.GTE, WINDOW[0]), where.sql("bigquery")
        assert _bound(where, column, exp.LT, WINDOW[1]), where.sql("bigquery")
        # Only the window decides: no subquery, no other table, so an empty day is emptied.
        assert delete.find(exp.Select) is None
        assert [t.name for t in delete.find_all(exp.Table)] == [name]
        assert {c.name for c in where.find_all(exp.Column)} == {column}
