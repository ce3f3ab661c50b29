"""The final model's guardrail tests still fail on a bad row.

Each case copies the shared xs build's database, breaks one row of fct_recommendation_candidates
in the copy, and runs the guardrail's compiled SQL (as `dbt build` ran it) against the copy: the
untouched copy returns no row, the broken one returns the broken row.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from vehicle_recs.project import DbtProject

FINAL = "fct_recommendation_candidates"

# A vehicle candidate (not universal) moved to a product that fits none of the customer's cars.
NOT_FITTING = f"""
update {FINAL} set sku = (
    select products.sku from dim_products as products
    where not products.is_universal
      and not exists (
        select 1 from int_fitment_filtered_to_known as fitment
        inner join int_customer_vehicles_owned as owned on fitment.vehicle_id = owned.vehicle_id
        where fitment.sku = products.sku and owned.customer_id = {FINAL}.customer_id)
    order by products.sku
    limit 1)
where (customer_id, candidate_rank) = (
    select (candidates.customer_id, candidates.candidate_rank)
    from {FINAL} as candidates
    inner join dim_products as products on candidates.sku = products.sku
    where not products.is_universal and not candidates.is_fallback
    order by candidates.customer_id, candidates.candidate_rank
    limit 1)
"""

# A universal candidate credited to a vehicle the customer does not own.
NOT_OWNED_VEHICLE = f"""
update {FINAL} set vehicle_id = (
    select vehicles.vehicle_id from int_vehicles_keyed_to_taxonomy as vehicles
    where vehicles.vehicle_id not in (
        select owned.vehicle_id from int_customer_vehicles_owned as owned
        where owned.customer_id = {FINAL}.customer_id)
    order by vehicles.vehicle_id
    limit 1)
where (customer_id, candidate_rank) = (
    select (candidates.customer_id, candidates.candidate_rank)
    from {FINAL} as candidates
    inner join dim_products as products on candidates.sku = products.sku
    where products.is_universal and candidates.vehicle_id is not null
    order by candidates.customer_id, candidates.candidate_rank
    limit 1)
"""

# A candidate swapped for an inactive product.
INACTIVE = f"""
update {FINAL} set sku = (
    select sku from int_products_filtered_to_as_of where not is_active order by sku limit 1)
where (customer_id, candidate_rank) = (
    select (customer_id, candidate_rank) from {FINAL}
    order by customer_id, candidate_rank limit 1)
"""


def compiled_test(project: DbtProject, name: str) -> str:
    matches = list((project.target_dir / "compiled").rglob(f"{name}.sql"))
    assert len(matches) == 1, matches
    return matches[0].read_text()


def failing_rows(database: Path, sql: str) -> int:
    with duckdb.connect(str(database), read_only=True) as con:
        row = con.execute(f"select count(*) from ({sql}) as failures").fetchone()
    return int(row[0]) if row else 0


@pytest.mark.parametrize(("guardrail", "tamper"), [
    ("assert_candidates_fit_a_customer_vehicle", NOT_FITTING),
    ("assert_candidates_fit_a_customer_vehicle", NOT_OWNED_VEHICLE),
    ("assert_candidates_are_active_and_sendable", INACTIVE),
])
def test_guardrail_fails_on_a_bad_row(xs_build: DbtProject, tmp_path: Path, guardrail: str,
                                      tamper: str) -> None:
    sql = compiled_test(xs_build, guardrail)
    assert xs_build.duckdb_path is not None
    copy = tmp_path / xs_build.duckdb_path.name  # same file name: same catalog name in the SQL
    shutil.copyfile(xs_build.duckdb_path, copy)
    assert failing_rows(copy, sql) == 0

    with duckdb.connect(str(copy)) as con:
        changed = con.execute(tamper).fetchone()
    assert changed == (1,)
    assert failing_rows(copy, sql) == 1
