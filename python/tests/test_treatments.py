"""Treatment assignment: deterministic, weighted, forced arm, registry for new arms."""

from __future__ import annotations

import hashlib
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pytest

from vehicle_recs.arms import ARM_SCHEMA, ArmContext
from vehicle_recs.errors import VehicleRecsError
from vehicle_recs.treatments import (
    ArmWeights,
    assign,
    get_arm,
    known_arms,
    load_weights,
    register_arm,
)

CUSTOMERS = [f"C{i:07d}" for i in range(20_000)]


def test_assignment_is_deterministic_and_campaign_specific() -> None:
    weights = load_weights()
    first = assign(CUSTOMERS, "spring", weights)
    again = assign(list(reversed(CUSTOMERS)), "spring", weights)
    by_customer = dict(zip(again["customer_id"].to_pylist(), again["treatment"].to_pylist(),
                           strict=True))
    assert [by_customer[c] for c in CUSTOMERS] == first["treatment"].to_pylist()
    other = assign(CUSTOMERS, "autumn", weights)["treatment"].to_pylist()
    assert other != first["treatment"].to_pylist()


def test_bucket_is_the_documented_sha256() -> None:
    weights = load_weights()
    row = assign(["C42"], "spring", weights).to_pylist()[0]
    digest = hashlib.sha256(f"{weights.salt}|spring|C42".encode()).digest()
    assert row["assignment_bucket"] == int.from_bytes(digest[:8], "big") / 2**64


def test_shares_follow_the_weights_and_propensity_is_the_weight() -> None:
    weights = ArmWeights.from_mapping({"personalized": 6, "random": 3, "control": 1}, "s")
    table = assign(CUSTOMERS, "c1", weights).to_pandas()
    shares = table["treatment"].value_counts(normalize=True)
    for arm, expected in {"personalized": 0.6, "random": 0.3, "control": 0.1}.items():
        # 4.5 standard errors at n=20k
        assert abs(shares[arm] - expected) < 4.5 * np.sqrt(expected * (1 - expected) / 20_000)
        assert (table.loc[table["treatment"] == arm, "propensity"] == expected).all()


def test_persistent_holdout_keeps_the_same_customers_in_control() -> None:
    """Off (the shipped default): control is redrawn every campaign. On: the same customers,
    at the control weight, in every campaign; the others never land in control, and the
    remaining arms keep their planned shares overall (the logged propensity)."""
    assert load_weights().persistent_holdout is False
    mapping = {"personalized": 6, "random": 3, "control": 1}

    def control_set(weights: ArmWeights, campaign: str) -> set[str]:
        table = assign(CUSTOMERS, campaign, weights).to_pandas()
        return set(table.loc[table["treatment"] == "control", "customer_id"])

    fresh = ArmWeights.from_mapping(mapping, "s")
    assert control_set(fresh, "c1") != control_set(fresh, "c2")
    held = ArmWeights.from_mapping(mapping, "s", persistent_holdout=True)
    first, second = control_set(held, "c1"), control_set(held, "c2")
    assert first == second
    assert abs(len(first) / len(CUSTOMERS) - 0.1) < 4.5 * np.sqrt(0.1 * 0.9 / len(CUSTOMERS))
    table = assign(CUSTOMERS, "c3", held).to_pandas()
    shares = table["treatment"].value_counts(normalize=True)
    for arm, expected in {"personalized": 0.6, "random": 0.3}.items():
        assert abs(shares[arm] - expected) < 4.5 * np.sqrt(expected * (1 - expected) / 20_000)
        assert (table.loc[table["treatment"] == arm, "propensity"] == expected).all()
    assert (table.loc[table["treatment"] == "control", "propensity"] == 0.1).all()
    # the treated arms are still drawn afresh per campaign
    other = assign(CUSTOMERS, "c4", held).to_pandas()
    treated = table["treatment"] != "control"
    assert (table.loc[treated, "treatment"].to_numpy()
            != other.loc[treated, "treatment"].to_numpy()).any()


def test_zero_weight_arm_is_never_drawn() -> None:
    weights = ArmWeights.from_mapping({"personalized": 1, "random": 0, "control": 1}, "s")
    assert set(assign(CUSTOMERS[:2000], "c", weights)["treatment"].to_pylist()) == {
        "personalized", "control"}


def test_forced_arm() -> None:
    table = assign(CUSTOMERS[:100], "c", load_weights(), forced="random")
    assert set(table["treatment"].to_pylist()) == {"random"}
    assert set(table["propensity"].to_pylist()) == {1.0}
    assert all(table["is_forced"].to_pylist())


def test_unknown_arm_and_bad_weights() -> None:
    with pytest.raises(VehicleRecsError, match="unknown treatment arm 'banana'"):
        assign(CUSTOMERS[:5], "c", load_weights(), forced="banana")
    with pytest.raises(ValueError, match="unknown treatment arm"):
        ArmWeights.from_mapping({"nope": 1}, "s")
    with pytest.raises(ValueError, match=">= 0"):
        ArmWeights.from_mapping({"random": -1}, "s")
    with pytest.raises(ValueError, match="more than 0"):
        ArmWeights.from_mapping({"random": 0}, "s")


def test_shipped_config_arms() -> None:
    weights = load_weights()
    assert set(weights.weights) <= set(known_arms())
    assert abs(sum(weights.weights.values()) - 1) < 1e-9
    assert {"personalized", "random", "control"} <= set(known_arms())
    assert not get_arm("control").sends_email


def test_a_new_arm_plugs_in_through_the_registry() -> None:
    @register_arm
    class EchoArm:
        """Like the future bandit arm: its own ranking, registered by name."""

        name: ClassVar[str] = "echo_test"
        sends_email: ClassVar[bool] = True

        def candidates(self, context: ArmContext, customer_ids: pa.Array) -> pa.Table:
            return ARM_SCHEMA.empty_table()

    try:
        weights = ArmWeights.from_mapping({"echo_test": 1, "control": 1}, "s")
        assert "echo_test" in set(assign(CUSTOMERS[:200], "c", weights)["treatment"].to_pylist())
        assert get_arm("echo_test").sends_email
    finally:
        from vehicle_recs import treatments

        treatments._REGISTRY.pop("echo_test")
