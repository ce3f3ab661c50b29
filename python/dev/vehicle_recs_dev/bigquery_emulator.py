"""Run the dbt project through dbt-bigquery against a local BigQuery emulator, and compare it
with the DuckDB build row for row.

Test tooling, not part of the installed package: the fixtures of python/tests/conftest.py and the
emulator tests (test_bigquery_emulator.py, test_bigquery_run.py, test_bigquery_backtest.py) use it.

The emulator is `crucible-emulator` 0.1.0a2 (pinned: pre-alpha). It pins its own duckdb and
sqlglot, so it lives in its own virtualenv, `<repo>/.venv-emulator` (made by `make
.venv-emulator/bin/crucible`; $VEHICLE_RECS_CRUCIBLE names another `crucible` executable).
Nothing here contacts Google: the server listens on 127.0.0.1, the BigQuery client uses
anonymous credentials and dbt-bigquery uses `method: oauth-secrets` with a static dummy token
and `api_endpoint` pointing at the emulator.

What the emulator supports and how this module works with it:
- Raw tables are loaded with the CSV load jobs of `vehicle-recs load-raw` (`bigquery_io`; the
  emulator loads CSV only, with an explicit schema): strings are always quoted (so '' stays ''
  and NULL is an empty unquoted field), decimals plain, timestamps `YYYY-MM-DD HH:MM:SS.ffffff`.
  A string holding a line break cannot be loaded (the emulator refuses it) and fails loudly.
  More of what it supports (DML, partition decorators, the Storage Read API): `bigquery_io`.
- `tabledata.list` of a view is not supported, so models are read back with queries.
- It translates BigQuery SQL to DuckDB, so it accepts some DuckDB-only syntax: the offline gate
  (`vehicle_recs_dev.bigquery_gate`) catches that, the emulator catches what runs wrong (GROUP BY,
  types, UNIONs, runtime errors, unit tests). Use both.

`compare_models` is the reusable check: a list of models (default: every staging model plus
the final model once it exists, `default_compared_models`) read from both warehouses, sorted,
and compared cell by cell, floats within a relative tolerance.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from vehicle_recs.project import DbtProject, find_project_dir

CRUCIBLE_VERSION = "0.1.0a2"
EMULATOR_VENV = ".venv-emulator"
EMULATOR_PROJECT = "vehicle-recs-emulator"
EMULATOR_DATASET = "vehicle_recs"
RAW_DATASET = "vehicle_recs_raw"
HEALTH_PATH = "/_crucible/health"
START_TIMEOUT_SECONDS = 30.0

# Models compared between DuckDB and the emulator besides every staging model. The final model
# joins the list as soon as its SQL file exists; add others here.
EXTRA_COMPARED_MODELS: tuple[str, ...] = ("fct_recommendation_candidates",)
# Floats (scores, rates) may differ in the last bits between engines.
FLOAT_RTOL = 1e-9
FLOAT_ATOL = 1e-12


class EmulatorError(RuntimeError):
    """The emulator is missing, did not start, or refused a request."""


# ------------------------------------------------------------------------------------------------
# The emulator process


def crucible_executable(project_dir: Path | None = None) -> Path:
    """$VEHICLE_RECS_CRUCIBLE, else `<repo>/.venv-emulator/bin/crucible` (may not exist)."""
    env = os.environ.get("VEHICLE_RECS_CRUCIBLE")
    if env:
        return Path(env)
    return (project_dir or find_project_dir()) / EMULATOR_VENV / "bin" / "crucible"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Emulator:
    """A running crucible server on 127.0.0.1."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@contextmanager
def running_emulator(log_dir: Path, executable: Path | None = None, *,
                     database: Path | None = None,
                     timeout: float = START_TIMEOUT_SECONDS) -> Iterator[Emulator]:
    """Start crucible on a free local port, wait for its health check, always stop it.

    `database`: a DuckDB file that keeps the emulator's state between starts (default: memory).
    """
    executable = executable or crucible_executable()
    if not executable.is_file():
        raise EmulatorError(f"BigQuery emulator not installed: {executable} is missing "
                            f"(run `make {EMULATOR_VENV}/bin/crucible`)")
    log_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = log_dir / f"crucible-{port}.log"
    with log_path.open("wb") as log:
        command = [str(executable), "serve", "--dialect", "bigquery", "--host", "127.0.0.1",
                   "--port", str(port)]
        if database is not None:
            command += ["--database", str(database)]
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
    emulator = Emulator(process=process, port=port, log_path=log_path)
    try:
        _wait_healthy(emulator, timeout)
        yield emulator
    finally:
        emulator.stop()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: the emulator gets SIGTERM when the process that started it dies, even by SIGKILL,
    so an interrupted test run never leaves a server behind."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _wait_healthy(emulator: Emulator, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if emulator.process.poll() is not None:
            raise EmulatorError(f"emulator exited with code {emulator.process.returncode}:\n"
                                f"{emulator.log_tail()}")
        try:
            with urllib.request.urlopen(emulator.endpoint + HEALTH_PATH, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise EmulatorError(f"emulator not healthy after {timeout:.0f} s:\n{emulator.log_tail()}")


# ------------------------------------------------------------------------------------------------
# Client, raw tables, dbt profile


def bigquery_client(endpoint: str, project: str = EMULATOR_PROJECT) -> Any:
    """A google-cloud-bigquery client for the emulator: anonymous, local endpoint only."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    return bigquery.Client(project=project, credentials=AnonymousCredentials(),
                           client_options=ClientOptions(api_endpoint=endpoint))


def table_csv(rows: Iterable[Mapping[str, Any]], columns: Mapping[str, str]) -> bytes:
    """Rows as the CSV a load job reads for these column types (`bigquery_io.csv_bytes`)."""
    import pyarrow as pa

    from vehicle_recs.bigquery_io import csv_bytes

    table = pa.Table.from_pylist(list(rows))
    return csv_bytes(table, columns).to_pybytes() if table.num_rows else b""


def load_raw_tables(client: Any, raw_dir: Path, dataset: str = RAW_DATASET) -> dict[str, int]:
    """Load every contract table from `<raw_dir>/<table>.parquet` into `dataset` with the load
    jobs of `vehicle-recs load-raw` (`bigquery_io.load_raw_tables`); row counts."""
    from vehicle_recs.bigquery_io import BigQueryTarget
    from vehicle_recs.bigquery_io import load_raw_tables as load

    target = BigQueryTarget(client=client, project=client.project, dataset=EMULATOR_DATASET,
                            raw_dataset=dataset, log_dataset=dataset)
    return load(target, raw_dir)


# Runs inside the emulator's own virtualenv (its duckdb writes the emulator's files): fills
# empty tables, made through the API, straight from Parquet.
_FILL_SCRIPT = r"""
import json, sys
import duckdb
meta, project, dataset, tables = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
def lit(text):
    return "'" + text.replace("'", "''") + "'"
def ident(text):
    return '"' + text.replace('"', '""') + '"'
con = duckdb.connect(":memory:")
con.execute(f"attach {lit(meta)} as meta (read_only)")
row = con.execute("select file from meta.main.catalogs where name = ?", [project]).fetchone()
if row is None or not row[0]:
    sys.exit(f"no catalog file for project {project} in {meta}")
con.execute("detach meta")
con.execute(f"attach {lit(row[0])} as cat")
for table, (path, columns) in tables.items():
    names = ", ".join(ident(c) for c in columns)
    con.execute(f"insert into cat.{ident(dataset)}.{ident(table)} ({names}) "
                f"select {names} from read_parquet({lit(path)})")
    count = con.execute(f"select count(*) from cat.{ident(dataset)}.{ident(table)}").fetchone()
    print(table, count[0])
con.close()
"""


def create_raw_tables(client: Any, dataset: str = RAW_DATASET) -> None:
    """The dataset and the ten empty raw tables, made through the API (the emulator picks the
    storage types)."""
    from google.cloud import bigquery

    from vehicle_recs.bigquery_io import raw_columns

    client.create_dataset(dataset, exists_ok=True)
    for table, columns in raw_columns().items():
        schema = [bigquery.SchemaField(name, kind) for name, kind in columns.items()]
        client.create_table(bigquery.Table(f"{client.project}.{dataset}.{table}", schema=schema),
                            exists_ok=True)


def fill_raw_tables(database: Path, raw_dir: Path, *, executable: Path | None = None,
                    project: str = EMULATOR_PROJECT, dataset: str = RAW_DATASET) -> dict[str, int]:
    """Copy `<raw_dir>/<table>.parquet` into the stopped emulator's state file; row counts.

    The emulator's load jobs insert about 9,000 cells a second (DuckDB `executemany` inside the
    emulator), so the xs data takes about three minutes to load; this writes it in a second.
    The load-job path itself (`vehicle-recs load-raw`) is exercised by dbt seeds, by
    `test_load_job_path_keeps_values` and by python/tests/test_bigquery_run.py.
    """
    from vehicle_recs.bigquery_io import raw_columns
    from vehicle_recs.contract import raw_path

    python = (executable or crucible_executable()).parent / "python"
    tables = {table: [str(raw_path(raw_dir, table).resolve()), list(columns)]
              for table, columns in raw_columns().items()}
    done = subprocess.run([str(python), "-c", _FILL_SCRIPT, str(database), project, dataset,
                           json.dumps(tables)], capture_output=True, text=True, check=False,
                          timeout=600)
    if done.returncode != 0:
        raise EmulatorError(f"filling the emulator's raw tables failed: {done.stderr.strip()}")
    counts = {}
    for line in done.stdout.splitlines():
        table, _, count = line.partition(" ")
        counts[table] = int(count)
    return counts


@contextmanager
def emulator_with_raw_data(work_dir: Path, raw_dir: Path, *, executable: Path | None = None,
                           dataset: str = RAW_DATASET) -> Iterator[Emulator]:
    """An emulator whose `dataset` holds the raw tables of `raw_dir`; always stopped after.

    Start once to make the dataset and empty tables through the API, stop, fill them from
    Parquet, and start again on the same state file.
    """
    database = work_dir / "crucible.duckdb"
    with running_emulator(work_dir, executable, database=database) as emulator:
        create_raw_tables(bigquery_client(emulator.endpoint), dataset)
    fill_raw_tables(database, raw_dir, executable=executable, dataset=dataset)
    with running_emulator(work_dir, executable, database=database) as emulator:
        yield emulator


def write_profile(folder: Path, endpoint: str, *, project: str = EMULATOR_PROJECT,
                  dataset: str = EMULATOR_DATASET, threads: int = 4,
                  target: str = "emulator") -> Path:
    """A profiles.yml whose output `target` (the default one) sends dbt-bigquery to the local
    emulator; name it `prod` to run `vehicle-recs ... --target prod` against the emulator."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "profiles.yml"
    path.write_text(
        "vehicle_recs:\n"
        f"  target: {target}\n"
        "  outputs:\n"
        f"    {target}:\n"
        "      type: bigquery\n"
        "      method: oauth-secrets\n"
        "      token: dummy-emulator-token\n"
        f"      project: {project}\n"
        f"      dataset: {dataset}\n"
        "      location: US\n"
        f"      threads: {threads}\n"
        f"      api_endpoint: {endpoint}\n"
        "      job_retries: 0\n"
    )
    return folder


@dataclass
class EmulatorDbtProject(DbtProject):
    """A DbtProject whose profile is a generated emulator profile, not profiles.yml.example."""

    profiles_folder: Path | None = None

    def profiles_dir(self) -> Path:
        if self.profiles_folder is None:
            raise EmulatorError("EmulatorDbtProject needs profiles_folder (see write_profile)")
        return self.profiles_folder


# ------------------------------------------------------------------------------------------------
# Comparing DuckDB with the emulator


def default_compared_models(project_dir: Path | None = None) -> list[str]:
    """Every staging model, plus EXTRA_COMPARED_MODELS whose SQL file exists."""
    models_dir = (project_dir or find_project_dir()) / "models"
    names = sorted(path.stem for path in (models_dir / "staging").rglob("stg_*.sql"))
    present = {path.stem for path in models_dir.rglob("*.sql")}
    return names + [name for name in EXTRA_COMPARED_MODELS if name in present]


def _normal(value: Any) -> Any:
    """One cell in a form both engines agree on: Decimal→float, aware datetimes→naive UTC."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value
    if isinstance(value, date):
        return value
    if hasattr(value, "item"):  # numpy scalars
        return _normal(value.item())
    return value


def _sort_key(row: Sequence[Any]) -> tuple[Any, ...]:
    key: list[Any] = []
    for value in row:
        if value is None:
            key.append((0, ""))
        elif isinstance(value, float):
            key.append((1, float(f"{value:.9g}")))  # floats: tolerant of last-bit noise
        elif isinstance(value, bool | int):
            key.append((1, float(value)))
        else:
            key.append((2, str(value)))
    return tuple(key)


@dataclass
class Comparison:
    """How one model differs between the two warehouses (empty `differences` = identical)."""

    model: str
    duckdb_rows: int = 0
    emulator_rows: int = 0
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


def compare_rows(model: str, columns: Sequence[str], left: list[tuple[Any, ...]],
                 right: list[tuple[Any, ...]], *, rtol: float = FLOAT_RTOL,
                 atol: float = FLOAT_ATOL, limit: int = 5) -> Comparison:
    """Compare two row sets (same column order) as multisets; floats within tolerance."""
    result = Comparison(model, len(left), len(right))
    if len(left) != len(right):
        result.differences.append(f"{len(left)} rows on DuckDB, {len(right)} on the emulator")
        return result
    ordered_left = sorted(([_normal(v) for v in row] for row in left), key=_sort_key)
    ordered_right = sorted(([_normal(v) for v in row] for row in right), key=_sort_key)
    for number, (a, b) in enumerate(zip(ordered_left, ordered_right, strict=True)):
        for column, x, y in zip(columns, a, b, strict=True):
            if _same(x, y, rtol, atol):
                continue
            result.differences.append(
                f"row {number} column {column}: DuckDB {x!r} vs emulator {y!r}")
            if len(result.differences) >= limit:
                return result
    return result


def _same(x: Any, y: Any, rtol: float, atol: float) -> bool:
    if x is None or y is None:
        return x is None and y is None
    if isinstance(x, bool) or isinstance(y, bool):
        return bool(x) == bool(y) and type(x) is type(y)
    if isinstance(x, int | float) and isinstance(y, int | float):
        return math.isclose(float(x), float(y), rel_tol=rtol, abs_tol=atol)
    return bool(x == y)


def read_duckdb(duckdb_path: Path, model: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    import duckdb

    try:
        con = duckdb.connect(str(duckdb_path), read_only=True)
    except duckdb.ConnectionException:  # dbt-duckdb in this process still holds the file open
        con = duckdb.connect(str(duckdb_path))
    with con:
        cursor = con.execute(f"select * from {model}")
        columns = [d[0] for d in cursor.description]
        return columns, [tuple(row) for row in cursor.fetchall()]


def read_emulator(client: Any, dataset: str, model: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    rows = client.query(f"select * from `{client.project}.{dataset}.{model}`").result()
    columns = [f.name for f in rows.schema]
    return columns, [tuple(row.values()) for row in rows]


def compare_models(duckdb_path: Path, client: Any, models: Sequence[str], *,
                   dataset: str = EMULATOR_DATASET, rtol: float = FLOAT_RTOL,
                   atol: float = FLOAT_ATOL) -> list[Comparison]:
    """Compare each model between a built DuckDB file and the emulator's dataset."""
    results: list[Comparison] = []
    for model in models:
        try:
            duck_columns, duck_rows = read_duckdb(duckdb_path, model)
            emu_columns, emu_rows = read_emulator(client, dataset, model)
        except Exception as error:  # noqa: BLE001 - a missing model is a difference to report
            results.append(Comparison(model, differences=[
                f"cannot read it: {str(error).splitlines()[0][:300]}"]))
            continue
        if [c.lower() for c in duck_columns] != [c.lower() for c in emu_columns]:
            results.append(Comparison(model, len(duck_rows), len(emu_rows), [
                f"columns differ: DuckDB {duck_columns} vs emulator {emu_columns}"]))
            continue
        results.append(compare_rows(model, duck_columns, duck_rows, emu_rows,
                                    rtol=rtol, atol=atol))
    return results
