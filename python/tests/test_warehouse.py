"""The reader: relation from the manifest, contract check, same frame from DuckDB and BigQuery."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from vehicle_recs.errors import VehicleRecsError
from vehicle_recs.warehouse import (
    CANDIDATE_SCHEMA,
    FINAL_MODEL,
    READ_MEMORY_LIMIT_ENV,
    DuckDBEngine,
    ModelNotFound,
    find_relation,
    open_warehouse,
)

ROW: dict[str, Any] = {
    "customer_id": "C1", "candidate_rank": 1, "sku": "AC-1000B", "family_id": "AC-1000",
    "is_variant": True, "vehicle_id": "V1", "vehicle_year": 1969, "vehicle_make": "Chevrolet",
    "vehicle_model": "Camaro", "product_name": "Coil", "brand": "MSD", "category": "ignition",
    "department": "hard_parts", "price_usd": decimal.Decimal("129.95"), "image_url": None,
    "product_url": "https://shop.example.com/p/AC-1000B", "score": 0.031, "vehicle_rate": 0.02,
    "buyer_count": 41, "owner_count": 1212, "lift": 6.0, "fitment_breadth": 3,
    "breadth_tier": "vehicle_specific", "price_tier": "50_to_199",
    "reason_code": "vehicle_affinity", "reason": "Bought by 41 of 1,212 owners",
    "is_fallback": False, "is_replenishment": False, "is_new_arrival": False,
    "as_of_date": dt.date(2024, 3, 1),
}
CONTRACT_TYPES = {
    pa.string(): "string", pa.int64(): "bigint", pa.bool_(): "boolean", pa.float64(): "float",
    pa.date32(): "date", pa.dictionary(pa.int32(), pa.string()): "string",
}


def manifest(adapter: str, relation_name: str, database: str, columns: dict | None = None
             ) -> dict[str, Any]:
    if columns is None:
        columns = {f.name: {"name": f.name, "data_type": CONTRACT_TYPES[f.type]}
                   for f in CANDIDATE_SCHEMA}
        columns["price_usd"]["data_type"] = "numeric(28,6)"
    return {
        "metadata": {"adapter_type": adapter},
        "nodes": {f"model.vehicle_recs.{FINAL_MODEL}": {
            "resource_type": "model", "name": FINAL_MODEL, "alias": FINAL_MODEL,
            "database": database, "schema": "main", "relation_name": relation_name,
            "columns": columns, "checksum": {"name": "sha256", "checksum": "abcdef0123"},
        }},
    }


def write_manifest(folder: Path, content: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps(content))
    return folder


@pytest.fixture
def duck(tmp_path: Path) -> tuple[Path, Path]:
    db = tmp_path / "wh.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("""create table fct_recommendation_candidates (
            customer_id varchar, candidate_rank bigint, sku varchar, family_id varchar,
            is_variant boolean, vehicle_id varchar, vehicle_year bigint, vehicle_make varchar,
            vehicle_model varchar, product_name varchar, brand varchar, category varchar,
            department varchar, price_usd decimal(28, 6), image_url varchar, product_url varchar,
            score double, vehicle_rate double, buyer_count bigint, owner_count bigint,
            lift double, fitment_breadth bigint, breadth_tier varchar, price_tier varchar,
            reason_code varchar, reason varchar, is_fallback boolean, is_replenishment boolean,
            is_new_arrival boolean, as_of_date date)""")
        second = {**ROW, "candidate_rank": 2, "sku": "BR-7", "family_id": "BR-7"}
        for row in (second, ROW):  # out of order on purpose
            con.execute(f"insert into fct_recommendation_candidates values "
                        f"({', '.join('?' for _ in row)})", list(row.values()))
    target = write_manifest(tmp_path / "target",
                            manifest("duckdb", '"wh"."main"."fct_recommendation_candidates"', "wh"))
    return db, target


def test_duckdb_reader_returns_the_contract_frame(duck: tuple[Path, Path]) -> None:
    db, target = duck
    warehouse = open_warehouse(target, db)
    table = warehouse.read_candidates()
    assert table.schema == CANDIDATE_SCHEMA
    assert table["candidate_rank"].to_pylist() == [1, 2]  # sorted by customer, rank
    assert table["price_usd"].to_pylist()[0] == 129.95
    assert warehouse.model_checksum().startswith("abcdef")


class FakeJob:
    def __init__(self, table: pa.Table) -> None:
        self.table = table

    def to_arrow(self, **_: Any) -> pa.Table:
        return self.table

    def result(self, **_: Any) -> FakeJob:
        return self

    def to_arrow_iterable(self, **_: Any) -> Iterator[pa.RecordBatch]:
        yield from self.table.to_batches()


class FakeBigQueryClient:
    """Records SQL; answers with BigQuery's Arrow types (NUMERIC = decimal128(38, 9))."""

    def __init__(self) -> None:
        self.queries: list[str] = []

    def query(self, sql: str) -> FakeJob:
        self.queries.append(sql)
        fields = [pa.field(f.name, pa.decimal128(38, 9) if f.name == "price_usd" else f.type)
                  for f in CANDIDATE_SCHEMA]
        return FakeJob(pa.Table.from_pylist([ROW], schema=pa.schema(fields)))


def test_bigquery_reader_builds_its_query_from_the_relation(tmp_path: Path,
                                                            duck: tuple[Path, Path]) -> None:
    relation = "`my-project`.`vehicle_recs`.`fct_recommendation_candidates`"
    target = write_manifest(tmp_path / "bq", manifest("bigquery", relation, "my-project"))
    client = FakeBigQueryClient()
    warehouse = open_warehouse(target, client=client)
    table = warehouse.read_candidates()
    assert f"from {relation}" in client.queries[0]
    assert "order by customer_id, candidate_rank" in client.queries[0]
    # the same frame the DuckDB path returns
    db, duck_target = duck
    local = open_warehouse(duck_target, db).read_candidates()
    assert table.schema == local.schema == CANDIDATE_SCHEMA
    assert table.to_pylist()[0] == local.to_pylist()[0]


def test_contract_drift_fails_before_reading(tmp_path: Path) -> None:
    columns = {f.name: {"data_type": CONTRACT_TYPES[f.type]} for f in CANDIDATE_SCHEMA
               if f.name != "reason"}
    columns["extra_col"] = {"data_type": "string"}
    target = write_manifest(tmp_path / "t", manifest("bigquery", "`p`.`d`.`t`", "p", columns))
    client = FakeBigQueryClient()
    with pytest.raises(ValueError, match="missing reason; unexpected extra_col"):
        open_warehouse(target, client=client).read_candidates()
    assert client.queries == []


def test_contract_type_drift(tmp_path: Path) -> None:
    content = manifest("bigquery", "`p`.`d`.`t`", "p")
    node = content["nodes"][f"model.vehicle_recs.{FINAL_MODEL}"]
    node["columns"]["score"]["data_type"] = "string"
    target = write_manifest(tmp_path / "t", content)
    with pytest.raises(ValueError, match="score: contract type 'string'"):
        open_warehouse(target, client=FakeBigQueryClient()).read_candidates()


def test_missing_model_manifest_or_column(tmp_path: Path) -> None:
    with pytest.raises(VehicleRecsError, match="manifest not found"):
        open_warehouse(tmp_path / "nothing")
    with pytest.raises(ModelNotFound, match="not found in the dbt manifest"):
        find_relation({"nodes": {}}, FINAL_MODEL)

    class Short(FakeBigQueryClient):
        def query(self, sql: str) -> FakeJob:
            return FakeJob(pa.table({"customer_id": ["C1"]}))

    target = write_manifest(tmp_path / "t", manifest("bigquery", "`p`.`d`.`t`", "p"))
    with pytest.raises(ValueError, match="missing column"):
        open_warehouse(target, client=Short()).read_candidates()


def test_unknown_adapter(tmp_path: Path) -> None:
    target = write_manifest(tmp_path / "t", manifest("snowflake", "x", "db"))
    with pytest.raises(VehicleRecsError, match="unsupported dbt adapter"):
        open_warehouse(target)


def test_duckdb_reads_run_under_a_memory_limit(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The payload step's reads cap DuckDB's memory (default 1 GB; the env var overrides)."""
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    limit = "select current_setting('memory_limit') as m"
    assert DuckDBEngine(path).query(limit)["m"][0].as_py() == "953.6 MiB"
    monkeypatch.setenv(READ_MEMORY_LIMIT_ENV, "512MB")
    assert DuckDBEngine(path).query(limit)["m"][0].as_py() == "488.2 MiB"
