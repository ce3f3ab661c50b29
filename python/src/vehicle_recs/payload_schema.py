"""Payloads checked against their JSON Schema (`schemas/payload.schema.json`).

- `validate_table` checks the built table column by column, vectorized, before anything is
  written (the schema is the single source: every keyword it uses is checked here, an unknown
  keyword is an error).
- `check_written` then proves the file on disk: its size is exactly that of the lines, and a
  sample of lines (first, last, evenly spread), read back from their byte offsets, parse to the
  expected customer and pass `jsonschema` (the reference implementation).
- `validate_file` (re-read and validate every line) and `validate_lines` (sample by scanning the
  file) stay available, e.g. for files from elsewhere.

Every violation is a `PayloadValidationError`: nothing is published.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vehicle_recs.errors import VehicleRecsError
from vehicle_recs.payloads import BATCH_CUSTOMERS

SCHEMA_RESOURCE = "schemas/payload.schema.json"


def load_schema() -> dict[str, Any]:
    """The payload schema shipped in the package: the one contract of every payload line."""
    schema: dict[str, Any] = json.loads(
        resources.files("vehicle_recs").joinpath(SCHEMA_RESOURCE).read_text())
    return schema


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


class PayloadValidationError(VehicleRecsError):
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


def read_json_line(handle: IO[bytes], end: int, length: int) -> Any:
    """The JSON value of the line that ends at byte `end` of an open file and is `length` bytes
    long, newline included: how a written file is read back at a sampled offset. ValueError when
    those bytes are not one JSON value and its newline."""
    handle.seek(end - length)
    raw = handle.read(length)
    if not raw.endswith(b"\n"):
        raise ValueError("no newline at the end of the line")
    return json.loads(raw)


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
            try:
                value = read_json_line(handle, int(ends[row]), int(lengths[row]))
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
