"""Python references for the bandit, for the tests (not part of the installed package).

- `policy_table`: P(strategy | context) of every context and strategy, computed with the
  bandit's own posterior and Thompson propensities (`vehicle_recs.bandit`), so a test can look
  at the whole policy instead of one customer's draw.
- `off_policy_estimates`: IPS and SNIPS of each strategy's CTR per send over logged bandit sends,
  with normal-approximation intervals: the arithmetic of the dbt mart
  `rpt_bandit_strategy_off_policy`, written again in numpy so the tests can compare the two and
  check the estimates against a simulation's known truth.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from vehicle_recs.bandit import campaign_rng, posterior, thompson_propensities
from vehicle_recs.settings import BanditConfig


def policy_table(evidence: pd.DataFrame | None, contexts: Sequence[str], campaign_id: str,
                 config: BanditConfig) -> pd.DataFrame:
    """P(strategy | context) for every context and strategy (one row each), with the posterior
    mean CTR: the probabilities `bandit.decide` draws each customer's strategy from."""
    names = sorted(set(contexts))
    alpha, beta = posterior(evidence, names, config)
    propensities = thompson_propensities(alpha, beta, config.propensity_draws,
                                         campaign_rng(campaign_id, config.seed),
                                         config.min_propensity)
    return pd.DataFrame({
        "context": np.repeat(names, len(config.strategies)),
        "strategy": np.tile(config.strategies, len(names)),
        "posterior_mean": (alpha / (alpha + beta)).ravel(),
        "strategy_propensity": propensities.ravel(),
    })


def off_policy_estimates(logged_strategy: Sequence[str] | np.ndarray,
                         propensity: Sequence[float] | np.ndarray,
                         reward: Sequence[float] | np.ndarray,
                         strategies: Sequence[str], z: float = 1.959964) -> pd.DataFrame:
    """IPS and self-normalized IPS of each strategy's CTR per send, with normal intervals.

    n logged sends with strategy a_i, logged P(a_i | context) p_i and reward r_i (0/1). For a
    strategy s, z_i = [a_i = s] r_i / p_i: IPS = mean(z), standard error sd(z) / sqrt(n);
    SNIPS = sum([a_i = s] r_i / p_i) / sum([a_i = s] / p_i), standard error by the delta method
    sqrt(sum w_i^2 (r_i - SNIPS)^2) / sum w_i over the strategy's sends (w_i = 1 / p_i).
    """
    chosen = np.asarray(logged_strategy, dtype=object)
    p = np.asarray(propensity, dtype=np.float64)
    r = np.asarray(reward, dtype=np.float64)
    n = len(chosen)
    rows = []
    for name in strategies:
        mine = chosen == name
        weight = np.where(mine, 1.0 / p, 0.0)
        z_values = weight * r
        ips = z_values.sum() / n if n else np.nan
        ips_se = z_values.std(ddof=1) / np.sqrt(n) if n > 1 else np.nan
        total = weight.sum()
        snips = (z_values.sum() / total) if total > 0 else np.nan
        snips_se = (np.sqrt(np.sum(weight**2 * (r - snips) ** 2)) / total) if total > 0 \
            else np.nan
        rows.append({
            "strategy": name,
            "logged_send_count": n,
            "strategy_send_count": int(mine.sum()),
            "clicked_send_count": int((mine & (r > 0)).sum()),
            "ips_ctr": ips,
            "ips_ctr_lower": max(0.0, ips - z * ips_se) if n > 1 else np.nan,
            "ips_ctr_upper": ips + z * ips_se if n > 1 else np.nan,
            "snips_ctr": snips,
            "snips_ctr_lower": max(0.0, snips - z * snips_se) if total > 0 else np.nan,
            "snips_ctr_upper": min(1.0, snips + z * snips_se) if total > 0 else np.nan,
        })
    return pd.DataFrame(rows)
