"""The intent-to-treat and sample-ratio marts against an experiment with a known effect.

The generator runs with a 20% control arm (no email) and an email that sells one of its items
with probability 0.1 (`synth --holdout 0.2 --email-lift 0.1`, xs, seed 7); it writes the
assignment log `vehicle-recs run` would have written and, in its manifest, the orders the emails
caused per arm inside the 7-day window. Those orders are completed with the generator's
completed share (90%), so the true difference in completed orders per assigned customer against
control is caused_orders_per_assigned * 0.9, and the mart's 95% interval must hold it (and
exclude 0: the effect is large enough to be detected at xs). Measured: bandit 0.082 [0.075,
0.090] for a truth of 0.086, random 0.087 [0.079, 0.095] for 0.089.

Then one campaign's log loses half its control rows (an assignment bug that drops holdout
customers): the sample-ratio check flags that campaign, and only it, and its dbt test warns.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from vehicle_recs.project import DbtProject
from vehicle_recs.synth import MANIFEST_NAME, generate
from vehicle_recs.synth import _config as truth

pytestmark = pytest.mark.slow

Query = Callable[[DbtProject, str], list[tuple[Any, ...]]]
SKEWED_CAMPAIGN = "CMP-20260606"
SRM_TEST = "assert_campaign_arms_match_planned_ratio"


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    raw = tmp_path_factory.mktemp("raw_holdout")
    generate("xs", 7, raw, holdout=0.2, email_lift=0.1)
    return raw, json.loads((raw / MANIFEST_NAME).read_text())["email_experiment"]


def _build(raw: Path, log_dir: Path, work: Path) -> tuple[DbtProject, Any]:
    project = DbtProject(duckdb_path=work / "db.duckdb", target_path=work / "target",
                         dbt_vars={"raw_dir": str(raw), "assignment_log_dir": str(log_dir)})
    return project, project.invoke(["build", "--selector", "report"])


@pytest.fixture(scope="module")
def itt_project(experiment: tuple[Path, dict[str, Any]],
                tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    raw, planted = experiment
    project, _ = _build(raw, raw / planted["assignment_log"], tmp_path_factory.mktemp("itt"))
    return project


@pytest.mark.parametrize("arm", ["bandit", "random"])
def test_intent_to_treat_recovers_the_orders_the_email_caused(
        experiment: tuple[Path, dict[str, Any]], itt_project: DbtProject, arm: str,
        query: Query) -> None:
    _, planted = experiment
    ((assigned, diff, low, high),) = query(itt_project, f"""
        select assigned_customer_count, orders_diff_vs_control, orders_diff_lower,
               orders_diff_upper
        from rpt_campaign_arms_measured_for_intent_to_treat
        where grain = 'pooled' and arm = '{arm}'""")
    assert assigned == planted["arms"][arm]["assigned"]
    expected = (planted["arms"][arm]["caused_orders_per_assigned"]
                * truth.ORDER_STATUS_SHARE["completed"])
    assert low <= expected <= high, (
        f"{arm}: {diff:.4f} [{low:.4f}, {high:.4f}] misses the planted {expected:.4f}")
    assert low > 0, "an effect this large must be detected at xs"


def test_sample_ratio_check_fires_on_a_skewed_campaign(
        experiment: tuple[Path, dict[str, Any]], query: Query, tmp_path: Path) -> None:
    raw, planted = experiment
    log_dir = tmp_path / "assignment_log"
    log_dir.mkdir()
    for path in (raw / planted["assignment_log"]).glob("*.parquet"):
        table = pq.read_table(path)
        if path.stem == SKEWED_CAMPAIGN:  # every second control row lost
            is_control = pc.equal(table["arm"], "control").to_numpy(zero_copy_only=False)
            keep = ~is_control | (is_control.cumsum() % 2 == 0)
            table = table.filter(keep)
        pq.write_table(table, log_dir / path.name)
    project, result = _build(raw, log_dir, tmp_path)
    flagged = query(project, """
        select distinct campaign_id from rpt_campaign_arms_checked_for_sample_ratio
        where is_sample_ratio_mismatch""")
    assert flagged == [(SKEWED_CAMPAIGN,)]
    statuses = {r.node.name: str(r.status) for r in result.results}
    assert statuses[SRM_TEST] == "warn"


def test_report_reads_the_log_and_states_the_effect(
        experiment: tuple[Path, dict[str, Any]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`vehicle-recs report --raw` reads the assignment log `run` appends to (here the
    generator's, through $VEHICLE_RECS_ASSIGNMENT_LOG) and its verdict names the effect."""
    from vehicle_recs.cli import main

    raw, planted = experiment
    monkeypatch.setenv("VEHICLE_RECS_ASSIGNMENT_LOG", str(raw / planted["assignment_log"]))
    monkeypatch.setenv("VEHICLE_RECS_DUCKDB_PATH", str(tmp_path / "report.duckdb"))
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    assert main(["report", "--raw", str(raw), "--json", "--out", str(tmp_path / "out")]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["sample_ratio"]["checked_campaigns"] == 26
    assert not payload["sample_ratio"]["mismatched"]
    headline = payload["verdict"]["headline"]
    assert "bandit pays over no email" in headline and "random pays over no email" in headline
