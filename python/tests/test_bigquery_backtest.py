"""`vehicle-recs backtest --target prod` on the local emulator reports the figures of the DuckDB
backtest on the same data, and `vehicle-recs estimate --target prod` (dry runs) with a stub
client (the emulator refuses dry-run jobs: "Not supported by Crucible: dry-run jobs").

Data: the session emulator's raw dataset, which already holds the whole xs folder (filled
straight from Parquet by the `emulator` fixture, no load job), and the same folder on DuckDB. The
backtest reads the shop tables only, so nothing needs loading here.
"""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from vehicle_recs import backtest
from vehicle_recs.cli import main
from vehicle_recs.errors import VehicleRecsError
from vehicle_recs_dev.bigquery_emulator import RAW_DATASET, Emulator, bigquery_client, write_profile

MODELS_DATASET = "recs_bt"  # this module's dataset on the shared emulator
SUFFIX = "_backtest"


def _as_of(raw_dir: Path) -> date:
    """60 days before the last completed order (as test_backtest; the data's dirt includes
    orders dated in the future)."""
    row = duckdb.connect().execute(
        f"select max(ordered_at) from '{raw_dir}/orders.parquet' "
        "where ordered_at < now() and status = 'completed'").fetchone()
    assert row is not None
    return date.fromisoformat(str(row[0])[:10]) - timedelta(days=60)


def _close(left: Any, right: Any) -> bool:
    if isinstance(left, float | int) and isinstance(right, float | int) and not (
            isinstance(left, bool) or isinstance(right, bool)):
        if math.isnan(float(left)) or math.isnan(float(right)):
            return math.isnan(float(left)) and math.isnan(float(right))
        return math.isclose(float(left), float(right), rel_tol=1e-9, abs_tol=1e-12)
    if left is None or right is None:
        return left is None and right is None
    return bool(left == right)


def _differences(duck: list[dict[str, Any]], bq: list[dict[str, Any]], what: str) -> list[str]:
    if len(duck) != len(bq):
        return [f"{what}: {len(duck)} vs {len(bq)} rows"]
    out = []
    for index, (left, right) in enumerate(zip(duck, bq, strict=True)):
        if left.keys() != right.keys():
            out.append(f"{what}[{index}]: columns {sorted(left)} vs {sorted(right)}")
            continue
        out += [f"{what}[{index}].{key}: {left[key]!r} vs {right[key]!r}"
                for key in left if not _close(left[key], right[key])]
    return out


@pytest.mark.emulator
@pytest.mark.slow
def test_backtest_on_bigquery_reports_the_duckdb_figures(
        emulator: Emulator, xs_raw: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    as_of = _as_of(xs_raw)
    duck = backtest.run_backtest(xs_raw, as_of, horizon_days=60, k=6,
                                 work_dir=tmp_path / "duck")
    profiles = write_profile(tmp_path / "profiles", emulator.endpoint, target="prod",
                             dataset=MODELS_DATASET)
    monkeypatch.setenv("DBT_PROFILES_DIR", str(profiles))
    monkeypatch.setenv("VEHICLE_RECS_BQ_RAW_DATASET", RAW_DATASET)
    out = tmp_path / "bq.json"
    code = main(["backtest", "--target", "prod", "--as-of", as_of.isoformat(), "--horizon",
                 "60", "--k", "6", "--work-dir", str(tmp_path / "bq"), "--out", str(out)])
    assert code == 0
    payload = json.loads(out.read_text())
    reference = json.loads(backtest.write_result(duck, tmp_path / "duck.json").read_text())
    assert payload["raw_dir"] == f"bigquery:{bigquery_client(emulator.endpoint).project}." \
        f"{RAW_DATASET}"
    assert payload["population"] == reference["population"]
    assert {row["strategy"] for row in payload["metrics"]} == set(backtest.STRATEGIES)
    assert payload["metrics"][0]["purchase_lines"] > 0
    differences = (_differences(reference["metrics"], payload["metrics"], "metrics")
                   + _differences(reference["calibration"], payload["calibration"],
                                  "calibration"))
    assert not differences, "\n".join(differences[:10])
    # built into its own dataset: the profile's (weekly) dataset is not touched
    client = bigquery_client(emulator.endpoint)
    tables = {t.table_id for t in client.list_tables(MODELS_DATASET + SUFFIX)}
    assert {"fct_recommendation_candidates", "fct_baseline_candidates"} <= tables
    assert not _dataset_exists(client, MODELS_DATASET)


def _dataset_exists(client: Any, dataset: str) -> bool:
    from google.api_core.exceptions import NotFound

    try:
        client.get_dataset(dataset)
    except NotFound:
        return False
    return True


def test_backtest_prod_refuses_raw_and_an_empty_suffix(tmp_path: Path) -> None:
    with pytest.raises(VehicleRecsError, match="--raw is read by --target dev only"):
        backtest.run_backtest(tmp_path, date(2026, 1, 1), target="prod")
    with pytest.raises(VehicleRecsError, match="needs a dataset suffix"):
        backtest.backtest_project(None, date(2026, 1, 1), tmp_path, target="prod",
                                  raw_dataset="raw", dataset_suffix="")
    project = backtest.backtest_project(None, date(2026, 1, 1), tmp_path, target="prod",
                                        raw_dataset="raw")
    assert project.target == "prod"
    assert project.dbt_vars == {"as_of": "2026-01-01", "raw_dataset": "raw",
                                "dataset_suffix": SUFFIX}


# ------------------------------------------------------------- estimate: dry runs, stub client


class DryRunClient:
    """Answers dry-run query jobs with len(sql) bytes; refuses SQL naming `missing` (as BigQuery
    does for a table that does not exist) and any job that is not a dry run."""

    project = "p"

    def __init__(self) -> None:
        self.jobs: list[str] = []

    def query(self, sql: str, job_config: Any = None) -> Any:
        from types import SimpleNamespace

        from google.api_core.exceptions import NotFound

        assert job_config is not None and job_config.dry_run, "only dry runs"
        assert job_config.use_query_cache is False
        self.jobs.append(sql)
        if "missing" in sql:
            raise NotFound("Not found: Table p:d.missing was not found in location US")
        return SimpleNamespace(total_bytes_processed=len(sql))


def _fake_compile(project: Any, command: Any, *args: Any, **kwargs: Any) -> None:
    """What `dbt compile --selector weekly` leaves: a manifest and run results with the SQL."""
    assert list(command)[:3] == ["compile", "--quiet", "--selector"] and command[3] == "weekly"
    nodes = {
        "model.v.stg": ("model", "stg", "table", "select * from raw"),
        "model.v.int": ("model", "int", "view", "select * from stg"),
        "model.v.fct": ("model", "fct", "table", "select * from int join missing"),
        "test.v.t1": ("test", "not_null_fct", None, "select 1 from fct where x is null"),
        "seed.v.s": ("seed", "s", "seed", ""),
    }
    manifest = {"metadata": {"adapter_type": "bigquery"}, "nodes": {
        key: {"resource_type": kind, "name": name, "config": {"materialized": materialized}}
        for key, (kind, name, materialized, _) in nodes.items()}}
    results = {"results": [{"unique_id": key, "status": "success", "compiled_code": sql}
                           for key, (_, _, _, sql) in nodes.items()]}
    project.target_dir.mkdir(parents=True, exist_ok=True)
    (project.target_dir / "manifest.json").write_text(json.dumps(manifest))
    (project.target_dir / "run_results.json").write_text(json.dumps(results))


def test_estimate_dry_runs_every_compiled_node(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from vehicle_recs import estimate
    from vehicle_recs.project import DbtProject

    monkeypatch.setattr(DbtProject, "invoke", _fake_compile)
    client = DryRunClient()
    project = DbtProject(target="prod", target_path=tmp_path / "target")
    estimates = estimate.estimate_weekly(project, client)
    assert [(e.name, e.kind, e.bytes_processed) for e in estimates] == [
        ("stg", "table", len("select * from raw")), ("int", "view", len("select * from stg")),
        ("fct", "table", None), ("not_null_fct", "test", 33)]
    assert "was not found" in estimates[2].error
    assert len(client.jobs) == 4  # the seed has no SQL
    assert estimate.billed_total(estimates) == len("select * from raw") + 33  # no view
    text = estimate.format_estimates(estimates)
    assert "dry run failed: Not found" in text and "(1 node(s) could not be planned)" in text


def test_estimate_cli_on_prod_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    from vehicle_recs import bigquery_io
    from vehicle_recs.bigquery_io import BigQueryTarget
    from vehicle_recs.project import DbtProject

    assert main(["estimate"]) == 2
    assert "estimate needs --target prod" in capsys.readouterr().err
    client = DryRunClient()
    seen: dict[str, Any] = {}

    def fake_compile(project: DbtProject, command: Any, *args: Any, **kwargs: Any) -> None:
        seen["vars"] = dict(project.dbt_vars)
        _fake_compile(project, command)

    monkeypatch.setattr(DbtProject, "invoke", fake_compile)
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    target = BigQueryTarget(client=client, project="p", dataset="d", raw_dataset="raw",
                            log_dataset="raw")
    monkeypatch.setattr(bigquery_io, "connect", lambda *a, **k: target)
    monkeypatch.setattr(bigquery_io, "check_raw_dataset", lambda _: None)
    monkeypatch.setattr(bigquery_io.BigQueryAssignmentLog, "exists", lambda _: True)
    assert main(["estimate", "--target", "prod"]) == 0
    assert seen["vars"] == {"raw_dataset": "raw", "assignment_log_dataset": "raw"}
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("not_null_fct") and "33 B" in out[0]
    assert out[-1].startswith("total (tables, incremental, tests)") and "50 B" in out[-1]


def test_profile_byte_cap_holds_for_python_queries(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """maximum_bytes_billed of the profile becomes the client's default query job config."""
    from types import SimpleNamespace

    from vehicle_recs import bigquery_io
    from vehicle_recs.project import DbtProject

    profiles = write_profile(tmp_path, "http://127.0.0.1:9", target="prod")
    with (profiles / "profiles.yml").open("a") as handle:
        handle.write("      maximum_bytes_billed: 1000000\n")
    monkeypatch.setenv("DBT_PROFILES_DIR", str(profiles))
    client = SimpleNamespace(default_query_job_config=None)
    bigquery_io.connect(DbtProject(target="prod"), client=client)
    assert client.default_query_job_config.maximum_bytes_billed == 1_000_000
