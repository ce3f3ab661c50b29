"""Payloads: shape, JSON Schema validation before writing, atomic writes."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import jsonschema
import pyarrow as pa
import pytest

from vehicle_recs import outputs, payload_schema
from vehicle_recs import payloads as payload_module
from vehicle_recs.outputs import write_jsonl
from vehicle_recs.payload_schema import (
    PayloadValidationError,
    check_written,
    load_schema,
    validate_file,
    validate_lines,
    validate_table,
)
from vehicle_recs.payloads import (
    build_payloads,
    check_guardrails,
    content_code,
    flat_items,
    price_text,
)
from vehicle_recs.preview import render_preview
from vehicle_recs.settings import check_template, load_payloads

SUFFIXES = {"B": "black finish", "R": "red finish"}


def picked(**overrides: object) -> pa.Table:
    """Two customers: one with a vehicle (two items, one a variant), one fallback."""
    rows = [
        {"customer_id": "C1", "item_rank": 1, "sku": "AC-1000B", "family_id": "AC-1000",
         "vehicle_id": "V1", "vehicle_year": 1969, "vehicle_make": "Chevrolet",
         "vehicle_model": "Camaro", "product_name": "Coil <HO>", "brand": "MSD",
         "category": "ignition", "department": "hard_parts", "price_usd": 1234.5,
         "image_url": "https://img.example.com/a.jpg", "product_url": None, "score": 0.031,
         "reason_code": "vehicle_affinity", "reason": "Bought by 41 of 1,212 1969 Camaro owners",
         "is_fallback": False, "treatment": "personalized", "propensity": 0.8},
        {"customer_id": "C1", "item_rank": 2, "sku": "BR-7", "family_id": "BR-7",
         "vehicle_id": "V1", "vehicle_year": 1969, "vehicle_make": "Chevrolet",
         "vehicle_model": "Camaro", "product_name": "Pads", "brand": "Wilwood",
         "category": "brakes", "department": "hard_parts", "price_usd": 55.95,
         "image_url": None, "product_url": "https://shop.example.com/p/BR-7?ref=x",
         "score": 0.02, "reason_code": "vehicle_affinity", "reason": "Bought by 3 owners",
         "is_fallback": False, "treatment": "personalized", "propensity": 0.8},
        {"customer_id": "C2", "item_rank": 1, "sku": "UN-1", "family_id": "UN-1",
         "vehicle_id": None, "vehicle_year": None, "vehicle_make": None, "vehicle_model": None,
         "product_name": "Shop rag", "brand": "X", "category": "tools", "department": "tools",
         "price_usd": 5.0, "image_url": None, "product_url": "https://shop.example.com/p/UN-1",
         "score": 0.5, "reason_code": "fallback_popular", "reason": "Popular",
         "is_fallback": True, "treatment": "random", "propensity": 0.1},
    ]
    for key, value in overrides.items():
        rows[0][key] = value
    return pa.Table.from_pylist(rows)


def build(table: pa.Table | None = None) -> pa.Table:
    return build_payloads(table if table is not None else picked(), "spring-24", "0.1.0+abc",
                          date(2024, 3, 1), SUFFIXES, load_payloads())


def test_payload_shape_and_fields() -> None:
    rows = build().to_pylist()
    assert [row["customer_id"] for row in rows] == ["C1", "C2"]
    first = rows[0]
    assert first["vehicle"] == {"vehicle_id": "V1", "year": 1969, "make": "Chevrolet",
                                "model": "Camaro"}
    assert first["treatment"] == "personalized" and first["propensity"] == 0.8
    item = first["items"][0]
    assert item["sku"] == "AC-1000B" and item["variant"] == "black finish"
    assert item["price_text"] == "$1,234.50"
    # no product URL: the template's, with campaign tracking
    # utm_content is the opaque code of (campaign, arm), never the arm's name
    code = content_code("spring-24", "personalized")
    assert re.fullmatch(r"[0-9a-f]{12}", code) and code != content_code("spring-24", "random")
    assert item["url"] == ("https://www.example-parts.com/p/AC-1000B?utm_source=email"
                           f"&utm_medium=email&utm_campaign=spring-24&utm_content={code}"
                           "&utm_term=AC-1000B")
    assert "personalized" not in json.dumps(first["items"])
    assert "random" not in json.dumps(rows[1]["items"])
    assert first["items"][1]["url"].startswith("https://shop.example.com/p/BR-7?ref=x&utm_")
    assert rows[1]["vehicle"] is None and rows[1]["is_fallback"]


def test_templates_never_show_the_arm() -> None:
    """{treatment} in a URL template is refused (the arm's name would reach customers), as is
    an unknown placeholder; the schema rejects a URL whose utm_content is not the opaque code."""
    with pytest.raises(ValueError, match=r"\{treatment\} would show customers"):
        check_template("utm_content={treatment}")
    with pytest.raises(ValueError, match=r"unknown placeholder \{arm\}"):
        check_template("utm_content={arm}")
    config = load_payloads()
    with pytest.raises(ValueError, match=r"tracking.utm_content: .*\{treatment\}"):
        replace(config, tracking={**config.tracking, "utm_content": "{treatment}"})
    with pytest.raises(ValueError, match="treatment"):  # and the builder checks it again
        payload_module._fill("utm_content={treatment}", {}, 1)
    leaked = build().to_pylist()
    leaked[0]["items"][0]["url"] = leaked[0]["items"][0]["url"].replace(
        content_code("spring-24", "personalized"), "personalized")
    with pytest.raises(jsonschema.ValidationError, match="does not match"):
        jsonschema.Draft202012Validator(load_schema()).validate(leaked[0])
    with pytest.raises(PayloadValidationError, match="url: does not match pattern"):
        validate_table(pa.Table.from_pylist(leaked, schema=build().schema))


def test_every_built_payload_validates_with_jsonschema() -> None:
    validator = jsonschema.Draft202012Validator(load_schema())
    for row in build().to_pylist():
        validator.validate(json.loads(json.dumps(row)))
    validate_table(build())


@pytest.mark.parametrize(("override", "message"), [
    ({"department": "gift_cards"}, "department"),
    ({"price_usd": -3.0}, "price"),
    ({"score": float("nan")}, "not finite"),
    ({"product_name": None}, "name: null"),
    ({"image_url": "not a url"}, "image_url"),
])
def test_schema_violations_are_caught_before_writing(override: dict, message: str,
                                                     tmp_path: Path) -> None:
    payloads = build(picked(**override))
    with pytest.raises(PayloadValidationError, match=message) as error:
        validate_table(payloads)
    assert "C1" in str(error.value)


def test_validator_rejects_extra_and_missing_fields() -> None:
    payloads = build()
    with pytest.raises(PayloadValidationError, match="not allowed"):
        validate_table(payloads.append_column("surprise", pa.array([1, 2])))
    with pytest.raises(PayloadValidationError, match="missing required field 'as_of'"):
        validate_table(payloads.drop_columns(["as_of"]))


def test_guardrails_catch_duplicate_family() -> None:
    table = picked()
    dup = table.slice(0, 1).set_column(1, "item_rank", pa.array([3]))
    dup = dup.set_column(2, "sku", pa.array(["AC-1000R"]))
    both = pa.concat_tables([table.slice(0, 2), dup, table.slice(2)])
    with pytest.raises(ValueError, match="variant family"):
        check_guardrails(build(both))


def test_written_file_round_trips_and_validates(tmp_path: Path) -> None:
    path = tmp_path / "payloads.jsonl"
    write_jsonl(build(), path)
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0])["items"][0]["name"] == "Coil <HO>"
    assert validate_file(path, expected_rows=2) == 2
    assert validate_lines(path) == 2
    flat = flat_items(build())
    assert flat.num_rows == 3 and flat["item_rank"].to_pylist() == [1, 2, 1]


def test_check_written_proves_the_file_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "payloads.jsonl"
    table = build()
    lines = write_jsonl(table, path)
    assert lines.tolist() == [len(line) for line in path.read_bytes().splitlines(keepends=True)]
    assert check_written(path, lines, table["customer_id"]) == 2
    good = path.read_bytes()
    path.write_bytes(good[:-5])  # truncated
    with pytest.raises(PayloadValidationError, match="bytes"):
        check_written(path, lines, table["customer_id"])
    assert b'"price":5.0,' in good  # C2's only item
    path.write_bytes(good.replace(b'"price":5.0,', b'"price":-5 ,'))  # same size, bad price
    with pytest.raises(PayloadValidationError, match="price"):
        check_written(path, lines, table["customer_id"])
    path.write_bytes(good)
    with pytest.raises(PayloadValidationError, match="customer C2"):
        check_written(path, lines, pa.chunked_array([["C1", "C2"][::-1]]))


def test_validate_file_catches_a_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "payloads.jsonl"
    write_jsonl(build(), path)
    row = json.loads(path.read_text().splitlines()[0])
    row["items"][0]["price"] = -1
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(PayloadValidationError):
        validate_file(path)
    with pytest.raises(PayloadValidationError, match="price"):
        validate_lines(path)


def test_atomic_write_failure_leaves_the_old_file(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "payloads.jsonl"
    path.write_text("previous run\n")

    class Boom(RuntimeError):
        pass

    def half_written(table: pa.Table, target: Path) -> None:
        with outputs.atomic_path(target) as temp:
            temp.write_text('{"customer_id": "C1", "partial": ')
            raise Boom("disk full")

    monkeypatch.setattr(outputs, "write_jsonl", half_written)
    with pytest.raises(Boom):
        outputs.write_jsonl(build(), path)
    assert path.read_text() == "previous run\n"
    assert [p.name for p in tmp_path.iterdir()] == ["payloads.jsonl"]  # no temp file left


def test_atomic_write_of_the_real_writer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "payloads.jsonl"
    path.write_text("previous run\n")

    def fail_replace(src: object, dst: object) -> None:
        raise OSError("rename failed")

    monkeypatch.setattr(outputs.os, "replace", fail_replace)
    with pytest.raises(OSError, match="rename failed"):
        write_jsonl(build(), path)
    assert path.read_text() == "previous run\n"
    assert [p.name for p in tmp_path.iterdir()] == ["payloads.jsonl"]


def test_price_text() -> None:
    values = pa.array([0.0, 5.5, 999.995, 1000.0, 1234567.8, None])
    assert price_text(values).to_pylist() == ["$0.00", "$5.50", "$1,000.00", "$1,000.00",
                                              "$1,234,567.80", None]


def test_preview_is_escaped_and_shows_the_items() -> None:
    html = render_preview(build(), per_arm=5, campaign_id="spring-24", as_of="2024-03-01",
                          model_version="0.1.0+abc")
    assert "Coil &lt;HO&gt;" in html and "Coil <HO>" not in html
    assert "1969 Chevrolet Camaro" in html
    assert "$1,234.50" in html and "Bought by 41 of 1,212 1969 Camaro owners" in html
    assert "https://img.example.com/a.jpg" in html
    assert "fallback" in html


def test_batches_and_dictionary_text_give_the_same_payloads(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """One customer per batch, display text dictionary-encoded as the reader holds it: the same
    rows as one batch of plain text; validation names the right customer across batches."""
    expected = build().to_pylist()
    text = pa.dictionary(pa.int32(), pa.string())
    table = picked()
    for name in ("product_name", "reason", "vehicle_make", "image_url"):
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, table[name].cast(text))
    monkeypatch.setattr(payload_module, "BATCH_CUSTOMERS", 1)  # building
    monkeypatch.setattr(payload_schema, "BATCH_CUSTOMERS", 1)  # validation
    batched = build(table)
    assert batched["items"].num_chunks == 2
    assert batched.to_pylist() == expected
    validate_table(batched)
    check_guardrails(batched)
    broken = build(picked().set_column(
        picked().schema.get_field_index("price_usd"), "price_usd",
        pa.array([1.0, 2.0, -5.0])))
    with pytest.raises(PayloadValidationError, match="customer C2"):
        validate_table(broken)
