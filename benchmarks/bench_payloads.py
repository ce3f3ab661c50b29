"""Benchmark of the payload step: candidates -> checked payloads on disk (target at `l`:
at least 20k customers/s).

Synthesizes an m-like candidate table (default 200k customers x 24 candidates, variant
families, departments, 8% fallback customers) in the shape of fct_recommendation_candidates,
then times: arm assignment + final pick + payload build + vectorized schema validation
(make_payloads), then writing payloads.jsonl, checking it (size + a jsonschema sample read
back from disk; `--revalidate`: also re-read and validate every line), the flat exports and
the preview. Reports customers/s and peak RSS.

    .venv/bin/python benchmarks/bench_payloads.py [--customers 200000] [--candidates 24]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
from vehicle_recs.arms import ArmContext
from vehicle_recs.runner import make_payloads, write_outputs
from vehicle_recs.settings import load_selection
from vehicle_recs.treatments import ArmWeights, load_weights
from vehicle_recs.warehouse import CANDIDATE_SCHEMA


def synthesize(customers: int, per_customer: int, seed: int = 7) -> pa.Table:
    rng = np.random.default_rng(seed)
    rows = customers * per_customer
    products = 50_000
    product = rng.integers(0, products, rows)
    stem = product // 4  # four SKUs per stem: base, B, R, P -> real variant families
    suffix = np.array(["", "B", "R", "P"])[product % 4]
    sku = np.char.add(np.char.add("P-", stem.astype(str)), suffix)
    departments = np.array(["hard_parts", "accessories", "tools", "apparel"])
    department = departments[rng.choice(4, rows, p=[0.85, 0.06, 0.05, 0.04])]
    categories = np.array(["brakes", "engine", "interior", "ignition", "suspension", "fluids"])
    # zero-padded like the real ids: the warehouse returns rows sorted by customer, then rank
    customer_ids = np.char.add("C", np.char.zfill(np.arange(customers).astype(str), 8))
    fallback = rng.random(customers) < 0.08
    is_fallback = np.repeat(fallback, per_customer)
    vehicle = np.char.add("V", (product % 3000).astype(str))
    score = np.sort(rng.random((customers, per_customer)), axis=1)[:, ::-1].ravel()
    columns = {
        "customer_id": np.repeat(customer_ids, per_customer),
        "candidate_rank": np.tile(np.arange(1, per_customer + 1), customers),
        "sku": sku,
        "family_id": np.char.add("P-", stem.astype(str)),
        "is_variant": np.ones(rows, dtype=bool),
        "vehicle_id": vehicle,
        "vehicle_year": 1960 + product % 40,
        "vehicle_make": np.full(rows, "Chevrolet"),
        "vehicle_model": np.full(rows, "Camaro"),
        "product_name": np.char.add("Part number ", sku),
        "brand": np.full(rows, "Edelbrock"),
        "category": categories[product % 6],
        "department": department,
        "price_usd": np.round(rng.lognormal(4.5, 1.2, rows), 2),
        "image_url": np.char.add(np.char.add("https://images.example.com/p/", sku), ".jpg"),
        "product_url": np.char.add("https://shop.example.com/p/", sku),
        "score": score,
        "vehicle_rate": score / 10,
        "buyer_count": rng.integers(0, 50, rows),
        "owner_count": rng.integers(50, 2000, rows),
        "lift": rng.random(rows) * 10,
        "fitment_breadth": rng.integers(1, 3000, rows),
        "breadth_tier": np.full(rows, "model_line"),
        "price_tier": np.full(rows, "50_to_199"),
        "reason_code": np.where(is_fallback, "fallback_popular", "vehicle_affinity"),
        "reason": np.where(is_fallback, "Popular with customers across all vehicles",
                           "Bought by 41 of 1,212 1969 Chevrolet Camaro owners"),
        "is_fallback": is_fallback,
        "is_replenishment": np.zeros(rows, dtype=bool),
        "is_new_arrival": np.zeros(rows, dtype=bool),
        "as_of_date": np.full(rows, np.datetime64("2024-03-01")),
    }
    no_vehicle = {"vehicle_id", "vehicle_year", "vehicle_make", "vehicle_model"}
    arrays = [
        pa.array(columns[f.name]).cast(pa.date32()) if f.name == "as_of_date"
        else pa.array(columns[f.name], f.type, mask=is_fallback if f.name in no_vehicle else None)
        for f in CANDIDATE_SCHEMA
    ]
    return pa.Table.from_arrays(arrays, schema=CANDIDATE_SCHEMA)


def machine() -> str:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        ram = int(Path("/proc/meminfo").read_text().split()[1]) / 1024**2
    except OSError:
        ram = float("nan")
    return f"{os.cpu_count()} CPUs (nproc), {ram:.1f} GiB RAM, {cpu}, Python {platform.python_version()}"


def peak_rss_mib() -> float:
    """VmHWM of this process (ru_maxrss survives exec on Linux and would count the parent)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(path: Path, revalidate: bool = False, default_arms: bool = False) -> None:
    """The timed part, in a fresh process: read candidates (Arrow), then the payload step."""
    import pyarrow.parquet as pq

    candidates = pq.read_table(path)
    rss_input = peak_rss_mib()
    shares = {"personalized": 0.9, "control": 0.1}
    if default_arms:  # config/arms.json without random (it reads the warehouse's baselines)
        shares = {k: v for k, v in load_weights().weights.items() if k != "random"}
    weights = ArmWeights.from_mapping(shares, "bench")
    start = time.perf_counter()
    context = ArmContext(campaign_id="bench", as_of=date(2024, 3, 1), candidates=candidates)
    del candidates
    result = make_payloads(context, model_version="bench", rules=load_selection(), weights=weights)
    built = time.perf_counter() - start
    steps = dict(result.timings)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        write_outputs(result, Path(folder) / "out", revalidate=revalidate)
        written = time.perf_counter() - start
        size = (Path(folder) / "out" / "payloads.jsonl").stat().st_size
    peak = peak_rss_mib()
    customers = result.summary["customers"]
    total = built + written
    print(f"customers {customers:,}  payloads {result.payloads.num_rows:,}  "
          f"items {result.summary['items']:,}  payloads.jsonl {size / 2**20:.0f} MiB")
    print(f"make_payloads {built:.2f} s {steps}")
    print(f"write jsonl + re-read/validate every line + jsonschema sample + flat Parquet + CSV "
          f"preview {written:.2f} s "
          f"{ {k: v for k, v in result.timings.items() if k not in steps} }")
    print(f"payload step {total:.2f} s = {customers / total:,.0f} customers/s "
          f"(make_payloads alone: {customers / built:,.0f}/s)")
    print(f"peak RSS {peak:,.0f} MiB (of which the candidate table read: {rss_input:,.0f} MiB)")
    print(f"load average during the run: {os.getloadavg()}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--candidates", type=int, default=24)
    parser.add_argument("--revalidate", action="store_true",
                        help="also re-read and validate every line of payloads.jsonl "
                             "(config revalidate_written_file; off by default)")
    parser.add_argument("--default-arms", action="store_true",
                        help="arm weights of config/arms.json (bandit, random: no warehouse "
                             "here, so random is dropped) instead of 90% personalized")
    parser.add_argument("--measure", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        measure(args.measure, revalidate=args.revalidate, default_arms=args.default_arms)
        return

    import subprocess
    import sys

    import pyarrow.parquet as pq

    print(machine())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "candidates.parquet"
        start = time.perf_counter()
        candidates = synthesize(args.customers, args.candidates)
        pq.write_table(candidates, path)
        print(f"synthesized {candidates.num_rows:,} candidate rows "
              f"({candidates.nbytes / 2**20:.0f} MiB in Arrow) in "
              f"{time.perf_counter() - start:.1f} s")
        del candidates
        extra = (["--revalidate"] if args.revalidate else []) + \
            (["--default-arms"] if args.default_arms else [])
        subprocess.run([sys.executable, __file__, "--measure", str(path), *extra], check=True)


if __name__ == "__main__":
    main()
