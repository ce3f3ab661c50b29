"""The raw-data contract check that guards every command reading a raw folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vehicle_recs import contract
from vehicle_recs.cli import main
from vehicle_recs.contract import (
    PRIMARY_KEYS,
    RAW_SCHEMAS,
    RawDataError,
    check_raw_dir,
    raw_path,
)
from vehicle_recs.errors import VehicleRecsError


@pytest.fixture()
def empty_raw(tmp_path: Path) -> Path:
    """A raw folder with every table present, one row of nulls each (tables the scoring needs
    must not be empty), and exactly the contract's columns."""
    for table, schema in RAW_SCHEMAS.items():
        pq.write_table(pa.Table.from_pylist([{}], schema=schema), raw_path(tmp_path, table))
    return tmp_path


def test_complete_folder_passes(empty_raw: Path) -> None:
    check_raw_dir(empty_raw)


def test_missing_table_is_named(empty_raw: Path) -> None:
    raw_path(empty_raw, "fitment").unlink()
    with pytest.raises(RawDataError, match="missing raw table 'fitment'"):
        check_raw_dir(empty_raw)


def test_missing_column_is_named(empty_raw: Path) -> None:
    schema = RAW_SCHEMAS["orders"]
    pq.write_table(
        pa.schema([field for field in schema if field.name != "status"]).empty_table(),
        raw_path(empty_raw, "orders"),
    )
    with pytest.raises(RawDataError, match="'orders' is missing column.*status"):
        check_raw_dir(empty_raw)


def test_cli_reports_one_line_and_fails(
    empty_raw: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(empty_raw, broken)
    raw_path(broken, "email_events").unlink()
    code = main(["build", "--raw", str(broken)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1
    assert "email_events" in err


@pytest.mark.parametrize("table", ["fitment", "products", "order_lines"])
def test_an_empty_table_the_scoring_needs_is_named(empty_raw: Path, table: str) -> None:
    pq.write_table(RAW_SCHEMAS[table].empty_table(), raw_path(empty_raw, table))
    with pytest.raises(RawDataError, match=f"raw table '{table}' is empty"):
        check_raw_dir(empty_raw)


def test_empty_email_tables_pass(empty_raw: Path) -> None:
    for table in ("email_sends", "email_send_items", "email_events", "customer_vehicles"):
        pq.write_table(RAW_SCHEMAS[table].empty_table(), raw_path(empty_raw, table))
    check_raw_dir(empty_raw)


def test_contract_is_the_sources_yaml() -> None:
    """The contract is read from the sources YAML (declared once, where analysts read it): the
    ten raw tables with their columns' types in order, and each table's key. Pinned here, so a
    YAML edit that changes the contract is a deliberate one."""
    text, integer, boolean, number = pa.string(), pa.int64(), pa.bool_(), pa.float64()
    money, moment = pa.decimal128(12, 2), pa.timestamp("us", tz="UTC")
    assert {table: [(field.name, field.type) for field in schema]
            for table, schema in RAW_SCHEMAS.items()} == {
        "vehicles": [("vehicle_id", text), ("year", integer), ("make", text), ("model", text),
                     ("submodel", text)],
        "products": [("sku", text), ("name", text), ("brand", text), ("category", text),
                     ("department", text), ("price", money), ("is_active", boolean),
                     ("is_universal", boolean), ("image_url", text), ("product_url", text),
                     ("created_at", moment)],
        "fitment": [("sku", text), ("vehicle_id", text)],
        "customers": [("customer_id", text), ("email", text), ("email_opt_in", boolean),
                      ("created_at", moment)],
        "customer_vehicles": [("customer_id", text), ("vehicle_id", text), ("added_at", moment)],
        "orders": [("order_id", text), ("customer_id", text), ("ordered_at", moment),
                   ("status", text)],
        "order_lines": [("order_id", text), ("line_number", integer), ("sku", text),
                        ("quantity", integer), ("unit_price", money), ("vehicle_id", text)],
        "email_sends": [("send_id", text), ("campaign_id", text), ("customer_id", text),
                        ("sent_at", moment), ("treatment", text), ("model_version", text),
                        ("propensity", number)],
        "email_send_items": [("send_id", text), ("position", integer), ("sku", text)],
        "email_events": [("event_id", text), ("send_id", text), ("event_type", text),
                         ("occurred_at", moment), ("sku", text)],
    }
    for table, key in PRIMARY_KEYS.items():
        assert key and set(key) <= set(RAW_SCHEMAS[table].names), table
    assert set(PRIMARY_KEYS) == set(RAW_SCHEMAS)


def test_unknown_yaml_type_is_named() -> None:
    with pytest.raises(VehicleRecsError, match=r"orders\.status: data_type 'text' is not one of"):
        contract._arrow_type("text", "_shop__sources.yml: orders.status")
    assert contract._arrow_type("numeric(18,4)", "x") == pa.decimal128(18, 4)

