"""`vehicle-recs export`: Braze / Klaviyo request bodies within their documented limits, the flat
CSV, idempotency keys, opaque utm_content, a read-only run folder, atomic output, one-line errors.

The run folder is written the way `vehicle-recs run` writes it (`runner.make_payloads` on a
hand-made final-model table, then `runner.write_outputs`): no dbt build.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from vehicle_recs import export
from vehicle_recs.arms import ArmContext
from vehicle_recs.cli import cli, main
from vehicle_recs.export import (
    BRAZE_LIMITS,
    KLAVIYO_LIMITS,
    BodyWriter,
    ExportError,
    Limits,
    export_command,
    export_run,
    idempotency_keys,
    load_export_schema,
)
from vehicle_recs.payloads import content_code
from vehicle_recs.runner import make_payloads, write_outputs
from vehicle_recs.settings import load_selection
from vehicle_recs.treatments import ArmWeights
from vehicle_recs.warehouse import CANDIDATE_SCHEMA

CAMPAIGN = "spring-24"
CUSTOMERS = 240
ARMS = ("personalized", "bandit", "control")


def candidates(customers: int, per_customer: int = 8) -> pa.Table:
    """A final-model table: every tenth customer without a vehicle (fallback); product URLs
    with and without a query string, images on two items of three."""
    rows = []
    for c in range(customers):
        make = None if c % 10 == 0 else ("Ford" if c % 2 else "Chevrolet")
        for r in range(1, per_customer + 1):
            sku = f"AC-{c}-{r}B" if r == 1 else f"S{c}-{r}"
            rows.append({
                "customer_id": f"cust-{c:05d}", "candidate_rank": r, "sku": sku,
                "family_id": sku, "is_variant": False,
                "vehicle_id": None if make is None else f"v{c}",
                "vehicle_year": None if make is None else 1969,
                "vehicle_make": make, "vehicle_model": None if make is None else "Camaro",
                "product_name": f"Part \"{r}\" <HO> for {make or 'any car'}", "brand": "MSD",
                "category": "ignition", "department": "hard_parts",
                "price_usd": 10.0 * r * r + 0.95,
                "image_url": f"https://img.example.com/{c}/{r}.jpg" if r % 3 else None,
                "product_url": None if r % 2 else f"https://shop.example.com/p/{sku}?ref=x",
                "score": 1.0 / r, "vehicle_rate": 0.01 / r, "buyer_count": 3,
                "owner_count": 100, "lift": 1.0 / (r * r), "fitment_breadth": 5,
                "breadth_tier": "specific", "price_tier": "x", "reason_code": "vehicle_affinity",
                "reason": f"Bought by {r} of 1,212 1969 {make or 'Any'} owners",
                "is_fallback": make is None, "is_replenishment": False,
                "as_of_date": date(2024, 3, 1),
            })
    return pa.Table.from_pylist(rows, schema=CANDIDATE_SCHEMA)


def write_run(out: Path, customers: int = CUSTOMERS) -> Path:
    context = ArmContext(campaign_id=CAMPAIGN, as_of=date(2024, 3, 1),
                         candidates=candidates(customers))
    weights = ArmWeights.from_mapping({"personalized": 2, "bandit": 1, "control": 0.3}, "t")
    result = make_payloads(context, model_version="0.1.0+test", rules=load_selection(),
                           weights=weights)
    write_outputs(result, out)
    return out


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_run(tmp_path_factory.mktemp("export_run") / "run")


@pytest.fixture
def run_copy(run_dir: Path, tmp_path: Path) -> Path:
    """A copy to break (the module's run folder stays intact)."""
    return Path(shutil.copytree(run_dir, tmp_path / "run"))


@pytest.fixture
def with_export(monkeypatch: pytest.MonkeyPatch) -> None:
    """`vehicle-recs export` registered as cli.py will register it (restored afterwards)."""
    monkeypatch.setitem(cli.commands, "export", export_command)


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    return {str(path.relative_to(folder)): (hashlib.sha256(path.read_bytes()).hexdigest(),
                                            path.stat().st_mtime_ns)
            for path in sorted(folder.rglob("*"))}


def bodies(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def arms_by_customer(run: Path) -> dict[str, str]:
    with (run / "assignments.csv").open() as handle:
        return {row["customer_id"]: row["treatment"] for row in csv.DictReader(handle)}


def expected_key(customer: str) -> str:
    return hashlib.sha256(f"vehicle_recs/idempotency/v1:{CAMPAIGN}:{customer}".encode()
                          ).hexdigest()


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    return lines[0]


# ---------------------------------------------------------------- documented limits


def test_limits_are_the_documented_ones() -> None:
    """The numbers of the pages cited in export.py, and the schemas agree with them."""
    assert (BRAZE_LIMITS.max_objects, BRAZE_LIMITS.max_body_bytes,
            BRAZE_LIMITS.max_object_bytes) == (50, 4_000_000, 50_000)
    assert (KLAVIYO_LIMITS.max_objects, KLAVIYO_LIMITS.max_body_bytes,
            KLAVIYO_LIMITS.max_object_bytes) == (1_000, 5_000_000, 100_000)
    for limits in (BRAZE_LIMITS, KLAVIYO_LIMITS):
        assert set(limits.sources) == {"max_objects", "max_body_bytes", "max_object_bytes"}
        assert all(url.startswith("https://") for url in limits.sources.values())
    braze = load_export_schema("braze")
    klaviyo = load_export_schema("klaviyo")
    assert braze["properties"]["recipients"]["maxItems"] == BRAZE_LIMITS.max_objects
    entries = export.element_schema("klaviyo", klaviyo)
    bulk = klaviyo["properties"]["data"]["properties"]["attributes"]["properties"]
    assert bulk["events-bulk-create"]["properties"]["data"]["maxItems"] == 1_000
    # one definition of the personalization in both formats
    event = entries["properties"]["attributes"]["properties"]["events"]["properties"]["data"]
    assert (event["items"]["properties"]["attributes"]["properties"]["properties"]
            == braze["properties"]["recipients"]["items"]["properties"]["trigger_properties"])


def test_body_writer_packs_greedily_within_both_limits() -> None:
    """Bodies never exceed the count or byte limit, each is as full as the next object allows,
    and how the objects arrive (one array or many) does not change a byte."""
    rng = np.random.default_rng(3)
    sizes = rng.integers(5, 400, 2_000)
    objects = pa.array(["," + json.dumps({"k": "x" * int(size)}) for size in sizes])
    limits = Limits(max_objects=37, max_body_bytes=6_000, max_object_bytes=1_000)
    prefix, suffix = b'{"campaign_id":"c","recipients":[', b"]}"

    def pack(splits: list[int]) -> tuple[bytes, BodyWriter]:
        import io

        handle = io.BytesIO()
        writer = BodyWriter(handle, prefix, suffix, limits)
        for start, end in zip([0, *splits], [*splits, len(objects)], strict=True):
            writer.add(objects.slice(start, end - start))
        writer.close()
        return handle.getvalue(), writer

    whole, writer = pack([])
    assert pack([1, 2, 500, 1_333, 1_999])[0] == whole
    lines = whole.splitlines()
    assert len(lines) == len(writer.sizes) > 2_000 / 37
    assert [len(line) for line in lines] == writer.sizes
    assert max(writer.sizes) <= 6_000 and max(writer.counts) <= 37
    parsed = [json.loads(line)["recipients"] for line in lines]
    assert [len(body) for body in parsed] == writer.counts
    assert [item for body in parsed for item in body] == [
        json.loads(text[1:]) for text in objects.to_pylist()]
    lengths = pc.binary_length(objects).to_numpy()
    start = 0
    for size, count in zip(writer.sizes[:-1], writer.counts[:-1], strict=True):
        end = start + count  # full: the next object would break a limit
        assert count == 37 or size + int(lengths[end]) > 6_000
        start = end


def test_idempotency_keys_are_sha256_of_campaign_and_customer() -> None:
    import duckdb

    ids = pa.array(["cust-1", "c:2", "ü"])
    with duckdb.connect() as con:
        keys = idempotency_keys(con, CAMPAIGN, ids).to_pylist()
    assert keys == [expected_key(customer) for customer in ids.to_pylist()]


# ---------------------------------------------------------------- the three formats


def test_braze_bodies(run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(export.BRAZE_CAMPAIGN_ENV, raising=False)
    before = snapshot(run_dir)
    manifest = export_run(run_dir, "braze", tmp_path / "braze")
    assert snapshot(run_dir) == before  # the run folder is only read
    assert sorted(p.name for p in (tmp_path / "braze").iterdir()) == [
        "braze_requests.jsonl", "export.json"]
    summary = json.loads((run_dir / "summary.json").read_text())
    data = tmp_path / "braze" / "braze_requests.jsonl"
    requests = bodies(data)
    validator = jsonschema.Draft202012Validator(load_export_schema("braze"))
    for body in requests:
        validator.validate(body)
        assert body["campaign_id"] == export.BRAZE_CAMPAIGN_PLACEHOLDER
        assert 1 <= len(body["recipients"]) <= 50
    sizes = [len(line) for line in data.read_bytes().splitlines()]
    assert max(sizes) <= 4_000_000
    recipients = [r for body in requests for r in body["recipients"]]
    assert all(len(json.dumps(r, separators=(",", ":")).encode()) <= 50_000 for r in recipients)
    # every payload of the run, once, in the run's order; several bodies (50 at most each)
    payloads = [json.loads(line) for line in (run_dir / "payloads.jsonl").read_text().splitlines()]
    assert [r["external_user_id"] for r in recipients] == [p["customer_id"] for p in payloads]
    assert len(requests) == -(-summary["payloads"] // 50) >= 4
    assert [len(body["recipients"]) for body in requests[:-1]] == [50] * (len(requests) - 1)
    assert manifest["recipients"] == summary["payloads"] and manifest["items"] == summary["items"]
    assert manifest["requests"] == len(requests) and manifest["largest_request_bytes"] == max(sizes)
    assert manifest["campaign_id_is_placeholder"]
    assert json.loads((tmp_path / "braze" / "export.json").read_text())["files"] == {
        data.name: hashlib.sha256(data.read_bytes()).hexdigest()}
    # items: the payload's, with currency and the opaque utm_content; the arm nowhere
    arms = arms_by_customer(run_dir)
    first = recipients[0]["trigger_properties"]
    source = payloads[0]["items"]
    assert [item["sku"] for item in first["items"]] == [item["sku"] for item in source]
    assert [item["position"] for item in first["items"]] == list(range(1, len(source) + 1))
    assert first["items"][0]["title"] == source[0]["name"]
    assert first["items"][0]["price"] == source[0]["price"]
    for recipient in recipients:
        props = recipient["trigger_properties"]
        customer = recipient["external_user_id"]
        code = content_code(CAMPAIGN, arms[customer])
        assert props["idempotency_key"] == expected_key(customer)
        assert props["utm_content"] == code and props["campaign"] == CAMPAIGN
        assert props["item_count"] == len(props["items"])
        for item in props["items"]:
            assert item["currency"] == "USD"
            assert item["utm"] == {"source": "email", "medium": "email", "campaign": CAMPAIGN,
                                   "content": code, "term": item["sku"]}
            assert f"utm_content={code}" in item["url"]
    text = data.read_text()
    for arm in ARMS:
        assert arm not in text


def test_braze_several_batches_by_bytes(run_dir: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A smaller body limit (all else as documented) forces bodies below 50 recipients; small
    read chunks split customers across Parquet batches: same recipients, same order."""
    export_run(run_dir, "braze", tmp_path / "full", campaign_id="abc-123")
    full = bodies(tmp_path / "full" / "braze_requests.jsonl")
    monkeypatch.setattr(export, "BRAZE_LIMITS", Limits(50, 20_000, 10_000))
    manifest = export_run(run_dir, "braze", tmp_path / "small", campaign_id="abc-123",
                          rows_per_chunk=101)
    data = tmp_path / "small" / "braze_requests.jsonl"
    lines = data.read_bytes().splitlines()
    assert len(lines) == manifest["requests"] > len(full) * 3
    assert max(len(line) for line in lines) <= 20_000 == manifest["limits"]["max_body_bytes"]
    small = [json.loads(line) for line in lines]
    assert all(body["campaign_id"] == "abc-123" for body in small)
    assert max(len(body["recipients"]) for body in small) < 50
    assert ([r for body in small for r in body["recipients"]]
            == [r for body in full for r in body["recipients"]])


def test_a_recipient_above_the_object_limit_stops_the_export(
        run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "BRAZE_LIMITS", Limits(50, 4_000_000, 500))
    with pytest.raises(ExportError, match=r"customer cust-\d+: [\d,]+ bytes, above the 500"):
        export_run(run_dir, "braze", tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_exports_are_stable_across_reruns(run_dir: Path, tmp_path: Path) -> None:
    first = export_run(run_dir, "klaviyo", tmp_path / "k")
    again = export_run(run_dir, "klaviyo", tmp_path / "k", rows_per_chunk=50)
    assert first["files"] == again["files"]


def test_klaviyo_bodies(run_dir: Path, tmp_path: Path) -> None:
    manifest = export_run(run_dir, "klaviyo", tmp_path / "k", metric="Recs Ready",
                          currency="EUR")
    data = tmp_path / "k" / "klaviyo_requests.jsonl"
    requests = bodies(data)
    assert len(requests) == 1  # 240 customers: one body of up to 1,000 events
    validator = jsonschema.Draft202012Validator(load_export_schema("klaviyo"))
    validator.validate(requests[0])
    entries = requests[0]["data"]["attributes"]["events-bulk-create"]["data"]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert len(entries) == summary["payloads"] == manifest["recipients"]
    assert manifest["headers"] == {"revision": export.KLAVIYO_REVISION}
    arms = arms_by_customer(run_dir)
    for entry in entries:
        customer = entry["attributes"]["profile"]["data"]["attributes"]["external_id"]
        (event,) = entry["attributes"]["events"]["data"]
        attributes = event["attributes"]
        assert attributes["metric"]["data"]["attributes"]["name"] == "Recs Ready"
        assert attributes["unique_id"] == expected_key(customer)
        assert attributes["properties"]["idempotency_key"] == attributes["unique_id"]
        assert attributes["properties"]["utm_content"] == content_code(CAMPAIGN, arms[customer])
        assert {item["currency"] for item in attributes["properties"]["items"]} == {"EUR"}
    for arm in ARMS:
        assert arm not in data.read_text()


def test_klaviyo_several_batches(run_dir: Path, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "KLAVIYO_LIMITS", Limits(60, 5_000_000, 100_000))
    export_run(run_dir, "klaviyo", tmp_path / "count")
    by_count = bodies(tmp_path / "count" / "klaviyo_requests.jsonl")
    counts = [len(b["data"]["attributes"]["events-bulk-create"]["data"]) for b in by_count]
    assert counts[:-1] == [60] * (len(counts) - 1) and sum(counts) > 60 * 2
    monkeypatch.setattr(export, "KLAVIYO_LIMITS", Limits(1_000, 30_000, 100_000))
    manifest = export_run(run_dir, "klaviyo", tmp_path / "bytes")
    lines = (tmp_path / "bytes" / "klaviyo_requests.jsonl").read_bytes().splitlines()
    assert len(lines) == manifest["requests"] >= 3
    assert max(len(line) for line in lines) <= 30_000
    validator = jsonschema.Draft202012Validator(load_export_schema("klaviyo"))
    for line in lines:
        validator.validate(json.loads(line))


def test_csv_rows(run_dir: Path, tmp_path: Path) -> None:
    manifest = export_run(run_dir, "csv", tmp_path / "c")
    with (tmp_path / "c" / "items.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    items = pq.read_table(run_dir / "payload_items.parquet")
    assert len(rows) == items.num_rows == manifest["items"] == manifest["rows_read_back"]
    assert list(rows[0]) == load_export_schema("csv")["required"]
    assert "treatment" not in rows[0]
    assert [row["customer_id"] for row in rows] == items["customer_id"].to_pylist()
    assert [row["sku"] for row in rows] == items["sku"].to_pylist()
    arms = arms_by_customer(run_dir)
    for row in rows:
        assert row["idempotency_key"] == expected_key(row["customer_id"])
        assert row["utm_content"] == content_code(CAMPAIGN, arms[row["customer_id"]])
        assert row["currency"] == "USD" and row["utm_term"] == row["sku"]
    text = (tmp_path / "c" / "items.csv").read_text()
    for arm in ARMS:
        assert arm not in text


def test_a_run_with_arm_names_in_links_exports_opaque_codes(run_dir: Path,
                                                            tmp_path: Path) -> None:
    """A run made before utm_content was opaque (the arm's name in every link): the export
    rewrites the links to the code."""
    legacy = Path(shutil.copytree(run_dir, tmp_path / "legacy"))
    table = pq.read_table(legacy / "payload_items.parquet")
    url = table["url"].combine_chunks()
    for arm in ("personalized", "bandit"):
        mine = pc.equal(table["treatment"].combine_chunks(), arm)
        url = pc.if_else(mine, pc.replace_substring(url, content_code(CAMPAIGN, arm),
                                                    arm), url)
    assert "utm_content=personalized" in url[0].as_py() or "utm_content=bandit" in url[0].as_py()
    pq.write_table(table.set_column(table.schema.get_field_index("url"), "url", url),
                   legacy / "payload_items.parquet")
    summary = json.loads((legacy / "summary.json").read_text())
    summary["files"]["payload_items.parquet"] = hashlib.sha256(
        (legacy / "payload_items.parquet").read_bytes()).hexdigest()
    (legacy / "summary.json").write_text(json.dumps(summary))
    export_run(legacy, "csv", tmp_path / "c")
    export_run(run_dir, "csv", tmp_path / "reference")
    assert ((tmp_path / "c" / "items.csv").read_bytes()
            == (tmp_path / "reference" / "items.csv").read_bytes())


def test_a_rerun_replaces_an_earlier_export_atomically(run_dir: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    export_run(run_dir, "braze", out, campaign_id="first")
    before = snapshot(out)

    def broken(*args: Any, **kwargs: Any) -> int:
        raise ExportError("disk full (simulated)")

    monkeypatch.setattr(export, "check_bodies", broken)
    with pytest.raises(ExportError, match="simulated"):
        export_run(run_dir, "braze", out, campaign_id="second")
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging folder left
    monkeypatch.undo()
    (tmp_path / ".out.export-staging-killed").mkdir()  # as a killed export leaves it
    export_run(run_dir, "braze", out, campaign_id="second")
    assert bodies(out / "braze_requests.jsonl")[0]["campaign_id"] == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# ---------------------------------------------------------------- the command


@pytest.mark.usefixtures("with_export")
def test_command_writes_and_reports(run_dir: Path, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(export.BRAZE_CAMPAIGN_ENV, "env-campaign")
    out = tmp_path / "b"
    assert main(["export", "--run", str(run_dir), "--format", "braze", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "braze: " in printed and "largest body: 50 recipients" in printed
    assert "placeholder" not in printed
    assert bodies(out / "braze_requests.jsonl")[0]["campaign_id"] == "env-campaign"
    default = run_dir.parent / "run-csv"
    assert main(["export", "--run", str(run_dir), "--format", "csv"]) == 0
    assert (default / "items.csv").is_file()
    shutil.rmtree(default)


@pytest.mark.usefixtures("with_export")
@pytest.mark.parametrize(("breakage", "args", "message"), [
    ("missing", [], "run folder .* does not exist"),
    ("none", ["--format", "mailchimp"], "unknown --format 'mailchimp': use braze, klaviyo, csv"),
    ("no summary", [], "has no summary.json: not a finished run"),
    ("changed items", [], "does not match its sha256 in summary.json"),
    ("none", ["--currency", "usd"], "bad --currency 'usd'"),
    ("none", ["--out", "{run}/sub"], "inside the run folder"),
    ("busy out", [], "holds other files"),
])
def test_bad_input_is_one_line(run_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                               breakage: str, args: list[str], message: str) -> None:
    out = tmp_path / "out"
    if breakage == "missing":
        shutil.rmtree(run_copy)
    elif breakage == "no summary":  # a run killed between its renames
        (run_copy / "summary.json").unlink()
    elif breakage == "changed items":
        table = pq.read_table(run_copy / "payload_items.parquet")
        pq.write_table(table.slice(1), run_copy / "payload_items.parquet")
    elif breakage == "busy out":
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    before = snapshot(run_copy) if run_copy.exists() else {}
    argv = ["export", "--run", str(run_copy), "--format", "braze", "--out", str(out)]
    argv += [arg.replace("{run}", str(run_copy)) for arg in args]
    assert main(argv) == 2
    line = one_error_line(capsys)
    assert line.startswith("error: ")
    assert re.search(message, line), line
    if run_copy.exists():
        assert snapshot(run_copy) == before
    assert not out.exists() or sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert not [p for p in tmp_path.iterdir() if ".export-" in p.name]
