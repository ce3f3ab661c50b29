"""New-arrival share of a finished run: the share of payloads with at least one item whose
product was created in the --days days before the run's cut-off (raw products' created_at).

    .venv/bin/python benchmarks/new_arrival_share.py --run /tmp/run --raw /tmp/s22a \
        [--days 90] [--horizon 60]

Reads `<run>/payload_items.parquet` (one row per emailed item, with the payload's customer,
treatment, strategy and as_of) and `<raw>/products.parquet`. Prints the share overall, per
treatment and per bandit strategy, and the items that are new arrivals, as JSON. With the raw
orders it also counts the completed lines of new arrivals the emailed customers bought in
[as_of, as_of + horizon) and how many of those were in their email (`horizon`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import duckdb


def _path(path: Path) -> str:
    return str(path).replace("'", "''")


def new_arrival_share(run: Path, raw: Path, days: int) -> dict[str, object]:
    """Share of payloads (customers emailed) with an item created in [as_of - days, as_of)."""
    items = _path(run / "payload_items.parquet")
    products = _path(raw / "products.parquet")
    sql = f"""
        with

        items as (
            select customer_id, treatment, strategy, cast(as_of as date) as as_of_date, sku
            from read_parquet('{items}')
        ),

        products as (
            select sku, min(cast(created_at as date)) as created_date
            from read_parquet('{products}')
            group by sku
        ),

        flagged as (
            select
                items.*,
                coalesce(
                    products.created_date >= items.as_of_date - to_days({days})
                    and products.created_date < items.as_of_date,
                    false
                ) as is_new
            from items
            left join products on items.sku = products.sku
        ),

        payloads as (
            select
                customer_id,
                treatment,
                coalesce(strategy, '') as strategy,
                max(case when is_new then 1 else 0 end) as has_new,
                sum(case when is_new then 1 else 0 end) as new_items,
                count(*) as items
            from flagged
            group by customer_id, treatment, coalesce(strategy, '')
        )

        select
            grouping(treatment) as all_treatments,
            grouping(strategy) as all_strategies,
            treatment,
            strategy,
            count(*) as payloads,
            sum(has_new) as payloads_with_new,
            avg(has_new) as share,
            sum(new_items) as new_items,
            sum(items) as items
        from payloads
        group by grouping sets ((), (treatment), (treatment, strategy))
        order by all_treatments desc, treatment, all_strategies desc, strategy
    """
    rows = duckdb.sql(sql).fetchall()
    out: dict[str, object] = {"days": days, "by_treatment": {}, "by_bandit_strategy": {}}
    for all_treatments, all_strategies, treatment, strategy, n, with_new, share, new, items in rows:
        entry = {"payloads": n, "payloads_with_new": int(with_new), "share": round(share, 4),
                 "new_items": int(new), "items": int(items)}
        if all_treatments:
            out["all"] = entry
        elif all_strategies:
            out["by_treatment"][treatment] = entry  # type: ignore[index]
        elif treatment == "bandit":
            out["by_bandit_strategy"][strategy] = entry  # type: ignore[index]
    return out


def new_arrival_catch(run: Path, raw: Path, days: int, horizon: int) -> dict[str, int]:
    """Completed lines of new arrivals bought by emailed customers in the horizon, and caught."""
    items = _path(run / "payload_items.parquet")
    sql = f"""
        with

        items as (
            select distinct customer_id, sku, cast(as_of as date) as as_of_date
            from read_parquet('{items}')
        ),

        as_of as (
            select max(as_of_date) as as_of_date from items
        ),

        products as (
            select sku, min(cast(created_at as date)) as created_date
            from read_parquet('{_path(raw / "products.parquet")}')
            group by sku
        ),

        lines as (
            select orders.customer_id, order_lines.sku
            from read_parquet('{_path(raw / "order_lines.parquet")}') as order_lines
            inner join read_parquet('{_path(raw / "orders.parquet")}') as orders
                on order_lines.order_id = orders.order_id
            cross join as_of
            where
                orders.status = 'completed'
                and cast(orders.ordered_at as date) >= as_of.as_of_date
                and cast(orders.ordered_at as date) < as_of.as_of_date + to_days({horizon})
        ),

        emailed as (
            select distinct customer_id from items
        ),

        new_lines as (
            select lines.customer_id, lines.sku
            from lines
            inner join emailed on lines.customer_id = emailed.customer_id
            inner join products on lines.sku = products.sku
            cross join as_of
            where
                products.created_date >= as_of.as_of_date - to_days({days})
                and products.created_date < as_of.as_of_date
        )

        select
            count(*) as lines,
            count(items.sku) as caught
        from new_lines
        left join items
            on new_lines.customer_id = items.customer_id and new_lines.sku = items.sku
    """
    lines, caught = duckdb.sql(sql).fetchall()[0]
    return {"days": horizon, "new_arrival_lines_of_emailed": int(lines),
            "in_their_email": int(caught)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="Output folder of `run`.")
    parser.add_argument("--raw", type=Path, required=True, help="Raw folder it ran on.")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--horizon", type=int, default=60,
                        help="Days after as_of whose purchases of new arrivals are counted.")
    args = parser.parse_args()
    result = new_arrival_share(args.run, args.raw, args.days)
    if (args.raw / "orders.parquet").exists() and (args.raw / "order_lines.parquet").exists():
        result["horizon"] = new_arrival_catch(args.run, args.raw, args.days, args.horizon)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
