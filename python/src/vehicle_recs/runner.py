"""`vehicle-recs run`: dbt build, then payloads, assignments, flat export, preview and summary.

Order matters for safety:
1. every option is checked (date, arm, K) and the raw folder against the contract — before dbt;
2. `dbt build` runs models, seeds and every test: a failing guardrail raises DbtError and the
   run stops before any payload exists;
3. the payloads are built and checked (JSON Schema, one family per email, one object per
   customer) in memory, then written into a staging folder beside OUT and checked there
   (payloads.jsonl: exact size + a jsonschema-validated sample read back from disk);
4. only then are the files moved into OUT, one `os.replace` each (summary.json last), so a
   previous run's outputs stay untouched unless the new run passed every check;
5. the campaign's assignment log (arm, strategy, context and propensities of every assigned
   customer) is written, then the files are published. The next run's dbt build reads every
   campaign's log into the bandit's evidence mart.

Two targets, one code path (only where the raw data and the log live differ, `AssignmentLog`):
- `dev` (default): dbt on DuckDB reads the raw folder `--raw` in place (var `raw_dir`); the log
  is one Parquet file per campaign, `<log dir>/<campaign>.parquet`, written atomically (var
  `assignment_log_dir`); the folder is RunOptions.assignment_log_dir, else
  $VEHICLE_RECS_ASSIGNMENT_LOG, else `<project>/data/assignment_log`.
- `prod`: dbt on BigQuery (the profile's `prod` output) reads the raw dataset that `vehicle-recs
  load-raw --target prod` filled (var `raw_dataset`); the log is the table `assignment_log`,
  each campaign replaced in one MERGE (var `assignment_log_dataset`); the warehouse reads
  through the BigQuery client. See `bigquery_io`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from vehicle_recs import __version__, bandit, bandit_arm
from vehicle_recs.arms import Arm, ArmContext, arm_decisions
from vehicle_recs.contract import check_raw_dir
from vehicle_recs.errors import VehicleRecsError, user_path
from vehicle_recs.outputs import write_csv, write_flat_items, write_jsonl, write_text
from vehicle_recs.payload_schema import check_written, load_schema, validate_file, validate_table
from vehicle_recs.payloads import build_payloads, check_guardrails
from vehicle_recs.preview import render_preview
from vehicle_recs.project import DbtError, DbtProject
from vehicle_recs.selection import select_items
from vehicle_recs.settings import (
    PayloadsConfig,
    SelectionRules,
    check_apparel_caps,
    load_payloads,
    load_selection,
)
from vehicle_recs.treatments import (
    ArmWeights,
    RandomArm,
    assign,
    get_arm,
    load_weights,
)
from vehicle_recs.variants import family_mismatches, load_suffixes
from vehicle_recs.warehouse import FINAL_MODEL, Warehouse, open_warehouse

Progress = Callable[[str], None]
# selectors.yml: the final model, the random arm's baseline and the bandit's evidence with their
# parents and data tests; unit tests and reporting marts are not part of the weekly job.
WEEKLY_SELECTOR = "weekly"
CAMPAIGN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
OUTPUT_FILES = ("payload_items.parquet", "assignments.csv", "preview.html", "payloads.jsonl",
                "summary.json")
TARGETS = ("dev", "prod")  # dev: DuckDB on a raw folder; prod: BigQuery


@dataclass
class RunOptions:
    raw_dir: Path | None  # dev only; prod reads the raw dataset (`vehicle-recs load-raw`)
    out_dir: Path
    as_of: date | None = None  # default: the day after the last order (the models' default)
    items: int | None = None
    campaign_id: str | None = None
    treatment: str | None = None
    project: DbtProject | None = None  # default: DbtProject() (env VEHICLE_RECS_DUCKDB_PATH, ...)
    assignment_log_dir: Path | None = None  # default: bandit.assignment_log_dir(project dir)
    target: str = "dev"  # a profile output: dev (DuckDB) or prod (BigQuery)
    dbt_vars: dict[str, Any] = field(default_factory=dict)  # --var: overrides for the build


class AssignmentLog(Protocol):
    """Where a target keeps the bandit's assignment log."""

    def check_writable(self) -> None: ...

    def dbt_vars(self) -> dict[str, str]: ...

    def write(self, rows: pa.Table, campaign_id: str) -> str: ...


@dataclass
class FileAssignmentLog:
    """dev: one Parquet file per campaign in a folder (a rerun replaces the campaign's file)."""

    folder: Path

    def check_writable(self) -> None:
        check_writable_folder(self.folder, "the assignment log folder")

    def dbt_vars(self) -> dict[str, str]:
        return ({"assignment_log_dir": str(self.folder)} if bandit.has_assignment_log(self.folder)
                else {})

    def write(self, rows: pa.Table, campaign_id: str) -> str:
        with user_path(self.folder, "write the assignment log to"):
            return str(bandit.write_assignment_log(rows, self.folder, campaign_id))


@dataclass
class PayloadRun:
    """Everything the payload step produced, in memory."""

    payloads: pa.Table
    assignments: pa.Table  # one row per customer, with strategy/context of the assignment log
    summary: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    assignment_log: pa.Table = field(
        default_factory=bandit.ASSIGNMENT_LOG_SCHEMA.empty_table)  # bandit.ASSIGNMENT_LOG_SCHEMA


def check_campaign_id(campaign_id: str) -> str:
    # fullmatch: `$` in re.match would accept a trailing newline (it broke the CSV and log name)
    if not CAMPAIGN_ID.fullmatch(campaign_id):
        raise VehicleRecsError(
            f"bad --campaign {campaign_id!r}: use letters, digits, '.', '_', '-'")
    return campaign_id


@contextmanager
def _timed(timings: dict[str, float], step: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    timings[step] = round(time.perf_counter() - start, 3)


def make_payloads(context: ArmContext, *, model_version: str, rules: SelectionRules,
                  weights: ArmWeights, forced: str | None = None,
                  suffixes: dict[str, str] | None = None, config: PayloadsConfig | None = None,
                  progress: Progress = lambda _: None) -> PayloadRun:
    """The payload step: assign arms, rank per arm, pick K items, build and check payloads.

    Once every arm that reads it has ranked, `context.candidates` is emptied: at the retailer's
    scale the candidates and every arm's payloads do not fit in memory side by side (give the
    context the only reference to the table).
    """
    timings: dict[str, float] = {}
    suffixes = suffixes if suffixes is not None else load_suffixes()
    config = config if config is not None else load_payloads()
    campaign_id, as_of = context.campaign_id, context.as_of
    candidates = context.candidates
    with _timed(timings, "assign"):
        customers = pc.unique(candidates["customer_id"]).sort()
        assignments = assign(customers.to_pylist(), campaign_id, weights, forced)
        # every customer's best candidate: the assignment log's context
        leaders = candidates.filter(pc.equal(candidates["candidate_rank"], 1))
    del candidates
    parts = []
    decision_parts = []
    sizes = {row["values"]: row["counts"]
             for row in pc.value_counts(assignments["treatment"]).to_pylist()}
    arms = [arm for arm in map(get_arm, sorted(sizes)) if arm.sends_email]
    # Memory: the arms that read the final model go first, the largest of them last; the
    # final model's rows are freed as soon as that one has picked, before its payloads are built.
    arms.sort(key=lambda arm: (not _reads_final_model(arm), sizes[arm.name]))
    last_reader = max((i for i, arm in enumerate(arms) if _reads_final_model(arm)), default=-1)
    for index, arm in enumerate(arms):
        arm_name = arm.name
        progress(f"ranking and picking items for the {arm_name} arm")
        with _timed(timings, f"select_{arm_name}"):
            mine = assignments.filter(pc.equal(assignments["treatment"], arm_name))
            picked = select_items(arm.candidates(context, mine["customer_id"]), rules,
                                  mine["customer_id"])
            # select_items kept this arm's customers only: every row finds its customer
            lookup = pc.index_in(picked["customer_id"], value_set=mine["customer_id"])
            picked = picked.append_column("treatment", pc.take(mine["treatment"], lookup))
            picked = picked.append_column("propensity", pc.take(mine["propensity"], lookup))
            decisions = arm_decisions(arm)  # e.g. the bandit's strategy per customer
            if decisions is not None:
                decision_parts.append(decisions)
                picked = _with_decisions(picked, decisions)
        if index >= last_reader:
            context.candidates = context.candidates.schema.empty_table()
        if picked.num_rows:
            progress(f"building payloads for the {arm_name} arm")
            with _timed(timings, f"build_{arm_name}"):
                parts.append(build_payloads(picked, campaign_id, model_version, as_of,
                                            suffixes, config))
        del picked, lookup  # before the next arm ranks (about 1 GB for the largest at l)
    if not parts:
        raise VehicleRecsError("no customer got an email: the final model is empty or every arm is "
                               "control")
    # lines are grouped by arm, customers in order within an arm
    payloads = pa.concat_tables(parts)
    progress("validating payloads")
    with _timed(timings, "validate"):
        validate_table(payloads)
        check_guardrails(payloads)
    with _timed(timings, "assignment_log"):
        decisions = pa.concat_tables(decision_parts) if decision_parts else None
        log = bandit_arm.assignment_log_rows(assignments, leaders, decisions)
        assignments = _with_payload_counts(assignments, payloads)
        for name in ("strategy", "context", "strategy_propensity"):
            assignments = assignments.append_column(name, log[name])  # same row order
    summary = summarize(payloads, assignments, rules, campaign_id, as_of, model_version, forced)
    return PayloadRun(payloads, assignments, summary, timings, log)


def _reads_final_model(arm: Arm) -> bool:
    return bool(getattr(arm, "reads_final_model", True))


def _with_decisions(picked: pa.Table, decisions: pa.Table) -> pa.Table:
    """Picked rows with the arm's per-customer decisions (strategy, context, propensity)."""
    where = pc.index_in(picked["customer_id"], value_set=decisions["customer_id"])
    for name in ("strategy", "context", "strategy_propensity"):
        picked = picked.append_column(name, pc.take(decisions[name], where))
    return picked


def _with_payload_counts(assignments: pa.Table, payloads: pa.Table) -> pa.Table:
    position = pc.index_in(assignments["customer_id"], value_set=payloads["customer_id"])
    counts = pc.list_value_length(payloads["items"])
    item_count = pc.fill_null(pc.take(counts, position), 0)
    return (assignments.append_column("has_payload", pc.is_valid(position))
            .append_column("item_count", pc.cast(item_count, pa.int64())))


def new_arrival_counts(payloads: pa.Table, new_skus: pa.Array) -> dict[str, Any]:
    """Payloads holding at least one of `new_skus` (parts created in the var new_arrival_days
    before the cut-off), and their share of all payloads."""
    items = payloads["items"].combine_chunks()
    is_new = pc.is_in(pc.list_flatten(items).field("sku"), value_set=new_skus)
    holders = pc.filter(pc.list_parent_indices(items), is_new)
    count = len(pc.unique(holders))
    return {"new_arrival_payloads": count,
            "new_arrival_share": round(count / payloads.num_rows, 4) if payloads.num_rows else 0.0}


def summarize(payloads: pa.Table, assignments: pa.Table, rules: SelectionRules,
              campaign_id: str, as_of: date, model_version: str,
              forced: str | None) -> dict[str, Any]:
    """Counts a person checks before sending: arms, fallback share, reasons, short emails."""
    items = payloads["items"]

    def item_field(name: str) -> pa.ChunkedArray:
        return pa.chunked_array([chunk.flatten().field(name) for chunk in items.chunks],
                                items.type.value_type.field(name).type)

    counts = pc.list_value_length(items).to_numpy()
    arms: dict[str, dict[str, Any]] = {}
    treatments = assignments["treatment"].to_numpy(zero_copy_only=False)
    has_payload = assignments["has_payload"].to_numpy(zero_copy_only=False)
    propensity = assignments["propensity"].to_numpy(zero_copy_only=False)
    for arm in sorted(set(treatments.tolist())):
        mine = treatments == arm
        arms[arm] = {"assigned": int(mine.sum()), "payloads": int((mine & has_payload).sum()),
                     "propensity": round(float(propensity[mine][0]), 6)}
    reasons = pc.value_counts(item_field("reason_code")).to_pylist()
    texts = pc.value_counts(item_field("reason")).to_pylist()
    top_texts = sorted(texts, key=lambda row: (-row["counts"], row["values"]))[:5]
    fallback = int(pc.sum(payloads["is_fallback"]).as_py() or 0)
    emailed = int(sum(arm["assigned"] for name, arm in arms.items() if get_arm(name).sends_email))
    return {
        "campaign_id": campaign_id,
        "as_of": as_of.isoformat(),  # summary.json's text
        "model_version": model_version,
        "forced_treatment": forced,
        "customers": assignments.num_rows,
        "payloads": payloads.num_rows,
        "customers_without_items": emailed - payloads.num_rows,
        "arms": arms,
        "fallback_payloads": fallback,
        "fallback_share": round(fallback / payloads.num_rows, 4) if payloads.num_rows else 0.0,
        "items": int(counts.sum()),
        "items_per_payload": round(float(counts.mean()), 3) if len(counts) else 0.0,
        "payloads_short_of_k": int((counts < rules.items).sum()),
        "k": rules.items,
        "reason_codes": {row["values"]: row["counts"] for row in
                         sorted(reasons, key=lambda row: -row["counts"])},
        "top_reasons": [[row["values"], row["counts"]] for row in top_texts],
        "family_duplicates": 0,  # check_guardrails raised otherwise
        "strategies": _strategy_counts(payloads),
    }


def _strategy_counts(payloads: pa.Table) -> dict[str, dict[str, Any]]:
    """Payloads per (bandit) strategy, with their contexts and mean strategy propensity."""
    if "strategy" not in payloads.column_names:
        return {}
    rows = payloads.filter(pc.is_valid(payloads["strategy"]))
    if rows.num_rows == 0:
        return {}
    grouped = rows.group_by("strategy").aggregate([
        ("customer_id", "count"), ("context", "count_distinct"),
        ("strategy_propensity", "mean")]).sort_by("strategy").to_pylist()
    return {row["strategy"]: {"payloads": row["customer_id_count"],
                              "contexts": row["context_count_distinct"],
                              "mean_strategy_propensity": round(row["strategy_propensity_mean"], 4)}
            for row in grouped}


def format_summary(summary: dict[str, Any]) -> str:
    """The one-screen summary printed by the CLI."""
    lines = [
        f"campaign {summary['campaign_id']}  as of {summary['as_of']}  "
        f"model {summary['model_version']}",
        f"customers {summary['customers']:,}  payloads {summary['payloads']:,}  "
        f"items/payload {summary['items_per_payload']}  short of K={summary['k']}: "
        f"{summary['payloads_short_of_k']:,}  without items: "
        f"{summary['customers_without_items']:,}",
        f"fallback (no vehicle) {summary['fallback_payloads']:,} = "
        f"{summary['fallback_share']:.1%} of payloads;  with a new arrival "
        f"{summary.get('new_arrival_payloads', 0):,} = "
        f"{summary.get('new_arrival_share', 0.0):.1%}",
        "arm            assigned   payloads  propensity",
    ]
    for arm, row in summary["arms"].items():
        lines.append(f"{arm:<12} {row['assigned']:>10,} {row['payloads']:>10,}  "
                     f"{row['propensity']:>10.3f}")
    strategies = summary.get("strategies") or {}
    if strategies:
        lines.append("bandit strategies: " + ", ".join(
            f"{name} {row['payloads']:,} (p~{row['mean_strategy_propensity']:.2f})"
            for name, row in strategies.items()))
    codes = ", ".join(f"{code} {count:,}" for code, count in summary["reason_codes"].items())
    lines.append(f"reasons: {codes}")
    for text, count in summary["top_reasons"][:3]:
        lines.append(f"  {count:>7,}  {text}")
    dirty = {table: row for table, row in (summary.get("dirty_rows") or {}).items()
             if row.get("is_dirty")}
    if dirty:
        lines.append("dirty raw rows (left out): " + "; ".join(
            f"{table} {row['is_dirty']:,} of {row['rows']:,} ("
            + ", ".join(f"{flag.removeprefix('is_')} {count:,}" for flag, count in row.items()
                        if flag not in ("rows", "is_dirty") and count) + ")"
            for table, row in dirty.items()))
    stale = {table: row for table, row in (summary.get("source_freshness") or {}).items()
             if row["status"] != "pass"}
    if stale:
        lines.append("source freshness: " + ", ".join(
            f"{table} {row['status']} (newest row {row['age_days']:g} days old)"
            for table, row in sorted(stale.items())))
    if "out_dir" in summary:
        lines.append(f"written to {summary['out_dir']}; open "
                     f"{Path(summary['out_dir']) / 'preview.html'} to see the emails")
    return "\n".join(lines)


def write_outputs(run: PayloadRun, out_dir: Path, progress: Progress = lambda _: None,
                  preview_per_arm: int = 8, sample_lines: int = 100,
                  revalidate: bool = False) -> None:
    """Write every output into a staging folder beside OUT, check, then move into OUT.

    payloads.jsonl is checked by `check_written` (exact size + a jsonschema-validated sample
    read back from disk); `revalidate` also re-reads and validates every line (slow).
    """
    started = time.perf_counter()
    out_dir = out_dir.resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.parent.glob(f".{out_dir.name}.staging-*"):  # left by a killed run
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.staging-", dir=out_dir.parent))
    timings = run.timings
    try:
        progress("writing payloads.jsonl")
        with _timed(timings, "write_jsonl"):
            lengths = write_jsonl(run.payloads, staging / "payloads.jsonl")
        progress("checking payloads.jsonl")
        schema = load_schema()
        if revalidate:
            with _timed(timings, "revalidate_file"):
                validate_file(staging / "payloads.jsonl", schema,
                              expected_rows=run.payloads.num_rows)
        with _timed(timings, "check_written"):
            check_written(staging / "payloads.jsonl", lengths, run.payloads["customer_id"],
                          schema, sample=sample_lines)
        progress("writing flat export, assignments, preview")
        with _timed(timings, "write_exports"):
            write_flat_items(run.payloads, staging / "payload_items.parquet")
            write_csv(run.assignments, staging / "assignments.csv")
        summary = run.summary
        with _timed(timings, "preview"):
            write_text(render_preview(run.payloads, per_arm=preview_per_arm,
                                      campaign_id=summary["campaign_id"], as_of=summary["as_of"],
                                      model_version=summary["model_version"]),
                       staging / "preview.html")
        summary["out_dir"] = str(out_dir)
        timings["write"] = round(time.perf_counter() - started, 3)  # up to summary.json
        if "timings_s" in summary:
            summary["timings_s"] = {**summary["timings_s"], **timings}
        summary["files"] = {name: _sha256(staging / name) for name in OUTPUT_FILES
                            if name != "summary.json"}
        write_text(json.dumps(summary, indent=2) + "\n", staging / "summary.json")
        out_dir.mkdir(exist_ok=True)
        # One set: the old summary.json goes first and the new one comes last, so a kill in
        # between leaves no summary (an unfinished run), never a mix that looks finished; the
        # summary names each file's sha256.
        (out_dir / "summary.json").unlink(missing_ok=True)
        for name in OUTPUT_FILES:
            os.replace(staging / name, out_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _sha256(path: Path) -> str:
    import hashlib

    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def check_writable_folder(folder: Path, option: str) -> None:
    """Before the build: OUT (or the log folder) must be a folder, or creatable, and writable."""
    if folder.exists() and not folder.is_dir():
        raise VehicleRecsError(f"{option} {folder} is a file, not a folder")
    existing = folder if folder.exists() else next(
        (parent for parent in folder.parents if parent.exists()), folder.anchor)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise VehicleRecsError(f"{option} {folder}: {existing} is not writable")


def run(options: RunOptions, progress: Progress = lambda _: None) -> dict[str, Any]:
    """The whole `run` command; returns the summary (also in OUT/summary.json).

    `options.project` is left as it was: the run builds with a copy that holds its vars."""
    if options.treatment is not None and not get_arm(options.treatment).sends_email:
        raise VehicleRecsError(f"--treatment {options.treatment} sends no email: nothing to write")
    rules = load_selection(items=options.items)
    weights = load_weights()
    # an empty --campaign is an error, not the default campaign
    campaign = (check_campaign_id(options.campaign_id) if options.campaign_id is not None
                else None)
    suffixes = load_suffixes()
    project, log, client, source = _prepare_target(options)
    log.check_writable()
    holder = (f"pid {os.getpid()} (vehicle-recs run {source} --out "
              f"{options.out_dir.resolve()}, since {time.strftime('%Y-%m-%d %H:%M:%S')})")
    with project.exclusive(holder):
        return _run_locked(options, project, (log, client), options.as_of, campaign,
                           (rules, weights, suffixes), progress)


def _prepare_target(options: RunOptions) -> tuple[DbtProject, AssignmentLog, Any, str]:
    """Before the lock: the raw data checked (folder or dataset), OUT checked, the dbt project
    (a copy of the caller's) with the raw data's var, the assignment log, the BigQuery client
    (prod; None on dev) and how the run names its source for a second run's message."""
    if options.target not in TARGETS:
        raise VehicleRecsError(f"unknown --target {options.target!r}: use {' or '.join(TARGETS)}")
    if options.target == "prod":
        if options.raw_dir is not None:
            raise VehicleRecsError("--raw is read by --target dev only: on prod, load the folder "
                                   "with `vehicle-recs load-raw --target prod RAW` first")
        check_writable_folder(options.out_dir.resolve(), "--out")
        from vehicle_recs import bigquery_io

        project = options.project or DbtProject(target="prod")
        project = project.with_vars({}, target=project.target or "prod")  # builds where it reads
        bigquery = bigquery_io.connect(project)
        bigquery_io.check_raw_dataset(bigquery)
        project = project.with_vars({"raw_dataset": bigquery.raw_dataset})
        return (project, bigquery_io.BigQueryAssignmentLog(bigquery), bigquery.client,
                f"--target prod ({bigquery.project}.{bigquery.raw_dataset})")
    if options.raw_dir is None:
        raise VehicleRecsError("--raw RAW is needed with --target dev (the folder of raw tables)")
    raw_dir = options.raw_dir.resolve()
    check_raw_dir(raw_dir)
    check_writable_folder(options.out_dir.resolve(), "--out")
    project = (options.project or DbtProject()).with_vars({"raw_dir": str(raw_dir)})
    log = FileAssignmentLog(
        options.assignment_log_dir.resolve() if options.assignment_log_dir is not None
        else bandit.assignment_log_dir(project.project_dir))
    return project, log, None, f"--raw {raw_dir}"


def _run_locked(options: RunOptions, project: DbtProject, where: tuple[AssignmentLog, Any],
                as_of: date | None, campaign: str | None,
                settings: tuple[SelectionRules, ArmWeights, dict[str, str]],
                progress: Progress) -> dict[str, Any]:
    """`run` from the build to the published outputs, holding the project's lock.

    `where`: the target's assignment log and, on BigQuery, the client the warehouse reads with.
    """
    rules, weights, suffixes = settings
    log, client = where
    project = project.with_vars(options.dbt_vars)  # --var first: the run's own vars below win
    check_apparel_caps(rules, project.var("max_apparel_candidates"))  # before the build
    run_vars: dict[str, Any] = {**log.dbt_vars()}  # earlier campaigns' logs: the bandit's evidence
    if as_of is not None:
        run_vars["as_of"] = as_of.isoformat()
    if campaign is not None:  # else the models seed with the default campaign's id
        run_vars["random_seed"] = campaign
    # var campaign_id: only the BigQuery job labels read it (query-comment in dbt_project.yml)
    label = campaign or (f"recs-{as_of.isoformat()}" if as_of is not None else None)
    if label is not None:
        run_vars["campaign_id"] = label
    project = project.with_vars({
        **run_vars,
        # fct_baseline_candidates holds only what this run's arms read: the random arm's draw
        "baseline_strategies": _baseline_strategies(weights, options.treatment)})
    timings: dict[str, float] = {}
    progress("dbt source freshness (a warning, never a stop)")
    with _timed(timings, "source_freshness"):
        freshness = source_freshness(project)
    progress(f"dbt build --selector {WEEKLY_SELECTOR} (models, seeds, data tests)")
    with _timed(timings, "dbt_build"):
        project.invoke(["build", "--selector", WEEKLY_SELECTOR])

    progress(f"reading {FINAL_MODEL}")
    with _timed(timings, "read"):
        warehouse = open_warehouse(project.target_dir, project.duckdb_path, client=client,
                                   location=os.environ.get("VEHICLE_RECS_BQ_LOCATION"))
        candidates = warehouse.read_candidates()
    if candidates.num_rows == 0:
        raise VehicleRecsError(f"{FINAL_MODEL} is empty: no opted-in customer has a candidate")
    as_of = as_of or pc.unique(candidates["as_of_date"])[0].as_py()  # the models' default
    campaign = campaign or f"recs-{as_of.isoformat()}"
    with _timed(timings, "family_check"):
        _check_families(warehouse, candidates, suffixes, as_of)
        new_days = int(project.var("new_arrival_days"))
        new_skus = warehouse.read_new_skus(as_of - timedelta(days=new_days), as_of)
    dirty_rows = warehouse.read_dirty_rows()

    model_version = f"{__version__}+{warehouse.model_checksum()[:8]}"
    context = ArmContext(campaign_id=campaign, as_of=as_of,
                         candidates=candidates, warehouse=warehouse)
    del candidates  # the context's is the only reference: make_payloads frees the table
    result = make_payloads(context, model_version=model_version, rules=rules, weights=weights,
                           forced=options.treatment, suffixes=suffixes, progress=progress)
    result.summary["dirty_rows"] = dirty_rows
    result.summary["source_freshness"] = freshness
    result.summary.update(new_arrival_counts(result.payloads, new_skus))
    # The log first: if it cannot be written, no output of this campaign is published.
    progress("writing the assignment log")
    with _timed(timings, "assignment_log_write"):
        result.summary["assignment_log"] = log.write(result.assignment_log, campaign)
    config = load_payloads()
    result.summary["timings_s"] = {**timings, **result.timings}  # write_outputs adds its own
    with user_path(options.out_dir, "write the outputs to"):
        write_outputs(result, options.out_dir, progress, preview_per_arm=config.preview_emails,
                      sample_lines=config.sample_validation_lines,
                      revalidate=config.revalidate_written_file)
    return result.summary


def source_freshness(project: DbtProject) -> dict[str, dict[str, Any]]:
    """`dbt source freshness` of the raw tables that have a rule (sources YAML: loaded_at_field,
    warn/error ages, a filter against future-dated rows): per table its status (pass, warn,
    error) and the age in days of its newest row. Stale data is reported in the summary, never
    a stop: the weekly email still goes out on the data there is. Runs before the build, whose
    run results the readers check; an interrupt still stops the run (`invoke` raises it)."""
    sources = project.target_dir / "sources.json"
    sources.unlink(missing_ok=True)
    with contextlib.suppress(DbtError):  # a stale table fails the command: see sources.json
        project.invoke(["source", "freshness"])
    if not sources.exists():  # dbt could not check (the build that follows says why)
        return {}
    results = json.loads(sources.read_text()).get("results", [])
    return {str(row["unique_id"]).rsplit(".", 1)[-1]: {
        "status": str(row.get("status")),
        "age_days": round(float(row.get("max_loaded_at_time_ago_in_s") or 0) / 86_400, 1)}
        for row in results}


def _baseline_strategies(weights: ArmWeights, forced: str | None) -> list[str]:
    """The baseline strategies the drawn arms read (var baseline_strategies of the build)."""
    arms = [forced] if forced is not None else [
        name for name, weight in weights.weights.items() if weight > 0]
    return [RandomArm.strategy] if RandomArm.name in arms else []


def _check_families(warehouse: Warehouse, candidates: pa.Table, suffixes: dict[str, str],
                    as_of: date) -> None:
    """The model's family_id must follow the variant rule (seed + the catalog as of the
    cut-off) — the v5.7 guard."""
    pairs = candidates.select(["sku", "family_id"]).group_by(["sku", "family_id"]).aggregate([])
    catalog = warehouse.read_catalog_skus(as_of).to_pylist()
    wrong = family_mismatches(pairs.to_pandas(), catalog, suffixes)
    if len(wrong):
        example = wrong.iloc[0]
        raise VehicleRecsError(
            f"{FINAL_MODEL}: family_id of {len(wrong)} SKU(s) breaks the variant rule "
            f"(e.g. {example['sku']} has family {example['family_id']})")
