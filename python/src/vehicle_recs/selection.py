"""The final pick of K items per customer from ranked candidates.

Rules, applied in this order, each keeping the best-ranked rows (lowest `candidate_rank`, then
`sku`, so ties are broken the same way on every run):

1. at most one SKU per variant family (the best-ranked member; the SKU itself is never replaced
   by its base or a sibling — the v5.7 bug);
2. department caps (e.g. apparel at most 1, gift cards never) from `config/selection.json`
   (settings.SelectionRules; the apparel cap never exceeds the candidate pool's, dbt var
   max_apparel_candidates);
3. optionally at most `max_per_category` items of one category (diversity);
4. the first K that remain, renumbered `item_rank` 1..K.

Everything is vectorized over integer codes; no Python loop runs over the candidate rows.
Customers without a vehicle arrive with the model's flagged fallback rows (`is_fallback`) and go
through the same rules.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from vehicle_recs.settings import SelectionRules

SELECTION_KEYS = ("customer_id", "candidate_rank", "sku", "family_id", "department", "category")


def _codes(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Integer codes of a string column (nulls get their own code -1)."""
    encoded = pc.dictionary_encode(column)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    return encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def _rank_within(groups: list[np.ndarray]) -> np.ndarray:
    """0-based position of each row within its group, rows taken in their current order."""
    if len(groups[0]) == 0:
        return np.zeros(0, dtype=np.int64)
    key = groups[0]
    for codes in groups[1:]:
        key = key * (int(codes.max()) + 2) + codes + 1
    return pd.Series(key).groupby(key, sort=False).cumcount().to_numpy()


def _position_in_run(sorted_codes: np.ndarray) -> np.ndarray:
    """0-based position within runs of equal codes (the array is sorted)."""
    if len(sorted_codes) == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    lengths = np.diff(np.r_[starts, len(sorted_codes)])
    return np.arange(len(sorted_codes)) - np.repeat(starts, lengths)


def select_items(candidates: pa.Table, rules: SelectionRules,
                 customer_ids: pa.Array | pa.ChunkedArray | None = None) -> pa.Table:
    """Keep at most `rules.items` rows per customer; adds `item_rank` (1..K), sorted by it.

    With `customer_ids`, only those customers' items are returned (an arm ranking a shared
    table picks for its own customers without copying everyone's rows first).
    """
    missing = [name for name in SELECTION_KEYS if name not in candidates.column_names]
    if missing:
        raise ValueError(f"candidates lack column(s): {', '.join(missing)}")
    if candidates.num_rows == 0:
        return candidates.append_column("item_rank", pa.array([], pa.int64()))
    keys = candidates.select(["customer_id", "candidate_rank", "sku", "family_id"])
    order: pa.Array | None = None  # the warehouse returns rows by customer and rank: no sort
    if not _is_sorted(keys):
        order = pc.sort_indices(keys, sort_keys=[
            ("customer_id", "ascending"), ("candidate_rank", "ascending"), ("sku", "ascending"),
        ])
        keys = keys.take(order)
    table = keys
    customer = _customer_codes(table["customer_id"])
    # A missing family means the SKU is its own family.
    family = _codes(pc.coalesce(table["family_id"], table["sku"]))

    keep = ~pd.Series(customer * (int(family.max()) + 2) + family + 1).duplicated().to_numpy()

    def column(name: str) -> pa.ChunkedArray:
        values = candidates[name]
        return values if order is None else values.take(order)

    if rules.department_caps:
        department = column("department")
        caps = pa.array(list(rules.department_caps.values()), pa.int64())
        names = pa.array(list(rules.department_caps.keys()), pa.string())
        position = pc.index_in(department, value_set=names)
        cap = pc.take(caps, position).to_numpy(zero_copy_only=False)
        cap = np.where(np.isnan(cap.astype(float)), np.inf, cap.astype(float))
        kept = np.flatnonzero(keep)
        seen = _rank_within([customer[kept], _codes(department)[kept]])
        keep[kept[seen >= cap[kept]]] = False

    if rules.max_per_category is not None:
        kept = np.flatnonzero(keep)
        seen = _rank_within([customer[kept], _codes(column("category"))[kept]])
        keep[kept[seen >= rules.max_per_category]] = False

    if customer_ids is not None:
        starts = np.flatnonzero(np.r_[True, customer[1:] != customer[:-1]])
        heads = pc.take(table["customer_id"], pa.array(starts))
        wanted = pc.fill_null(pc.is_in(heads, value_set=customer_ids), False)
        keep &= wanted.to_numpy(zero_copy_only=False)[customer]

    kept = np.flatnonzero(keep)
    position = _position_in_run(customer[kept])
    chosen = kept[position < rules.items]
    if order is None:  # rows stay in order: a mask filter is much cheaper than a take
        mask = np.zeros(candidates.num_rows, dtype=bool)
        mask[chosen] = True
        result = candidates.filter(pa.array(mask))
    else:
        result = candidates.take(pa.array(order.to_numpy()[chosen]))
    return result.append_column("item_rank", pa.array(position[position < rules.items] + 1))


def _customer_codes(customers: pa.ChunkedArray) -> np.ndarray:
    """0, 1, 2, ... per run of equal customer ids (rows are sorted by customer)."""
    changed = pc.not_equal(customers.slice(1), customers.slice(0, len(customers) - 1))
    steps = pc.fill_null(changed, True).to_numpy(zero_copy_only=False)
    return np.concatenate([[0], np.cumsum(steps)]).astype(np.int64)


def _is_sorted(keys: pa.Table) -> bool:
    """True when rows are ordered by customer, then strictly by rank (ties need the sku sort)."""
    if keys.num_rows < 2:
        return True
    head = keys.slice(0, keys.num_rows - 1)
    tail = keys.slice(1)
    customer_up = pc.greater(tail["customer_id"], head["customer_id"])
    same = pc.equal(tail["customer_id"], head["customer_id"])
    rank_up = pc.greater(tail["candidate_rank"], head["candidate_rank"])
    ordered = pc.or_(customer_up, pc.and_(same, rank_up))
    return bool(pc.all(pc.fill_null(ordered, False)).as_py())
