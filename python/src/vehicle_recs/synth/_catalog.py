"""The vehicle taxonomy, the product catalog and its fitment (ACES-style applications)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vehicle_recs.contract import ACCESSORIES, GIFT_CARDS, HARD_PARTS
from vehicle_recs.synth import _config as cfg
from vehicle_recs.synth._arrow import (
    expand_ranges,
    ids,
    micros,
    money,
    strings,
    timestamps,
    weighted_choice,
    with_nulls,
)


@dataclass
class Vehicles:
    """Vehicles sorted by (make, make+model line, year); index = row number."""

    line: np.ndarray  # make+model line of each vehicle
    year: np.ndarray
    gen: np.ndarray  # generation (run of consecutive years of one line)
    weight: np.ndarray  # ownership popularity, sums to 1 (Zipf-like over lines)
    submodel: np.ndarray  # index into SUBMODELS, -1 = null
    makes: list[str]
    line_make: np.ndarray
    line_model: list[str]
    line_start: np.ndarray
    line_len: np.ndarray
    gen_start: np.ndarray
    gen_len: np.ndarray
    make_line_start: np.ndarray
    make_line_count: np.ndarray

    @property
    def count(self) -> int:
        return len(self.year)

    @property
    def make(self) -> np.ndarray:
        return self.line_make[self.line]

    def ids(self) -> pa.Array:
        return ids("V", np.arange(self.count), 6)


def _model_lines(rng: np.random.Generator, target: int) -> list[tuple[str, str, int, int, int]]:
    """(make, model, first, last, popularity rank) until `target` vehicles; exact total."""
    lo, hi = cfg.YEAR_RANGE
    base = [(mk, md, max(a, lo), min(b, hi)) for mk, md, a, b in cfg.MODEL_LINES]
    chosen: list[tuple[str, str, int, int, int]] = []
    total = 0
    rank = 0
    for style in ("", *cfg.BODY_STYLES):
        for make, model, first, last in base:
            if style:  # a body-style line covers a random part of its parent's years
                span = last - first + 1
                length = int(rng.integers(min(3, span), span + 1))
                first = first + int(rng.integers(0, span - length + 1))
                last = first + length - 1
            years = last - first + 1
            if total + years > target:
                last = first + (target - total) - 1
                years = target - total
            if years > 0:
                chosen.append((make, f"{model} {style}".strip(), first, last, rank))
                total += years
            rank += 1
            if total >= target:
                return chosen
    return chosen


def build_vehicles(rng: np.random.Generator, target: int) -> Vehicles:
    chosen = sorted(_model_lines(rng, target), key=lambda row: (row[0], row[4]))
    makes = sorted({row[0] for row in chosen})
    make_index = {make: i for i, make in enumerate(makes)}
    line_make = np.array([make_index[row[0]] for row in chosen], dtype=np.int64)
    first = np.array([row[2] for row in chosen], dtype=np.int64)
    length = np.array([row[3] - row[2] + 1 for row in chosen], dtype=np.int64)
    rank = np.array([row[4] for row in chosen], dtype=np.float64)
    line_start = np.cumsum(length) - length
    line, offset = expand_ranges(np.zeros(len(chosen), dtype=np.int64), length)
    year = first[line] + offset

    # Popularity: Zipf over lines (by rank), a classic-era bump and noise over years.
    line_weight = (rank + 1.0) ** -1.1 * rng.lognormal(0.0, 0.3, len(chosen))
    year_weight = rng.lognormal(0.0, 0.7, len(year)) * (
        0.35 + np.exp(-(((year - 1969) / 12.0) ** 2)))
    year_weight /= np.bincount(line, weights=year_weight)[line]
    weight = line_weight[line] * year_weight
    weight /= weight.sum()

    # Generations: runs of 2-8 consecutive years (shorter at the end of a line).
    gen_sizes: list[np.ndarray] = []
    for n in length:
        sizes = rng.integers(2, 9, size=int(n) // 2 + 1)
        cut = np.searchsorted(np.cumsum(sizes), n)
        sizes = sizes[: cut + 1].copy()
        sizes[-1] -= sizes.sum() - n
        gen_sizes.append(sizes[sizes > 0])
    gen_len = np.concatenate(gen_sizes).astype(np.int64)
    gen_start = np.cumsum(gen_len) - gen_len
    gen = np.repeat(np.arange(len(gen_len)), gen_len)

    make_line_count = np.bincount(line_make, minlength=len(makes))
    make_line_start = np.cumsum(make_line_count) - make_line_count
    submodel = np.where(rng.random(len(year)) < 0.5, -1,
                        rng.integers(0, len(cfg.SUBMODELS), len(year)))
    return Vehicles(
        line=line, year=year, gen=gen, weight=weight, submodel=submodel, makes=makes,
        line_make=line_make, line_model=[row[1] for row in chosen], line_start=line_start,
        line_len=length, gen_start=gen_start, gen_len=gen_len,
        make_line_start=make_line_start, make_line_count=make_line_count,
    )


def vehicles_table(vehicles: Vehicles) -> pa.Table:
    submodel = strings(cfg.SUBMODELS, np.maximum(vehicles.submodel, 0))
    return pa.table({
        "vehicle_id": vehicles.ids(),
        "year": pa.array(vehicles.year, type=pa.int64()),
        "make": strings(vehicles.makes, vehicles.make),
        "model": strings(vehicles.line_model, vehicles.line),
        "submodel": pc.if_else(pa.array(vehicles.submodel < 0), pa.scalar(None, pa.string()),
                               submodel),
    })


@dataclass
class Catalog:
    """Products sorted by SKU (index = row number) and fitment sorted by (product, vehicle)."""

    sku: pa.Array
    name: pa.Array
    brand: pa.Array
    category: np.ndarray  # index into CATEGORIES
    price_cents: np.ndarray
    is_active: np.ndarray
    is_universal: np.ndarray
    created_us: np.ndarray
    design: np.ndarray  # variant members share a design (fitment, popularity)
    slot: np.ndarray  # 0 = the plain SKU, 1..4 = suffix B/R/G/P
    is_family: np.ndarray  # member of a B/R/G/P variant family
    tier: np.ndarray  # index into BREADTH_TIERS, -1 = universal or not a hard part
    popularity: np.ndarray
    consumable: np.ndarray  # hidden: re-bought after an interval
    rebuy_probability: np.ndarray
    rebuy_days: np.ndarray
    fit_product: np.ndarray
    fit_vehicle: np.ndarray

    @property
    def count(self) -> int:
        return len(self.price_cents)

    def department(self) -> np.ndarray:
        departments = np.array([c.department for c in cfg.CATEGORIES])
        return departments[self.category]


def _fitment_segments(
    rng: np.random.Generator, vehicles: Vehicles, tier: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Vehicle ranges each design fits: (design, start, end) plus a label line/make and years."""
    n_designs = len(tier)
    label_line = np.full(n_designs, -1, dtype=np.int64)
    label_make = np.full(n_designs, -1, dtype=np.int64)
    year0 = np.zeros(n_designs, dtype=np.int64)
    year1 = np.zeros(n_designs, dtype=np.int64)
    seg_design: list[np.ndarray] = []
    seg_start: list[np.ndarray] = []
    seg_end: list[np.ndarray] = []
    # Specific parts are made for popular vehicles more often than for rare ones.
    anchor_weight = vehicles.weight ** 0.7

    def add_line_ranges(designs: np.ndarray, lines: np.ndarray, y0: np.ndarray,
                        y1: np.ndarray) -> None:
        first = vehicles.year[vehicles.line_start[lines]]
        start = vehicles.line_start[lines] + np.clip(y0 - first, 0, vehicles.line_len[lines])
        end = vehicles.line_start[lines] + np.clip(y1 - first + 1, 0, vehicles.line_len[lines])
        keep = end > start
        seg_design.append(designs[keep])
        seg_start.append(start[keep])
        seg_end.append(end[keep])

    # generation: every year of one generation of one make+model
    designs = np.flatnonzero(tier == 0)
    gen = vehicles.gen[weighted_choice(rng, anchor_weight, len(designs))]
    start, end = vehicles.gen_start[gen], vehicles.gen_start[gen] + vehicles.gen_len[gen]
    seg_design.append(designs)
    seg_start.append(start)
    seg_end.append(end)
    label_line[designs] = vehicles.line[start]
    year0[designs], year1[designs] = vehicles.year[start], vehicles.year[end - 1]

    # model: every year of one make+model
    designs = np.flatnonzero(tier == 1)
    lines = vehicles.line[weighted_choice(rng, anchor_weight, len(designs))]
    start = vehicles.line_start[lines]
    end = start + vehicles.line_len[lines]
    seg_design.append(designs)
    seg_start.append(start)
    seg_end.append(end)
    label_line[designs] = lines
    year0[designs], year1[designs] = vehicles.year[start], vehicles.year[end - 1]

    # make: some make+model lines of one make over a window of years (~15-300 vehicles)
    designs = np.flatnonzero(tier == 2)
    anchor = weighted_choice(rng, anchor_weight, len(designs))
    make = vehicles.make[anchor]
    width = rng.integers(8, 31, len(designs))
    y0 = vehicles.year[anchor] - width // 2
    y1 = y0 + width - 1
    breadth = np.exp(rng.uniform(np.log(15), np.log(300), len(designs)))
    n_lines = vehicles.make_line_count[make]
    share = np.clip(np.ceil(breadth / width) / n_lines, 0, 1)
    mask = rng.random((len(designs), int(n_lines.max()))) < share[:, None]
    mask &= np.arange(mask.shape[1])[None, :] < n_lines[:, None]
    mask[np.arange(len(designs)), vehicles.line[anchor] - vehicles.make_line_start[make]] = True
    row, col = np.nonzero(mask)
    add_line_ranges(designs[row], vehicles.make_line_start[make[row]] + col, y0[row], y1[row])
    label_make[designs] = make
    year0[designs], year1[designs] = y0, y1

    # broad (300-3,000 vehicles) and universal_fit (3,000+): random lines over a year window
    n_lines_all = len(vehicles.line_len)
    year_counts = np.bincount(vehicles.year - cfg.YEAR_RANGE[0],
                              minlength=cfg.YEAR_RANGE[1] - cfg.YEAR_RANGE[0] + 1)
    year_cum = np.concatenate([[0], np.cumsum(year_counts)])
    for tier_index, (b_lo, b_hi) in ((3, (300.0, 3000.0)), (4, (3000.0, 6000.0))):
        designs = np.flatnonzero(tier == tier_index)
        if tier_index == 3:
            breadth = np.exp(rng.uniform(np.log(b_lo), np.log(b_hi), len(designs)))
            width = rng.integers(15, 46, len(designs))
            y0 = rng.integers(cfg.YEAR_RANGE[0], cfg.YEAR_RANGE[1] - width + 2)
        else:
            breadth = rng.uniform(b_lo, b_hi, len(designs))
            width = np.full(len(designs), cfg.YEAR_RANGE[1] - cfg.YEAR_RANGE[0] + 1)
            y0 = np.full(len(designs), cfg.YEAR_RANGE[0])
        y1 = y0 + width - 1
        in_window = (year_cum[y1 - cfg.YEAR_RANGE[0] + 1] - year_cum[y0 - cfg.YEAR_RANGE[0]])
        share = np.clip(breadth / np.maximum(in_window, 1), 0, 1)
        for chunk in np.array_split(np.arange(len(designs)), max(1, len(designs) // 2000)):
            mask = rng.random((len(chunk), n_lines_all)) < share[chunk, None]
            row, col = np.nonzero(mask)
            add_line_ranges(designs[chunk][row], col, y0[chunk][row], y1[chunk][row])
        year0[designs], year1[designs] = y0, y1

    design = np.concatenate(seg_design)
    s = np.concatenate(seg_start)
    e = np.concatenate(seg_end)
    owner, vehicle = expand_ranges(s, e - s)
    fit_design = design[owner]
    order = np.lexsort((vehicle, fit_design))
    fit_design, vehicle = fit_design[order], vehicle[order]
    keep = np.ones(len(vehicle), dtype=bool)
    keep[1:] = (fit_design[1:] != fit_design[:-1]) | (vehicle[1:] != vehicle[:-1])
    return fit_design[keep], vehicle[keep], label_line, label_make, np.stack([year0, year1])


def _members(rng: np.random.Generator, family: np.ndarray, lookalike: np.ndarray) -> np.ndarray:
    """Membership matrix (designs x 5): column 0 = plain SKU, 1..4 = suffixes B/R/G/P."""
    n = len(family)
    mask = np.zeros((n, 5), dtype=bool)
    siblings = rng.choice([1, 2, 3], size=n, p=[0.5, 0.3, 0.2])
    has_base = rng.random(n) < 0.8
    siblings = np.where(~has_base & (siblings < 2), 2, siblings)
    letter_rank = np.argsort(rng.random((n, 4)), axis=1)  # a random order of B/R/G/P
    letters = letter_rank < siblings[:, None]
    mask[:, 0] = ~family | has_base
    mask[:, 1:] = family[:, None] & letters
    # look-alikes: a lone SKU that happens to end in B/R/G/P
    alone = lookalike & ~family
    mask[alone, 0] = False
    mask[alone, 1:] = letter_rank[alone] == 0
    return mask


def _replenishment(rng: np.random.Generator, noun_pool: list[str], noun: np.ndarray,
                   rebuy: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per design: consumable?, re-buy probability (times `rebuy`, capped), cycle in days."""
    months = np.array([cfg.REBUY_NOUNS.get(name, (0.0, 0.0))[0] for name in noun_pool])[noun]
    base = np.array([cfg.REBUY_NOUNS.get(name, (0.0, 0.0))[1] for name in noun_pool])[noun]
    consumable = base > 0
    # per-SKU spread of the probability and of the cycle (drawn whatever the knob is, so the
    # catalog does not depend on it)
    spread = rng.lognormal(0.0, cfg.REBUY_SKU_PROBABILITY_SIGMA, len(noun))
    cycle = rng.lognormal(0.0, cfg.REBUY_SKU_CYCLE_SIGMA, len(noun))
    probability = np.minimum(base * spread * rebuy, cfg.REBUY_PROBABILITY_CAP)
    days = months * cfg.DAYS_PER_MONTH * cycle
    return consumable, np.where(consumable, probability, 0.0), days


def build_catalog(rng: np.random.Generator, vehicles: Vehicles, target: int,
                  rebuy: float = cfg.DEFAULT_REBUY) -> Catalog:
    cats = cfg.CATEGORIES
    gift = next(i for i, c in enumerate(cats) if c.department == GIFT_CARDS)
    shares = np.array([c.share for c in cats])
    n_designs = max(int(round((target - len(cfg.GIFT_CARD_AMOUNTS)) /
                              (1 + 1.6 * cfg.FAMILY_SHARE))), 50)
    category = np.concatenate([
        weighted_choice(rng, shares, n_designs),
        np.full(len(cfg.GIFT_CARD_AMOUNTS), gift),
    ])
    n_designs = len(category)
    dept = np.array([c.department for c in cats])[category]
    hard = dept == HARD_PARTS
    universal = rng.random(n_designs) < np.array([c.universal_share for c in cats])[category]
    tier_shares = np.array([t[1] for t in cfg.BREADTH_TIERS])
    tier = np.where(hard & ~universal, weighted_choice(rng, tier_shares, n_designs), -1)
    # every scale gets a few of the broadest parts, however small its catalog
    for index, minimum in ((3, 10), (4, 3)):
        missing = minimum - int((tier == index).sum())
        if missing > 0:
            tier[rng.choice(np.flatnonzero(tier == 2), size=missing, replace=False)] = index

    median = np.array([c.median_price for c in cats])[category]
    sigma = np.array([c.price_sigma for c in cats])[category]
    price = np.clip(median * rng.lognormal(0.0, 1.0, n_designs) ** sigma, 4.0, 12_000.0)
    is_gift = category == gift
    price[is_gift] = np.array(cfg.GIFT_CARD_AMOUNTS, dtype=np.float64)
    popularity = rng.lognormal(0.0, 1.0, n_designs)

    fit_design, fit_vehicle, label_line, label_make, years = _fitment_segments(
        rng, vehicles, tier)

    # SKU stems: category prefix + a number unique across designs
    width = 5 if n_designs < 40_000 else 6
    low = 10 ** (width - 1)
    number = rng.choice(9 * low, size=n_designs, replace=False) + low
    family = (hard | (dept == ACCESSORIES)) & (rng.random(n_designs) < cfg.FAMILY_SHARE)
    lookalike = ~is_gift & (rng.random(n_designs) < cfg.LOOKALIKE_SHARE)
    member_design, slot = np.nonzero(_members(rng, family, lookalike))

    # design-level names: brand + noun + what it fits
    brand_lists = {d: cfg.BRANDS[d] for d in cfg.BRANDS}
    brand_pool = [b for d in brand_lists for b in brand_lists[d]]
    brand_first = {d: sum(len(brand_lists[k]) for k in list(brand_lists)[:i])
                   for i, d in enumerate(brand_lists)}
    brand_start = np.array([brand_first[d] for d in dept])
    brand_count = np.array([len(brand_lists[d]) for d in dept])
    brand = brand_start + (rng.random(n_designs) * brand_count).astype(np.int64)
    noun_pool = [n for c in cats for n in c.nouns]
    noun_first = np.cumsum([0] + [len(c.nouns) for c in cats])[:-1]
    noun = noun_first[category] + (rng.random(n_designs) * np.array(
        [len(c.nouns) for c in cats])[category]).astype(np.int64)
    consumable, rebuy_probability, rebuy_days = _replenishment(rng, noun_pool, noun, rebuy)
    noun_text = strings(noun_pool, noun)
    noun_text = pc.if_else(pa.array(universal & hard),
                           pc.binary_join_element_wise("Universal", noun_text, " "), noun_text)
    gift_text = pc.binary_join_element_wise(
        "$", pc.cast(pa.array(price.astype(np.int64)), pa.string()), " Gift Card", "")
    noun_text = pc.if_else(pa.array(is_gift), gift_text, noun_text)
    y0s = pc.cast(pa.array(years[0]), pa.string())
    y1s = pc.cast(pa.array(years[1]), pa.string())
    span = pc.if_else(pa.array(years[0] == years[1]), y0s,
                      pc.binary_join_element_wise(y0s, y1s, "-"))
    line_label = [f"{vehicles.makes[m]} {md}" for m, md in
                  zip(vehicles.line_make, vehicles.line_model, strict=True)]
    target_label = pc.if_else(
        pa.array(label_line >= 0), strings(line_label, np.maximum(label_line, 0)),
        pc.if_else(pa.array(label_make >= 0), strings(vehicles.makes, np.maximum(label_make, 0)),
                   pa.scalar("Classic Cars")))
    fit_text = pc.binary_join_element_wise(" for", span, target_label, " ")
    fit_text = pc.if_else(pa.array(tier >= 0), fit_text, pa.scalar(""))
    design_name = pc.binary_join_element_wise(strings(brand_pool, brand), noun_text, " ")
    design_name = pc.binary_join_element_wise(design_name, fit_text, "")

    # member (product) level
    d = member_design
    is_family = family[d]
    variant = (slot > 0) & is_family
    price_m = price[d] * np.where(variant, rng.uniform(1.0, 1.3, len(d)), 1.0)
    ending = np.where(rng.random(len(d)) < 0.7, 1, 5)
    cents = np.maximum(np.round(price_m), 1).astype(np.int64) * 100 - ending
    cents = np.where(is_gift[d], (price[d] * 100).astype(np.int64), cents)
    suffix = np.array(["", *cfg.VARIANT_SUFFIXES])[slot]
    stem = pc.binary_join_element_wise(
        strings([c.prefix for c in cats], category[d]),
        pc.utf8_lpad(pc.cast(pa.array(number[d]), pa.string()), width, "0"), "-")
    sku = pc.binary_join_element_wise(stem, strings(list(suffix), np.arange(len(d))), "")
    color = np.array(["", *(f" - {cfg.VARIANT_NAMES[s]}" for s in cfg.VARIANT_SUFFIXES)])
    name = pc.binary_join_element_wise(
        design_name.take(pa.array(d)), strings(list(color), np.where(is_family, slot, 0)), "")

    # sort products by SKU; remap fitment from designs to member products
    order = pc.sort_indices(sku).to_numpy()
    d, slot, is_family, cents = d[order], slot[order], is_family[order], cents[order]
    sku, name = sku.take(pa.array(order)), name.take(pa.array(order))
    n = len(d)
    member_pop = popularity[d] * np.where(slot > 0, rng.uniform(0.3, 0.9, n), 1.0)

    design_count = np.bincount(fit_design, minlength=n_designs)
    design_first = np.cumsum(design_count) - design_count
    owner, row = expand_ranges(design_first[d], design_count[d])
    fit_product = owner
    vehicle = fit_vehicle[row]
    # about one variant in ten fits a narrower set than its siblings (not every vehicle)
    divergent = (slot > 0) & is_family & (rng.random(n) < 0.1)
    first_row = np.ones(len(owner), dtype=bool)
    first_row[1:] = owner[1:] != owner[:-1]
    keep = ~divergent[owner] | first_row | (rng.random(len(owner)) < 0.7)
    fit_product, vehicle = fit_product[keep], vehicle[keep]

    created = rng.integers(micros(cfg.CATALOG_START),
                           micros(cfg.DATA_START) - 30 * cfg.US_PER_DAY, n)
    return Catalog(
        sku=sku, name=name, brand=strings(brand_pool, brand[d]), category=category[d],
        price_cents=cents, is_active=rng.random(n) >= cfg.INACTIVE_PRODUCT_SHARE,
        is_universal=universal[d], created_us=created, design=d, slot=slot,
        is_family=is_family, tier=tier[d], popularity=member_pop, consumable=consumable[d],
        rebuy_probability=rebuy_probability[d], rebuy_days=rebuy_days[d],
        fit_product=fit_product, fit_vehicle=vehicle,
    )


def products_table(rng: np.random.Generator, catalog: Catalog) -> pa.Table:
    cats = cfg.CATEGORIES
    n = catalog.count
    image_url = pc.binary_join_element_wise(
        "https://images.example.com/p/", catalog.sku, ".jpg", "")
    product_url = pc.binary_join_element_wise("https://shop.example.com/p/", catalog.sku, "")
    return pa.table({
        "sku": catalog.sku,
        "name": catalog.name,
        "brand": catalog.brand,
        "category": strings([c.name for c in cats], catalog.category),
        "department": strings([c.department for c in cats], catalog.category),
        "price": money(catalog.price_cents),
        "is_active": pa.array(catalog.is_active),
        "is_universal": pa.array(catalog.is_universal),
        "image_url": with_nulls(image_url, rng.random(n) < 0.03),
        "product_url": with_nulls(product_url, rng.random(n) < 0.01),
        "created_at": timestamps(catalog.created_us),
    })


def fitment_table(catalog: Catalog, vehicles: Vehicles) -> pa.Table:
    return pa.table({
        "sku": catalog.sku.take(pa.array(catalog.fit_product)),
        "vehicle_id": vehicles.ids().take(pa.array(catalog.fit_vehicle)),
    })
