"""Recommendation strategies the bandit arm chooses among: re-rankings of the final candidates.

Every strategy takes the final model's rows (`fct_recommendation_candidates`, columns in its
contract, models/marts/_marts__models.yml; one row per customer x candidate) for the customers
it is given and returns the same rows with a new `score` (finite, >= 0) and a new
`candidate_rank` (1..n per customer, by that score descending, ties broken by sku), so the final
pick (variant rules, department caps, K items) works on it exactly as on the personalized
ranking. Nothing is added or removed: every
strategy only re-orders candidates that already passed eligibility (fit, no repeat purchase,
department rules), so no strategy can break a guardrail.

Strategies are vectorized over the whole table (numpy / Arrow, no loop over rows); a scorer
sees every column except the display text (DISPLAY_COLUMNS). A new
strategy is one function `(table) -> scores` plus one line in `STRATEGIES`; the bandit's config
(`config/bandit.json`) names which registered strategies it may choose.

- `vehicle_affinity` — the personalized ranking as scored in dbt (vehicle-owner purchase rate,
  lift, breadth, price tier): the `personalized` arm's order.
- `high_ticket` — the score weighted by price: score * (price_usd / 100) ** 0.5, so a $900 part
  gets 3x the weight of a $100 one (most parts revenue comes from items over $500).
- `category_diverse` — the score discounted by 0.5 for every better-scored candidate of the same
  category the customer already has, so the top K spread over categories.
- `catalog_popular` — catalog-wide popularity among the customer's fitting candidates, ignoring
  lift: the catalog purchase rate vehicle_rate / lift (the old engine's idea, limited to parts
  that fit and are eligible); the affinity score only breaks exact ties.
- `new_arrivals` — the customer's new arrivals first (`is_new_arrival`: created in the dbt var
  new_arrival_days before the cut-off), then the rest, each in the `vehicle_affinity` order:
  the score plus (1 + the top score among the rows scored) for a new arrival.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Knobs of the built-in strategies (documented above).
HIGH_TICKET_PRICE_EXPONENT = 0.5
HIGH_TICKET_REFERENCE_PRICE_USD = 100.0
CATEGORY_REPEAT_DISCOUNT = 0.5

Scorer = Callable[[pa.Table], np.ndarray]
# Display text a strategy never scores on: left out of the rows a scorer is given (cheaper).
DISPLAY_COLUMNS = ("product_name", "image_url", "product_url", "reason")


def _column(table: pa.Table, name: str, fill: float = 0.0) -> np.ndarray:
    values = pc.fill_null(pc.cast(table[name], pa.float64()), fill)
    out = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)
    return np.where(np.isfinite(out), out, fill)


def _base_score(table: pa.Table) -> np.ndarray:
    return np.maximum(_column(table, "score"), 0.0)


def vehicle_affinity(table: pa.Table) -> np.ndarray:
    """The dbt score as is (the personalized ranking)."""
    return _base_score(table)


def high_ticket(table: pa.Table) -> np.ndarray:
    """Score weighted by (price / $100) ** 0.5."""
    price = np.maximum(_column(table, "price_usd"), 0.0)
    weight = (price / HIGH_TICKET_REFERENCE_PRICE_USD) ** HIGH_TICKET_PRICE_EXPONENT
    return _base_score(table) * weight


def _rank_within(keys: np.ndarray, score: np.ndarray, tie_break: np.ndarray) -> np.ndarray:
    """0-based rank of each row within its key group, by score descending, then tie_break."""
    order = np.lexsort((tie_break, -score, keys))
    sorted_keys = keys[order]
    starts = np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - group_start
    return rank


def _codes(array: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Integer codes of a string column (nulls share one code)."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    encoded = pc.dictionary_encode(pc.fill_null(pc.cast(array, pa.string()), "\x00null"))
    return np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)


def category_diverse(table: pa.Table) -> np.ndarray:
    """Score * 0.5 ** (number of better-scored candidates of the customer in the same category)."""
    score = _base_score(table)
    customer = _codes(table["customer_id"])
    category = _codes(table["category"])
    key = customer * (int(category.max(initial=0)) + 1) + category
    sku_order = np.asarray(pc.rank(table["sku"], sort_keys="ascending",
                                   tiebreaker="dense").to_numpy(zero_copy_only=False))
    repeats = _rank_within(key, score, sku_order)
    return score * CATEGORY_REPEAT_DISCOUNT ** repeats


def catalog_popular(table: pa.Table) -> np.ndarray:
    """Catalog purchase rate (vehicle_rate / lift); affinity score as a tiny tie-breaker."""
    rate = np.maximum(_column(table, "vehicle_rate"), 0.0)
    lift = _column(table, "lift")
    catalog_rate = np.divide(rate, lift, out=np.zeros_like(rate), where=lift > 0)
    score = _base_score(table)
    top = float(score.max(initial=0.0))
    tie_break = score / (top + 1.0) * 1e-9
    return catalog_rate + tie_break


def new_arrivals(table: pa.Table) -> np.ndarray:
    """New arrivals first, then the rest, each by the dbt score."""
    score = _base_score(table)
    is_new = np.asarray(pc.fill_null(table["is_new_arrival"], False).to_numpy(
        zero_copy_only=False), dtype=bool)
    offset = 1.0 + float(score.max(initial=0.0))
    return np.where(is_new, score + offset, score)


STRATEGIES: dict[str, Scorer] = {
    "vehicle_affinity": vehicle_affinity,
    "high_ticket": high_ticket,
    "category_diverse": category_diverse,
    "catalog_popular": catalog_popular,
    "new_arrivals": new_arrivals,
}


def known_strategies() -> list[str]:
    return list(STRATEGIES)


def rerank(table: pa.Table, strategy: str) -> pa.Table:
    """`table` with `score` and `candidate_rank` replaced by the strategy's ranking."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown bandit strategy '{strategy}' "
                         f"(known: {', '.join(known_strategies())})")
    if table.num_rows == 0:
        return table
    score = STRATEGIES[strategy](table)
    score = np.where(np.isfinite(score) & (score > 0), score, 0.0)
    customer = _codes(table["customer_id"])
    # ties: the model's own rank, so equal scores keep the personalized order
    previous = np.asarray(pc.fill_null(table["candidate_rank"], 0).to_numpy(
        zero_copy_only=False), dtype=np.int64)
    rank = _rank_within(customer, score, previous) + 1
    table = table.set_column(table.schema.get_field_index("score"), "score",
                             pa.array(score, pa.float64()))
    table = table.set_column(table.schema.get_field_index("candidate_rank"), "candidate_rank",
                             pa.array(rank, pa.int64()))
    order = np.lexsort((rank, customer))
    return table.take(pa.array(order))


def rerank_by_customer_strategy(table: pa.Table, customer_ids: pa.Array,
                                strategies: pa.Array) -> pa.Table:
    """Re-rank each customer's candidates with that customer's strategy.

    Each strategy scores only its customers' rows (as `rerank` on that subset would); rows come
    back grouped by customer in the order customers first appear, by the new rank within each.
    Rows of customers not in `customer_ids` are dropped.
    """
    if table.num_rows == 0:
        return table
    names = pc.unique(strategies).to_pylist()
    for name in names:
        if name not in STRATEGIES:
            raise ValueError(f"unknown bandit strategy '{name}' "
                             f"(known: {', '.join(known_strategies())})")
    position = pc.index_in(table["customer_id"], value_set=customer_ids)
    table = table.filter(pc.is_valid(position)).combine_chunks()  # fast takes below
    position = position.filter(pc.is_valid(position))
    code_of_customer = pc.index_in(strategies, value_set=pa.array(names, pa.string()))
    chosen = np.asarray(pc.take(code_of_customer, position).to_numpy(zero_copy_only=False),
                        dtype=np.int64)
    score = np.zeros(table.num_rows, dtype=np.float64)
    scored = table.drop_columns([n for n in DISPLAY_COLUMNS if n in table.column_names])
    for code, name in enumerate(names):
        rows = np.flatnonzero(chosen == code)
        if len(rows):
            score[rows] = STRATEGIES[name](scored.take(pa.array(rows)))
    score = np.where(np.isfinite(score) & (score > 0), score, 0.0)
    customer = np.asarray(position.to_numpy(zero_copy_only=False), dtype=np.int64)
    # ties: the model's own rank, so equal scores keep the personalized order
    previous = np.asarray(pc.fill_null(table["candidate_rank"], 0).to_numpy(
        zero_copy_only=False), dtype=np.int64)
    rank = _rank_within(customer, score, previous) + 1
    table = table.set_column(table.schema.get_field_index("score"), "score",
                             pa.array(score, pa.float64()))
    table = table.set_column(table.schema.get_field_index("candidate_rank"), "candidate_rank",
                             pa.array(rank, pa.int64()))
    _, first = np.unique(customer, return_index=True)
    appearance = np.empty(int(customer.max()) + 1, dtype=np.int64)
    appearance[customer[np.sort(first)]] = np.arange(len(first))
    order = np.lexsort((rank, appearance[customer]))
    return table.take(pa.array(order))
