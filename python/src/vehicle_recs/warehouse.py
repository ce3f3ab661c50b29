"""The one place that reads tables: DuckDB (embedded default) or BigQuery (production).

The engine is the dbt target's: the manifest dbt wrote (`<target>/manifest.json`) names the
adapter and each model's relation, so nothing here hard-codes a database, schema or file. Both
engines return the same Arrow schema (`CANDIDATE_SCHEMA`, the Python side of the contract
declared in models/marts/_marts__models.yml); the final model's columns are checked against it —
and against the contract dbt enforces — before anything downstream runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from vehicle_recs.errors import VehicleRecsError

FINAL_MODEL = "fct_recommendation_candidates"
RANDOM_ARM_MODEL = "fct_random_arm_candidates"
PRODUCTS_MODEL = "dim_products"  # the clean catalog as of the build's cut-off
DIRTY_COUNTS_MODEL = "fct_raw_rows_counted_by_flag"

# Display text that repeats across rows (names, URLs, reasons: ~100k distinct values behind 17M
# candidate rows at the l scale) is held dictionary-encoded: about 5 GB less in memory there.
# Nothing ranks on it; `payloads.build_payloads` decodes the picked rows only.
TEXT = pa.dictionary(pa.int32(), pa.string())

CANDIDATE_SCHEMA = pa.schema([
    ("customer_id", pa.string()),
    ("candidate_rank", pa.int64()),
    ("sku", pa.string()),
    ("family_id", pa.string()),
    ("is_variant", pa.bool_()),
    ("vehicle_id", pa.string()),
    ("vehicle_year", pa.int64()),
    ("vehicle_make", TEXT),
    ("vehicle_model", TEXT),
    ("product_name", TEXT),
    ("brand", TEXT),
    ("category", TEXT),
    ("department", TEXT),
    ("price_usd", pa.float64()),
    ("image_url", TEXT),
    ("product_url", TEXT),
    ("score", pa.float64()),
    ("vehicle_rate", pa.float64()),
    ("buyer_count", pa.int64()),
    ("owner_count", pa.int64()),
    ("lift", pa.float64()),
    ("fitment_breadth", pa.int64()),
    ("breadth_tier", TEXT),
    ("price_tier", TEXT),
    ("reason_code", TEXT),
    ("reason", TEXT),
    ("is_fallback", pa.bool_()),
    ("is_replenishment", pa.bool_()),
    ("is_new_arrival", pa.bool_()),
    ("as_of_date", pa.date32()),
])

# What every treatment arm hands the pick (arms.py): enough to pick items and to write an
# email. The random arm's mart (fct_random_arm_candidates) holds exactly these columns.
ARM_SCHEMA = pa.schema([
    CANDIDATE_SCHEMA.field(name) for name in (
        "customer_id", "candidate_rank", "sku", "family_id", "vehicle_id", "vehicle_year",
        "vehicle_make", "vehicle_model", "product_name", "brand", "category", "department",
        "price_usd", "image_url", "product_url", "score", "reason_code", "reason", "is_fallback",
    )
])

# Logical contract types (dbt data_type as written in the YAML) that each Arrow type accepts.
_CONTRACT_TYPES: dict[pa.DataType, tuple[str, ...]] = {
    pa.string(): ("string", "varchar", "text"),
    pa.int64(): ("bigint", "int64", "integer", "int"),
    pa.bool_(): ("boolean", "bool"),
    pa.float64(): ("float", "double", "float64", "numeric", "decimal", "real", "bignumeric"),
    pa.date32(): ("date",),
}


@dataclass(frozen=True)
class Relation:
    """A dbt model as the warehouse knows it."""

    name: str
    relation_name: str  # quoted, fully qualified, as dbt renders it for the target
    database: str | None
    schema: str | None
    identifier: str
    contract_columns: dict[str, str]  # column -> data_type from the model's YAML


class ModelNotFound(VehicleRecsError):
    """A model is not in the dbt manifest, or has no table to read (ephemeral): the build did
    not make it (a --select without it, an older checkout)."""


def load_manifest(target_dir: Path) -> dict[str, Any]:
    path = target_dir / "manifest.json"
    if not path.is_file():
        raise VehicleRecsError(f"dbt manifest not found: {path} (run dbt build first)")
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return manifest


def find_relation(manifest: dict[str, Any], model: str) -> Relation:
    """The relation of a model in the manifest; ModelNotFound when there is none."""
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") == "model" and node.get("name") == model:
            if not node.get("relation_name"):
                raise ModelNotFound(f"model '{model}' has no relation (ephemeral?)")
            columns = {
                name: str(column.get("data_type") or "").lower()
                for name, column in (node.get("columns") or {}).items()
            }
            return Relation(
                name=model,
                relation_name=node["relation_name"],
                database=node.get("database"),
                schema=node.get("schema"),
                identifier=node.get("alias") or model,
                contract_columns=columns,
            )
    raise ModelNotFound(f"model '{model}' not found in the dbt manifest")


def check_contract(relation: Relation, schema: pa.Schema) -> None:
    """The model's documented columns must be exactly the ones Python reads, with matching types."""
    if not relation.contract_columns:
        return
    expected = set(schema.names)
    documented = set(relation.contract_columns)
    if documented != expected:
        missing = sorted(expected - documented)
        extra = sorted(documented - expected)
        detail = "; ".join(part for part in (
            f"missing {', '.join(missing)}" if missing else "",
            f"unexpected {', '.join(extra)}" if extra else "",
        ) if part)
        raise ValueError(f"{relation.name} contract differs from the Python reader: {detail}")
    for field in schema:
        declared = relation.contract_columns[field.name].split("(")[0].strip()
        arrow_type = (field.type.value_type if pa.types.is_dictionary(field.type)
                      else field.type)
        if declared and declared not in _CONTRACT_TYPES[arrow_type]:
            raise ValueError(
                f"{relation.name}.{field.name}: contract type '{declared}' does not map to "
                f"{field.type}")


def conform(table: pa.Table | pa.RecordBatch, schema: pa.Schema, what: str) -> pa.Table:
    """Select and cast the columns of `schema`; ValueError naming missing columns."""
    missing = [name for name in schema.names if name not in table.column_names]
    if missing:
        raise ValueError(f"{what} is missing column(s): {', '.join(missing)}")
    columns = []
    for field in schema:
        column = table[field.name]
        if column.type != field.type:
            try:
                if pa.types.is_decimal(column.type) and pa.types.is_floating(field.type):
                    # via text: a direct cast of decimal(38, 9) gives 129.95000000000002
                    column = pc.cast(column, pa.string())
                column = pc.cast(column, field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
                raise ValueError(
                    f"{what}.{field.name}: cannot read {column.type} as {field.type}") from error
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema)


def candidates_sql(relation: Relation) -> str:
    columns = ",\n    ".join(CANDIDATE_SCHEMA.names)
    return (f"select\n    {columns}\nfrom {relation.relation_name}\n"
            "order by customer_id, candidate_rank")


def catalog_sql(products: Relation, as_of: date) -> str:
    """The clean catalog as of the cut-off, as the model's families see it (a variant whose
    base SKU is created later is its own family until then): dim_products, built as of the same
    cut-off; the date filter keeps that explicit."""
    return (f"select sku from {products.relation_name} where "
            f"created_at is null or cast(created_at as date) < date '{as_of.isoformat()}'")


class Engine(Protocol):
    """Runs SQL and returns Arrow: a whole table, or record batches as they arrive."""

    def query(self, sql: str) -> pa.Table: ...

    def query_batches(self, sql: str) -> Iterator[pa.RecordBatch]: ...


# DuckDB's memory limit for the payload step's reads. Their result lives outside DuckDB (as
# Arrow), so DuckDB's default, 80% of RAM, would stack on top of it: at the l scale (17M
# candidate rows) the streamed read peaked at 6.4 GiB with 2 GB and 5.3 GiB with 1 GB, in
# the same time (it spills the sort).
READ_MEMORY_LIMIT_ENV = "VEHICLE_RECS_DUCKDB_READ_MEMORY_LIMIT"
DEFAULT_READ_MEMORY_LIMIT = "1GB"
# Rows per record batch of a streamed read: each batch is conformed (and its display text
# dictionary-encoded) before the next arrives, so the plain-text table never exists whole.
# Streaming the 15.7M random-arm rows at l peaked at 1.5 GiB with 1M-row batches, 0.6 with 100k.
BATCH_ROWS = 100_000


class DuckDBEngine:
    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise VehicleRecsError(f"DuckDB database not found: {path}")
        self.path = path
        self.memory_limit = os.environ.get(READ_MEMORY_LIMIT_ENV, DEFAULT_READ_MEMORY_LIMIT)

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        import duckdb

        # DbtProject.invoke releases dbt-duckdb's handle, so a read-only connection is allowed.
        with duckdb.connect(str(self.path), read_only=True,
                            config={"memory_limit": self.memory_limit}) as con:
            yield con

    def query(self, sql: str) -> pa.Table:
        with self._connect() as con:
            table: pa.Table = con.sql(sql).to_arrow_table()
            return table

    def query_batches(self, sql: str) -> Iterator[pa.RecordBatch]:
        with self._connect() as con:
            yield from con.sql(sql).to_arrow_reader(BATCH_ROWS)


class BigQueryEngine:
    """google-cloud-bigquery; `client` is injectable (`bigquery_io.connect` passes the one made
    from the dbt profile; tests pass a fake).

    Reads go through the REST API (the query's result pages, `create_bqstorage_client=False`),
    not the BigQuery Storage Read API. Measured on the local emulator (crucible-emulator
    0.1.0a2): the Storage Read API is gRPC and the emulator serves HTTP/1.1 REST only (a gRPC
    call fails in the HTTP/2 handshake), while query results, their pages and tabledata.list
    of tables work. google-cloud-bigquery-storage is therefore not a dependency: without it the
    client would fall back to REST anyway, with a warning. `query_batches` streams the pages
    (BATCH_ROWS rows at most each) so each is conformed before the next arrives, as on DuckDB.
    At the l scale on BigQuery the Storage Read API would be the faster read; it cannot be
    tested here.
    """

    def __init__(self, project: str | None, location: str | None = None,
                 client: Any | None = None) -> None:
        if client is None:
            from google.cloud import bigquery

            client = bigquery.Client(project=project, location=location)
        self.client = client

    def query(self, sql: str) -> pa.Table:
        table: pa.Table = self.client.query(sql).to_arrow(create_bqstorage_client=False)
        return table

    def query_batches(self, sql: str) -> Iterator[pa.RecordBatch]:
        rows = self.client.query(sql).result(page_size=BATCH_ROWS)
        yield from rows.to_arrow_iterable(bqstorage_client=None)


FAILED_STATUSES = {"fail", "error", "runtime error", "skipped"}


def load_run_results(target_dir: Path) -> dict[str, Any]:
    """dbt's results of the last invocation (`<target>/run_results.json`); {} when absent."""
    path = target_dir / "run_results.json"
    if not path.is_file():
        return {}
    results: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return results


def untested_reason(manifest: dict[str, Any], run_results: dict[str, Any],
                    model: str) -> str | None:
    """Why the last dbt invocation leaves `model` unfit to read (it failed, was skipped, or a
    test on it failed or errored), or None. A build whose tests fail has already replaced
    the model's rows: reading them would send what no test passed."""
    node_id = next((key for key, node in manifest.get("nodes", {}).items()
                    if node.get("resource_type") == "model" and node.get("name") == model), None)
    if node_id is None:
        return None
    for result in run_results.get("results", []):
        unique_id, status = result.get("unique_id", ""), str(result.get("status", ""))
        if status not in FAILED_STATUSES:
            continue
        node = manifest.get("nodes", {}).get(unique_id, {})
        if unique_id == node_id:
            return f"the model's build ended with status '{status}'"
        if (node.get("resource_type") == "test"
                and node_id in node.get("depends_on", {}).get("nodes", [])):
            return f"its test {node.get('name', unique_id)} ended with status '{status}'"
    return None


class Warehouse:
    """Reads the dbt models the payload step needs, through one engine."""

    def __init__(self, engine: Engine, manifest: dict[str, Any],
                 run_results: dict[str, Any] | None = None) -> None:
        self.engine = engine
        self.manifest = manifest
        self.run_results = run_results or {}

    @property
    def adapter_type(self) -> str:
        return str(self.manifest.get("metadata", {}).get("adapter_type", ""))

    def relation(self, model: str) -> Relation:
        return find_relation(self.manifest, model)

    def model_checksum(self, model: str = FINAL_MODEL) -> str:
        for node in self.manifest.get("nodes", {}).values():
            if node.get("resource_type") == "model" and node.get("name") == model:
                return str(node.get("checksum", {}).get("checksum", ""))
        return ""

    def read_candidates(self) -> pa.Table:
        """The final model, checked against the contract, sorted by customer and rank."""
        relation = self.relation(FINAL_MODEL)
        reason = untested_reason(self.manifest, self.run_results, FINAL_MODEL)
        if reason is not None:
            raise VehicleRecsError(f"{FINAL_MODEL} is not read: in the last dbt build {reason} "
                                   "(target/run_results.json); fix the data and build again")
        check_contract(relation, CANDIDATE_SCHEMA)
        return self._read(candidates_sql(relation), CANDIDATE_SCHEMA, FINAL_MODEL)

    def read_random_arm(self, customer_ids: pa.Array | pa.ChunkedArray | None = None
                        ) -> pa.Table:
        """The random arm's rows (RANDOM_ARM_MODEL), in no particular order (the pick sorts the
        few customers it keeps); only those of `customer_ids` when given (the arm's share of
        the customers: filtered batch by batch as the rows arrive)."""
        relation = self.relation(RANDOM_ARM_MODEL)
        check_contract(relation, ARM_SCHEMA)
        sql = f"select {', '.join(ARM_SCHEMA.names)} from {relation.relation_name}"
        keep = None if customer_ids is None else pa.chunked_array([customer_ids]).combine_chunks()
        return self._read(sql, ARM_SCHEMA, RANDOM_ARM_MODEL, keep)

    def _read(self, sql: str, schema: pa.Schema, what: str,
              customer_ids: pa.Array | None = None) -> pa.Table:
        """A query's rows conformed to `schema` batch by batch.

        Each conformed batch is copied: a batch the engine hands over through Arrow's C
        interface is freed only once all its columns are, so keeping its ids would keep its
        plain display text resident too (11 GiB instead of 4 at the l scale).
        """
        parts = []
        for batch in self.engine.query_batches(sql):
            table = conform(batch, schema, what)
            if customer_ids is not None:
                table = table.filter(pc.fill_null(
                    pc.is_in(table["customer_id"], value_set=customer_ids), False))
            parts.append(pa.Table.from_arrays(
                [pa.concat_arrays(column.chunks) for column in table.columns], schema=schema))
        if not parts:
            return schema.empty_table()
        # one dictionary per column instead of one per batch (0.9 GB of them at the l scale)
        return pa.concat_tables(parts).unify_dictionaries()

    def read_dirty_rows(self) -> dict[str, dict[str, int]]:
        """Per raw table: its row count (`rows`) and the rows each quality flag marks
        (`is_dirty` = any flag), from the dirty-row counts model."""
        relation = self.relation(DIRTY_COUNTS_MODEL)
        table = self.engine.query(
            f"select raw_table, flag, flagged_rows, total_rows from {relation.relation_name}")
        counts: dict[str, dict[str, int]] = {}
        for row in table.to_pylist():  # one row per table and flag: a few dozen
            entry = counts.setdefault(row["raw_table"], {"rows": int(row["total_rows"])})
            entry[row["flag"]] = int(row["flagged_rows"])
        return dict(sorted(counts.items()))

    def read_new_skus(self, since: date, as_of: date) -> pa.Array:
        """Clean products created in [since, as_of): the new arrivals of a run."""
        relation = self.relation(PRODUCTS_MODEL)
        table = self.engine.query(
            f"select sku from {relation.relation_name} where "
            f"cast(created_at as date) >= date '{since.isoformat()}' and "
            f"cast(created_at as date) < date '{as_of.isoformat()}'")
        return conform(table, pa.schema([("sku", pa.string())]), PRODUCTS_MODEL)["sku"]

    def read_catalog_skus(self, as_of: date) -> pa.Array:
        table = self.engine.query(catalog_sql(self.relation(PRODUCTS_MODEL), as_of))
        return conform(table, pa.schema([("sku", pa.string())]), PRODUCTS_MODEL)["sku"]


def open_warehouse(target_dir: Path, duckdb_path: Path | None = None,
                   client: Any | None = None, location: str | None = None) -> Warehouse:
    """The warehouse of the dbt target that wrote `target_dir/manifest.json`."""
    manifest = load_manifest(target_dir)
    adapter = manifest.get("metadata", {}).get("adapter_type")
    engine: Engine
    if adapter == "duckdb":
        if duckdb_path is None:
            raise ValueError("the DuckDB target needs the database path")
        engine = DuckDBEngine(duckdb_path)
    elif adapter == "bigquery":
        project = find_relation(manifest, FINAL_MODEL).database
        engine = BigQueryEngine(project, location=location, client=client)
    else:
        raise VehicleRecsError(f"unsupported dbt adapter in the manifest: {adapter!r}")
    return Warehouse(engine, manifest, load_run_results(target_dir))

