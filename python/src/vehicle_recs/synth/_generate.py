"""Orchestration: draw every stage, turn indices into contract tables, add dirt, write."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vehicle_recs.contract import EVENT_TYPES, HARD_PARTS, ORDER_STATUSES, RAW_SCHEMAS, raw_path
from vehicle_recs.errors import VehicleRecsError
from vehicle_recs.synth import _config as cfg
from vehicle_recs.synth._arrow import (
    id_width,
    ids,
    micros,
    money,
    strings,
    timestamps,
    weighted_choice,
    write_table,
)
from vehicle_recs.synth._catalog import (
    Catalog,
    Vehicles,
    build_catalog,
    build_vehicles,
    fitment_table,
    products_table,
    vehicles_table,
)
from vehicle_recs.synth._email import (
    ARMS,
    BANDIT_STRATEGIES,
    CONTROL,
    ITT_WINDOW_US,
    EmailHistory,
    build_email,
)
from vehicle_recs.synth._shop import (
    END_US,
    Customers,
    Purchases,
    add_apparel,
    add_rebuys,
    base_purchases,
    build_customers,
    build_purchase_model,
    draw_quantity,
    season_multiplier,
    season_profile,
)

MANIFEST_NAME = "_synth_manifest.json"
ASSIGNMENT_LOG_DIR = "assignment_log"  # with --holdout: the log `vehicle-recs run` would write
STAGES = ("vehicles", "catalog", "customers", "purchases", "email", "dirt")


class _Dirt:
    """Chooses disjoint rows per table for each kind of bad row, and counts them."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.counts: dict[str, int] = {}

    def rows(self, table: str, n_rows: int, kinds: tuple[str, ...]) -> dict[str, np.ndarray]:
        k = max(1, int(round(cfg.DIRTY_RATE * n_rows)))
        picked = self.rng.choice(n_rows, size=min(k * len(kinds), n_rows), replace=False)
        out = {}
        for i, kind in enumerate(kinds):
            out[kind] = np.sort(picked[i * k:(i + 1) * k])
            self.counts[f"{table}.{kind}"] = len(out[kind])
        return out


def _duplicate(table: pa.Table, rows: np.ndarray) -> pa.Table:
    """Exact copies of `rows`, each placed right after its original."""
    take = np.sort(np.concatenate([np.arange(table.num_rows), rows]), kind="stable")
    return table.take(pa.array(take))


def _orders_tables(rng: np.random.Generator, dirt: _Dirt, catalog: Catalog,
                   vehicles: Vehicles, purchases: Purchases,
                   customer_ids: pa.Array) -> tuple[pa.Table, pa.Table]:
    n_orders = len(purchases.order_us)
    # order ids follow time; line numbers follow the order's lines
    rank_of = np.empty(n_orders, dtype=np.int64)
    by_time = np.lexsort((purchases.order_customer, purchases.order_us))
    rank_of[by_time] = np.arange(n_orders)
    order_ids = ids("O", np.arange(1, n_orders + 1), id_width(n_orders, 8))
    status = weighted_choice(rng, np.array(list(cfg.ORDER_STATUS_SHARE.values())), n_orders)
    statuses = list(cfg.ORDER_STATUS_SHARE)
    assert tuple(statuses) == ORDER_STATUSES
    when = purchases.order_us[by_time].copy()
    status = status[by_time]
    bad = dirt.rows("orders", n_orders, ("duplicate_id", "unknown_status", "future_dated"))
    status[bad["unknown_status"]] = len(statuses)
    future = rng.integers(micros(cfg.DATA_END.replace(year=cfg.FUTURE_YEARS[0])),
                          micros(cfg.DATA_END.replace(year=cfg.FUTURE_YEARS[1])),
                          len(bad["future_dated"]))
    when[bad["future_dated"]] = future
    orders = pa.table({
        "order_id": order_ids,
        "customer_id": customer_ids.take(pa.array(purchases.order_customer[by_time])),
        "ordered_at": timestamps(when),
        "status": strings([*statuses, cfg.UNKNOWN_STATUS], status),
    })
    orders = _duplicate(orders, bad["duplicate_id"])

    line_rank = rank_of[purchases.line_order]
    order = np.argsort(line_rank, kind="stable")
    line_rank = line_rank[order]
    product = purchases.line_product[order]
    quantity = purchases.line_quantity[order]
    vehicle = purchases.line_vehicle[order]
    first = np.searchsorted(line_rank, line_rank, side="left")
    line_number = np.arange(len(line_rank)) - first + 1
    cents = catalog.price_cents[product]
    discounted = rng.random(len(cents)) < 0.05
    cents = np.where(discounted, np.round(cents * 0.9).astype(np.int64), cents)
    bad = dirt.rows("order_lines", len(product),
                    ("unknown_sku", "nonpositive_quantity", "nonpositive_unit_price"))
    quantity[bad["nonpositive_quantity"]] = rng.integers(-2, 1, len(bad["nonpositive_quantity"]))
    cents[bad["nonpositive_unit_price"]] = np.where(
        rng.random(len(bad["nonpositive_unit_price"])) < 0.5, 0,
        -cents[bad["nonpositive_unit_price"]])
    sku = catalog.sku.take(pa.array(product))
    unknown = ids("ZZ-", rng.integers(90_000, 99_999, len(bad["unknown_sku"])), 5)
    sku = pc.replace_with_mask(sku, _mask(len(product), bad["unknown_sku"]), unknown)
    vehicle_ids = vehicles.ids().take(pa.array(np.maximum(vehicle, 0)))
    lines = pa.table({
        "order_id": order_ids.take(pa.array(line_rank)),
        "line_number": pa.array(line_number, type=pa.int64()),
        "sku": sku,
        "quantity": pa.array(quantity, type=pa.int64()),
        "unit_price": money(cents),
        "vehicle_id": pc.if_else(pa.array(vehicle < 0), pa.scalar(None, pa.string()),
                                 vehicle_ids),
    })
    return orders, lines


def _mask(n: int, rows: np.ndarray) -> pa.Array:
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    return pa.array(mask)


def _customer_tables(rng: np.random.Generator, dirt: _Dirt, vehicles: Vehicles,
                     customers: Customers, email: EmailHistory,
                     customer_ids: pa.Array) -> tuple[pa.Table, pa.Table]:
    n = customers.count
    opted = customers.opted_in.copy()
    opted[email.unsubscribed] = False
    address = pc.binary_join_element_wise(
        ids("c", np.arange(1, n + 1), id_width(n, 7)), "@example.com", "")
    table = pa.table({
        "customer_id": customer_ids,
        "email": pc.if_else(pa.array(~customers.has_email), pa.scalar(None, pa.string()),
                            address),
        "email_opt_in": pa.array(opted),
        "created_at": timestamps(customers.created_us),
    })
    bad = dirt.rows("customers", n, ("duplicate_id",))
    table = _duplicate(table, bad["duplicate_id"])

    m = len(customers.garage_customer)
    bad = dirt.rows("customer_vehicles", m, ("unknown_vehicle",))
    vehicle_ids = vehicles.ids().take(pa.array(customers.garage_vehicle))
    unknown = ids("V", 900_000 + rng.integers(0, 99_999, len(bad["unknown_vehicle"])), 6)
    garage = pa.table({
        "customer_id": customer_ids.take(pa.array(customers.garage_customer)),
        "vehicle_id": pc.replace_with_mask(vehicle_ids, _mask(m, bad["unknown_vehicle"]),
                                           unknown),
        "added_at": timestamps(customers.garage_added_us),
    })
    return table, garage


def _email_tables(rng: np.random.Generator, dirt: _Dirt, catalog: Catalog,
                  email: EmailHistory, customer_ids: pa.Array) -> tuple[pa.Table, ...]:
    n = len(email.send_us)
    send_ids = ids("S", np.arange(1, n + 1), id_width(n, 8))
    propensity = pa.array(email.send_propensity, mask=np.isnan(email.send_propensity))
    campaign_ids = pa.array(_campaign_ids(email))
    sends = pa.table({
        "send_id": send_ids,
        "campaign_id": campaign_ids.take(pa.array(email.send_campaign)),
        "customer_id": customer_ids.take(pa.array(email.send_customer)),
        "sent_at": timestamps(email.send_us),
        "treatment": strings(ARMS, email.send_arm),
        "model_version": strings(email.versions, email.send_version),
        "propensity": propensity,
    })
    k = cfg.ITEMS_PER_SEND
    items = pa.table({
        "send_id": send_ids.take(pa.array(np.repeat(np.arange(n), k))),
        "position": pa.array(np.tile(np.arange(1, k + 1), n), type=pa.int64()),
        "sku": catalog.sku.take(pa.array(email.items.reshape(-1))),
    })
    order = np.lexsort((email.event_type, email.event_send, email.event_us))
    m = len(order)
    send = email.event_send[order]
    product = email.event_product[order]
    bad = dirt.rows("email_events", m, ("unknown_send",))
    unknown = ids("S", n + 1 + rng.integers(10_000_000, 20_000_000, len(bad["unknown_send"])),
                  id_width(n, 8))
    event_sends = pc.replace_with_mask(send_ids.take(pa.array(send)),
                                       _mask(m, bad["unknown_send"]), unknown)
    events = pa.table({
        "event_id": ids("E", np.arange(1, m + 1), id_width(m, 9)),
        "send_id": event_sends,
        "event_type": strings(EVENT_TYPES, email.event_type[order]),
        "occurred_at": timestamps(email.event_us[order]),
        "sku": pc.if_else(pa.array(product < 0), pa.scalar(None, pa.string()),
                          catalog.sku.take(pa.array(np.maximum(product, 0)))),
    })
    return sends, items, events


def _campaign_ids(email: EmailHistory) -> list[str]:
    """The campaigns' ids, CMP-<yyyymmdd> of their send day, in campaign order."""
    return [f"CMP-{day.replace('-', '')}" for day in email.campaign_dates]


def _introduce_arrivals(rng: np.random.Generator, catalog: Catalog, share: float) -> np.ndarray:
    """Mark `share` of the active hard parts as introduced during the last ARRIVAL_WINDOW_DAYS
    of the data (their created_us moved there, in place); the mask of those products."""
    arrived = np.zeros(catalog.count, dtype=bool)
    if share <= 0:
        return arrived
    pool = np.flatnonzero(catalog.is_active & (catalog.department() == HARD_PARTS))
    picked = pool[rng.random(len(pool)) < share]
    end = int(END_US) - cfg.US_PER_DAY
    catalog.created_us[picked] = rng.integers(end - cfg.ARRIVAL_WINDOW_DAYS * cfg.US_PER_DAY,
                                              end, len(picked))
    arrived[picked] = True
    return arrived


def _assignment_log(rng: np.random.Generator, email: EmailHistory, customer_ids: pa.Array,
                    log_dir: Path) -> dict[str, Any]:
    """Write the campaigns' assignment log (one file per campaign, the schema `vehicle-recs run`
    writes) and return the truth an intent-to-treat readout should recover: per arm, the
    assignments and the orders the email caused inside the 7-day window from the campaign day
    (control: none, it gets no email)."""
    from vehicle_recs.bandit import ASSIGNMENT_LOG_SCHEMA, write_assignment_log

    arm = email.assigned_arm
    names = np.array([*ARMS, "control"], dtype=object)[np.where(arm == CONTROL, len(ARMS), arm)]
    strategy = np.full(len(arm), None, dtype=object)
    strategy[names == "random"] = "random_eligible"
    is_bandit = names == "bandit"
    strategy[is_bandit] = rng.choice(BANDIT_STRATEGIES, int(is_bandit.sum()))
    strategy_propensity = np.where(names == "control", np.nan,
                                   np.where(is_bandit, 1 / len(BANDIT_STRATEGIES), 1.0))
    campaign_ids = np.array(_campaign_ids(email))
    rows = pa.table({
        "campaign_id": pa.array(campaign_ids[email.assigned_campaign]),
        "customer_id": customer_ids.take(pa.array(email.assigned_customer)),
        "arm": pa.array(names, pa.string()),
        "strategy": pa.array(strategy, pa.string()),
        "context": pa.array(np.full(len(arm), "none")),
        "arm_propensity": pa.array(email.assigned_propensity),
        "strategy_propensity": pa.array(strategy_propensity, mask=np.isnan(strategy_propensity)),
        "propensity": pa.array(email.assigned_propensity * np.nan_to_num(strategy_propensity,
                                                                         nan=1.0)),
        "assigned_at": pa.array(email.assigned_us, pa.timestamp("us", tz="UTC")),
    }, schema=ASSIGNMENT_LOG_SCHEMA)
    for campaign in np.unique(email.assigned_campaign):
        write_assignment_log(rows.filter(pa.array(email.assigned_campaign == campaign)), log_dir,
                             str(campaign_ids[campaign]))
    truth = {}
    for name in ("control", *ARMS):
        mask = names == name
        caused = int(email.assigned_caused_orders[mask].sum())
        truth[name] = {"assigned": int(mask.sum()), "caused_orders_in_window": caused,
                       "caused_orders_per_assigned": caused / max(int(mask.sum()), 1)}
    return {"window_days": ITT_WINDOW_US // cfg.US_PER_DAY, "arms": truth}


def _products_with_dirt(rng: np.random.Generator, dirt: _Dirt, catalog: Catalog) -> pa.Table:
    table = products_table(rng, catalog)
    bad = dirt.rows("products", catalog.count, ("duplicate_sku", "nonpositive_price"))
    cents = catalog.price_cents.copy()
    rows = bad["nonpositive_price"]
    cents[rows] = np.where(np.arange(len(rows)) % 2 == 0, 0, -cents[rows])
    table = table.set_column(table.schema.get_field_index("price"), "price", money(cents))
    return _duplicate(table, bad["duplicate_sku"])


def generate(
    scale: str,
    seed: int,
    out_dir: Path,
    progress: Callable[[str], None] | None = None,
    *,
    taste: float = cfg.DEFAULT_TASTE,
    rebuy: float = cfg.DEFAULT_REBUY,
    season: float = cfg.DEFAULT_SEASON,
    new_vehicle: float = cfg.DEFAULT_NEW_VEHICLE,
    holdout: float = 0.0,
    email_lift: float = 0.0,
    arrivals: float = 0.0,
) -> dict[str, int]:
    """Write every table as <out_dir>/<table>.parquet; return row counts.

    Deterministic for a seed and knobs: the same (scale, seed, taste, rebuy, season, new_vehicle)
    writes byte-identical files. The knobs set how much structure a recommender can find: `taste` is
    the share (0..1) of a customer's fitted lines drawn within their favourite categories, `rebuy`
    (>= 0) multiplies every consumable SKU's re-buy probability, `season` (>= 0) scales the
    month-of-year profiles of the hard-parts categories, `new_vehicle` (>= 0) is the extra order
    rate (a multiple of the customer's usual one) a vehicle brings when it is added to the garage,
    decaying over ~2 months; 0 switches a structure off. A manifest (`_synth_manifest.json`) records
    the row counts, the bad rows injected per kind, the knobs and the ground truth the data was
    drawn from.

    The email experiment: `holdout` (0..0.5) assigns that share of each campaign's customers to
    a `control` arm that gets no email and writes the assignment log (`assignment_log/`, one
    Parquet file per campaign, as `vehicle-recs run` does), and `email_lift` (0..1) is the
    probability that a delivered email sells one of its items within 3 days; the manifest's
    `email_experiment` holds the orders the emails caused per arm (the truth an intent-to-treat
    readout should recover). Both 0 by default: no control arm, no log, the same files as before.

    `arrivals` (0..1, default 0) is the share of active hard parts introduced during the last
    year of the data: their `created_at` falls there and every purchase of them before it is
    removed (orders left empty go too), so a recommender sees new parts with few or no sales.
    """
    if scale not in cfg.SCALES:
        raise VehicleRecsError(f"unknown scale '{scale}' (choose one of {', '.join(cfg.SCALES)})")
    knobs = check_knobs(taste=taste, rebuy=rebuy, season=season, new_vehicle=new_vehicle)
    if not 0 <= holdout <= 0.5 or not 0 <= email_lift <= 1 or not 0 <= arrivals <= 1:
        raise VehicleRecsError(f"holdout must be in 0..0.5, email_lift and arrivals in 0..1 "
                               f"(got {holdout}, {email_lift}, {arrivals})")
    size = cfg.SCALES[scale]
    say = progress or (lambda message: None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    streams = dict(zip(STAGES, (np.random.default_rng(s) for s in
                                np.random.SeedSequence(seed).spawn(len(STAGES))), strict=True))
    counts: dict[str, int] = {}
    dirt = _Dirt(streams["dirt"])

    def write(table_name: str, table: pa.Table) -> None:
        counts[table_name] = write_table(table, RAW_SCHEMAS[table_name],
                                         raw_path(out_dir, table_name))
        say(f"wrote {table_name} ({counts[table_name]:,} rows)")

    say("vehicles")
    vehicles = build_vehicles(streams["vehicles"], size.vehicles)
    write("vehicles", vehicles_table(vehicles))
    say("products and fitment")
    catalog = build_catalog(streams["catalog"], vehicles, size.products, rebuy=rebuy)
    arrived = _introduce_arrivals(np.random.default_rng([seed, cfg.ARRIVALS_STREAM]), catalog,
                                  arrivals)
    write("products", _products_with_dirt(streams["catalog"], dirt, catalog))
    write("fitment", fitment_table(catalog, vehicles))

    say("customers and garages")
    rng = streams["customers"]
    customers = build_customers(rng, vehicles, size.customers)
    customer_ids = ids("C", np.arange(1, customers.count + 1), id_width(customers.count, 7))

    say("orders")
    rng = streams["purchases"]
    model = build_purchase_model(catalog, vehicles, customers)
    purchases = base_purchases(rng, size, catalog, vehicles, customers, model, taste=taste,
                               season=season, new_vehicle=new_vehicle)
    rebuys = add_rebuys(rng, catalog, purchases)

    say("email history")
    email = build_email(streams["email"], size, catalog, customers, holdout=holdout,
                        email_lift=email_lift)
    purchases.extend(email.purchase_customer, email.purchase_us, email.purchase_product,
                     draw_quantity(rng, catalog, email.purchase_product),
                     np.full(len(email.purchase_product), -1))
    apparel_lines = add_apparel(rng, catalog, model, purchases)

    before_arrival = arrived[purchases.line_product] & (
        purchases.order_us[purchases.line_order] < catalog.created_us[purchases.line_product])
    dropped = purchases.drop_lines(before_arrival) if arrivals > 0 else 0

    # (the dirt stream, not the purchases', so these tables do not depend on the knobs)
    table, garage = _customer_tables(streams["dirt"], dirt, vehicles, customers, email,
                                     customer_ids)
    write("customers", table)
    write("customer_vehicles", garage)
    del table, garage
    orders, lines = _orders_tables(rng, dirt, catalog, vehicles, purchases, customer_ids)
    del purchases
    write("orders", orders)
    write("order_lines", lines)
    del orders, lines
    sends, items, events = _email_tables(rng, dirt, catalog, email, customer_ids)
    write("email_sends", sends)
    write("email_send_items", items)
    write("email_events", events)
    experiment = None
    if holdout > 0:
        experiment = {"holdout": holdout, "email_lift": email_lift,
                      "assignment_log": ASSIGNMENT_LOG_DIR,
                      **_assignment_log(streams["email"], email, customer_ids,
                                        out_dir / ASSIGNMENT_LOG_DIR)}
        say(f"wrote {ASSIGNMENT_LOG_DIR}/ ({len(email.assigned_arm):,} assignments)")

    manifest = {
        "scale": scale,
        "seed": seed,
        "knobs": knobs,
        "data_start": cfg.DATA_START.isoformat(),
        "data_end": cfg.DATA_END.isoformat(),
        "rows": counts,
        "dirty": dirt.counts,
        "generated": {"rebuy_lines": rebuys, "apparel_lines": apparel_lines,
                      "click_purchases": len(email.purchase_product)},
        "calibration": model.calibration,
        "ground_truth": ground_truth(**knobs),
    }
    if experiment is not None:
        manifest["email_experiment"] = experiment
    if arrivals > 0:
        manifest["arrivals"] = {"share": arrivals, "products": int(arrived.sum()),
                                "window_days": cfg.ARRIVAL_WINDOW_DAYS,
                                "lines_removed_before_arrival": dropped}
    _write_json(out_dir / MANIFEST_NAME, manifest)
    say("done")
    return counts


def check_knobs(taste: float, rebuy: float, season: float,
                new_vehicle: float = cfg.DEFAULT_NEW_VEHICLE) -> dict[str, float]:
    """The knobs as floats, or a ValueError naming the one out of range."""
    values = {"taste": float(taste), "rebuy": float(rebuy), "season": float(season),
              "new_vehicle": float(new_vehicle)}
    for name, value in values.items():
        if not np.isfinite(value) or value < 0:
            raise VehicleRecsError(f"{name} must be a number >= 0 (got {value})")
    if values["taste"] > 1:
        raise VehicleRecsError(f"taste is a share of fitted lines: 0..1 (got {values['taste']})")
    return values


def ground_truth(*, taste: float = cfg.DEFAULT_TASTE, rebuy: float = cfg.DEFAULT_REBUY,
                 season: float = cfg.DEFAULT_SEASON,
                 new_vehicle: float = cfg.DEFAULT_NEW_VEHICLE) -> dict[str, Any]:
    """The parameters the data is drawn from (what downstream tests may compare against)."""
    check_knobs(taste=taste, rebuy=rebuy, season=season, new_vehicle=new_vehicle)
    hard = [i for i, c in enumerate(cfg.CATEGORIES) if c.department == HARD_PARTS]
    profile, multiplier = season_profile(), season_multiplier(season)
    noun_category = {noun: c.name for c in cfg.CATEGORIES for noun in c.nouns}
    return {
        "true_ctr": cfg.TRUE_CTR,
        "delivery_rate": cfg.DELIVERY_RATE,
        "apparel_order_share": cfg.APPAREL_ORDER_SHARE,
        "hard_parts_revenue_share": cfg.HARD_PARTS_REVENUE_SHARE,
        "over_500_parts_revenue_share": cfg.OVER_500_PARTS_REVENUE_SHARE,
        "specific_lift": cfg.SPECIFIC_LIFT,
        "specific_boost": cfg.SPECIFIC_BOOST,
        "order_status_share": cfg.ORDER_STATUS_SHARE,
        "garage_size_share": list(cfg.GARAGE_SIZE_SHARE),
        "variant_suffixes": list(cfg.VARIANT_SUFFIXES),
        "unknown_status": cfg.UNKNOWN_STATUS,
        "future_years": list(cfg.FUTURE_YEARS),
        "taste": {
            "share_of_fitted_lines": taste,
            "favourite_count_share": list(cfg.FAVOURITE_COUNT_SHARE),
            "favourite_weight_gamma_shape": cfg.FAVOURITE_WEIGHT_SHAPE,
        },
        "consumable_categories": sorted({noun_category[noun] for noun in cfg.REBUY_NOUNS}),
        "rebuy": {
            "multiplier": rebuy,
            "probability_cap": cfg.REBUY_PROBABILITY_CAP,
            "sku_probability_sigma": cfg.REBUY_SKU_PROBABILITY_SIGMA,
            "sku_cycle_sigma": cfg.REBUY_SKU_CYCLE_SIGMA,
            "customer_gap_sigma": cfg.REBUY_CUSTOMER_GAP_SIGMA,
            "nouns": {
                noun: {"category": noun_category[noun], "months": months,
                       "probability": probability,
                       "effective_probability": min(probability * rebuy,
                                                    cfg.REBUY_PROBABILITY_CAP)}
                for noun, (months, probability) in cfg.REBUY_NOUNS.items()
            },
        },
        "season": {
            "strength": season,
            "floor": cfg.SEASON_FLOOR,
            "profile": {cfg.CATEGORIES[i].name: [round(float(v), 4) for v in profile[i]]
                        for i in hard},
            "multiplier": {cfg.CATEGORIES[i].name: [round(float(v), 4) for v in multiplier[i]]
                           for i in hard},
        },
        "new_vehicle": {
            "extra_order_rate_at_adding": new_vehicle,
            "decay_days": cfg.NEW_VEHICLE_DAYS,
        },
    }


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_manifest(out_dir: Path) -> dict[str, Any]:
    """The manifest `generate` wrote into a raw folder."""
    result: dict[str, Any] = json.loads((Path(out_dir) / MANIFEST_NAME).read_text())
    return result

