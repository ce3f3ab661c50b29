"""The `bandit` treatment arm: the bandit (bandit.py) behind the arm interface (arms.py).

For its customers the arm reads the evidence mart (`fct_bandit_evidence`, through the
warehouse; none -> priors), finds each customer's context, draws a strategy per customer by
Thompson sampling, and returns the final candidates re-ranked by that strategy (strategies.py).
The final pick (variant rules, department caps, K items) is then the same as for every arm.

After `candidates` the arm keeps its choices in `self.decisions` (customer_id, context,
strategy, strategy_propensity; `arms.arm_decisions` reads them) so the payload step writes
them into each bandit payload and into the assignment log (`assignment_log_rows`).

The arm registry (treatments.py) imports this module and lists the arm; this module imports
arms.py, never treatments.py, so the two form no import cycle.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from vehicle_recs import bandit
from vehicle_recs.arms import ARM_SCHEMA, ArmContext, rows_for_customers
from vehicle_recs.settings import BanditConfig, load_bandit
from vehicle_recs.strategies import rerank_by_customer_strategy

# The strategy a non-bandit arm always uses, logged with strategy_propensity 1 so its sends are
# evidence for that strategy (the personalized arm is the vehicle_affinity ranking).
ARM_STRATEGIES: dict[str, str] = {"personalized": "vehicle_affinity", "random": "random_eligible"}


class BanditArm:
    """Thompson sampling over ranking strategies per context (vehicle make)."""

    name: ClassVar[str] = "bandit"
    sends_email: ClassVar[bool] = True

    def __init__(self, config: BanditConfig | None = None) -> None:
        self.config = config or load_bandit()
        self.decisions: pa.Table = bandit.DECISION_SCHEMA.empty_table()

    def candidates(self, context: ArmContext, customer_ids: pa.Array) -> pa.Table:
        evidence = bandit.read_evidence(context.warehouse) if context.warehouse else None
        mine = rows_for_customers(context.candidates, customer_ids)
        customers = pc.unique(mine["customer_id"])
        contexts = bandit.customer_contexts(mine, customers, self.config)
        self.decisions = bandit.decide(customers.to_pylist(), contexts.to_pylist(),
                                       context.campaign_id, self.config, evidence)
        # rows stay grouped by customer (as read), ranks ascending within each customer
        ranked = rerank_by_customer_strategy(mine, self.decisions["customer_id"],
                                             self.decisions["strategy"])
        return ranked.select(ARM_SCHEMA.names).cast(ARM_SCHEMA)


def assignment_log_rows(assignments: pa.Table, candidates: pa.Table,
                        decisions: pa.Table | None, config: BanditConfig | None = None,
                        **kwargs: Any) -> pa.Table:
    """Log rows for every assigned customer of a campaign (see bandit.log_rows): the bandit's
    decisions for its customers, the fixed strategy of the other arms, every customer's context.
    """
    config = config or load_bandit()
    contexts = pa.table({
        "customer_id": assignments["customer_id"],
        "context": bandit.customer_contexts(candidates, assignments["customer_id"], config),
    })
    return bandit.log_rows(assignments, decisions, contexts, arm_strategies=ARM_STRATEGIES,
                           **kwargs)
