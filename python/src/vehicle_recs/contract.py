"""The raw-data contract: the ten tables, their columns and logical types.

One place for it in Python: the synthetic generator writes these schemas, the tests check
generated tables against them, and the run command checks a raw folder against them before dbt
starts. The sources YAML (models/staging/*/_*__sources.yml) documents the same columns and types
for analysts; a test keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

STRING = pa.string()
INT = pa.int64()
BOOL = pa.bool_()
FLOAT = pa.float64()
NUMERIC = pa.decimal128(12, 2)  # money in USD; BigQuery NUMERIC, DuckDB DECIMAL(12,2)
TIMESTAMP = pa.timestamp("us", tz="UTC")

SHOP_TABLES = ("vehicles", "products", "fitment", "customers", "customer_vehicles", "orders",
               "order_lines")
EMAIL_TABLES = ("email_sends", "email_send_items", "email_events")

RAW_SCHEMAS: dict[str, pa.Schema] = {
    "vehicles": pa.schema([
        ("vehicle_id", STRING), ("year", INT), ("make", STRING), ("model", STRING),
        ("submodel", STRING),
    ]),
    "products": pa.schema([
        ("sku", STRING), ("name", STRING), ("brand", STRING), ("category", STRING),
        ("department", STRING), ("price", NUMERIC), ("is_active", BOOL), ("is_universal", BOOL),
        ("image_url", STRING), ("product_url", STRING), ("created_at", TIMESTAMP),
    ]),
    "fitment": pa.schema([("sku", STRING), ("vehicle_id", STRING)]),
    "customers": pa.schema([
        ("customer_id", STRING), ("email", STRING), ("email_opt_in", BOOL),
        ("created_at", TIMESTAMP),
    ]),
    "customer_vehicles": pa.schema([
        ("customer_id", STRING), ("vehicle_id", STRING), ("added_at", TIMESTAMP),
    ]),
    "orders": pa.schema([
        ("order_id", STRING), ("customer_id", STRING), ("ordered_at", TIMESTAMP),
        ("status", STRING),
    ]),
    "order_lines": pa.schema([
        ("order_id", STRING), ("line_number", INT), ("sku", STRING), ("quantity", INT),
        ("unit_price", NUMERIC), ("vehicle_id", STRING),
    ]),
    "email_sends": pa.schema([
        ("send_id", STRING), ("campaign_id", STRING), ("customer_id", STRING),
        ("sent_at", TIMESTAMP), ("treatment", STRING), ("model_version", STRING),
        ("propensity", FLOAT),
    ]),
    "email_send_items": pa.schema([("send_id", STRING), ("position", INT), ("sku", STRING)]),
    "email_events": pa.schema([
        ("event_id", STRING), ("send_id", STRING), ("event_type", STRING),
        ("occurred_at", TIMESTAMP), ("sku", STRING),
    ]),
}

# Primary keys (single column) and composite keys that identify a row.
PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "vehicles": ("vehicle_id",),
    "products": ("sku",),
    "fitment": ("sku", "vehicle_id"),
    "customers": ("customer_id",),
    "customer_vehicles": ("customer_id", "vehicle_id"),
    "orders": ("order_id",),
    "order_lines": ("order_id", "line_number"),
    "email_sends": ("send_id",),
    "email_send_items": ("send_id", "position"),
    "email_events": ("event_id",),
}

# Product departments (products.department): code compares against these names, never literals.
HARD_PARTS = "hard_parts"
APPAREL = "apparel"  # capped per email (selection.json) and per candidate pool (dbt var)
ACCESSORIES = "accessories"
TOOLS = "tools"
GIFT_CARDS = "gift_cards"  # never emailed
DEPARTMENTS = (HARD_PARTS, APPAREL, ACCESSORIES, TOOLS, GIFT_CARDS)
ORDER_STATUSES = ("completed", "cancelled", "returned")
EVENT_TYPES = ("delivered", "open", "click", "unsubscribe", "bounce")


class RawDataError(ValueError):
    """A raw folder breaks the contract in a way that stops the run (missing, unreadable or
    empty table; missing column or one of the wrong kind)."""


def raw_path(raw_dir: Path, table: str) -> Path:
    return raw_dir / f"{table}.parquet"


# Tables the scoring cannot work without: empty, the run would "succeed" with fallback parts
# only (no fitment: no vehicle-aware candidate), so it stops instead.
REQUIRED_ROWS = ("vehicles", "products", "fitment", "customers", "orders", "order_lines")

# The logical type a raw column must have, checked loosely (any integer width, any timestamp
# unit or time zone, money as decimal or float); values are dbt's job.
_KINDS: dict[pa.DataType, tuple[str, Callable[[pa.DataType], bool]]] = {
    STRING: ("text", lambda t: pa.types.is_string(t) or pa.types.is_large_string(t)),
    INT: ("an integer", pa.types.is_integer),
    BOOL: ("a boolean", pa.types.is_boolean),
    FLOAT: ("a number", lambda t: pa.types.is_floating(t) or pa.types.is_decimal(t)),
    NUMERIC: ("a number", lambda t: pa.types.is_floating(t) or pa.types.is_decimal(t)),
    TIMESTAMP: ("a timestamp", pa.types.is_timestamp),
}


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
            kind, accepts = _KINDS[field.type]
            found = present.field(field.name).type
            if not accepts(found) and not pa.types.is_null(found):
                raise RawDataError(f"raw table '{table}': column '{field.name}' must be {kind}, "
                                   f"the file holds {found}")
        if table in REQUIRED_ROWS and metadata.num_rows == 0:
            raise RawDataError(f"raw table '{table}' is empty: the scoring cannot work without "
                               "it")
