"""Measure the synthetic generator: wall time and peak memory for one scale.

Runs `vehicle_recs.synth.generate` in a child process (so its peak RSS is the generator's
alone), writes the data to a temporary folder (deleted afterwards unless --keep), and appends
one row to benchmarks/synth_results.md with the machine it ran on.

    python benchmarks/bench_synth.py --scale m
    python benchmarks/bench_synth.py --scale l --out /tmp/synth_l
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).with_name("synth_results.md")
HEADER = """# Synthetic data generator: benchmark results

Targets: the `l` scale (2M customers, 200k products, 30k vehicles, ~10M order
lines, ~10M fitment rows) in at most 10 minutes and 8 GiB peak memory on a 2-core machine.
Rows are appended by `benchmarks/bench_synth.py`; peak memory is the child process's max RSS.

"""
COLUMNS = ("date (UTC)", "scale", "seed", "customers", "products", "vehicles", "fitment",
           "orders", "order lines", "email sends", "send items", "events", "wall (s)",
           "peak RSS (GiB)", "machine")
TABLE_HEAD = ("| " + " | ".join(COLUMNS) + " |\n|"
              + "".join(" --- |" if i < 3 or i == len(COLUMNS) - 1 else " ---: |"
                        for i in range(len(COLUMNS))) + "\n")
CHILD = """
import json, sys
from pathlib import Path
from vehicle_recs.synth import generate
counts = generate(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]),
                  progress=lambda m: print(m, file=sys.stderr, flush=True))
print(json.dumps(counts))
"""


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} CPU ({cpu}), {memory_gib:.0f} GiB RAM, "
            f"Python {platform.python_version()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=["xs", "s", "m", "l"], default="m")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: a temporary folder under /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    parser.add_argument("--no-record", action="store_true",
                        help="print the result without appending it to synth_results.md")
    args = parser.parse_args(argv)

    out = args.out or Path(tempfile.mkdtemp(prefix=f"synth_{args.scale}_", dir="/tmp"))
    start = time.perf_counter()
    child = subprocess.run([sys.executable, "-c", CHILD, args.scale, str(args.seed), str(out)],
                           stdout=subprocess.PIPE, text=True, check=False)
    wall = time.perf_counter() - start
    peak_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20  # KiB on Linux
    try:
        if child.returncode != 0:
            print(f"generator failed with exit code {child.returncode}", file=sys.stderr)
            return child.returncode
        counts = json.loads(child.stdout.strip().splitlines()[-1])
    finally:
        if not args.keep:
            shutil.rmtree(out, ignore_errors=True)

    cols = ["customers", "products", "vehicles", "fitment", "orders", "order_lines",
            "email_sends", "email_send_items", "email_events"]
    row = (f"| {datetime.now(UTC):%Y-%m-%d %H:%M} | {args.scale} | {args.seed} | "
           + " | ".join(f"{counts[c]:,}" for c in cols)
           + f" | {wall:.1f} | {peak_gib:.2f} | {machine()} |")
    print(row)
    if not args.no_record:
        if not RESULTS.exists():
            RESULTS.write_text(HEADER + TABLE_HEAD)
        with RESULTS.open("a") as handle:
            handle.write(row + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
