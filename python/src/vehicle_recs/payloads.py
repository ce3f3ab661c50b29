"""Email payloads: one JSON object per customer, built and checked vectorized.

- `build_payloads` turns the picked items (one row per customer x item) into an Arrow table with
  one row per customer and a nested `items` list: no Python loop over rows.
- `validate_table` checks that table against `schemas/payload.schema.json` column by column
  (the schema is the single source: every keyword it uses is checked here, an unknown keyword
  is an error), before anything is written. The lines are serialized in one vectorized DuckDB
  pass (`jsonl_batches`) and written as they are; `check_written` then proves the file on disk:
  its size is exactly that of the lines, and a sample of lines (first, last, evenly spread),
  read back from their byte offsets, parse to the expected customer and pass `jsonschema` (the
  reference implementation). `validate_file` (re-read and validate every line) and
  `validate_lines` (sample by scanning the file) stay available, e.g. for files from elsewhere.
- Writers are atomic: a temp file in the destination folder, fsync, then `os.replace`; a failure
  mid-way leaves the previous file untouched and no temp file behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from vehicle_recs.settings import PLACEHOLDER, PayloadsConfig, check_template
from vehicle_recs.variants import variant_labels

SCHEMA_RESOURCE = "schemas/payload.schema.json"
CONTENT_CODE_LENGTH = 12


def load_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        resources.files("vehicle_recs").joinpath(SCHEMA_RESOURCE).read_text())
    return schema


# ---------------------------------------------------------------------------------------------
# building


def content_code(campaign_id: str, arm: str) -> str:
    """The `utm_content` of an arm in a campaign: 12 hex digits of a sha256 of both.

    Customers see it in every link instead of the arm's name (the arm of each customer stays in
    assignments.csv). Opaque, not secret: whoever knows the campaign id and the arm names can
    recompute it, which is how an analyst maps it back.
    """
    text = f"vehicle_recs/utm_content/v1:{campaign_id}:{arm}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:CONTENT_CODE_LENGTH]


def content_codes(treatment: pa.Array, campaign_id: str) -> pa.Array:
    """`content_code` per row: hashed once per distinct arm, then taken (vectorized)."""
    arms = pc.unique(treatment)
    codes = pa.array([None if arm is None else content_code(campaign_id, arm)
                      for arm in arms.to_pylist()], pa.string())
    return pc.take(codes, pc.index_in(treatment, value_set=arms))


def _fill(template: str, columns: Mapping[str, pa.Array], length: int) -> pa.Array:
    """Fill {campaign_id}/{content}/{sku} in a template, per row, URL-quoting the values.

    The template is checked again here (settings checks it on load): a link that names the arm
    must never be built, whatever the template came from."""
    check_template(template)
    pieces: list[pa.Array | str] = []
    position = 0
    for match in PLACEHOLDER.finditer(template):
        pieces.append(template[position:match.start()])
        pieces.append(columns[match.group(1)])
        position = match.end()
    pieces.append(template[position:])
    parts = [pa.repeat(pa.scalar(p), length) if isinstance(p, str) else p
             for p in pieces if not (isinstance(p, str) and p == "")]
    if not parts:
        return pa.repeat(pa.scalar(""), length)
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, "")


def _url_quoted(values: pa.Array) -> pa.Array:
    """Percent-encode values for a URL; fast path when nothing needs quoting."""
    unsafe = pc.match_substring_regex(values, r"[^A-Za-z0-9._~-]")
    if not pc.any(pc.fill_null(unsafe, False)).as_py():
        return values
    unique = pc.unique(values)
    quoted = pa.array([None if v is None else quote(v, safe="") for v in unique.to_pylist()],
                      pa.string())
    return pc.take(quoted, pc.index_in(values, value_set=unique))


def tracked_urls(product_url: pa.Array, sku: pa.Array, treatment: pa.Array, campaign_id: str,
                 config: PayloadsConfig) -> pa.Array:
    """Product URL (or the template's, when the product has none) + utm_* tracking parameters.

    The arm (`treatment`) appears only as its opaque `content_code` ({content}).
    """
    length = len(sku)
    values = {
        "campaign_id": pa.repeat(pa.scalar(quote(campaign_id, safe="")), length),
        "content": content_codes(treatment, campaign_id),
        "sku": _url_quoted(sku),
    }
    fallback = _fill(config.product_url_template, values, length)
    base = pc.coalesce(product_url, fallback)
    query = "&".join(f"{key}={value}" for key, value in config.tracking.items())
    separator = pc.if_else(pc.fill_null(pc.match_substring(base, "?"), False),
                           pa.scalar("&"), pa.scalar("?"))
    return pc.binary_join_element_wise(base, separator, _fill(query, values, length), "")


def price_text(price: pa.Array) -> pa.Array:
    """"$1,234.50" for 1234.5 (USD, two decimals, thousands separators); vectorized."""
    cents = np.rint(pc.fill_null(price, 0).to_numpy(zero_copy_only=False) * 100).astype(np.int64)
    whole, rest = np.divmod(np.abs(cents), 100)
    groups = [(whole // 1000**level) % 1000 for level in range(3)] + [whole // 1000**3]
    plain = [pc.cast(pa.array(group), pa.string()) for group in groups]
    padded = [pc.utf8_lpad(text, 3, "0") for text in plain]
    # text[level]: the number written with `level` thousands separators
    text = [plain[0]] + [
        pc.binary_join_element_wise(plain[level], *reversed(padded[:level]), ",")
        for level in range(1, 4)
    ]
    level = (whole >= 1000).astype(int) + (whole >= 1000**2) + (whole >= 1000**3)
    number = pc.choose(pa.array(level, pa.int8()), *text)
    cents_text = pc.utf8_lpad(pc.cast(pa.array(rest), pa.string()), 2, "0")
    result = pc.binary_join_element_wise(pa.scalar("$"), number, pa.scalar("."), cents_text, "")
    return pc.if_else(pc.is_valid(price), result, pa.nulls(len(price), pa.string()))


ITEM_FIELDS = ("rank", "sku", "family_id", "variant", "name", "brand", "category", "department",
               "price", "price_text", "url", "image_url", "vehicle_id", "reason_code", "reason",
               "score")
FLAT_COLUMNS = ("customer_id", "campaign_id", "treatment", "propensity", "strategy", "context",
                "strategy_propensity", "model_version", "as_of", "is_fallback")
# Per-customer decisions of arms that record them (the bandit); null for the other arms.
DECISION_COLUMNS = pa.schema([
    ("strategy", pa.string()),
    ("context", pa.string()),
    ("strategy_propensity", pa.float64()),
])


def _first_rows(picked: pa.Table) -> np.ndarray:
    """Index of each customer's first row (the table is sorted by customer, then item rank)."""
    customer = picked["customer_id"]
    if picked.num_rows == 0:
        return np.zeros(0, dtype=np.int64)
    changed = pc.not_equal(customer.slice(1), customer.slice(0, picked.num_rows - 1))
    starts = np.flatnonzero(pc.fill_null(changed, True).to_numpy(zero_copy_only=False)) + 1
    return np.concatenate([[0], starts]).astype(np.int64)


def item_columns(picked: pa.Table, campaign_id: str, suffixes: Mapping[str, str],
                 config: PayloadsConfig) -> dict[str, pa.Array]:
    """The item fields (ITEM_FIELDS) for every picked row."""
    table = picked.combine_chunks()

    def col(name: str) -> pa.Array:
        return table[name].chunk(0) if table[name].num_chunks else pa.array([], table[name].type)

    price = _rounded(col("price_usd"), 2)
    return {
        "rank": col("item_rank"),
        "sku": col("sku"),
        "family_id": pc.coalesce(col("family_id"), col("sku")),
        "variant": variant_labels(col("sku"), pc.coalesce(col("family_id"), col("sku")), suffixes),
        "name": col("product_name"),
        "brand": col("brand"),
        "category": col("category"),
        "department": col("department"),
        "price": price,
        "price_text": price_text(price),
        "url": tracked_urls(col("product_url"), col("sku"), col("treatment"), campaign_id, config),
        "image_url": col("image_url"),
        "vehicle_id": col("vehicle_id"),
        "reason_code": col("reason_code"),
        "reason": col("reason"),
        "score": _rounded(col("score"), 6),
    }


def _rounded(values: pa.Array, decimals: int) -> pa.Array:
    """Round to the nearest double of a decimal (numpy; pc.round can leave 55.949999...)."""
    rounded = np.round(values.to_numpy(zero_copy_only=False).astype(np.float64), decimals)
    return pa.array(rounded, pa.float64(), mask=values.is_null().to_numpy(zero_copy_only=False))


def _decoded(table: pa.Table) -> pa.Table:
    """Dictionary-encoded columns (the candidates' display text) as plain values."""
    for index, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            table = table.set_column(index, field.name,
                                     pc.cast(table[field.name], field.type.value_type))
    return table


def build_payloads(picked: pa.Table, campaign_id: str, model_version: str, as_of: str,
                   suffixes: Mapping[str, str], config: PayloadsConfig) -> pa.Table:
    """One row per customer with nested `vehicle` and `items`, from picked items.

    `picked` holds one row per (customer, item) sorted by customer and `item_rank` (as
    `selection.select_items` returns it) plus the customer's `treatment` and `propensity`, and
    optionally the arm's `strategy`, `context` and `strategy_propensity` (else null).
    Built BATCH_CUSTOMERS customers at a time: one chunk of the result per batch.
    """
    starts = _first_rows(picked)
    bounds = np.append(starts[::BATCH_CUSTOMERS], picked.num_rows)
    parts = [_build_batch(picked.slice(start, end - start), campaign_id, model_version, as_of,
                          suffixes, config)
             for start, end in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)]
    if not parts:
        return _build_batch(picked, campaign_id, model_version, as_of, suffixes, config)
    return pa.concat_tables(parts)


def _build_batch(picked: pa.Table, campaign_id: str, model_version: str, as_of: str,
                 suffixes: Mapping[str, str], config: PayloadsConfig) -> pa.Table:
    picked = _decoded(picked.combine_chunks())
    items = item_columns(picked, campaign_id, suffixes, config)
    starts = _first_rows(picked)
    offsets = pa.array(np.append(starts, picked.num_rows), pa.int32())
    item_struct = pa.StructArray.from_arrays(list(items.values()), names=list(items))
    first = picked.take(pa.array(starts))
    count = len(starts)
    # The email's vehicle: that of the customer's best-ranked item that has one (re-buys and
    # fallback items may have none); null when no item has a vehicle.
    customer = np.repeat(np.arange(count), np.diff(np.append(starts, picked.num_rows)))
    with_vehicle = np.flatnonzero(pc.is_valid(picked["vehicle_id"]).to_numpy(
        zero_copy_only=False))
    owners, first_hit = np.unique(customer[with_vehicle], return_index=True)
    source = np.full(count, -1, dtype=np.int64)
    source[owners] = with_vehicle[first_hit]
    index = pa.array(source, mask=source < 0)
    vehicle = pa.StructArray.from_arrays(
        [picked[name].combine_chunks().take(index)
         for name in ("vehicle_id", "vehicle_year", "vehicle_make", "vehicle_model")],
        names=["vehicle_id", "year", "make", "model"],
        mask=pa.array(source < 0),
    )

    # The model flags fallback rows of customers without a vehicle; any flagged row marks them.
    flags = pc.fill_null(picked["is_fallback"], False).to_numpy(zero_copy_only=False)
    is_fallback = (np.maximum.reduceat(flags.astype(np.int8), starts) > 0 if count
                   else np.zeros(0, dtype=bool))

    def constant(value: str) -> pa.Array:
        return pa.repeat(pa.scalar(value), count)

    def decision(field: pa.Field) -> pa.Array:
        if field.name in first.column_names:
            return pc.cast(first[field.name], field.type)
        return pa.nulls(count, field.type)

    return pa.table({
        "customer_id": first["customer_id"],
        "campaign_id": constant(campaign_id),
        "treatment": first["treatment"],
        "propensity": first["propensity"],
        **{field.name: decision(field) for field in DECISION_COLUMNS},
        "model_version": constant(model_version),
        "as_of": constant(as_of),
        "is_fallback": pa.array(is_fallback),
        "vehicle": vehicle,
        "items": pa.ListArray.from_arrays(offsets, item_struct),
    })


# Payloads per batch when a step derives new columns from every payload (validation, the flat
# export): the derived data of one batch at a time, not of all customers.
BATCH_CUSTOMERS = 200_000


def _whole(column: pa.ChunkedArray) -> pa.Array:
    """The column as one array, without a copy when it is one chunk already (payload tables
    are a few GB at the retailer's scale: a copy of all of them is a new peak)."""
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def flat_items(payloads: pa.Table) -> pa.Table:
    """The customer x item export: one row per item with the customer's fields repeated."""
    items = _whole(payloads["items"])
    parents = pc.list_parent_indices(items)
    flat = items.flatten()
    columns = {name: _whole(payloads[name]).take(parents) for name in FLAT_COLUMNS
               if name in payloads.column_names}
    vehicle = _whole(payloads["vehicle"])
    columns["customer_vehicle_id"] = pc.struct_field(vehicle, "vehicle_id").take(parents)
    for name in ITEM_FIELDS:
        columns[f"item_{name}" if name in ("rank", "vehicle_id") else name] = flat.field(name)
    return pa.table(columns)


def write_flat_items(payloads: pa.Table, path: Path) -> None:
    """`flat_items` of every payload batch into one Parquet file, atomically."""
    import pyarrow.parquet as pq

    with atomic_path(path) as temp:
        writer: pq.ParquetWriter | None = None
        try:
            for batch in payloads.to_batches(max_chunksize=BATCH_CUSTOMERS):
                flat = flat_items(pa.Table.from_batches([batch]))
                if writer is None:
                    writer = pq.ParquetWriter(temp, flat.schema)
                writer.write_table(flat)
            if writer is None:
                pq.write_table(flat_items(payloads), temp)
        finally:
            if writer is not None:
                writer.close()


def check_guardrails(payloads: pa.Table) -> None:
    """Rules an email must never break, checked on the built table (besides the schema)."""
    customers = payloads["customer_id"]
    if pc.count_distinct(customers).as_py() != len(customers):
        raise ValueError("payloads hold more than one object for a customer")
    for items in payloads["items"].chunks:  # a customer's payload is in one chunk
        parents = pc.list_parent_indices(items)
        pairs = pa.table({"customer": parents, "family": items.flatten().field("family_id")})
        if pairs.group_by(["customer", "family"]).aggregate([]).num_rows != pairs.num_rows:
            raise ValueError("a payload shows two SKUs of one variant family")


# ---------------------------------------------------------------------------------------------
# validation against the JSON Schema, vectorized


SUPPORTED_KEYWORDS = {
    "$schema", "$id", "title", "description", "type", "required", "properties",
    "additionalProperties", "items", "minItems", "maxItems", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern", "enum",
}
_ARROW_KINDS: dict[str, Callable[[pa.DataType], bool]] = {
    "string": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
    "integer": pa.types.is_integer,
    "number": lambda t: pa.types.is_integer(t) or pa.types.is_floating(t),
    "boolean": pa.types.is_boolean,
    "object": pa.types.is_struct,
    "array": lambda t: pa.types.is_list(t) or pa.types.is_large_list(t),
    "null": pa.types.is_null,
}


class PayloadValidationError(ValueError):
    """Built payloads break the JSON Schema; nothing was written."""


def validate_table(payloads: pa.Table, schema: Mapping[str, Any] | None = None,
                   names: pa.Array | pa.ChunkedArray | None = None) -> None:
    """Check every payload row against the JSON Schema; raise naming the first violation.

    The error names the row's customer: `names[row]` (default: the `customer_id` column), e.g.
    the `external_user_id` of an export's recipients.
    """
    schema = schema if schema is not None else load_schema()
    errors: list[tuple[str, int]] = []
    start = 0
    # batch by batch: no copy of the whole table
    for batch in payloads.to_batches(max_chunksize=BATCH_CUSTOMERS):
        struct = pa.StructArray.from_arrays(batch.columns, names=batch.schema.names)
        owner = np.arange(start, start + len(struct))
        _validate(struct, np.ones(len(struct), dtype=bool), schema, "$", owner, errors)
        start += len(struct)
    if errors:
        message, row = errors[0]
        customer = (names if names is not None else payloads["customer_id"])[row].as_py()
        more = f" (+{len(errors) - 1} more rule(s) broken)" if len(errors) > 1 else ""
        raise PayloadValidationError(
            f"payload schema violation: {message}, first for customer {customer}{more}")


def _validate(array: pa.Array, present: np.ndarray, schema: Mapping[str, Any], path: str,
              owner: np.ndarray, errors: list[tuple[str, int]]) -> None:
    unknown = set(schema) - SUPPORTED_KEYWORDS
    if unknown:
        raise ValueError(f"payload schema at {path} uses unsupported keyword(s): {sorted(unknown)}")

    def fail(mask: np.ndarray, what: str) -> None:
        bad = np.flatnonzero(mask)
        if len(bad):
            errors.append((f"{path}: {what} ({len(bad)} value(s))", int(owner[bad[0]])))

    kinds = schema.get("type", [])
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    nulls = array.is_null().to_numpy(zero_copy_only=False) & present
    if "null" not in kinds and kinds:
        fail(nulls, "null not allowed")
    values = present & ~nulls
    if not values.any():
        return
    real = [kind for kind in kinds if kind != "null"]
    if real and not any(_ARROW_KINDS[kind](array.type) for kind in real):
        fail(values, f"expected {'/'.join(real)}, column is {array.type}")
        return

    if pa.types.is_floating(array.type):
        finite = pc.is_finite(array).fill_null(True).to_numpy(zero_copy_only=False)
        fail(values & ~finite, "number is not finite (NaN or infinity)")
    bounds = (("minimum", pc.less, "below minimum"), ("maximum", pc.greater, "above maximum"),
              ("exclusiveMinimum", pc.less_equal, "not above exclusiveMinimum"),
              ("exclusiveMaximum", pc.greater_equal, "not below exclusiveMaximum"))
    for keyword, compare, words in bounds:
        if keyword in schema:
            broken = compare(array, schema[keyword]).fill_null(False).to_numpy(
                zero_copy_only=False)
            fail(values & broken, f"{words} {schema[keyword]}")
    if "minLength" in schema or "maxLength" in schema:
        length = pc.utf8_length(array).fill_null(0).to_numpy(zero_copy_only=False)
        if "minLength" in schema:
            fail(values & (length < schema["minLength"]), f"shorter than {schema['minLength']}")
        if "maxLength" in schema:
            fail(values & (length > schema["maxLength"]), f"longer than {schema['maxLength']}")
    if "pattern" in schema:
        matches = pc.match_substring_regex(array, schema["pattern"]).fill_null(True)
        fail(values & ~matches.to_numpy(zero_copy_only=False),
             f"does not match pattern {schema['pattern']}")
    if "enum" in schema:
        allowed = pc.is_in(array, value_set=pa.array(schema["enum"], array.type))
        fail(values & ~allowed.fill_null(False).to_numpy(zero_copy_only=False),
             f"not one of {schema['enum']}")

    if pa.types.is_struct(array.type):
        names = [array.type.field(i).name for i in range(array.type.num_fields)]
        properties: Mapping[str, Any] = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in names:
                fail(values, f"missing required field '{name}'")
        if schema.get("additionalProperties") is False:
            for name in names:
                if name not in properties:
                    fail(values, f"field '{name}' not allowed")
        for name, child_schema in properties.items():
            if name in names:
                child = array.field(names.index(name))
                _validate(child, values, child_schema, f"{path}.{name}", owner, errors)
    if pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
        length = pc.list_value_length(array).fill_null(0).to_numpy(zero_copy_only=False)
        if "minItems" in schema:
            fail(values & (length < schema["minItems"]), f"fewer than {schema['minItems']} items")
        if "maxItems" in schema:
            fail(values & (length > schema["maxItems"]), f"more than {schema['maxItems']} items")
        if "items" in schema:
            parents = pc.list_parent_indices(array).to_numpy(zero_copy_only=False)
            _validate(array.flatten(), values[parents], schema["items"], f"{path}[]",
                      owner[parents], errors)


def _arrow_type(schema: Mapping[str, Any]) -> pa.DataType:
    """The Arrow type a JSON Schema node reads as (first non-null type)."""
    kinds = schema.get("type", "string")
    kind = next(k for k in ([kinds] if isinstance(kinds, str) else kinds) if k != "null")
    if kind == "object":
        return pa.struct([(name, _arrow_type(child))
                          for name, child in schema.get("properties", {}).items()])
    if kind == "array":
        return pa.list_(_arrow_type(schema.get("items", {})))
    return {"string": pa.string(), "integer": pa.int64(), "number": pa.float64(),
            "boolean": pa.bool_()}[kind]


def validate_file(path: Path, schema: Mapping[str, Any] | None = None,
                  expected_rows: int | None = None) -> int:
    """Re-read a written JSON Lines file (Arrow's C++ reader) and validate every line."""
    import pyarrow.json as pajson

    schema = schema if schema is not None else load_schema()
    # Types from the JSON Schema (else Arrow guesses timestamps for date strings); fields the
    # schema does not know are still read (inferred) and then rejected by additionalProperties.
    options = pajson.ParseOptions(explicit_schema=pa.schema(list(_arrow_type(schema).fields)),
                                  unexpected_field_behavior="infer")
    try:
        table = pajson.read_json(path, parse_options=options)
    except pa.ArrowInvalid as error:
        raise PayloadValidationError(f"{path.name} is not valid JSON Lines: {error}") from None
    if expected_rows is not None and table.num_rows != expected_rows:
        raise PayloadValidationError(
            f"{path.name} holds {table.num_rows} lines, expected {expected_rows}")
    validate_table(table, schema)
    return table.num_rows


def validate_lines(path: Path, schema: Mapping[str, Any] | None = None,
                   sample: int = 100, total: int | None = None) -> int:
    """Validate up to `sample` written lines (evenly spread) one by one with jsonschema.

    The reference implementation double-checks the vectorized validator on real lines.
    """
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema if schema is not None else load_schema())
    if total is None:
        with path.open("rb") as handle:
            total = sum(1 for _ in handle)
    step = max(1, -(-total // max(sample, 1)))
    checked = 0
    with path.open("rb") as handle:
        for number, line in enumerate(handle):
            if number % step:
                continue
            error = jsonschema.exceptions.best_match(validator.iter_errors(json.loads(line)))
            if error is not None:
                where = "/".join(str(part) for part in error.absolute_path) or "$"
                raise PayloadValidationError(
                    f"{path.name} line {number + 1}: {where}: {error.message}")
            checked += 1
    return checked


# ---------------------------------------------------------------------------------------------
# atomic writers


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temp path beside `path`; on success it replaces `path`, on error it is removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temp = Path(temp_name)
    try:
        yield temp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)  # mkstemp makes 0600; outputs are ordinary files
        with temp.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


# Lines serialized per batch: the JSON text of one batch is in memory at a time.
BATCH_LINES = 100_000


def jsonl_batches(payloads: pa.Table) -> Iterator[pa.Array]:
    """One JSON object + newline per row, in row order (columns in order, nulls as null), a
    batch of lines at a time.

    DuckDB's `to_json` (vectorized; insertion order is kept), byte for byte what
    `COPY ... (format json)` writes, streamed so the whole file's text is never held at once.
    """
    import duckdb

    with duckdb.connect() as con:
        con.register("payloads", payloads)
        reader = con.sql("select to_json(payloads) || chr(10) as line from payloads"
                         ).to_arrow_reader(BATCH_LINES)
        for batch in reader:
            yield batch.column(0)


def _write_lines(lines: pa.Array, handle: Any) -> None:
    """Write the string values back to back: the array's data buffer, no Python per line."""
    if len(lines) == 0:
        return
    width = np.int64 if pa.types.is_large_string(lines.type) else np.int32
    offsets = np.frombuffer(lines.buffers()[1], dtype=width)
    start, end = int(offsets[lines.offset]), int(offsets[lines.offset + len(lines)])
    handle.write(memoryview(lines.buffers()[2])[start:end])


def write_jsonl(payloads: pa.Table, path: Path) -> np.ndarray:
    """Write one JSON object per row (columns in order, nulls as null), atomically; returns the
    byte length of every line written (for `check_written`)."""
    lengths = []
    with atomic_path(path) as temp, temp.open("wb") as handle:
        for lines in jsonl_batches(payloads):
            if lines.null_count:
                raise PayloadValidationError("JSON serialization gave a null line")
            _write_lines(lines, handle)
            lengths.append(pc.binary_length(lines).to_numpy().astype(np.int64))
        written = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
        if len(written) != payloads.num_rows:
            raise PayloadValidationError("JSON serialization lost rows")
    return written


def check_written(path: Path, lengths: np.ndarray, customer_ids: pa.ChunkedArray | pa.Array,
                  schema: Mapping[str, Any] | None = None, sample: int = 100) -> int:
    """Prove a written JSON Lines file: exact size (the sum of the line `lengths` in bytes that
    `write_jsonl` returned), and `sample` lines read back from their byte offsets parse to the
    expected customer and pass `jsonschema`. Returns lines checked.

    The table behind the lines was validated column by column (`validate_table`) and the lines
    are DuckDB's serialization of it; the sample proves that mapping on the bytes on disk.
    """
    import jsonschema

    ends = np.cumsum(lengths)
    total = int(ends[-1]) if len(ends) else 0
    size = path.stat().st_size
    if size != total:
        raise PayloadValidationError(f"{path.name} holds {size} bytes, expected {total}")
    count = len(lengths)
    if count == 0:
        return 0
    rows = np.unique(np.r_[np.linspace(0, count - 1, min(max(sample, 2), count)).astype(np.int64),
                           count - 1])
    validator = jsonschema.Draft202012Validator(schema if schema is not None else load_schema())
    expected = pc.take(customer_ids, pa.array(rows)).to_pylist()
    with path.open("rb") as handle:
        for row, customer in zip(rows.tolist(), expected, strict=True):
            handle.seek(int(ends[row] - lengths[row]))
            raw = handle.read(int(lengths[row]))
            try:
                if not raw.endswith(b"\n"):
                    raise ValueError("no newline at the end of the line")
                value = json.loads(raw)
            except ValueError as problem:
                raise PayloadValidationError(
                    f"{path.name} line {row + 1} is not one JSON object: {problem}") from None
            error = jsonschema.exceptions.best_match(validator.iter_errors(value))
            if error is not None:
                where = "/".join(str(part) for part in error.absolute_path) or "$"
                raise PayloadValidationError(
                    f"{path.name} line {row + 1}: {where}: {error.message}")
            if not isinstance(value, dict) or value.get("customer_id") != customer:
                raise PayloadValidationError(
                    f"{path.name} line {row + 1} is not customer {customer}'s payload")
    return len(rows)


def write_csv(table: pa.Table, path: Path) -> None:
    with atomic_path(path) as temp:
        pacsv.write_csv(table, temp)


def write_text(text: str, path: Path) -> None:
    with atomic_path(path) as temp:
        temp.write_text(text, encoding="utf-8")


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
