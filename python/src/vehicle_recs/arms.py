"""The interface of a treatment arm: what it is given, what it returns, what it may record.

An arm is a class with a `name`, a `sends_email` flag and a `candidates(context, customer_ids)`
method returning ranked candidates (`ARM_SCHEMA`) for its customers. The final pick (variant
rules, caps, K items) is the same for every arm and is applied afterwards, so an arm only decides
*what* to rank. An arm that never reads `context.candidates` says so with
`reads_final_model = False` (the runner ranks those arms last, after freeing the final model's
rows; an arm without the flag is assumed to read them). An arm may also leave per-customer
`decisions` (customer_id plus DECISION_FIELDS) on itself after `candidates`; the runner copies
them into that arm's payloads and into the assignment log.

Why a module of its own: the arms are defined in treatments.py (personalized, random, control)
and bandit_arm.py (bandit), and the registry of all of them is in treatments.py, which imports
bandit_arm.py. Both define arms against this interface, so bandit_arm.py imports this module,
never treatments.py: the imports form no cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import ClassVar, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# ARM_SCHEMA, what every arm returns, is part of this interface; it is defined beside the
# reader of the random arm's mart, which holds exactly those columns.
from vehicle_recs.warehouse import ARM_SCHEMA as ARM_SCHEMA
from vehicle_recs.warehouse import Warehouse


@dataclass
class ArmContext:
    """What an arm may use to rank products for one campaign."""

    campaign_id: str
    as_of: date
    # the final model (fct_recommendation_candidates), every customer; runner.make_payloads
    # empties it once every arm that reads it has ranked
    candidates: pa.Table
    warehouse: Warehouse | None = None  # further models: baselines, email history


class Arm(Protocol):
    name: ClassVar[str]
    sends_email: ClassVar[bool]

    def candidates(self, context: ArmContext, customer_ids: pa.Array) -> pa.Table:
        """Ranked candidates (ARM_SCHEMA) for these customers; may be empty.

        Rows of other customers are allowed (and dropped after the per-customer pick): an arm
        may return a zero-copy view of a shared table instead of filtering it.
        """
        ...


# Per-customer fields an arm may record in `decisions` (null for arms that record none).
DECISION_FIELDS = pa.schema([
    ("strategy", pa.string()),
    ("context", pa.string()),
    ("strategy_propensity", pa.float64()),
])


def arm_decisions(arm: Arm) -> pa.Table | None:
    """The per-customer decisions an arm left after `candidates` (customer_id plus
    DECISION_FIELDS), or None for arms that record none."""
    decisions = getattr(arm, "decisions", None)
    if decisions is None:
        return None
    if not isinstance(decisions, pa.Table):
        raise TypeError(f"arm '{arm.name}': decisions must be an Arrow table")
    return decisions.select(["customer_id", *DECISION_FIELDS.names])


def rows_for_customers(table: pa.Table, customer_ids: pa.Array | pa.ChunkedArray) -> pa.Table:
    """The rows of these customers, in table order.

    Tables from the warehouse come grouped by customer: then only the first row of each
    customer is looked up (one hash lookup per customer, not per candidate row).
    """
    customers = table["customer_id"]
    if table.num_rows < 2:
        return table.filter(pc.fill_null(pc.is_in(customers, value_set=customer_ids), False))
    changed = pc.fill_null(pc.not_equal(customers.slice(1), customers.slice(0, len(customers) - 1)),
                           True)
    starts = np.concatenate([[0], np.flatnonzero(changed.to_numpy(zero_copy_only=False)) + 1])
    heads = pc.take(customers, pa.array(starts))
    if pc.count_distinct(heads).as_py() != len(starts):  # not grouped: look up every row
        return table.filter(pc.fill_null(pc.is_in(customers, value_set=customer_ids), False))
    wanted = pc.fill_null(pc.is_in(heads, value_set=customer_ids), False)
    lengths = np.diff(np.append(starts, table.num_rows))
    return table.filter(pa.array(np.repeat(wanted.to_numpy(zero_copy_only=False), lengths)))
