"""The bandit arm's brain: Thompson sampling over recommendation strategies, per context.

Design (issue 6; settings in `config/bandit.json`, read and checked by settings.py):

- **Strategies** are the re-rankings registered in `strategies.py`; the config names the ones the
  bandit may choose.
- **Context** of a customer: the make of the vehicle behind the customer's best candidate
  (`vehicle_make` of candidate_rank 1 in the final model); customers without a vehicle (the
  flagged fallback) share the context `none`. Makes are few and stable, every customer has
  exactly one, and parts preferences differ by make (a Mustang owner is not a Camaro owner).
- **Evidence** per strategy x context comes from the dbt mart `fct_bandit_evidence`: sends and
  sends with a click, each send weighted by 0.5 ** (age in days / var `bandit_half_life_days`),
  within var `bandit_evidence_window_days`. Sends without a logged strategy (history older than
  the assignment log, or a fresh install with no log) are not evidence: a strategy x context
  without evidence samples from its **prior** Beta(prior_alpha, prior_beta).
- **Posterior** of a strategy's CTR per send in a context: Beta(prior_alpha + weighted clicks,
  prior_beta + weighted sends - weighted clicks).
- **Choice.** Thompson sampling sends strategy s to a customer with probability
  P(s has the highest posterior draw | context). That probability is estimated per context by
  Monte Carlo (`propensity_draws` joint draws of every strategy's posterior, all contexts in one
  numpy call), mixed with a small exploration floor (p = floor + (1 - S * floor) * p_TS, so
  every strategy keeps at least `min_propensity` and off-policy weights stay bounded), and each
  customer's strategy is then drawn from exactly those probabilities with a uniform number
  hashed from (salt, seed, campaign, customer). So the logged `strategy_propensity` is the exact
  probability with which the strategy was drawn (IPS stays unbiased), the choice of a customer
  does not depend on who else is in the campaign, and the same campaign id and seed reproduce
  every choice.
- **Propensities recorded.** A bandit payload keeps the arm's assignment probability in
  `propensity` (P(arm = bandit), like every arm, for the readout's per-arm off-policy estimate)
  and adds `strategy`, `context` and `strategy_propensity` = P(strategy | context, arm = bandit).
  The assignment log also stores the joint probability `propensity` = arm x strategy.
- **Off-policy evaluation** of each strategy is the dbt mart `rpt_bandit_strategy_off_policy`:
  over the logged bandit sends, IPS = mean of [strategy_i = s] * click_i / p_i and SNIPS =
  sum([s] * click / p) / sum([s] / p), with normal-approximation intervals (delta method for
  SNIPS). The tests check it against a Python reference of the same arithmetic
  (`vehicle_recs_dev.bandit_reference`, under python/dev: not part of the installed package).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vehicle_recs.settings import BanditConfig
from vehicle_recs.warehouse import ModelNotFound

EVIDENCE_MODEL = "fct_bandit_evidence"

# The product's assignment log (one Parquet file per campaign; dbt source bandit.assignment_log).
ASSIGNMENT_LOG_SCHEMA = pa.schema([
    ("campaign_id", pa.string()),
    ("customer_id", pa.string()),
    ("arm", pa.string()),
    ("strategy", pa.string()),
    ("context", pa.string()),
    ("arm_propensity", pa.float64()),
    ("strategy_propensity", pa.float64()),
    ("propensity", pa.float64()),
    ("assigned_at", pa.timestamp("us", tz="UTC")),
])

DECISION_SCHEMA = pa.schema([
    ("customer_id", pa.string()),
    ("context", pa.string()),
    ("strategy", pa.string()),
    ("strategy_propensity", pa.float64()),
])


# ---------------------------------------------------------------------------------------------
# contexts and evidence


def customer_contexts(candidates: pa.Table, customer_ids: pa.Array,
                      config: BanditConfig) -> pa.Array:
    """Context per customer (in `customer_ids` order): the context column of the best candidate."""
    best = candidates.filter(pc.equal(candidates["candidate_rank"], 1)).combine_chunks()
    position = pc.index_in(customer_ids, value_set=best["customer_id"])
    value = pc.take(pc.cast(best[config.context], pa.string()), position)
    if "is_fallback" in best.column_names:
        no_vehicle = pc.fill_null(pc.take(best["is_fallback"], position), False)
        value = pc.if_else(no_vehicle, pa.scalar(None, pa.string()), value)
    empty = pc.equal(pc.utf8_trim_whitespace(pc.fill_null(value, "")), "")
    result = pc.if_else(empty, pa.scalar(config.no_context), value)
    return result.combine_chunks() if isinstance(result, pa.ChunkedArray) else result


def posterior(evidence: pd.DataFrame | None, contexts: Sequence[str],
              config: BanditConfig) -> tuple[np.ndarray, np.ndarray]:
    """Posterior Beta parameters, shape (contexts, strategies), from weighted sends and clicks.

    `evidence` columns: strategy, context, weighted_send_count, weighted_clicked_send_count.
    Strategies or contexts without rows keep the prior; unknown strategies are ignored.
    """
    prior_alpha, prior_beta = config.prior()
    alpha = np.tile(prior_alpha, (len(contexts), 1))
    beta = np.tile(prior_beta, (len(contexts), 1))
    if evidence is None or evidence.empty:
        return alpha, beta
    context_index = {name: i for i, name in enumerate(contexts)}
    strategy_index = {name: j for j, name in enumerate(config.strategies)}
    rows = pd.DataFrame({
        "i": evidence["context"].map(context_index),
        "j": evidence["strategy"].map(strategy_index),
        "sends": pd.to_numeric(evidence["weighted_send_count"]).astype(float),
        "clicks": pd.to_numeric(evidence["weighted_clicked_send_count"]).astype(float),
    }).dropna(subset=["i", "j"])
    i = rows["i"].to_numpy(dtype=np.int64)
    j = rows["j"].to_numpy(dtype=np.int64)
    clicks = np.clip(rows["clicks"].to_numpy(), 0.0, None)
    misses = np.clip(rows["sends"].to_numpy() - clicks, 0.0, None)
    np.add.at(alpha, (i, j), clicks)
    np.add.at(beta, (i, j), misses)
    return alpha, beta


def thompson_propensities(alpha: np.ndarray, beta: np.ndarray, draws: int,
                          rng: np.random.Generator, min_propensity: float = 0.0) -> np.ndarray:
    """P(strategy has the highest posterior draw | context), shape (contexts, strategies).

    Monte Carlo with `draws` joint draws per context, all contexts at once; rows sum to 1. Ties
    (equal draws) go to the first strategy, which has probability 0 for continuous posteriors.
    """
    contexts, strategies = alpha.shape
    if contexts == 0:
        return np.zeros((0, strategies))
    samples = rng.beta(alpha[:, None, :], beta[:, None, :], size=(contexts, draws, strategies))
    best = samples.argmax(axis=2)
    counts = (best[:, :, None] == np.arange(strategies)).sum(axis=1)
    share = counts / float(draws)
    return min_propensity + (1.0 - strategies * min_propensity) * share


def campaign_rng(campaign_id: str, seed: int) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}|{campaign_id}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def customer_uniforms(customer_ids: Sequence[str], campaign_id: str,
                      config: BanditConfig) -> np.ndarray:
    """Uniform [0, 1) per customer: a pure function of (salt, seed, campaign, customer)."""
    prefix = f"{config.salt}|{config.seed}|{campaign_id}|".encode()
    sha = hashlib.sha256
    values = np.fromiter(
        (int.from_bytes(sha(prefix + cid.encode()).digest()[:8], "big") for cid in customer_ids),
        dtype=np.uint64, count=len(customer_ids))
    return values.astype(np.float64) / 2.0**64


def draw_strategies(context_index: np.ndarray, propensities: np.ndarray,
                    uniforms: np.ndarray) -> np.ndarray:
    """Strategy index per customer drawn from its context's probabilities (inverse CDF)."""
    cumulative = np.cumsum(propensities, axis=1)[context_index]
    chosen = (uniforms[:, None] >= cumulative).sum(axis=1)
    return np.minimum(chosen, propensities.shape[1] - 1)


def decide(customer_ids: Sequence[str], contexts: Sequence[str], campaign_id: str,
           config: BanditConfig, evidence: pd.DataFrame | None = None) -> pa.Table:
    """Strategy per customer with its context and P(strategy | context) (DECISION_SCHEMA)."""
    context_array = np.asarray(contexts, dtype=object)
    names, context_index = np.unique(context_array.astype(str), return_inverse=True)
    alpha, beta = posterior(evidence, list(names), config)
    propensities = thompson_propensities(alpha, beta, config.propensity_draws,
                                         campaign_rng(campaign_id, config.seed),
                                         config.min_propensity)
    chosen = draw_strategies(context_index, propensities,
                             customer_uniforms(customer_ids, campaign_id, config))
    strategy_names = np.array(config.strategies, dtype=object)
    return pa.table({
        "customer_id": pa.array(list(customer_ids), pa.string()),
        "context": pa.array(context_array, pa.string()),
        "strategy": pa.array(strategy_names[chosen], pa.string()),
        "strategy_propensity": pa.array(propensities[context_index, chosen], pa.float64()),
    }, schema=DECISION_SCHEMA)


def read_evidence(warehouse: Any) -> pd.DataFrame | None:
    """`fct_bandit_evidence` through the warehouse; None when the model is not in the project."""
    try:
        relation = warehouse.relation(EVIDENCE_MODEL)
    except ModelNotFound:
        return None
    sql = ("select strategy, context, weighted_send_count, weighted_clicked_send_count "
           f"from {relation.relation_name}")
    table: pa.Table = warehouse.engine.query(sql)
    frame: pd.DataFrame = table.to_pandas()
    return frame


# ---------------------------------------------------------------------------------------------
# the assignment log


def assignment_log_dir(project_dir: Path | None = None) -> Path:
    """Where `run` appends the assignment log: $VEHICLE_RECS_ASSIGNMENT_LOG, else
    `<project>/data/assignment_log` (git-ignored, beside the raw data)."""
    env = os.environ.get("VEHICLE_RECS_ASSIGNMENT_LOG")
    if env:
        return Path(env).resolve()
    if project_dir is None:
        from vehicle_recs.project import find_project_dir

        project_dir = find_project_dir()
    return (project_dir / "data" / "assignment_log").resolve()


def has_assignment_log(log_dir: Path) -> bool:
    """True when the folder holds a log file (then dbt reads it: var assignment_log_dir)."""
    return log_dir.is_dir() and any(log_dir.glob("*.parquet"))


def log_rows(assignments: pa.Table, decisions: pa.Table | None,
             contexts: pa.Table, assigned_at: datetime | None = None,
             arm_strategies: Mapping[str, str] | None = None) -> pa.Table:
    """Assignment log rows (ASSIGNMENT_LOG_SCHEMA) for every assigned customer.

    `assignments`: customer_id, campaign_id, treatment, propensity (treatments.assign);
    `decisions`: the bandit's DECISION_SCHEMA rows for its customers (or None);
    `contexts`: customer_id, context for every customer; `arm_strategies`: the strategy a
    non-bandit arm always uses (e.g. personalized -> vehicle_affinity), logged with
    strategy_propensity 1 so its sends are evidence for that strategy too.
    """
    arm_strategies = arm_strategies or {}
    count = assignments.num_rows
    customers = assignments["customer_id"]
    arms = assignments["treatment"]
    ctx = pc.take(contexts["context"], pc.index_in(customers, value_set=contexts["customer_id"]))
    fixed = pc.take(pa.array(list(arm_strategies.values()), pa.string()),
                    pc.index_in(arms, value_set=pa.array(list(arm_strategies), pa.string())))
    fixed_propensity = pc.if_else(pc.is_valid(fixed), pa.scalar(1.0), pa.scalar(None, pa.float64()))
    if decisions is not None and decisions.num_rows:
        where = pc.index_in(customers, value_set=decisions["customer_id"])
        strategy = pc.coalesce(pc.take(decisions["strategy"], where), fixed)
        strategy_propensity = pc.coalesce(pc.take(decisions["strategy_propensity"], where),
                                          fixed_propensity)
    else:
        strategy, strategy_propensity = fixed, fixed_propensity
    arm_propensity = pc.cast(assignments["propensity"], pa.float64())
    joint = pc.multiply(arm_propensity, pc.fill_null(strategy_propensity, 1.0))
    when = assigned_at or datetime.now(UTC)
    return pa.table({
        "campaign_id": pc.cast(assignments["campaign_id"], pa.string()),
        "customer_id": pc.cast(customers, pa.string()),
        "arm": pc.cast(arms, pa.string()),
        "strategy": strategy,
        "context": ctx,
        "arm_propensity": arm_propensity,
        "strategy_propensity": pc.cast(strategy_propensity, pa.float64()),
        "propensity": joint,
        "assigned_at": pa.array([when] * count, pa.timestamp("us", tz="UTC")),
    }, schema=ASSIGNMENT_LOG_SCHEMA)


def write_assignment_log(rows: pa.Table, log_dir: Path, campaign_id: str) -> Path:
    """Write one campaign's log file atomically (`<campaign>.parquet`; a rerun replaces it)."""
    from vehicle_recs.outputs import atomic_path

    path = log_dir / f"{campaign_id}.parquet"
    with atomic_path(path) as temp:
        pq.write_table(rows.cast(ASSIGNMENT_LOG_SCHEMA), temp)
    return path
