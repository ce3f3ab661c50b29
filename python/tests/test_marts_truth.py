"""The reporting marts recover the truth the synthetic generator planted (xs data, seed 7).

Tolerances, stated once:
- CTR per send of each arm, all campaigns pooled: the generator's rate (synth TRUE_CTR) lies
  inside the mart's 95% Wilson interval. A true 95% interval misses 1 time in 20; the data set
  is fixed (seed 7), so this is deterministic, and a miss after a change is worth a look.
- Apparel share of orders within 1 percentage point of APPAREL_ORDER_SHARE (4%; ~5,500 orders at
  xs give a binomial standard error of ~0.27 points, so the band is ~4 standard errors).
- Hard parts' share of revenue within 1.5 points of HARD_PARTS_REVENUE_SHARE (98%).
- The top price tier's ($500 and up) share of hard-parts revenue within 10 points of
  OVER_500_PARTS_REVENUE_SHARE (60%): revenue shares are dominated by a few hundred expensive
  lines at xs (measured 65% at xs, see the report of issue 5 for s).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from vehicle_recs import report
from vehicle_recs.project import DbtProject
from vehicle_recs.synth import _config as truth

pytestmark = pytest.mark.slow


Query = Callable[[DbtProject, str], list[tuple[Any, ...]]]


@pytest.mark.parametrize("arm", sorted(truth.TRUE_CTR))
def test_ctr_per_arm_within_its_interval_of_the_truth(
    xs_build: DbtProject, arm: str, query: Query
) -> None:
    ((clicked, sends),) = query(xs_build, f"""
        select sum(clicked_send_count), sum(send_count)
        from rpt_experiment_readout where treatment = '{arm}'""")
    assert sends > 5_000, "xs should mail thousands of customers per arm"
    low, high = report.wilson_interval(clicked, sends)
    assert low <= truth.TRUE_CTR[arm] <= high, (
        f"{arm}: CTR {clicked / sends:.4%} [{low:.4%}, {high:.4%}] "
        f"misses the generator's {truth.TRUE_CTR[arm]:.2%}")


def test_per_campaign_intervals_cover_the_truth_about_95_percent(
    xs_build: DbtProject, query: Query
) -> None:
    rows = query(xs_build, "select treatment, ctr_lower, ctr_upper from rpt_experiment_readout")
    covered = [low <= truth.TRUE_CTR[arm] <= high for arm, low, high in rows]
    assert len(covered) >= 40
    # Wilson intervals are conservative-ish for rare events; far below 90% means a bug.
    assert sum(covered) / len(covered) >= 0.85


def test_snips_equals_ctr_when_propensities_are_constant(
    xs_build: DbtProject, query: Query
) -> None:
    """Within a campaign each arm logs one propensity, so SNIPS reduces to the arm's CTR."""
    rows = query(xs_build, """
        select ctr, snips_ctr, ips_ctr from rpt_experiment_readout where snips_ctr is not null""")
    assert rows, "the generator logs propensities for two thirds of the campaigns"
    for ctr, snips, ips in rows:
        assert snips == pytest.approx(ctr, abs=1e-9)
        assert ips >= 0


def test_apparel_share_of_orders_near_four_percent(xs_build: DbtProject, query: Query) -> None:
    ((share,),) = query(xs_build, """
        select sum(apparel_order_count) * 1.0 / sum(order_count) from rpt_apparel_trend""")
    assert share == pytest.approx(truth.APPAREL_ORDER_SHARE, abs=0.01)


def test_hard_parts_share_of_revenue(xs_build: DbtProject, query: Query) -> None:
    ((share,),) = query(xs_build, """
        select sum(case when department = 'hard_parts' then revenue_usd else 0 end)
            / sum(revenue_usd)
        from rpt_revenue_by_month_department""")
    assert float(share) == pytest.approx(truth.HARD_PARTS_REVENUE_SHARE, abs=0.015)


def test_expensive_parts_share_of_parts_revenue(xs_build: DbtProject, query: Query) -> None:
    ((share,),) = query(xs_build, """
        select sum(case when tiers.min_price_usd >= 500 then marts.hard_parts_revenue_usd
                   else 0 end) / sum(marts.hard_parts_revenue_usd)
        from rpt_revenue_by_month_price_tier as marts
        inner join price_tiers as tiers on marts.price_tier = tiers.price_tier""")
    assert float(share) == pytest.approx(truth.OVER_500_PARTS_REVENUE_SHARE, abs=0.10)


def test_revenue_marts_agree_with_each_other(xs_build: DbtProject, query: Query) -> None:
    ((by_department, by_tier, by_month),) = query(xs_build, """
        select
            (select sum(revenue_usd) from rpt_revenue_by_month_department),
            (select sum(revenue_usd) from rpt_revenue_by_month_price_tier),
            (select sum(revenue_usd) from rpt_apparel_trend)""")
    assert by_department == by_tier == by_month
