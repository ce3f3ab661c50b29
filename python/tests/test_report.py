"""`vehicle-recs report`: interval arithmetic, pooling, charts, HTML, JSON and the CLI."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from vehicle_recs import report
from vehicle_recs import report_charts as charts
from vehicle_recs.cli import main
from vehicle_recs.errors import VehicleRecsError
from vehicle_recs.project import DbtProject

Query = Callable[[DbtProject, str], list[tuple[Any, ...]]]

CHART_IDS = {"chart-ctr-by-arm", "chart-ctr-by-campaign", "chart-department-share",
             "chart-price-tier-share", "chart-apparel-trend"}


# --- arithmetic (the same hand-checkable cases as the dbt unit tests) -------------------------


def test_wilson_interval_hand_checked() -> None:
    # z = 2: (6 + 2) / 16 -/+ 2 / 16 * sqrt(6 * 6 / 12 + 1) = 0.5 -/+ 0.25
    assert report.wilson_interval(6, 12, z=2) == (0.25, 0.75)
    assert report.wilson_interval(0, 4, z=2) == (0.0, 0.5)
    low, high = report.wilson_interval(0, 0)
    assert math.isnan(low) and math.isnan(high)


def test_wilson_interval_matches_textbook_form() -> None:
    # the usual (p + z^2/2n -/+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)
    s, n, z = 37, 10_000, report.Z_95
    p = s / n
    center = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low, high = report.wilson_interval(s, n)
    assert low == pytest.approx(center - half, rel=1e-12)
    assert high == pytest.approx(center + half, rel=1e-12)


def test_newcombe_interval_hand_checked() -> None:
    low, high = report.newcombe_interval(0.5, 0.25, 0.75, 0.0, 0.0, 0.5)
    assert high == 0.75  # 0.5 + sqrt(0.25^2 + 0^2)
    assert low == pytest.approx(0.5 - math.sqrt(0.25**2 + 0.5**2))


def _readout_frame() -> pd.DataFrame:
    rows = []
    for campaign, start in (("C1", "2026-01-01"), ("C2", "2026-01-15")):
        for arm, sends, clicked in (("bandit", 1000, 4), ("random", 1000, 2)):
            rows.append({
                "campaign_id": campaign, "treatment": arm,
                "first_sent_at": pd.Timestamp(start), "last_sent_at": pd.Timestamp(start),
                "send_count": sends, "delivered_count": sends - 30,
                "clicked_send_count": clicked, "click_count": clicked + 1,
                "ctr": clicked / sends, "ctr_lower": 0.0, "ctr_upper": 0.01,
                "ctr_diff_vs_baseline": None, "ctr_diff_lower": None, "ctr_diff_upper": None,
                "bounced_send_count": 30, "unsubscribed_send_count": 2 if arm == "bandit" else 1,
                "attributed_order_count": 3, "attributed_line_count": 4,
                "matched_line_count": 1, "match_rate": 0.25, "attributed_revenue_usd": 120.0,
                "attributed_revenue_usd_squares": 120.0**2, "revenue_per_send_usd": 0.12,
                "revenue_per_send_lower": -0.1, "revenue_per_send_upper": 0.34,
                "unsubscribe_rate": (2 if arm == "bandit" else 1) / sends,
                "ips_ctr": None, "snips_ctr": None, "snips_ctr_lower": None,
                "snips_ctr_upper": None,
                "attribution_window_days": 7, "as_of_date": pd.Timestamp("2026-02-01").date(),
            })
    return pd.DataFrame(rows)


def _report_data(backtest: pd.DataFrame | None = None) -> report.ReportData:
    months = pd.to_datetime(["2026-01-01", "2026-02-01"]).date
    departments = pd.DataFrame([
        {"order_month": m, "department": d, "revenue_usd": r, "revenue_share": s,
         "order_count": 10, "order_share": 0.5}
        for m in months for d, r, s in (("hard_parts", 980.0, 0.98), ("apparel", 20.0, 0.02))])
    tiers = pd.DataFrame([
        {"order_month": m, "price_tier": t, "price_tier_order": o, "revenue_usd": r,
         "revenue_share": r / 1000, "hard_parts_revenue_usd": r}
        for m in months for t, o, r in (("under_50", 1, 400.0), ("500_plus", 2, 600.0))])
    apparel = pd.DataFrame({"order_month": months, "order_count": [100, 100],
                            "apparel_order_count": [4, 5], "apparel_order_share": [0.04, 0.05],
                            "apparel_order_share_trailing_3_months": [0.04, 0.045]})
    return report.ReportData(readout=_readout_frame(), departments=departments,
                             price_tiers=tiers, apparel=apparel, backtest=backtest)


def test_pooling_sums_counts_and_recomputes_intervals() -> None:
    pooled = report.pool_by_treatment(_readout_frame()).set_index("treatment")
    bandit = {str(key): float(value) for key, value in zip(
        pooled.columns, pooled.loc["bandit"].to_numpy(dtype=float), strict=True)}
    assert bandit["send_count"] == 2000
    assert bandit["clicked_send_count"] == 8
    assert bandit["ctr"] == pytest.approx(0.004)
    assert (bandit["ctr_lower"], bandit["ctr_upper"]) == \
        pytest.approx(report.wilson_interval(8, 2000))
    assert bandit["ctr_diff_vs_baseline"] == pytest.approx(0.002)
    assert bandit["ctr_diff_lower"] < 0.002 < bandit["ctr_diff_upper"]
    assert math.isnan(float(pooled.loc["random", "ctr_diff_vs_baseline"]))  # type: ignore[arg-type]
    assert bandit["match_rate"] == pytest.approx(0.25)
    assert bandit["revenue_per_send_usd"] == pytest.approx(240 / 2000)
    # guardrails: Wilson intervals of the pooled counts
    assert bandit["unsubscribe_rate"] == pytest.approx(4 / 2000)
    assert (bandit["unsubscribe_rate_lower"], bandit["unsubscribe_rate_upper"]) == \
        pytest.approx(report.wilson_interval(4, 2000))
    assert bandit["bounce_rate"] == pytest.approx(60 / 2000)
    # revenue per send: one $120 order in each campaign's 1,000 sends
    assert (bandit["revenue_per_send_lower"], bandit["revenue_per_send_upper"]) == \
        pytest.approx(report.mean_interval(240, 2 * 120.0**2, 2000))
    # the CTR difference these volumes detect, at the pooled CTR 12 / 4000
    shared = 12 / 4000
    assert bandit["ctr_minimum_detectable_diff"] == pytest.approx(
        (report.Z_95 + report.POWER_Z_80) * math.sqrt(2 * shared * (1 - shared) / 2000))


def test_mean_interval_and_detectable_difference_hand_checked() -> None:
    # revenue 0, 0, 0, 40 (as the dbt unit test): mean 10, sample variance (1600 - 400) / 3
    # = 400, standard error sqrt(400 / 4) = 10; z = 2
    assert report.mean_interval(40, 1600, 4, z=2) == (-10.0, 30.0)
    assert all(math.isnan(bound) for bound in report.mean_interval(5, 25, 1))
    # variances 70 and 30 over 5 each, z = power z = 2: (2 + 2) * sqrt(20)
    assert report.minimum_detectable_difference(70, 5, 30, 5, z=2, power_z=2) == \
        pytest.approx(4 * math.sqrt(20))
    assert math.isnan(report.minimum_detectable_difference(1, 1, 1, 5))


# --- charts and HTML ---------------------------------------------------------------------------


def test_charts_escape_labels() -> None:
    svg = str(charts.interval_chart("chart-x", "a <b> title", [("<script>", 0.1, 0.05, 0.2)]))
    assert svg.startswith("<svg id='chart-x'")
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_html_is_standalone_with_every_chart() -> None:
    backtest = pd.DataFrame({"strategy": ["popular_fitting", "vehicle_aware"],
                             "match_rate": [0.01, 0.03]})
    html = report.render_html(_report_data(backtest))
    ids = set(re.findall(r"<svg id='(chart-[a-z-]+)'", html))
    assert ids == CHART_IDS | {"chart-backtest-match-rate"}
    # nothing fetched: no scripts, stylesheets, images or URLs other than the SVG namespace
    assert not re.search(r"<script|<link|<img|<iframe|url\(|@import", html)
    assert set(re.findall(r"https?://[^\s'\"<]+", html)) <= {"http://www.w3.org/2000/svg"}


def _sample_ratio_frame(skewed: bool) -> pd.DataFrame:
    """The sample-ratio mart for two campaigns; the second skewed 80/20 against 50/50 or not."""
    second = (80, 20, 36.0) if skewed else (52, 48, 0.16)
    rows = [("c1", "bandit", 51, 50.0, 0.04), ("c1", "random", 49, 50.0, 0.04),
            ("c2", "bandit", second[0], 50.0, second[2]),
            ("c2", "random", second[1], 50.0, second[2])]
    return pd.DataFrame([
        {"campaign_id": c, "arm": arm, "assigned_count": n, "expected_count": e,
         "chi_square": chi, "degrees_of_freedom": 1, "critical_value": 10.828,
         "is_sample_ratio_mismatch": chi > 10.828} for c, arm, n, e, chi in rows])


def test_sample_ratio_mismatch_is_flagged_in_red_first() -> None:
    data = _report_data()
    data.sample_ratio = _sample_ratio_frame(skewed=True)
    status = report.sample_ratio_status(data)
    assert status["checked_campaigns"] == 2
    assert [item["campaign_id"] for item in status["mismatched"]] == ["c2"]
    assert status["text"].startswith("Sample-ratio mismatch in 1 of 2 campaigns (c2)")
    html = report.render_html(data)
    assert html.index('id="sample-ratio" class="alert"') < html.index("id='chart-")
    data.sample_ratio = _sample_ratio_frame(skewed=False)
    assert report.sample_ratio_status(data)["text"].startswith("Sample ratio OK")
    assert 'id="sample-ratio" class="meta"' in report.render_html(data)
    data.sample_ratio = None
    assert report.sample_ratio_status(data)["text"].startswith("Sample ratio not checked")


def test_intent_to_treat_section_lists_control_first_with_intervals() -> None:
    data = _report_data()
    data.intent_to_treat = pd.DataFrame([
        {"grain": "pooled", "campaign_id": None, "arm": "personalized",
         "assigned_customer_count": 5000, "revenue_per_customer": 12.0,
         "control_customer_count": 1000, "revenue_diff_vs_control": 8.0,
         "revenue_diff_lower": -0.94, "revenue_diff_upper": 16.94,
         "revenue_relative_lift": 2.0, "revenue_relative_lift_lower": -2.12,
         "revenue_relative_lift_upper": 6.12, "conversion_rate": 0.8,
         "conversion_diff_vs_control": 0.4, "conversion_diff_lower": 0.1,
         "conversion_diff_upper": 0.7},
        {"grain": "pooled", "campaign_id": None, "arm": "control",
         "assigned_customer_count": 1000, "revenue_per_customer": 4.0,
         "control_customer_count": None, "revenue_diff_vs_control": None,
         "revenue_diff_lower": None, "revenue_diff_upper": None, "revenue_relative_lift": None,
         "revenue_relative_lift_lower": None, "revenue_relative_lift_upper": None,
         "conversion_rate": 0.4, "conversion_diff_vs_control": None,
         "conversion_diff_lower": None, "conversion_diff_upper": None}])
    rows = report.intent_to_treat_rows(data.intent_to_treat)
    assert [row["arm"] for row in rows] == ["control", "personalized"]
    assert rows[1]["revenue_diff"] == "$8.00 [-$0.94, $16.94]"
    assert rows[1]["revenue_lift"] == "200.0% [-212.0%, 612.0%]"
    assert rows[0]["revenue_diff"] == "(control)"
    html = report.render_html(data)
    assert 'id="table-intent-to-treat"' in html and "$16.94" in html
    assert report.report_json(data)["intent_to_treat"][0]["arm"] == "personalized"
    data.intent_to_treat = None
    assert 'id="table-intent-to-treat"' not in report.render_html(data)


def test_charts_have_bands_axis_titles_and_readable_labels() -> None:
    assert [report.readable(code) for code in (
        "hard_parts", "gift_cards", "under_50", "50_to_199", "500_plus")] == [
        "Hard parts", "Gift cards", "Under $50", "$50-$199", "$500+"]
    built = report.build_charts(_report_data())
    by_campaign = str(built["chart-ctr-by-campaign"])
    # one 95% band per arm behind its line, drawn first
    assert sorted(re.findall(r"<polygon class='band' data-series='(\w+)'", by_campaign)) == [
        "bandit", "random"]
    assert by_campaign.index("class='band'") < by_campaign.index("class='series'")
    for chart in built.values():
        assert "class='axis-title'" in str(chart)
    assert "data-series='Hard parts'" in str(built["chart-department-share"])
    assert "data-series='Under $50'" in str(built["chart-price-tier-share"])
    assert "Jan 2026 through Feb 2026 (whole months)" in report.render_html(_report_data())


def test_html_without_backtest_has_no_backtest_chart() -> None:
    html = report.render_html(_report_data())
    assert "chart-backtest-match-rate" not in html


def test_write_html_is_atomic(tmp_path: Path) -> None:
    path = report.write_html("<html></html>", tmp_path / "out")
    assert path.read_text() == "<html></html>"
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]


@pytest.mark.parametrize("suffix", [".csv", ".json", ".parquet"])
def test_load_backtest_reads_what_backtest_writes(tmp_path: Path, suffix: str) -> None:
    frame = pd.DataFrame({"strategy": ["random_eligible", "vehicle_aware"],
                          "label": ["(d) random", "(c) engine"], "match_rate": [0.002, 0.03]})
    path = tmp_path / f"result{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        path.write_text(json.dumps({"as_of": "2026-06-01",
                                    "metrics": frame.to_dict(orient="records")}))
    loaded = report.load_backtest(path)
    assert loaded is not None
    assert loaded["match_rate"].tolist() == [0.002, 0.03]


def test_load_backtest_rejects_other_tables(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    pd.DataFrame({"a": [1]}).to_csv(path, index=False)
    with pytest.raises(VehicleRecsError, match="strategy and match_rate"):
        report.load_backtest(path)


# --- on the built xs warehouse -----------------------------------------------------------------


@pytest.fixture()
def built_env(xs_build: DbtProject, monkeypatch: pytest.MonkeyPatch) -> DbtProject:
    """Point the CLI at the session's database and dbt target."""
    monkeypatch.setenv("VEHICLE_RECS_DUCKDB_PATH", str(xs_build.duckdb_path))
    monkeypatch.setenv("DBT_TARGET_PATH", str(xs_build.target_dir))
    return xs_build


@pytest.mark.slow
def test_sql_intervals_match_python(built_env: DbtProject, query: Query) -> None:
    """The Wilson macro and the Python mirror agree on every readout row."""
    rows = query(built_env, "select clicked_send_count, send_count, ctr_lower, ctr_upper "
                            "from rpt_experiment_readout")
    assert rows
    for clicked, sends, low, high in rows:
        assert (low, high) == pytest.approx(report.wilson_interval(clicked, sends), rel=1e-9)


@pytest.mark.slow
def test_cli_json_and_html(built_env: DbtProject, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str], query: Query) -> None:
    assert main(["report", "--out", str(tmp_path), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    (mart_rows,) = query(built_env, "select count(*) from rpt_experiment_readout")[0]
    assert len(payload["readout"]) == mart_rows
    assert {row["treatment"] for row in payload["pooled"]} >= {"random", "bandit"}
    assert payload["as_of"] and payload["attribution_window_days"] == 7
    assert payload["sample_ratio"]["text"]
    assert isinstance(payload["intent_to_treat"], list)
    html = (tmp_path / "report.html").read_text()
    assert set(re.findall(r"<svg id='(chart-[a-z-]+)'", html)) >= CHART_IDS


@pytest.mark.slow
def test_cli_one_campaign_terminal(built_env: DbtProject, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str], query: Query) -> None:
    ((campaign,),) = query(built_env, "select max(campaign_id) from rpt_experiment_readout")
    assert main(["report", "--out", str(tmp_path), "--campaign", campaign]) == 0
    out = capsys.readouterr().out
    assert f"campaign {campaign}" in out and "CTR/send" in out
    assert main(["report", "--out", str(tmp_path), "--campaign", "NOPE"]) == 2
    assert "campaign 'NOPE' is not in the readout" in capsys.readouterr().err


def test_verdict_states_what_is_and_is_not_detectable() -> None:
    data = _report_data()
    summary = report.verdict(data)
    ctr, revenue, unsubscribes, no_control = summary["findings"]
    # 8 of 2,000 vs 4 of 2,000 clicked: the interval spans 0
    assert ctr.startswith("bandit vs random, CTR per send 0.40% vs 0.20%: +0.20 pp [")
    assert "no detectable difference (these volumes detect 0.48 pp 80% of the time)" in ctr
    assert revenue.startswith("bandit vs random, revenue per send $0.12 vs $0.12: +$0.00 [")
    assert "unsubscribes per send 0.20% vs 0.10%" in unsubscribes
    assert no_control.startswith("No intent-to-treat comparison")
    assert summary["headline"] == "No arm differs detectably from another at these volumes."
    unused = dict.fromkeys(["revenue_relative_lift", "revenue_relative_lift_lower",
                            "revenue_relative_lift_upper", "conversion_diff_vs_control",
                            "conversion_diff_lower", "conversion_diff_upper"])
    data.intent_to_treat = pd.DataFrame([
        {"grain": "pooled", "campaign_id": None, "arm": "bandit", "revenue_per_customer": 12.0,
         "assigned_customer_count": 900, "control_customer_count": 100, "conversion_rate": 0.1,
         "revenue_diff_vs_control": 8.0, "revenue_diff_lower": 2.0, "revenue_diff_upper": 14.0,
         "revenue_minimum_detectable_diff": 8.5, **unused},
        {"grain": "pooled", "campaign_id": None, "arm": "control", "revenue_per_customer": 4.0,
         "assigned_customer_count": 100, "control_customer_count": None,
         "conversion_rate": 0.05, "revenue_diff_vs_control": None, "revenue_diff_lower": None,
         "revenue_diff_upper": None, "revenue_minimum_detectable_diff": None, **unused}])
    summary = report.verdict(data)
    assert summary["findings"][-1] == ("bandit vs control (no email), revenue per assigned "
                                       "customer $12.00: +$8.00 [+$2.00, +$14.00]: bandit pays "
                                       "over no email")
    assert summary["headline"] == "Bandit pays over no email (+$8.00 [+$2.00, +$14.00])."
    data.sample_ratio = _sample_ratio_frame(skewed=True)
    assert report.verdict(data)["headline"].startswith("Sample-ratio mismatch in 1 of 2")
    html = report.render_html(data)
    assert html.index('id="verdict"') < html.index('id="sample-ratio"') < html.index("<svg")
    assert "Bandit pays over no email" in html
    assert report.report_json(data)["verdict"]["headline"].startswith("Sample-ratio mismatch")
