"""What the weekly build would scan on BigQuery: a dry run per model and test.

`vehicle-recs estimate --target prod` compiles the `weekly` selector against the profile's prod
output (`dbt compile`, which reads the warehouse's metadata but runs no model), then sends each
compiled node's SQL as a dry-run query job (`QueryJobConfig(dry_run=True)`): BigQuery plans it
and answers with the bytes it would process, free of charge. A dry run resolves every table the
SQL names, so the raw dataset must be loaded and the weekly build must have run once (the
models read each other's tables); a node that cannot be planned is listed with BigQuery's
message instead of a number.

Views (the intermediate models) cost nothing to create: the bytes they read are counted in the
tables and tests that select from them, so the total adds tables, incremental models and
tests only. On-demand pricing bills at least 10 MB per table read by a query.

The local emulator (crucible-emulator 0.1.0a2) refuses dry-run jobs ("Not supported by
Crucible: dry-run jobs"): the numbers need a real project; the code path is tested with a stub
client (python/tests/test_bigquery_backtest.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vehicle_recs.project import DbtProject
from vehicle_recs.warehouse import load_manifest, load_run_results

WEEKLY_SELECTOR = "weekly"
BILLED_KINDS = ("table", "incremental", "test")  # views and ephemerals are read by these


@dataclass(frozen=True)
class NodeEstimate:
    name: str
    kind: str  # the model's materialization, or "test"
    bytes_processed: int | None  # None: the dry run failed (error says why)
    error: str = ""


def compiled_nodes(project: DbtProject) -> list[tuple[str, str, str]]:
    """(name, kind, compiled SQL) of every node the last `dbt compile` compiled, in its order."""
    manifest = load_manifest(project.target_dir)
    nodes = manifest.get("nodes", {})
    out = []
    for result in load_run_results(project.target_dir).get("results", []):
        node = nodes.get(result.get("unique_id"), {})
        sql = result.get("compiled_code") or node.get("compiled_code") or ""
        if node.get("resource_type") not in ("model", "test") or not sql.strip():
            continue
        kind = ("test" if node["resource_type"] == "test"
                else str(node.get("config", {}).get("materialized", "")))
        out.append((str(node.get("name")), kind, sql))
    return out


def dry_run(client: Any, sql: str) -> int:
    """Bytes BigQuery would process for `sql` (a dry-run query job; nothing runs or is billed)."""
    from google.cloud import bigquery

    job = client.query(sql, job_config=bigquery.QueryJobConfig(dry_run=True,
                                                                use_query_cache=False))
    return int(job.total_bytes_processed or 0)


def estimate_weekly(project: DbtProject, client: Any,
                    progress: Callable[[str], None] = lambda _: None) -> list[NodeEstimate]:
    """Compile the weekly selector on the project's target, then dry-run every node."""
    from google.api_core.exceptions import GoogleAPICallError

    progress("dbt compile of the weekly build")
    project.invoke(["compile", "--quiet", "--selector", WEEKLY_SELECTOR])
    estimates = []
    for name, kind, sql in compiled_nodes(project):
        progress(f"dry run of {name}")
        try:
            estimates.append(NodeEstimate(name, kind, dry_run(client, sql)))
        except GoogleAPICallError as error:
            message = str(getattr(error, "message", error)).splitlines()[0][:200]
            estimates.append(NodeEstimate(name, kind, None, message))
    return estimates


def billed_total(estimates: list[NodeEstimate]) -> int:
    return sum(e.bytes_processed or 0 for e in estimates if e.kind in BILLED_KINDS)


def human_bytes(count: int | None) -> str:
    if count is None:
        return "-"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} TiB"  # pragma: no cover - the loop returns


def format_estimates(estimates: list[NodeEstimate]) -> str:
    """One line per node, largest first, then the total of tables and tests."""
    width = max((len(e.name) for e in estimates), default=10)
    ordered = sorted(estimates, key=lambda e: -(e.bytes_processed or 0))
    lines = [f"{e.name:<{width}}  {e.kind:<11} {human_bytes(e.bytes_processed):>12}"
             + (f"  dry run failed: {e.error}" if e.error else "") for e in ordered]
    failed = sum(1 for e in estimates if e.bytes_processed is None)
    lines.append(f"{'total (tables, incremental, tests)':<{width}}  {'':<11} "
                 f"{human_bytes(billed_total(estimates)):>12}"
                 + (f"  ({failed} node(s) could not be planned)" if failed else ""))
    return "\n".join(lines)


def prod_project(client: Any | None = None) -> tuple[DbtProject, Any]:
    """The weekly build's dbt project on the profile's prod output, with the vars `run --target
    prod` passes (raw dataset, assignment log once it exists), and the profile's client."""
    from vehicle_recs import bigquery_io

    project = DbtProject(target="prod")
    bigquery = bigquery_io.connect(project, client=client)
    bigquery_io.check_raw_dataset(bigquery)
    project.dbt_vars = {"raw_dataset": bigquery.raw_dataset,
                        **bigquery_io.BigQueryAssignmentLog(bigquery).dbt_vars()}
    return project, bigquery.client
