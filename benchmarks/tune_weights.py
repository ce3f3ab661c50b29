"""Grid search of the scoring vars with the backtest, on one tuning data set (never the report one).

Builds the project once as of D, then for each setting re-runs only the models downstream of the
changed vars and recomputes the metrics. Prints one line per setting and writes a CSV.

    .venv/bin/python benchmarks/tune_weights.py --raw RAW_DIR --as-of 2026-09-01 \
        --work-dir /tmp/tune --out benchmarks/tuning_seed11.csv
"""

from __future__ import annotations

import argparse
import itertools
import time
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from vehicle_recs.backtest import ENGINE, backtest_project, build_as_of, compute_metrics

# What is searched; everything else keeps its dbt_project.yml default.
GRID: dict[str, list[Any]] = {
    "backoff_prior_strength": [5, 20, 50],
    "lift_weight": [0.0, 0.25, 0.5, 1.0],
    "breadth_weight": [0.0, 1.0],
    "price_weight": [0.0, 1.0],
}
# The models between the clean purchases and the final model: everything the scoring vars touch
# (the baselines and the reporting marts do not depend on them), then the scorecard over them.
SELECT = ["int_order_lines_filtered_to_completed+,+fct_recommendation_candidates",
          "rpt_backtest_strategies_matched_to_purchases"]


def _value(text: str) -> float | str:
    """A var value from the command line: a number, or a word such as `revenue`."""
    try:
        return float(text)
    except ValueError:
        return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--as-of", type=date.fromisoformat, required=True)
    parser.add_argument("--horizon", type=int, default=60)
    parser.add_argument("--k", type=int, default=6)
    parser.add_argument("--work-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--skip-initial-build", action="store_true")
    parser.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2",
                        help="Search these values of a var instead of GRID (repeatable).")
    parser.add_argument("--fixed", action="append", default=[], metavar="NAME=V",
                        help="Hold a var at a value for every setting (repeatable).")
    args = parser.parse_args()
    grid = {name: [_value(v) for v in values.split(",")]
            for name, _, values in (item.partition("=") for item in args.grid)} or GRID
    fixed = {name: _value(value)
             for name, _, value in (item.partition("=") for item in args.fixed)}

    if not args.skip_initial_build:
        build_as_of(args.raw, args.as_of, args.work_dir, horizon_days=args.horizon, k=args.k)
    rows = []
    names = list(grid)
    for values in itertools.product(*(grid[name] for name in names)):
        dbt_vars = {**fixed, **dict(zip(names, values, strict=True))}
        project = backtest_project(args.raw, args.as_of, args.work_dir, dbt_vars,
                                   horizon_days=args.horizon, k=args.k)
        started = time.perf_counter()
        project.invoke(["run", "--quiet", "--select", *SELECT])
        metrics, _ = compute_metrics(project)
        engine = metrics.set_index("strategy").loc[ENGINE]
        row = {**dbt_vars, **{key: engine[key] for key in (
            "match_rate", "revenue_match_rate", "customer_hit_rate", "ndcg_at_k",
            "catalog_coverage", "match_rate_vs_vehicle_raw_counts",
            "match_rate_vs_popular_fitting")}, "seconds": time.perf_counter() - started}
        rows.append(row)
        print(" ".join(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}"
                       for key, value in row.items()), flush=True)
    frame = pd.DataFrame(rows).sort_values("match_rate", ascending=False)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index=False)
    print(frame.head(10).to_string(index=False))


if __name__ == "__main__":
    main()
