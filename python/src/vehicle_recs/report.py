"""`vehicle-recs report`: the experiment readout and revenue marts for people and machines.

Reads the reporting marts (models/reports) through the warehouse of the dbt target,
optionally after building them, and renders them three ways: a rich terminal table, one JSON
object (`--json`), and a standalone HTML file (`report.html`: inline CSS and SVG charts, no
scripts, nothing fetched from the network).

The marts hold one row per campaign and arm. The report also pools every selected campaign per
arm (sums of sends and clicked sends; Wilson and Newcombe intervals recomputed here with the same
formulas as the macros `wilson_interval` and `newcombe_interval`), because "bandit vs random" is
read across campaigns.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from rich import box
from rich.console import Console
from rich.table import Table

from vehicle_recs import report_charts as charts
from vehicle_recs.errors import VehicleRecsError, user_path
from vehicle_recs.project import DbtProject

READOUT_MODEL = "rpt_experiment_readout"
DEPARTMENT_MODEL = "rpt_revenue_by_month_department"
PRICE_TIER_MODEL = "rpt_revenue_by_month_price_tier"
APPAREL_MODEL = "rpt_apparel_trend"
# Off-policy estimate per campaign x bandit strategy (models/reports; empty without a log).
STRATEGY_MODEL = "rpt_bandit_strategy_off_policy"
# Sample-ratio check per campaign x arm of the assignment log (empty without a log).
SAMPLE_RATIO_MODEL = "rpt_campaign_arms_checked_for_sample_ratio"
# Intent to treat per campaign (and pooled) x arm against control (empty without a log).
INTENT_TO_TREAT_MODEL = "rpt_campaign_arms_measured_for_intent_to_treat"
REPORT_MODELS = (READOUT_MODEL, DEPARTMENT_MODEL, PRICE_TIER_MODEL, APPAREL_MODEL,
                 STRATEGY_MODEL, SAMPLE_RATIO_MODEL, INTENT_TO_TREAT_MODEL)
# selectors.yml: the marts and everything upstream of them (seeds, staging, their data tests).
REPORT_SELECTOR = "report"
REPORT_FILE = "report.html"
TEMPLATE = "report.html.j2"
Z_95 = 1.959964
POWER_Z_80 = 0.841621  # var readout_power_z: 80% power


@dataclass
class ReportData:
    """Everything the report shows, as frames read from the marts."""

    readout: pd.DataFrame
    departments: pd.DataFrame
    price_tiers: pd.DataFrame
    apparel: pd.DataFrame
    backtest: pd.DataFrame | None = None
    strategies: pd.DataFrame | None = None  # per-strategy off-policy estimates (bandit arm)
    sample_ratio: pd.DataFrame | None = None  # per campaign x arm, from the assignment log
    intent_to_treat: pd.DataFrame | None = None  # per campaign / pooled x arm, vs control
    campaign: str | None = None
    baseline: str = "random"
    z: float = Z_95
    pooled: pd.DataFrame = field(init=False)

    def __post_init__(self) -> None:
        self.pooled = pool_by_treatment(self.readout, self.baseline, self.z)

    @property
    def as_of(self) -> str | None:
        if self.readout.empty:
            return None
        return _plain(self.readout["as_of_date"].iloc[0])

    @property
    def attribution_window_days(self) -> int | None:
        if self.readout.empty:
            return None
        return int(self.readout["attribution_window_days"].iloc[0])


# --- interval arithmetic (mirrors macros/wilson_interval.sql and macros/newcombe_interval.sql)


def wilson_interval(successes: float, trials: float, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of successes / trials; (nan, nan) without trials."""
    if trials <= 0:
        return math.nan, math.nan
    center = successes + z * z / 2
    half = z * math.sqrt(successes * (trials - successes) / trials + z * z / 4)
    denominator = trials + z * z
    return max(0.0, (center - half) / denominator), min(1.0, (center + half) / denominator)


def newcombe_interval(rate: float, lower: float, upper: float, base_rate: float,
                      base_lower: float, base_upper: float) -> tuple[float, float]:
    """Newcombe's hybrid score interval (method 10) of rate - base_rate."""
    diff = rate - base_rate
    return (diff - math.hypot(rate - lower, base_upper - base_rate),
            diff + math.hypot(upper - rate, base_rate - base_lower))


def sample_variance(total: float, squares: float, count: float) -> float:
    """Sample variance from a total, a sum of squares and a count (floored at 0 against
    rounding); nan below 2 observations."""
    if count < 2:
        return math.nan
    return max((squares - total * total / count) / (count - 1), 0.0)


def mean_interval(total: float, squares: float, count: float,
                  z: float = Z_95) -> tuple[float, float]:
    """Normal-approximation interval of a mean from its total, sum of squares and count
    (mirrors macros/mean_interval.sql); (nan, nan) below 2 observations."""
    if count < 2:
        return math.nan, math.nan
    mean = total / count
    half = z * math.sqrt(sample_variance(total, squares, count) / count)
    return mean - half, mean + half


def minimum_detectable_difference(variance: float, count: float, base_variance: float,
                                  base_count: float, z: float = Z_95,
                                  power_z: float = POWER_Z_80) -> float:
    """Smallest true difference of two means a two-sided test detects at the given power
    (mirrors macros/minimum_detectable_difference.sql); nan below 2 observations."""
    if count < 2 or base_count < 2:
        return math.nan
    return (z + power_z) * math.sqrt(variance / count + base_variance / base_count)


POOLED_COLUMNS = [
    "treatment", "campaign_count", "send_count", "delivered_count", "clicked_send_count",
    "click_count", "ctr", "ctr_lower", "ctr_upper", "ctr_diff_vs_baseline", "ctr_diff_lower",
    "ctr_diff_upper", "ctr_minimum_detectable_diff", "bounced_send_count", "bounce_rate",
    "bounce_rate_lower", "bounce_rate_upper", "unsubscribed_send_count", "unsubscribe_rate",
    "unsubscribe_rate_lower", "unsubscribe_rate_upper", "attributed_order_count",
    "attributed_line_count", "matched_line_count", "match_rate", "attributed_revenue_usd",
    "attributed_revenue_usd_squares", "revenue_per_send_usd", "revenue_per_send_lower",
    "revenue_per_send_upper"]


def _wilson_columns(pooled: pd.DataFrame, successes: str, rate: str, z: float) -> None:
    pooled[rate] = pooled[successes] / pooled["send_count"]
    bounds = [wilson_interval(s, n, z) for s, n in
              zip(pooled[successes], pooled["send_count"], strict=True)]
    pooled[f"{rate}_lower"] = [low for low, _ in bounds]
    pooled[f"{rate}_upper"] = [high for _, high in bounds]


def pool_by_treatment(readout: pd.DataFrame, baseline: str = "random",
                      z: float = Z_95) -> pd.DataFrame:
    """One row per arm over all campaigns in `readout`: summed counts, pooled rates, intervals,
    the CTR difference a test at these volumes detects (vs the baseline arm)."""
    if readout.empty:
        return pd.DataFrame(columns=POOLED_COLUMNS)
    sums = ["send_count", "delivered_count", "clicked_send_count", "click_count",
            "bounced_send_count", "unsubscribed_send_count", "attributed_order_count",
            "attributed_line_count", "matched_line_count", "attributed_revenue_usd",
            "attributed_revenue_usd_squares"]
    frame = readout.assign(
        attributed_revenue_usd=readout["attributed_revenue_usd"].astype(float),
        attributed_revenue_usd_squares=readout["attributed_revenue_usd_squares"].astype(float))
    pooled = frame.groupby("treatment", sort=True)[sums].sum().reset_index()
    pooled["campaign_count"] = (frame.groupby("treatment", sort=True)["campaign_id"]
                                .nunique().to_numpy())
    _wilson_columns(pooled, "clicked_send_count", "ctr", z)
    _wilson_columns(pooled, "bounced_send_count", "bounce_rate", z)
    _wilson_columns(pooled, "unsubscribed_send_count", "unsubscribe_rate", z)
    pooled["match_rate"] = (pooled["matched_line_count"]
                            / pooled["attributed_line_count"].where(
                                pooled["attributed_line_count"] > 0))
    pooled["revenue_per_send_usd"] = pooled["attributed_revenue_usd"] / pooled["send_count"]
    revenue_bounds = [mean_interval(t, q, n, z) for t, q, n in zip(
        pooled["attributed_revenue_usd"], pooled["attributed_revenue_usd_squares"],
        pooled["send_count"], strict=True)]
    pooled["revenue_per_send_lower"] = [low for low, _ in revenue_bounds]
    pooled["revenue_per_send_upper"] = [high for _, high in revenue_bounds]
    diffs = [(math.nan,) * 4] * len(pooled)
    is_base = (pooled["treatment"] == baseline).to_numpy()
    if is_base.any():
        rows: list[dict[str, Any]] = pooled.to_dict(orient="records")  # type: ignore[assignment]
        base = rows[int(is_base.argmax())]
        diffs = []
        for own, row in zip(is_base, rows, strict=True):
            if own:
                diffs.append((math.nan,) * 4)
                continue
            low, high = newcombe_interval(row["ctr"], row["ctr_lower"], row["ctr_upper"],
                                          base["ctr"], base["ctr_lower"], base["ctr_upper"])
            shared = ((row["clicked_send_count"] + base["clicked_send_count"])
                      / (row["send_count"] + base["send_count"]))
            detectable = minimum_detectable_difference(
                shared * (1 - shared), row["send_count"], shared * (1 - shared),
                base["send_count"], z)
            diffs.append((row["ctr"] - base["ctr"], low, high, detectable))
    for index, name in enumerate(("ctr_diff_vs_baseline", "ctr_diff_lower", "ctr_diff_upper",
                                  "ctr_minimum_detectable_diff")):
        pooled[name] = [d[index] for d in diffs]
    return pooled[POOLED_COLUMNS]


def revenue_mix(data: ReportData) -> dict[str, Any]:
    """Whole-period shares behind the team's headline numbers."""
    departments, tiers, apparel = data.departments, data.price_tiers, data.apparel
    if departments.empty:
        return {}
    revenue = departments.groupby("department")["revenue_usd"].sum().astype(float)
    total = float(revenue.sum())
    tier_parts = tiers.groupby(["price_tier_order", "price_tier"])["hard_parts_revenue_usd"].sum()
    parts_total = float(tier_parts.sum())
    return {
        "first_month": _plain(departments["order_month"].min()),
        "last_month": _plain(departments["order_month"].max()),
        "revenue_usd": round(total, 2),
        "order_count": int(apparel["order_count"].sum()),
        "revenue_share_by_department": {
            str(name): float(value) / total for name, value in revenue.items()} if total else {},
        "apparel_order_share": float(apparel["apparel_order_count"].sum()
                                     / apparel["order_count"].sum()),
        "hard_parts_revenue_share_by_price_tier": {
            str(key[1]): float(value) / parts_total  # type: ignore[index]
            for key, value in tier_parts.items()} if parts_total else {},
    }


# --- reading ---------------------------------------------------------------------------------


def build_marts(project: DbtProject) -> None:
    """`dbt build` of the reporting marts and their parents (models, seeds, tests).

    The selector picks tests cautiously: only those whose every parent is built here (a
    relationships test to a model outside the marts' lineage would otherwise fail on a missing
    table).
    """
    # --quiet: only errors reach stdout, which `--json` keeps for the one JSON object.
    project.invoke(["build", "--quiet", "--selector", REPORT_SELECTOR])


def bigquery_project(dbt_vars: dict[str, Any] | None = None,
                     client: Any | None = None) -> tuple[DbtProject, Any]:
    """--target prod: the dbt project on the profile's prod output (BigQuery), reading the raw
    dataset `load-raw` filled and the assignment log table once it exists, and the client made
    from the same profile (`client` replaces it: tests). The marts go to the profile's dataset,
    beside the weekly build's models."""
    from vehicle_recs import bigquery_io

    project = DbtProject(target="prod", dbt_vars=dict(dbt_vars or {}))
    bigquery = bigquery_io.connect(project, client=client)
    bigquery_io.check_raw_dataset(bigquery)
    log = bigquery_io.BigQueryAssignmentLog(bigquery)
    project.dbt_vars = {**project.dbt_vars, "raw_dataset": bigquery.raw_dataset,
                        **log.dbt_vars()}
    return project, bigquery.client


def read_marts(project: DbtProject, client: Any | None = None) -> dict[str, pd.DataFrame]:
    """The four reporting marts, through the warehouse of the target that built them
    (`client`: the BigQuery client, on prod)."""
    from vehicle_recs.warehouse import DuckDBEngine, find_relation, load_manifest

    manifest = load_manifest(project.target_dir)
    adapter = manifest.get("metadata", {}).get("adapter_type")
    if adapter != "duckdb":
        from vehicle_recs.warehouse import open_warehouse

        engine: Any = open_warehouse(project.target_dir, client=client).engine
    else:
        assert project.duckdb_path is not None
        engine = DuckDBEngine(project.duckdb_path)
    frames = {}
    for model in REPORT_MODELS:
        relation = find_relation(manifest, model)
        try:
            table = engine.query(f"select * from {relation.relation_name}")
            if adapter != "duckdb":  # BigQuery's TIMESTAMP is aware UTC; DuckDB's is naive UTC
                import pyarrow as pa

                table = table.cast(pa.schema([
                    field.with_type(pa.timestamp(field.type.unit))
                    if pa.types.is_timestamp(field.type) else field for field in table.schema]))
            frames[model] = table.to_pandas(integer_object_nulls=True)
        except Exception as error:  # the engines raise their own catalog errors
            if "does not exist" in str(error) or "not found" in str(error).lower():
                raise VehicleRecsError(f"{model} is not built in {project.duckdb_path}; run "
                                       "`vehicle-recs report --raw DIR` to build it") from error
            raise
    return frames


def load_backtest(path: Path | None) -> pd.DataFrame | None:
    """Match rate by strategy from a backtest result (CSV or JSON), or None when absent.

    Accepted: what `vehicle-recs backtest --out` writes (.csv, .parquet, or .json with the rows
    under `metrics`): a table with columns `strategy` and `match_rate` (`label` optional).
    """
    if path is None:
        return None
    if not path.is_file():
        raise VehicleRecsError(f"backtest result not found: {path}")
    with user_path(path, "read"):
        try:
            frame = _read_backtest_file(path)
        except ValueError as error:  # pandas', Arrow's and json's parse errors: the file's fault
            raise VehicleRecsError(f"{path}: not a backtest result ({error})") from error
    if not {"strategy", "match_rate"} <= set(frame.columns):
        raise VehicleRecsError(f"{path}: a backtest result needs columns strategy and match_rate")
    return frame


def _read_backtest_file(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    payload = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(payload, dict):
        payload = next((payload[key] for key in ("strategies", "results", "metrics")
                        if key in payload), payload)
    if isinstance(payload, dict):  # {strategy: {metric: value}}
        payload = [{"strategy": name, **values} for name, values in payload.items()
                   if isinstance(values, dict)]
    return pd.DataFrame(payload)


def load_report_data(project: DbtProject, campaign: str | None = None,
                     backtest: Path | None = None, baseline: str = "random",
                     client: Any | None = None) -> ReportData:
    frames = read_marts(project, client)
    readout = frames[READOUT_MODEL].sort_values(["first_sent_at", "campaign_id", "treatment"])
    if campaign is not None:
        known = sorted(readout["campaign_id"].unique())
        if campaign not in known:
            shown = ", ".join(known[:5]) + (" ..." if len(known) > 5 else "")
            raise VehicleRecsError(f"campaign '{campaign}' is not in the readout (known: {shown})")
        readout = readout.loc[readout["campaign_id"] == campaign]
    strategies = frames[STRATEGY_MODEL].sort_values(["campaign_id", "strategy"])
    sample_ratio = frames[SAMPLE_RATIO_MODEL].sort_values(["campaign_id", "arm"])
    intent = frames[INTENT_TO_TREAT_MODEL]
    if campaign is not None:
        strategies = strategies.loc[strategies["campaign_id"] == campaign]
        sample_ratio = sample_ratio.loc[sample_ratio["campaign_id"] == campaign]
        intent = intent.loc[intent["campaign_id"] == campaign]
    else:
        intent = intent.loc[intent["grain"] == "pooled"]
    return ReportData(
        readout=readout.reset_index(drop=True),
        departments=frames[DEPARTMENT_MODEL].sort_values(["order_month", "department"]),
        price_tiers=frames[PRICE_TIER_MODEL].sort_values(["order_month", "price_tier_order"]),
        apparel=frames[APPAREL_MODEL].sort_values("order_month"),
        backtest=load_backtest(backtest),
        strategies=strategies.reset_index(drop=True),
        sample_ratio=sample_ratio.reset_index(drop=True),
        intent_to_treat=intent.sort_values("arm").reset_index(drop=True),
        campaign=campaign,
        baseline=baseline,
    )


# --- output ----------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A JSON-safe scalar: NaN/NaT to None, numpy to Python, dates to ISO strings."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "as_tuple"):  # Decimal
        return float(value)
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(key): _plain(value) for key, value in row.items()}
            for row in frame.to_dict(orient="records")]


def report_json(data: ReportData, html_path: Path | None = None) -> dict[str, Any]:
    """The one JSON object `--json` prints."""
    return {
        "as_of": data.as_of,
        "campaign": data.campaign,
        "baseline_treatment": data.baseline,
        "attribution_window_days": data.attribution_window_days,
        "interval": "wilson 95%; difference: newcombe hybrid score; off-policy: normal approx.",
        "readout": records(data.readout),
        "pooled": records(data.pooled),
        "revenue_mix": revenue_mix(data),
        "backtest": records(data.backtest) if data.backtest is not None else None,
        "bandit_strategies": records(data.strategies) if data.strategies is not None else [],
        "sample_ratio": sample_ratio_status(data),
        "verdict": verdict(data),
        "intent_to_treat": (records(data.intent_to_treat)
                            if data.intent_to_treat is not None else []),
        "html": str(html_path) if html_path else None,
    }


def sample_ratio_status(data: ReportData) -> dict[str, Any]:
    """The sample-ratio check per campaign (rpt_campaign_arms_checked_for_sample_ratio):
    checked campaigns, the flagged ones with their statistic, and one sentence saying so."""
    frame = data.sample_ratio
    if frame is None or frame.empty:
        return {"checked_campaigns": 0, "mismatched": [],
                "text": "Sample ratio not checked: no assignment log for these campaigns."}
    campaigns = frame.drop_duplicates("campaign_id")
    flagged = campaigns.loc[campaigns["is_sample_ratio_mismatch"].astype(bool)]
    mismatched = [
        {"campaign_id": row["campaign_id"], "chi_square": _plain(row["chi_square"]),
         "degrees_of_freedom": _plain(row["degrees_of_freedom"]),
         "critical_value": _plain(row["critical_value"]),
         "arms": records(frame.loc[frame["campaign_id"] == row["campaign_id"],
                                   ["arm", "assigned_count", "expected_count"]])}
        for row in flagged.to_dict(orient="records")]
    if mismatched:
        names = ", ".join(str(item["campaign_id"]) for item in mismatched)
        text = (f"Sample-ratio mismatch in {len(mismatched)} of {len(campaigns)} campaigns "
                f"({names}): arm sizes differ from the planned weights beyond chance; do not "
                "trust the arm comparisons of these campaigns until the cause is found.")
    else:
        text = (f"Sample ratio OK: the arm sizes of all {len(campaigns)} logged campaigns "
                "match their planned weights (chi-square test).")
    return {"checked_campaigns": len(campaigns), "mismatched": mismatched, "text": text}


def _pp(value: float) -> str:
    """A difference of rates in percentage points, signed."""
    return f"{value * 100:+.2f} pp"


def _signed_usd(value: float) -> str:
    return ("+" if value >= 0 else "") + _usd(value)


def _compared(diff: float, low: float, high: float, detectable: float,
              fmt: Callable[[float], str], higher: str, lower: str) -> tuple[str, str | None]:
    """('+x [l, h]: <conclusion>', the conclusion when the interval excludes 0 else None)."""
    span = f"{fmt(diff)} [{fmt(low)}, {fmt(high)}]"
    if low > 0 or high < 0:
        conclusion = higher if low > 0 else lower
        return f"{span}: {conclusion}", f"{conclusion} ({span})"
    floor = (f" (these volumes detect {fmt(detectable).lstrip('+')} 80% of the time)"
             if math.isfinite(detectable) else "")
    return f"{span}: no detectable difference{floor}", None


def _revenue_per_send_difference(arm: Any, base: Any,
                                 z: float) -> tuple[float, float, float, float]:
    """Difference of mean revenue per send, its interval and minimum detectable difference,
    from the pooled sums and sums of squares (unpooled standard error)."""
    def variance(row: Any) -> float:
        return sample_variance(float(row["attributed_revenue_usd"]),
                               float(row["attributed_revenue_usd_squares"]),
                               float(row["send_count"]))
    diff = float(arm["revenue_per_send_usd"]) - float(base["revenue_per_send_usd"])
    half = z * math.sqrt(variance(arm) / arm["send_count"] + variance(base) / base["send_count"])
    detectable = minimum_detectable_difference(variance(arm), arm["send_count"], variance(base),
                                               base["send_count"], z)
    return diff, diff - half, diff + half, detectable


def verdict(data: ReportData) -> dict[str, Any]:
    """What the numbers say, in sentences: each arm against the baseline (CTR, revenue per
    send, unsubscribes), each arm against control per assigned customer (intent to treat),
    with the interval and, where nothing is detectable, the difference these volumes would
    detect. Only what the report's tables show; the headline lists what is detectable."""
    findings: list[str] = []
    detected: list[str] = []

    def add(subject: str, result: tuple[str, str | None]) -> None:
        findings.append(f"{subject}: {result[0]}")
        if result[1] is not None:
            detected.append(result[1])

    by_arm = {str(row["treatment"]): row for row in data.pooled.to_dict(orient="records")}
    base = by_arm.get(data.baseline)
    for name, arm in by_arm.items():
        if base is None or name == data.baseline:
            continue
        versus = f"{name} vs {data.baseline}"
        add(f"{versus}, CTR per send {_pct(arm['ctr'])} vs {_pct(base['ctr'])}", _compared(
            float(arm["ctr_diff_vs_baseline"]), float(arm["ctr_diff_lower"]),
            float(arm["ctr_diff_upper"]), float(arm["ctr_minimum_detectable_diff"]), _pp,
            f"{name} wins on clicks", f"{data.baseline} wins on clicks"))
        add(f"{versus}, revenue per send {_usd(arm['revenue_per_send_usd'])} vs "
            f"{_usd(base['revenue_per_send_usd'])}", _compared(
                *_revenue_per_send_difference(arm, base, data.z), _signed_usd,
                f"{name} earns more per send", f"{data.baseline} earns more per send"))
        add(f"{versus}, unsubscribes per send {_pct(arm['unsubscribe_rate'])} vs "
            f"{_pct(base['unsubscribe_rate'])}", _compared(
                float(arm["unsubscribe_rate"] - base["unsubscribe_rate"]), *newcombe_interval(
                    arm["unsubscribe_rate"], arm["unsubscribe_rate_lower"],
                    arm["unsubscribe_rate_upper"], base["unsubscribe_rate"],
                    base["unsubscribe_rate_lower"], base["unsubscribe_rate_upper"]),
                math.nan, _pp, f"{name} loses more subscribers (guardrail)",
                f"{name} loses fewer subscribers"))
    intent = data.intent_to_treat
    compared = (intent.loc[intent["revenue_diff_vs_control"].notna()].sort_values("arm")
                if intent is not None and not intent.empty else pd.DataFrame())
    for row in compared.to_dict(orient="records"):
        add(f"{row['arm']} vs control (no email), revenue per assigned customer "
            f"{_usd(row['revenue_per_customer'])}", _compared(
                float(row["revenue_diff_vs_control"]), float(row["revenue_diff_lower"]),
                float(row["revenue_diff_upper"]),
                float(row.get("revenue_minimum_detectable_diff", math.nan)), _signed_usd,
                f"{row['arm']} pays over no email",
                f"{row['arm']} costs revenue against no email"))
    if compared.empty and by_arm:
        findings.append("No intent-to-treat comparison (no control arm in the assignment log): "
                        "what the emails add over sending none is not measured.")
    headline = ("; ".join(detected) + "." if detected else
                "No arm differs detectably from another at these volumes." if by_arm else
                "No sends to compare before as_of.")
    headline = headline[0].upper() + headline[1:]
    status = sample_ratio_status(data)
    if status["mismatched"]:
        headline = f"{status['text']} {headline}"
    return {"headline": headline, "findings": findings}


def _pct(value: Any, digits: int = 2) -> str:
    value = _plain(value)
    return "-" if value is None else f"{value * 100:.{digits}f}%"


def _ci(low: Any, high: Any, digits: int = 2) -> str:
    if _plain(low) is None or _plain(high) is None:
        return ""
    return f"[{_pct(low, digits)}, {_pct(high, digits)}]"


def _usd(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return "-"
    return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"


def readout_table(frame: pd.DataFrame, title: str, per_campaign: bool,
                  baseline: str = "random") -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
                  padding=(0, 1))
    names = (["campaign"] if per_campaign else []) + [
        "arm", "sends", "CTR/send [95% CI]", f"vs {baseline} [95% CI]", "orders",
        "rev/send [95% CI]", "unsub/send", "match"]
    for name in names:
        table.add_column(name, justify="left" if name in {"arm", "campaign"} else "right",
                         no_wrap=True)
    for row in frame.itertuples():
        cells = [str(row.campaign_id)] if per_campaign else []
        diff = ("" if _plain(row.ctr_diff_vs_baseline) is None else
                f"{_pct(row.ctr_diff_vs_baseline)} {_ci(row.ctr_diff_lower, row.ctr_diff_upper)}")
        cells += [str(row.treatment), f"{row.send_count:,}",
                  f"{_pct(row.ctr)} {_ci(row.ctr_lower, row.ctr_upper)}", diff,
                  f"{row.attributed_order_count:,}",
                  f"{_usd(row.revenue_per_send_usd)} "
                  f"{_usd_ci(row.revenue_per_send_lower, row.revenue_per_send_upper)}",
                  _pct(row.unsubscribe_rate), _pct(row.match_rate, 1)]
        table.add_row(*cells)
    return table


def _usd_ci(low: Any, high: Any) -> str:
    if _plain(low) is None or _plain(high) is None:
        return ""
    return f"[{_usd(low)}, {_usd(high)}]"


def intent_to_treat_rows(frame: pd.DataFrame | None) -> list[dict[str, str]]:
    """The intent-to-treat readout as display strings, one dict per arm (control first)."""
    if frame is None or frame.empty:
        return []
    ordered = frame.assign(_is_control=frame["control_customer_count"].isna()).sort_values(
        ["_is_control", "arm"], ascending=[False, True])
    rows = []
    for row in ordered.itertuples():
        compared = _plain(row.revenue_diff_vs_control) is not None
        rows.append({
            "arm": str(row.arm),
            "assigned": f"{_plain(row.assigned_customer_count):,}",
            "revenue_per_customer": _usd(row.revenue_per_customer),
            "revenue_diff": (f"{_usd(row.revenue_diff_vs_control)} "
                             f"{_usd_ci(row.revenue_diff_lower, row.revenue_diff_upper)}"
                             if compared else "(control)"),
            "revenue_lift": (f"{_pct(row.revenue_relative_lift, 1)} " + _ci(
                row.revenue_relative_lift_lower, row.revenue_relative_lift_upper, 1)
                if _plain(row.revenue_relative_lift) is not None else ""),
            "revenue_detectable": (_usd(getattr(row, "revenue_minimum_detectable_diff", None))
                                   if compared else ""),
            "conversion": _pct(row.conversion_rate),
            "conversion_diff": (f"{_pct(row.conversion_diff_vs_control)} "
                                f"{_ci(row.conversion_diff_lower, row.conversion_diff_upper)}"
                                if compared else ""),
        })
    return rows


INTENT_TO_TREAT_COLUMNS = {
    "arm": "arm", "assigned": "assigned", "revenue_per_customer": "revenue / assigned",
    "revenue_diff": "vs control [95% CI]", "revenue_lift": "relative lift [95% CI]",
    "revenue_detectable": "detectable",
    "conversion": "bought", "conversion_diff": "vs control [95% CI]"}


def intent_to_treat_table(data: ReportData) -> Table | None:
    """Intent to treat: every assigned customer, emailed or not, against the control arm."""
    rows = intent_to_treat_rows(data.intent_to_treat)
    if not rows:
        return None
    scope = f"campaign {data.campaign}" if data.campaign else "all campaigns pooled"
    table = Table(title=f"Intent to treat vs control ({scope}; per assigned customer, "
                  f"{data.attribution_window_days}-day window)", title_justify="left",
                  box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1))
    for key, name in INTENT_TO_TREAT_COLUMNS.items():
        table.add_column(name, justify="left" if key == "arm" else "right", no_wrap=True)
    for row in rows:
        table.add_row(*(row[key] for key in INTENT_TO_TREAT_COLUMNS))
    return table


def strategy_table(frame: pd.DataFrame) -> Table:
    """Bandit strategies: off-policy CTR per send (IPS, SNIPS) by campaign, from the log."""
    table = Table(title="Bandit strategies: off-policy CTR per send if every bandit customer "
                  "got the strategy", title_justify="left", box=box.SIMPLE_HEAD,
                  show_edge=False, padding=(0, 1))
    for name in ("campaign", "strategy", "sends", "observed CTR", "IPS [95% CI]",
                 "SNIPS [95% CI]"):
        table.add_column(name, justify="left" if name in {"campaign", "strategy"} else "right",
                         no_wrap=True)
    for row in frame.itertuples():
        table.add_row(str(row.campaign_id), str(row.strategy),
                      f"{row.strategy_send_count:,} of {row.logged_send_count:,}",
                      _pct(row.observed_ctr),
                      f"{_pct(row.ips_ctr)} {_ci(row.ips_ctr_lower, row.ips_ctr_upper)}",
                      f"{_pct(row.snips_ctr)} {_ci(row.snips_ctr_lower, row.snips_ctr_upper)}")
    return table


def print_terminal(data: ReportData, console: Console, html_path: Path | None) -> None:
    summary = verdict(data)
    console.print(f"Verdict: {summary['headline']}", style="bold", markup=False)
    for finding in summary["findings"]:
        console.print(f"  - {finding}", markup=False)
    status = sample_ratio_status(data)
    console.print(status["text"], style="bold red" if status["mismatched"] else None,
                  markup=False)
    scope = f"campaign {data.campaign}" if data.campaign else (
        f"{data.readout['campaign_id'].nunique()} campaigns pooled")
    console.print(readout_table(
        data.pooled, f"Experiment readout as of {data.as_of} ({scope}; "
        f"{data.attribution_window_days}-day attribution)", per_campaign=False,
        baseline=data.baseline))
    if data.campaign is None and not data.readout.empty:
        latest = data.readout["campaign_id"].iloc[int(data.readout["first_sent_at"].argmax())]
        console.print(readout_table(data.readout.loc[data.readout["campaign_id"] == latest],
                                    "Latest campaign", per_campaign=True,
                                    baseline=data.baseline))
    intent = intent_to_treat_table(data)
    if intent is not None:
        console.print(intent)
    if data.strategies is not None and not data.strategies.empty:
        console.print(strategy_table(data.strategies))
    mix = revenue_mix(data)
    if mix:
        shares = ", ".join(f"{readable(name)} {_pct(share, 1)}"
                           for name, share in mix["revenue_share_by_department"].items())
        tiers = ", ".join(f"{readable(name)} {_pct(share, 1)}"
                          for name, share in mix["hard_parts_revenue_share_by_price_tier"].items())
        console.print(f"Revenue {_month_span(mix)}: "
                      f"{_usd(mix['revenue_usd'])} from {mix['order_count']:,} orders")
        console.print(f"  revenue share by department: {shares}")
        console.print(f"  apparel share of orders: {_pct(mix['apparel_order_share'], 1)}")
        console.print(f"  hard-parts revenue by price tier: {tiers}")
    if html_path is not None:
        console.print(f"HTML report: {html_path}")


def readable(code: Any) -> str:
    """A department or price-tier code as a reader says it: hard_parts -> Hard parts,
    under_50 -> Under $50, 50_to_199 -> $50-$199, 500_plus -> $500+."""
    text = str(code)
    if match := re.fullmatch(r"under_(\d+)", text):
        return f"Under ${match[1]}"
    if match := re.fullmatch(r"(\d+)_to_(\d+)", text):
        return f"${match[1]}-${match[2]}"
    if match := re.fullmatch(r"(\d+)_plus", text):
        return f"${match[1]}+"
    return text.replace("_", " ").capitalize()


def _month_span(mix: dict[str, Any]) -> str:
    """'Nov 2023 through Oct 2026': whole months, both ends included."""
    first, last = (date.fromisoformat(str(mix[key])[:10]) for key in ("first_month", "last_month"))
    return f"{first:%b %Y} through {last:%b %Y} (whole months)"


def _month_labels(months: Sequence[Any]) -> list[str]:
    return [str(_plain(month))[:7] for month in months]


def _share_series(frame: pd.DataFrame, key: str, value: str,
                  order: Sequence[str]) -> tuple[list[str], dict[str, list[float]]]:
    wide = frame.pivot_table(index="order_month", columns=key, values=value,
                             aggfunc="sum", fill_value=0.0).sort_index()
    series = {str(name): [float(v) for v in wide[name]] for name in order if name in wide}
    return _month_labels(list(wide.index)), series


def build_charts(data: ReportData) -> dict[str, Markup]:
    """The SVG charts by element id; the backtest chart only when a result was given."""
    out: dict[str, Markup] = {}
    pooled = data.pooled
    out["chart-ctr-by-arm"] = charts.interval_chart(
        "chart-ctr-by-arm", "CTR per send by arm, with its 95% Wilson interval",
        [(str(arm), float(ctr), float(low), float(high)) for arm, ctr, low, high in zip(
            pooled["treatment"], pooled["ctr"], pooled["ctr_lower"], pooled["ctr_upper"],
            strict=True)], x_title="Sends with at least one click / sends")
    if len(data.readout["campaign_id"].unique()) > 1:
        campaigns = data.readout.groupby("campaign_id")["first_sent_at"].min().sort_values()
        wide = data.readout.assign(
            campaign_start=data.readout["campaign_id"].map(campaigns)).pivot_table(
            index="campaign_start", columns="treatment",
            values=["ctr", "ctr_lower", "ctr_upper"], aggfunc="mean").sort_index()

        def points(column: str, arm: Any) -> list[float | None]:
            return [None if pd.isna(v) else float(v) for v in wide[(column, arm)]]

        arms = list(wide["ctr"].columns)
        out["chart-ctr-by-campaign"] = charts.line_chart(
            "chart-ctr-by-campaign", "CTR per send by campaign and arm, 95% Wilson band",
            [str(_plain(start))[:10] for start in wide.index],
            {str(arm): points("ctr", arm) for arm in arms}, charts.percent(2),
            x_title="Campaign start date", y_title="CTR per send",
            bands={str(arm): [None if low is None or high is None else (low, high)
                              for low, high in zip(points("ctr_lower", arm),
                                                   points("ctr_upper", arm), strict=True)]
                   for arm in arms})
    departments = (data.departments.groupby("department")["revenue_usd"].sum()
                   .sort_values(ascending=False).index.tolist())
    labels, series = _share_series(data.departments, "department", "revenue_share", departments)
    out["chart-department-share"] = charts.stacked_share_chart(
        "chart-department-share", "Revenue share by department, by month", labels,
        {readable(name): values for name, values in series.items()},
        x_title="Order month", y_title="Share of the month's revenue")
    tiers = (data.price_tiers.drop_duplicates("price_tier").sort_values("price_tier_order")
             ["price_tier"].tolist())
    labels, series = _share_series(data.price_tiers, "price_tier", "revenue_share", tiers)
    out["chart-price-tier-share"] = charts.stacked_share_chart(
        "chart-price-tier-share", "Revenue share by price tier (unit price), by month", labels,
        {readable(name): values for name, values in series.items()},
        x_title="Order month", y_title="Share of the month's revenue")
    out["chart-apparel-trend"] = charts.line_chart(
        "chart-apparel-trend", "Apparel share of orders, by month",
        _month_labels(data.apparel["order_month"].tolist()),
        {"monthly": [float(v) for v in data.apparel["apparel_order_share"]],
         "trailing 3 months": [float(v) for v in
                               data.apparel["apparel_order_share_trailing_3_months"]]},
        x_title="Order month", y_title="Orders with apparel / orders")
    if data.backtest is not None and not data.backtest.empty:
        out["chart-backtest-match-rate"] = charts.bar_chart(
            "chart-backtest-match-rate", "Backtest match rate by strategy",
            [(str(label), float(rate)) for label, rate in zip(
                data.backtest.get("label", data.backtest["strategy"]).fillna(
                    data.backtest["strategy"]),
                data.backtest["match_rate"], strict=True)],
            x_title="Future purchase lines recommended / future purchase lines")
    return out


def render_html(data: ReportData) -> str:
    env = Environment(loader=PackageLoader("vehicle_recs", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), undefined=StrictUndefined)
    env.filters["pct"] = _pct
    env.filters["ci"] = _ci
    env.filters["usd"] = _usd
    env.filters["usd_ci"] = _usd_ci
    env.filters["plain"] = _plain
    env.filters["month_span"] = _month_span
    env.filters["readable"] = readable
    return env.get_template(TEMPLATE).render(
        data=data, charts=build_charts(data), mix=revenue_mix(data),
        readout=records(data.readout), pooled=records(data.pooled),
        strategy_rows=records(data.strategies) if data.strategies is not None else [],
        sample_ratio=sample_ratio_status(data), verdict=verdict(data),
        intent_rows=intent_to_treat_rows(data.intent_to_treat),
        intent_columns=INTENT_TO_TREAT_COLUMNS,
        generated_at=datetime.now().astimezone().isoformat(timespec="seconds"))


def write_html(html: str, out_dir: Path) -> Path:
    """Write report.html atomically (a reader never sees a half-written file), mode 0644
    under the usual umask like any other output."""
    from vehicle_recs.outputs import atomic_path

    target = out_dir / REPORT_FILE
    with user_path(out_dir, "write the report to"), atomic_path(target) as temp:
        temp.write_text(html, encoding="utf-8")
    return target


def run_report(project: DbtProject, out_dir: Path, campaign: str | None = None,
               build: bool = False, backtest: Path | None = None,
               client: Any | None = None) -> tuple[ReportData, Path]:
    """Optionally build the marts, read them, write report.html; the data and the file
    (`client`: the BigQuery client of a prod project, `bigquery_project`)."""
    if build:
        build_marts(project)
    data = load_report_data(project, campaign=campaign, backtest=backtest, client=client)
    if data.readout.empty:
        raise VehicleRecsError("the experiment readout is empty: no email sends before as_of")
    return data, write_html(render_html(data), out_dir)
