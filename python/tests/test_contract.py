"""The raw-data contract check that guards every command reading a raw folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vehicle_recs.cli import main
from vehicle_recs.contract import RAW_SCHEMAS, RawDataError, check_raw_dir, raw_path


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


def test_sources_yaml_declares_the_same_contract() -> None:
    """The sources YAML documents every raw column with its type; it and RAW_SCHEMAS (which
    the raw check and the generator use) must not drift apart."""
    import yaml

    names = {pa.string(): "string", pa.int64(): "int64", pa.bool_(): "boolean",
             pa.float64(): "float64", pa.decimal128(12, 2): "numeric(12,2)",
             pa.timestamp("us", tz="UTC"): "timestamp"}
    root = Path(__file__).resolve().parents[2] / "models" / "staging"
    declared: dict[str, list[tuple[str, str]]] = {}
    for path in (root / "shop" / "_shop__sources.yml", root / "email" / "_email__sources.yml"):
        for table in yaml.safe_load(path.read_text())["sources"][0]["tables"]:
            declared[table["name"]] = [(column["name"], column["data_type"])
                                       for column in table["columns"]]
    assert declared == {table: [(field.name, names[field.type]) for field in schema]
                        for table, schema in RAW_SCHEMAS.items()}
