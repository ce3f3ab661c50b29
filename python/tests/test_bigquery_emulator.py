"""The BigQuery path, run: `dbt build` through dbt-bigquery against the local emulator
(crucible-emulator, in its own virtualenv .venv-emulator), then staging (and the final model
once it exists) compared row for row with the DuckDB build.

The emulator venv comes from `make .venv-emulator/bin/crucible` (a prerequisite of `make
pytest`). Without it these tests fail when $CI is set and are skipped otherwise (the session
fixtures `crucible` and `emulator` are in conftest.py, shared with test_bigquery_run.py).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from vehicle_recs.bigquery_io import raw_columns
from vehicle_recs.project import DbtError, DbtProject
from vehicle_recs_dev.bigquery_emulator import (
    RAW_DATASET,
    Emulator,
    EmulatorDbtProject,
    bigquery_client,
    compare_models,
    compare_rows,
    default_compared_models,
    table_csv,
    write_profile,
)

pytestmark = [pytest.mark.emulator, pytest.mark.slow]


@dataclass
class EmulatorBuild:
    client: Any
    project: EmulatorDbtProject
    error: DbtError | None


@pytest.fixture(scope="session")
def emulator_build(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> EmulatorBuild:
    """`dbt build` (seeds, models, data and unit tests) on the emulator, once per session."""
    work = tmp_path_factory.mktemp("emulator_dbt")
    project = EmulatorDbtProject(
        target="emulator",
        target_path=work / "target",
        duckdb_path=work / "unused.duckdb",
        profiles_folder=write_profile(work / "profiles", emulator.endpoint),
        dbt_vars={"raw_dataset": RAW_DATASET},
    )
    error = None
    try:
        project.invoke(["build"])
    except DbtError as failure:
        error = failure
    return EmulatorBuild(bigquery_client(emulator.endpoint), project, error)


def test_dbt_build_passes_on_the_emulator(emulator_build: EmulatorBuild) -> None:
    assert emulator_build.error is None, str(emulator_build.error)
    results = json.loads((emulator_build.project.target_dir / "run_results.json").read_text())
    kinds = {r["unique_id"].split(".")[0] for r in results["results"]}
    assert {"model", "test"} <= kinds
    if any(path.suffix in {".yml", ".yaml"} and "unit_tests:" in path.read_text()
           for path in (emulator_build.project.project_dir / "models").rglob("*.y*ml")):
        assert "unit_test" in kinds, "the project has unit tests but none ran on the emulator"


@pytest.mark.parametrize("model", default_compared_models())
def test_model_matches_duckdb(model: str, emulator_build: EmulatorBuild,
                              xs_build: DbtProject) -> None:
    assert xs_build.duckdb_path is not None
    (comparison,) = compare_models(xs_build.duckdb_path, emulator_build.client, [model])
    assert comparison.ok, "\n".join(comparison.differences)
    assert comparison.duckdb_rows == comparison.emulator_rows


def test_load_job_path_keeps_values(emulator: Emulator, xs_raw: Path) -> None:
    """The CSV load job (what dbt seeds use too) round-trips a raw table: NULL vs '', quotes,
    decimals, timestamps. Checked on the smallest tables; the big ones are filled directly."""
    from google.cloud import bigquery

    client = bigquery_client(emulator.endpoint)
    columns = raw_columns()
    for table in ("vehicles", "customers"):
        rows = pq.read_table(xs_raw / f"{table}.parquet", columns=list(columns[table])).to_pylist()
        destination = f"{client.project}.load_check.{table}"
        client.create_dataset("load_check", exists_ok=True)
        config = bigquery.LoadJobConfig(
            source_format="CSV", write_disposition="WRITE_TRUNCATE",
            schema=[bigquery.SchemaField(n, k) for n, k in columns[table].items()])
        client.load_table_from_file(io.BytesIO(table_csv(rows, columns[table])), destination,
                                    job_config=config).result()
        loaded = [tuple(r.values()) for r in client.query(f"select * from `{destination}`")]
        comparison = compare_rows(table, list(columns[table]),
                                  [tuple(r.values()) for r in rows], loaded)
        assert comparison.ok, "\n".join(comparison.differences)


def test_comparison_catches_differences() -> None:
    columns = ["sku", "score"]
    same = compare_rows("m", columns, [("a", 0.1 + 0.2), ("b", 1.0)], [("b", 1.0), ("a", 0.3)])
    assert same.ok
    different = compare_rows("m", columns, [("a", 0.3)], [("a", 0.31)])
    assert not different.ok
    assert not compare_rows("m", columns, [("a", 0.3)], []).ok
    assert not compare_rows("m", columns, [("a", None)], [("a", 0.0)]).ok

