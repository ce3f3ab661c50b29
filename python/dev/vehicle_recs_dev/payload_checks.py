"""Checks of a finished run's payloads against the raw tables, for the tests (not part of the
installed package).

`fitment_violations` reads `payloads.jsonl` and the raw Parquet files with DuckDB and counts the
items the run should never have picked; it does not read the dbt models, so it checks them too.
"""

from __future__ import annotations

from pathlib import Path

import duckdb


def fitment_violations(payloads_path: Path, raw_dir: Path) -> int:
    """Payload items that do not fit the vehicle they were picked for, or whose vehicle is not
    the customer's (garage, or chosen when buying); universal parts fit every vehicle.

    Checked against the raw tables (not the models).
    """

    def raw(table: str) -> str:
        return "read_parquet('" + str(raw_dir / f"{table}.parquet").replace("'", "''") + "')"

    payloads = str(payloads_path).replace("'", "''")
    sql = f"""
        with items as (
            select payload.customer_id, item.sku, item.vehicle_id
            from read_json('{payloads}', format = 'newline_delimited') as payload,
                unnest(payload.items) as unnested(item)
        ),
        owned as (
            select customer_id, vehicle_id from {raw('customer_vehicles')}
            union
            select orders.customer_id, lines.vehicle_id
            from {raw('order_lines')} as lines
            inner join {raw('orders')} as orders on lines.order_id = orders.order_id
        ),
        universal as (select sku from {raw('products')} where is_universal)
        select count(*) from items
        where items.vehicle_id is not null and (
            items.vehicle_id not in (
                select owned.vehicle_id from owned where owned.customer_id = items.customer_id
            )
            or (
                items.sku not in (select sku from universal)
                and not exists (
                    select 1 from {raw('fitment')} as fitment
                    where fitment.sku = items.sku and fitment.vehicle_id = items.vehicle_id
                )
            )
        )
    """
    with duckdb.connect() as con:
        row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0
