"""Match-rate backtest: recommend as of D from data before D, score against D+h.

One global cut-off for everyone (a per-customer split leaks future popularity). The dbt project
is built with var `as_of` = D into its own DuckDB file, so only rows dated before D shape the
recommendations; the completed purchase lines in [D, D + horizon) are then read from the clean
staging rows of the same raw folder, and every strategy's top K per customer is compared with
them. All metric arithmetic runs in DuckDB SQL.

Population: opted-in customers who own a vehicle as of D (the customers the vehicle-aware engine
is for; customers without a vehicle get the engine's fallback, which the baselines do not have).
Metrics are computed over the population's purchase lines in the horizon; the per-customer ones
(hit rate, precision, recall, NDCG) over population customers with at least one such line.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from vehicle_recs.project import DbtProject

ENGINE = "vehicle_aware"
STRATEGIES = ("popular_fitting", "vehicle_raw_counts", ENGINE, "random_eligible")
STRATEGY_LABELS = {
    "popular_fitting": "(a) popular fitting (old engine)",
    "vehicle_raw_counts": "(b) per-vehicle raw counts",
    ENGINE: "(c) vehicle-aware (this engine)",
    "random_eligible": "(d) random eligible",
}
METRICS = ("match_rate", "revenue_match_rate", "customer_hit_rate", "precision_at_k",
           "recall_at_k", "ndcg_at_k", "catalog_coverage")
# selectors.yml: fct_recommendation_candidates, fct_baseline_candidates and their parents.
BACKTEST_SELECTOR = "backtest"


@dataclass
class BacktestResult:
    """Metrics per strategy (one row each) plus what produced them."""

    metrics: pd.DataFrame
    as_of: date
    horizon_days: int
    k: int
    raw_dir: Path
    dbt_vars: dict[str, Any] = field(default_factory=dict)
    population: dict[str, int] = field(default_factory=dict)

    def to_records(self) -> list[dict[str, Any]]:
        records = [{str(key): value for key, value in record.items()}
                   for record in self.metrics.to_dict(orient="records")]
        for record in records:
            record.update({"as_of": self.as_of.isoformat(), "horizon_days": self.horizon_days,
                           "k": self.k, "raw_dir": str(self.raw_dir),
                           "dbt_vars": json.dumps(self.dbt_vars, sort_keys=True)})
        return records


def build_as_of(raw_dir: Path, as_of: date, work_dir: Path,
                dbt_vars: Mapping[str, Any] | None = None) -> DbtProject:
    """Seed and run the scoring models with var as_of into work_dir/backtest.duckdb."""
    project = DbtProject(
        duckdb_path=work_dir / "backtest.duckdb",
        target_path=work_dir / "target",
        dbt_vars={**(dbt_vars or {}), "raw_dir": str(raw_dir.resolve()),
                  "as_of": as_of.isoformat()},
    )
    project.invoke(["seed", "--quiet"])
    project.invoke(["run", "--quiet", "--selector", BACKTEST_SELECTOR])
    return project


def _metrics_sql(as_of: date, horizon_days: int, k: int) -> str:
    end = as_of + timedelta(days=horizon_days)
    return f"""
    with
    population as (
        select distinct owned.customer_id
        from int_customer_vehicles_owned as owned
        inner join stg_shop__customers as customers
            on owned.customer_id = customers.customer_id
        where not customers.is_dirty and customers.is_email_opt_in
    ),
    recommendations as (
        select '{ENGINE}' as strategy, customer_id, sku, candidate_rank
        from fct_recommendation_candidates
        where candidate_rank <= {k}
        union all
        select strategy, customer_id, sku, candidate_rank
        from fct_baseline_candidates
        where candidate_rank <= {k}
    ),
    population_recommendations as (
        select recommendations.*
        from recommendations
        inner join population on recommendations.customer_id = population.customer_id
    ),
    strategies as (
        select unnest([{", ".join(f"'{name}'" for name in STRATEGIES)}]) as strategy
    ),
    purchases as (
        select
            orders.customer_id,
            lines.sku,
            lines.quantity * lines.unit_price_usd as revenue_usd
        from stg_shop__order_lines as lines
        inner join stg_shop__orders as orders on lines.order_id = orders.order_id
        inner join stg_shop__products as products on lines.sku = products.sku
        inner join population on orders.customer_id = population.customer_id
        where not lines.is_dirty and not orders.is_dirty and not products.is_dirty
            and orders.order_status = 'completed'
            and orders.ordered_at >= timestamp '{as_of.isoformat()}'
            and orders.ordered_at < timestamp '{end.isoformat()}'
    ),
    purchased_skus as (
        select customer_id, sku from purchases group by customer_id, sku
    ),
    buyers as (
        select customer_id, count(*) as purchased_sku_count
        from purchased_skus group by customer_id
    ),
    line_matches as (
        select
            strategies.strategy,
            count(*) as purchase_lines,
            count(recs.sku) as matched_lines,
            sum(purchases.revenue_usd) as revenue_usd,
            sum(case when recs.sku is not null then purchases.revenue_usd else 0 end)
                as matched_revenue_usd
        from strategies
        cross join purchases
        left join population_recommendations as recs
            on recs.strategy = strategies.strategy
            and recs.customer_id = purchases.customer_id
            and recs.sku = purchases.sku
        group by strategies.strategy
    ),
    customer_hits as (
        select
            strategies.strategy,
            buyers.customer_id,
            buyers.purchased_sku_count,
            count(hits.sku) as hit_count,
            coalesce(sum(1.0 / log2(hits.candidate_rank + 1)), 0) as dcg
        from strategies
        cross join buyers
        left join (
            select recs.strategy, recs.customer_id, recs.sku, recs.candidate_rank
            from population_recommendations as recs
            inner join purchased_skus
                on recs.customer_id = purchased_skus.customer_id
                and recs.sku = purchased_skus.sku
        ) as hits
            on hits.strategy = strategies.strategy and hits.customer_id = buyers.customer_id
        group by strategies.strategy, buyers.customer_id, buyers.purchased_sku_count
    ),
    ideal as (
        select
            buyers.customer_id,
            sum(1.0 / log2(positions.position + 1)) as idcg
        from buyers
        cross join range(1, {k} + 1) as positions(position)
        where positions.position <= buyers.purchased_sku_count
        group by buyers.customer_id
    ),
    customer_metrics as (
        select
            customer_hits.strategy,
            avg(case when customer_hits.hit_count > 0 then 1.0 else 0.0 end) as customer_hit_rate,
            avg(customer_hits.hit_count / {k}.0) as precision_at_k,
            avg(customer_hits.hit_count * 1.0 / customer_hits.purchased_sku_count)
                as recall_at_k,
            avg(customer_hits.dcg / ideal.idcg) as ndcg_at_k,
            count(*) as buyers
        from customer_hits
        inner join ideal on customer_hits.customer_id = ideal.customer_id
        group by customer_hits.strategy
    ),
    sendable as (
        select count(*) as sendable_products
        from stg_shop__products
        where not is_dirty and is_active and department != 'gift_cards'
    ),
    coverage as (
        select
            strategies.strategy,
            count(distinct recs.sku) as recommended_skus,
            count(distinct recs.customer_id) as customers_with_recommendations
        from strategies
        left join population_recommendations as recs on recs.strategy = strategies.strategy
        group by strategies.strategy
    )
    select
        line_matches.strategy,
        line_matches.matched_lines * 1.0 / nullif(line_matches.purchase_lines, 0) as match_rate,
        line_matches.matched_revenue_usd / nullif(line_matches.revenue_usd, 0)
            as revenue_match_rate,
        customer_metrics.customer_hit_rate,
        customer_metrics.precision_at_k,
        customer_metrics.recall_at_k,
        customer_metrics.ndcg_at_k,
        coverage.recommended_skus * 1.0 / sendable.sendable_products as catalog_coverage,
        line_matches.purchase_lines,
        line_matches.matched_lines,
        cast(line_matches.revenue_usd as double) as revenue_usd,
        cast(line_matches.matched_revenue_usd as double) as matched_revenue_usd,
        customer_metrics.buyers,
        coverage.customers_with_recommendations,
        coverage.recommended_skus
    from line_matches
    left join customer_metrics on line_matches.strategy = customer_metrics.strategy
    inner join coverage on line_matches.strategy = coverage.strategy
    cross join sendable
    """


def compute_metrics(duckdb_path: Path, as_of: date, horizon_days: int = 60,
                    k: int = 6) -> tuple[pd.DataFrame, dict[str, int]]:
    """Metrics per strategy from a database built with as_of (see module docstring)."""
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        frame = con.execute(_metrics_sql(as_of, horizon_days, k)).df()
        population_row = con.execute(
            """
            select count(distinct owned.customer_id)
            from int_customer_vehicles_owned as owned
            inner join stg_shop__customers as customers
                on owned.customer_id = customers.customer_id
            where not customers.is_dirty and customers.is_email_opt_in
            """
        ).fetchone()
    order = {name: position for position, name in enumerate(STRATEGIES)}
    frame = frame.sort_values("strategy", key=lambda column: column.map(order))
    frame = frame.reset_index(drop=True)
    frame.insert(1, "label", frame["strategy"].map(STRATEGY_LABELS))
    for baseline in ("popular_fitting", "vehicle_raw_counts"):
        base = frame.loc[frame["strategy"] == baseline, "match_rate"]
        base_value = float(base.iloc[0]) if len(base) and base.iloc[0] else float("nan")
        frame[f"match_rate_vs_{baseline}"] = frame["match_rate"] / base_value
    population = {
        "population_customers": int(population_row[0]) if population_row else 0,
        "buyers_in_horizon": int(frame["buyers"].max() or 0),
        "purchase_lines_in_horizon": int(frame["purchase_lines"].max() or 0),
    }
    return frame, population


def run_backtest(raw_dir: Path, as_of: date, horizon_days: int = 60, k: int = 6,
                 work_dir: Path | None = None, dbt_vars: Mapping[str, Any] | None = None,
                 progress: Callable[[str], None] | None = None) -> BacktestResult:
    """Build as of D into its own database, then score every strategy on [D, D + horizon)."""
    if horizon_days <= 0 or k <= 0:
        raise ValueError("--horizon and --k must be positive")
    if not raw_dir.is_dir():
        raise ValueError(f"raw folder not found: {raw_dir}")
    temporary = work_dir is None
    folder = work_dir or Path(tempfile.mkdtemp(prefix="vehicle-recs-backtest-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        if progress:
            progress(f"dbt build as of {as_of.isoformat()}")
        project = build_as_of(raw_dir, as_of, folder, dbt_vars)
        if progress:
            progress("computing metrics")
        assert project.duckdb_path is not None
        metrics, population = compute_metrics(project.duckdb_path, as_of, horizon_days, k)
    finally:
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)
    return BacktestResult(metrics=metrics, as_of=as_of, horizon_days=horizon_days, k=k,
                          raw_dir=raw_dir, dbt_vars=dict(dbt_vars or {}), population=population)


def write_result(result: BacktestResult, out: Path) -> Path:
    """Write the metrics table: .csv, .parquet or .json (records with the run's settings)."""
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
                   "metrics": result.metrics.to_dict(orient="records")}
        tmp.write_text(json.dumps(payload, indent=2, default=str))
    else:
        raise ValueError(f"--out must end in .csv, .parquet or .json: {out}")
    tmp.replace(out)
    return out


TABLE_ROWS = (*METRICS, "match_rate_vs_popular_fitting", "match_rate_vs_vehicle_raw_counts")


def _cell(rows: pd.DataFrame, strategy: str, metric: str) -> str:
    """One formatted metric: ratios as 1.23x, rates with four decimals, '-' when missing."""
    if strategy not in rows.index:
        return "-"
    raw: Any = rows.loc[strategy, metric]
    value = math.nan if raw is None or pd.isna(raw) else float(raw)
    if math.isnan(value):
        return "-"
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
    for strategy in STRATEGIES:
        table.add_column(STRATEGY_LABELS[strategy], justify="right")
    for metric in TABLE_ROWS:
        table.add_row(metric, *(_cell(rows, strategy, metric) for strategy in STRATEGIES))
    return table


def markdown_table(result: BacktestResult) -> str:
    """The same table as GitHub markdown (for benchmarks/backtest_results.md)."""
    rows = result.metrics.set_index("strategy")
    header = "| metric | " + " | ".join(STRATEGY_LABELS[name] for name in STRATEGIES) + " |"
    lines = [header, "|---|" + "---:|" * len(STRATEGIES)]
    for metric in TABLE_ROWS:
        cells = [_cell(rows, strategy, metric) for strategy in STRATEGIES]
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
