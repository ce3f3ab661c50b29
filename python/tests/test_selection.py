"""The final pick: exact SKUs, one per family, department caps, diversity, K, deterministic ties."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vehicle_recs.contract import APPAREL, DEPARTMENTS, GIFT_CARDS
from vehicle_recs.selection import select_items
from vehicle_recs.settings import SelectionRules, load_selection


def frame(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=pa.schema([
        ("customer_id", pa.string()), ("candidate_rank", pa.int64()), ("sku", pa.string()),
        ("family_id", pa.string()), ("department", pa.string()), ("category", pa.string()),
        ("score", pa.float64()),
    ]))


candidate_rows = st.lists(
    st.fixed_dictionaries({
        "customer_id": st.sampled_from(["C1", "C2", "C3"]),
        "family": st.integers(0, 8),
        "variant": st.sampled_from(["", "B", "R", "G", "P"]),
        "department": st.sampled_from(DEPARTMENTS),
        "category": st.sampled_from(["brakes", "engine", "interior"]),
    }),
    max_size=60,
)


def build(rows: list[dict]) -> pa.Table:
    out, seen = [], set()
    ranks: dict[str, int] = {}
    for row in rows:
        sku = f"F-{row['family']}{row['variant']}"
        if (row["customer_id"], sku) in seen:
            continue
        seen.add((row["customer_id"], sku))
        ranks[row["customer_id"]] = ranks.get(row["customer_id"], 0) + 1
        out.append({"customer_id": row["customer_id"], "candidate_rank": ranks[row["customer_id"]],
                    "sku": sku, "family_id": f"F-{row['family']}", "department": row["department"],
                    "category": row["category"], "score": 1.0 / ranks[row["customer_id"]]})
    return frame(out)


RULES = SelectionRules(items=6, department_caps={APPAREL: 1, GIFT_CARDS: 0},
                       max_per_category=None)


@settings(max_examples=80, deadline=None)
@given(candidate_rows, st.integers(1, 8), st.one_of(st.none(), st.integers(1, 3)))
def test_selection_properties(rows: list[dict], k: int, per_category: int | None) -> None:
    table = build(rows)
    rules = SelectionRules(items=k, department_caps={APPAREL: 1, GIFT_CARDS: 0},
                           max_per_category=per_category)
    picked = select_items(table, rules).to_pylist()
    originals = {(r["customer_id"], r["sku"]): r for r in table.to_pylist()}
    for row in picked:
        original = originals[(row["customer_id"], row["sku"])]
        # the shown SKU is the scored SKU, with its own row's data (never a base or sibling)
        assert {key: row[key] for key in original} == original
    by_customer: dict[str, list[dict]] = {}
    for row in picked:
        by_customer.setdefault(row["customer_id"], []).append(row)
    for customer, items in by_customer.items():
        assert [item["item_rank"] for item in items] == list(range(1, len(items) + 1))
        assert len(items) <= k
        families = [item["family_id"] for item in items]
        assert len(families) == len(set(families))  # at most one SKU per family per email
        departments = [item["department"] for item in items]
        assert departments.count(GIFT_CARDS) == 0
        assert departments.count(APPAREL) <= 1
        if per_category is not None:
            categories = [item["category"] for item in items]
            assert max(categories.count(c) for c in categories) <= per_category
        # best-ranked first, and each family is shown by its best-ranked member
        ranks = [item["candidate_rank"] for item in items]
        assert ranks == sorted(ranks)
        available = [r for r in table.to_pylist() if r["customer_id"] == customer]
        for item in items:
            best = min(r["candidate_rank"] for r in available
                       if r["family_id"] == item["family_id"])
            assert item["candidate_rank"] == best


@settings(max_examples=40, deadline=None)
@given(candidate_rows, st.randoms(use_true_random=False))
def test_selection_is_deterministic_under_input_order(rows: list[dict], rnd) -> None:
    table = build(rows)
    order = list(range(table.num_rows))
    rnd.shuffle(order)
    shuffled = table.take(pa.array(order, pa.int64()))
    assert select_items(table, RULES).equals(select_items(shuffled, RULES))


def test_v57_regression_variant_is_never_collapsed_to_its_base() -> None:
    """v5.7 showed the base SKU AC-1000 when the scored item was the variant AC-1000B."""
    table = frame([
        {"customer_id": "C1", "candidate_rank": 1, "sku": "AC-1000B", "family_id": "AC-1000",
         "department": "hard_parts", "category": "ignition", "score": 0.9},
        {"customer_id": "C1", "candidate_rank": 2, "sku": "AC-1000", "family_id": "AC-1000",
         "department": "hard_parts", "category": "ignition", "score": 0.5},
        {"customer_id": "C1", "candidate_rank": 3, "sku": "AC-1000R", "family_id": "AC-1000",
         "department": "hard_parts", "category": "ignition", "score": 0.4},
        {"customer_id": "C2", "candidate_rank": 1, "sku": "AC-1000P", "family_id": "AC-1000",
         "department": "hard_parts", "category": "ignition", "score": 0.9},
    ])
    picked = select_items(table, RULES).to_pylist()
    assert [(r["customer_id"], r["sku"]) for r in picked] == [("C1", "AC-1000B"),
                                                             ("C2", "AC-1000P")]


def test_ties_on_rank_break_by_sku() -> None:
    table = frame([
        {"customer_id": "C1", "candidate_rank": 1, "sku": "B-2", "family_id": "B-2",
         "department": "tools", "category": "x", "score": 1.0},
        {"customer_id": "C1", "candidate_rank": 1, "sku": "A-1", "family_id": "A-1",
         "department": "tools", "category": "x", "score": 1.0},
    ])
    picked = select_items(table, SelectionRules(items=1))
    assert picked["sku"].to_pylist() == ["A-1"]


def test_shipped_rules_and_bad_k() -> None:
    rules = load_selection()
    assert rules.items == 6 and rules.department_caps[GIFT_CARDS] == 0
    assert load_selection(items=3).items == 3
    with pytest.raises(ValueError, match="--items"):
        load_selection(items=0)


def test_empty_candidates() -> None:
    assert select_items(frame([]), RULES).num_rows == 0


def test_only_the_given_customers_are_picked() -> None:
    rows = [{"customer_id": c, "candidate_rank": r, "sku": f"{c}-{r}", "family_id": None,
             "department": "hard_parts", "category": "brakes", "score": 1.0 / r}
            for c in ("C1", "C2", "C3") for r in (1, 2, 3)]
    picked = select_items(frame(rows), SelectionRules(items=2), pa.array(["C3", "C1", "C9"]))
    assert picked["sku"].to_pylist() == ["C1-1", "C1-2", "C3-1", "C3-2"]
    assert picked["item_rank"].to_pylist() == [1, 2, 1, 2]
