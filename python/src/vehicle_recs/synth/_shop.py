"""Customers, garages and purchases: who owns what, and what owners buy."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vehicle_recs.contract import ACCESSORIES, APPAREL, GIFT_CARDS, HARD_PARTS, TOOLS
from vehicle_recs.synth import _config as cfg
from vehicle_recs.synth._arrow import (
    micros,
    offsets_of,
    pick_in_ranges,
    splitmix,
    weighted_choice,
)
from vehicle_recs.synth._catalog import Catalog, Vehicles

START_US = micros(cfg.DATA_START)
END_US = micros(cfg.DATA_END)
YEAR_US = 365.25 * cfg.US_PER_DAY
HARD_CATEGORIES = [i for i, c in enumerate(cfg.CATEGORIES) if c.department == HARD_PARTS]
# Relative shares of the sources of a parts line (the price class and the share of other
# departments are calibrated per data set so the revenue facts hold).
FIT_SHARE, NOISE_SHARE, UNIVERSAL_SHARE = 0.80, 0.06, 0.14
LINES_PER_ORDER_EXTRA = 0.75  # lines per order = 1 + Poisson(this)
FIT, NOISE, UNIV, OTHER = 0, 1, 2, 3


@dataclass
class Customers:
    created_us: np.ndarray
    has_email: np.ndarray
    opted_in: np.ndarray  # before unsubscribes
    activity: np.ndarray  # relative order rate
    # persistent taste: up to 3 favourite hard-parts categories per customer (index into
    # CATEGORIES, -1 = none) and the cumulative weights to pick one of them (last = 1)
    favourites: np.ndarray  # (n, 3)
    favourite_cum: np.ndarray  # (n, 3)
    garage_customer: np.ndarray
    garage_vehicle: np.ndarray
    garage_added_us: np.ndarray
    shop_offsets: np.ndarray  # CSR per customer: the vehicles they shop for
    shop_vehicle: np.ndarray

    @property
    def count(self) -> int:
        return len(self.created_us)


def build_customers(rng: np.random.Generator, vehicles: Vehicles, n: int) -> Customers:
    early = rng.random(n) < 0.35
    created = np.where(
        early,
        rng.integers(micros(cfg.CUSTOMERS_START), START_US, n),
        rng.integers(START_US, END_US - 14 * cfg.US_PER_DAY, n),
    )
    created.sort()  # customer ids follow sign-up order
    has_email = rng.random(n) >= cfg.EMAIL_NULL_SHARE
    opted_in = has_email & (rng.random(n) < cfg.EMAIL_OPT_IN_SHARE / (1 - cfg.EMAIL_NULL_SHARE))
    activity = rng.gamma(0.7, 1 / 0.7, n)
    favourites, favourite_cum = _favourites(rng, n)

    size = weighted_choice(rng, np.array(cfg.GARAGE_SIZE_SHARE), n)
    customer = np.repeat(np.arange(n), size)
    vehicle = weighted_choice(rng, vehicles.weight, len(customer))
    order = np.lexsort((vehicle, customer))
    customer, vehicle = customer[order], vehicle[order]
    keep = np.ones(len(customer), dtype=bool)
    keep[1:] = (customer[1:] != customer[:-1]) | (vehicle[1:] != vehicle[:-1])
    customer, vehicle = customer[keep], vehicle[keep]
    delay = rng.exponential(20.0, len(customer)) * cfg.US_PER_DAY
    later = rng.random(len(customer)) < 0.2  # some vehicles are added long after sign-up
    delay = np.where(later, rng.random(len(customer)) * (END_US - created[customer]) * 0.8, delay)
    added = np.minimum(created[customer] + delay.astype(np.int64), END_US - cfg.US_PER_DAY)

    # Customers without a saved vehicle mostly still shop for one (picked in the shop only).
    no_garage = np.bincount(customer, minlength=n) == 0
    latent_customer = np.flatnonzero(no_garage & (rng.random(n) < 0.75))
    latent_vehicle = weighted_choice(rng, vehicles.weight, len(latent_customer))
    shop_customer = np.concatenate([customer, latent_customer])
    shop_vehicle = np.concatenate([vehicle, latent_vehicle])
    order = np.argsort(shop_customer, kind="stable")
    return Customers(
        created_us=created, has_email=has_email, opted_in=opted_in, activity=activity,
        favourites=favourites, favourite_cum=favourite_cum, garage_customer=customer,
        garage_vehicle=vehicle, garage_added_us=added,
        shop_offsets=offsets_of(shop_customer[order], n),
        shop_vehicle=shop_vehicle[order],
    )


def _favourites(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """1-3 distinct favourite hard-parts categories per customer (by catalog share) + weights."""
    hard = np.array(HARD_CATEGORIES)
    shares = np.array([cfg.CATEGORIES[i].share for i in hard])
    slots = len(cfg.FAVOURITE_COUNT_SHARE)
    count = 1 + weighted_choice(rng, np.array(cfg.FAVOURITE_COUNT_SHARE), n)
    pick = np.full((n, slots), -1, dtype=np.int64)
    for slot in range(slots):
        todo = np.flatnonzero(count > slot)
        for _ in range(50):  # redraw categories a customer already has (a few rounds suffice)
            pick[todo, slot] = weighted_choice(rng, shares, len(todo))
            taken = (pick[todo, :slot] == pick[todo, slot][:, None]).any(axis=1)
            todo = todo[taken]
            if not len(todo):
                break
        pick[todo, slot] = -1  # (practically never) keep fewer favourites
    weight = np.where(pick >= 0, rng.gamma(cfg.FAVOURITE_WEIGHT_SHAPE, 1.0, (n, slots)), 0.0)
    cum = np.cumsum(weight, axis=1) / weight.sum(axis=1, keepdims=True)
    cum[:, -1] = 1.0
    return np.where(pick >= 0, hard[np.maximum(pick, 0)], -1), cum


def season_profile() -> np.ndarray:
    """profile[category, month] (month 0 = January): mean 0 over the year, amplitude <= 1."""
    month = np.arange(1, 13)
    profile = np.zeros((len(cfg.CATEGORIES), 12))
    for i, c in enumerate(cfg.CATEGORIES):
        if c.name in cfg.SEASONS:
            peak, amplitude, peaks = cfg.SEASONS[c.name]
            profile[i] = amplitude * np.cos(2 * np.pi * peaks * (month - peak) / 12)
    return profile


def season_multiplier(season: float) -> np.ndarray:
    """multiplier[category, month] = 1 + season * profile, floored at SEASON_FLOOR."""
    return np.maximum(1 + season * season_profile(), cfg.SEASON_FLOOR)


def month_of(us: np.ndarray) -> np.ndarray:
    """Calendar month (0 = January) of UTC microsecond timestamps."""
    months = np.asarray(us, dtype=np.int64).astype("datetime64[us]").astype("datetime64[M]")
    return months.astype(np.int64) % 12


def quantity_mean(catalog: Catalog) -> np.ndarray:
    bulk = catalog.consumable | np.isin(catalog.category, [_cat("filters"), _cat("fluids")])
    return np.where(bulk, 1.7, np.where(catalog.category == _cat("apparel"), 1.2, 1.04))


def draw_quantity(rng: np.random.Generator, catalog: Catalog, product: np.ndarray) -> np.ndarray:
    mean = quantity_mean(catalog)[product]
    bulk = mean > 1.5
    extra = np.where(bulk, rng.poisson(0.7, len(product)), rng.random(len(product)) < mean - 1)
    return (1 + extra).astype(np.int64)


def _cat(name: str) -> int:
    return next(i for i, c in enumerate(cfg.CATEGORIES) if c.name == name)


@dataclass
class PurchaseModel:
    """What an owner of a vehicle buys: fitment rows weighted and sorted for sampling."""

    product: np.ndarray  # fitment rows sorted by (vehicle, price class, category)
    cum0: np.ndarray
    offsets: np.ndarray  # CSR over key = (vehicle * 2 + is_over_500) * n_categories + category
    universal_cum: np.ndarray
    universal_product: np.ndarray
    other_cum: np.ndarray
    other_product: np.ndarray
    apparel_cum: np.ndarray
    apparel_product: np.ndarray
    over_500_share: float = 0.0  # P(a fitted line is drawn among items over $500)
    other_share: float = 0.0  # P(a line is accessories / tools / gift cards)
    calibration: dict[str, float] = field(default_factory=dict)


def _pool(catalog: Catalog, mask: np.ndarray,
          weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    product = np.flatnonzero(mask)
    w = catalog.popularity[product] * (1.0 if weight is None else weight[product])
    return np.cumsum(w), product


def expected_rebuys(catalog: Catalog) -> np.ndarray:
    """Expected re-buys after one purchase at a uniform time in the three-year window."""
    window_days = (END_US - START_US) / cfg.US_PER_DAY
    total = np.zeros(catalog.count)
    p = catalog.rebuy_probability
    for k in range(1, 16):
        total += p ** k * np.clip(1 - k * catalog.rebuy_days / window_days, 0, None)
    return total


def specific_boost(breadth: np.ndarray, n_vehicles: int) -> np.ndarray:
    """Purchase weight by fitment breadth: SPECIFIC_BOOST when narrow, 1 when broad."""
    broad = min(cfg.BROAD_BREADTH, n_vehicles / 2)
    span = np.log(broad / cfg.NARROW_BREADTH)
    level = np.clip(np.log(broad / np.maximum(breadth, 1)) / span, 0, 1)
    return 1 + (cfg.SPECIFIC_BOOST - 1) * level


def build_purchase_model(catalog: Catalog, vehicles: Vehicles,
                         customers: Customers) -> PurchaseModel:
    n_cat = len(cfg.CATEGORIES)
    product, vehicle = catalog.fit_product, catalog.fit_vehicle
    boost = specific_boost(np.bincount(product, minlength=catalog.count), vehicles.count)[product]
    # signature parts: a stable subset of (make+model, part design) pairs owners favour
    pair = vehicles.line[vehicle].astype(np.uint64) << np.uint64(32)
    signature = splitmix(pair | catalog.design[product].astype(np.uint64)) < cfg.SIGNATURE_SHARE
    weight = catalog.popularity[product] * boost * np.where(signature, cfg.SIGNATURE_BOOST, 1.0)
    over = (catalog.price_cents[product] > 50_000).astype(np.int64)
    key = (vehicle * 2 + over) * n_cat + catalog.category[product]
    order = np.argsort(key, kind="stable")
    key, product, weight = key[order], product[order], weight[order]
    offsets = offsets_of(key, vehicles.count * 2 * n_cat)
    cum0 = np.concatenate([[0.0], np.cumsum(weight)])

    dept = catalog.department()
    hard = dept == HARD_PARTS
    gift_weight = np.where(dept == GIFT_CARDS, 0.3, 1.0)
    u_cum, u_prod = _pool(catalog, hard & catalog.is_universal)
    o_cum, o_prod = _pool(catalog, np.isin(dept, [ACCESSORIES, TOOLS, GIFT_CARDS]),
                          gift_weight)
    a_cum, a_prod = _pool(catalog, dept == APPAREL)
    model = PurchaseModel(product, cum0, offsets, u_cum, u_prod, o_cum, o_prod, a_cum, a_prod)
    _calibrate(model, catalog, vehicles, customers, key // n_cat, weight)
    return model


def _calibrate(model: PurchaseModel, catalog: Catalog, vehicles: Vehicles,
               customers: Customers, vehicle_class: np.ndarray, weight: np.ndarray) -> None:
    """Solve the price-class and other-department shares for the revenue facts (expectation)."""
    value = catalog.price_cents / 100 * quantity_mean(catalog) * (1 + expected_rebuys(catalog))
    n = vehicles.count * 2
    w_sum = np.bincount(vehicle_class, weights=weight, minlength=n)
    v_sum = np.bincount(vehicle_class, weights=weight * value[model.product], minlength=n)
    mean = np.divide(v_sum, w_sum, out=np.zeros(n), where=w_sum > 0).reshape(-1, 2)
    has = (w_sum > 0).reshape(-1, 2)
    shop_counts = np.diff(customers.shop_offsets)
    owner = np.repeat(np.arange(customers.count), shop_counts)
    share = np.bincount(customers.shop_vehicle,
                        weights=customers.activity[owner] / shop_counts[owner],
                        minlength=vehicles.count)
    share = 0.9 * share / share.sum() + 0.1 * vehicles.weight  # plus noise lines

    def pool_mean(cum: np.ndarray, product: np.ndarray, over: bool | None = None) -> float:
        """Mean line value of a pool; with `over`, only the part from items over/under $500."""
        w = np.diff(np.concatenate([[0.0], cum]))
        part = value[product]
        if over is not None:
            part = np.where((catalog.price_cents[product] > 50_000) == over, part, 0.0)
        return float((w * part).sum() / w.sum())

    e_hi = float((share * mean[:, 1] * has[:, 1]).sum() / (share * has[:, 1]).sum())
    e_lo = float((share * mean[:, 0] * has[:, 0]).sum() / (share * has[:, 0]).sum())
    u_hi = pool_mean(model.universal_cum, model.universal_product, over=True)
    u_lo = pool_mean(model.universal_cum, model.universal_product, over=False)
    e_univ = u_hi + u_lo
    e_other = pool_mean(model.other_cum, model.other_product)
    e_app = pool_mean(model.apparel_cum, model.apparel_product)
    t = cfg.OVER_500_PARTS_REVENUE_SHARE
    f, u = FIT_SHARE + NOISE_SHARE, UNIVERSAL_SHARE
    # over-$500 revenue f*q*e_hi + u*u_hi is the share t of all parts revenue
    q = (t * f * e_lo + t * u * u_lo - (1 - t) * u * u_hi) / (f * ((1 - t) * e_hi + t * e_lo))
    q = float(np.clip(q, 0.01, 0.95))
    parts = f * (q * e_hi + (1 - q) * e_lo) + u * e_univ
    # apparel revenue per normal line: 4% of orders, ~1.25 apparel lines each, ~1.9 lines/order
    apparel = cfg.APPAREL_ORDER_SHARE * 1.25 * e_app / 1.9
    k = (1 - cfg.HARD_PARTS_REVENUE_SHARE) / cfg.HARD_PARTS_REVENUE_SHARE
    other = float(np.clip((k * parts - apparel) / (e_other + k * parts), 0.0, 0.3))
    model.over_500_share, model.other_share = q, other
    model.calibration = {"e_hi": e_hi, "e_lo": e_lo, "e_univ": e_univ, "e_other": e_other,
                         "e_app": e_app, "over_500_share": q, "other_share": other}


@dataclass
class Purchases:
    """Orders and their lines (indices, not ids yet)."""

    order_customer: np.ndarray
    order_us: np.ndarray
    line_order: np.ndarray
    line_product: np.ndarray
    line_quantity: np.ndarray
    line_vehicle: np.ndarray  # -1 = null

    def extend(self, customer: np.ndarray, when: np.ndarray, product: np.ndarray,
               quantity: np.ndarray, vehicle: np.ndarray) -> None:
        """Append one single-line order per row."""
        first = len(self.order_us)
        self.order_customer = np.concatenate([self.order_customer, customer])
        self.order_us = np.concatenate([self.order_us, when])
        self.line_order = np.concatenate([self.line_order, first + np.arange(len(when))])
        self.line_product = np.concatenate([self.line_product, product])
        self.line_quantity = np.concatenate([self.line_quantity, quantity])
        self.line_vehicle = np.concatenate([self.line_vehicle, vehicle])

    def drop_lines(self, drop: np.ndarray) -> int:
        """Remove the lines where `drop` is true, and the orders left without a line."""
        keep = ~drop
        kept_orders = np.zeros(len(self.order_us), dtype=bool)
        kept_orders[self.line_order[keep]] = True
        new_index = np.cumsum(kept_orders) - 1
        self.order_customer = self.order_customer[kept_orders]
        self.order_us = self.order_us[kept_orders]
        self.line_order = new_index[self.line_order[keep]]
        self.line_product = self.line_product[keep]
        self.line_quantity = self.line_quantity[keep]
        self.line_vehicle = self.line_vehicle[keep]
        return int(drop.sum())


def sample_fitted(rng: np.random.Generator, model: PurchaseModel, vehicle: np.ndarray,
                  over: np.ndarray, category: np.ndarray | None) -> np.ndarray:
    """A weighted product fitting each vehicle in the price class (and category, if >= 0)."""
    n_cat = len(cfg.CATEGORIES)
    base = (vehicle * 2 + over) * n_cat
    start, end = model.offsets[base], model.offsets[base + n_cat]
    if category is not None:
        narrow = category >= 0
        c_start = model.offsets[base + np.maximum(category, 0)]
        c_end = model.offsets[base + np.maximum(category, 0) + 1]
        usable = narrow & (c_end > c_start)
        start, end = np.where(usable, c_start, start), np.where(usable, c_end, end)
    row = pick_in_ranges(rng, model.cum0, start, end)
    return np.where(row >= 0, model.product[np.maximum(row, 0)], -1)


def _from_pool(rng: np.random.Generator, cum: np.ndarray, product: np.ndarray,
               size: int) -> np.ndarray:
    pick = np.searchsorted(cum, rng.random(size) * cum[-1], side="right")
    return product[np.minimum(pick, len(product) - 1)]


def _repeats(customer: np.ndarray, product: np.ndarray, rows: np.ndarray, later: np.ndarray,
             n_products: int) -> np.ndarray:
    """Lines among `rows` whose (customer, product) another line of `rows` already has.

    Of the lines sharing a pair, the first one that is not `later` (else the first one) counts
    as the original; the others are repeats.
    """
    key = (customer[rows] * n_products + product[rows]) * 2 + later[rows]
    order = np.argsort(key, kind="stable")
    pair = key[order] >> 1
    repeat = np.zeros(len(customer), dtype=bool)
    repeat[rows[order[1:]]] = pair[1:] == pair[:-1]
    return repeat


def _project_orders(rng: np.random.Generator, customers: Customers, expected: np.ndarray,
                    customer: np.ndarray, when: np.ndarray,
                    vehicle: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The orders plus each garage vehicle's project: Poisson(expected) extra orders for it,
    an exponential NEW_VEHICLE_DAYS after it was added (those inside the data window)."""
    count = rng.poisson(expected)
    row = np.repeat(np.arange(len(count)), count)
    at = customers.garage_added_us[row] + (
        rng.exponential(cfg.NEW_VEHICLE_DAYS, len(row)) * cfg.US_PER_DAY).astype(np.int64)
    inside = (at >= START_US) & (at < END_US)
    row, at = row[inside], at[inside]
    return (np.concatenate([customer, customers.garage_customer[row]]),
            np.concatenate([when, at]),
            np.concatenate([vehicle, customers.garage_vehicle[row]]))


def base_purchases(rng: np.random.Generator, scale: cfg.Scale, catalog: Catalog,
                   vehicles: Vehicles, customers: Customers, model: PurchaseModel,
                   taste: float = cfg.DEFAULT_TASTE,
                   season: float = cfg.DEFAULT_SEASON,
                   new_vehicle: float = cfg.DEFAULT_NEW_VEHICLE) -> Purchases:
    n = customers.count
    since = np.maximum(customers.created_us, START_US)
    years = (END_US - since) / YEAR_US
    exposure = customers.activity * years
    # a garage vehicle's project adds new_vehicle * NEW_VEHICLE_DAYS days of the customer's
    # usual orders, of which the share falling inside the data window counts (the total order
    # count stays on target)
    tau_us = cfg.NEW_VEHICLE_DAYS * cfg.US_PER_DAY
    added = customers.garage_added_us
    inside = (np.exp(-np.maximum(START_US - added, 0) / tau_us)
              - np.exp(-(END_US - added) / tau_us))
    burst_exposure = (new_vehicle * customers.activity[customers.garage_customer] * inside
                      * tau_us / YEAR_US)
    # ~1.75 lines per order, ~9.5% more lines from re-buys (at the default rebuy knob), click
    # purchases and apparel
    target_orders = n * scale.lines_per_customer / (1 + LINES_PER_ORDER_EXTRA) / 1.095
    rate = target_orders / (exposure.sum() + burst_exposure.sum())
    count = rng.poisson(exposure * rate)
    customer = np.repeat(np.arange(n), count)
    when = since[customer] + (rng.random(len(customer)) * (END_US - since[customer])).astype(
        np.int64)
    shop_count = np.diff(customers.shop_offsets)[customer]
    pick = customers.shop_offsets[customer] + (rng.random(len(customer)) * shop_count).astype(
        np.int64)
    order_vehicle = np.where(shop_count > 0,
                             customers.shop_vehicle[np.minimum(pick, len(customers.shop_vehicle)
                                                               - 1)], -1)
    if new_vehicle > 0:
        customer, when, order_vehicle = _project_orders(rng, customers, burst_exposure * rate,
                                                        customer, when, order_vehicle)

    lines = 1 + rng.poisson(LINES_PER_ORDER_EXTRA, len(customer))
    line_order = np.repeat(np.arange(len(customer)), lines)
    m = len(line_order)
    ov = order_vehicle[line_order]
    parts = 1 - model.other_share
    source = weighted_choice(rng, np.array([parts * FIT_SHARE, parts * NOISE_SHARE,
                                            parts * UNIVERSAL_SHARE, model.other_share]), m)
    source = np.where((source == FIT) & (ov < 0), NOISE, source)
    vehicle = np.where(source == FIT, ov, weighted_choice(rng, vehicles.weight, m))
    over = (rng.random(m) < model.over_500_share).astype(np.int64)
    line_customer = customer[line_order]
    last_slot = customers.favourites.shape[1] - 1
    fitted = (source == FIT) | (source == NOISE)

    def draw(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Products for lines `rows`: each line is drawn afresh from the customer's mix (taste
        or not; a taste line picks one of the favourites); source, vehicle and price class stay."""
        category = np.full(len(rows), -1, dtype=np.int64)
        t = np.flatnonzero((source[rows] == FIT) & (rng.random(len(rows)) < taste))
        c = line_customer[rows[t]]
        slot = (rng.random(len(t))[:, None] >= customers.favourite_cum[c]).sum(axis=1)
        category[t] = customers.favourites[c, np.minimum(slot, last_slot)]
        product = np.full(len(rows), -1, dtype=np.int64)
        i = np.flatnonzero(fitted[rows])
        r = rows[i]
        product[i] = sample_fitted(rng, model, vehicle[r], over[r], category[i])
        retry = i[product[i] < 0]  # no part in that price class fits: try the other class
        product[retry] = sample_fitted(rng, model, vehicle[rows[retry]], 1 - over[rows[retry]],
                                       None)
        universal = (source[rows] == UNIV) | (fitted[rows] & (product < 0))
        product[universal] = _from_pool(rng, model.universal_cum, model.universal_product,
                                        int(universal.sum()))
        return product, universal

    product = np.full(m, -1, dtype=np.int64)
    univ = np.zeros(m, dtype=bool)
    parts_rows = np.flatnonzero(source != OTHER)
    product[parts_rows], univ[parts_rows] = draw(parts_rows)
    # Redraw rounds. Seasonality: keep a parts line with probability multiplier(category,
    # month) / the month's largest multiplier, so order dates keep their distribution and only
    # the mix of categories follows the month. Needs are met once: a line repeating a SKU the
    # customer buys on another line is redrawn with probability REPEAT_REDRAW (re-buys come
    # from `add_rebuys`). After REDRAW_ROUNDS a line is kept as drawn.
    multiplier = season_multiplier(season)
    month_max = multiplier.max(axis=0)
    month = month_of(when)[line_order]
    pending = parts_rows
    pending_mask = np.zeros(m, dtype=bool)
    for _ in range(cfg.REDRAW_ROUNDS):
        mon = month[pending]
        keep = multiplier[catalog.category[product[pending]], mon] / month_max[mon]
        pending_mask[:] = False
        pending_mask[pending] = True
        repeat = _repeats(line_customer, product, parts_rows, pending_mask, catalog.count)
        redo = (rng.random(len(pending)) >= keep) | (
            repeat[pending] & (rng.random(len(pending)) < cfg.REPEAT_REDRAW))
        pending = pending[redo]
        if not len(pending):
            break
        product[pending], univ[pending] = draw(pending)
    other = source == OTHER
    product[other] = _from_pool(rng, model.other_cum, model.other_product, int(other.sum()))

    # the vehicle chosen in the shop: on ~60% of fitted lines, a few universal ones
    recorded = np.where(fitted & ~univ, rng.random(m) < cfg.LINE_VEHICLE_SHARE,
                        univ & (rng.random(m) < 0.15))
    known = np.where(source == NOISE, vehicle, ov)
    line_vehicle = np.where(recorded & (ov >= 0), np.where(univ, ov, known), -1)
    # vehicle-less customers shop without choosing a vehicle
    return Purchases(
        order_customer=customer, order_us=when, line_order=line_order, line_product=product,
        line_quantity=draw_quantity(rng, catalog, product), line_vehicle=line_vehicle,
    )


def add_rebuys(rng: np.random.Generator, catalog: Catalog, purchases: Purchases) -> int:
    """Consumables are bought again by the same customer after their cycle (chains).

    Each purchase of a consumable is followed, with the SKU's re-buy probability, by another
    purchase of the same SKU one cycle later (the SKU's cycle times a per-purchase jitter).
    """
    line = np.flatnonzero(catalog.consumable[purchases.line_product])
    customer = purchases.order_customer[purchases.line_order[line]]
    when = purchases.order_us[purchases.line_order[line]]
    product = purchases.line_product[line]
    vehicle = purchases.line_vehicle[line]
    rounds: list[tuple[np.ndarray, ...]] = []
    while len(product):
        again = rng.random(len(product)) < catalog.rebuy_probability[product]
        gap = catalog.rebuy_days[product] * rng.lognormal(0.0, cfg.REBUY_CUSTOMER_GAP_SIGMA,
                                                          len(product))
        when = when + (gap * cfg.US_PER_DAY).astype(np.int64)
        keep = again & (when < END_US)
        customer, when, product, vehicle = customer[keep], when[keep], product[keep], vehicle[keep]
        rounds.append((customer, when, product, vehicle))
    if not rounds:
        return 0
    customer, when, product, vehicle = (np.concatenate(parts) for parts in zip(*rounds,
                                                                               strict=True))
    purchases.extend(customer, when, product, draw_quantity(rng, catalog, product), vehicle)
    return len(product)


def add_apparel(rng: np.random.Generator, catalog: Catalog, model: PurchaseModel,
                purchases: Purchases) -> int:
    """Apparel in a flat 4% of orders: half apparel-only orders, half added to other orders."""
    n = len(purchases.order_us)
    share = cfg.APPAREL_ORDER_SHARE
    extra = int(round(share * n / (2 - share)))
    # apparel-only orders shadow existing orders (same customer, a few days apart) so they
    # follow the order volume over time
    shadow = rng.choice(n, size=extra, replace=False)
    when = purchases.order_us[shadow] + (rng.uniform(-5, 5, extra) * cfg.US_PER_DAY).astype(
        np.int64)
    when = np.clip(when, START_US, END_US - 1)
    customer = purchases.order_customer[shadow]
    first = n
    purchases.order_customer = np.concatenate([purchases.order_customer, customer])
    purchases.order_us = np.concatenate([purchases.order_us, when])
    host = rng.choice(n, size=extra, replace=False)
    orders = np.concatenate([first + np.arange(extra), host])
    per_order = 1 + (rng.random(len(orders)) < 0.25)
    line_order = np.repeat(orders, per_order)
    product = _from_pool(rng, model.apparel_cum, model.apparel_product, len(line_order))
    purchases.line_order = np.concatenate([purchases.line_order, line_order])
    purchases.line_product = np.concatenate([purchases.line_product, product])
    purchases.line_quantity = np.concatenate([purchases.line_quantity,
                                              draw_quantity(rng, catalog, product)])
    purchases.line_vehicle = np.concatenate([purchases.line_vehicle,
                                             np.full(len(product), -1)])
    return len(line_order)
