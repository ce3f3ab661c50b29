"""The dbt project on DuckDB: build passes on xs data; staging keeps every raw row, flags dirt."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from vehicle_recs.contract import RAW_SCHEMAS
from vehicle_recs.project import DbtProject

pytestmark = pytest.mark.slow

Query = Callable[[DbtProject, str], list[tuple[Any, ...]]]

STAGING = {
    "vehicles": "stg_shop__vehicles",
    "products": "stg_shop__products",
    "fitment": "stg_shop__fitment",
    "customers": "stg_shop__customers",
    "customer_vehicles": "stg_shop__customer_vehicles",
    "orders": "stg_shop__orders",
    "order_lines": "stg_shop__order_lines",
    "email_sends": "stg_email__sends",
    "email_send_items": "stg_email__send_items",
    "email_events": "stg_email__events",
}


def test_every_raw_table_has_a_staging_model() -> None:
    assert set(STAGING) == set(RAW_SCHEMAS)


@pytest.mark.parametrize("table", sorted(STAGING))
def test_staging_keeps_every_raw_row(
    xs_build: DbtProject, xs_raw: Path, table: str, query: Query
) -> None:
    (raw_rows,) = duckdb.sql(f"select count(*) from '{xs_raw / table}.parquet'").fetchall()[0]
    (staged_rows,) = query(xs_build, f"select count(*) from {STAGING[table]}")[0]
    assert staged_rows == raw_rows


def test_staging_flags_injected_duplicates(
    xs_build: DbtProject, xs_raw: Path, query: Query
) -> None:
    (raw_dupes,) = duckdb.sql(
        f"select count(*) - count(distinct order_id) from '{xs_raw}/orders.parquet'"
    ).fetchall()[0]
    (flagged,) = query(xs_build, "select count(*) from stg_shop__orders where is_duplicate")[0]
    assert flagged == raw_dupes
    # After dropping flagged rows the key is unique: what the scoring layer relies on.
    (clean_dupes,) = query(
        xs_build,
        "select count(*) - count(distinct order_id) from stg_shop__orders where not is_duplicate",
    )[0]
    assert clean_dupes == 0


def test_staging_flags_bad_values(xs_build: DbtProject, query: Query) -> None:
    rows = query(
        xs_build,
        """
        select
            (select count(*) from stg_shop__order_lines where is_invalid_quantity),
            (select count(*) from stg_shop__order_lines
                where quantity <= 0 and not is_invalid_quantity),
            (select count(*) from stg_shop__orders
                where order_status not in ('completed', 'cancelled', 'returned')
                and not is_unknown_status)
        """,
    )[0]
    flagged_quantities, missed_quantities, missed_statuses = rows
    assert flagged_quantities > 0, "the generator injects non-positive quantities"
    assert missed_quantities == 0
    assert missed_statuses == 0


def test_too_dirty_input_stops_the_build(xs_raw: Path, tmp_path: Path) -> None:
    """Above var dirty_row_error_share the dirt tests turn into errors and dbt build fails."""
    from vehicle_recs.project import DbtError

    project = DbtProject(
        duckdb_path=tmp_path / "dirty.duckdb",
        target_path=tmp_path / "target",
        dbt_vars={"raw_dir": str(xs_raw), "dirty_row_error_share": 0.0},
    )
    with pytest.raises(DbtError, match="dirty_row_share"):
        project.invoke(["build", "--select", "staging"])


def test_raw_folder_with_a_quote_in_its_name(
        xs_raw: Path, tmp_path: Path,
        query: Callable[[DbtProject, str], list[tuple[Any, ...]]]) -> None:
    """A ' in the raw folder's name is doubled inside the SQL literal: the staging models read
    the files instead of breaking on (or being steered by) the quote."""
    raw = tmp_path / "o'brien raw"
    shutil.copytree(xs_raw, raw)
    project = DbtProject(duckdb_path=tmp_path / "quote.duckdb", target_path=tmp_path / "target",
                         dbt_vars={"raw_dir": str(raw)})
    project.invoke(["run", "--select", "path:models/staging"])
    assert query(project, "select count(*) from main.stg_shop__customers")[0][0] > 0



def test_implausible_prices_and_quantities_are_flagged_not_fatal(
        xs_raw: Path, tmp_path: Path, query: Query) -> None:
    """Above the bounds in vars (max_price_usd, max_line_quantity), NaN and infinity: flagged
    dirty, read as null; the build does not fail on the cast. The counts model sees them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    raw = tmp_path / "raw"
    shutil.copytree(xs_raw, raw)
    products = pq.read_table(raw / "products.parquet")
    price = products["price"].cast(pa.float64()).to_pylist()
    price[:3] = [9_999_999_999.99, float("nan"), float("inf")]
    index = products.schema.get_field_index("price")
    pq.write_table(products.set_column(index, "price", pa.array(price, pa.float64())),
                   raw / "products.parquet")
    lines = pq.read_table(raw / "order_lines.parquet")
    quantity = lines["quantity"].to_pylist()
    quantity[:2] = [1_000_000, 501]
    index = lines.schema.get_field_index("quantity")
    pq.write_table(lines.set_column(index, "quantity", pa.array(quantity, pa.int64())),
                   raw / "order_lines.parquet")
    skus = products["sku"].to_pylist()[:3]
    project = DbtProject(duckdb_path=tmp_path / "bounds.duckdb", target_path=tmp_path / "target",
                         dbt_vars={"raw_dir": str(raw)})
    project.invoke(["run", "--select", "+fct_raw_rows_counted_by_flag"])
    flagged = query(project, "select sku, price_usd, is_invalid_price, is_dirty "
                             "from stg_shop__products where sku in ('" + "', '".join(skus) + "')")
    assert len(flagged) >= 3 and all(row[1] is None and row[2] and row[3] for row in flagged)
    (lines_flagged,) = query(project, "select count(*) from stg_shop__order_lines "
                                      "where quantity is null and is_invalid_quantity "
                                      "and line_number is not null")[0]
    assert lines_flagged >= 2
    counts = dict(query(project, "select flag, flagged_rows from fct_raw_rows_counted_by_flag "
                                 "where raw_table = 'products'"))
    assert counts["is_invalid_price"] >= 3 and counts["is_dirty"] >= counts["is_invalid_price"]


def test_default_campaign_draws_what_its_id_passed_explicitly_draws(
        xs_raw: Path, tmp_path: Path, query: Query) -> None:
    """Without --campaign the random draw is seeded with the default campaign's id
    ('recs-<cut-off>'), so it equals the draw of that id passed explicitly; another id differs."""
    def random_draw(name: str, seed: str | None) -> list[tuple[Any, ...]]:
        dbt_vars: dict[str, Any] = {"raw_dir": str(xs_raw)}
        if seed is not None:
            dbt_vars["random_seed"] = seed
        project = DbtProject(duckdb_path=tmp_path / f"{name}.duckdb",
                             target_path=tmp_path / f"target_{name}", dbt_vars=dbt_vars)
        project.invoke(["build", "--select", "+fct_baseline_candidates",
                        "--exclude-resource-type", "test", "unit_test"])
        rows = query(project, "select customer_id, candidate_rank, sku from "
                              "fct_baseline_candidates where strategy = 'random_eligible' "
                              "order by customer_id, candidate_rank")
        as_of = query(project, "select cast(as_of_date as varchar) from int_as_of_date")[0][0]
        return [*rows, ("as_of", as_of)]

    default = random_draw("default", None)
    as_of = default[-1][1]
    assert default and random_draw("explicit", f"recs-{as_of}") == default
    assert random_draw("other", "spring-sale") != default
