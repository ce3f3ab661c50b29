"""The offline BigQuery gate: compile the dbt project for the `prod` (BigQuery) target without
credentials, then check every compiled model and data test with sqlglot's BigQuery dialect.

CI tooling, not part of the installed package: python/tests/test_bigquery_gate.py runs it, and so
does `python -m vehicle_recs_dev.bigquery_gate [--keep DIR] [--timeout S]` (`make
check-bigquery`), which prints every problem and exits 1 on any.

How the compile stays offline: the `prod` output of
`profiles.yml.example` is used as it is (`method: service-account`); the keyfile is a dummy
service-account JSON generated in a temporary folder (a throwaway RSA key, never a real secret)
whose token URI points at a closed local port, `NO_GCE_CHECK=True` stops the metadata-server
probe, and dbt runs with `--no-populate-cache --no-introspect`. dbt runs in a subprocess with a
timeout: anything that queries the warehouse at compile time (`run_query`, `statement`,
`is_incremental()`, `adapter.get_columns_in_relation`, `date_spine`) fails the gate with a message
naming those, instead of hanging on token refreshes.

What each compiled node is checked for (`check_sql`):

1. Tokens a BigQuery parse would silently rewrite or that mean something else there (the scan
   runs on sqlglot's BigQuery tokens, so comments, string literals and backtick identifiers
   never match): `::`, `* exclude`, `ilike`, `try_cast`, double-quoted strings (a string on
   BigQuery, an identifier on DuckDB), list literals `[...]`, bare subscripts `x[1]` (0-based on
   BigQuery, 1-based on DuckDB), `{...}` struct literals, `->`/`->>`, `anti`/`semi`/`asof`/
   `positional` joins, and a string first argument to `date_trunc`/`date_diff`/`date_part`.
2. It parses with `read="bigquery"`.
3. Every function called is a BigQuery built-in (`BIGQUERY_FUNCTIONS`, from Google's function
   reference; `safe.<fn>` and a few namespaces such as `net.` are allowed). sqlglot alone is not
   enough: it reads DuckDB's `median`, `bool_or`, `len`, `nvl`, `year(...)` as known functions.
4. No unquoted BigQuery reserved keyword names a column, alias or table.
5. `sqlglot.optimizer.qualify` against a schema of the raw sources (contract.RAW_SCHEMAS in
   BigQuery types, `bigquery_io.raw_columns`), the seeds (their CSV headers) and every upstream
   model's output columns (found by qualifying and type-annotating the models in DAG order): an
   unknown column fails, and so does a table that is neither a CTE nor a known relation.
6. Seeds: every `column_types` entry is a type a BigQuery load job takes (`varchar`, `bigint`,
   `double`, `decimal(12,2)` are DuckDB names BigQuery refuses).

Not checked here, and how it is covered instead:
- Unit tests: `dbt compile` does not compile them; the emulator run (`dbt build` through
  dbt-bigquery against crucible, python/tests/test_bigquery_emulator.py) executes them.
- A column missing from GROUP BY, UNION branches of different types, wrong argument types,
  runtime errors (division by zero, bad casts): the emulator run executes every model and
  data test, and compares staging (and later the final model) row for row with DuckDB.
- Constructs the emulator translates leniently (it rewrites BigQuery SQL into DuckDB) are caught
  by this gate, not by the emulator: the two are used together.
- Hooks (`pre_hook`/`post_hook`) and `sql_header` are not in `compiled_code`; the project has
  none. Enforced contracts are checked by the emulator run (dbt checks them at run time).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

import click

from vehicle_recs.project import DbtError

# Dummy values for the `prod` output of profiles.yml.example; nothing is ever sent to them.
OFFLINE_PROJECT = "vehicle-recs-offline"
OFFLINE_DATASET = "vehicle_recs"
# How long the offline compile may take before the gate calls it a hang.
COMPILE_TIMEOUT_SECONDS = 300.0
# Where the dummy key sends token refreshes: a closed local port, so a refresh fails at once.
DEAD_TOKEN_URI = "http://127.0.0.1:9/token"

HANG_HINT = (
    "something queries the warehouse at compile time (run_query, statement, is_incremental(), "
    "adapter.get_columns_in_relation, date_spine); compile must not need a connection"
)

# Words in a failed compile's error that point at a warehouse query rather than at the SQL.
WAREHOUSE_WORDS = ("refresh", "token", "credential", "connection", "database error", "transport")
# The folder holding the vehicle_recs_dev package: on the compile subprocess's PYTHONPATH.
DEV_ROOT = Path(__file__).resolve().parents[1]


class BigQueryGateError(DbtError):
    """The project does not compile for BigQuery, or its compiled SQL is not valid BigQuery."""


@dataclass(frozen=True)
class Problem:
    """One finding of the gate, shown as `node: message`."""

    node: str
    message: str

    def __str__(self) -> str:
        return f"{self.node}: {self.message}"


@dataclass
class GateResult:
    """What the gate checked and what it found."""

    checked: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    manifest_path: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


# ------------------------------------------------------------------------------------------------
# BigQuery vocabulary


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# BigQuery built-in functions (GoogleSQL function reference), lower case. Geography (st_*),
# ML, search and AEAD functions are left out on purpose: the project has no use for them, and a
# model that needs one should fail here and be looked at.
BIGQUERY_FUNCTIONS: frozenset[str] = _words("""
    any_value array_agg array_concat_agg avg bit_and bit_or bit_xor count countif grouping
    logical_and logical_or max max_by min min_by string_agg sum
    approx_count_distinct approx_quantiles approx_top_count approx_top_sum
    corr covar_pop covar_samp stddev stddev_pop stddev_samp var_pop var_samp variance
    first_value last_value nth_value lead lag percentile_cont percentile_disc
    row_number rank dense_rank percent_rank cume_dist ntile
    cast safe_cast parse_bignumeric parse_numeric bool int64 float64 string
    lax_bool lax_int64 lax_float64 lax_string
    coalesce if ifnull nullif nullifzero zeroifnull iferror iserror error
    abs acos acosh asin asinh atan atan2 atanh cbrt ceil ceiling cos cosh cot coth csc csch
    div exp floor greatest ieee_divide is_inf is_nan least ln log log10 mod pow power rand
    range_bucket round safe_add safe_divide safe_multiply safe_negate safe_subtract sec sech
    sign sin sinh sqrt tan tanh trunc cosine_distance euclidean_distance
    ascii byte_length char_length character_length chr code_points_to_bytes
    code_points_to_string collate concat contains_substr edit_distance ends_with format
    from_base32 from_base64 from_hex initcap instr left length lower lpad ltrim normalize
    normalize_and_casefold octet_length regexp_contains regexp_extract regexp_extract_all
    regexp_instr regexp_replace regexp_substr repeat replace reverse right rpad rtrim
    safe_convert_bytes_to_string soundex split starts_with strpos substr substring to_base32
    to_base64 to_code_points to_hex translate trim unicode upper
    farm_fingerprint md5 sha1 sha256 sha512
    current_date date date_add date_bucket date_diff date_from_unix_date date_sub date_trunc
    extract format_date last_day parse_date unix_date
    current_datetime datetime datetime_add datetime_bucket datetime_diff datetime_sub
    datetime_trunc format_datetime parse_datetime
    current_time time time_add time_diff time_sub time_trunc format_time parse_time
    current_timestamp format_timestamp parse_timestamp timestamp timestamp_add
    timestamp_bucket timestamp_diff timestamp_micros timestamp_millis timestamp_seconds
    timestamp_sub timestamp_trunc unix_micros unix_millis unix_seconds
    make_interval justify_days justify_hours justify_interval
    array array_concat array_first array_last array_length array_reverse array_slice
    array_to_string array_includes array_includes_all array_includes_any array_filter
    array_transform generate_array generate_date_array generate_timestamp_array unnest
    offset safe_offset ordinal safe_ordinal struct
    json_extract json_extract_scalar json_extract_array json_extract_string_array json_query
    json_value json_query_array json_value_array parse_json to_json to_json_string json_type
    json_object json_array json_set json_remove json_strip_nulls json_keys
    generate_uuid session_user range range_start range_end range_contains range_overlaps
    range_intersect
""")

# Function namespaces BigQuery has: `safe.<fn>` (the function must be a built-in) and the
# grouped ones, whose members are not listed one by one.
SAFE_NAMESPACE = "safe"
FUNCTION_NAMESPACES = frozenset({"net", "hll_count", "kll_quantiles", "keys", "aead"})

# Words followed by "(" that are syntax, not function calls.
SYNTAX_WORDS = _words("""
    all and any as between by case else end except exists filter from group having in
    intersect interval into join lateral limit not of on or order over partition
    pivot qualify recursive replace returns rows select some table tablesample then union
    unpivot using values when where window with within
""")

# BigQuery's reserved keywords: an unquoted one cannot name a column, alias or table.
RESERVED_KEYWORDS = _words("""
    all and any array as asc assert_rows_modified at between by case cast collate contains
    create cross cube current default define desc distinct else end enum escape except exclude
    exists extract false fetch following for from full group grouping groups hash having if
    ignore in inner intersect interval into is join lateral left like limit lookup merge natural
    new no not null nulls of on or order outer over partition preceding proto qualify range
    recursive respect right rollup rows select set some struct tablesample then to treat true
    unbounded union unnest using when where window with within
""")

# DuckDB (or Postgres) words a BigQuery parse accepts or rewrites without complaint.
DUCKDB_ONLY_WORDS: Mapping[str, str] = {
    "exclude": "`* exclude (...)` is DuckDB; sqlglot rewrites it to BigQuery's `* except`",
    "ilike": "`ilike` is not BigQuery; use lower(x) like lower(pattern)",
    "try_cast": "`try_cast` is DuckDB; use {{ dbt.safe_cast(...) }}",
    "list_value": "`list_value` is DuckDB",
    "epoch_ms": "`epoch_ms` is DuckDB",
    "strftime": "`strftime` is DuckDB; use a dispatched macro (format_timestamp on BigQuery)",
    "strptime": "`strptime` is DuckDB; use a dispatched macro (parse_timestamp on BigQuery)",
}
DUCKDB_ONLY_JOINS = frozenset({"anti", "semi", "asof", "positional"})
# Functions whose first argument is a date part on DuckDB and a value on BigQuery.
DATE_PART_FIRST = frozenset({"date_trunc", "date_diff", "datediff", "date_part", "datepart"})
SUBSCRIPT_WRAPPERS = frozenset({"offset", "safe_offset", "ordinal", "safe_ordinal"})


# ------------------------------------------------------------------------------------------------
# Checking one SQL string


def scan_tokens(sql: str) -> list[str]:
    """Messages for DuckDB-only tokens in `sql`, read with sqlglot's BigQuery tokenizer."""
    import sqlglot
    from sqlglot.tokens import TokenType

    try:
        tokens = sqlglot.tokenize(sql, read="bigquery")
    except Exception as error:  # noqa: BLE001 - sqlglot raises several kinds
        return [f"does not tokenize as BigQuery: {_first_line(error)}"]
    messages: list[str] = []
    expression_end = {TokenType.VAR, TokenType.IDENTIFIER, TokenType.R_PAREN,
                      TokenType.R_BRACKET}

    def add(message: str, token: Any) -> None:
        messages.append(f"{message} (line {token.line})")

    for index, token in enumerate(tokens):
        before = tokens[index - 1] if index > 0 else None
        after = tokens[index + 1] if index + 1 < len(tokens) else None
        word = token.text.lower()
        kind = token.token_type
        if kind == TokenType.DCOLON:
            add("`::` cast is DuckDB/Postgres; use cast(x as type)", token)
        elif kind in (TokenType.ARROW, TokenType.DARROW):
            add(f"`{token.text}` is DuckDB (JSON arrow or lambda)", token)
        elif kind == TokenType.L_BRACE:
            add("`{...}` struct literal is DuckDB", token)
        elif kind == TokenType.STRING:
            raw = sql[token.start:token.end + 1].lstrip("rRbB")
            if raw.startswith('"'):
                add(f'double-quoted "{token.text}" is a string on BigQuery and an identifier on '
                    "DuckDB; use single quotes", token)
        elif kind == TokenType.L_BRACKET:
            if before is None or before.token_type not in expression_end:
                add("list/array literal `[...]` is one-engine syntax", token)
            elif after is None or (after.text.lower() not in SUBSCRIPT_WRAPPERS
                                   and after.token_type != TokenType.STRING):
                add("bare subscript `x[i]` is 0-based on BigQuery and 1-based on DuckDB; use "
                    "a dispatched macro", token)
        elif kind == TokenType.IDENTIFIER:
            continue  # backtick-quoted: a name, never syntax
        elif word in DUCKDB_ONLY_WORDS and not (before and before.token_type == TokenType.DOT):
            add(DUCKDB_ONLY_WORDS[word], token)
        elif word in DUCKDB_ONLY_JOINS and after is not None and after.text.lower() == "join":
            add(f"`{word} join` is DuckDB", token)
        elif (word in DATE_PART_FIRST and after is not None
              and after.token_type == TokenType.L_PAREN and index + 2 < len(tokens)
              and tokens[index + 2].token_type == TokenType.STRING):
            add(f"`{word}('part', ...)` puts the date part first (DuckDB); BigQuery is "
                f"{word}(value, part): use the dbt cross-database macro", token)
    return messages


def called_functions(sql: str) -> list[tuple[str, int]]:
    """(name, line) of every function call in `sql`; `ns.fn` calls keep their dotted name."""
    import sqlglot
    from sqlglot.tokens import TokenType

    tokens = sqlglot.tokenize(sql, read="bigquery")
    calls: list[tuple[str, int]] = []
    for index, token in enumerate(tokens[:-1]):
        if tokens[index + 1].token_type != TokenType.L_PAREN:
            continue
        if token.token_type in (TokenType.STRING, TokenType.NUMBER, TokenType.IDENTIFIER):
            continue
        word = token.text.lower()
        if not word.replace("_", "").isalnum() or word[0].isdigit():
            continue
        if index > 0 and tokens[index - 1].token_type == TokenType.DOT:
            prefix = tokens[index - 2] if index > 1 else None
            namespace = prefix.text.lower() if prefix is not None else ""
            calls.append((f"{namespace}.{word}", token.line))
            continue
        if word in SYNTAX_WORDS or word in DUCKDB_ONLY_WORDS:
            continue  # syntax, or already reported by scan_tokens
        calls.append((word, token.line))
    return calls


def check_functions(sql: str) -> list[str]:
    """Messages for calls to functions BigQuery does not have."""
    messages: list[str] = []
    for name, line in called_functions(sql):
        if "." in name:
            namespace, _, member = name.partition(".")
            if namespace == SAFE_NAMESPACE and member in BIGQUERY_FUNCTIONS | {"divide"}:
                continue
            if namespace in FUNCTION_NAMESPACES:
                continue
            messages.append(f"`{name}(...)` is not a BigQuery built-in function (line {line})")
        elif name not in BIGQUERY_FUNCTIONS:
            messages.append(f"`{name}(...)` is not a BigQuery function (line {line})")
    return messages


def check_reserved(tree: Any) -> list[str]:
    """Messages for unquoted BigQuery reserved keywords used as names."""
    from sqlglot import exp

    found = sorted({
        identifier.name for identifier in tree.find_all(exp.Identifier)
        if not identifier.quoted and identifier.name.lower() in RESERVED_KEYWORDS
    })
    return [f"`{name}` is a reserved keyword on BigQuery; rename it" for name in found]


def check_sql(sql: str, schema: Any | None = None) -> tuple[list[str], Any | None]:
    """All messages for one compiled SQL string, and the qualified tree (None if it failed).

    `schema` is a sqlglot MappingSchema (BigQuery dialect) of every relation the SQL may read;
    without one, unknown columns are not looked for.
    """
    import sqlglot
    from sqlglot.errors import SqlglotError
    from sqlglot.optimizer.qualify import qualify

    messages = scan_tokens(sql)
    messages += check_functions(sql) if not messages or "tokenize" not in messages[0] else []
    try:
        tree = sqlglot.parse_one(sql, read="bigquery")
    except SqlglotError as error:
        return [*messages, f"does not parse as BigQuery: {_first_line(error)}"], None
    messages += check_reserved(tree)
    if schema is None:
        return messages, None
    unknown = unknown_tables(tree, schema)
    if unknown:
        return [*messages, *(f"unknown table {name}" for name in unknown)], None
    try:
        qualified = qualify(tree, schema=schema, dialect="bigquery",
                            validate_qualify_columns=True, identify=False)
    except SqlglotError as error:
        return [*messages, f"unknown column or table: {_first_line(error)}"], None
    return messages, qualified


def unknown_tables(tree: Any, schema: Any) -> list[str]:
    """Tables the SQL reads that are neither a CTE nor in `schema` (qualify would let them by)."""
    from sqlglot import exp

    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    unknown: list[str] = []
    for table in tree.find_all(exp.Table):
        if not table.name or (not table.db and table.name.lower() in ctes):
            continue
        if schema.find(table, raise_on_missing=False) is None:
            unknown.append(exp.table_name(table, dialect="bigquery", identify=True))
    return sorted(set(unknown))


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# ------------------------------------------------------------------------------------------------
# Schemas: raw sources, seeds, models in DAG order


def _documented_columns(node: Mapping[str, Any]) -> dict[str, str]:
    return {name: (column.get("data_type") or "UNKNOWN").upper()
            for name, column in (node.get("columns") or {}).items()}


def _seed_columns(node: Mapping[str, Any], project_dir: Path | None) -> dict[str, str]:
    import csv

    root = Path(node.get("root_path") or project_dir or ".")
    path = root / node["original_file_path"]
    with path.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), [])
    declared = {k.lower(): str(v).upper()
                for k, v in ((node.get("config") or {}).get("column_types") or {}).items()}
    return {name.strip(): declared.get(name.strip().lower(), "UNKNOWN") for name in header}


# Column types a BigQuery load job (dbt seeds) accepts.
BIGQUERY_LOAD_TYPES = _words("""
    string bytes int64 integer float float64 numeric bignumeric bool boolean timestamp date time
    datetime geography json
""")


def check_seed_types(node: Mapping[str, Any]) -> list[str]:
    """Messages for seed `column_types` BigQuery cannot load (e.g. DuckDB's `varchar`)."""
    declared = (node.get("config") or {}).get("column_types") or {}
    return [f"seed column {column} has type `{kind}`, which a BigQuery load does not take; use "
            "one both engines know (string, int64, numeric, boolean, date, timestamp) or leave "
            "it to type inference"
            for column, kind in declared.items()
            if str(kind).strip().lower() not in BIGQUERY_LOAD_TYPES]


def _output_columns(qualified: Any) -> dict[str, str]:
    from sqlglot.optimizer.annotate_types import annotate_types

    try:
        annotated = annotate_types(qualified, dialect="bigquery")
    except Exception:  # noqa: BLE001 - types are a nicety; names are what matter
        annotated = qualified
    columns: dict[str, str] = {}
    for select in annotated.selects:
        kind = select.type.sql("bigquery") if select.type is not None else "UNKNOWN"
        columns[select.alias_or_name] = kind if kind and kind != "UNKNOWN" else "UNKNOWN"
    return columns


def _dag_order(nodes: Mapping[str, Mapping[str, Any]]) -> list[str]:
    graph = {uid: [dep for dep in (node.get("depends_on") or {}).get("nodes", [])
                   if dep in nodes]
             for uid, node in nodes.items()}
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError as error:
        raise BigQueryGateError(f"dependency cycle in the manifest: {error.args[1]}") from error


CHECKED_TYPES = ("model", "test", "snapshot", "analysis")


def check_manifest(manifest: Mapping[str, Any], *,
                   raw_schemas: Mapping[str, Mapping[str, str]] | None = None,
                   project_dir: Path | None = None) -> GateResult:
    """Check every compiled model, snapshot and data test of a dbt manifest (BigQuery target).

    Models are checked in DAG order; each one's output columns join the schema its children are
    qualified against. A node downstream of one that could not be resolved is still scanned and
    parsed, but its columns are not looked up (the upstream problem is already reported).
    """
    from sqlglot import exp
    from sqlglot.schema import MappingSchema

    from vehicle_recs.bigquery_io import raw_columns

    raw = dict(raw_schemas) if raw_schemas is not None else raw_columns()
    schema = MappingSchema(dialect="bigquery")
    result = GateResult()
    unresolved: set[str] = set()

    def add_relation(relation: str | None, columns: Mapping[str, str]) -> None:
        if relation:
            schema.add_table(exp.to_table(relation, dialect="bigquery"), dict(columns),
                             dialect="bigquery")

    for uid, source in (manifest.get("sources") or {}).items():
        columns = raw.get(source["identifier"]) or raw.get(source["name"])
        if not columns:
            columns = _documented_columns(source)
        if not columns:
            result.problems.append(Problem(
                source.get("name", uid), "source has no known columns (not in the raw contract "
                "and none documented)"))
            unresolved.add(uid)
            continue
        add_relation(source.get("relation_name"), columns)

    nodes = manifest.get("nodes") or {}
    for uid in _dag_order(nodes):
        node = nodes[uid]
        kind = node.get("resource_type")
        if kind == "seed":
            result.problems.extend(Problem(node["name"], message)
                                   for message in check_seed_types(node))
            try:
                if node.get("relation_name"):
                    add_relation(node["relation_name"], _seed_columns(node, project_dir))
            except (OSError, KeyError) as error:
                result.problems.append(Problem(node["name"], f"cannot read seed: {error}"))
                unresolved.add(uid)
            continue
        if kind not in CHECKED_TYPES or not node.get("compiled_code"):
            continue
        name = node["name"]
        deps = (node.get("depends_on") or {}).get("nodes", [])
        blocked = any(dep in unresolved for dep in deps)
        messages, qualified = check_sql(node["compiled_code"], None if blocked else schema)
        result.checked.append(name)
        result.problems.extend(Problem(name, message) for message in messages)
        if kind in ("model", "snapshot"):
            if qualified is None:
                unresolved.add(uid)
            else:
                add_relation(node.get("relation_name"), _output_columns(qualified))
    return result


# ------------------------------------------------------------------------------------------------
# Compiling offline


def write_dummy_keyfile(folder: Path, project: str = OFFLINE_PROJECT) -> Path:
    """A syntactically valid service-account key made on the spot: a throwaway RSA key whose
    token URI is a closed local port. It is no secret and opens nothing."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path = folder / "offline-service-account.json"
    path.write_text(json.dumps({
        "type": "service_account",
        "project_id": project,
        "private_key_id": "offline",
        "private_key": pem,
        "client_email": f"offline@{project}.iam.gserviceaccount.com",
        "client_id": "0",
        "token_uri": DEAD_TOKEN_URI,
    }))
    path.chmod(0o600)
    return path


def offline_environment(keyfile: Path, target: str = "prod") -> dict[str, str]:
    """Environment for an offline BigQuery compile: the copied env plus dummy profile values."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("DBT_PROFILES_DIR", "DBT_TARGET_PATH", "VEHICLE_RECS_DUCKDB_PATH")}
    env.update({
        "PYTHONPATH": os.pathsep.join([str(DEV_ROOT), *filter(None, [env.get("PYTHONPATH")])]),
        "GOOGLE_APPLICATION_CREDENTIALS": str(keyfile),
        "NO_GCE_CHECK": "True",
        "VEHICLE_RECS_TARGET": target,
        "VEHICLE_RECS_BQ_PROJECT": OFFLINE_PROJECT,
        "VEHICLE_RECS_BQ_DATASET": OFFLINE_DATASET,
        "VEHICLE_RECS_BQ_LOCATION": "US",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    })
    return env


def compile_for_bigquery(target_path: Path, *, project_dir: Path | None = None,
                         select: Sequence[str] = (), dbt_vars: Mapping[str, Any] | None = None,
                         timeout: float = COMPILE_TIMEOUT_SECONDS) -> Path:
    """`dbt compile` for the `prod` target, offline, in a subprocess; returns manifest.json.

    Raises BigQueryGateError when dbt fails or does not finish within `timeout` seconds.
    """
    from vehicle_recs.project import find_project_dir

    project_dir = (project_dir or find_project_dir()).resolve()
    target_path = target_path.resolve()
    target_path.mkdir(parents=True, exist_ok=True)
    request = {"project_dir": str(project_dir), "target_path": str(target_path),
               "select": list(select), "dbt_vars": dict(dbt_vars or {})}
    with tempfile.TemporaryDirectory(prefix="vehicle-recs-bq-") as folder:
        env = offline_environment(write_dummy_keyfile(Path(folder)))
        command = [sys.executable, "-m", "vehicle_recs_dev.bigquery_gate", "--compile-request",
                   json.dumps(request)]
        try:
            done = subprocess.run(command, env=env, cwd=project_dir, capture_output=True,
                                  text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as error:
            raise BigQueryGateError(
                f"BigQuery compile did not finish in {timeout:.0f} s: {HANG_HINT}") from error
    if done.returncode != 0:
        detail = _dbt_error(done.stdout + "\n" + done.stderr)
        if any(word in detail.lower() for word in WAREHOUSE_WORDS):
            detail += f" -- probably {HANG_HINT}"
        raise BigQueryGateError(f"BigQuery compile failed: {detail}")
    manifest = target_path / "manifest.json"
    if not manifest.is_file():
        raise BigQueryGateError(f"BigQuery compile wrote no manifest in {target_path}")
    return manifest


def _dbt_error(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for marker in ("Compilation Error", "Database Error", "Runtime Error", "Parsing Error",
                   "Encountered an error", "DbtError", "Error"):
        for index, line in enumerate(lines):
            if marker in line:
                return " ".join(lines[index:index + 3])[:600]
    return (lines[-1] if lines else "no output")[:600]


def _compile_in_this_process(request: Mapping[str, Any]) -> None:
    from vehicle_recs.project import DbtProject

    project = DbtProject(project_dir=Path(request["project_dir"]), target="prod",
                         target_path=Path(request["target_path"]),
                         duckdb_path=Path(request["target_path"]) / "unused.duckdb",
                         dbt_vars=dict(request.get("dbt_vars") or {}))
    command = ["compile", "--no-populate-cache", "--no-introspect"]
    if request.get("select"):
        command += ["--select", *request["select"]]
    project.invoke(command)


# ------------------------------------------------------------------------------------------------
# The gate


def run_gate(*, project_dir: Path | None = None, work_dir: Path | None = None,
             select: Sequence[str] = (), timeout: float = COMPILE_TIMEOUT_SECONDS) -> GateResult:
    """Compile for BigQuery offline and check every compiled node. `work_dir` keeps the target
    folder (manifest, compiled SQL) for inspection; by default a temporary folder is used."""
    from vehicle_recs.project import find_project_dir

    project_dir = (project_dir or find_project_dir()).resolve()

    def gate(folder: Path) -> GateResult:
        manifest_path = compile_for_bigquery(folder / "target", project_dir=project_dir,
                                             select=select, timeout=timeout)
        manifest = json.loads(manifest_path.read_text())
        result = check_manifest(manifest, project_dir=project_dir)
        result.manifest_path = manifest_path
        return result

    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
        return gate(work_dir)
    with tempfile.TemporaryDirectory(prefix="vehicle-recs-gate-") as folder:
        result = gate(Path(folder))
        result.manifest_path = None
        return result


def format_problems(problems: Iterable[Problem]) -> str:
    return "\n".join(str(problem) for problem in problems)


@click.command()
@click.option("--keep", "work_dir", type=click.Path(path_type=Path), default=None,
              help="Keep the BigQuery target folder (manifest, compiled SQL) here.")
@click.option("--timeout", type=float, default=COMPILE_TIMEOUT_SECONDS, show_default=True,
              help="Seconds the offline compile may take before it counts as a hang.")
@click.option("--compile-request", "compile_request", default=None, hidden=True,
              help="JSON request: be the compile subprocess of compile_for_bigquery.")
def main(work_dir: Path | None, timeout: float, compile_request: str | None) -> None:
    """Compile for BigQuery offline and check every model and test with sqlglot (no credentials)."""
    if compile_request is not None:
        try:
            _compile_in_this_process(json.loads(compile_request))
        except DbtError as failure:
            click.echo(f"DbtError: {failure}", err=True)
            sys.exit(1)
        return
    click.echo("dbt compile --target prod (offline) + sqlglot checks ...", err=True)
    try:
        result = run_gate(work_dir=work_dir, timeout=timeout)
    except BigQueryGateError as failure:
        raise click.ClickException(str(failure)) from failure
    if result.problems:
        click.echo(format_problems(result.problems))
        raise click.ClickException(f"{len(result.problems)} BigQuery problem(s) in "
                                   f"{len(result.checked)} checked models and tests")
    click.echo(f"BigQuery gate passed: {len(result.checked)} models and tests checked")


if __name__ == "__main__":
    main()
