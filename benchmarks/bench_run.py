"""Scale benchmark of the weekly job: `vehicle-recs run` end to end against a reference query.

    .venv/bin/python benchmarks/bench_run.py --scale m [--seed 7] [--raw DIR] \
        [--data-dir /work/data] [--work-dir DIR] [--append benchmarks/run_results.md] \
        [--skip-run] [--timeout 1800]

1. Raw data: --raw, else <data-dir>/raw_<scale><seed> when it holds the ten tables, else
   `vehicle-recs synth` writes it there.
2. The reference: benchmarks/reference_ranking.sql (the bare core ranking, one DuckDB query with
   default settings) in a fresh Python process, writing (customer_id, rank, sku) to parquet.
3. `vehicle-recs run` as a subprocess with its DuckDB file, dbt target, dbt logs and assignment
   log in the work dir (the repo's own database is not touched).
Both processes are timed (wall) and their peak resident memory measured: the sum over the
process tree sampled every 0.2 s with psutil, and the kernel's peak of the largest single
process (wait4). The markdown section printed at the end is appended to --append.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

try:
    import psutil
except ImportError:  # fall back to the kernel's per-child peak (wait4) only
    psutil = None

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
REFERENCE_SQL = Path(__file__).with_name("reference_ranking.sql")
TABLES = ("vehicles", "products", "fitment", "customers", "customer_vehicles", "orders",
          "order_lines", "email_sends", "email_send_items", "email_events")
# Phases of summary.json "timings_s" outside the Python payload step (runner.run): dbt, reading
# the final model, the family check, and the writes (whose sub-steps write_jsonl,
# check_written, write_exports, preview are also listed, inside "write").
NOT_PAYLOAD = {"source_freshness", "dbt_build", "read", "family_check", "write", "write_jsonl",
               "revalidate_file", "check_written", "write_exports", "preview",
               "assignment_log_write"}

# Runs in a fresh interpreter so its memory is its own: argv = sql file, raw folder, out file.
REFERENCE_CHILD = """
import json, sys, time
import duckdb
sql_path, raw, out = sys.argv[1:4]
query = open(sql_path).read().replace("{raw}", raw).strip().rstrip(";")
started = time.perf_counter()
con = duckdb.connect()
con.execute(f"copy ({query}) to '{out}' (format parquet)")
seconds = time.perf_counter() - started
rows, customers = con.execute(
    f"select count(*), count(distinct customer_id) from read_parquet('{out}')").fetchone()
print(json.dumps({"query_s": seconds, "rows": rows, "customers": customers}))
"""


@dataclass
class Measured:
    """One measured subprocess: wall seconds, peak RSS (MiB) and how it ended."""

    seconds: float
    tree_peak_mib: float | None  # psutil: sum over the process tree, sampled every 0.2 s
    process_peak_mib: float  # kernel: peak of the largest single process in the tree
    returncode: int | None  # None: killed at the timeout
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def memory(self) -> str:
        tree = f"{self.tree_peak_mib:,.0f} MiB" if self.tree_peak_mib is not None else "n/a"
        return (f"peak RSS {tree} (process tree, psutil every 0.2 s); largest single process "
                f"{self.process_peak_mib:,.0f} MiB (kernel ru_maxrss)")


def _tree_rss(process: Any) -> int:
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # a child that just ended
            total += proc.memory_info().rss
    return total


def measure(command: list[str], log: Path, timeout: float, env: dict[str, str] | None = None,
            cwd: Path = REPO) -> Measured:
    """Run command in its own process group, polling memory; kill the group at the timeout.

    stdout and stderr go to <log>.out and <log>.err.
    """
    with open(log.with_suffix(".out"), "w") as out, open(log.with_suffix(".err"), "w") as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=err,
                                 start_new_session=True)
        watched = psutil.Process(child.pid) if psutil is not None else None
        tree_peak = 0
        while True:
            if watched is not None:
                with contextlib.suppress(psutil.Error):
                    tree_peak = max(tree_peak, _tree_rss(watched))
            # wait4, not Popen.wait: it also gives the child's peak RSS (ru_maxrss, KiB)
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                returncode: int | None = os.waitstatus_to_exitcode(status)
                break
            if time.perf_counter() - started > timeout:
                os.killpg(child.pid, signal.SIGKILL)
                _, _, usage = os.wait4(child.pid, 0)
                returncode = None
                break
            time.sleep(0.2)
        seconds = time.perf_counter() - started
    child.returncode = -signal.SIGKILL if returncode is None else returncode  # reaped above
    return Measured(seconds=seconds,
                    tree_peak_mib=tree_peak / 2**20 if watched is not None else None,
                    process_peak_mib=usage.ru_maxrss / 1024, returncode=returncode,
                    stdout=log.with_suffix(".out").read_text(),
                    stderr=log.with_suffix(".err").read_text())


def raw_folder(args: argparse.Namespace) -> Path:
    """The raw folder to use; generated with `vehicle-recs synth` when missing or incomplete."""
    if args.raw is not None:
        return args.raw.resolve()
    raw = (args.data_dir / f"raw_{args.scale}{args.seed}").resolve()
    missing = [t for t in TABLES if not (raw / f"{t}.parquet").exists()]
    if missing:
        print(f"{raw}: missing {', '.join(missing)}; generating (vehicle-recs synth)",
              flush=True)
        started = time.perf_counter()
        subprocess.run([str(BIN / "vehicle-recs"), "synth", "--scale", args.scale,
                        "--seed", str(args.seed), "--out", str(raw)], check=True)
        print(f"generated in {time.perf_counter() - started:.0f} s")
    return raw


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    ram = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    system = f"{platform.system()} {platform.release()}"
    return f"{os.cpu_count()} CPUs ({cpu}), {ram:.1f} GiB RAM, {system}"


def load() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def slowest_nodes(target: Path, count: int = 10) -> list[str]:
    path = target / "run_results.json"
    if not path.exists():
        return []
    results = json.loads(path.read_text())["results"]
    results.sort(key=lambda r: -r["execution_time"])
    names = []
    for result in results[:count]:
        parts = result["unique_id"].split(".")  # test.<project>.<name>.<hash>: keep the name
        name = f"test {parts[2]}" if parts[0] == "test" else parts[-1]
        names.append(f"{name} {result['execution_time']:.1f} s")
    return names


def run_job(raw: Path, work: Path, scale: str, timeout: float) -> tuple[list[str], float | None]:
    """`vehicle-recs run` end to end: the report lines and its wall seconds (None: failed)."""
    for stale in ("out", "target", "logs", "assignment_log", "run.duckdb", "run.duckdb.wal"):
        path = work / stale  # a clean start: no earlier build, campaign log or outputs
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    env = {**os.environ, "VEHICLE_RECS_DUCKDB_PATH": str(work / "run.duckdb"),
           "DBT_TARGET_PATH": str(work / "target"), "DBT_LOG_PATH": str(work / "logs"),
           "VEHICLE_RECS_ASSIGNMENT_LOG": str(work / "assignment_log")}
    command = [str(BIN / "vehicle-recs"), "run", "--raw", str(raw), "--out", str(work / "out"),
               "--campaign", f"bench-{scale}"]
    print(f"run: {' '.join(command)}", flush=True)
    job = measure(command, work / "run", timeout, env=env)
    lines = [f"- run command: `{' '.join(['vehicle-recs', *command[1:]])}` (env: files in WORK)"]
    if not job.ok:
        how = "timeout" if job.returncode is None else f"failed (exit {job.returncode})"
        tail = job.stderr.strip().splitlines()[-3:]
        print("\n".join(tail))
        lines.append(f"- run: {how} after {job.seconds:.0f} s; {job.memory()}")
        if tail:
            lines.append(f"- last error lines: `{' | '.join(tail)}`")
        nodes = ", ".join(slowest_nodes(work / "target")) or "none (no run_results.json)"
        return [*lines, f"- slowest dbt nodes: {nodes}"], None
    summary = json.loads((work / "out" / "summary.json").read_text())
    timings: dict[str, float] = summary["timings_s"]
    customers, payloads = int(summary["customers"]), int(summary["payloads"])
    payload_steps = {k: v for k, v in timings.items() if k not in NOT_PAYLOAD}
    payload_s = sum(payload_steps.values())
    written_s = payload_s + timings.get("write", 0.0) + timings.get("assignment_log_write", 0.0)
    order_lines = pq.read_metadata(raw / "order_lines.parquet").num_rows
    return [*lines,
            f"- run: {job.seconds:.1f} s wall; {job.memory()}",
            f"- customers {customers:,}, payloads {payloads:,}",
            "- phases (summary.json timings_s, s): "
            + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()),
            (f"- payload step: {payload_s:.1f} s = sum of the make_payloads steps "
             f"({' + '.join(payload_steps)}) = {customers / payload_s:,.0f} customers/s; "
             f"adding write + assignment_log_write: {written_s:.1f} s = "
             f"{customers / written_s:,.0f} customers/s (write's sub-steps not counted twice)"),
            (f"- cost: {job.seconds / customers * 1e6:,.0f} µs of run wall per customer, "
             f"{job.seconds / order_lines * 1e6:,.1f} µs per order line"),
            f"- slowest dbt nodes: {', '.join(slowest_nodes(work / 'target'))}"], job.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=["s", "m", "l"], required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--raw", type=Path, default=None)
    parser.add_argument("--data-dir", type=Path, default=Path("/work/data"))
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="default: /tmp/bench_run_<scale><seed>")
    parser.add_argument("--append", type=Path, default=None)
    parser.add_argument("--skip-run", action="store_true", help="time only the reference")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds, per process")
    args = parser.parse_args()
    work = (args.work_dir or Path(f"/tmp/bench_run_{args.scale}{args.seed}")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    load_start = load()

    raw = raw_folder(args)
    rows = {t: pq.read_metadata(raw / f"{t}.parquet").num_rows
            for t in ("customers", "order_lines", "fitment")}
    print("rows: " + ", ".join(f"{t} {n:,}" for t, n in rows.items()), flush=True)

    print(f"reference: {REFERENCE_SQL.name} on {raw}", flush=True)
    out = work / "reference_ranking.parquet"
    out.unlink(missing_ok=True)
    ref = measure([sys.executable, "-c", REFERENCE_CHILD, str(REFERENCE_SQL), str(raw), str(out)],
                  work / "reference", args.timeout)
    if ref.ok:
        made = json.loads(ref.stdout.strip().splitlines()[-1])
        ref_line = (f"- reference ({REFERENCE_SQL.name}, DuckDB defaults, fresh process): "
                    f"{ref.seconds:.1f} s wall (query {made['query_s']:.1f} s); {ref.memory()}; "
                    f"{made['customers']:,} customers, {made['rows']:,} rows")
    else:
        how = "timeout" if ref.returncode is None else f"failed (exit {ref.returncode})"
        ref_line = f"- reference: {how} after {ref.seconds:.0f} s: {ref.stderr.strip()[-300:]}"
    print(ref_line, flush=True)

    job_lines: list[str] = ["- run: skipped (--skip-run)"]
    run_seconds = None
    if not args.skip_run:
        job_lines, run_seconds = run_job(raw, work, args.scale, args.timeout)
    if run_seconds is not None and ref.ok:
        job_lines.append(f"- ratio run / reference (wall): {run_seconds / ref.seconds:.1f}x")
    if psutil is None:
        job_lines.append("- psutil not installed: only the kernel's single-process peak")

    text = "\n".join([
        (f"### vehicle-recs run vs reference, scale {args.scale} seed {args.seed}"
         f" ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)"),
        "",
        f"- data: {raw}: " + ", ".join(f"{t} {n:,}" for t, n in rows.items()),
        f"- machine: {machine()}",
        f"- load average (1/5/15 min): {load_start} at start, {load()} at end",
        ref_line,
        *job_lines,
        "",
    ])
    print("\n" + text)
    if args.append:
        with args.append.open("a") as handle:
            handle.write(text + "\n")
    if not ref.ok or (not args.skip_run and run_seconds is None):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
