"""The synthetic generator: the raw contract, determinism, and the retailer's known facts."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from vehicle_recs import synth
from vehicle_recs.cli import cli
from vehicle_recs.contract import ORDER_STATUSES, PRIMARY_KEYS, RAW_SCHEMAS, raw_path
from vehicle_recs.errors import VehicleRecsError
from vehicle_recs.synth import _config as synth_config

S_SEED = 11
DUPLICATED = {"products": "products.duplicate_sku", "customers": "customers.duplicate_id",
              "orders": "orders.duplicate_id"}


def connect(raw_dir: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for table in RAW_SCHEMAS:
        path = raw_path(raw_dir, table)
        con.execute(f"create view {table} as select * from read_parquet('{path}')")
    # clean views for the facts (bad rows are section 9's business, not the facts')
    con.execute("create view products_1 as select distinct on (sku) * from products order by sku")
    con.execute("""
        create view sales as
        select o.order_id, o.customer_id, o.ordered_at, l.sku, l.quantity, l.unit_price,
               l.vehicle_id, p.department, p.category, p.price
        from (select distinct * from orders) as o
        inner join order_lines as l on l.order_id = o.order_id
        inner join products_1 as p on p.sku = l.sku
        where o.status = 'completed' and l.quantity > 0 and l.unit_price > 0
            and o.ordered_at < timestamp '2026-11-01'
    """)
    return con


def one(con: duckdb.DuckDBPyConnection, sql: str) -> float:
    row = con.execute(sql).fetchone()
    assert row is not None
    return float(row[0])


@pytest.fixture(scope="module")
def s_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The s scale, generated once for this module (~3 s)."""
    raw_dir = tmp_path_factory.mktemp("raw_s")
    synth.generate("s", S_SEED, raw_dir)
    return raw_dir


@pytest.fixture(scope="module")
def s_con(s_raw: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(s_raw)
    yield con
    con.close()


@pytest.fixture(scope="module")
def s_variant(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., tuple[Path, duckdb.DuckDBPyConnection]]]:
    """s data (seed S_SEED) with some knobs set, each variant generated once (~1-3 s)."""
    made: dict[tuple[tuple[str, float], ...], tuple[Path, duckdb.DuckDBPyConnection]] = {}

    def variant(**knobs: float) -> tuple[Path, duckdb.DuckDBPyConnection]:
        key = tuple(sorted(knobs.items()))
        if key not in made:
            raw_dir = tmp_path_factory.mktemp("raw_s_" + "_".join(f"{k}{v:g}" for k, v in key))
            synth.generate("s", S_SEED, raw_dir, **knobs)
            made[key] = (raw_dir, connect(raw_dir))
        return made[key]

    yield variant
    for _, con in made.values():
        con.close()


@pytest.fixture(scope="module")
def s_flat(s_variant: Callable[..., tuple[Path, duckdb.DuckDBPyConnection]]
           ) -> tuple[Path, duckdb.DuckDBPyConnection]:
    """s data with every structure knob at 0: no taste, no re-buy cycles, no seasonality, no
    projects."""
    return s_variant(taste=0.0, rebuy=0.0, season=0.0, new_vehicle=0.0)


@pytest.fixture(scope="module")
def xs_con(xs_raw: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(xs_raw)
    yield con
    con.close()


# --- contract ----------------------------------------------------------------------------------

def test_every_table_matches_the_contract_schema(xs_raw: Path) -> None:
    for table, schema in RAW_SCHEMAS.items():
        written = pq.read_schema(raw_path(xs_raw, table))
        assert written.equals(schema, check_metadata=False), table


def test_returned_counts_match_the_files_and_the_manifest(tmp_path: Path) -> None:
    messages: list[str] = []
    counts = synth.generate("xs", 3, tmp_path, progress=messages.append)
    assert set(counts) == set(RAW_SCHEMAS)
    for table, rows in counts.items():
        assert pq.read_metadata(raw_path(tmp_path, table)).num_rows == rows
    assert synth.read_manifest(tmp_path)["rows"] == counts
    assert any("order_lines" in message for message in messages)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # atomic writes


def test_unknown_scale_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(VehicleRecsError, match="unknown scale 'xl'"):
        synth.generate("xl", 1, tmp_path)


def test_primary_keys_are_unique_except_the_injected_duplicates(
    xs_raw: Path, xs_con: duckdb.DuckDBPyConnection
) -> None:
    dirty = synth.read_manifest(xs_raw)["dirty"]
    for table, key in PRIMARY_KEYS.items():
        columns = ", ".join(key)
        duplicates = one(xs_con, f"""
            select count(*) - (select count(*) from (select distinct {columns} from {table}))
            from {table}""")
        expected = dirty[DUPLICATED[table]] if table in DUPLICATED else 0
        assert duplicates == expected, table
        assert one(xs_con, f"select count(*) from {table} where "
                   + " or ".join(f"{c} is null" for c in key)) == 0, table


def test_same_seed_same_bytes_other_seed_other_data(xs_raw: Path, tmp_path: Path) -> None:
    from conftest import XS_SEED

    same, other = tmp_path / "same", tmp_path / "other"
    synth.generate("xs", XS_SEED, same)
    synth.generate("xs", XS_SEED + 1, other)
    for table in RAW_SCHEMAS:
        first = raw_path(xs_raw, table).read_bytes()
        assert raw_path(same, table).read_bytes() == first, table
        if table != "vehicles":  # the taxonomy itself barely depends on the seed
            assert raw_path(other, table).read_bytes() != first, table


# --- bad rows -----------------------------------------------------------------------------

def test_each_kind_of_bad_row_is_present_in_a_small_share(
    xs_raw: Path, xs_con: duckdb.DuckDBPyConnection
) -> None:
    dirty = synth.read_manifest(xs_raw)["dirty"]
    counts = synth.read_manifest(xs_raw)["rows"]
    for kind, n in dirty.items():
        table = kind.split(".")[0]
        assert 1 <= n <= max(2, 0.005 * counts[table]), kind
    checks = {
        "orders.unknown_status": "select count(*) from orders where status not in "
                                 f"{tuple(ORDER_STATUSES)}",
        "orders.future_dated": "select count(*) from orders where ordered_at >= '2031-01-01'",
        "order_lines.unknown_sku": "select count(*) from order_lines where sku not in "
                                   "(select sku from products)",
        "order_lines.nonpositive_quantity": "select count(*) from order_lines where quantity <= 0",
        "order_lines.nonpositive_unit_price": "select count(*) from order_lines "
                                              "where unit_price <= 0",
        "products.nonpositive_price": "select count(distinct sku) from products where price <= 0",
        "customer_vehicles.unknown_vehicle": "select count(*) from customer_vehicles where "
                                             "vehicle_id not in (select vehicle_id from vehicles)",
        "email_events.unknown_send": "select count(*) from email_events where send_id not in "
                                     "(select send_id from email_sends)",
    }
    for kind, sql in checks.items():
        assert one(xs_con, sql) == dirty[kind], kind
    # no orphans besides the injected ones
    assert one(xs_con, "select count(*) from fitment where sku not in (select sku from products)"
               " or vehicle_id not in (select vehicle_id from vehicles)") == 0
    assert one(xs_con, "select count(*) from order_lines where order_id not in "
               "(select order_id from orders)") == 0


# --- the retailer's known facts (at s) ----------------------------------------------------------

def test_apparel_is_a_flat_four_percent_of_orders(s_con: duckdb.DuckDBPyConnection) -> None:
    by_year = s_con.execute("""
        select year(o.ordered_at) as y, avg(cast(a.has_apparel as double)), count(*)
        from (select order_id, max(department = 'apparel') as has_apparel
              from sales group by order_id) as a
        inner join (select distinct order_id, ordered_at from orders) as o
            on o.order_id = a.order_id
        group by y order by y""").fetchall()
    total = sum(share * n for _, share, n in by_year) / sum(n for _, _, n in by_year)
    assert abs(total - synth.APPAREL_ORDER_SHARE) < 0.004  # ~60k orders: SE 0.0008
    for year, share, n in by_year:
        if n > 10_000:  # flat over time
            assert abs(share - synth.APPAREL_ORDER_SHARE) < 0.008, year


def test_hard_parts_are_98_percent_of_revenue(s_con: duckdb.DuckDBPyConnection) -> None:
    share = one(s_con, """select sum(case when department = 'hard_parts'
                                         then quantity * unit_price else 0 end)
                                 / sum(quantity * unit_price) from sales""")
    assert 0.965 < share < 0.99


def test_items_over_500_are_60_percent_of_parts_revenue(s_con: duckdb.DuckDBPyConnection) -> None:
    share = one(s_con, """select sum(case when price > 500 then quantity * unit_price else 0 end)
                                 / sum(quantity * unit_price)
                          from sales where department = 'hard_parts'""")
    assert abs(share - synth.OVER_500_PARTS_REVENUE_SHARE) < 0.06


def test_fitment_breadth_spans_one_generation_to_3000_vehicles(
    s_con: duckdb.DuckDBPyConnection,
) -> None:
    s_con.execute("""
        create or replace temp table breadth as
        select p.sku, p.department, p.is_universal, count(f.vehicle_id) as vehicles,
               count(distinct v.make || '|' || v.model) as models,
               max(v.year) - min(v.year) + 1 as year_span
        from products_1 as p
        left join fitment as f on f.sku = p.sku
        left join vehicles as v on v.vehicle_id = f.vehicle_id
        group by p.sku, p.department, p.is_universal""")
    # one generation: one make+model, consecutive years, a handful of vehicles
    assert one(s_con, """select count(*) from breadth where models = 1
                         and vehicles = year_span and vehicles between 2 and 8""") > 500
    assert one(s_con, "select max(vehicles) from breadth") >= 3000
    assert one(s_con, "select count(*) from breadth where vehicles >= 3000") >= 5
    # heavy tail: the median part fits few vehicles
    assert one(s_con, """select median(vehicles) from breadth
                         where not is_universal""") <= 20
    # universal parts: flagged, no fitment rows; every non-hard-part is universal
    assert one(s_con, "select count(*) from breadth where is_universal and vehicles = 0") > 100
    assert one(s_con, "select count(*) from breadth where is_universal and vehicles > 0") == 0
    assert one(s_con, """select count(*) from breadth
                         where department <> 'hard_parts' and not is_universal""") == 0
    assert one(s_con, "select count(*) from breadth where not is_universal and vehicles = 0") == 0


def test_broadest_parts_fit_every_vehicle_at_xs(xs_con: duckdb.DuckDBPyConnection) -> None:
    """A small scale caps 3,000+ at its vehicle count."""
    widest = one(xs_con, "select max(n) from (select count(*) as n from fitment group by sku)")
    assert widest == one(xs_con, "select count(*) from vehicles")


def test_variant_families_and_look_alikes(s_con: duckdb.DuckDBPyConnection) -> None:
    s_con.execute("""
        create or replace temp table stems as
        select sku,
               case when right(sku, 1) in ('B', 'R', 'G', 'P') then left(sku, length(sku) - 1)
                    else sku end as stem
        from products_1""")
    s_con.execute("""
        create or replace temp table families as
        select stem, count(*) as members, max(cast(sku = stem as int)) as has_base
        from stems group by stem""")
    assert one(s_con, "select count(*) from families where members > 1") > 300
    assert one(s_con, "select count(*) from families where members > 1 and has_base = 0") > 30
    # look-alikes: a lone SKU ending in a suffix letter, no family
    assert one(s_con, """select count(*) from families
                         where members = 1 and has_base = 0""") > 20
    # variants share their base's fitment, mostly (not always)
    same = one(s_con, """
        with sets as (
            select s.sku, s.stem, string_agg(f.vehicle_id, ',' order by f.vehicle_id) as fits
            from stems as s inner join fitment as f on f.sku = s.sku group by s.sku, s.stem
        )
        select avg(cast(v.fits = b.fits as double))
        from sets as v inner join sets as b on b.sku = v.stem and v.sku <> v.stem""")
    assert 0.8 < same < 1.0


def test_owners_buy_parts_made_for_their_vehicle_several_times_more(
    s_con: duckdb.DuckDBPyConnection,
) -> None:
    """Per owner and part, within each vehicle: narrow parts (<= 10 vehicles) vs broad ones."""
    lift = one(s_con, """
        with breadth as (select sku, count(*) as vehicles from fitment group by sku),
        owned as (select distinct customer_id, vehicle_id from customer_vehicles),
        owners as (select vehicle_id, count(*) as owners from owned group by vehicle_id),
        bought as (select distinct customer_id, sku from sales),
        pairs as (
            select o.customer_id, o.vehicle_id, f.sku,
                   case when b.vehicles <= 10 then 'narrow'
                        when b.vehicles >= 1000 then 'broad' end as tier
            from owned as o
            inner join fitment as f on f.vehicle_id = o.vehicle_id
            inner join breadth as b on b.sku = f.sku
        ),
        rates as (
            select p.vehicle_id, p.tier, avg(cast(x.sku is not null as double)) as rate
            from pairs as p
            left join bought as x on x.customer_id = p.customer_id and x.sku = p.sku
            where p.tier is not null
            group by p.vehicle_id, p.tier
        ),
        wide as (
            select vehicle_id, max(case when tier = 'narrow' then rate end) as narrow,
                   max(case when tier = 'broad' then rate end) as broad
            from rates group by vehicle_id
        )
        select sum(o.owners * w.narrow) / sum(o.owners * w.broad)
        from wide as w inner join owners as o on o.vehicle_id = w.vehicle_id
        where w.narrow is not null and w.broad is not null""")
    assert 0.6 * synth.SPECIFIC_LIFT < lift < 1.6 * synth.SPECIFIC_LIFT


def test_model_level_signal_is_shared_across_years(s_con: duckdb.DuckDBPyConnection) -> None:
    """Owners of one year buy what owners of other years of the same make+model buy."""
    share = one(s_con, """
        with owned as (select distinct c.customer_id, v.vehicle_id, v.make, v.model
                       from customer_vehicles as c
                       inner join vehicles as v on v.vehicle_id = c.vehicle_id),
        bought as (select distinct customer_id, sku from sales),
        model_top as (
            select o.make, o.model, b.sku, count(*) as buyers,
                   row_number() over (partition by o.make, o.model order by count(*) desc,
                                      b.sku) as rank
            from owned as o inner join bought as b on b.customer_id = o.customer_id
            group by o.make, o.model, b.sku
        )
        select avg(cast(exists(select 1 from model_top as t
                               where t.make = o.make and t.model = o.model
                                   and t.sku = b.sku and t.rank <= 50) as double))
        from owned as o inner join bought as b on b.customer_id = o.customer_id""")
    assert share > 0.2  # a quarter of owners' purchases are in their model's top 50


def test_garages_hold_zero_to_three_vehicles(s_con: duckdb.DuckDBPyConnection) -> None:
    sizes = dict(s_con.execute("""
        select n, count(*) from (
            select c.customer_id, count(g.vehicle_id) as n
            from (select distinct customer_id from customers) as c
            left join customer_vehicles as g on g.customer_id = c.customer_id
            group by c.customer_id) group by n""").fetchall())
    assert set(sizes) == {0, 1, 2, 3}
    assert 0.10 < sizes[0] / sum(sizes.values()) < 0.20
    opt_in = one(s_con, "select avg(cast(email_opt_in as double)) from customers")
    assert 0.65 < opt_in < 0.75
    assert one(s_con, "select count(*) from customers where email is null and email_opt_in") == 0


def test_owners_with_thousands_and_sparse_vehicles(s_con: duckdb.DuckDBPyConnection) -> None:
    counts = [row[0] for row in s_con.execute("""
        select count(g.customer_id) from vehicles as v
        left join customer_vehicles as g on g.vehicle_id = v.vehicle_id
        group by v.vehicle_id""").fetchall()]
    assert max(counts) > 200  # thousands at m and l (10x and 100x the customers)
    assert sum(1 for c in counts if 1 <= c <= 5) > 0.3 * len(counts)


def test_lines_record_the_vehicle_on_about_half(s_con: duckdb.DuckDBPyConnection) -> None:
    share = one(s_con, "select avg(cast(vehicle_id is not null as double)) from order_lines")
    assert 0.4 < share < 0.6
    statuses = dict(s_con.execute(
        "select status, count(*) / sum(count(*)) over () from orders group by status").fetchall())
    assert abs(statuses["completed"] - 0.9) < 0.01


def test_purchases_reach_the_end_of_the_window(s_con: duckdb.DuckDBPyConnection) -> None:
    recent = one(s_con, """select avg(cast(ordered_at >= timestamp '2026-09-01' as double))
                           from sales""")
    assert recent > 0.05  # a 60-day backtest horizon at the end holds plenty of purchases
    assert one(s_con, "select max(ordered_at) < timestamp '2026-11-01' from sales") == 1


def test_consumables_are_rebought_after_an_interval(s_con: duckdb.DuckDBPyConnection) -> None:
    rows = s_con.execute("""
        with buys as (
            select customer_id, sku, category, ordered_at,
                   lag(ordered_at) over (partition by customer_id, sku order by ordered_at) as prev
            from (select distinct customer_id, sku, category, ordered_at from sales)
        )
        select category,
               count(distinct case when prev is not null then customer_id || sku end)
                   / count(distinct customer_id || sku) as repeat_share,
               median(date_diff('day', prev, ordered_at)) as gap_days
        from buys group by category""").fetchall()
    repeat = {category: (share, gap) for category, share, gap in rows}
    for consumable in ("fluids", "filters"):
        assert repeat[consumable][0] > 3 * repeat["body"][0]
        assert 60 < repeat[consumable][1] < 270


def test_click_through_rate_per_send_matches_the_ground_truth(
    s_con: duckdb.DuckDBPyConnection,
) -> None:
    rows = s_con.execute("""
        select s.treatment, count(*), count(c.send_id)
        from email_sends as s
        left join (select distinct send_id from email_events where event_type = 'click') as c
            on c.send_id = s.send_id
        group by s.treatment""").fetchall()
    observed = {arm: (clicked / sends, sends) for arm, sends, clicked in rows}
    assert set(observed) == set(synth.TRUE_CTR)
    for arm, truth in synth.TRUE_CTR.items():
        rate, sends = observed[arm]
        assert abs(rate - truth) < 3 * math.sqrt(truth * (1 - truth) / sends), arm
    assert observed["bandit"][0] > observed["random"][0]
    delivered = one(s_con, """select count(distinct send_id) / (select count(*) from email_sends)
                              from email_events where event_type = 'delivered'""")
    assert abs(delivered - synth.DELIVERY_RATE) < 0.005


def test_sends_show_six_distinct_items(xs_con: duckdb.DuckDBPyConnection) -> None:
    row = xs_con.execute("""
        select min(n), max(n), min(d), min(lo), max(hi) from (
            select send_id, count(*) as n, count(distinct sku) as d,
                   min(position) as lo, max(position) as hi
            from email_send_items group by send_id)""").fetchone()
    assert row == (6, 6, 6, 1, 6)
    # clicks name a SKU shown in that email
    assert one(xs_con, """
        select count(*) from email_events as e
        where e.event_type = 'click' and e.send_id in (select send_id from email_sends)
            and not exists (select 1 from email_send_items as i
                            where i.send_id = e.send_id and i.sku = e.sku)""") == 0


# --- structure knobs: taste, re-buy cycles, seasonality, projects (at s) ------------------------
# Each structure is measured on the default data (knobs on) and on the flat data (all knobs 0).

def test_knobs_are_recorded_and_change_only_the_purchases(
    s_raw: Path, s_flat: tuple[Path, duckdb.DuckDBPyConnection]
) -> None:
    flat_raw, _ = s_flat
    defaults = {"taste": synth_config.DEFAULT_TASTE, "rebuy": synth_config.DEFAULT_REBUY,
                "season": synth_config.DEFAULT_SEASON,
                "new_vehicle": synth_config.DEFAULT_NEW_VEHICLE}
    assert synth.read_manifest(s_raw)["knobs"] == defaults
    flat = synth.read_manifest(flat_raw)
    assert flat["knobs"] == {"taste": 0.0, "rebuy": 0.0, "season": 0.0, "new_vehicle": 0.0}
    truth = flat["ground_truth"]
    assert truth["taste"]["share_of_fitted_lines"] == 0.0
    assert {noun["effective_probability"] for noun in truth["rebuy"]["nouns"].values()} == {0.0}
    assert {m for months in truth["season"]["multiplier"].values() for m in months} == {1.0}
    for table in ("vehicles", "products", "fitment", "customers", "customer_vehicles",
                  "email_sends", "email_send_items"):
        assert raw_path(flat_raw, table).read_bytes() == raw_path(s_raw, table).read_bytes(), table
    assert raw_path(flat_raw, "order_lines").read_bytes() != raw_path(s_raw, "order_lines"
                                                                        ).read_bytes()


def test_knobs_out_of_range_are_one_clear_error(tmp_path: Path) -> None:
    for knobs, message in (({"taste": 1.5}, "taste is a share"), ({"rebuy": -1.0}, "rebuy"),
                           ({"season": math.nan}, "season"),
                           ({"new_vehicle": -0.5}, "new_vehicle")):
        with pytest.raises(VehicleRecsError, match=message):
            synth.generate("xs", 1, tmp_path, **knobs)
    assert not list(tmp_path.iterdir())  # checked before anything is written


def test_cli_passes_the_knobs_to_the_manifest(tmp_path: Path) -> None:
    out = tmp_path / "raw"
    result = CliRunner().invoke(cli, ["synth", "--scale", "xs", "--seed", "3", "--out", str(out),
                                      "--taste", "0.1", "--rebuy", "0", "--season", "1.5",
                                      "--new-vehicle", "3"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / synth.MANIFEST_NAME).read_text())
    assert manifest["knobs"] == {"taste": 0.1, "rebuy": 0.0, "season": 1.5, "new_vehicle": 3.0}
    assert manifest["ground_truth"]["new_vehicle"]["extra_order_rate_at_adding"] == 3.0
    assert manifest["ground_truth"]["season"]["strength"] == 1.5
    result = CliRunner().invoke(cli, ["synth", "--out", str(out), "--taste", "1.5"])
    assert result.exit_code != 0 and "--taste" in result.output


def top_category_share(con: duckdb.DuckDBPyConnection) -> float:
    """Mean share of a customer's distinct hard-parts SKUs in their top category (6+ SKUs)."""
    return one(con, """
        with bought as (select distinct customer_id, sku, category from sales
                        where department = 'hard_parts'),
        per_category as (select customer_id, category, count(*) as skus
                         from bought group by customer_id, category),
        per_customer as (select customer_id, max(skus) as top, sum(skus) as total
                         from per_category group by customer_id having sum(skus) >= 6)
        select avg(top / total) from per_customer""")


def test_taste_concentrates_customers_on_their_favourite_categories(
    s_con: duckdb.DuckDBPyConnection, s_flat: tuple[Path, duckdb.DuckDBPyConnection],
    s_variant: Callable[..., tuple[Path, duckdb.DuckDBPyConnection]],
) -> None:
    """Higher taste, more of a customer's parts in one category (the vehicle alone gives ~0.24)."""
    none = top_category_share(s_flat[1])
    default = top_category_share(s_con)  # taste 0.35
    strong = top_category_share(s_variant(taste=0.9)[1])
    assert none + 0.02 < default < strong - 0.1, (none, default, strong)


def repeat_shares(con: duckdb.DuckDBPyConnection, consumable: list[str]) -> tuple[float, float]:
    """Shares of (customer, SKU) hard-parts pairs bought twice 30+ days apart: (consumable
    categories, the other hard-parts categories = the background)."""
    categories = ", ".join(f"'{c}'" for c in consumable)
    rows = dict(con.execute(f"""
        with pairs as (
            select customer_id, sku, category in ({categories}) as consumable,
                   date_diff('day', min(ordered_at), max(ordered_at)) as span
            from sales where department = 'hard_parts' group by customer_id, sku, category
        )
        select consumable, avg(cast(span >= 30 as double)) from pairs group by consumable
        """).fetchall())
    return float(rows[True]), float(rows[False])


def test_rebuy_cycles_repeat_consumables_and_zero_switches_them_off(
    s_raw: Path, s_con: duckdb.DuckDBPyConnection,
    s_flat: tuple[Path, duckdb.DuckDBPyConnection],
) -> None:
    consumable = synth.read_manifest(s_raw)["ground_truth"]["consumable_categories"]
    assert set(consumable) == {"ignition", "brakes", "filters", "fluids", "gaskets"}
    on, background = repeat_shares(s_con, consumable)
    off, background_off = repeat_shares(s_flat[1], consumable)
    assert on > 3 * background, (on, background)  # measured ~0.14 vs ~0.025
    assert off < 1.5 * background_off, (off, background_off)  # background level
    assert off < on / 3


def test_rebuy_gaps_follow_each_products_cycle(
    s_raw: Path, s_con: duckdb.DuckDBPyConnection
) -> None:
    """Median days between purchases of one SKU by one customer, per consumable noun: oil every
    ~3.5 months, brake pads and spark plugs every ~12 (long cycles are cut by the window)."""
    nouns = synth.read_manifest(s_raw)["ground_truth"]["rebuy"]["nouns"]
    checked = 0
    for noun, truth in nouns.items():
        gaps, median = s_con.execute(f"""
            with buys as (
                select distinct customer_id, sku, ordered_at from sales
                where sku in (select sku from products_1 where name like '%{noun}%')
            ),
            gaps as (
                select date_diff('day', lag(ordered_at) over (
                    partition by customer_id, sku order by ordered_at), ordered_at) as gap
                from buys
            )
            select count(gap), median(gap) from gaps""").fetchone() or (0, None)
        if truth["months"] <= 12 and gaps >= 100:
            cycle = truth["months"] * synth_config.DAYS_PER_MONTH
            assert 0.8 * cycle < median < 1.2 * cycle, (noun, cycle, median)
            checked += 1
    assert checked >= 8


def category_share(con: duckdb.DuckDBPyConnection, categories: tuple[str, ...],
                   month: int) -> float:
    """Share of the hard-parts lines ordered in a calendar month that are in `categories`."""
    names = ", ".join(f"'{c}'" for c in categories)
    return one(con, f"""
        select avg(cast(category in ({names}) as double)) from sales
        where department = 'hard_parts' and month(ordered_at) = {month}""")


def test_season_moves_the_category_mix_with_the_month(
    s_con: duckdb.DuckDBPyConnection, s_flat: tuple[Path, duckdb.DuckDBPyConnection]
) -> None:
    flat = s_flat[1]
    winter = ("interior", "engine", "drivetrain")

    def ratio(con: duckdb.DuckDBPyConnection, categories: tuple[str, ...], peak: int,
              trough: int) -> float:
        return category_share(con, categories, peak) / category_share(con, categories, trough)

    # ~300 cooling lines a month: a ratio's noise is ~10%
    assert ratio(s_con, ("cooling",), 7, 1) > 2.0  # 1.48 / 0.52 at season 0.5, measured ~3
    assert ratio(s_con, winter, 1, 7) > 1.4
    assert 0.8 < ratio(flat, ("cooling",), 7, 1) < 1.25
    assert 0.9 < ratio(flat, winter, 1, 7) < 1.1

    # order dates keep their distribution; apparel stays flat over the months
    def july_to_january(con: duckdb.DuckDBPyConnection) -> float:
        return one(con, """select count(*) filter (where month(ordered_at) = 7)
                                  / count(*) filter (where month(ordered_at) = 1)
                           from (select distinct order_id, ordered_at from sales)""")

    assert july_to_january(s_con) == pytest.approx(july_to_january(flat), rel=0.03)
    apparel = s_con.execute("""
        select month(ordered_at), avg(cast(has_apparel as double)) from (
            select order_id, ordered_at, max(department = 'apparel') as has_apparel
            from sales group by order_id, ordered_at)
        group by 1""").fetchall()
    assert len(apparel) == 12
    for month, share in apparel:
        assert abs(share - synth.APPAREL_ORDER_SHARE) < 0.012, month


def project_rate_ratio(con: duckdb.DuckDBPyConnection) -> float:
    """Lines bought for a garage vehicle per day in its first 60 days in the garage, over the
    same in days 180-540 (vehicles added from 2024-01-01 on, counted inside the window)."""
    return one(con, """
        with garage as (
            select distinct customer_id, vehicle_id, added_at from customer_vehicles
            where added_at >= timestamp '2024-01-01' and added_at < timestamp '2026-10-01'
        ),
        lines as (
            select g.customer_id, g.vehicle_id, g.added_at,
                   date_diff('day', g.added_at, s.ordered_at) as age
            from garage as g inner join sales as s
                on s.customer_id = g.customer_id and s.vehicle_id = g.vehicle_id
        ),
        exposure as (
            select sum(least(60, date_diff('day', added_at, timestamp '2026-11-01'))) as early,
                   sum(greatest(0, least(540, date_diff('day', added_at,
                                                        timestamp '2026-11-01')) - 180)) as late
            from garage
        )
        select (count(*) filter (where age >= 0 and age < 60) / any_value(early))
             / (count(*) filter (where age >= 180 and age < 540) / any_value(late))
        from lines, exposure""")


def test_projects_raise_buying_for_a_newly_added_vehicle_and_zero_switches_them_off(
    s_con: duckdb.DuckDBPyConnection, s_flat: tuple[Path, duckdb.DuckDBPyConnection],
) -> None:
    on, off = project_rate_ratio(s_con), project_rate_ratio(s_flat[1])
    assert on > 1.8, on
    assert 0.8 < off < 1.25, off


def test_arrivals_are_created_in_the_last_year_and_never_sold_before(tmp_path: Path) -> None:
    """`synth --arrivals`: the introduced parts are created during the data's last year and no
    order line of one is dated before its creation; 0 leaves the catalog before the data."""
    synth.generate("xs", 7, tmp_path, arrivals=0.1)
    arrivals = synth.read_manifest(tmp_path)["arrivals"]
    assert arrivals["products"] > 50 and arrivals["lines_removed_before_arrival"] > 0
    con = duckdb.connect()
    new, early = con.execute(f"""
        with products as (select * from '{tmp_path}/products.parquet'),
             lines as (select l.sku, o.ordered_at
                       from '{tmp_path}/order_lines.parquet' l
                       join '{tmp_path}/orders.parquet' o using (order_id))
        select (select count(*) from products where created_at >= timestamp '2025-10-30'),
               (select count(*) from lines join products using (sku)
                where lines.ordered_at < products.created_at)""").fetchone()
    assert new == arrivals["products"]
    assert early == 0
