"""`vehicle-recs export`: ESP-ready files from a finished run folder, which is only read.

    vehicle-recs export --run OUT --format {braze,klaviyo,csv} [--out DIR]

Read: OUT/summary.json (`vehicle-recs run` writes it last, with the sha256 of every file: a
folder without it is a failed or unfinished run) and OUT/payload_items.parquet (one row per
customer x item), whose sha256 must match the summary's. Nothing in OUT is written.

Written into DIR (default: OUT-<format> beside OUT), one data file and `export.json`:
- braze: `braze_requests.jsonl`, one request body per line for Braze's API-triggered campaign
  send (POST /campaigns/trigger/send): `campaign_id` (--campaign-id or
  $VEHICLE_RECS_BRAZE_CAMPAIGN_ID, else a placeholder to replace) and up to 50 `recipients`,
  each `external_user_id` = customer_id with its `trigger_properties` (items, keys below).
- klaviyo: `klaviyo_requests.jsonl`, one body per line for Klaviyo's Bulk Create Events
  (POST /api/event-bulk-create-jobs, header `revision: KLAVIYO_REVISION`): one event of metric
  --metric per customer (profile matched by `external_id` = customer_id), up to 1,000 a body,
  its `unique_id` the idempotency key (Klaviyo refuses a repeated one for a profile and metric).
- csv: `items.csv`, one row per (customer, item) for file-based senders.
- export.json: counts, the limits applied with the documentation they come from, the largest
  body, the sha256 of the data file; written last.

Every payload carries `idempotency_key` = sha256 of (run campaign id, customer id), so a rerun
of the same run exports the same keys; every item a `currency` (ISO 4217, --currency, default
USD: the run's prices are the catalog's price_usd, the option labels them and converts
nothing) and its utm_* parameters, `utm_content` being the opaque code of campaign and arm
(`payloads.content_code`); the arm itself is in the run's assignments.csv only. Links of runs
made before utm_content was opaque are rewritten to the code.

Checks: the rows of every format are validated column by column against their JSON Schema
(`schemas/`, `payload_schema.validate_table`) before a byte is written; every recipient / event and
every body is measured against the documented byte and count limits; the written file's size
must be the sum of the bodies', and a sample of bodies (first, last, evenly spread) is read
back, parsed, counted and validated with jsonschema against the full request schema (with a
sample of each body's recipients / events: jsonschema is slow on 1,000 events). The export is
built in a staging folder beside DIR and swapped in as a whole (DIR is replaced only when it
is empty or an earlier export); a failure leaves DIR as it was.

Vectorized: the rows are read, hashed (DuckDB sha256), nested (Arrow list offsets) and
serialized (DuckDB to_json) a chunk of ROWS_PER_CHUNK item rows at a time; Python loops only
over arms, chunks and request bodies.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import IO, Any

import click
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vehicle_recs.errors import VehicleRecsError, user_path

# vehicle_recs.payloads and the modules that import it (pandas, through variants) are imported
# where they are used: cli.py imports this module for every command.

Progress = Callable[[str], None]

FORMATS = ("braze", "klaviyo", "csv")
DATA_FILES = {"braze": "braze_requests.jsonl", "klaviyo": "klaviyo_requests.jsonl",
              "csv": "items.csv"}
SCHEMA_FILES = {"braze": "schemas/braze_campaigns_trigger_send.schema.json",
                "klaviyo": "schemas/klaviyo_bulk_create_events.schema.json",
                "csv": "schemas/export_csv_row.schema.json"}
MANIFEST = "export.json"
ITEMS_FILE = "payload_items.parquet"
ITEM_COLUMNS = ("customer_id", "campaign_id", "treatment", "item_rank", "sku", "name", "price",
                "url", "image_url", "reason")

BRAZE_CAMPAIGN_ENV = "VEHICLE_RECS_BRAZE_CAMPAIGN_ID"
BRAZE_CAMPAIGN_PLACEHOLDER = "REPLACE-WITH-BRAZE-CAMPAIGN-ID"
KLAVIYO_METRIC_ENV = "VEHICLE_RECS_KLAVIYO_METRIC"
DEFAULT_METRIC = "Vehicle Recommendations Ready"
DEFAULT_CURRENCY = "USD"
# The revision (required API version header) of the Klaviyo reference page cited below; the
# bodies use only fields the 2024-10-15 revision of that page already documents.
KLAVIYO_REVISION = "2026-10-15"
IDEMPOTENCY_PREFIX = "vehicle_recs/idempotency/v1:"
CAMPAIGN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # runner.CAMPAIGN_ID: no ':'

# Item rows read, nested and serialized at a time (about 40k customers of 6 items; about 1.3 GB
# peak for a Klaviyo export, whatever the run's size).
ROWS_PER_CHUNK = 250_000
# Request bodies read back from disk, parsed and validated with jsonschema: the body with a
# sample of its objects (first, last, evenly spread; jsonschema takes ~3 ms per Klaviyo event,
# so not all 1,000 of a body). Every body's object count is compared with what was written.
SAMPLE_BODIES = 20
SAMPLE_OBJECTS = 10

# --- documented limits ------------------------------------------------------------------------
# Sizes are read in decimal units (1 KB = 1,000 bytes, 1 MB = 1,000,000 bytes), the stricter
# reading of each page's "KB"/"MB".

# Braze, POST /campaigns/trigger/send: "A single request to the messaging endpoints can reach
# ... up to 50 specific external_ids, each with individual message parameters".
# https://www.braze.com/docs/api/endpoints/messaging/send_messages/post_send_triggered_campaigns/
BRAZE_MAX_RECIPIENTS = 50
# Braze: "The trigger_properties object has a maximum size limit of 50 KB." Applied to the whole
# recipient object (trigger_properties plus its external_user_id), which is stricter.
# https://braze.com/docs/api/objects_filters/trigger_properties_object/
BRAZE_MAX_RECIPIENT_BYTES = 50_000
# Braze: "All API endpoints have a data payload limit of 4 MB. Attempts to post more data than
# 4 MB will fail with an HTTP 413 Request Entity Too Large."
# https://braze.com/docs/api/endpoints/user_data/
BRAZE_MAX_BODY_BYTES = 4_000_000

# Klaviyo, Bulk Create Events (POST /api/event-bulk-create-jobs): "Accepts up to 1,000 events
# per request. The maximum allowed payload size is 5MB."
# https://developers.klaviyo.com/en/reference/bulk_create_events
KLAVIYO_MAX_EVENTS = 1_000
KLAVIYO_MAX_BODY_BYTES = 5_000_000
# Klaviyo ingestion limits: "Max size of any field | 100 kB" (also: at most 300 event
# properties, 4,000 items in an array, 10 levels of nested objects; the properties here are 5,
# with at most 50 items, nested 3 levels). Applied to each whole event entry, which is stricter.
# https://developers.klaviyo.com/en/docs/rate-limits-and-error-handling
KLAVIYO_MAX_EVENT_BYTES = 100_000


@dataclass(frozen=True)
class Limits:
    """What one request body may hold: objects (recipients or events) and bytes."""

    max_objects: int
    max_body_bytes: int
    max_object_bytes: int
    sources: Mapping[str, str] = field(default_factory=dict)


BRAZE_LIMITS = Limits(
    BRAZE_MAX_RECIPIENTS, BRAZE_MAX_BODY_BYTES, BRAZE_MAX_RECIPIENT_BYTES,
    {"max_objects": "https://www.braze.com/docs/api/endpoints/messaging/send_messages/"
                    "post_send_triggered_campaigns/",
     "max_body_bytes": "https://braze.com/docs/api/endpoints/user_data/",
     "max_object_bytes": "https://braze.com/docs/api/objects_filters/trigger_properties_object/"})
KLAVIYO_LIMITS = Limits(
    KLAVIYO_MAX_EVENTS, KLAVIYO_MAX_BODY_BYTES, KLAVIYO_MAX_EVENT_BYTES,
    {"max_objects": "https://developers.klaviyo.com/en/reference/bulk_create_events",
     "max_body_bytes": "https://developers.klaviyo.com/en/reference/bulk_create_events",
     "max_object_bytes": "https://developers.klaviyo.com/en/docs/rate-limits-and-error-handling"})
ENDPOINTS = {
    "braze": "POST https://rest.<your Braze instance>.braze.com/campaigns/trigger/send",
    "klaviyo": "POST https://a.klaviyo.com/api/event-bulk-create-jobs",
}


class ExportError(VehicleRecsError):
    """Bad input for an export (shown by the CLI as one line, exit code 2)."""


def _quiet(_: str) -> None:
    pass


def limits_for(fmt: str) -> Limits:
    return BRAZE_LIMITS if fmt == "braze" else KLAVIYO_LIMITS


def load_export_schema(fmt: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        resources.files("vehicle_recs").joinpath(SCHEMA_FILES[fmt]).read_text())
    return schema


def element_schema(fmt: str, schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """The schema of one row the exporter builds: a Braze recipient, a Klaviyo event entry, a
    CSV row (the part of the request schema that is checked vectorized before writing)."""
    element: Mapping[str, Any] = schema
    if fmt == "braze":
        element = schema["properties"]["recipients"]["items"]
    elif fmt == "klaviyo":
        bulk = schema["properties"]["data"]["properties"]["attributes"]["properties"]
        element = bulk["events-bulk-create"]["properties"]["data"]["items"]
    return element


def body_objects(fmt: str, body: Mapping[str, Any]) -> list[Any]:
    """The recipients (Braze) or event entries (Klaviyo) of a request body."""
    if fmt == "braze":
        return list(body["recipients"])
    return list(body["data"]["attributes"]["events-bulk-create"]["data"])


# ---------------------------------------------------------------------------------------------
# options and the run folder


def check_options(fmt: str, currency: str, campaign_id: str | None, metric: str) -> str:
    """Options before anything is read; returns the Braze campaign id (placeholder if None)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown --format {fmt!r}: use {', '.join(FORMATS)}")
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise ExportError(f"bad --currency {currency!r}: an ISO 4217 code, three capital "
                          "letters such as USD")
    esp_campaign = BRAZE_CAMPAIGN_PLACEHOLDER if campaign_id is None else campaign_id
    if fmt == "braze" and not re.fullmatch(r"[A-Za-z0-9._-]{1,128}", esp_campaign):
        raise ExportError(f"bad --campaign-id {esp_campaign!r}: the Braze campaign's id "
                          "(letters, digits, '.', '_', '-')")
    if fmt == "klaviyo" and not metric.strip():
        raise ExportError("empty --metric: the Klaviyo metric (event name) a flow triggers on")
    return esp_campaign


def check_run(run_dir: Path) -> dict[str, Any]:
    """A finished run folder: summary.json (read once; its own sha256 is added as
    `_sha256`) names the sha256 of payload_items.parquet. Returns the summary; `open_items`
    checks the file against it."""
    if not run_dir.exists():
        raise ExportError(f"run folder {run_dir} does not exist")
    if not run_dir.is_dir():
        raise ExportError(f"--run {run_dir} is a file, not a run folder")
    summary_path = run_dir / "summary.json"
    if not summary_path.is_file():
        raise ExportError(f"{run_dir} has no summary.json: not a finished run (a failed or "
                          "interrupted `vehicle-recs run` publishes none); rerun it")
    raw = summary_path.read_bytes()
    try:
        summary = json.loads(raw)
    except ValueError:
        raise ExportError(f"{summary_path} is not JSON: not a finished run") from None
    files = summary.get("files") if isinstance(summary, dict) else None
    if not isinstance(files, dict) or ITEMS_FILE not in files:
        raise ExportError(f"{summary_path} names no sha256 of {ITEMS_FILE}: not a finished "
                          "run of `vehicle-recs run`")
    campaign = summary.get("campaign_id")
    if not isinstance(campaign, str) or not CAMPAIGN_ID.fullmatch(campaign):
        raise ExportError(f"{summary_path}: bad campaign_id {campaign!r}")
    if not (run_dir / ITEMS_FILE).is_file():
        raise ExportError(f"{run_dir} has no {ITEMS_FILE}: an incomplete run folder")
    return {**summary, "_sha256": hashlib.sha256(raw).hexdigest()}


def open_items(run_dir: Path, summary: Mapping[str, Any]) -> IO[bytes]:
    """payload_items.parquet opened once, its sha256 checked against the summary's on the
    bytes this handle reads (a run publishing meanwhile cannot swap the file under the
    export)."""
    path = run_dir / ITEMS_FILE
    handle = path.open("rb")
    try:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
        if digest != summary["files"][ITEMS_FILE]:
            raise ExportError(f"{path} does not match its sha256 in summary.json: the run "
                              "folder changed after the run finished; rerun it")
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    return handle


def check_out(out_dir: Path, run_dir: Path) -> None:
    """DIR is outside the run folder, and new, empty or an earlier export (it is replaced)."""
    if out_dir == run_dir or run_dir in out_dir.parents:
        raise ExportError(f"--out {out_dir} is inside the run folder, which export only reads: "
                          "choose another folder")
    if out_dir in run_dir.parents:
        raise ExportError(f"--out {out_dir} holds the run folder: choose another folder")
    if out_dir.exists():
        if not out_dir.is_dir():
            raise ExportError(f"--out {out_dir} is a file, not a folder")
        if not (out_dir / MANIFEST).is_file() and any(out_dir.iterdir()):
            raise ExportError(f"--out {out_dir} holds other files (no {MANIFEST}): only an "
                              "empty folder or an earlier export is replaced")
    # the staging folder is made beside DIR, and DIR renamed there
    existing = next(folder for folder in out_dir.parents if folder.exists())
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ExportError(f"--out {out_dir}: {existing} is not writable")


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


# ---------------------------------------------------------------------------------------------
# rows: read, hashed, nested


def idempotency_keys(con: Any, campaign_id: str, customer_ids: pa.Array) -> pa.Array:
    """sha256 hex of 'vehicle_recs/idempotency/v1:<campaign>:<customer>' per customer (DuckDB,
    vectorized). The campaign id holds no ':', so the pair is unambiguous; the same run
    campaign and customer give the same key on every export."""
    con.register("export_customers", pa.table({"customer_id": customer_ids}))
    try:
        result = con.sql("select sha256(? || customer_id) as key from export_customers",
                         params=[f"{IDEMPOTENCY_PREFIX}{campaign_id}:"]).to_arrow_table()
    finally:
        con.unregister("export_customers")
    keys = result["key"].combine_chunks()
    if len(keys) != len(customer_ids):
        raise ExportError("hashing the customer ids lost rows")
    return keys.cast(pa.string())


def customer_chunks(source: Path | IO[bytes], rows: int = ROWS_PER_CHUNK) -> Iterator[pa.Table]:
    """payload_items.parquet a chunk of about `rows` rows at a time, never splitting a
    customer's items (they are consecutive): the last customer of a batch waits for the next."""
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(source)
    except (pa.ArrowException, OSError) as error:
        raise ExportError(f"cannot read {ITEMS_FILE} as Parquet: {error}") from None
    missing = [name for name in ITEM_COLUMNS if name not in file.schema_arrow.names]
    if missing:
        raise ExportError(f"{ITEMS_FILE} lacks column(s) {', '.join(missing)}: not a payload "
                          "export of `vehicle-recs run`")
    pending: pa.Table | None = None
    for batch in file.iter_batches(batch_size=rows, columns=list(ITEM_COLUMNS)):
        table = pa.Table.from_batches([batch])
        if pending is not None:
            table = pa.concat_tables([pending, table])
        last = int(_customer_starts(_whole(table["customer_id"]))[-1]) if table.num_rows else 0
        if last == 0:
            pending = table
            continue
        yield table.slice(0, last)
        pending = table.slice(last)
    if pending is not None and pending.num_rows:
        yield pending


def _whole(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks()
    return column


def _customer_starts(customer: pa.Array) -> np.ndarray:
    """Index of each customer's first row (rows of a customer are consecutive)."""
    if len(customer) == 0:
        return np.zeros(0, dtype=np.int64)
    changed = pc.not_equal(customer.slice(1), customer.slice(0, len(customer) - 1))
    starts = np.flatnonzero(pc.fill_null(changed, True).to_numpy(zero_copy_only=False)) + 1
    return np.concatenate([[0], starts]).astype(np.int64)


UTM_CONTENT = r"([?&]utm_content=)[^&#]*"


def opaque_urls(url: pa.Array, treatment: pa.Array, campaign_id: str) -> pa.Array:
    """Each link's utm_content set to the code of its campaign and arm (a no-op for runs that
    wrote the code; older runs wrote the arm's name). One regex pass per arm."""
    from vehicle_recs.payloads import content_code

    result = url
    for arm in pc.unique(treatment).to_pylist():
        if arm is None:
            continue
        code = content_code(campaign_id, arm)
        stale = pc.and_(pc.equal(treatment, arm),
                        pc.invert(pc.match_substring(result, f"utm_content={code}")))
        if not pc.any(stale).as_py():  # runs since the code: nothing to rewrite
            continue
        replaced = pc.replace_substring_regex(result, UTM_CONTENT, "\\1" + code)
        result = pc.if_else(stale, replaced, result)
    return result


UTM_NAMES = ("source", "medium", "campaign", "term")
# The parameters as payloads.json writes them, in one regex pass (the common case).
UTM_IN_ORDER = (r"[?&]utm_source=(?P<source>[^&#]*)&utm_medium=(?P<medium>[^&#]*)"
                r"&utm_campaign=(?P<campaign>[^&#]*)&utm_content=[^&#]*&utm_term=(?P<term>[^&#]*)")


def utm_value(url: pa.Array, name: str) -> pa.Array:
    """The value of query parameter `name` in each URL as written (percent-encoded); null
    when absent."""
    found = pc.extract_regex(url, rf"[?&]{name}=(?P<value>[^&#]*)")
    return pc.if_else(pc.is_valid(found), found.field("value"), pa.nulls(len(url), pa.string()))


def utm_values(url: pa.Array) -> dict[str, pa.Array]:
    """utm_source, _medium, _campaign and _term of each URL (`utm_value`): one regex pass when
    they come in the configured order, a pass per parameter for the URLs that do not."""
    found = pc.extract_regex(url, UTM_IN_ORDER)
    if pc.all(pc.is_valid(found)).as_py():
        return {f"utm_{name}": found.field(name) for name in UTM_NAMES}
    ordered = pc.is_valid(found)
    return {f"utm_{name}": pc.if_else(ordered, found.field(name), utm_value(url, f"utm_{name}"))
            for name in UTM_NAMES}


@dataclass
class Part:
    """One chunk of customers: their ids and keys, their items flat, and the offsets of each
    customer's items (`offsets[i]:offsets[i + 1]`)."""

    customer_ids: pa.Array
    keys: pa.Array
    codes: pa.Array  # utm_content per customer
    items: pa.Table  # ITEM fields (utm flat), one row per item
    offsets: np.ndarray

    @property
    def customers(self) -> int:
        return len(self.customer_ids)

    def item_struct(self) -> pa.StructArray:
        utm = pa.StructArray.from_arrays(
            [self.items[f"utm_{name}"].combine_chunks()
             for name in ("source", "medium", "campaign", "content", "term")],
            names=["source", "medium", "campaign", "content", "term"])
        names = ["position", "sku", "title", "url", "image", "price", "currency", "reason"]
        return pa.StructArray.from_arrays(
            [self.items[name].combine_chunks() for name in names] + [utm], names=[*names, "utm"])

    def properties(self, campaign_id: str) -> pa.StructArray:
        """Braze trigger_properties / Klaviyo event properties, one per customer."""
        items = pa.ListArray.from_arrays(pa.array(self.offsets, pa.int32()), self.item_struct())
        return pa.StructArray.from_arrays(
            [self.keys, pa.repeat(pa.scalar(campaign_id), self.customers), self.codes,
             pa.array(np.diff(self.offsets), pa.int64()), items],
            names=["idempotency_key", "campaign", "utm_content", "item_count", "items"])

    def braze_recipients(self, campaign_id: str) -> pa.Table:
        return pa.table({"external_user_id": self.customer_ids,
                         "trigger_properties": self.properties(campaign_id)})

    def klaviyo_entries(self, campaign_id: str, metric: str) -> pa.Table:
        count = self.customers

        def constant(value: str) -> pa.Array:
            return pa.repeat(pa.scalar(value), count)

        def resource(kind: str, attributes: pa.Array) -> pa.StructArray:
            return pa.StructArray.from_arrays([constant(kind), attributes],
                                              names=["type", "attributes"])

        def wrapped(data: pa.Array) -> pa.StructArray:
            return pa.StructArray.from_arrays([data], names=["data"])

        profile = wrapped(resource("profile", pa.StructArray.from_arrays(
            [self.customer_ids], names=["external_id"])))
        metric_data = wrapped(resource("metric", pa.StructArray.from_arrays(
            [constant(metric)], names=["name"])))
        event = resource("event", pa.StructArray.from_arrays(
            [metric_data, self.keys, self.properties(campaign_id)],
            names=["metric", "unique_id", "properties"]))
        events = wrapped(pa.ListArray.from_arrays(
            pa.array(np.arange(count + 1), pa.int32()), event))
        attributes = pa.StructArray.from_arrays([profile, events], names=["profile", "events"])
        return pa.table({"type": constant("event-bulk-create"), "attributes": attributes})

    def csv_rows(self, campaign_id: str) -> pa.Table:
        parents = pa.array(np.repeat(np.arange(self.customers), np.diff(self.offsets)))
        columns: dict[str, pa.Array] = {
            "customer_id": self.customer_ids.take(parents),
            "idempotency_key": self.keys.take(parents),
            "campaign": pa.repeat(pa.scalar(campaign_id), self.items.num_rows),
        }
        for name in self.items.column_names:
            columns[name] = self.items[name].combine_chunks()
        return pa.table(columns)


def build_part(con: Any, chunk: pa.Table, campaign_id: str, currency: str) -> Part:
    """Export fields of a chunk of payload_items rows (vectorized)."""
    from vehicle_recs.payloads import content_codes

    campaigns = pc.unique(chunk["campaign_id"]).to_pylist()
    if campaigns != [campaign_id]:
        raise ExportError(f"{ITEMS_FILE} holds campaign(s) {campaigns}, summary.json "
                          f"{campaign_id!r}: not one run")
    customer = _whole(chunk["customer_id"])
    treatment = _whole(chunk["treatment"])
    starts = _customer_starts(customer)
    url = opaque_urls(_whole(chunk["url"]), treatment, campaign_id)
    customer_ids = customer.take(pa.array(starts))
    utm = utm_values(url)
    items = pa.table({
        "position": pc.cast(chunk["item_rank"], pa.int64()),
        "sku": chunk["sku"],
        "title": chunk["name"],
        "url": url,
        "image": chunk["image_url"],
        "price": pc.cast(chunk["price"], pa.float64()),
        "currency": pa.repeat(pa.scalar(currency), chunk.num_rows),
        "reason": chunk["reason"],
        "utm_source": utm["utm_source"],
        "utm_medium": utm["utm_medium"],
        "utm_campaign": utm["utm_campaign"],
        "utm_content": content_codes(treatment, campaign_id),
        "utm_term": utm["utm_term"],
    })
    return Part(customer_ids=customer_ids,
                keys=idempotency_keys(con, campaign_id, customer_ids),
                codes=items["utm_content"].combine_chunks().take(pa.array(starts)),
                items=items,
                offsets=np.append(starts, chunk.num_rows).astype(np.int64))


# ---------------------------------------------------------------------------------------------
# JSON bodies


def json_objects(con: Any, table: pa.Table,
                 batch_rows: int = 100_000) -> Generator[pa.Array, None, None]:
    """Each row as one JSON object with a leading ',' (DuckDB to_json, vectorized; columns in
    order, nulls as null, row order kept), a batch of rows at a time."""
    con.register("export_rows", table)
    reader = None
    try:
        reader = con.sql("select ',' || to_json(export_rows) as line from export_rows"
                         ).to_arrow_reader(batch_rows)
        for batch in reader:
            yield batch.column(0)
    finally:  # the result first: DuckDB refuses to drop a view an open result reads
        if reader is not None:
            reader.close()
        con.unregister("export_rows")


class BodyWriter:
    """Packs JSON objects (each with a leading ',') into request bodies, one body per line:
    in order, as many objects as the limits allow (greedy), never splitting an object. A body
    that could still grow waits for the next `add`; `close` writes the last one.

    Each body is `prefix` + the objects' bytes (the first comma dropped) + `suffix`, copied
    from the Arrow buffer in one slice: no Python per object.
    """

    def __init__(self, handle: IO[bytes], prefix: bytes, suffix: bytes, limits: Limits) -> None:
        self.handle, self.prefix, self.suffix, self.limits = handle, prefix, suffix, limits
        # bytes the objects of one body may take, their commas included (the first is dropped)
        self.budget = limits.max_body_bytes - len(prefix) - len(suffix) + 1
        self.pending: pa.Array | None = None
        self.sizes: list[int] = []  # bytes of each body (without its newline)
        self.counts: list[int] = []  # objects in each body

    def add(self, objects: pa.Array) -> None:
        if objects.null_count:
            raise ExportError("JSON serialization gave a null object")
        if self.pending is not None:
            objects = pa.concat_arrays([self.pending, objects])
        self.pending = self._write(objects, final=False)

    def close(self) -> None:
        if self.pending is not None and len(self.pending):
            self._write(self.pending, final=True)
        self.pending = None

    def _write(self, objects: pa.Array, final: bool) -> pa.Array | None:
        count = len(objects)
        if count == 0:
            return None
        width = np.int64 if pa.types.is_large_string(objects.type) else np.int32
        offsets = np.frombuffer(objects.buffers()[1], dtype=width)[
            objects.offset:objects.offset + count + 1].astype(np.int64)
        data = memoryview(objects.buffers()[2])
        start = 0
        while start < count:
            fits = int(np.searchsorted(offsets, offsets[start] + self.budget, side="right")) - 1
            end = min(count, start + self.limits.max_objects, fits)
            if end <= start:
                raise ExportError(f"one object of {int(offsets[start + 1] - offsets[start]) - 1:,}"
                                  f" bytes does not fit a request of "
                                  f"{self.limits.max_body_bytes:,} bytes")
            if end == count and not final and end - start < self.limits.max_objects:
                return objects.slice(start)  # may grow with the next objects
            self.handle.write(self.prefix)
            self.handle.write(data[int(offsets[start]) + 1:int(offsets[end])])
            self.handle.write(self.suffix + b"\n")
            self.sizes.append(len(self.prefix) + int(offsets[end] - offsets[start]) - 1
                              + len(self.suffix))
            self.counts.append(end - start)
            start = end
        return None


def body_affixes(fmt: str, esp_campaign: str) -> tuple[bytes, bytes]:
    """What comes before and after the objects of a request body."""
    if fmt == "braze":
        return (b'{"campaign_id":' + json.dumps(esp_campaign).encode() + b',"recipients":[',
                b"]}")
    return (b'{"data":{"type":"event-bulk-create-job","attributes":{"events-bulk-create":'
            b'{"data":[', b"]}}}}")


def _spread(count: int, sample: int) -> list[int]:
    """Up to `sample` indexes of `count`: the first, the last and evenly spread between."""
    if count <= 0:
        return []
    picked = np.linspace(0, count - 1, min(max(sample, 2), count)).astype(np.int64)
    return [int(index) for index in np.unique(np.r_[picked, count - 1])]


def _with_objects(fmt: str, body: dict[str, Any], objects: list[Any]) -> dict[str, Any]:
    """The body with its recipients / event entries replaced by `objects`."""
    if fmt == "braze":
        return {**body, "recipients": objects}
    bulk = {"events-bulk-create": {**body["data"]["attributes"]["events-bulk-create"],
                                   "data": objects}}
    return {**body, "data": {**body["data"], "attributes": {**body["data"]["attributes"],
                                                            **bulk}}}


def check_bodies(path: Path, sizes: np.ndarray, counts: np.ndarray, fmt: str,
                 schema: Mapping[str, Any], limits: Limits, sample: int = SAMPLE_BODIES,
                 sample_objects: int = SAMPLE_OBJECTS) -> int:
    """Prove a written file of request bodies: every body within the limits, the file exactly
    the bodies' size, and `sample` bodies (first, last, evenly spread) read back from their
    byte offsets parse, hold the expected number of objects and pass jsonschema with
    `sample_objects` of their objects. Returns the bodies read back."""
    import jsonschema

    from vehicle_recs.payload_schema import read_json_line

    lengths = sizes + 1  # the newline
    ends = np.cumsum(lengths)
    total = int(ends[-1]) if len(ends) else 0
    if path.stat().st_size != total:
        raise ExportError(f"{path.name} holds {path.stat().st_size} bytes, expected {total}")
    if len(counts) and (counts.max() > limits.max_objects or counts.min() < 1
                        or sizes.max() > limits.max_body_bytes):
        raise ExportError(f"{path.name}: a body breaks the limits ({limits.max_objects} "
                          f"objects, {limits.max_body_bytes:,} bytes)")
    if len(lengths) == 0:
        return 0
    rows = _spread(len(lengths), sample)
    validator = jsonschema.Draft202012Validator(schema)
    with path.open("rb") as handle:
        for row in rows:
            try:
                body = read_json_line(handle, int(ends[row]), int(lengths[row]))
            except ValueError as problem:
                raise ExportError(f"{path.name} body {row + 1} is not one JSON object: "
                                  f"{problem}") from None
            if not isinstance(body, dict):
                raise ExportError(f"{path.name} body {row + 1} is not a JSON object")
            objects = body_objects(fmt, body)
            if len(objects) != counts[row]:
                raise ExportError(f"{path.name} body {row + 1} does not hold {counts[row]} "
                                  "objects")
            kept = [objects[index] for index in _spread(len(objects), sample_objects)]
            error = jsonschema.exceptions.best_match(
                validator.iter_errors(_with_objects(fmt, body, kept)))
            if error is not None:
                where = "/".join(str(part) for part in error.absolute_path) or "$"
                raise ExportError(f"{path.name} body {row + 1}: {where}: {error.message}")
    return len(rows)


# ---------------------------------------------------------------------------------------------
# the export


@dataclass
class _Totals:
    recipients: int = 0
    items: int = 0
    largest_object_bytes: int = 0


def export_run(run_dir: Path, fmt: str, out_dir: Path | None = None, *,
               campaign_id: str | None = None, metric: str = DEFAULT_METRIC,
               currency: str = DEFAULT_CURRENCY, progress: Progress = _quiet,
               rows_per_chunk: int = ROWS_PER_CHUNK) -> dict[str, Any]:
    """The whole `export` command; returns the manifest (also DIR/export.json)."""
    from vehicle_recs.outputs import write_text

    esp_campaign = check_options(fmt, currency, campaign_id, metric)
    run_dir = run_dir.resolve()
    summary = check_run(run_dir)
    out = (out_dir if out_dir is not None else run_dir.parent / f"{run_dir.name}-{fmt}").resolve()
    check_out(out, run_dir)
    # checked before anything is written
    with open_items(run_dir, summary) as source, user_path(out, "write the export to"):
        out.parent.mkdir(parents=True, exist_ok=True)
        for stale in out.parent.glob(f".{out.name}.export-*"):  # left by a killed export
            shutil.rmtree(stale, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.export-staging-", dir=out.parent))
        try:
            manifest = _export_into(staging, source, run_dir, summary, fmt, esp_campaign,
                                    metric, currency, progress, rows_per_chunk)
            write_text(json.dumps(manifest, indent=2) + "\n", staging / MANIFEST)
            progress(f"publishing {out}")
            _publish(staging, out)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    manifest["out_dir"] = str(out)
    return manifest


def _export_into(staging: Path, source: IO[bytes], run_dir: Path, summary: Mapping[str, Any],
                 fmt: str, esp_campaign: str, metric: str, currency: str, progress: Progress,
                 rows_per_chunk: int) -> dict[str, Any]:
    import duckdb

    from vehicle_recs.payload_schema import validate_table

    run_campaign = str(summary["campaign_id"])
    schema = load_export_schema(fmt)
    element = element_schema(fmt, schema)
    data_path = staging / DATA_FILES[fmt]
    totals = _Totals()
    with duckdb.connect() as con, data_path.open("wb") as handle:
        parts = (build_part(con, chunk, run_campaign, currency)
                 for chunk in customer_chunks(source, rows_per_chunk))
        if fmt == "csv":
            _write_csv(parts, handle, element, run_campaign, totals, progress)
            sizes = counts = np.zeros(0, dtype=np.int64)
        else:
            prefix, suffix = body_affixes(fmt, esp_campaign)
            writer = BodyWriter(handle, prefix, suffix, limits_for(fmt))
            for part in parts:
                rows = (part.braze_recipients(run_campaign) if fmt == "braze"
                        else part.klaviyo_entries(run_campaign, metric))
                validate_table(rows, element, names=part.customer_ids)
                _add_objects(con, writer, rows, part, fmt, totals)
                progress(f"{totals.recipients:,} customers, {len(writer.sizes):,} requests")
            writer.close()
            sizes = np.array(writer.sizes, dtype=np.int64)
            counts = np.array(writer.counts, dtype=np.int64)
        handle.flush()
        os.fsync(handle.fileno())
    _check_counts(summary, totals)
    progress(f"checking {data_path.name}")
    if fmt == "csv":
        checked = _check_csv(data_path, totals.items)
    else:
        checked = check_bodies(data_path, sizes, counts, fmt, schema, limits_for(fmt))
    return _manifest(fmt, run_dir, summary, esp_campaign, metric, currency, totals, sizes,
                     counts, checked, data_path)


def _add_objects(con: Any, writer: BodyWriter, rows: pa.Table, part: Part, fmt: str,
                 totals: _Totals) -> None:
    limits = limits_for(fmt)
    done = 0
    # closing: DuckDB's result is released before any error unwinds
    with closing(json_objects(con, rows)) as lines:
        for objects in lines:
            sizes = pc.binary_length(objects).to_numpy(zero_copy_only=False) - 1  # the comma
            too_big = np.flatnonzero(sizes > limits.max_object_bytes)
            if len(too_big):
                customer = part.customer_ids[done + int(too_big[0])].as_py()
                raise ExportError(
                    f"customer {customer}: {int(sizes[too_big[0]]):,} bytes, above the "
                    f"{limits.max_object_bytes:,} bytes one {fmt} recipient may take "
                    f"({limits.sources.get('max_object_bytes', 'the documented limit')})")
            totals.largest_object_bytes = max(totals.largest_object_bytes,
                                              int(sizes.max()) if len(sizes) else 0)
            writer.add(objects)
            done += len(objects)
    if done != part.customers:
        raise ExportError("JSON serialization lost rows")
    totals.recipients += part.customers
    totals.items += part.items.num_rows


def _write_csv(parts: Iterator[Part], handle: IO[bytes], element: Mapping[str, Any],
               campaign_id: str, totals: _Totals, progress: Progress) -> None:
    import pyarrow.csv as pacsv

    from vehicle_recs.payload_schema import validate_table

    writer: pacsv.CSVWriter | None = None
    try:
        for part in parts:
            rows = part.csv_rows(campaign_id)
            validate_table(rows, element, names=rows["customer_id"])
            if writer is None:
                writer = pacsv.CSVWriter(handle, rows.schema)
            writer.write_table(rows)
            totals.recipients += part.customers
            totals.items += rows.num_rows
            progress(f"{totals.recipients:,} customers, {totals.items:,} rows")
    finally:
        if writer is not None:
            writer.close()


def _check_counts(summary: Mapping[str, Any], totals: _Totals) -> None:
    """The export holds every payload and item of the run (summary.json counts them)."""
    if totals.recipients == 0:
        raise ExportError(f"{ITEMS_FILE} holds no items: nothing to export")
    for key, value in (("payloads", totals.recipients), ("items", totals.items)):
        if isinstance(summary.get(key), int) and summary[key] != value:
            raise ExportError(f"exported {value:,} {key}, summary.json counts {summary[key]:,}")


def _check_csv(path: Path, expected_rows: int) -> int:
    """Read the written CSV back (streamed, every column as text): its header and row count."""
    import pyarrow.csv as pacsv

    names = list(load_export_schema("csv")["required"])
    options = pacsv.ConvertOptions(column_types={name: pa.string() for name in names})
    rows = 0
    with pacsv.open_csv(path, convert_options=options) as reader:
        if reader.schema.names != names:
            raise ExportError(f"{path.name} header {reader.schema.names} is not {names}")
        for batch in reader:
            rows += batch.num_rows
    if rows != expected_rows:
        raise ExportError(f"{path.name} holds {rows} rows, expected {expected_rows}")
    return rows


def _manifest(fmt: str, run_dir: Path, summary: Mapping[str, Any], esp_campaign: str,
              metric: str, currency: str, totals: _Totals, sizes: np.ndarray,
              counts: np.ndarray, checked: int, data_path: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "format": fmt,
        "file": data_path.name,
        "run": str(run_dir),
        "run_campaign_id": summary["campaign_id"],
        "as_of": summary.get("as_of"),
        "model_version": summary.get("model_version"),
        "run_summary_sha256": summary["_sha256"],
        "recipients": totals.recipients,
        "items": totals.items,
        "currency": currency,
        "idempotency_key": f"sha256 hex of '{IDEMPOTENCY_PREFIX}<run campaign id>:"
                           "<customer_id>'",
    }
    if fmt == "csv":
        manifest["rows_read_back"] = checked
    else:
        limits = limits_for(fmt)
        manifest.update({
            "endpoint": ENDPOINTS[fmt],
            "requests": len(sizes),
            "largest_request_objects": int(counts.max()),
            "largest_request_bytes": int(sizes.max()),
            "largest_object_bytes": totals.largest_object_bytes,
            "limits": {"max_objects_per_request": limits.max_objects,
                       "max_body_bytes": limits.max_body_bytes,
                       "max_object_bytes": limits.max_object_bytes,
                       "sources": dict(limits.sources)},
            "bodies_read_back": checked,
        })
    if fmt == "braze":
        manifest["campaign_id"] = esp_campaign
        manifest["campaign_id_is_placeholder"] = esp_campaign == BRAZE_CAMPAIGN_PLACEHOLDER
    if fmt == "klaviyo":
        manifest["metric"] = metric
        manifest["headers"] = {"revision": KLAVIYO_REVISION}
    manifest["files"] = {data_path.name: _sha256(data_path)}
    return manifest


def _publish(staging: Path, out: Path) -> None:
    """Swap the staging folder in as DIR: the old DIR is moved aside first and put back if the
    move fails, then removed."""
    aside: Path | None = None
    if out.exists():
        aside = out.parent / f".{out.name}.export-old-{uuid.uuid4().hex[:12]}"
        os.rename(out, aside)
    try:
        os.rename(staging, out)
    except BaseException:
        if aside is not None:
            os.rename(aside, out)
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def format_manifest(manifest: Mapping[str, Any]) -> str:
    """What the CLI prints after an export."""
    path = Path(manifest["out_dir"]) / manifest["file"]
    lines = []
    if manifest["format"] == "csv":
        lines.append(f"csv: {manifest['items']:,} rows ({manifest['recipients']:,} customers) "
                     f"in {path}")
    else:
        limits = manifest["limits"]
        noun = "recipients" if manifest["format"] == "braze" else "events"
        lines += [
            f"{manifest['format']}: {manifest['requests']:,} request bodies "
            f"({manifest['recipients']:,} {noun}, {manifest['items']:,} items) in {path}",
            f"largest body: {manifest['largest_request_objects']:,} {noun}, "
            f"{manifest['largest_request_bytes']:,} bytes (limits "
            f"{limits['max_objects_per_request']:,} {noun}, {limits['max_body_bytes']:,} bytes)",
            f"send each line as the body of {manifest['endpoint']}",
        ]
    if manifest.get("campaign_id_is_placeholder"):
        lines.append(f"note: campaign_id is the placeholder {BRAZE_CAMPAIGN_PLACEHOLDER}: pass "
                     f"--campaign-id or set {BRAZE_CAMPAIGN_ENV} before sending")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# the click command (registered in cli.py: `cli.add_command(export_command)`)


@click.command("export")
@click.option("--run", "run_dir", type=click.Path(path_type=Path), required=True,
              help="A finished run folder (`vehicle-recs run --out`); only read.")
@click.option("--format", "fmt", required=True, metavar="[braze|klaviyo|csv]",
              help="braze: /campaigns/trigger/send bodies; klaviyo: Bulk Create Events "
                   "bodies; csv: one row per customer and item.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Folder for the export (default: RUN-FORMAT beside the run folder); "
                   "replaced as a whole, only if empty or an earlier export.")
@click.option("--campaign-id", "campaign_id", envvar=BRAZE_CAMPAIGN_ENV, default=None,
              help=f"braze: the API-triggered campaign's id (env {BRAZE_CAMPAIGN_ENV}); "
                   f"default: the placeholder {BRAZE_CAMPAIGN_PLACEHOLDER}.")
@click.option("--metric", envvar=KLAVIYO_METRIC_ENV, default=DEFAULT_METRIC, show_default=True,
              help=f"klaviyo: the metric (event name) a flow triggers on (env "
                   f"{KLAVIYO_METRIC_ENV}).")
@click.option("--currency", default=DEFAULT_CURRENCY, show_default=True,
              help="ISO 4217 code of the prices (the run's prices are the catalog's price_usd: "
                   "this labels them, it converts nothing).")
def export_command(run_dir: Path, fmt: str, out_dir: Path | None, campaign_id: str | None,
                   metric: str, currency: str) -> None:
    """ESP-ready files from a finished run folder (read-only): Braze or Klaviyo request
    bodies within their documented limits, or a flat CSV."""
    from vehicle_recs.cli import _status

    with _status(f"export --format {fmt}") as progress:
        manifest = export_run(run_dir, fmt, out_dir, campaign_id=campaign_id, metric=metric,
                              currency=currency, progress=progress)
    click.echo(format_manifest(manifest))
