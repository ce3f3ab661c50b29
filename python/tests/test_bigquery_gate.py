"""The offline BigQuery gate: it passes on the project and fails on DuckDB-only SQL, functions
BigQuery lacks, unknown columns and tables, and seed types a BigQuery load rejects; its dev entry
point (`python -m vehicle_recs_dev.bigquery_gate`) prints the problems and fails on any."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlglot import exp
from sqlglot.schema import MappingSchema

from vehicle_recs.project import find_project_dir
from vehicle_recs_dev import bigquery_gate
from vehicle_recs_dev.bigquery_gate import (
    BigQueryGateError,
    GateResult,
    Problem,
    check_manifest,
    check_sql,
    compile_for_bigquery,
    run_gate,
)

RAW = "`proj`.`vehicle_recs_raw`"


def _schema() -> MappingSchema:
    schema = MappingSchema(dialect="bigquery")
    schema.add_table(exp.to_table(f"{RAW}.`orders`", dialect="bigquery"),
                     {"order_id": "STRING", "status": "STRING", "ordered_at": "TIMESTAMP"},
                     dialect="bigquery")
    return schema


@pytest.mark.parametrize(("sql", "expected"), [
    ("select x::int as y from t", "`::`"),
    ("select * exclude (a) from t", "exclude"),
    ("select a from t where a ilike 'x%'", "ilike"),
    ("select try_cast(a as int) as b from t", "try_cast"),
    ('select "abc" as a from t', "double-quoted"),
    ("select [1, 2] as a from t", "list/array literal"),
    ("select split(a, '-')[1] as a from t", "bare subscript"),
    ("select date_trunc('month', a) as m from t", "date part first"),
    ("select strftime(a, '%Y') as s from t", "strftime"),
    ("select epoch_ms(a) as s from t", "epoch_ms"),
    ("select list_value(a) as s from t", "list_value"),
    ("select median(a) as m from t", "`median(...)` is not a BigQuery function"),
    ("select bool_or(a) as m from t", "`bool_or(...)` is not a BigQuery function"),
    ("select nvl(a, 1) as m from t", "`nvl(...)` is not a BigQuery function"),
    ("select a from t semi join u on t.a = u.a", "semi join"),
    ("select a as range from t", "reserved keyword"),
    ("select a from t where", "does not parse"),
])
def test_duckdb_only_sql_fails(sql: str, expected: str) -> None:
    messages, _ = check_sql(sql)
    assert any(expected in message for message in messages), messages


def test_portable_bigquery_sql_passes() -> None:
    sql = f"""
    -- a comment may say :: exclude ilike "quoted" [1]
    with orders as (select * from {RAW}.`orders`),
    final as (
        select
            orders.order_id,
            date_trunc(cast(orders.ordered_at as date), month) as order_month,
            split(orders.order_id, '-')[safe_offset(0)] as order_prefix,
            safe.divide(1, 2) as half,
            'a::b exclude' as `exclude`,
            countif(orders.status = 'completed') over () as completed_orders,
            to_hex(md5(cast(orders.order_id as string))) as order_hash
        from orders
    )
    select * from final
    """
    messages, qualified = check_sql(sql, _schema())
    assert messages == []
    assert qualified is not None


def test_unknown_column_fails() -> None:
    messages, qualified = check_sql(f"select order_id, nope from {RAW}.`orders`", _schema())
    assert qualified is None
    assert any("nope" in message for message in messages), messages


def test_unknown_table_fails() -> None:
    messages, _ = check_sql(f"select * from {RAW}.`missing`", _schema())
    assert any("unknown table" in message for message in messages), messages


def _fake_manifest(child_sql: str) -> dict[str, Any]:
    """A source, a staging model on it and a child model reading the staging model's columns."""
    return {
        "sources": {"source.p.shop.orders": {
            "name": "orders", "identifier": "orders",
            "relation_name": f"{RAW}.`orders`", "columns": {}}},
        "nodes": {
            "model.p.stg_orders": {
                "name": "stg_orders", "resource_type": "model",
                "relation_name": "`proj`.`ds`.`stg_orders`",
                "depends_on": {"nodes": ["source.p.shop.orders"]},
                "compiled_code": f"select order_id, status as order_status from {RAW}.`orders`"},
            "model.p.child": {
                "name": "child", "resource_type": "model",
                "relation_name": "`proj`.`ds`.`child`",
                "depends_on": {"nodes": ["model.p.stg_orders"]},
                "compiled_code": child_sql},
            "seed.p.tiers": {
                "name": "tiers", "resource_type": "seed", "relation_name": None,
                "depends_on": {"nodes": []}, "config": {"column_types": {"tier": "string"}}},
        },
    }


def test_manifest_columns_flow_downstream() -> None:
    raw = {"orders": {"order_id": "STRING", "status": "STRING"}}
    good = check_manifest(_fake_manifest(
        "select order_id, order_status from `proj`.`ds`.`stg_orders`"), raw_schemas=raw)
    assert good.problems == []
    assert good.checked == ["stg_orders", "child"]
    # `status` was renamed in staging: the child reading it must fail.
    bad = check_manifest(_fake_manifest(
        "select order_id, status from `proj`.`ds`.`stg_orders`"), raw_schemas=raw)
    assert [p.node for p in bad.problems] == ["child"]
    assert "status" in bad.problems[0].message


def test_seed_types_must_load_on_bigquery() -> None:
    manifest = _fake_manifest("select order_id from `proj`.`ds`.`stg_orders`")
    manifest["nodes"]["seed.p.tiers"]["config"]["column_types"] = {"tier": "varchar"}
    result = check_manifest(manifest, raw_schemas={"orders": {"order_id": "STRING",
                                                              "status": "STRING"}})
    assert [p.node for p in result.problems] == ["tiers"]
    assert "varchar" in result.problems[0].message


# ------------------------------------------------------------------------------------------------
# The dev entry point (run_gate replaced: its own tests are below)


def _gate_main(monkeypatch: pytest.MonkeyPatch, outcome: GateResult | BigQueryGateError,
               args: list[str]) -> tuple[Any, list[tuple[Path | None, float]]]:
    calls: list[tuple[Path | None, float]] = []

    def fake_run_gate(*, work_dir: Path | None, timeout: float) -> GateResult:
        calls.append((work_dir, timeout))
        if isinstance(outcome, BigQueryGateError):
            raise outcome
        return outcome

    monkeypatch.setattr(bigquery_gate, "run_gate", fake_run_gate)
    return CliRunner().invoke(bigquery_gate.main, args), calls


def test_entry_point_passes_with_the_options(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    result, calls = _gate_main(monkeypatch, GateResult(checked=["stg_orders", "child"]),
                               ["--keep", str(tmp_path), "--timeout", "12"])
    assert result.exit_code == 0, result.output
    assert "BigQuery gate passed: 2 models and tests checked" in result.output
    assert calls == [(tmp_path, 12.0)]
    _, calls = _gate_main(monkeypatch, GateResult(checked=["child"]), [])
    assert calls == [(None, bigquery_gate.COMPILE_TIMEOUT_SECONDS)]


def test_entry_point_prints_every_problem_and_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    found = GateResult(checked=["stg_orders", "child"],
                       problems=[Problem("child", "unknown column or table: status"),
                                 Problem("tiers", "seed column tier has type `varchar`")])
    result, _ = _gate_main(monkeypatch, found, [])
    assert result.exit_code == 1
    assert "child: unknown column or table: status" in result.output
    assert "tiers: seed column tier has type `varchar`" in result.output
    assert "2 BigQuery problem(s) in 2 checked models and tests" in result.output
    assert "passed" not in result.output

    result, _ = _gate_main(monkeypatch, BigQueryGateError("BigQuery compile failed: boom"), [])
    assert result.exit_code == 1
    assert "BigQuery compile failed: boom" in result.output


# ------------------------------------------------------------------------------------------------
# End to end: dbt compile for the BigQuery target, offline


@pytest.mark.slow
def test_gate_passes_on_the_project(tmp_path: Path) -> None:
    result = run_gate(work_dir=tmp_path)
    assert result.checked, "no compiled models or tests were checked"
    assert result.ok, "\n" + "\n".join(map(str, result.problems))


def _project_copy(tmp_path: Path) -> Path:
    source = find_project_dir()
    copy = tmp_path / "project"
    copy.mkdir()
    for name in ("dbt_project.yml", "profiles.yml.example"):
        shutil.copy(source / name, copy / name)
    for folder in ("models", "macros", "tests", "seeds"):
        if (source / folder).is_dir():
            shutil.copytree(source / folder, copy / folder)
    return copy


@pytest.mark.slow
def test_gate_fails_on_a_duckdb_only_model(tmp_path: Path) -> None:
    project = _project_copy(tmp_path)
    (project / "models" / "staging" / "stg_bad__orders.sql").write_text(
        "select\n    order_id::int as order_number,\n    no_such_column\n"
        "from {{ source('shop', 'orders') }}\nwhere status ilike 'c%'\n")
    manifest_path = compile_for_bigquery(tmp_path / "target", project_dir=project,
                                         select=["stg_bad__orders"])
    import json

    result = check_manifest(json.loads(manifest_path.read_text()), project_dir=project)
    bad = [str(p) for p in result.problems if p.node == "stg_bad__orders"]
    assert any("`::`" in p for p in bad), bad
    assert any("ilike" in p for p in bad), bad
    assert any("no_such_column" in p for p in bad), bad


@pytest.mark.slow
def test_compile_time_warehouse_query_fails_fast(tmp_path: Path) -> None:
    """A model that queries the warehouse while compiling fails the gate with a clear message
    (the dummy key's token URI is a closed local port) instead of hanging."""
    project = _project_copy(tmp_path)
    (project / "models" / "staging" / "stg_bad__query.sql").write_text(
        "{% if execute %}{% set rows = run_query('select 1 as x') %}{% endif %}\n"
        "select 1 as x\n")
    with pytest.raises(BigQueryGateError, match="compile"):
        compile_for_bigquery(tmp_path / "target", project_dir=project,
                             select=["stg_bad__query"], timeout=240)
