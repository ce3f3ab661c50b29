"""Match-rate backtest: recommend as of D from data before D, score against D+h.

One global cut-off for everyone (a per-customer split leaks future popularity). The dbt project
is built with var `as_of` = D into its own warehouse (a DuckDB file, or a dataset of its own on
BigQuery), so only rows dated before D shape the recommendations. The metrics are dbt models of
the same build (selector `backtest`; vars backtest_horizon_days and backtest_k):
`rpt_backtest_strategies_matched_to_purchases` scores every strategy's top K against the
completed purchases of [D, D + horizon), `rpt_backtest_scores_calibrated_by_decile` compares the
probability scores with what happened. This module sets the vars, runs the build, reads the two
models and formats them (labels, ratios to the reference strategies, tables and files).

Population: opted-in customers who own a vehicle as of D (the customers the vehicle-aware engine
is for; customers without a vehicle get the engine's fallback, which the baselines do not have).
The definitions of every metric are in the models' YAML and SQL headers.

Objectives: with `objectives`, the engine's ranking models are re-run once per ranking objective
(var ranking_objective: match, blend, revenue) on the same build, and each adds a row
`vehicle_aware:<objective>` with the same metrics, so match and revenue match can be traded
off side by side.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from vehicle_recs.errors import VehicleRecsError, user_path
from vehicle_recs.project import DbtProject

ENGINE = "vehicle_aware"
STRATEGIES = ("popular_fitting", "vehicle_raw_counts", "heuristic", ENGINE, "random_eligible")
STRATEGY_LABELS = {
    "popular_fitting": "(a) popular fitting (old engine)",
    "vehicle_raw_counts": "(b) per-vehicle raw counts",
    "heuristic": "(e) heuristic: customer rates + re-buy hazard",
    ENGINE: "(c) vehicle-aware (this engine)",
    "random_eligible": "(d) random eligible",
}
# Strategies whose score is P(the customer buys the item within the horizon): calibrated.
PROBABILITY_STRATEGIES = ("heuristic", ENGINE)
# Match rate of every strategy relative to each of these (match_rate_vs_<name> columns).
REFERENCE_STRATEGIES = ("popular_fitting", "vehicle_raw_counts", "heuristic")
METRICS = ("match_rate", "revenue_match_rate", "customer_hit_rate", "precision_at_k",
           "recall_at_k", "ndcg_at_k", "catalog_coverage")
# The match split: purchase lines of SKUs the customer bought before as_of, and the rest.
SPLIT_METRICS = ("rebuy_match_rate", "new_item_match_rate")
SPLIT_COUNTS = ("rebuy_lines", "rebuy_matched_lines", "new_item_lines", "new_item_matched_lines")
CALIBRATION_DECILES = 10
# selectors.yml: the final model, every baseline, their parents and the two metrics models.
BACKTEST_SELECTOR = "backtest"
METRICS_MODEL = "rpt_backtest_strategies_matched_to_purchases"
CALIBRATION_MODEL = "rpt_backtest_scores_calibrated_by_decile"
# The values of var ranking_objective (macro objective_value) and the models they change.
OBJECTIVES = ("match", "blend", "revenue")
OBJECTIVE_SELECT = ("int_vehicle_products_ranked+,+fct_recommendation_candidates", METRICS_MODEL)


@dataclass
class BacktestResult:
    """Metrics per strategy (one row each), their calibration, plus what produced them."""

    metrics: pd.DataFrame
    as_of: date
    horizon_days: int
    k: int
    raw_dir: Path | str  # the raw folder (dev), or "bigquery:<project>.<raw dataset>" (prod)
    dbt_vars: dict[str, Any] = field(default_factory=dict)
    population: dict[str, int] = field(default_factory=dict)
    # One row per (strategy, candidate_type, decile) of PROBABILITY_STRATEGIES (compute_calibration)
    calibration: pd.DataFrame = field(default_factory=pd.DataFrame)

    def to_records(self) -> list[dict[str, Any]]:
        records = [{str(key): value for key, value in record.items()}
                   for record in self.metrics.to_dict(orient="records")]
        for record in records:
            record.update({"as_of": self.as_of.isoformat(), "horizon_days": self.horizon_days,
                           "k": self.k, "raw_dir": str(self.raw_dir),
                           "dbt_vars": json.dumps(self.dbt_vars, sort_keys=True)})
        return records


# --target prod: the backtest's models go to the profile's dataset plus this suffix (dbt var
# dataset_suffix, macro generate_schema_name), never over the weekly build.
DEFAULT_DATASET_SUFFIX = "_backtest"

Query = Callable[[str], pd.DataFrame]


def backtest_project(raw_dir: Path | None, as_of: date, work_dir: Path,
                     dbt_vars: Mapping[str, Any] | None = None, *, target: str = "dev",
                     raw_dataset: str | None = None,
                     dataset_suffix: str = DEFAULT_DATASET_SUFFIX,
                     horizon_days: int | None = None, k: int | None = None) -> DbtProject:
    """The dbt project of a backtest as of D: on dev its own DuckDB file and target in work_dir;
    on prod (BigQuery) its own dataset (the profile's + `dataset_suffix`) reading `raw_dataset`,
    its target folder in work_dir (the DuckDB path there is a lock file only). `horizon_days`
    and `k` set vars backtest_horizon_days and backtest_k (their defaults otherwise)."""
    run_vars: dict[str, Any] = {**(dbt_vars or {}), "as_of": as_of.isoformat()}
    if horizon_days is not None:
        run_vars["backtest_horizon_days"] = horizon_days
    if k is not None:
        run_vars["backtest_k"] = k
    if target == "prod":
        if not dataset_suffix:
            raise VehicleRecsError("a backtest on --target prod needs a dataset suffix: it must "
                                   "not replace the weekly build's tables")
        run_vars.update(raw_dataset=raw_dataset, dataset_suffix=dataset_suffix)
    else:
        if raw_dir is None:
            raise VehicleRecsError("--raw RAW is needed with --target dev")
        run_vars["raw_dir"] = str(raw_dir.resolve())
    return DbtProject(
        duckdb_path=work_dir / "backtest.duckdb",
        target_path=work_dir / "target",
        target="prod" if target == "prod" else None,
        dbt_vars=run_vars,
    )


def build_as_of(raw_dir: Path | None, as_of: date, work_dir: Path,
                dbt_vars: Mapping[str, Any] | None = None, **where: Any) -> DbtProject:
    """Seed and run the scoring and metrics models with var as_of into the backtest's own
    warehouse (`backtest_project`)."""
    project = backtest_project(raw_dir, as_of, work_dir, dbt_vars, **where)
    project.invoke(["seed", "--quiet"])
    project.invoke(["run", "--quiet", "--selector", BACKTEST_SELECTOR])
    return project


def duckdb_query(duckdb_path: Path) -> Query:
    """Queries on a DuckDB file, read-only."""

    def query(sql: str) -> pd.DataFrame:
        with duckdb.connect(str(duckdb_path), read_only=True) as con:
            return con.execute(sql).df()

    return query


def bigquery_query(client: Any) -> Query:
    """Queries through the BigQuery client (the REST result pages, as `BigQueryEngine`)."""

    def query(sql: str) -> pd.DataFrame:
        frame: pd.DataFrame = client.query(sql).to_arrow(
            create_bqstorage_client=False).to_pandas()
        return frame

    return query


def _count(value: Any) -> int:
    """A count read back from a query; 0 for null (no buyer in the horizon)."""
    return 0 if value is None or pd.isna(value) else int(value)


def read_model(project: DbtProject, model: str, query: Query | None = None) -> pd.DataFrame:
    """Every row of a model of the project's last build: `query` runs the SQL (default: the
    project's DuckDB file, read-only; `bigquery_query` on BigQuery)."""
    from vehicle_recs.warehouse import find_relation, load_manifest

    relation = find_relation(load_manifest(project.target_dir), model).relation_name
    if query is None:
        assert project.duckdb_path is not None
        query = duckdb_query(project.duckdb_path)
    return query(f"select * from {relation}")


def compute_metrics(project: DbtProject, query: Query | None = None
                    ) -> tuple[pd.DataFrame, dict[str, int]]:
    """The scorecard of a backtest build (METRICS_MODEL), one row per strategy in STRATEGIES
    order (others after), labelled, with each strategy's match rate relative to every
    REFERENCE_STRATEGIES; plus the population's size, buyers and purchase lines."""
    frame = read_model(project, METRICS_MODEL, query)
    order = {name: position for position, name in enumerate(STRATEGIES)}
    frame = frame.sort_values("strategy", key=lambda column: column.map(order))
    frame = frame.reset_index(drop=True)
    frame.insert(1, "label", frame["strategy"].map(STRATEGY_LABELS))
    for baseline in REFERENCE_STRATEGIES:
        base = frame.loc[frame["strategy"] == baseline, "match_rate"]
        base_value = float(base.iloc[0]) if len(base) and base.iloc[0] else float("nan")
        frame[f"match_rate_vs_{baseline}"] = frame["match_rate"] / base_value
    population = {
        "population_customers": _count(frame["population_customers"].max()),
        "buyers_in_horizon": _count(frame["buyers"].max()),
        "purchase_lines_in_horizon": _count(frame["purchase_lines"].max()),
    }
    return frame.drop(columns="population_customers"), population


def compute_calibration(project: DbtProject, query: Query | None = None) -> pd.DataFrame:
    """Predicted vs observed per (strategy of PROBABILITY_STRATEGIES, candidate_type, decile of
    the score; 1 = the lowest) from CALIBRATION_MODEL, sorted; decile null = all deciles."""
    frame = read_model(project, CALIBRATION_MODEL, query)
    order = {name: position for position, name in enumerate(PROBABILITY_STRATEGIES)}
    frame = frame.assign(
        _strategy=frame["strategy"].map(order),
        _type=frame["candidate_type"].map({"rebuy": 0, "new_item": 1}),
        _decile=frame["decile"].fillna(CALIBRATION_DECILES + 1),
    ).sort_values(["_strategy", "_type", "_decile"])
    frame = frame.drop(columns=["_strategy", "_type", "_decile"]).reset_index(drop=True)
    frame["decile"] = frame["decile"].astype("Int64")
    return frame


def run_backtest(raw_dir: Path | None, as_of: date, horizon_days: int = 60, k: int = 6,
                 work_dir: Path | None = None, dbt_vars: Mapping[str, Any] | None = None,
                 progress: Callable[[str], None] | None = None,
                 objectives: Sequence[str] = (), *, target: str = "dev",
                 dataset_suffix: str = DEFAULT_DATASET_SUFFIX,
                 client: Any | None = None) -> BacktestResult:
    """Build as of D into its own warehouse, then score every strategy on [D, D + horizon);
    with `objectives`, also the engine under each ranking objective.

    dev: `raw_dir` into a DuckDB file of its own. prod: the raw dataset `load-raw` filled, into
    the profile's dataset + `dataset_suffix` on BigQuery; the metrics run there through the
    client (`client` replaces the one made from the profile: tests)."""
    if horizon_days <= 0 or k <= 0:
        raise VehicleRecsError("--horizon and --k must be positive")
    unknown = sorted(set(objectives) - set(OBJECTIVES))
    if unknown:
        raise VehicleRecsError(f"unknown objective {', '.join(unknown)} (choose from "
                               f"{', '.join(OBJECTIVES)})")
    where: dict[str, Any] = {}
    query: Query | None = None
    if target == "prod":
        if raw_dir is not None:
            raise VehicleRecsError("--raw is read by --target dev only: on prod, load the folder "
                                   "with `vehicle-recs load-raw --target prod RAW` first")
        from vehicle_recs import bigquery_io

        bigquery = bigquery_io.connect(DbtProject(target="prod"), client=client)
        bigquery_io.check_raw_dataset(bigquery)
        where = {"target": "prod", "raw_dataset": bigquery.raw_dataset,
                 "dataset_suffix": dataset_suffix}
        query = bigquery_query(bigquery.client)
        raw_source: Path | str = f"bigquery:{bigquery.project}.{bigquery.raw_dataset}"
    elif raw_dir is None or not raw_dir.is_dir():
        raise VehicleRecsError(f"raw folder not found: {raw_dir}")
    else:
        raw_source = raw_dir
    temporary = work_dir is None
    folder = work_dir or Path(tempfile.mkdtemp(prefix="vehicle-recs-backtest-"))
    with user_path(folder, "make the --work-dir"):
        folder.mkdir(parents=True, exist_ok=True)
    try:
        if progress:
            progress(f"dbt build as of {as_of.isoformat()}")
        where.update(horizon_days=horizon_days, k=k)
        project = build_as_of(raw_dir, as_of, folder, dbt_vars, **where)
        if progress:
            progress("reading the metrics")
        metrics, population = compute_metrics(project, query)
        calibration = compute_calibration(project, query)
        variants = []
        for objective in objectives:
            if progress:
                progress(f"the engine ranked for {objective}")
            variant = backtest_project(raw_dir, as_of, folder,
                                       {**(dbt_vars or {}), "ranking_objective": objective},
                                       **where)
            variant.invoke(["run", "--quiet", "--select", *OBJECTIVE_SELECT])
            variant_metrics, _ = compute_metrics(variant, query)
            variants.append(variant_metrics[variant_metrics["strategy"] == ENGINE]
                            .assign(strategy=objective_strategy(objective)))
        metrics = pd.concat([metrics, *variants], ignore_index=True)
    finally:
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)
    return BacktestResult(metrics=metrics, as_of=as_of, horizon_days=horizon_days, k=k,
                          raw_dir=raw_source, dbt_vars=dict(dbt_vars or {}), population=population,
                          calibration=calibration)


def write_result(result: BacktestResult, out: Path) -> Path:
    """Write the metrics table: .csv, .parquet or .json (records with the run's settings)."""
    with user_path(out, "write"):
        return _write_result(result, out)


def _write_result(result: BacktestResult, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame.from_records(result.to_records())
    suffix = out.suffix.lower()
    tmp = out.with_name(out.name + ".tmp")
    if suffix == ".csv":
        frame.to_csv(tmp, index=False)
    elif suffix == ".parquet":
        frame.to_parquet(tmp, index=False)
    elif suffix == ".json":
        payload = {"as_of": result.as_of.isoformat(), "horizon_days": result.horizon_days,
                   "k": result.k, "raw_dir": str(result.raw_dir), "dbt_vars": result.dbt_vars,
                   "population": result.population,
                   "metrics": result.metrics.to_dict(orient="records"),
                   "calibration": result.calibration.astype(object).where(
                       result.calibration.notna(), None).to_dict(orient="records")}
        tmp.write_text(json.dumps(payload, indent=2, default=str))
    else:
        raise VehicleRecsError(f"--out must end in .csv, .parquet or .json: {out}")
    tmp.replace(out)
    return out


def objective_strategy(objective: str) -> str:
    """The strategy name of the engine's row under a ranking objective."""
    return f"{ENGINE}:{objective}"


def _strategies(result: BacktestResult) -> list[str]:
    """The table's columns: every strategy, then the engine under each objective measured."""
    measured = set(result.metrics["strategy"]) if "strategy" in result.metrics else set()
    return [*STRATEGIES, *(objective_strategy(objective) for objective in OBJECTIVES
                           if objective_strategy(objective) in measured)]


def _label(strategy: str) -> str:
    if strategy in STRATEGY_LABELS:
        return STRATEGY_LABELS[strategy]
    return f"(c) this engine, objective {strategy.partition(':')[2]}"


TABLE_ROWS = (*METRICS, *SPLIT_METRICS, *SPLIT_COUNTS,
              *(f"match_rate_vs_{name}" for name in REFERENCE_STRATEGIES))


def _cell(rows: pd.DataFrame, strategy: str, metric: str) -> str:
    """One formatted metric: ratios as 1.23x, counts with separators, rates with four decimals,
    '-' when missing."""
    if strategy not in rows.index or metric not in rows.columns:
        return "-"
    raw: Any = rows.loc[strategy, metric]
    value = math.nan if raw is None or pd.isna(raw) else float(raw)
    if math.isnan(value):
        return "-"
    if metric in SPLIT_COUNTS:
        return f"{value:,.0f}"
    return f"{value:.2f}x" if metric.startswith("match_rate_vs") else f"{value:.4f}"


def render_table(result: BacktestResult) -> Any:
    """A rich table, strategies side by side (one column each)."""
    from rich.table import Table

    table = Table(title=(f"Backtest as of {result.as_of.isoformat()}, horizon "
                         f"{result.horizon_days} days, top {result.k} "
                         f"({result.population.get('population_customers', 0):,} opted-in "
                         f"customers with a vehicle, "
                         f"{result.population.get('purchase_lines_in_horizon', 0):,} purchase "
                         "lines)"))
    table.add_column("metric")
    rows = result.metrics.set_index("strategy")
    strategies = _strategies(result)
    for strategy in strategies:
        table.add_column(_label(strategy), justify="right")
    for metric in TABLE_ROWS:
        table.add_row(metric, *(_cell(rows, strategy, metric) for strategy in strategies))
    return table


def markdown_table(result: BacktestResult) -> str:
    """The same table as GitHub markdown (for benchmarks/backtest_results.md)."""
    rows = result.metrics.set_index("strategy")
    strategies = _strategies(result)
    header = "| metric | " + " | ".join(_label(name) for name in strategies) + " |"
    lines = [header, "|---|" + "---:|" * len(strategies)]
    for metric in TABLE_ROWS:
        cells = [_cell(rows, strategy, metric) for strategy in strategies]
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _calibration_rows(result: BacktestResult) -> tuple[list[str], list[list[str]]]:
    """The calibration as text: one column per (strategy, candidate type), one row per decile
    plus 'all'; a cell is 'mean predicted / observed share (candidates)'."""
    frame = result.calibration
    if frame.empty:
        return [], []
    keys = list(dict.fromkeys(zip(frame["strategy"], frame["candidate_type"], strict=True)))
    header = [f"{strategy} {kind.replace('_', '-')}" for strategy, kind in keys]
    cells: dict[tuple[str, str, str], str] = {}
    for row in frame.to_dict(orient="records"):
        decile = "all" if pd.isna(row["decile"]) else str(int(row["decile"]))
        cells[(str(row["strategy"]), str(row["candidate_type"]), decile)] = (
            f"{float(row['mean_predicted']):.4f} / {float(row['observed_share']):.4f} "
            f"({int(row['candidates']):,})")
    labels = [str(decile) for decile in range(1, CALIBRATION_DECILES + 1)] + ["all"]
    rows = [[label, *(cells.get((strategy, kind, label), "-") for strategy, kind in keys)]
            for label in labels]
    return header, rows


def render_calibration(result: BacktestResult) -> Any:
    """A rich table of the calibration, or None when no strategy has a probability score."""
    from rich.table import Table

    header, rows = _calibration_rows(result)
    if not header:
        return None
    table = Table(title=(f"Calibration: predicted P(buy within {result.horizon_days} days) vs "
                         "observed share, all candidates, by decile of predicted (1 = lowest); "
                         "cell = mean predicted / observed (candidates)"))
    table.add_column("decile")
    for name in header:
        table.add_column(name, justify="right")
    for row in rows:
        table.add_row(*row)
    return table


def markdown_calibration(result: BacktestResult) -> str:
    """The calibration table as GitHub markdown ('' when there is none)."""
    header, rows = _calibration_rows(result)
    if not header:
        return ""
    lines = ["| decile | " + " | ".join(header) + " |", "|---|" + "---:|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
