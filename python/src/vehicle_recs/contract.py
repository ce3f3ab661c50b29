"""The raw-data contract: the ten raw tables, their columns, logical types and keys.

Declared once, in the sources YAML (models/staging/shop/_shop__sources.yml and
models/staging/email/_email__sources.yml: every column with its `data_type` and description,
each table's key in `meta.primary_key`), where analysts read it next to the staging models. This
module reads it from there (`RAW_SCHEMAS`, `PRIMARY_KEYS`, loaded on first use) for the Python
side: the synthetic generator writes these schemas, the tests check generated tables against
them, `load-raw` gives BigQuery their types, and `run` checks a raw folder against them before
dbt starts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from vehicle_recs.errors import VehicleRecsError
from vehicle_recs.project import find_project_dir

STRING = pa.string()
INT = pa.int64()
BOOL = pa.bool_()
FLOAT = pa.float64()
NUMERIC = pa.decimal128(12, 2)  # money in USD, numeric(12,2) in the YAML
TIMESTAMP = pa.timestamp("us", tz="UTC")

# The sources whose tables are the raw contract (the assignment log, source `bandit`, is the
# product's own output, not raw input).
RAW_SOURCES = ("shop", "email")

# The YAML's data_type -> the Arrow type Python writes and checks.
_ARROW_TYPES = {"string": STRING, "int64": INT, "boolean": BOOL, "float64": FLOAT,
                "timestamp": TIMESTAMP}
_DECIMAL = re.compile(r"numeric\((\d+),\s*(\d+)\)")


def _arrow_type(data_type: str, where: str) -> pa.DataType:
    decimal = _DECIMAL.fullmatch(data_type)
    if decimal:
        return pa.decimal128(int(decimal.group(1)), int(decimal.group(2)))
    if data_type not in _ARROW_TYPES:
        raise VehicleRecsError(f"{where}: data_type {data_type!r} is not one of "
                         f"{', '.join(_ARROW_TYPES)} or numeric(p,s)")
    return _ARROW_TYPES[data_type]


@cache
def _declared() -> tuple[dict[str, pa.Schema], dict[str, tuple[str, ...]]]:
    """Schemas and keys of the raw tables, read from the sources YAML of the dbt project."""
    import yaml  # type: ignore[import-untyped]

    staging = find_project_dir() / "models" / "staging"
    schemas: dict[str, pa.Schema] = {}
    keys: dict[str, tuple[str, ...]] = {}
    for source in RAW_SOURCES:
        path = staging / source / f"_{source}__sources.yml"
        sources = yaml.safe_load(path.read_text(encoding="utf-8"))["sources"]
        (declared,) = (entry for entry in sources if entry["name"] == source)
        for table in declared["tables"]:
            where = f"{path.name}: {table['name']}"
            schemas[table["name"]] = pa.schema([
                (column["name"], _arrow_type(column["data_type"], f"{where}.{column['name']}"))
                for column in table["columns"]])
            keys[table["name"]] = tuple(table["config"]["meta"]["primary_key"])
    return schemas, keys


V = TypeVar("V")


class _Declared(Mapping[str, V]):
    """A read-only mapping over the YAML contract, read on first use (importing this module
    needs no dbt project; the commands that use the contract all run in one)."""

    def __init__(self, part: Callable[[], dict[str, V]]) -> None:
        self._part = part

    def __getitem__(self, table: str) -> V:
        return self._part()[table]

    def __iter__(self) -> Iterator[str]:
        return iter(self._part())

    def __len__(self) -> int:
        return len(self._part())


# table -> Arrow schema, in the YAML's order
RAW_SCHEMAS: Mapping[str, pa.Schema] = _Declared(lambda: _declared()[0])
# table -> the columns that identify a row
PRIMARY_KEYS: Mapping[str, tuple[str, ...]] = _Declared(lambda: _declared()[1])

# Product departments (products.department): code compares against these names, never literals.
HARD_PARTS = "hard_parts"
APPAREL = "apparel"  # capped per email (selection.json) and per candidate pool (dbt var)
ACCESSORIES = "accessories"
TOOLS = "tools"
GIFT_CARDS = "gift_cards"  # never emailed
DEPARTMENTS = (HARD_PARTS, APPAREL, ACCESSORIES, TOOLS, GIFT_CARDS)
ORDER_STATUSES = ("completed", "cancelled", "returned")
EVENT_TYPES = ("delivered", "open", "click", "unsubscribe", "bounce")


class RawDataError(VehicleRecsError):
    """A raw folder breaks the contract in a way that stops the run (missing, unreadable or
    empty table; missing column or one of the wrong kind)."""


def raw_path(raw_dir: Path, table: str) -> Path:
    return raw_dir / f"{table}.parquet"


# Tables the scoring cannot work without: empty, the run would "succeed" with fallback parts
# only (no fitment: no vehicle-aware candidate), so it stops instead.
REQUIRED_ROWS = ("vehicles", "products", "fitment", "customers", "orders", "order_lines")

# The logical kind a raw column must have, checked loosely (any integer width, any timestamp
# unit or time zone, money as decimal or float); values are dbt's job.
def _kind(declared: pa.DataType) -> tuple[str, Callable[[pa.DataType], bool]]:
    if pa.types.is_string(declared):
        return "text", lambda t: pa.types.is_string(t) or pa.types.is_large_string(t)
    if pa.types.is_integer(declared):
        return "an integer", pa.types.is_integer
    if pa.types.is_boolean(declared):
        return "a boolean", pa.types.is_boolean
    if pa.types.is_timestamp(declared):
        return "a timestamp", pa.types.is_timestamp
    return "a number", lambda t: pa.types.is_floating(t) or pa.types.is_decimal(t)


def check_raw_dir(raw_dir: Path) -> None:
    """Fail with one clear message naming the first table that is missing, unreadable, empty
    (when the scoring needs it), lacks a column or holds a column of the wrong kind.

    Only Parquet footers are read (schema and row count), so the check is instant at any size;
    wrong values are dbt's job: staging flags them and the data tests count them.
    """
    if not raw_dir.is_dir():
        raise RawDataError(f"raw folder not found: {raw_dir}")
    for table, schema in RAW_SCHEMAS.items():
        path = raw_path(raw_dir, table)
        if not path.exists():
            raise RawDataError(f"missing raw table '{table}' (expected {path})")
        try:
            metadata = pq.read_metadata(path)
            present = metadata.schema.to_arrow_schema()
        except (OSError, pa.ArrowException) as error:
            raise RawDataError(f"raw table '{table}': cannot read {path.name} as Parquet "
                               f"({error})") from None
        missing = [name for name in schema.names if name not in present.names]
        if missing:
            raise RawDataError(f"raw table '{table}' is missing column(s): {', '.join(missing)}")
        for field in schema:
            kind, accepts = _kind(field.type)
            found = present.field(field.name).type
            if not accepts(found) and not pa.types.is_null(found):
                raise RawDataError(f"raw table '{table}': column '{field.name}' must be {kind}, "
                                   f"the file holds {found}")
        if table in REQUIRED_ROWS and metadata.num_rows == 0:
            raise RawDataError(f"raw table '{table}' is empty: the scoring cannot work without "
                               "it")
