"""Rotation check: how many items of week t's email come back in week t+1 for customers who
bought nothing in between.

1. Runs the weekly job (`vehicle-recs run`, every customer on the personalized arm) as of D.
2. Appends its payload items to copies of the raw email_sends / email_send_items tables, as
   sent on D at 10:00 UTC without any click (schemas of the raw contract, RAW_SCHEMAS).
3. Runs the weekly job again as of D + --days on the copy.
4. For customers emailed both weeks with no order in [D, D + days), counts the SKUs of week
   t+1's email that were already in week t's (all of them, and without due re-buys, which
   rotation leaves where they are until bought).

    .venv/bin/python benchmarks/rotation_check.py --raw /work/data/s22 --as-of 2026-09-01 \
        --work-dir /tmp/rotation [--var rotation_decay=1]

Without --raw it writes synthetic data first (`vehicle-recs synth --scale s --seed 22`).
--var NAME=VALUE overrides a dbt var in both runs (e.g. rotation_decay=1 turns rotation off).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from vehicle_recs.contract import RAW_SCHEMAS
from vehicle_recs.project import DbtProject
from vehicle_recs.runner import RunOptions, run

ROOT = Path(__file__).resolve().parents[1]


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def weekly(raw: Path, out: Path, as_of: date, work: Path, dbt_vars: dict[str, Any],
           items: int) -> pa.Table:
    """The weekly job as of `as_of`, all customers on the personalized arm; its payload items."""
    project = DbtProject(project_dir=ROOT, duckdb_path=work / "rotation.duckdb",
                         target_path=work / "target", dbt_vars=dict(dbt_vars))
    run(RunOptions(raw_dir=raw, out_dir=out, as_of=as_of, items=items,
                   campaign_id=f"rotation-{as_of.isoformat()}", treatment="personalized",
                   project=project, assignment_log_dir=work / "assignment_log"))
    return pq.read_table(out / "payload_items.parquet",
                         columns=["customer_id", "sku", "reason_code"])


def append_sends(raw: Path, copy: Path, items: pa.Table, as_of: date) -> None:
    """A copy of `raw` whose email_sends / email_send_items also hold `items`, sent on as_of
    at 10:00 UTC (no events: nothing was clicked)."""
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(raw, copy)
    customers = pc.unique(items["customer_id"])
    send_of = {customer: f"rotation-{as_of.isoformat()}-{customer}"
               for customer in customers.to_pylist()}
    sent_at = datetime.combine(as_of, datetime.min.time(), tzinfo=UTC) + timedelta(
        hours=10)
    sends = pa.table({
        "send_id": list(send_of.values()),
        "campaign_id": [f"rotation-{as_of.isoformat()}"] * len(send_of),
        "customer_id": list(send_of),
        "sent_at": [sent_at] * len(send_of),
        "treatment": ["personalized"] * len(send_of),
        "model_version": ["rotation_check"] * len(send_of),
        "propensity": [1.0] * len(send_of),
    }, schema=RAW_SCHEMAS["email_sends"])
    position: dict[str, int] = {}
    send_ids, positions = [], []
    for customer in items["customer_id"].to_pylist():
        position[customer] = position.get(customer, 0) + 1
        send_ids.append(send_of[customer])
        positions.append(position[customer])
    send_items = pa.table({"send_id": send_ids, "position": positions,
                           "sku": items["sku"].to_pylist()},
                          schema=RAW_SCHEMAS["email_send_items"])
    for name, new in (("email_sends", sends), ("email_send_items", send_items)):
        old = pq.read_table(raw / f"{name}.parquet").cast(RAW_SCHEMAS[name])
        pq.write_table(pa.concat_tables([old, new]), copy / f"{name}.parquet")


def buyers_between(raw: Path, start: date, end: date) -> set[str]:
    """Customers with any order (any status) in [start, end)."""
    orders = pq.read_table(raw / "orders.parquet", columns=["customer_id", "ordered_at"])
    lo = pa.scalar(datetime.combine(start, datetime.min.time(), tzinfo=UTC),
                   orders["ordered_at"].type)
    hi = pa.scalar(datetime.combine(end, datetime.min.time(), tzinfo=UTC),
                   orders["ordered_at"].type)
    mask = pc.and_(pc.greater_equal(orders["ordered_at"], lo), pc.less(orders["ordered_at"], hi))
    return set(pc.unique(orders.filter(mask)["customer_id"]).to_pylist())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw", type=Path, help="raw folder (default: synth --scale s)")
    parser.add_argument("--seed", type=int, default=22, help="synth seed without --raw")
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 9, 1))
    parser.add_argument("--days", type=int, default=7, help="days between the two sends")
    parser.add_argument("--items", type=int, default=6)
    parser.add_argument("--work-dir", type=Path, required=True)
    parser.add_argument("--var", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--out", type=Path, help="write the numbers as JSON here")
    args = parser.parse_args()
    dbt_vars = {name: _value(value)
                for name, _, value in (item.partition("=") for item in args.var)}
    work = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("VEHICLE_RECS_ASSIGNMENT_LOG", str(work / "assignment_log"))
    raw = args.raw
    if raw is None:
        raw = work / f"raw-s-{args.seed}"
        if not (raw / "orders.parquet").exists():
            subprocess.run([str(Path(sys.executable).parent / "vehicle-recs"), "synth",
                            "--scale", "s", "--seed", str(args.seed), "--out", str(raw)],
                           check=True)
    raw = raw.resolve()
    week_t, week_next = args.as_of, args.as_of + timedelta(days=args.days)

    first = weekly(raw, work / "week_t", week_t, work, dbt_vars, args.items)
    copy = work / "raw_with_week_t"
    append_sends(raw, copy, first, week_t)
    second = weekly(copy, work / "week_t1", week_next, work, dbt_vars, args.items)

    buyers = buyers_between(raw, week_t, week_next)
    shown: dict[str, set[str]] = {}
    for customer, sku in zip(first["customer_id"].to_pylist(), first["sku"].to_pylist(),
                             strict=True):
        shown.setdefault(customer, set()).add(sku)
    again: dict[str, list[tuple[str, str]]] = {}
    for customer, sku, reason in zip(second["customer_id"].to_pylist(),
                                     second["sku"].to_pylist(),
                                     second["reason_code"].to_pylist(), strict=True):
        again.setdefault(customer, []).append((sku, reason))
    kept = [(customer, items) for customer, items in again.items()
            if customer in shown and customer not in buyers]
    repeats = [sum(sku in shown[customer] for sku, _ in items) for customer, items in kept]
    repeats_new = [sum(sku in shown[customer] for sku, reason in items
                       if reason != "replenishment") for customer, items in kept]
    histogram = {str(n): repeats.count(n) for n in range(args.items + 1)}
    histogram_new = {str(n): repeats_new.count(n) for n in range(args.items + 1)}
    result = {
        "raw": str(raw), "as_of": week_t.isoformat(), "next_as_of": week_next.isoformat(),
        "vars": dbt_vars, "items": args.items,
        "customers_both_weeks_no_purchase": len(repeats),
        "mean_repeats": sum(repeats) / len(repeats) if repeats else None,
        "max_repeats": max(repeats) if repeats else None,
        "share_over_2_repeats": (sum(n > 2 for n in repeats) / len(repeats)
                                 if repeats else None),
        "repeats_histogram": histogram,
        "mean_repeats_without_rebuys": (sum(repeats_new) / len(repeats_new)
                                        if repeats_new else None),
        "share_over_2_repeats_without_rebuys": (sum(n > 2 for n in repeats_new)
                                                / len(repeats_new) if repeats_new else None),
        "repeats_histogram_without_rebuys": histogram_new,
    }
    print(json.dumps(result, indent=2))
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
