"""Time and peak memory of `dbt build` on synthetic data of one scale.

    .venv/bin/python benchmarks/dbt_build_scale.py --scale m --seed 7 --work-dir /tmp/bench_m \
        [--select "+fct_recommendation_candidates +fct_baseline_candidates"] \
        [--append benchmarks/dbt_build_results.md]

Generates the raw data (unless --raw is given), runs `dbt build` in-process on DuckDB into
work-dir, and prints wall time, peak resident memory of this process (dbt and DuckDB run in it),
the slowest nodes and the machine. With --append it adds a markdown section to a results file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from datetime import UTC, datetime
from pathlib import Path

from vehicle_recs.project import DbtProject


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        ram = f"{pages / 2**30:.1f} GiB RAM"
    except (ValueError, OSError):
        ram = "unknown RAM"
    return f"{os.cpu_count()} CPUs ({cpu}), {ram}, {platform.system()} {platform.release()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="m")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--raw", type=Path, default=None)
    parser.add_argument("--work-dir", type=Path, required=True)
    parser.add_argument("--select", default=None, help="dbt selection (default: everything)")
    parser.add_argument("--as-of", default=None)
    parser.add_argument("--append", type=Path, default=None)
    args = parser.parse_args()

    args.work_dir.mkdir(parents=True, exist_ok=True)
    raw = args.raw
    generate_seconds = None
    if raw is None:
        from vehicle_recs.synth import generate

        raw = args.work_dir / f"raw_{args.scale}_{args.seed}"
        started = time.perf_counter()
        generate(args.scale, args.seed, raw)
        generate_seconds = time.perf_counter() - started

    dbt_vars = {"raw_dir": str(raw.resolve())}
    if args.as_of:
        dbt_vars["as_of"] = args.as_of
    db = args.work_dir / "bench.duckdb"
    db.unlink(missing_ok=True)
    project = DbtProject(duckdb_path=db, target_path=args.work_dir / "target", dbt_vars=dbt_vars)
    command = ["build"] + (["--select", *args.select.split()] if args.select else [])
    started = time.perf_counter()
    error = None
    try:
        project.invoke(command)
    except Exception as exc:  # noqa: BLE001 - report the failure with the timing, exit 1 below
        error = exc
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    run_results = json.loads((args.work_dir / "target" / "run_results.json").read_text())
    slowest = sorted(run_results["results"], key=lambda r: -r["execution_time"])[:8]
    lines = [
        (f"### dbt build, scale {args.scale} seed {args.seed}"
         f" ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)"),
        "",
        f"- machine: {machine()}",
        f"- command: `dbt {' '.join(command)}` (vars {json.dumps(dbt_vars)})",
        f"- result: {'PASSED' if error is None else f'FAILED: {error}'}",
        f"- wall time: {seconds:.0f} s"
        + (f" (data generation {generate_seconds:.0f} s, not included)"
           if generate_seconds else ""),
        f"- peak resident memory (dbt + DuckDB, one process): {peak_mib:,.0f} MiB",
        f"- database file: {db.stat().st_size / 2**20:,.0f} MiB",
        "- slowest nodes: " + ", ".join(
            f"{r['unique_id'].split('.')[-1]} {r['execution_time']:.1f} s" for r in slowest),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.append:
        with args.append.open("a") as handle:
            handle.write(text + "\n")
    if error is not None:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
