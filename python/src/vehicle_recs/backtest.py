"""Match-rate backtest: recommend as of D from data before D, score against D+h.

One global cut-off for everyone (a per-customer split leaks future popularity). The dbt project
is built with var `as_of` = D into its own DuckDB file, so only rows dated before D shape the
recommendations; the completed purchase lines in [D, D + horizon) are then read from the clean
staging rows of the same raw folder, and every strategy's top K per customer is compared with
them. All metric arithmetic runs in DuckDB SQL.

Population: opted-in customers who own a vehicle as of D (the customers the vehicle-aware engine
is for; customers without a vehicle get the engine's fallback, which the baselines do not have).
Metrics are computed over the population's purchase lines in the horizon; the per-customer ones
(hit rate, precision, recall, NDCG) over population customers with at least one such line. The
match is split between re-buy lines (the customer bought the SKU before D) and new-item lines.

Calibration: for the strategies whose score is a purchase probability within the horizon
(PROBABILITY_STRATEGIES), every candidate of a population customer (all ranks, not only the top
K) is compared with what happened (did the customer buy that SKU in the horizon), by decile of
the predicted probability, separately for re-buy candidates and new items.

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
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

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
# selectors.yml: fct_recommendation_candidates, fct_baseline_candidates and their parents.
BACKTEST_SELECTOR = "backtest"
# The values of var ranking_objective (macro objective_value) and the models they change.
OBJECTIVES = ("match", "blend", "revenue")
OBJECTIVE_SELECT = "int_vehicle_products_ranked+,+fct_recommendation_candidates"


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


@dataclass(frozen=True)
class SqlTarget:
    """Where the metrics SQL reads the models and how the engine spells a float.

    `tables`: model -> relation as dbt renders it (`relations`, from the build's manifest);
    a model not in it is read by its bare name (a DuckDB file's main schema).
    """

    tables: Mapping[str, str] = field(default_factory=dict)
    float_type: str = "double"

    def table(self, model: str) -> str:
        return self.tables.get(model, model)


# The models the metrics read.
MODELS_READ = ("int_customer_vehicles_owned", "stg_shop__customers", "stg_shop__order_lines",
               "stg_shop__orders", "stg_shop__products", "fct_recommendation_candidates",
               "fct_baseline_candidates")
FLOAT_TYPES = {"duckdb": "double", "bigquery": "float64"}
# --target prod: the backtest's models go to the profile's dataset plus this suffix (dbt var
# dataset_suffix, macro generate_schema_name), never over the weekly build.
DEFAULT_DATASET_SUFFIX = "_backtest"

Query = Callable[[str], pd.DataFrame]


def sql_target(project: DbtProject) -> SqlTarget:
    """The relations of MODELS_READ in the build's manifest and the adapter's float type."""
    from vehicle_recs.warehouse import find_relation, load_manifest

    manifest = load_manifest(project.target_dir)
    adapter = str(manifest.get("metadata", {}).get("adapter_type", "duckdb"))
    return SqlTarget({model: find_relation(manifest, model).relation_name
                      for model in MODELS_READ}, FLOAT_TYPES.get(adapter, "double"))


def backtest_project(raw_dir: Path | None, as_of: date, work_dir: Path,
                     dbt_vars: Mapping[str, Any] | None = None, *, target: str = "dev",
                     raw_dataset: str | None = None,
                     dataset_suffix: str = DEFAULT_DATASET_SUFFIX) -> DbtProject:
    """The dbt project of a backtest as of D: on dev its own DuckDB file and target in work_dir;
    on prod (BigQuery) its own dataset (the profile's + `dataset_suffix`) reading `raw_dataset`,
    its target folder in work_dir (the DuckDB path there is a lock file only)."""
    run_vars: dict[str, Any] = {**(dbt_vars or {}), "as_of": as_of.isoformat()}
    if target == "prod":
        if not dataset_suffix:
            raise ValueError("a backtest on --target prod needs a dataset suffix: it must not "
                             "replace the weekly build's tables")
        run_vars.update(raw_dataset=raw_dataset, dataset_suffix=dataset_suffix)
    else:
        if raw_dir is None:
            raise ValueError("--raw RAW is needed with --target dev")
        run_vars["raw_dir"] = str(raw_dir.resolve())
    return DbtProject(
        duckdb_path=work_dir / "backtest.duckdb",
        target_path=work_dir / "target",
        target="prod" if target == "prod" else None,
        dbt_vars=run_vars,
    )


def build_as_of(raw_dir: Path | None, as_of: date, work_dir: Path,
                dbt_vars: Mapping[str, Any] | None = None, **where: Any) -> DbtProject:
    """Seed and run the scoring models with var as_of into the backtest's own warehouse
    (`backtest_project`)."""
    project = backtest_project(raw_dir, as_of, work_dir, dbt_vars, **where)
    project.invoke(["seed", "--quiet"])
    project.invoke(["run", "--quiet", "--selector", BACKTEST_SELECTOR])
    return project


def _outcome_ctes(as_of: date, horizon_days: int, sql: SqlTarget) -> str:
    """CTEs shared by the metrics and the calibration: the population, its purchase lines in
    [D, D + horizon) (is_rebuy: the customer bought the SKU before D), and its SKUs bought."""
    end = as_of + timedelta(days=horizon_days)
    (owned_vehicles, customers, order_lines, orders, products) = (
        sql.table(name) for name in ("int_customer_vehicles_owned", "stg_shop__customers",
                                     "stg_shop__order_lines", "stg_shop__orders",
                                     "stg_shop__products"))
    return f"""
    population as (
        select distinct owned.customer_id
        from {owned_vehicles} as owned
        inner join {customers} as customers
            on owned.customer_id = customers.customer_id
        where not customers.is_dirty and customers.is_email_opt_in
    ),
    prior_skus as (
        select distinct orders.customer_id, lines.sku
        from {order_lines} as lines
        inner join {orders} as orders on lines.order_id = orders.order_id
        inner join population on orders.customer_id = population.customer_id
        where not lines.is_dirty and not orders.is_dirty
            and orders.order_status = 'completed'
            and orders.ordered_at < timestamp '{as_of.isoformat()}'
    ),
    purchases as (
        select
            orders.customer_id,
            lines.sku,
            lines.quantity * lines.unit_price_usd as revenue_usd,  -- exact: summed in any order
            prior_skus.sku is not null as is_rebuy
        from {order_lines} as lines
        inner join {orders} as orders on lines.order_id = orders.order_id
        inner join {products} as products on lines.sku = products.sku
        inner join population on orders.customer_id = population.customer_id
        left join prior_skus
            on orders.customer_id = prior_skus.customer_id and lines.sku = prior_skus.sku
        where not lines.is_dirty and not orders.is_dirty and not products.is_dirty
            and orders.order_status = 'completed'
            and orders.ordered_at >= timestamp '{as_of.isoformat()}'
            and orders.ordered_at < timestamp '{end.isoformat()}'
    ),
    purchased_skus as (
        select customer_id, sku from purchases group by customer_id, sku
    )"""


def _metrics_sql(as_of: date, horizon_days: int, k: int, sql: SqlTarget | None = None) -> str:
    """The metrics query, portable: DuckDB and BigQuery give the same figures (no unnest,
    range, log2 or `double`: literal rows, ln(x) / ln(2) and the engine's float type)."""
    sql = sql or SqlTarget()
    strategies = "\n        union all ".join(f"select '{name}' as strategy" for name in STRATEGIES)
    positions = "\n        union all ".join(f"select {rank} as rank_position"
                                            for rank in range(1, k + 1))
    return f"""
    with
    {_outcome_ctes(as_of, horizon_days, sql)},
    recommendations as (
        select '{ENGINE}' as strategy, customer_id, sku, candidate_rank
        from {sql.table("fct_recommendation_candidates")}
        where candidate_rank <= {k}
        union all
        select strategy, customer_id, sku, candidate_rank
        from {sql.table("fct_baseline_candidates")}
        where candidate_rank <= {k}
    ),
    population_recommendations as (
        select recommendations.*
        from recommendations
        inner join population on recommendations.customer_id = population.customer_id
    ),
    strategies as (
        {strategies}
    ),
    positions as (
        {positions}
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
                as matched_revenue_usd,
            count(case when purchases.is_rebuy then 1 end) as rebuy_lines,
            count(case when purchases.is_rebuy and recs.sku is not null then 1 end)
                as rebuy_matched_lines,
            count(case when not purchases.is_rebuy then 1 end) as new_item_lines,
            count(case when not purchases.is_rebuy and recs.sku is not null then 1 end)
                as new_item_matched_lines
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
            coalesce(sum(1.0 / (ln(hits.candidate_rank + 1) / ln(2))), 0) as dcg
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
            sum(1.0 / (ln(positions.rank_position + 1) / ln(2))) as idcg
        from buyers
        cross join positions
        where positions.rank_position <= buyers.purchased_sku_count
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
        from {sql.table("stg_shop__products")}
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
        cast(line_matches.matched_revenue_usd as {sql.float_type})
            / nullif(cast(line_matches.revenue_usd as {sql.float_type}), 0) as revenue_match_rate,
        customer_metrics.customer_hit_rate,
        customer_metrics.precision_at_k,
        customer_metrics.recall_at_k,
        customer_metrics.ndcg_at_k,
        coverage.recommended_skus * 1.0 / sendable.sendable_products as catalog_coverage,
        line_matches.rebuy_matched_lines * 1.0 / nullif(line_matches.rebuy_lines, 0)
            as rebuy_match_rate,
        line_matches.new_item_matched_lines * 1.0 / nullif(line_matches.new_item_lines, 0)
            as new_item_match_rate,
        line_matches.purchase_lines,
        line_matches.matched_lines,
        line_matches.rebuy_lines,
        line_matches.rebuy_matched_lines,
        line_matches.new_item_lines,
        line_matches.new_item_matched_lines,
        cast(line_matches.revenue_usd as {sql.float_type}) as revenue_usd,
        cast(line_matches.matched_revenue_usd as {sql.float_type}) as matched_revenue_usd,
        customer_metrics.buyers,
        coverage.customers_with_recommendations,
        coverage.recommended_skus
    from line_matches
    left join customer_metrics on line_matches.strategy = customer_metrics.strategy
    inner join coverage on line_matches.strategy = coverage.strategy
    cross join sendable
    """


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


def _population_sql(sql: SqlTarget) -> str:
    return f"""
    select count(distinct owned.customer_id) as customers
    from {sql.table("int_customer_vehicles_owned")} as owned
    inner join {sql.table("stg_shop__customers")} as customers
        on owned.customer_id = customers.customer_id
    where not customers.is_dirty and customers.is_email_opt_in
    """


def compute_metrics(source: Path | Query, as_of: date, horizon_days: int = 60, k: int = 6,
                    sql: SqlTarget | None = None) -> tuple[pd.DataFrame, dict[str, int]]:
    """Metrics per strategy from a warehouse built with as_of (see module docstring):
    `source` is a DuckDB file or a query function (`bigquery_query`), `sql` where the models
    are and the engine's float type (default: bare names on DuckDB)."""
    query = duckdb_query(source) if isinstance(source, Path) else source
    sql = sql or SqlTarget()
    frame = query(_metrics_sql(as_of, horizon_days, k, sql))
    population_frame = query(_population_sql(sql))
    population_row = (tuple(population_frame.iloc[0]) if len(population_frame) else None)
    order = {name: position for position, name in enumerate(STRATEGIES)}
    frame = frame.sort_values("strategy", key=lambda column: column.map(order))
    frame = frame.reset_index(drop=True)
    frame.insert(1, "label", frame["strategy"].map(STRATEGY_LABELS))
    for baseline in REFERENCE_STRATEGIES:
        base = frame.loc[frame["strategy"] == baseline, "match_rate"]
        base_value = float(base.iloc[0]) if len(base) and base.iloc[0] else float("nan")
        frame[f"match_rate_vs_{baseline}"] = frame["match_rate"] / base_value
    population = {
        "population_customers": int(population_row[0]) if population_row else 0,
        "buyers_in_horizon": _count(frame["buyers"].max()),
        "purchase_lines_in_horizon": _count(frame["purchase_lines"].max()),
    }
    return frame, population


def _calibration_sql(as_of: date, horizon_days: int, sql: SqlTarget | None = None) -> str:
    sql = sql or SqlTarget()
    baselines = [name for name in PROBABILITY_STRATEGIES if name != ENGINE]
    sources = []
    if ENGINE in PROBABILITY_STRATEGIES:
        sources.append(f"select '{ENGINE}' as strategy, customer_id, sku, score "
                       f"from {sql.table('fct_recommendation_candidates')}")
    if baselines:
        names = ", ".join(f"'{name}'" for name in baselines)
        sources.append("select strategy, customer_id, sku, score from "
                       f"{sql.table('fct_baseline_candidates')} where strategy in ({names})")
    return f"""
    with
    {_outcome_ctes(as_of, horizon_days, sql)},
    candidates as (
        {" union all ".join(sources)}
    ),
    labelled as (
        select
            candidates.strategy,
            candidates.customer_id,
            candidates.sku,
            case when prior_skus.sku is not null then 'rebuy' else 'new_item' end
                as candidate_type,
            cast(candidates.score as {sql.float_type}) as predicted,
            case when purchased_skus.sku is not null then 1.0 else 0.0 end as observed
        from candidates
        inner join population on candidates.customer_id = population.customer_id
        left join prior_skus
            on candidates.customer_id = prior_skus.customer_id
            and candidates.sku = prior_skus.sku
        left join purchased_skus
            on candidates.customer_id = purchased_skus.customer_id
            and candidates.sku = purchased_skus.sku
    ),
    deciled as (
        select
            *,
            ntile({CALIBRATION_DECILES}) over (
                partition by strategy, candidate_type
                order by predicted, customer_id, sku
            ) as decile
        from labelled
    )
    select
        strategy,
        candidate_type,
        decile,
        count(*) as candidates,
        avg(predicted) as mean_predicted,
        avg(observed) as observed_share
    from deciled
    group by grouping sets ((strategy, candidate_type, decile), (strategy, candidate_type))
    """


def compute_calibration(source: Path | Query, as_of: date, horizon_days: int = 60,
                        sql: SqlTarget | None = None) -> pd.DataFrame:
    """Predicted vs observed per (strategy of PROBABILITY_STRATEGIES, candidate_type, decile of
    the score; 1 = the lowest), over every candidate of the population; decile null = all."""
    query = duckdb_query(source) if isinstance(source, Path) else source
    frame = query(_calibration_sql(as_of, horizon_days, sql))
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
        raise ValueError("--horizon and --k must be positive")
    unknown = sorted(set(objectives) - set(OBJECTIVES))
    if unknown:
        raise ValueError(f"unknown objective {', '.join(unknown)} (choose from "
                         f"{', '.join(OBJECTIVES)})")
    where: dict[str, Any] = {}
    query: Query | None = None
    if target == "prod":
        if raw_dir is not None:
            raise ValueError("--raw is read by --target dev only: on prod, load the folder "
                             "with `vehicle-recs load-raw --target prod RAW` first")
        from vehicle_recs import bigquery_io

        bigquery = bigquery_io.connect(DbtProject(target="prod"), client=client)
        bigquery_io.check_raw_dataset(bigquery)
        where = {"target": "prod", "raw_dataset": bigquery.raw_dataset,
                 "dataset_suffix": dataset_suffix}
        query = bigquery_query(bigquery.client)
        raw_source: Path | str = f"bigquery:{bigquery.project}.{bigquery.raw_dataset}"
    elif raw_dir is None or not raw_dir.is_dir():
        raise ValueError(f"raw folder not found: {raw_dir}")
    else:
        raw_source = raw_dir
    temporary = work_dir is None
    folder = work_dir or Path(tempfile.mkdtemp(prefix="vehicle-recs-backtest-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        if progress:
            progress(f"dbt build as of {as_of.isoformat()}")
        project = build_as_of(raw_dir, as_of, folder, dbt_vars, **where)
        if progress:
            progress("computing metrics")
        assert project.duckdb_path is not None
        source: Path | Query = query or project.duckdb_path
        sql = sql_target(project)
        metrics, population = compute_metrics(source, as_of, horizon_days, k, sql)
        calibration = compute_calibration(source, as_of, horizon_days, sql)
        variants = []
        for objective in objectives:
            if progress:
                progress(f"the engine ranked for {objective}")
            variant = backtest_project(raw_dir, as_of, folder,
                                       {**(dbt_vars or {}), "ranking_objective": objective},
                                       **where)
            variant.invoke(["run", "--quiet", "--select", OBJECTIVE_SELECT])
            variant_metrics, _ = compute_metrics(source, as_of, horizon_days, k, sql)
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
        raise ValueError(f"--out must end in .csv, .parquet or .json: {out}")
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
