"""Progress of dbt invocations: node events, the console log, the CLI's warnings and summary."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from vehicle_recs import project as project_module
from vehicle_recs.cli import _dbt_step, dbt_summary, main, warnings_summary
from vehicle_recs.project import DbtEvent, DbtProject, NodeResult, progress_hook

SEEDS = sorted(path.stem for path in (project_module.find_project_dir() / "seeds").glob("*.csv"))


@pytest.mark.slow
def test_seed_events_count_nodes_and_log_the_console(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "logs"))  # not the repo's logs/
    project = DbtProject(duckdb_path=tmp_path / "seeds.duckdb", target_path=tmp_path / "target")
    events: list[DbtEvent] = []

    project.invoke(["seed"], on_event=events.append)

    assert [event.kind for event in events if event.kind in {"start", "total", "end"}] == [
        "start", "total", "end"]
    results = [event for event in events if event.kind == "result"]
    assert [event.done for event in results] == list(range(1, len(SEEDS) + 1))
    assert {event.total for event in results} == {len(SEEDS)}
    assert sorted(event.node for event in events if event.kind == "node") == SEEDS
    assert {(event.result.resource_type, event.result.status)
            for event in results if event.result} == {("seed", "success")}
    end = events[-1]
    assert end.kind == "end" and end.success and end.seconds > 0
    assert end.done == end.total == len(SEEDS)
    assert end.log_path == project.console_log == tmp_path / "target" / "dbt_console.log"

    # dbt's per-node lines went to the console log, not to stdout; dbt.log is still written
    log = project.console_log.read_text()
    assert f"1 of {len(SEEDS)} START seed file" in log and "OK loaded seed file" in log
    assert "\x1b[" not in log
    assert "START seed file" not in capsys.readouterr().out
    assert (tmp_path / "logs" / "dbt.log").is_file()

    # the hook of an enclosing progress_hook block (how the CLI listens); the log is appended
    later: list[DbtEvent] = []
    with progress_hook(later.append):
        project.invoke(["seed", "--select", SEEDS[0]])
    assert [event.node for event in later if event.kind == "result"] == [SEEDS[0]]
    assert len(re.findall(r"^===== dbt seed", project.console_log.read_text(), re.M)) == 2

    # a hook that fails inside dbt's threads does not hang dbt: its error comes out afterwards
    def broken(event: DbtEvent) -> None:
        if event.kind == "node":
            raise ZeroDivisionError("display bug")

    with pytest.raises(ZeroDivisionError, match="display bug"):
        project.invoke(["seed", "--select", SEEDS[0]], on_event=broken)


def test_warnings_summary_lists_warned_tests_with_rows() -> None:
    results = [
        SimpleNamespace(name="not_null_orders_id", status="pass", failures=0),
        SimpleNamespace(name="dirty_row_share_orders", status="warn", failures=3),
        SimpleNamespace(name="relationships_lines_sku", status="warn", failures=1250),
        NodeResult("stg_orders", "model", "success"),
        NodeResult("accepted_values_status", "test", "WARN", 7),
        SimpleNamespace(name="unique_orders_id", status="fail", failures=2),
    ]
    assert warnings_summary(results) == [
        "dbt warnings (3):",
        "  1,250 rows  relationships_lines_sku",
        "      7 rows  accepted_values_status",
        "      3 rows  dirty_row_share_orders",
    ]
    assert warnings_summary(results, limit=1)[-1] == "  ... and 2 more (see the log)"
    assert warnings_summary(results[:1]) == []


def test_dbt_summary_is_one_line(tmp_path: Path) -> None:
    log = tmp_path / "dbt_console.log"
    results = [NodeResult("a", "model", "success"), NodeResult("b", "test", "warn", 2),
               NodeResult("c", "test", "error"), NodeResult("d", "test", "fail", 1)]
    assert dbt_summary(results, 95.4, log) == "dbt: 4 nodes, 2 errors, 1 warnings in 95 s"
    log.write_text("")
    assert dbt_summary(results, 95.4, log).endswith(f"in 95 s; log: {log}")


def test_dbt_step_prints_warnings_and_summary_after_dbt(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI's step listens to every invoke in it; not a terminal: no bar, short output."""
    log = tmp_path / "dbt_console.log"
    log.write_text("")
    with _dbt_step("run") as progress:
        progress("dbt build")
        hook = project_module._PROGRESS_HOOK.get()
        assert hook is not None
        hook(DbtEvent("start", "build", log_path=log))
        hook(DbtEvent("total", "build", total=2))
        for done, result in enumerate([NodeResult("m", "model", "success"),
                                       NodeResult("t", "test", "warn", 4)], start=1):
            hook(DbtEvent("node", "build", done - 1, 2, node=result.name))
            hook(DbtEvent("result", "build", done, 2, node=result.name, result=result))
        hook(DbtEvent("end", "build", 2, 2, seconds=3.0, log_path=log))
    assert project_module._PROGRESS_HOOK.get() is None
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "dbt warnings (1):",
        "  4 rows  t",
        f"dbt: 2 nodes, 0 errors, 1 warnings in 3 s; log: {log}",
    ]


def test_dbt_step_without_dbt_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with _dbt_step("report") as progress:
        progress("reading the marts")
    assert capsys.readouterr().err == ""


def test_build_select_with_selector_is_one_line(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["build", "--raw", str(tmp_path), "--select", "staging", "--selector", "weekly"])
    assert code == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and "--select and --selector" in lines[0], lines
