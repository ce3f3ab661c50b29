"""`vehicle-recs run` end to end on xs data, the guardrail stop, and one-line CLI errors.

One full `run` (default arm weights, bandit included) is shared by the module; the bandit
wiring (payload fields, assignments, assignment log, the log read back by dbt) is asserted on
it rather than on another full build.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import jsonschema
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from vehicle_recs import runner
from vehicle_recs.arms import ArmContext
from vehicle_recs.cli import WIDE_COLUMNS, main, stdout_console
from vehicle_recs.contract import RAW_SCHEMAS, RawDataError
from vehicle_recs.errors import VehicleRecsError, user_path
from vehicle_recs.export import ExportError
from vehicle_recs.payload_schema import PayloadValidationError, load_schema
from vehicle_recs.project import DbtError, DbtProject, RunLocked
from vehicle_recs.settings import SettingsError, load_bandit, load_selection
from vehicle_recs.treatments import load_weights
from vehicle_recs.warehouse import ModelNotFound, open_warehouse
from vehicle_recs_dev.payload_checks import fitment_violations

OUTPUTS = ("payloads.jsonl", "assignments.csv", "payload_items.parquet", "preview.html",
           "summary.json")


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    return lines[0]


# ---------------------------------------------------------------- bad input: fast, no dbt


def test_bad_date_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--raw", str(tmp_path), "--as-of", "2024-13-40", "--out",
                 str(tmp_path / "out")])
    assert code == 2
    line = one_error_line(capsys)
    assert "'--as-of': '2024-13-40' does not match the format '%Y-%m-%d'" in line
    assert line.endswith("(vehicle-recs run --help)")


def test_unknown_arm_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--raw", str(tmp_path), "--treatment", "banana", "--out",
                 str(tmp_path / "out")])
    assert code == 2
    assert "unknown treatment arm 'banana'" in one_error_line(capsys)


def test_bad_items_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--raw", str(tmp_path), "--items", "0", "--out", str(tmp_path)]) == 2
    assert "--items" in one_error_line(capsys)


@pytest.mark.parametrize("error", [RawDataError, DbtError, RunLocked, SettingsError, ExportError,
                                   PayloadValidationError, ModelNotFound])
def test_every_project_error_is_one_vehicle_recs_error(error: type[Exception]) -> None:
    assert issubclass(error, VehicleRecsError)


def test_a_project_error_is_one_line_and_a_traceback_with_debug(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    def fail(options: runner.RunOptions, progress: object) -> None:
        raise VehicleRecsError("the folder is gone")

    monkeypatch.setattr(runner, "run", fail)
    args = ["run", "--raw", str(tmp_path), "--out", str(tmp_path / "out")]
    assert main(args) == 2
    assert one_error_line(capsys) == "error: the folder is gone"
    with pytest.raises(VehicleRecsError, match="the folder is gone"):
        main(["--debug", *args])


@pytest.mark.parametrize("bug", [ValueError("deep in pandas"), OSError("a typo in a path"),
                                 KeyError("column")])
def test_a_bug_keeps_its_traceback(bug: Exception, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a VehicleRecsError is one line and exit code 2: a ValueError or OSError of the code
    itself is a bug, and propagates with its traceback even without --debug."""
    def fail(options: runner.RunOptions, progress: object) -> None:
        raise bug

    monkeypatch.setattr(runner, "run", fail)
    with pytest.raises(type(bug)) as raised:
        main(["run", "--raw", str(tmp_path), "--out", str(tmp_path / "out")])
    assert raised.value is bug


def test_an_output_folder_that_cannot_be_made_is_one_line_naming_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An OSError on a path the user chose becomes a VehicleRecsError naming the path."""
    (tmp_path / "file").write_text("a file where a folder should be")
    out = tmp_path / "file" / "raw"
    assert main(["synth", "--scale", "xs", "--out", str(out)]) == 2
    line = one_error_line(capsys)
    assert f"cannot write the raw tables to {out}: " in line
    with (pytest.raises(VehicleRecsError, match="cannot write x: No space left") as raised,
          user_path(Path("x"), "write")):
        raise OSError(28, "No space left on device")
    assert isinstance(raised.value.__cause__, OSError)


@pytest.mark.parametrize("campaign", ["", "abc\n", "../up", "a b", "-lead"])
def test_bad_campaign_is_one_line_before_the_build(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], campaign: str) -> None:
    # an empty id is not the default campaign; a trailing newline is not a valid id
    code = main(["run", "--raw", str(tmp_path), "--campaign", campaign, "--out",
                 str(tmp_path / "out")])
    assert code == 2
    assert "bad --campaign" in one_error_line(capsys)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_missing_raw_table_is_one_line(xs_raw: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(xs_raw, raw)
    (raw / "fitment.parquet").unlink()
    code = main(["run", "--raw", str(raw), "--out", str(tmp_path / "out")])
    assert code == 2
    assert "missing raw table 'fitment'" in one_error_line(capsys)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_missing_raw_column_is_one_line(xs_raw: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    import pyarrow.parquet as pq

    raw = tmp_path / "raw"
    shutil.copytree(xs_raw, raw)
    table = pq.read_table(raw / "products.parquet")
    pq.write_table(table.drop_columns(["price"]), raw / "products.parquet")
    code = main(["run", "--raw", str(raw), "--out", str(tmp_path / "out")])
    assert code == 2
    assert "raw table 'products' is missing column(s): price" in one_error_line(capsys)


def test_control_treatment_is_one_line_before_the_build(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--raw", str(tmp_path), "--treatment", "control", "--out",
                 str(tmp_path / "out")])
    assert code == 2
    assert "--treatment control sends no email" in one_error_line(capsys)


@pytest.mark.slow
@pytest.mark.parametrize(("table", "breakage", "message"), [
    ("products", "price as text", "raw table 'products': column 'price' must be a number"),
    ("orders", "timestamps as text",
     "raw table 'orders': column 'ordered_at' must be a timestamp"),
    ("fitment", "truncated", "raw table 'fitment': cannot read fitment.parquet as Parquet"),
    ("fitment", "empty", "raw table 'fitment' is empty"),
])
def test_broken_raw_table_is_one_line_naming_it(
        xs_raw: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        table: str, breakage: str, message: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    raw = tmp_path / "raw"
    shutil.copytree(xs_raw, raw)
    path = raw / f"{table}.parquet"
    data = pq.read_table(path)
    if breakage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif breakage == "empty":
        pq.write_table(data.slice(0, 0), path)
    else:
        column = "price" if table == "products" else "ordered_at"
        index = data.schema.get_field_index(column)
        pq.write_table(data.set_column(index, column, data[column].cast(pa.string())), path)
    code = main(["run", "--raw", str(raw), "--out", str(tmp_path / "out")])
    assert code == 2
    assert message in one_error_line(capsys)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_out_that_is_a_file_is_one_line_before_the_build(
        xs_raw: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "out").write_text("not a folder")
    code = main(["run", "--raw", str(xs_raw), "--out", str(tmp_path / "out")])
    assert code == 2
    assert "is a file, not a folder" in one_error_line(capsys)
    assert not (tmp_path / "target").exists()


@pytest.mark.slow
def test_unwritable_assignment_log_stops_before_the_build(
        xs_raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "log").write_text("a file where the log folder should be")
    monkeypatch.setenv("VEHICLE_RECS_DUCKDB_PATH", str(tmp_path / "xs.duckdb"))
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    monkeypatch.setenv("VEHICLE_RECS_ASSIGNMENT_LOG", str(tmp_path / "log"))
    code = main(["run", "--raw", str(xs_raw), "--out", str(tmp_path / "out")])
    assert code == 2
    assert "the assignment log folder" in one_error_line(capsys)
    assert not (tmp_path / "out").exists() and not (tmp_path / "xs.duckdb").exists()


@pytest.mark.slow
def test_apparel_cap_above_the_candidate_pool_is_one_line_before_the_build(
        xs_raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """selection.json lets an email show 1 apparel product; a pool of 0 (--var) contradicts it."""
    monkeypatch.setenv("VEHICLE_RECS_DUCKDB_PATH", str(tmp_path / "xs.duckdb"))
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    monkeypatch.setenv("VEHICLE_RECS_ASSIGNMENT_LOG", str(tmp_path / "log"))
    code = main(["run", "--raw", str(xs_raw), "--out", str(tmp_path / "out"), "--var",
                 "max_apparel_candidates=0"])
    assert code == 2
    line = one_error_line(capsys)
    assert "department_caps.apparel = 1 exceeds dbt var max_apparel_candidates = 0" in line
    assert not (tmp_path / "out").exists() and not (tmp_path / "xs.duckdb").exists()


@pytest.mark.slow
def test_a_second_run_stops_naming_the_run_holding_the_checkout(
        xs_raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("VEHICLE_RECS_DUCKDB_PATH", str(tmp_path / "xs.duckdb"))
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    monkeypatch.setenv("VEHICLE_RECS_ASSIGNMENT_LOG", str(tmp_path / "log"))
    with DbtProject().exclusive("pid 4242 (the first run)"):
        code = main(["run", "--raw", str(xs_raw), "--out", str(tmp_path / "out")])
    assert code == 2
    line = one_error_line(capsys)
    assert "another run is using" in line and "pid 4242 (the first run)" in line
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "xs.duckdb").exists()  # stopped before the build


@pytest.mark.slow
def test_two_runs_at_once_in_one_checkout_do_not_mix(xs_raw: Path, tmp_path: Path) -> None:
    """Two runs on different data start together in one checkout (same DuckDB file, target and
    log folder): one finishes with its own data's payloads, the other stops at once naming it."""
    import subprocess
    import sys

    from vehicle_recs.synth import generate

    other_raw = tmp_path / "raw_other"
    generate("xs", 8, other_raw)
    env = {**os.environ, "VEHICLE_RECS_DUCKDB_PATH": str(tmp_path / "shared.duckdb"),
           "DBT_TARGET_PATH": str(tmp_path / "target"),
           "VEHICLE_RECS_ASSIGNMENT_LOG": str(tmp_path / "log")}
    raws = {"a": xs_raw, "b": other_raw}
    processes = {
        name: subprocess.Popen(
            [sys.executable, "-c", "import sys; from vehicle_recs.cli import main; "
             "sys.exit(main())", "run", "--raw", str(raw), "--out", str(tmp_path / name),
             "--campaign", f"camp-{name}"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name, raw in raws.items()}
    results = {name: (process.wait(timeout=600), process.communicate()[1])
               for name, process in processes.items()}
    codes = sorted(code for code, _ in results.values())
    assert codes == [0, 2], results
    winner = next(name for name, (code, _) in results.items() if code == 0)
    loser = next(name for name in results if name != winner)
    assert "another run is using" in results[loser][1]
    assert not (tmp_path / loser).exists()
    summary = json.loads((tmp_path / winner / "summary.json").read_text())
    assert summary["campaign_id"] == f"camp-{winner}"
    # every item fits a vehicle of its customer in the winner's own raw data
    assert fitment_violations(tmp_path / winner / "payloads.jsonl", raws[winner]) == 0
    assert sorted(path.name for path in (tmp_path / "log").iterdir()) == [
        f"camp-{winner}.parquet"]


@pytest.mark.slow
def test_ctrl_c_exits_130_with_one_line(xs_raw: Path, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "VEHICLE_RECS_DUCKDB_PATH": str(tmp_path / "xs.duckdb"),
           "DBT_TARGET_PATH": str(tmp_path / "target"),
           "VEHICLE_RECS_ASSIGNMENT_LOG": str(tmp_path / "log")}
    command = [sys.executable, "-c", "import sys; from vehicle_recs.cli import main; "
               "sys.exit(main())", "run", "--raw", str(xs_raw), "--out", str(tmp_path / "out")]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    log = tmp_path / "target" / "dbt_console.log"
    deadline = time.monotonic() + 120
    while not (log.exists() and log.stat().st_size) and time.monotonic() < deadline:
        time.sleep(0.2)  # interrupt during the dbt build
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1].startswith("interrupted (SIGINT)")
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- end to end (one dbt build)


@pytest.fixture(scope="module")
def xs_run(xs_raw: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    work = tmp_path_factory.mktemp("run_xs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VEHICLE_RECS_DUCKDB_PATH", str(work / "xs.duckdb"))
        patch.setenv("DBT_TARGET_PATH", str(work / "target"))
        patch.setenv("VEHICLE_RECS_ASSIGNMENT_LOG", str(work / "log"))  # never the repo's data/
        out = work / "out"
        code = main(["run", "--raw", str(xs_raw), "--out", str(out), "--campaign", "xs-test"])
        yield {"code": code, "out": out, "work": work, "raw": xs_raw, "log": work / "log"}


@pytest.mark.slow
def test_run_writes_every_output(xs_run: dict) -> None:
    assert xs_run["code"] == 0
    out: Path = xs_run["out"]
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["files"] == {name: hashlib.sha256((out / name).read_bytes()).hexdigest()
                                for name in OUTPUTS if name != "summary.json"}
    # the generator injects duplicate orders: counted per table and kind
    orders = summary["dirty_rows"]["orders"]
    assert 0 < orders["is_duplicate"] <= orders["is_dirty"] < orders["rows"]
    assert set(summary["dirty_rows"]) == set(RAW_SCHEMAS)
    assert "dirty raw rows (left out): " in runner.format_summary(summary)
    assert not [p for p in out.parent.iterdir() if ".staging-" in p.name]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["payloads"] > 0 and summary["campaign_id"] == "xs-test"
    assert 0 <= summary["fallback_share"] < 1
    assert summary["family_duplicates"] == 0
    assert summary["new_arrival_payloads"] == 0  # the default generator has no new parts
    # freshness of the timestamped raw tables, measured against today's clock: reported, the
    # run went on (the synthetic data ends on 2026-10-31; future-dated dirty rows are ignored)
    freshness = summary["source_freshness"]
    assert set(freshness) == {"orders", "customers", "customer_vehicles", "products",
                              "email_sends", "email_events"}
    assert all(row["status"] in {"pass", "warn", "error"} for row in freshness.values())
    assert 0 < freshness["orders"]["age_days"] < 400  # a row dated 2089 would be negative
    stale = [name for name, row in freshness.items() if row["status"] != "pass"]
    assert ("source freshness: " in runner.format_summary(summary)) == bool(stale)
    assert set(summary["arms"]) == {"personalized", "bandit", "random", "control"}
    assert summary["assignment_log"] == str(xs_run["log"] / "xs-test.parquet")


@pytest.mark.slow
def test_run_builds_only_the_weekly_selection(xs_run: dict) -> None:
    """The weekly job: the final model's lineage, the random draw and the bandit evidence with
    their data tests; no unit test, no reporting mart, only the random arm's baseline."""
    results = json.loads((xs_run["work"] / "target" / "run_results.json").read_text())
    ids = [result["unique_id"] for result in results["results"]]
    assert "model.vehicle_recs.fct_recommendation_candidates" in ids
    assert "model.vehicle_recs.fct_bandit_evidence" in ids
    assert "test.vehicle_recs.assert_candidates_fit_a_customer_vehicle" in [
        ".".join(uid.split(".")[:3]) for uid in ids]
    assert not [uid for uid in ids if uid.startswith("unit_test.")]
    assert not [uid for uid in ids if ".rpt_" in uid or "reporting" in uid]
    with duckdb.connect(str(xs_run["work"] / "xs.duckdb"), read_only=True) as con:
        strategies = con.execute(
            "select distinct strategy from fct_baseline_candidates").fetchall()
    assert strategies == [("random_eligible",)]


@pytest.mark.slow
def test_every_payload_validates_and_keeps_the_rules(xs_run: dict) -> None:
    out: Path = xs_run["out"]
    validator = jsonschema.Draft202012Validator(load_schema())
    rows = [json.loads(line) for line in (out / "payloads.jsonl").read_text().splitlines()]
    for row in rows:
        validator.validate(row)
        families = [item["family_id"] for item in row["items"]]
        assert len(families) == len(set(families))
        assert len(row["items"]) <= 6
        assert row["treatment"] != "control"
        if row["is_fallback"]:
            assert row["vehicle"] is None
        else:  # its vehicle is the one of its best-ranked item that has one
            vehicles = [item["vehicle_id"] for item in row["items"] if item["vehicle_id"]]
            assert (row["vehicle"] or {}).get("vehicle_id") == (vehicles or [None])[0]
    assert len({row["customer_id"] for row in rows}) == len(rows)
    assert fitment_violations(out / "payloads.jsonl", xs_run["raw"]) == 0


@pytest.mark.slow
def test_assignments_include_control(xs_run: dict) -> None:
    table = pacsv.read_csv(xs_run["out"] / "assignments.csv").to_pylist()
    control = [row for row in table if row["treatment"] == "control"]
    assert control and not any(row["has_payload"] for row in control)
    assert all(0 < row["propensity"] <= 1 for row in table)


@pytest.mark.slow
def test_forced_treatment_on_the_built_model(xs_run: dict) -> None:
    work: Path = xs_run["work"]
    warehouse = open_warehouse(work / "target", work / "xs.duckdb")
    context = ArmContext(campaign_id="forced", as_of=date(2024, 1, 1),
                         candidates=warehouse.read_candidates(), warehouse=warehouse)
    result = runner.make_payloads(context, model_version="t", rules=load_selection(items=4),
                                  weights=load_weights(), forced="random")
    treatments = set(result.payloads["treatment"].to_pylist())
    assert treatments == {"random"}
    assert set(result.payloads["propensity"].to_pylist()) == {1.0}
    assert max(len(items) for items in result.payloads["items"].to_pylist()) <= 4


@pytest.mark.slow
def test_failing_guardrail_stops_before_any_payload(xs_run: dict,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A candidate guardrail (owner coverage) fails: exit 2, the old outputs are kept."""
    out: Path = xs_run["out"]
    work: Path = xs_run["work"]
    before = {name: (out / name).read_bytes() for name in OUTPUTS}
    stamps = {name: os.stat(out / name).st_mtime_ns for name in OUTPUTS}

    def broken_project() -> DbtProject:
        # more coverage than possible: assert_opted_in_vehicle_owners_have_candidates fails
        return DbtProject(duckdb_path=work / "broken.duckdb", target_path=work / "target_broken",
                          dbt_vars={"min_candidate_coverage": 1.01})

    monkeypatch.setattr(runner, "DbtProject", broken_project)
    code = main(["run", "--raw", str(xs_run["raw"]), "--out", str(out), "--campaign", "other"])
    assert code == 2
    assert "dbt build failed" in one_error_line(capsys)
    assert {name: (out / name).read_bytes() for name in OUTPUTS} == before
    assert {name: os.stat(out / name).st_mtime_ns for name in OUTPUTS} == stamps
    assert not [p for p in out.parent.iterdir() if ".staging-" in p.name]
    # the failed build replaced the final model: a reader refuses the rows no test passed
    with pytest.raises(VehicleRecsError, match="is not read: in the last dbt build its test"):
        open_warehouse(work / "target_broken", work / "broken.duckdb").read_candidates()


# ---------------------------------------------------------------- the bandit arm, wired in


@pytest.mark.slow
def test_bandit_payloads_carry_strategy_context_and_propensity(xs_run: dict) -> None:
    rows = [json.loads(line) for line in
            (xs_run["out"] / "payloads.jsonl").read_text().splitlines()]
    mine = [row for row in rows if row["treatment"] == "bandit"]
    others = [row for row in rows if row["treatment"] != "bandit"]
    assert mine and others
    strategies = set(load_bandit().strategies)
    for row in mine:
        assert row["strategy"] in strategies
        assert row["context"]
        assert 0 < row["strategy_propensity"] <= 1
    makes = {row["vehicle"]["make"] for row in rows if row["vehicle"]}
    assert {row["context"] for row in mine} <= makes | {load_bandit().no_context}
    assert all(row["strategy"] is None and row["strategy_propensity"] is None
               for row in others)
    summary = json.loads((xs_run["out"] / "summary.json").read_text())
    assert sum(s["payloads"] for s in summary["strategies"].values()) == len(mine)
    assert summary["arms"]["bandit"]["payloads"] == len(mine)


@pytest.mark.slow
def test_assignments_and_log_record_strategy_and_context(xs_run: dict) -> None:
    assignments = pacsv.read_csv(xs_run["out"] / "assignments.csv").to_pandas()
    log = pq.read_table(xs_run["log"] / "xs-test.parquet").to_pandas()
    assert list(xs_run["log"].iterdir()) == [xs_run["log"] / "xs-test.parquet"]
    assert len(log) == len(assignments) and set(log["campaign_id"]) == {"xs-test"}
    merged = assignments.merge(log, on="customer_id", suffixes=("", "_log"))
    assert (merged["treatment"] == merged["arm"]).all()
    assert merged["context"].notna().all() and (merged["context"] == merged["context_log"]).all()
    bandit_rows = merged[merged["arm"] == "bandit"]
    assert (bandit_rows["strategy"] == bandit_rows["strategy_log"]).all()
    assert bandit_rows["strategy_propensity"].between(0, 1, inclusive="right").all()
    # other arms: fixed strategy (propensity 1) in the log; control: none
    fixed = merged.set_index("arm")["strategy_log"]
    assert set(fixed.loc[["personalized"]]) == {"vehicle_affinity"}
    assert fixed.loc[["control"]].isna().all()
    joint = log["arm_propensity"] * log["strategy_propensity"].fillna(1.0)
    assert (abs(log["propensity"] - joint) < 1e-12).all()


@pytest.mark.slow
def test_next_run_reads_the_log_into_the_evidence_models(
        xs_run: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """The next campaign's `run` passes the log folder to dbt, and dbt reads it: the bandit
    models rebuilt on the shared database (a targeted build, not another full one)."""
    work: Path = xs_run["work"]
    seen: dict = {}

    class Stop(DbtError):
        pass

    def capture(self: DbtProject, command: list[str], extra_vars: object = None) -> None:
        seen.update(self.dbt_vars)
        raise Stop("stop after capturing the vars")

    monkeypatch.setattr(DbtProject, "invoke", capture)
    with pytest.raises(Stop):
        runner.run(runner.RunOptions(raw_dir=xs_run["raw"], out_dir=work / "next",
                                     campaign_id="xs-next",
                                     project=DbtProject(duckdb_path=work / "unused.duckdb")))
    assert seen["assignment_log_dir"] == str(xs_run["log"].resolve())
    assert not (work / "next").exists()
    monkeypatch.undo()

    project = DbtProject(duckdb_path=work / "xs.duckdb", target_path=work / "target_log",
                         dbt_vars={"raw_dir": str(xs_run["raw"]),
                                   "assignment_log_dir": seen["assignment_log_dir"]})
    # the bandit's evidence from the log (the readouts downstream of the log need parents the
    # weekly build does not make)
    project.invoke(["build", "--select", "stg_bandit__assignments+,+fct_bandit_evidence"])
    import duckdb

    with duckdb.connect(str(work / "xs.duckdb"), read_only=True) as con:
        logged = con.execute("select count(*), count(strategy) from stg_bandit__assignments "
                             "where campaign_id = 'xs-test' and not is_dirty").fetchone()
        con.execute("select * from fct_bandit_evidence").fetchall()  # builds, reads the log
    summary = json.loads((xs_run["out"] / "summary.json").read_text())
    assert logged is not None
    assert logged[0] == summary["customers"]
    assert logged[1] == summary["customers"] - summary["arms"]["control"]["assigned"]


@pytest.mark.slow
def test_run_leaves_the_callers_project_as_it_was(xs_raw: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """`run` builds with a copy of the project it is given: the caller's vars, target and
    folders are as they were, so the same object starts the next run clean."""
    built: list[DbtProject] = []

    class Stop(DbtError):
        pass

    def capture(self: DbtProject, command: list[str], extra_vars: object = None) -> None:
        if command[0] == "build":
            built.append(self)
            raise Stop("stop at the build")

    monkeypatch.setattr(DbtProject, "invoke", capture)
    project = DbtProject(duckdb_path=tmp_path / "unused.duckdb", target_path=tmp_path / "target",
                         dbt_vars={"lift_weight": 0.5})
    before = DbtProject(duckdb_path=tmp_path / "unused.duckdb", target_path=tmp_path / "target",
                        dbt_vars={"lift_weight": 0.5})
    with pytest.raises(Stop):
        runner.run(runner.RunOptions(raw_dir=xs_raw, out_dir=tmp_path / "out",
                                     as_of=date(2026, 1, 2), campaign_id="copy-check",
                                     project=project, assignment_log_dir=tmp_path / "log",
                                     dbt_vars={"ranking_objective": "match"}))
    assert project == before
    assert built[0] is not project
    assert built[0].dbt_vars == {
        "lift_weight": 0.5, "raw_dir": str(xs_raw.resolve()), "ranking_objective": "match",
        "as_of": "2026-01-02", "random_seed": "copy-check", "campaign_id": "copy-check",
        "baseline_strategies": ["random_eligible"]}


def test_tables_are_wide_when_stdout_is_not_a_terminal(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Captured stdout (as in CI logs) is not a terminal: rich would cut tables at 80 columns."""
    tables = stdout_console()
    assert not tables.is_terminal
    assert tables.width >= WIDE_COLUMNS == 160


def test_version_and_one_line_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("vehicle-recs, version ")
    assert main(["synth", "--scale", "huge", "--out", "x"]) == 2
    assert one_error_line(capsys).endswith("(vehicle-recs synth --help)")


def test_run_takes_a_date_and_dbt_vars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`run --as-of` is parsed as a date like every other command's, and `--var` reaches the
    build (the run's own vars, such as raw_dir and as_of, are set after it)."""
    import datetime as dt

    from vehicle_recs import runner

    seen: list[runner.RunOptions] = []
    monkeypatch.setattr(runner, "run", lambda options, progress: seen.append(options) or {})
    monkeypatch.setattr(runner, "format_summary", lambda summary: "")
    assert main(["run", "--raw", str(tmp_path), "--out", str(tmp_path / "out"), "--as-of",
                 "2026-01-02", "--var", "lift_weight=0.5", "--var", "ranking_objective=match"]) == 0
    assert seen[0].as_of == dt.date(2026, 1, 2)
    assert seen[0].dbt_vars == {"lift_weight": 0.5, "ranking_objective": "match"}


@pytest.mark.slow
def test_summary_counts_payloads_with_a_new_arrival(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """On data with new parts (`synth --arrivals`), the summary's count of payloads holding a
    part created in the 90 days before the cut-off equals the count read back from the
    written items and the raw products."""
    from vehicle_recs.synth import generate

    raw = tmp_path / "raw"
    generate("xs", 7, raw, arrivals=0.3)
    monkeypatch.setenv("VEHICLE_RECS_DUCKDB_PATH", str(tmp_path / "xs.duckdb"))
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    monkeypatch.setenv("VEHICLE_RECS_ASSIGNMENT_LOG", str(tmp_path / "log"))
    out = tmp_path / "out"
    assert main(["run", "--raw", str(raw), "--out", str(out), "--as-of", "2026-09-01"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    (expected,) = duckdb.connect().execute(f"""
        select count(distinct items.customer_id)
        from '{out}/payload_items.parquet' as items
        join (select distinct sku, created_at from '{raw}/products.parquet') as products
            using (sku)
        where products.created_at >= date '2026-09-01' - interval 90 day
            and products.created_at < date '2026-09-01'""").fetchone()
    assert summary["new_arrival_payloads"] == expected > 0
    assert summary["new_arrival_share"] == round(expected / summary["payloads"], 4)
    assert "with a new arrival" in runner.format_summary(summary)
