"""BigQuery as the production warehouse: the client, load jobs, the raw dataset, the bandit log.

The `prod` target is the output of that name in the dbt profile (profiles.yml.example: project,
dataset, location and credentials from environment variables; $DBT_PROFILES_DIR names another
profile). Python connects with exactly what dbt uses: the output is rendered by dbt and the client
made by dbt-bigquery (`create_bigquery_client`), so credentials, project, location and any
`api_endpoint` are the same for `dbt build` and for the loads and reads here.

Datasets, in the profile's project: the models go to the profile's `dataset`; the ten raw tables
to $VEHICLE_RECS_BQ_RAW_DATASET (default `vehicle_recs_raw`, passed to dbt as var `raw_dataset`);
the assignment log, table `assignment_log`, to $VEHICLE_RECS_BQ_LOG_DATASET (default: the raw
dataset, beside the other inputs of the build; passed as var `assignment_log_dataset` once the
table exists).

Every load is a CSV load job with an explicit schema derived from the contract
(`contract.RAW_SCHEMAS`, `bandit.ASSIGNMENT_LOG_SCHEMA`; `bigquery_type` maps each Arrow type,
`raw_columns` gives the raw tables in BigQuery types). CSV because it is the one format both
BigQuery and the local emulator load, so the path the tests run is the path production runs.
The CSV is written vectorized by Arrow (`csv_bytes`) in the spelling both accept: strings always
quoted (so '' stays '' and NULL is an empty unquoted field), plain decimals, timestamps as UTC
`YYYY-MM-DD HH:MM:SS.ffffff`.

What the emulator (crucible-emulator 0.1.0a2) supports, measured against it:
- load jobs: CSV only, explicit schema only, WRITE_TRUNCATE / WRITE_APPEND; no Parquet, no
  `allowQuotedNewlines` (a string with a line break cannot be loaded there; on BigQuery the job
  sets it when a batch holds one), no `timePartitioning`. About 9,000 cells a second: the xs
  data takes three minutes.
- DML: INSERT and MERGE, including `WHEN NOT MATCHED BY SOURCE AND ... THEN DELETE`; no DELETE
  or UPDATE statement, no BEGIN / COMMIT TRANSACTION; a multi-statement request runs statement
  by statement (not atomically).
- partition decorators: a load into `table$20240101` makes a new table of that name instead of
  replacing a partition; partitioned tables cannot be made through tables.insert.
- reads: jobs.query / getQueryResults pages and tabledata.list of tables; not the BigQuery
  Storage Read API (gRPC: the server speaks HTTP/1.1 REST only, a gRPC call fails in the HTTP/2
  handshake). See `warehouse.BigQueryEngine`.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vehicle_recs.bandit import ASSIGNMENT_LOG_SCHEMA
from vehicle_recs.contract import RAW_SCHEMAS, RawDataError, check_raw_dir, raw_path
from vehicle_recs.errors import VehicleRecsError
from vehicle_recs.project import DbtProject

PROFILE_NAME = "vehicle_recs"  # dbt_project.yml `profile:`
RAW_DATASET_ENV = "VEHICLE_RECS_BQ_RAW_DATASET"
LOG_DATASET_ENV = "VEHICLE_RECS_BQ_LOG_DATASET"
DEFAULT_RAW_DATASET = "vehicle_recs_raw"  # the default of dbt var raw_dataset
LOG_TABLE = "assignment_log"  # dbt source bandit.assignment_log
# Rows per Parquet batch encoded to CSV: memory stays flat at any table size.
BATCH_ROWS = 100_000

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BigQueryTarget:
    """A connection to the profile's BigQuery output and the datasets this package uses."""

    client: Any  # google.cloud.bigquery.Client
    project: str
    dataset: str  # the models (the profile's dataset)
    raw_dataset: str
    log_dataset: str
    location: str | None = None

    def table_id(self, dataset: str, table: str) -> str:
        return f"{self.project}.{dataset}.{table}"


def profile_output(profiles_dir: Path, target: str) -> dict[str, Any]:
    """The dbt profile's output `target`, rendered by dbt (env_var() and all)."""
    from dbt.config.profile import read_profile
    from dbt.config.renderer import ProfileRenderer
    from dbt_common.context import set_invocation_context

    set_invocation_context(dict(os.environ))  # what env_var() reads outside a dbt invocation
    outputs = (read_profile(str(profiles_dir)).get(PROFILE_NAME) or {}).get("outputs") or {}
    if target not in outputs:
        raise VehicleRecsError(f"the dbt profile '{PROFILE_NAME}' in {profiles_dir} has no output "
                               f"'{target}'")
    output: dict[str, Any] = ProfileRenderer({}).render_data(outputs[target])
    if output.get("type") != "bigquery":
        raise VehicleRecsError(f"--target {target} is {output.get('type')!r} in the dbt profile, "
                               "not bigquery")
    return output


def connect(project: DbtProject | None = None, target: str | None = None,
            client: Any | None = None) -> BigQueryTarget:
    """The profile's BigQuery output (default: `project.target`, else `prod`) and a client made
    by dbt-bigquery from the same credentials; `client` replaces it (tests)."""
    from dbt.adapters.bigquery.credentials import BigQueryCredentials

    project = project or DbtProject(target="prod")
    name = target or project.target or "prod"
    output = {key: value for key, value in profile_output(project.profiles_dir(), name).items()
              if key != "type"}
    credentials = BigQueryCredentials.from_dict(BigQueryCredentials.translate_aliases(output))
    if client is None:
        from dbt.adapters.bigquery.clients import create_bigquery_client
        from google.auth.exceptions import GoogleAuthError

        try:
            client = create_bigquery_client(credentials)
        except (OSError, ValueError, GoogleAuthError) as error:
            raise VehicleRecsError(f"cannot make a BigQuery client from the profile's '{name}' "
                                   f"output ({credentials.method}): {error} (README: Run it on "
                                   "BigQuery)") from None
    if credentials.maximum_bytes_billed:  # the profile's cap holds for Python's queries too
        from google.cloud import bigquery

        client.default_query_job_config = bigquery.QueryJobConfig(
            maximum_bytes_billed=int(credentials.maximum_bytes_billed))
    raw_dataset = os.environ.get(RAW_DATASET_ENV) or DEFAULT_RAW_DATASET
    return BigQueryTarget(client=client, project=str(credentials.database),
                          dataset=str(credentials.schema), raw_dataset=raw_dataset,
                          log_dataset=os.environ.get(LOG_DATASET_ENV) or raw_dataset,
                          location=credentials.location)


# ------------------------------------------------------------------------------------------------
# BigQuery types of the contract


def bigquery_type(arrow_type: pa.DataType) -> str:
    """The BigQuery type for a contract (pyarrow) type."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "STRING"
    if pa.types.is_integer(arrow_type):
        return "INT64"
    if pa.types.is_boolean(arrow_type):
        return "BOOL"
    if pa.types.is_floating(arrow_type):
        return "FLOAT64"
    if pa.types.is_decimal(arrow_type):
        return "NUMERIC"
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMP"
    if pa.types.is_date(arrow_type):
        return "DATE"
    raise ValueError(f"no BigQuery type for {arrow_type}")


def raw_columns() -> dict[str, dict[str, str]]:
    """The raw tables of the contract as {table: {column: BigQuery type}}."""
    return {table: {f.name: bigquery_type(f.type) for f in schema}
            for table, schema in RAW_SCHEMAS.items()}


# ------------------------------------------------------------------------------------------------
# CSV for load jobs


def _csv_field(column: pa.Array | pa.ChunkedArray, kind: str) -> pa.Array | pa.ChunkedArray:
    """One column as CSV text for a BigQuery type; null stays null (an empty unquoted field)."""
    if kind == "STRING":
        text = pc.replace_substring(pc.cast(column, pa.string()), '"', '""')
        return pc.binary_join_element_wise('"', text, '"', "")
    if kind in ("INT64", "BOOL"):
        return pc.cast(pc.cast(column, pa.int64() if kind == "INT64" else pa.bool_()),
                       pa.string())
    if kind in ("FLOAT64", "NUMERIC"):
        if pa.types.is_decimal(column.type):
            return pc.cast(column, pa.string())  # plain digits
        values = pc.cast(column, pa.float64())
        if kind == "NUMERIC":  # no NaN or infinity, at most 9 decimals: those read as null
            values = pc.if_else(pc.is_finite(values), pc.round(values, 9), None)
        return pc.replace_substring(pc.cast(values, pa.string()), "nan", "NaN")
    if kind == "TIMESTAMP":  # naive timestamps are read as UTC; nanoseconds are cut
        stamps = pc.cast(column, pa.timestamp("us", tz="UTC"), safe=False)
        return pc.strftime(stamps, format="%Y-%m-%d %H:%M:%S")  # %S carries .ffffff
    if kind == "DATE":
        return pc.strftime(column, format="%Y-%m-%d")
    raise ValueError(f"no CSV spelling for BigQuery type {kind}")


def csv_bytes(rows: pa.Table | pa.RecordBatch, columns: Mapping[str, str]) -> pa.Buffer:
    """`rows` as CSV lines (columns in `columns` order, typed by their BigQuery type); batches
    of up to a few hundred MB of text (32-bit offsets)."""
    if rows.num_rows == 0:
        return pa.py_buffer(b"")
    fields = [_csv_field(rows.column(name), kind) for name, kind in columns.items()]
    lines = pc.binary_join_element_wise(*fields, ",", null_handling="replace",
                                        null_replacement="")
    text = pc.binary_join_element_wise(lines, "", "\n")  # every line ends with a newline
    array = text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
    # the lines lie back to back in the data buffer: hand it over without per-row Python
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)
    first, last = int(offsets[array.offset]), int(offsets[array.offset + len(array)])
    return array.buffers()[2].slice(first, last - first)


def _has_line_break(rows: pa.Table | pa.RecordBatch, columns: Mapping[str, str]) -> bool:
    return any(pc.any(pc.match_substring_regex(pc.cast(rows.column(name), pa.string()),
                                               r"[\r\n]")).as_py()
               for name, kind in columns.items() if kind == "STRING")


def schema_fields(columns: Mapping[str, str]) -> list[Any]:
    from google.cloud import bigquery

    return [bigquery.SchemaField(name, kind) for name, kind in columns.items()]


def load_table(client: Any, destination: str,
               batches: Iterable[pa.Table | pa.RecordBatch], columns: Mapping[str, str], *,
               write_disposition: str = "WRITE_TRUNCATE") -> int:
    """One CSV load job with the explicit schema `columns` into `destination`; rows loaded.

    The batches are encoded into a temporary file first (memory stays flat), then uploaded.
    """
    from google.api_core.exceptions import GoogleAPICallError
    from google.cloud import bigquery

    rows = 0
    line_breaks = False
    with tempfile.TemporaryFile(prefix="vehicle-recs-load-") as handle:
        for batch in batches:
            handle.write(csv_bytes(batch, columns))
            rows += batch.num_rows
            line_breaks = line_breaks or _has_line_break(batch, columns)
        config = bigquery.LoadJobConfig(source_format="CSV", schema=schema_fields(columns),
                                        write_disposition=write_disposition)
        if line_breaks:  # only then: the emulator refuses the field
            config.allow_quoted_newlines = True
        handle.seek(0)
        try:
            job = client.load_table_from_file(handle, destination, job_config=config)
            job.result()
        except GoogleAPICallError as error:  # a rejected value: one line, what BigQuery said
            raise VehicleRecsError(f"loading {destination} failed: "
                                   f"{str(error.message).splitlines()[0][:300]}") from None
    loaded = int(job.output_rows or 0)
    if loaded != rows:
        raise VehicleRecsError(f"load job {job.job_id} loaded {loaded} of {rows} rows into "
                               f"{destination}")
    return rows


def ensure_dataset(target: BigQueryTarget, dataset: str) -> None:
    """Create `dataset` in the target's project and location unless it exists (asked first: an
    account with rights on the dataset only may not create datasets)."""
    from google.api_core.exceptions import NotFound
    from google.cloud import bigquery

    reference = f"{target.project}.{dataset}"
    try:
        target.client.get_dataset(reference)
    except NotFound:
        made = bigquery.Dataset(reference)
        made.location = target.location
        target.client.create_dataset(made, exists_ok=True)


# ------------------------------------------------------------------------------------------------
# The raw tables


def load_raw_tables(target: BigQueryTarget, raw_dir: Path,
                    progress: Progress = lambda _: None) -> dict[str, int]:
    """Load the ten contract tables of `raw_dir` into the raw dataset; rows per table.

    The whole folder is checked against the contract first (`contract.check_raw_dir`): a file
    that breaks it stops with one line naming the table and column, before any load. Each table
    is then replaced whole (WRITE_TRUNCATE) by one load job: rerunning loads the same data
    again, never twice. A load that fails midway leaves the tables before it replaced and the
    others as they were; load the folder again.
    """
    raw_dir = raw_dir.resolve()
    check_raw_dir(raw_dir)
    ensure_dataset(target, target.raw_dataset)
    counts: dict[str, int] = {}
    for table, columns in raw_columns().items():
        progress(f"loading {table}")
        batches = pq.ParquetFile(raw_path(raw_dir, table)).iter_batches(
            batch_size=BATCH_ROWS, columns=list(columns))
        counts[table] = load_table(target.client, target.table_id(target.raw_dataset, table),
                                   batches, columns)
    return counts


def check_raw_dataset(target: BigQueryTarget) -> None:
    """Before a build: every contract table is in the raw dataset with its columns; else one
    line naming the table (and column)."""
    from google.api_core.exceptions import NotFound

    where = f"{target.project}.{target.raw_dataset}"
    for table, columns in raw_columns().items():
        try:
            present = {field.name for field in
                       target.client.get_table(target.table_id(target.raw_dataset, table)).schema}
        except NotFound:
            raise RawDataError(f"missing raw table '{table}' in {where}: load the raw folder "
                               "with `vehicle-recs load-raw --target prod RAW`") from None
        missing = [name for name in columns if name not in present]
        if missing:
            raise RawDataError(f"raw table '{table}' in {where} is missing column(s): "
                               f"{', '.join(missing)}")


# ------------------------------------------------------------------------------------------------
# The assignment log


def log_columns() -> dict[str, str]:
    return {field.name: bigquery_type(field.type) for field in ASSIGNMENT_LOG_SCHEMA}


def _string_literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def replace_campaign_sql(log_table: str, staging_table: str, campaign_id: str) -> str:
    """One MERGE that drops the campaign's old rows and inserts the staged ones.

    `on false`: no staged row matches a logged one, so every logged row of the campaign is
    deleted (not matched by source) and every staged row inserted (not matched), in one DML
    statement, atomic on BigQuery.
    """
    names = list(log_columns())
    return (f"merge `{log_table}` as logged\n"
            f"using `{staging_table}` as incoming\n"
            "on false\n"
            "when not matched by source and logged.campaign_id = "
            f"{_string_literal(campaign_id)} then delete\n"
            f"when not matched then insert ({', '.join(names)})\n"
            f"    values ({', '.join('incoming.' + name for name in names)})")


@dataclass
class BigQueryAssignmentLog:
    """The bandit's assignment log as the table `<log dataset>.assignment_log`.

    A campaign is written idempotently: its rows are loaded (load job, explicit schema) into a
    staging table, then one MERGE deletes the campaign's earlier rows and inserts the new ones
    (`replace_campaign_sql`); the staging table is dropped. Running a campaign twice leaves one
    copy of its rows, and a reader never sees the campaign half replaced.

    Why MERGE: on BigQuery, DELETE + INSERT in a multi-statement transaction would do too, and a
    partition decorator (`assignment_log$<partition>` with WRITE_TRUNCATE) replaces a partition
    in one load job, but partitions are dates or integer ranges, not campaign ids, and the
    emulator supports neither DELETE, transactions nor decorators (see the module docstring).
    One MERGE statement is atomic on BigQuery and runs on the emulator.
    """

    target: BigQueryTarget
    table: str = LOG_TABLE

    @property
    def table_id(self) -> str:
        return self.target.table_id(self.target.log_dataset, self.table)

    def exists(self) -> bool:
        from google.api_core.exceptions import NotFound

        try:
            self.target.client.get_table(self.table_id)
        except NotFound:
            return False
        return True

    def check_writable(self) -> None:
        """Before the build: the dataset exists (the table is made by the first write)."""
        from google.api_core.exceptions import NotFound

        dataset = f"{self.target.project}.{self.target.log_dataset}"
        try:
            self.target.client.get_dataset(dataset)
        except NotFound:
            raise VehicleRecsError(f"the assignment log dataset {dataset} does not exist: load "
                                   "the raw tables first (`vehicle-recs load-raw --target prod "
                                   f"RAW`) or set ${LOG_DATASET_ENV}") from None

    def dbt_vars(self) -> dict[str, str]:
        """The var that makes dbt read the log (earlier campaigns: the bandit's evidence)."""
        return {"assignment_log_dataset": self.target.log_dataset} if self.exists() else {}

    def write(self, rows: pa.Table, campaign_id: str) -> str:
        """Replace the campaign's rows with `rows` (ASSIGNMENT_LOG_SCHEMA); the table's id."""
        from google.cloud import bigquery

        others = pc.sum(pc.not_equal(rows["campaign_id"], campaign_id)).as_py()
        if others:
            raise ValueError(f"{others} assignment log rows are not of campaign {campaign_id}")
        columns = log_columns()
        client = self.target.client
        client.create_table(bigquery.Table(self.table_id, schema=schema_fields(columns)),
                            exists_ok=True)
        staging = f"{self.table_id}__load_{uuid.uuid4().hex[:12]}"
        try:
            load_table(client, staging,
                       rows.cast(ASSIGNMENT_LOG_SCHEMA).to_batches(BATCH_ROWS), columns)
            client.query(replace_campaign_sql(self.table_id, staging, campaign_id)).result()
        finally:
            client.delete_table(staging, not_found_ok=True)
        return self.table_id
