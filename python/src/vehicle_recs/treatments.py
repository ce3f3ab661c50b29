"""Treatment arms: the registry of arms, and who gets which email with what probability.

Assignment is deterministic: a customer's bucket is the first 8 bytes of
sha256("<salt>|<campaign_id>|<customer_id>") read as an unsigned integer / 2**64, and the arm is
the one whose slice of [0, 1) holds the bucket, slices laid out in arm-name order with the
normalized weights of `config/arms.json` (read and checked by settings.py). The same customer
and campaign always land in the same arm (an analyst can recompute it in SQL); a new campaign
reshuffles. The propensity recorded in every payload is the arm's normalized weight (1.0 when
`--treatment` forces an arm).

Arms implement the interface in arms.py. This module defines the simple ones (personalized,
random, control) and is the one place the registry is assembled: it imports bandit_arm.py for
the `bandit` arm, and bandit_arm.py imports arms.py only, so every user of `get_arm` /
`known_arms` / `load_weights` sees every arm without an import cycle or a lazy import. Further
arms (tests, experiments) join with `@register_arm`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import pyarrow as pa

from vehicle_recs.arms import ARM_SCHEMA, Arm, ArmContext
from vehicle_recs.bandit_arm import BanditArm
from vehicle_recs.errors import VehicleRecsError
from vehicle_recs.settings import ArmsConfig, load_arms


class PersonalizedArm:
    """This engine: the final model's candidates as ranked by the dbt scoring."""

    name: ClassVar[str] = "personalized"
    sends_email: ClassVar[bool] = True

    def candidates(self, context: ArmContext, customer_ids: pa.Array) -> pa.Table:
        # every customer's rows, zero-copy: the runner keeps this arm's after the pick
        return context.candidates.select(ARM_SCHEMA.names)


class RandomArm:
    """The baseline: random eligible fitting products, with their reasons
    (fct_random_arm_candidates, over fct_baseline_candidates' random_eligible)."""

    name: ClassVar[str] = "random"
    sends_email: ClassVar[bool] = True
    reads_final_model: ClassVar[bool] = False
    strategy: ClassVar[str] = "random_eligible"  # the baseline built for it (baseline_strategies)

    def candidates(self, context: ArmContext, customer_ids: pa.Array) -> pa.Table:
        if context.warehouse is None:
            raise ValueError("the random arm needs the warehouse (fct_random_arm_candidates)")
        return context.warehouse.read_random_arm(customer_ids)


class ControlArm:
    """Holdout: no email; the customer is only recorded in the assignment file."""

    name: ClassVar[str] = "control"
    sends_email: ClassVar[bool] = False
    reads_final_model: ClassVar[bool] = False

    def candidates(self, context: ArmContext, customer_ids: pa.Array) -> pa.Table:
        return ARM_SCHEMA.empty_table()


# Every arm, by name: the simple arms above and the bandit arm (bandit_arm.py).
_REGISTRY: dict[str, Callable[[], Arm]] = {
    arm.name: arm for arm in (PersonalizedArm, RandomArm, ControlArm, BanditArm)}
ArmClass = TypeVar("ArmClass", bound=type)


def register_arm(cls: ArmClass) -> ArmClass:
    """Class decorator: make a further arm available to the config and to `--treatment`."""
    _REGISTRY[cls.name] = cls  # type: ignore[attr-defined]
    return cls


def known_arms() -> list[str]:
    return sorted(_REGISTRY)


def get_arm(name: str) -> Arm:
    """A fresh instance of the arm (it may keep per-campaign `decisions`)."""
    if name not in _REGISTRY:
        raise VehicleRecsError(f"unknown treatment arm '{name}' (known: {', '.join(known_arms())})")
    return _REGISTRY[name]()


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
        """From weights given in code: checked as arms.json's are (settings.ArmsConfig)."""
        config = ArmsConfig(dict(weights), salt, persistent_holdout)
        config.check_arms(known_arms())
        return cls.from_config(config)

    @classmethod
    def from_config(cls, config: ArmsConfig) -> ArmWeights:
        total = float(sum(config.weights.values()))
        normalized = {name: float(config.weights[name]) / total for name in sorted(config.weights)}
        return cls({name: w for name, w in normalized.items() if w > 0}, config.salt,
                   config.persistent_holdout)


def load_weights(path: Path | None = None) -> ArmWeights:
    """Arm weights of arms.json (`path`, else the one shipped in the package), every arm known."""
    return ArmWeights.from_config(load_arms(path, registered=known_arms()))


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
