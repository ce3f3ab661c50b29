"""The bandit arm: strategies, Thompson sampling, the assignment log, OPE and the dbt marts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from vehicle_recs import bandit, bandit_arm, settings, strategies
from vehicle_recs.arms import ARM_SCHEMA, ArmContext
from vehicle_recs.project import DbtProject
from vehicle_recs.treatments import get_arm
from vehicle_recs.warehouse import CANDIDATE_SCHEMA
from vehicle_recs_dev.bandit_reference import off_policy_estimates, policy_table

STRATS = ("vehicle_affinity", "high_ticket", "category_diverse", "catalog_popular",
          "new_arrivals")


def candidates_table(customers: int = 3, per_customer: int = 6) -> pa.Table:
    """A small final-model table: customer 0 has no vehicle (fallback), others drive a Ford or
    a Chevrolet; prices, categories, rates vary by rank; ranks 4 and 6 are new arrivals."""
    rows = []
    for c in range(customers):
        make = None if c == 0 else ("Ford" if c % 2 else "Chevrolet")
        for r in range(1, per_customer + 1):
            rows.append({
                "customer_id": f"c{c}", "candidate_rank": r, "sku": f"S{c}-{r}",
                "family_id": f"S{c}-{r}", "is_variant": False,
                "vehicle_id": None if make is None else f"v{c}",
                "vehicle_year": None if make is None else 1969,
                "vehicle_make": make, "vehicle_model": None if make is None else "M",
                "product_name": f"P{r}", "brand": "B", "category": "cat" + str(r % 2),
                "department": "hard_parts", "price_usd": float(10 * r * r),
                "image_url": None, "product_url": None, "score": 1.0 / r,
                "vehicle_rate": 0.01 / r, "buyer_count": 3, "owner_count": 100,
                "lift": 1.0 / (r * r), "fitment_breadth": 5, "breadth_tier": "specific",
                "price_tier": "x", "reason_code": "vehicle_affinity", "reason": "because",
                "is_fallback": make is None, "is_replenishment": False,
                "is_new_arrival": r in (4, 6), "as_of_date": date(2024, 7, 1),
            })
    return pa.Table.from_pylist(rows, schema=CANDIDATE_SCHEMA)


# ---------------------------------------------------------------------------------------------
# strategies


@pytest.mark.parametrize("name", STRATS)
def test_every_strategy_reorders_the_same_rows_with_contiguous_ranks(name: str) -> None:
    table = candidates_table()
    ranked = strategies.rerank(table, name).to_pandas()
    assert sorted(ranked["sku"]) == sorted(table["sku"].to_pylist())
    for _, group in ranked.groupby("customer_id"):
        assert sorted(group["candidate_rank"]) == list(range(1, len(group) + 1))
        by_rank = group.sort_values("candidate_rank")
        assert by_rank["score"].is_monotonic_decreasing
    assert (ranked["score"] >= 0).all() and np.isfinite(ranked["score"]).all()


def test_strategies_rank_as_documented() -> None:
    table = candidates_table(customers=2)
    def top(name: str) -> list[str]:
        ranked = strategies.rerank(table, name).to_pandas()
        mine = ranked[ranked["customer_id"] == "c1"].sort_values("candidate_rank")
        return list(mine["sku"])
    assert top("vehicle_affinity") == [f"S1-{r}" for r in range(1, 7)]
    # price grows as r^2, score falls as 1/r: price ** 0.5 * score is flat -> ties keep the
    # model's order... so high_ticket must at least not prefer the cheapest over the dearest
    # once price outgrows the score: check with a steeper price.
    steep = table.set_column(table.schema.get_field_index("price_usd"), "price_usd",
                             pc.multiply(table["price_usd"], table["price_usd"]))
    ranked = strategies.rerank(steep, "high_ticket").to_pandas()
    assert ranked[ranked["customer_id"] == "c1"].sort_values("candidate_rank")["sku"].iloc[0] \
        == "S1-6"
    # categories alternate cat1, cat0, ...; diversity keeps the top two from different ones
    diverse = strategies.rerank(table, "category_diverse").to_pandas()
    first_two = diverse[(diverse["customer_id"] == "c1") & (diverse["candidate_rank"] <= 2)]
    assert first_two["category"].nunique() == 2
    # catalog rate = vehicle_rate / lift = 0.01 * r: the least lifted (rank 6) is most popular
    assert top("catalog_popular")[0] == "S1-6"
    # new arrivals (ranks 4 and 6) first, then the rest, each in the engine's order
    assert top("new_arrivals") == ["S1-4", "S1-6", "S1-1", "S1-2", "S1-3", "S1-5"]


def test_new_arrivals_keeps_the_engine_order_without_arrivals() -> None:
    table = candidates_table(customers=2)
    none_new = table.set_column(table.schema.get_field_index("is_new_arrival"), "is_new_arrival",
                                pa.nulls(table.num_rows, pa.bool_()))
    ranked = strategies.rerank(none_new, "new_arrivals").to_pandas()
    for _, group in ranked.groupby("customer_id"):
        assert list(group.sort_values("candidate_rank")["sku"]) == \
            list(group.sort_values("score", ascending=False)["sku"])
    assert np.allclose(ranked.sort_values("sku")["score"],
                       table.to_pandas().sort_values("sku")["score"])


def test_unknown_strategy_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown bandit strategy"):
        strategies.rerank(candidates_table(), "nope")


# ---------------------------------------------------------------------------------------------
# Thompson sampling


def test_config_ships_and_validates() -> None:
    config = settings.load_bandit()
    assert config.strategies == STRATS and config.propensity_draws >= 100
    with pytest.raises(ValueError, match="registered"):
        settings.load_bandit(strategies=["vehicle_affinity", "nope"])
    with pytest.raises(ValueError, match="alpha, beta > 0"):
        settings.load_bandit(prior_beta=0)
    with pytest.raises(ValueError, match="min_propensity"):
        settings.load_bandit(min_propensity=0.3)


def test_propensities_sum_to_one_per_context_and_respect_the_floor() -> None:
    rng = np.random.default_rng(0)
    alpha = rng.uniform(1, 50, size=(7, 4))
    beta = rng.uniform(100, 5000, size=(7, 4))
    p = bandit.thompson_propensities(alpha, beta, 2000, rng, min_propensity=0.05)
    assert p.shape == (7, 4)
    assert np.allclose(p.sum(axis=1), 1.0)
    assert (p >= 0.05 - 1e-12).all()


def test_priors_only_give_every_strategy_an_equal_chance() -> None:
    config = settings.load_bandit(propensity_draws=20_000)
    table = policy_table(None, ["Ford", "none"], "CMP-1", config)
    assert np.allclose(table["strategy_propensity"], 1 / len(STRATS), atol=0.015)
    assert np.allclose(table["posterior_mean"], 1 / 251)
    empty = pd.DataFrame(columns=["strategy", "context", "weighted_send_count",
                                  "weighted_clicked_send_count"])
    assert np.allclose(bandit.posterior(empty, ["Ford"], config)[0], config.prior()[0])


def test_evidence_moves_its_own_context_only() -> None:
    config = settings.load_bandit()
    evidence = pd.DataFrame({
        "strategy": ["high_ticket", "vehicle_affinity", "unknown_strategy"],
        "context": ["Ford", "Ford", "Ford"],
        "weighted_send_count": [20_000.0, 20_000.0, 5.0],
        "weighted_clicked_send_count": [400.0, 40.0, 5.0],
    })
    table = policy_table(evidence, ["Ford", "Chevrolet"], "CMP-1", config)
    ford = table[table["context"] == "Ford"].set_index("strategy")["strategy_propensity"]
    chevy = table[table["context"] == "Chevrolet"].set_index("strategy")["strategy_propensity"]
    assert ford["high_ticket"] > 0.9
    assert ford["vehicle_affinity"] == pytest.approx(config.min_propensity)
    assert np.allclose(chevy, 1 / len(STRATS), atol=0.03)


def test_decisions_are_reproducible_and_independent_of_the_customer_order() -> None:
    config = settings.load_bandit()
    customers = [f"c{i}" for i in range(500)]
    contexts = ["Ford" if i % 3 else "none" for i in range(500)]
    first = bandit.decide(customers, contexts, "CMP-1", config).to_pandas()
    again = bandit.decide(customers, contexts, "CMP-1", config).to_pandas()
    pd.testing.assert_frame_equal(first, again)
    shuffled = np.random.default_rng(3).permutation(500)
    other = bandit.decide([customers[i] for i in shuffled], [contexts[i] for i in shuffled],
                          "CMP-1", config).to_pandas().set_index("customer_id")
    pd.testing.assert_frame_equal(first.set_index("customer_id"), other.loc[customers])
    new_campaign = bandit.decide(customers, contexts, "CMP-2", config).to_pandas()
    assert (new_campaign["strategy"] != first["strategy"]).mean() > 0.3
    new_seed = bandit.decide(customers, contexts, "CMP-1",
                             settings.load_bandit(seed=config.seed + 1)).to_pandas()
    assert (new_seed["strategy"] != first["strategy"]).mean() > 0.3
    assert set(first["strategy"]) == set(STRATS)
    assert ((first["strategy_propensity"] > 0) & (first["strategy_propensity"] <= 1)).all()


def test_contexts_are_the_make_of_the_best_candidate_or_none() -> None:
    table = candidates_table(customers=3)
    config = settings.load_bandit()
    ids = pa.array(["c2", "c0", "c1", "missing"])
    assert bandit.customer_contexts(table, ids, config).to_pylist() == [
        "Chevrolet", "none", "Ford", "none"]


# ---------------------------------------------------------------------------------------------
# the arm and the assignment log


def test_bandit_arm_reranks_its_customers_and_keeps_its_decisions() -> None:
    table = candidates_table(customers=5)
    assert bandit_arm.BanditArm.name == "bandit"  # the registry (treatments.py) lists the arm
    arm = get_arm("bandit")
    context = ArmContext(campaign_id="CMP-1", as_of=date(2024, 7, 1), candidates=table)
    ranked = arm.candidates(context, pa.array(["c1", "c2", "c3"]))
    assert ranked.schema == ARM_SCHEMA
    assert set(ranked["customer_id"].to_pylist()) == {"c1", "c2", "c3"}
    decisions = arm.decisions  # type: ignore[attr-defined]
    assert decisions.num_rows == 3
    assert set(decisions["context"].to_pylist()) <= {"Ford", "Chevrolet"}


def test_assignment_log_round_trip(tmp_path: Path) -> None:
    from vehicle_recs.bandit_arm import assignment_log_rows

    assignments = pa.table({
        "customer_id": ["c0", "c1", "c2", "c3"],
        "campaign_id": ["K"] * 4,
        "treatment": ["bandit", "personalized", "control", "random"],
        "propensity": [0.25, 0.5, 0.1, 0.15],
    })
    decisions = pa.table({"customer_id": ["c0"], "context": ["none"],
                          "strategy": ["high_ticket"], "strategy_propensity": [0.4]},
                         schema=bandit.DECISION_SCHEMA)
    rows = assignment_log_rows(assignments, candidates_table(customers=4), decisions,
                               assigned_at=datetime(2024, 7, 1, tzinfo=UTC))
    assert not bandit.has_assignment_log(tmp_path / "log")
    path = bandit.write_assignment_log(rows, tmp_path / "log", "K")
    assert bandit.has_assignment_log(tmp_path / "log")
    back = pq.read_table(path).to_pandas().set_index("customer_id")
    assert pq.read_schema(path).names == bandit.ASSIGNMENT_LOG_SCHEMA.names
    assert back.loc["c0", "strategy"] == "high_ticket"
    assert back.loc["c0", "propensity"] == pytest.approx(0.1)
    assert back.loc["c1", "strategy"] == "vehicle_affinity"
    assert back.loc["c1", "strategy_propensity"] == 1.0
    assert back.loc["c3", "strategy"] == "random_eligible"
    assert pd.isna(back.loc["c2", "strategy"]) and pd.isna(back.loc["c2", "strategy_propensity"])
    assert back.loc["c2", "propensity"] == pytest.approx(0.1)
    assert back["context"].tolist() == ["none", "Ford", "Chevrolet", "Ford"]
    assert [p.name for p in (tmp_path / "log").iterdir()] == ["K.parquet"]  # no temp left


def test_off_policy_estimates_by_hand() -> None:
    estimates = off_policy_estimates(
        ["high_ticket", "high_ticket", "catalog_popular", "vehicle_affinity"],
        [0.5, 0.5, 0.25, 0.25], [1, 0, 1, 0], STRATS).set_index("strategy")
    assert estimates.loc["high_ticket", "ips_ctr"] == pytest.approx(0.5)
    assert estimates.loc["high_ticket", "snips_ctr"] == pytest.approx(0.5)
    assert estimates.loc["high_ticket", "ips_ctr_upper"] == pytest.approx(0.5 + 1.959964 * 0.5)
    assert estimates.loc["catalog_popular", "ips_ctr"] == pytest.approx(1.0)
    assert estimates.loc["vehicle_affinity", "ips_ctr"] == 0.0
    assert estimates.loc["category_diverse", "strategy_send_count"] == 0
    assert np.isnan(estimates.loc["category_diverse", "snips_ctr"])


# ---------------------------------------------------------------------------------------------
# dbt: the log as a source, the evidence mart, the off-policy mart


def _query(project: DbtProject, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(project.duckdb_path), read_only=True) as con:
        return con.sql(sql).df()


@pytest.mark.slow
def test_marts_build_empty_without_a_log(xs_build: DbtProject) -> None:
    assert _query(xs_build, "select count(*) as n from fct_bandit_evidence")["n"][0] == 0
    assert _query(xs_build, "select count(*) as n from stg_bandit__assignments")["n"][0] == 0


@pytest.mark.slow
def test_marts_read_the_log_and_match_the_python_estimates(
        xs_raw: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    work = tmp_path_factory.mktemp("bandit_log")
    sends = pq.read_table(xs_raw / "email_sends.parquet").to_pandas()
    sends = sends[sends["treatment"] == "bandit"].drop_duplicates(["campaign_id", "customer_id"])
    rng = np.random.default_rng(5)
    p = np.array([0.4, 0.3, 0.2, 0.1])
    logged = STRATS[:4]  # the strategies this log holds (new_arrivals: never chosen)
    pick = rng.choice(4, size=len(sends), p=p)
    log = pa.table({
        "campaign_id": sends["campaign_id"].to_numpy(), "customer_id": sends["customer_id"],
        "arm": ["bandit"] * len(sends), "strategy": np.array(logged)[pick],
        "context": rng.choice(["Ford", "none"], size=len(sends)),
        "arm_propensity": np.full(len(sends), 0.5), "strategy_propensity": p[pick],
        "propensity": 0.5 * p[pick],
        "assigned_at": pa.array([datetime(2024, 1, 1, tzinfo=UTC)] * len(sends),
                                pa.timestamp("us", tz="UTC")),
    }, schema=bandit.ASSIGNMENT_LOG_SCHEMA)
    for campaign in sorted(set(sends["campaign_id"])):
        bandit.write_assignment_log(log.filter(pc.equal(log["campaign_id"], campaign)),
                                    work / "log", campaign)
    project = DbtProject(duckdb_path=work / "db.duckdb", target_path=work / "target",
                         dbt_vars={"raw_dir": str(xs_raw), "assignment_log_dir": str(work / "log"),
                                   "bandit_half_life_days": 1_000_000})
    project.invoke(["build", "--select", "+fct_bandit_evidence", "+rpt_bandit_strategy_off_policy",
                    "--indirect-selection", "buildable"])

    evidence = _query(project, "select * from fct_bandit_evidence")
    joined = _query(project, "select * from int_email_sends_joined_to_strategy")
    assert evidence["send_count"].sum() == len(joined[joined["is_in_window"]]) > 0
    assert set(evidence["strategy"]) == set(logged)
    # a near-infinite half-life: weights ~1
    assert np.allclose(evidence["weighted_send_count"], evidence["send_count"], rtol=1e-3)

    sql_ope = _query(project, "select * from rpt_bandit_strategy_off_policy")
    campaign = sql_ope.groupby("campaign_id")["logged_send_count"].max().idxmax()
    mine = joined[joined["campaign_id"] == campaign]
    python_ope = off_policy_estimates(mine["strategy"], mine["strategy_propensity"],
                                      mine["has_click"].astype(float), STRATS)
    merged = python_ope.merge(sql_ope[sql_ope["campaign_id"] == campaign], on="strategy",
                              suffixes=("_py", "_sql"))
    assert len(merged) >= 1
    for column in ("ips_ctr", "snips_ctr", "ips_ctr_upper", "snips_ctr_upper"):
        assert np.allclose(merged[f"{column}_py"], merged[f"{column}_sql"], equal_nan=True)


def test_final_model_rows_are_freed_before_arms_that_do_not_read_them() -> None:
    """The largest arm reading the final model picks last among readers, then the rows are
    freed: an arm flagged reads_final_model = False sees none (memory at the retailer's scale)."""
    from typing import ClassVar

    from vehicle_recs import treatments
    from vehicle_recs.runner import make_payloads
    from vehicle_recs.settings import load_selection
    from vehicle_recs.treatments import ArmWeights, register_arm

    seen: dict[str, int] = {}

    @register_arm
    class LateArm:
        name: ClassVar[str] = "late_test"
        sends_email: ClassVar[bool] = True
        reads_final_model: ClassVar[bool] = False

        def candidates(self, context: ArmContext, customer_ids: pa.Array) -> pa.Table:
            seen["rows"] = context.candidates.num_rows
            return get_arm("personalized").candidates(context, customer_ids)

    try:
        table = candidates_table(customers=40)
        context = ArmContext(campaign_id="c", as_of=date(2024, 3, 1), candidates=table)
        weights = ArmWeights.from_mapping({"personalized": 1, "late_test": 1}, "s")
        result = make_payloads(context, model_version="t", rules=load_selection(), weights=weights)
        assert seen == {"rows": 0}
        assert set(result.payloads["treatment"].to_pylist()) == {"personalized"}
        assert context.candidates.num_rows == 0
    finally:
        treatments._REGISTRY.pop("late_test")


def _payload_run(tmp_path: Path) -> Any:
    from vehicle_recs.runner import make_payloads
    from vehicle_recs.settings import load_selection
    from vehicle_recs.treatments import ArmWeights

    context = ArmContext(campaign_id="c", as_of=date(2024, 3, 1),
                         candidates=candidates_table(customers=20))
    weights = ArmWeights.from_mapping({"personalized": 1}, "s")
    return make_payloads(context, model_version="t", rules=load_selection(), weights=weights)


def test_outputs_are_one_set_and_stale_staging_is_cleaned(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure between the renames leaves no summary.json (an unfinished run shows as one);
    a staging folder left by a killed run is removed by the next run."""
    import os

    from vehicle_recs import runner

    out = tmp_path / "out"
    runner.write_outputs(_payload_run(tmp_path), out)
    assert (out / "summary.json").exists()
    stale = tmp_path / ".out.staging-killed"
    stale.mkdir()
    (stale / "payloads.jsonl").write_text("half")
    real_replace = os.replace
    moved: list[str] = []

    def fail_after_two(src: Any, dst: Any) -> None:
        if Path(dst).parent == out:  # a publishing rename (not an atomic write in staging)
            if len(moved) == 2:
                raise OSError("killed between renames")
            moved.append(str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(runner.os, "replace", fail_after_two)
    with pytest.raises(OSError, match="killed between renames"):
        runner.write_outputs(_payload_run(tmp_path), out)
    assert len(moved) == 2
    assert not (out / "summary.json").exists()  # the set is visibly unfinished
    assert not stale.exists()
    assert not [p for p in tmp_path.iterdir() if ".staging-" in p.name]
