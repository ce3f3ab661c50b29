"""Email payloads built from the picked items: one row per customer, vectorized.

`build_payloads` turns the picked items (one row per customer x item) into an Arrow table with
one row per customer and a nested `items` list, with no Python loop over rows: tracked links
(the arm only as its opaque `content_code`), price text, the email's vehicle. `check_guardrails`
holds the rules an email must never break besides the JSON Schema, `flat_items` the customer x
item export. Checking against the schema is `payload_schema`; writing the files is `outputs`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date
from urllib.parse import quote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vehicle_recs.settings import PLACEHOLDER, PayloadsConfig, check_template
from vehicle_recs.variants import variant_labels

CONTENT_CODE_LENGTH = 12


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


def build_payloads(picked: pa.Table, campaign_id: str, model_version: str, as_of: date,
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


def _build_batch(picked: pa.Table, campaign_id: str, model_version: str, as_of: date,
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
        "as_of": constant(as_of.isoformat()),  # the payload's text: YYYY-MM-DD
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
