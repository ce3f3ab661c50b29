"""The match-rate backtest: the metrics models' arithmetic on a hand-made warehouse (tables named
as the models the metrics read, then `dbt run` of the backtest's own models only), and a run on xs
data."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner

from vehicle_recs import backtest
from vehicle_recs.backtest import (
    ENGINE,
    PROBABILITY_STRATEGIES,
    STRATEGIES,
    BacktestResult,
    compute_calibration,
    compute_metrics,
)
from vehicle_recs.cli import cli
from vehicle_recs.errors import VehicleRecsError
from vehicle_recs.project import DbtProject

AS_OF = date(2024, 6, 1)


def _heuristic_rows() -> str:
    """The heuristic's candidates: c1's re-buy s1 (0.5) and 20 new items scored 0.01 .. 0.20,
    odd hundredths for c1 and even for c2; the two best are what they buy (c1 s9 at 0.19, c2
    s2 at 0.20), the rest n1 .. n18 nobody buys. c3 (outside the population) gets s1 at 0.9."""
    rows = [("c1", "s1", 0.5), ("c3", "s1", 0.9)]
    rows += [("c1" if i % 2 else "c2", {19: "s9", 20: "s2"}.get(i, f"n{i}"), i / 100)
             for i in range(1, 21)]
    ranked = []
    for customer in ("c1", "c2", "c3"):
        mine = sorted((row for row in rows if row[0] == customer), key=lambda row: -row[2])
        ranked += [(customer, rank, sku, score)
                   for rank, (_, sku, score) in enumerate(mine, start=1)]
    return ",\n".join(f"('heuristic', '{customer}', {rank}, '{sku}', {score})"
                       for customer, rank, sku, score in ranked)


def _tiny_warehouse(path: Path) -> None:
    """Cut-off AS_OF; two opted-in vehicle owners (c1, c2), one customer without a vehicle (c3).

    c1 buys s1 (rank 1 for the engine) and s9 (recommended by nobody but the heuristic) in the
    horizon; c2 buys s2 (rank 2 for the engine, rank 1 for popular_fitting and the heuristic);
    c3 buys s1 but is outside the population; a purchase before as_of and a cancelled order
    never count. c1 bought s1 before as_of too, so c1's s1 line is a re-buy line and s1 a
    re-buy candidate for c1; the other two lines are new-item lines.
    """
    with duckdb.connect(str(path)) as con:
        con.execute(f"""
            create table int_as_of_date as select date '{AS_OF.isoformat()}' as as_of_date;
            create table int_customer_vehicles_owned as
            select * from (values ('c1', 'v1'), ('c2', 'v2')) as t(customer_id, vehicle_id);
            create table int_customers_filtered_to_as_of as
            select * from (values ('c1', true, false), ('c2', true, false), ('c3', true, false))
                as t(customer_id, is_email_opt_in, is_dirty);
            create table fct_recommendation_candidates as
            select * from (values
                ('c1', 1, 's1', 0.6), ('c1', 2, 's3', 0.2),
                ('c2', 1, 's4', 0.5), ('c2', 2, 's2', 0.3),
                ('c3', 1, 's1', 0.7)
            ) as t(customer_id, candidate_rank, sku, score);
            create table fct_baseline_candidates as
            select * from (values
                ('popular_fitting', 'c1', 1, 's3', 30.0),
                ('popular_fitting', 'c2', 1, 's2', 20.0),
                ('vehicle_raw_counts', 'c1', 1, 's5', 3.0),
                ('random_eligible', 'c1', 1, 's6', 0.25),
                {_heuristic_rows()}
            ) as t(strategy, customer_id, candidate_rank, sku, score);
            create table stg_shop__orders as
            select * from (values
                ('o1', 'c1', 'completed', timestamp '2024-06-02 10:00:00', false),
                ('o2', 'c2', 'completed', timestamp '2024-06-03 10:00:00', false),
                ('o3', 'c3', 'completed', timestamp '2024-06-03 10:00:00', false),
                ('o4', 'c1', 'completed', timestamp '2024-05-30 10:00:00', false),
                ('o5', 'c2', 'cancelled', timestamp '2024-06-04 10:00:00', false)
            ) as t(order_id, customer_id, order_status, ordered_at, is_dirty);
            create table stg_shop__order_lines as
            select * from (values
                ('o1', 1, 's1', 1, 100.0, false),
                ('o1', 2, 's9', 1, 300.0, false),
                ('o2', 1, 's2', 2, 50.0, false),
                ('o3', 1, 's1', 1, 100.0, false),
                ('o4', 1, 's1', 1, 100.0, false),
                ('o5', 1, 's4', 1, 100.0, false)
            ) as t(order_id, line_number, sku, quantity, unit_price_usd, is_dirty);
            create table stg_shop__products as
            select 's' || i as sku, false as is_dirty, true as is_active,
                'hard_parts' as department
            from range(1, 11) as r(i);
            create table dim_products as
            select sku, is_active, department from stg_shop__products;
        """)


# The backtest's own models, run on the hand-made tables of their parents.
BACKTEST_MODELS = ("int_customers_filtered_to_opted_in_owners",
                   "int_customer_products_bought_before_backtest",
                   "int_order_lines_filtered_to_backtest_horizon",
                   "int_customer_products_recommended_for_backtest",
                   backtest.METRICS_MODEL, backtest.CALIBRATION_MODEL)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    """The metrics models built on the hand-made warehouse, horizon 30 days, K = 2."""
    work = tmp_path_factory.mktemp("backtest_tiny")
    _tiny_warehouse(work / "tiny.duckdb")
    project = DbtProject(duckdb_path=work / "tiny.duckdb", target_path=work / "target",
                         dbt_vars={"as_of": AS_OF.isoformat(), "backtest_horizon_days": 30,
                                   "backtest_k": 2})
    project.invoke(["run", "--quiet", "--select", *BACKTEST_MODELS])
    return project


def test_metrics_by_hand(tiny: DbtProject) -> None:
    frame, population = compute_metrics(tiny)
    rows = frame.set_index("strategy")
    assert list(frame["strategy"]) == list(STRATEGIES)
    assert population == {"population_customers": 2, "buyers_in_horizon": 2,
                          "purchase_lines_in_horizon": 3}

    engine = rows.loc[ENGINE]
    # lines: c1 s1 (hit), c1 s9 (miss), c2 s2 (hit) -> 2 / 3; revenue (100 + 100) / 500
    assert engine["match_rate"] == pytest.approx(2 / 3)
    assert engine["revenue_match_rate"] == pytest.approx(200 / 500)
    assert engine["customer_hit_rate"] == pytest.approx(1.0)
    assert engine["precision_at_k"] == pytest.approx((1 / 2 + 1 / 2) / 2)
    assert engine["recall_at_k"] == pytest.approx((1 / 2 + 1 / 1) / 2)
    # c1: hit at rank 1 of 2 purchased (idcg = 1 + 1/log2 3); c2: hit at rank 2 of 1 purchased
    ndcg_c1 = 1 / (1 + 1 / math.log2(3))
    ndcg_c2 = (1 / math.log2(3)) / 1
    assert engine["ndcg_at_k"] == pytest.approx((ndcg_c1 + ndcg_c2) / 2)
    assert engine["catalog_coverage"] == pytest.approx(4 / 10)

    popular = rows.loc["popular_fitting"]
    assert popular["match_rate"] == pytest.approx(1 / 3)
    assert popular["revenue_match_rate"] == pytest.approx(100 / 500)
    assert engine["match_rate_vs_popular_fitting"] == pytest.approx(2.0)
    assert rows.loc["vehicle_raw_counts", "match_rate"] == 0
    assert math.isnan(float(engine["match_rate_vs_vehicle_raw_counts"]))

    # the split: c1's s1 line is a re-buy line (c1 bought s1 before as_of), c1's s9 and c2's s2
    # lines are new-item lines
    split = ["rebuy_lines", "rebuy_matched_lines", "new_item_lines", "new_item_matched_lines"]
    assert rows.loc[ENGINE, split].tolist() == [1, 1, 2, 1]
    assert rows.loc["popular_fitting", split].tolist() == [1, 0, 2, 1]
    assert rows.loc["heuristic", split].tolist() == [1, 1, 2, 2]
    assert rows.loc["random_eligible", split].tolist() == [1, 0, 2, 0]
    assert engine["rebuy_match_rate"] == pytest.approx(1.0)
    assert engine["new_item_match_rate"] == pytest.approx(1 / 2)
    assert rows.loc["popular_fitting", "rebuy_match_rate"] == 0
    # the heuristic's top 2: c1 s1 and s9 (both bought), c2 s2 (bought) and n18
    heuristic = rows.loc["heuristic"]
    assert heuristic["match_rate"] == pytest.approx(1.0)
    assert heuristic["new_item_match_rate"] == pytest.approx(1.0)
    assert heuristic["precision_at_k"] == pytest.approx((2 / 2 + 1 / 2) / 2)
    assert engine["match_rate_vs_heuristic"] == pytest.approx(2 / 3)


def test_calibration_by_hand(tiny: DbtProject) -> None:
    """Every candidate of the population (not only the top K), by decile of the score within
    (strategy, re-buy or new item); c3 is outside the population and never counts."""
    frame = compute_calibration(tiny)
    assert list(dict.fromkeys(frame["strategy"])) == list(PROBABILITY_STRATEGIES)
    cells = {(row["strategy"], row["candidate_type"],
              None if pd.isna(row["decile"]) else int(row["decile"])):
             (row["candidates"], row["mean_predicted"], row["observed_share"])
             for row in frame.to_dict(orient="records")}

    def check(key: tuple[str, str, int | None], count: int, predicted: float,
              observed: float) -> None:
        assert cells.pop(key) == (count, pytest.approx(predicted), pytest.approx(observed))

    # heuristic: the re-buy s1 of c1 (0.5, bought); 20 new items, two per decile: decile d
    # holds scores (2d - 1) / 100 and 2d / 100; only decile 10's (s9, s2) were bought
    check(("heuristic", "rebuy", 1), 1, 0.5, 1.0)
    check(("heuristic", "rebuy", None), 1, 0.5, 1.0)
    for decile in range(1, 11):
        check(("heuristic", "new_item", decile), 2, (4 * decile - 1) / 200,
              1.0 if decile == 10 else 0.0)
    check(("heuristic", "new_item", None), 20, 0.105, 0.1)
    # the engine: re-buy s1 of c1 (0.6, bought); new items s3 (0.2), s2 (0.3, bought) and s4
    # (0.5; c2's order of it was cancelled), one per decile
    check((ENGINE, "rebuy", 1), 1, 0.6, 1.0)
    check((ENGINE, "rebuy", None), 1, 0.6, 1.0)
    check((ENGINE, "new_item", 1), 1, 0.2, 0.0)
    check((ENGINE, "new_item", 2), 1, 0.3, 1.0)
    check((ENGINE, "new_item", 3), 1, 0.5, 0.0)
    check((ENGINE, "new_item", None), 3, 1.0 / 3, 1 / 3)
    assert not cells, cells


def test_write_result_formats(tiny: DbtProject, tmp_path: Path) -> None:
    frame, population = compute_metrics(tiny)
    calibration = compute_calibration(tiny)
    result = BacktestResult(frame, AS_OF, 30, 2, tmp_path, {"lift_weight": 0.5}, population,
                            calibration)
    csv = backtest.write_result(result, tmp_path / "out" / "bt.csv")
    assert len(pd.read_csv(csv)) == len(STRATEGIES)
    payload = json.loads(backtest.write_result(result, tmp_path / "bt.json").read_text())
    assert payload["as_of"] == "2024-06-01" and payload["dbt_vars"] == {"lift_weight": 0.5}
    assert {"strategy": "heuristic", "candidate_type": "rebuy", "decile": None, "candidates": 1,
            "mean_predicted": 0.5, "observed_share": 1.0} in payload["calibration"]
    assert len(payload["calibration"]) == len(calibration) == 2 * (1 + 1) + (10 + 1) + (3 + 1)
    parquet = backtest.write_result(result, tmp_path / "bt.parquet")
    assert len(pd.read_parquet(parquet)) == len(STRATEGIES)
    with pytest.raises(VehicleRecsError, match="must end in"):
        backtest.write_result(result, tmp_path / "bt.txt")
    table = backtest.markdown_table(result)
    assert "| rebuy_lines | 1 | 1 | 1 | 1 | 1 |" in table
    assert "| new_item_matched_lines | 1 | 0 | 2 | 1 | 0 |" in table
    calibration_lines = backtest.markdown_calibration(result).splitlines()
    assert calibration_lines[0] == ("| decile | heuristic rebuy | heuristic new-item | "
                                    "vehicle_aware rebuy | vehicle_aware new-item |")
    assert "| 10 | - | 0.1950 / 1.0000 (2) | - | - |" in calibration_lines


def _last_order_date(raw_dir: Path) -> date:
    row = duckdb.connect().execute(
        f"select max(ordered_at) from '{raw_dir}/orders.parquet' "
        "where ordered_at < now() and status = 'completed'"
    ).fetchone()
    assert row is not None
    return row[0].date()


@pytest.fixture(scope="module")
def xs_backtest(xs_raw: Path, tmp_path_factory: pytest.TempPathFactory) -> BacktestResult:
    as_of = _last_order_date(xs_raw) - timedelta(days=60)
    work = tmp_path_factory.mktemp("backtest_xs")
    return backtest.run_backtest(xs_raw, as_of, horizon_days=60, k=6, work_dir=work,
                                 objectives=("match", "blend"))


@pytest.mark.slow
def test_backtest_on_xs(xs_backtest: BacktestResult) -> None:
    rows = xs_backtest.metrics.set_index("strategy")
    variants = {backtest.objective_strategy("match"), backtest.objective_strategy("blend")}
    assert set(rows.index) == set(STRATEGIES) | variants
    assert xs_backtest.population["purchase_lines_in_horizon"] > 0
    for metric in backtest.METRICS:
        assert rows[metric].between(0, 1).all(), metric
    # the engine beats random eligible products by a wide margin, on any data
    match = rows["match_rate"].astype(float)
    assert match[ENGINE] > 2 * match["random_eligible"]
    assert match[ENGINE] > match["popular_fitting"]
    assert match["heuristic"] > 2 * match["random_eligible"]
    # the split partitions the lines and the matches
    assert (rows["rebuy_lines"] + rows["new_item_lines"] == rows["purchase_lines"]).all()
    assert (rows["rebuy_matched_lines"] + rows["new_item_matched_lines"]
            == rows["matched_lines"]).all()
    calibration = xs_backtest.calibration
    heuristic = calibration[calibration["strategy"] == "heuristic"]
    assert set(heuristic["candidate_type"]) == {"rebuy", "new_item"}
    assert heuristic["mean_predicted"].between(0, 1).all()
    assert heuristic["observed_share"].between(0, 1).all()


@pytest.mark.slow
def test_backtest_objectives_rerank_the_engine(xs_backtest: BacktestResult, xs_raw: Path) -> None:
    """Each objective re-runs the engine's ranking on the same build: the default objective
    (blend) reproduces the engine's row, match ranks by probability alone (another top K), and
    the table gets a column per objective. An unknown objective stops before any build."""
    rows = xs_backtest.metrics.set_index("strategy")
    compared = ["match_rate", "revenue_match_rate", "matched_lines", "catalog_coverage"]
    default = rows.loc[ENGINE, compared].astype(float)
    blend = rows.loc[backtest.objective_strategy("blend"), compared].astype(float)
    assert (default == blend).all()
    match = rows.loc[backtest.objective_strategy("match"), compared].astype(float)
    assert not (default == match).all()
    assert "objective match" in backtest.markdown_table(xs_backtest)
    with pytest.raises(VehicleRecsError, match="unknown objective bogus"):
        backtest.run_backtest(xs_raw, date(2026, 1, 1), objectives=("bogus",))


@pytest.mark.slow
def test_backtest_cli(xs_backtest: BacktestResult, xs_raw: Path, tmp_path: Path,
                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The command parses options, passes --var overrides and writes --out (build mocked)."""
    seen: dict[str, object] = {}

    def fake_run(raw_dir: Path, as_of: date, horizon: int, k: int, **kwargs: object
                 ) -> BacktestResult:
        seen.update(kwargs, as_of=as_of, horizon=horizon, k=k)
        return xs_backtest

    monkeypatch.setattr(backtest, "run_backtest", fake_run)
    out = tmp_path / "bt.csv"
    result = CliRunner().invoke(cli, [
        "backtest", "--raw", str(xs_raw), "--as-of", "2026-01-01", "--horizon", "30",
        "--k", "4", "--out", str(out), "--var", "lift_weight=0.25",
        "--objectives", "match, revenue",
    ])
    assert result.exit_code == 0, result.output
    assert seen["as_of"] == date(2026, 1, 1) and seen["horizon"] == 30 and seen["k"] == 4
    assert seen["dbt_vars"] == {"lift_weight": 0.25}
    assert seen["objectives"] == ["match", "revenue"]
    assert out.is_file()
