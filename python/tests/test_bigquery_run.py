"""The weekly job on BigQuery: `vehicle-recs load-raw --target prod` and `run --target prod` on the
local emulator, against `run` on DuckDB with the same data.

One module fixture (`bq_runs`) makes every run once: two campaigns on DuckDB (the reference,
file log), then on the emulator `load-raw` and the same two campaigns, then the second campaign
again (a rerun). The first campaign is the data set's latest campaign of the email history, so
its sends exist and the second campaign's bandit evidence has something to join the log to.

Data: the session's xs folder with the email history cut to its last four campaigns
(`recent_history`). The emulator's load jobs insert about 9,000 cells a second (DuckDB
`executemany` inside the emulator, measured), so loading the whole xs folder takes about three
minutes on its own; cut, the ten tables load in well under a minute and every table and code
path is still there. `vehicle-recs load-raw` of the whole xs folder was run on the emulator by
hand (174 s) and a `run --target prod` on it passed too.

The fast tests at the bottom need neither the emulator nor dbt.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from vehicle_recs import bigquery_io, runner
from vehicle_recs.bigquery_io import LOG_TABLE, BigQueryTarget
from vehicle_recs.cli import main
from vehicle_recs.contract import RAW_SCHEMAS, RawDataError
from vehicle_recs.errors import VehicleRecsError
from vehicle_recs.project import DbtProject
from vehicle_recs.warehouse import open_warehouse
from vehicle_recs_dev.bigquery_emulator import (
    Emulator,
    bigquery_client,
    compare_rows,
    read_duckdb,
    read_emulator,
    write_profile,
)

MODELS_DATASET = "recs_prod"  # this module's datasets on the shared emulator
RAW_DATASET = "recs_raw"
SECOND_CAMPAIGN = "bq-next"
OUTPUTS = ("payloads.jsonl", "assignments.csv", "payload_items.parquet", "preview.html",
           "summary.json")
# summary.json keys that name where or when, not what
# source_freshness: ages against the clock, seconds apart between the two runs
RUN_SPECIFIC = ("out_dir", "files", "timings_s", "assignment_log", "source_freshness")


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    return lines[0]


def recent_history(raw: Path, out: Path, campaigns: int = 4) -> str:
    """Copy `raw` to `out` with the email history cut to its last `campaigns` campaigns: their
    sends, the sends' items and events (and orphan events, the generator's dirt); the shop
    tables as they are. Returns the latest campaign's id."""
    shutil.copytree(raw, out)
    sends = pq.read_table(out / "email_sends.parquet")
    last = (sends.filter(pc.is_valid(sends["campaign_id"]))
            .group_by("campaign_id").aggregate([("sent_at", "max")])
            .sort_by([("sent_at_max", "descending")]))["campaign_id"][:campaigns]
    kept = sends.filter(pc.fill_null(pc.is_in(sends["campaign_id"], value_set=last), False))
    items = pq.read_table(out / "email_send_items.parquet")
    events = pq.read_table(out / "email_events.parquet")
    orphan = pc.invert(pc.fill_null(pc.is_in(events["send_id"], value_set=sends["send_id"]),
                                    False))
    ours = pc.fill_null(pc.is_in(events["send_id"], value_set=kept["send_id"]), False)
    pq.write_table(kept, out / "email_sends.parquet")
    pq.write_table(items.filter(pc.fill_null(
        pc.is_in(items["send_id"], value_set=kept["send_id"]), False)),
        out / "email_send_items.parquet")
    pq.write_table(events.filter(pc.or_(ours, orphan)), out / "email_events.parquet")
    return str(last[0])


@dataclass
class Runs:
    work: Path
    raw: Path
    campaigns: tuple[str, str]
    emulator: Emulator
    codes: dict[str, int] = field(default_factory=dict)
    duck_out: dict[str, Path] = field(default_factory=dict)
    bq_out: dict[str, Path] = field(default_factory=dict)
    # fct_bandit_evidence on the emulator right after each campaign's run: (columns, rows)
    evidence: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = field(default_factory=dict)
    log_counts: dict[str, int] = field(default_factory=dict)  # after the rerun
    # labels of the query job that built the final model in each campaign's run
    job_labels: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def client(self) -> Any:
        return bigquery_client(self.emulator.endpoint)

    @property
    def duckdb_path(self) -> Path:
        return self.work / "duck.duckdb"

    @property
    def log_table(self) -> str:
        return f"{self.client.project}.{RAW_DATASET}.{LOG_TABLE}"


def prod_env(patch: pytest.MonkeyPatch, runs: Runs) -> None:
    """The environment `--target prod` runs in: a profile whose prod output is the emulator."""
    profiles = write_profile(runs.work / "profiles", runs.emulator.endpoint, target="prod",
                             dataset=MODELS_DATASET)
    patch.setenv("DBT_PROFILES_DIR", str(profiles))
    patch.setenv("VEHICLE_RECS_BQ_RAW_DATASET", RAW_DATASET)
    patch.delenv("VEHICLE_RECS_BQ_LOG_DATASET", raising=False)
    patch.setenv("DBT_TARGET_PATH", str(runs.work / "bq_target"))
    patch.setenv("VEHICLE_RECS_DUCKDB_PATH", str(runs.work / "bq_unused.duckdb"))  # lock only


def job_labels(runs: Runs, model: str = "fct_recommendation_candidates") -> dict[str, str]:
    """The labels of the query job that built `model` in the last dbt invocation on prod (its
    job id from dbt's run results)."""
    results = json.loads((runs.work / "bq_target" / "run_results.json").read_text())
    (job_id,) = [result["adapter_response"]["job_id"] for result in results["results"]
                 if result["unique_id"] == f"model.vehicle_recs.{model}"]
    return dict(runs.client.get_job(job_id).labels)


def log_counts(runs: Runs) -> dict[str, int]:
    rows = runs.client.query(f"select campaign_id, count(*) as n from `{runs.log_table}` "
                             "group by campaign_id").result()
    return {row["campaign_id"]: int(row["n"]) for row in rows}


@pytest.fixture(scope="module")
def bq_runs(emulator: Emulator, xs_raw: Path,
            tmp_path_factory: pytest.TempPathFactory) -> Runs:
    work = tmp_path_factory.mktemp("bq_run")
    first = recent_history(xs_raw, work / "raw")
    runs = Runs(work, work / "raw", (first, SECOND_CAMPAIGN), emulator)
    for campaign in runs.campaigns:  # the reference: DuckDB, the file log
        runs.duck_out[campaign] = work / "duck" / campaign
        runner.run(runner.RunOptions(
            raw_dir=runs.raw, out_dir=runs.duck_out[campaign], campaign_id=campaign,
            assignment_log_dir=work / "duck_log",
            project=DbtProject(duckdb_path=runs.duckdb_path, target_path=work / "duck_target")))
    with pytest.MonkeyPatch.context() as patch:
        prod_env(patch, runs)
        runs.codes["load-raw"] = main(["load-raw", "--target", "prod", str(runs.raw)])
        for campaign in runs.campaigns:
            runs.bq_out[campaign] = work / "bq" / campaign
            runs.codes[campaign] = main(["run", "--target", "prod", "--out",
                                         str(runs.bq_out[campaign]), "--campaign", campaign])
            runs.evidence[campaign] = read_emulator(runs.client, MODELS_DATASET,
                                                    "fct_bandit_evidence")
            runs.job_labels[campaign] = job_labels(runs)
        runs.codes["rerun"] = main(["run", "--target", "prod", "--out",
                                    str(runs.bq_out[SECOND_CAMPAIGN]), "--campaign",
                                    SECOND_CAMPAIGN])
        runs.log_counts = log_counts(runs)
    return runs


def same(left: Any, right: Any, where: str = "") -> list[str]:
    """Differences between two JSON-like values: floats within 1e-9 (relative), else exact."""
    if isinstance(left, dict) and isinstance(right, dict):
        if left.keys() != right.keys():
            return [f"{where}: keys {sorted(left)} vs {sorted(right)}"]
        return [d for key in left for d in same(left[key], right[key], f"{where}.{key}")]
    if isinstance(left, list) and isinstance(right, list):
        if len(left) != len(right):
            return [f"{where}: {len(left)} vs {len(right)} entries"]
        return [d for i, (a, b) in enumerate(zip(left, right, strict=True))
                for d in same(a, b, f"{where}[{i}]")]
    numbers = [isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right)]
    if all(numbers) and (isinstance(left, float) or isinstance(right, float)):
        ok = math.isclose(float(left), float(right), rel_tol=1e-9, abs_tol=1e-12)
        return [] if ok else [f"{where}: {left!r} vs {right!r}"]
    return [] if left == right else [f"{where}: {left!r} vs {right!r}"]


def outputs(out: Path) -> dict[str, Any]:
    """Every output file, parsed (payloads in file order, so the order is compared too)."""
    summary = json.loads((out / "summary.json").read_text())
    return {
        "payloads": [json.loads(line) for line in
                     (out / "payloads.jsonl").read_text().splitlines()],
        "assignments": pacsv.read_csv(out / "assignments.csv").to_pylist(),
        "items": pq.read_table(out / "payload_items.parquet").to_pylist(),
        "preview": (out / "preview.html").read_text(),
        "summary": {k: v for k, v in summary.items() if k not in RUN_SPECIFIC},
    }


# ------------------------------------------------------------------------------- on the emulator


@pytest.mark.parametrize("step", ["load-raw", "first", "second", "rerun"])
@pytest.mark.emulator
@pytest.mark.slow
def test_every_step_passes(bq_runs: Runs, step: str) -> None:
    key = {"first": bq_runs.campaigns[0], "second": bq_runs.campaigns[1]}.get(step, step)
    assert bq_runs.codes[key] == 0


@pytest.mark.emulator
@pytest.mark.slow
def test_load_raw_loaded_every_row(bq_runs: Runs) -> None:
    for table in RAW_SCHEMAS:
        loaded = bq_runs.client.get_table(f"{bq_runs.client.project}.{RAW_DATASET}.{table}")
        assert loaded.num_rows == pq.read_metadata(bq_runs.raw / f"{table}.parquet").num_rows
        assert [f.name for f in loaded.schema] == RAW_SCHEMAS[table].names


@pytest.mark.parametrize("which", [0, 1])
@pytest.mark.emulator
@pytest.mark.slow
def test_outputs_equal_the_duckdb_run(bq_runs: Runs, which: int) -> None:
    """Same customers, arms, SKUs in the same order, reasons, summary; scores within 1e-9. The
    second campaign's bandit draws read the evidence of the first campaign's log."""
    campaign = bq_runs.campaigns[which]
    duck, bq = outputs(bq_runs.duck_out[campaign]), outputs(bq_runs.bq_out[campaign])
    assert duck["payloads"] and {row["campaign_id"] for row in bq["payloads"]} == {campaign}
    differences = same(duck, bq)
    assert not differences, "\n".join(differences[:10])


@pytest.mark.emulator
@pytest.mark.slow
def test_the_log_holds_each_campaign_once_after_a_rerun(bq_runs: Runs) -> None:
    customers = {campaign: json.loads((bq_runs.bq_out[campaign] / "summary.json").read_text())
                 ["customers"] for campaign in bq_runs.campaigns}
    assert bq_runs.log_counts == customers
    tables = [t.table_id for t in bq_runs.client.list_tables(RAW_DATASET)]
    assert not [t for t in tables if "__load_" in t], tables  # staging tables dropped
    # the rows are the DuckDB file log's (all but the time of the assignment)
    first = bq_runs.campaigns[0]
    duck = pq.read_table(bq_runs.work / "duck_log" / f"{first}.parquet").drop_columns(
        ["assigned_at"])
    rows = bq_runs.client.query(f"select * except (assigned_at) from `{bq_runs.log_table}` "
                                f"where campaign_id = '{first}'").result()
    comparison = compare_rows(LOG_TABLE, duck.column_names, [tuple(r.values()) for r in
                                                             duck.to_pylist()],
                              [tuple(row.values()) for row in rows])
    assert comparison.ok, "\n".join(comparison.differences)


@pytest.mark.emulator
@pytest.mark.slow
def test_second_campaign_evidence_reflects_the_first_campaigns_log(bq_runs: Runs) -> None:
    first, second = bq_runs.campaigns
    assert bq_runs.evidence[first][1] == []  # no log before the first campaign
    columns, rows = bq_runs.evidence[second]
    assert rows, "the second build read no logged send"
    evidence = [dict(zip(columns, row, strict=True)) for row in rows]
    assert {row["campaign_count"] for row in evidence} == {1}  # the first campaign's sends
    assert sum(row["send_count"] for row in evidence) > 0
    duck_columns, duck_rows = read_duckdb(bq_runs.duckdb_path, "fct_bandit_evidence")
    assert duck_columns == columns
    comparison = compare_rows("fct_bandit_evidence", columns, duck_rows, rows)
    assert comparison.ok, "\n".join(comparison.differences)


@pytest.mark.emulator
@pytest.mark.slow
def test_dbt_jobs_carry_the_campaign_label(bq_runs: Runs) -> None:
    """query-comment with job-label (dbt_project.yml): every dbt query job on BigQuery is
    labelled with the campaign `run` passes as var campaign_id, sanitized as dbt-bigquery does
    (which adds dbt_invocation_id)."""
    for campaign in bq_runs.campaigns:
        labels = dict(bq_runs.job_labels[campaign])
        assert labels.pop("dbt_invocation_id")
        assert labels == {"app": "vehicle_recs", "target_name": "prod",
                          "node_id": "model_vehicle_recs_fct_recommendation_candidates",
                          "campaign_id": re.sub(r"[^a-z0-9_-]", "_", campaign.lower())}


@pytest.mark.emulator
@pytest.mark.slow
def test_report_on_bigquery_equals_the_duckdb_report(
        bq_runs: Runs, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`report --target prod` builds the reporting marts from the raw dataset and the log table
    and reads them through the client: the JSON of the DuckDB report on the same data and log."""
    from vehicle_recs import report as reporting

    duck_project = DbtProject(duckdb_path=bq_runs.duckdb_path,
                              target_path=bq_runs.work / "duck_target",
                              dbt_vars={"raw_dir": str(bq_runs.raw),
                                        "assignment_log_dir": str(bq_runs.work / "duck_log")})
    duck, _ = reporting.run_report(duck_project, bq_runs.work / "duck_report", build=True)
    reference = json.loads(json.dumps(reporting.report_json(duck), default=str))
    prod_env(monkeypatch, bq_runs)
    capsys.readouterr()
    assert main(["report", "--target", "prod", "--json", "--out",
                 str(bq_runs.work / "bq_report")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (bq_runs.work / "bq_report" / "report.html").is_file()
    assert report["readout"] and report["bandit_strategies"]
    for payload in (reference, report):
        payload.pop("html")
    differences = same(reference, report)
    assert not differences, "\n".join(differences[:10])


@pytest.mark.emulator
@pytest.mark.slow
def test_failing_guardrail_on_bigquery_keeps_outputs_and_log(
        bq_runs: Runs, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A final-model guardrail (owner coverage) fails on BigQuery: exit 2 with one line, the
    earlier outputs and the assignment log untouched, and the reader refuses the model."""
    out = bq_runs.bq_out[SECOND_CAMPAIGN]
    before = {name: ((out / name).read_bytes(), os.stat(out / name).st_mtime_ns)
              for name in OUTPUTS}
    prod_env(monkeypatch, bq_runs)
    broken_target = bq_runs.work / "bq_target_broken"

    def broken_project(**kwargs: Any) -> DbtProject:
        # more coverage than possible: assert_opted_in_vehicle_owners_have_candidates fails
        return DbtProject(**kwargs, target_path=broken_target,
                          dbt_vars={"min_candidate_coverage": 1.01})

    monkeypatch.setattr(runner, "DbtProject", broken_project)
    code = main(["run", "--target", "prod", "--out", str(out), "--campaign", "bq-broken"])
    assert code == 2
    assert "dbt build failed" in one_error_line(capsys)
    assert {name: ((out / name).read_bytes(), os.stat(out / name).st_mtime_ns)
            for name in OUTPUTS} == before
    assert not [p for p in out.parent.iterdir() if ".staging-" in p.name]
    assert log_counts(bq_runs) == bq_runs.log_counts
    with pytest.raises(VehicleRecsError, match="is not read: in the last dbt build its test"):
        open_warehouse(broken_target, client=bq_runs.client).read_candidates()


# ------------------------------------------------------------------------------- fast, no dbt


class RecordingClient:
    """A BigQuery client that records every call and answers none."""

    project = "p"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> None:
            self.calls.append(name)
            raise AssertionError(f"BigQuery called: {name}")

        return call


def minimal_raw(folder: Path) -> Path:
    """The ten raw tables with one row of nulls each: enough for the contract check."""
    folder.mkdir()
    for table, schema in RAW_SCHEMAS.items():
        pq.write_table(pa.Table.from_pylist([{}], schema=schema), folder / f"{table}.parquet")
    return folder


def test_load_raw_stops_on_a_contract_breaking_file_before_any_load(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    raw = minimal_raw(tmp_path / "raw")
    # the last table the loader would load: nothing may be loaded before the check fails
    schema = RAW_SCHEMAS["email_events"]
    broken = schema.set(schema.get_field_index("occurred_at"), pa.field("occurred_at",
                                                                          pa.string()))
    pq.write_table(pa.Table.from_pylist([{"occurred_at": "yesterday"}], schema=broken),
                   raw / "email_events.parquet")
    message = ("raw table 'email_events': column 'occurred_at' must be a timestamp, the file "
               "holds string")
    client = RecordingClient()
    target = BigQueryTarget(client=client, project="p", dataset="d", raw_dataset="raw",
                            log_dataset="raw")
    connected: list[str] = []
    monkeypatch.setattr(bigquery_io, "connect",
                        lambda *a, **k: connected.append("connect") or target)
    for target_name in ("prod", "dev"):
        assert main(["load-raw", "--target", target_name, str(raw)]) == 2
        assert one_error_line(capsys) == f"error: {message}"
    assert connected == [] and client.calls == []
    with pytest.raises(RawDataError, match="column 'occurred_at' must be a timestamp"):
        bigquery_io.load_raw_tables(target, raw)
    assert client.calls == []


def test_load_raw_dev_checks_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = minimal_raw(tmp_path / "raw")
    assert main(["load-raw", str(raw)]) == 0
    assert "--target dev reads the folder in place" in capsys.readouterr().out


def test_run_target_and_raw_go_together(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--target", "prod", "--raw", str(tmp_path), "--out",
                 str(tmp_path / "out")])
    assert code == 2
    assert "--raw is read by --target dev only" in one_error_line(capsys)
    assert main(["run", "--out", str(tmp_path / "out")]) == 2
    assert "--raw RAW is needed with --target dev" in one_error_line(capsys)
    assert not (tmp_path / "out").exists()


def test_csv_is_spelled_for_bigquery_load_jobs() -> None:
    from datetime import UTC, datetime
    from decimal import Decimal

    table = pa.table({
        "text": pa.array(['say "hi", ok', "", None]),
        "count": pa.array([1, None, -3], pa.int32()),
        "flag": pa.array([True, False, None]),
        "share": pa.array([0.25, float("nan"), None]),
        "price": pa.array([Decimal("129.95"), None, Decimal("-0.05")], pa.decimal128(12, 2)),
        "price_float": pa.array([129.95000000000002, float("inf"), 1.0]),
        "at": pa.array([datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC), None,
                        datetime(2024, 1, 2, tzinfo=UTC)], pa.timestamp("ns", tz="UTC")),
    })
    kinds = {"text": "STRING", "count": "INT64", "flag": "BOOL", "share": "FLOAT64",
             "price": "NUMERIC", "price_float": "NUMERIC", "at": "TIMESTAMP"}
    assert bigquery_io.csv_bytes(table, kinds).to_pybytes().decode().splitlines() == [
        '"say ""hi"", ok",1,true,0.25,129.95,129.95,2024-01-02 03:04:05.000006',
        '"",,false,NaN,,,',  # '' quoted, NULL empty; NUMERIC has no infinity: null
        ",-3,,,-0.05,1,2024-01-02 00:00:00.000000",
    ]
    assert bigquery_io.csv_bytes(table.slice(1, 1), kinds).to_pybytes() == b'"",,false,NaN,,,\n'


def test_replace_campaign_is_one_merge() -> None:
    sql = bigquery_io.replace_campaign_sql("p.d.assignment_log", "p.d.staged", "c-1")
    assert sql.count("merge ") == 1 and "on false" in sql
    assert "when not matched by source and logged.campaign_id = 'c-1' then delete" in sql
    assert "insert (campaign_id, customer_id, arm," in sql
