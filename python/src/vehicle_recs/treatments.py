"""Treatment arms: who gets which email, with the probability of that assignment.

Assignment is deterministic: a customer's bucket is the first 8 bytes of
sha256("<salt>|<campaign_id>|<customer_id>") read as an unsigned integer / 2**64, and the arm is
the one whose slice of [0, 1) holds the bucket, slices laid out in arm-name order with the
normalized weights of `config/arms.json`. The same customer and campaign always land in the same
arm (an analyst can recompute it in SQL); a new campaign reshuffles. The propensity recorded in
every payload is the arm's normalized weight (1.0 when `--treatment` forces an arm).

Arms plug in through a small registry: a class with a `name`, a `sends_email` flag and a
`candidates(context, customer_ids)` method returning ranked candidates (`ARM_SCHEMA`) for its
customers, registered with `@register_arm`. The final pick (variant rules, caps, K items) is the
same for every arm and is applied afterwards, so an arm only decides *what* to rank. An arm that
never reads `context.candidates` says so with `reads_final_model = False` (the runner ranks
those arms last, after freeing the final model's rows; an arm without the flag is assumed to read
them). An arm may
also leave per-customer `decisions` (DECISION_COLUMNS: customer_id, context, strategy,
strategy_propensity) on itself after `candidates`; the runner copies them into that arm's
payloads and into the assignment log.

Arms defined in their own modules (the `bandit` arm: bandit_arm.py, which imports this module)
are listed in `PLUGIN_ARM_MODULES` and imported the first time the registry is read, so every
user of `get_arm` / `known_arms` / `load_weights` sees them without an import cycle.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vehicle_recs.warehouse import CANDIDATE_SCHEMA, Warehouse

# What every arm returns: enough to pick items and to write an email.
ARM_SCHEMA = pa.schema([
    CANDIDATE_SCHEMA.field(name) for name in (
        "customer_id", "candidate_rank", "sku", "family_id", "vehicle_id", "vehicle_year",
        "vehicle_make", "vehicle_model", "product_name", "brand", "category", "department",
        "price_usd", "image_url", "product_url", "score", "reason_code", "reason", "is_fallback",
    )
])


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

# Modules that register further arms; imported lazily (they import this module).
PLUGIN_ARM_MODULES = ("vehicle_recs.bandit_arm",)

_REGISTRY: dict[str, Callable[[], Arm]] = {}
_plugins_loaded = False
ArmClass = TypeVar("ArmClass", bound=type)


def _registry() -> dict[str, Callable[[], Arm]]:
    global _plugins_loaded
    if not _plugins_loaded:
        _plugins_loaded = True
        for module in PLUGIN_ARM_MODULES:
            importlib.import_module(module)
    return _REGISTRY


def register_arm(cls: ArmClass) -> ArmClass:
    """Class decorator: make an arm available to the config and to `--treatment`."""
    _REGISTRY[cls.name] = cls  # type: ignore[attr-defined]
    return cls


def known_arms() -> list[str]:
    return sorted(_registry())


def get_arm(name: str) -> Arm:
    """A fresh instance of the arm (it may keep per-campaign `decisions`)."""
    registry = _registry()
    if name not in registry:
        raise ValueError(f"unknown treatment arm '{name}' (known: {', '.join(known_arms())})")
    return registry[name]()


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


@register_arm
class PersonalizedArm:
    """This engine: the final model's candidates as ranked by the dbt scoring."""

    name: ClassVar[str] = "personalized"
    sends_email: ClassVar[bool] = True

    def candidates(self, context: ArmContext, customer_ids: pa.Array) -> pa.Table:
        # every customer's rows, zero-copy: the runner keeps this arm's after the pick
        return context.candidates.select(ARM_SCHEMA.names)


@register_arm
class RandomArm:
    """The baseline: random eligible fitting products (fct_baseline_candidates, random_eligible)."""

    name: ClassVar[str] = "random"
    sends_email: ClassVar[bool] = True
    reads_final_model: ClassVar[bool] = False
    strategy: ClassVar[str] = "random_eligible"

    def candidates(self, context: ArmContext, customer_ids: pa.Array) -> pa.Table:
        if context.warehouse is None:
            raise ValueError("the random arm needs the warehouse (fct_baseline_candidates)")
        rows = context.warehouse.read_baseline(self.strategy, customer_ids)
        has_vehicle = pc.is_valid(rows["vehicle_year"])
        vehicle = pc.binary_join_element_wise(
            *(pc.cast(rows[name], pa.string())
              for name in ("vehicle_year", "vehicle_make", "vehicle_model")), " ")
        reason = pc.if_else(
            has_vehicle,
            pc.binary_join_element_wise("Fits your", vehicle, " "),
            pa.scalar("Fits your vehicle"),
        )
        extra = {
            "reason_code": pa.array(np.full(rows.num_rows, self.strategy), pa.string()),
            "reason": reason,
            "is_fallback": pc.invert(pc.is_valid(rows["vehicle_id"])),
        }
        columns = [rows[n] if n in rows.column_names else extra[n] for n in ARM_SCHEMA.names]
        return pa.Table.from_arrays(columns, names=ARM_SCHEMA.names).cast(ARM_SCHEMA)


@register_arm
class ControlArm:
    """Holdout: no email; the customer is only recorded in the assignment file."""

    name: ClassVar[str] = "control"
    sends_email: ClassVar[bool] = False
    reads_final_model: ClassVar[bool] = False

    def candidates(self, context: ArmContext, customer_ids: pa.Array) -> pa.Table:
        return ARM_SCHEMA.empty_table()


@dataclass(frozen=True)
class ArmWeights:
    """Normalized weights per arm (arm-name order) and the hash salt. With persistent_holdout,
    the `control` arm is a fixed set of customers (a hash of the customer only) instead of a
    fresh draw per campaign."""

    weights: dict[str, float]
    salt: str
    persistent_holdout: bool = False

    @classmethod
    def from_mapping(cls, weights: Mapping[str, Any], salt: str,
                     persistent_holdout: bool = False) -> ArmWeights:
        for name, weight in weights.items():
            get_arm(name)  # unknown arm -> ValueError
            if not isinstance(weight, int | float) or weight < 0:
                raise ValueError(f"arm weight for '{name}' must be a number >= 0, got {weight!r}")
        total = float(sum(weights.values()))
        if total <= 0:
            raise ValueError("arm weights must add up to more than 0")
        normalized = {name: float(weights[name]) / total for name in sorted(weights)}
        return cls({name: w for name, w in normalized.items() if w > 0}, salt,
                   bool(persistent_holdout))


def load_weights(path: Path | None = None) -> ArmWeights:
    """Arm weights from JSON (default: `config/arms.json` shipped in the package)."""
    if path is None:
        text = resources.files("vehicle_recs").joinpath("config/arms.json").read_text()
    else:
        text = path.read_text(encoding="utf-8")
    config = json.loads(text)
    holdout = config.get("persistent_holdout", False)
    if not isinstance(holdout, bool):
        raise ValueError(f"persistent_holdout must be true or false, got {holdout!r}")
    return ArmWeights.from_mapping(config["weights"], str(config.get("salt", "")), holdout)


def buckets(customer_ids: Sequence[str], campaign_id: str, salt: str) -> np.ndarray:
    """Uniform [0, 1) per customer, a pure function of (salt, campaign, customer)."""
    prefix = f"{salt}|{campaign_id}|".encode()
    sha = hashlib.sha256
    values = np.fromiter(
        (int.from_bytes(sha(prefix + cid.encode()).digest()[:8], "big") for cid in customer_ids),
        dtype=np.uint64, count=len(customer_ids),
    )
    return values.astype(np.float64) / 2.0**64


# The campaign id of the one draw that decides the persistent holdout (a hash of the customer).
PERSISTENT_HOLDOUT_DRAW = "persistent-holdout"


def _draw(bucket: np.ndarray, shares: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """Arm and its share per bucket, cutting [0, 1) in the shares' (normalized) proportions."""
    names = list(shares)
    values = np.array([shares[name] for name in names])
    edges = np.cumsum(values / values.sum())[:-1]
    index = np.searchsorted(edges, bucket, side="right")
    return np.array(names, dtype=object)[index], values[index]


def assign(customer_ids: Sequence[str], campaign_id: str, weights: ArmWeights,
           forced: str | None = None) -> pa.Table:
    """One row per customer: customer_id, campaign_id, treatment, propensity, bucket, is_forced.

    propensity is the arm's planned share. With weights.persistent_holdout, a customer whose
    campaign-independent bucket falls under the control weight is in `control` in every
    campaign; the others are drawn per campaign among the other arms (in their proportions).
    """
    count = len(customer_ids)
    bucket = buckets(customer_ids, campaign_id, weights.salt)
    control = weights.weights.get("control", 0.0)
    if forced is not None:
        get_arm(forced)
        arms = np.full(count, forced, dtype=object)
        propensity = np.ones(count)
    elif weights.persistent_holdout and 0 < control < 1:
        held_out = buckets(customer_ids, PERSISTENT_HOLDOUT_DRAW, weights.salt) < control
        arms, propensity = _draw(bucket, {name: share for name, share in weights.weights.items()
                                          if name != "control"})
        arms = np.where(held_out, "control", arms)
        propensity = np.where(held_out, control, propensity)
    else:
        arms, propensity = _draw(bucket, weights.weights)
    return pa.table({
        "customer_id": pa.array(customer_ids, pa.string()),
        "campaign_id": pa.array(np.full(count, campaign_id, dtype=object), pa.string()),
        "treatment": pa.array(arms, pa.string()),
        "propensity": pa.array(propensity, pa.float64()),
        "assignment_bucket": pa.array(bucket, pa.float64()),
        "is_forced": pa.array(np.full(count, forced is not None), pa.bool_()),
    })
