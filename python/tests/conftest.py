"""Shared fixtures: one xs data set and one dbt build on DuckDB per test session, and one local
BigQuery emulator holding the xs raw tables (the `emulator` tests).

Tests that only read the built warehouse use `xs_build`; tests that change data or vars build
their own copy (in their own tmp folders) so they never disturb the shared one. Tests on the
emulator use their own datasets on the shared server.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from vehicle_recs.project import DbtProject
from vehicle_recs_dev.bigquery_emulator import Emulator, crucible_executable, emulator_with_raw_data

XS_SEED = 7


@pytest.fixture(scope="session")
def xs_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic xs raw tables as Parquet files."""
    from vehicle_recs.synth import generate

    raw_dir = tmp_path_factory.mktemp("raw_xs")
    generate("xs", XS_SEED, raw_dir)
    return raw_dir


@pytest.fixture(scope="session")
def xs_build(xs_raw: Path, tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    """`dbt build` (models, seeds, data and unit tests) on the xs data, into a session database."""
    work = tmp_path_factory.mktemp("dbt_xs")
    project = DbtProject(
        duckdb_path=work / "xs.duckdb",
        target_path=work / "target",
        dbt_vars={"raw_dir": str(xs_raw)},
    )
    project.invoke(["build"])
    return project


@pytest.fixture(scope="session")
def query() -> Callable[[DbtProject, str], list[tuple[Any, ...]]]:
    """Run a read-only query against a built DuckDB database."""

    def run(project: DbtProject, sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(project.duckdb_path), read_only=True) as con:
            return con.execute(sql).fetchall()

    return run


@pytest.fixture(scope="session")
def crucible() -> Path:
    """The emulator executable; without it: fail under $CI, else skip."""
    executable = crucible_executable()
    if not executable.is_file():
        reason = (f"BigQuery emulator not installed ({executable}); "
                  "run `make .venv-emulator/bin/crucible`")
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return executable


@pytest.fixture(scope="session")
def emulator(crucible: Path, xs_raw: Path,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """A crucible server on a free 127.0.0.1 port holding the xs raw tables; always stopped."""
    work = tmp_path_factory.mktemp("emulator")
    with emulator_with_raw_data(work, xs_raw, executable=crucible) as server:
        yield server
