"""Synthetic raw data for vehicle_recs: the raw contract, at every scale, with bad rows.

`generate(scale, seed, out_dir, taste=, rebuy=, season=, new_vehicle=)` writes the ten raw tables of
the contract (`vehicle_recs.contract.RAW_SCHEMAS`) as Parquet, deterministically for a seed and the
knobs, plus `_synth_manifest.json` (row counts, bad rows injected per kind, the knobs under `knobs`,
ground truth). Everything is vectorized numpy/Arrow; loops run only over make+model lines, tiers,
campaigns, favourite slots, redraw rounds and re-buy rounds.

Four knobs (`vehicle-recs synth --taste T --rebuy R --season S --new-vehicle N`) set how much
of the structure a recommender can exploit is in the data; each is described below, and 0
switches it off (defaults and the other constants named here are in `_config`):

- `taste` T (0..1, default `DEFAULT_TASTE`, 0.35): share of a customer's fitted lines drawn
  within their favourite categories (**Taste**).
- `rebuy` R (>= 0, default `DEFAULT_REBUY`, 1.0): multiplies every consumable SKU's re-buy
  probability, capped at 0.95 (**Replenishment**).
- `season` S (>= 0, default `DEFAULT_SEASON`, 0.5): strength of the month-of-year profiles of
  the hard-parts categories (**Seasonality**).
- `new_vehicle` N (>= 0, default `DEFAULT_NEW_VEHICLE`, 2.0): extra order rate a vehicle
  brings when it is added to the garage (**Projects**).

The knobs change only the purchases (orders, order lines, the re-buys and what follows from
them): vehicles, products, fitment, customers, garages, email sends and their items are the
same for every knob.

How the retailer's known facts are modelled:

- **Time.** Orders cover 2023-11-01 .. 2026-10-31 (`DATA_START`, `DATA_END` exclusive).
  Customers sign up from 2016 on (65% during the window), so order volume grows over time and
  a 60-day horizon before the end holds plenty of purchases. A campaign every 14 days over the
  last year (the last on 2026-10-24).
- **Vehicle taxonomy.** Real classic/performance make+model lines with their production years
  (1955-2020), most popular first; larger scales add body-style lines ("Chevrolet Camaro
  Convertible"). One vehicle per year+make+model (`V000123`), submodel null for half.
  Lines split into generations of 2-8 consecutive years. Ownership popularity is Zipf over
  lines (exponent 1.1) times a classic-era bump and noise over years, so a few vehicles have
  thousands of owners (at m and l) and many have 1-5.
- **Catalog.** Departments hard_parts, apparel, accessories, tools, gift_cards; hard-part
  categories (ignition, brakes, suspension, engine, exhaust, interior, body, lighting, cooling,
  filters, fluids, gaskets, electrical, fuel, drivetrain, wheels, weatherstrip, emblems) with
  log-normal prices per category; 5% inactive; image/product URLs with a few nulls.
- **Fitment breadth** (`BREADTH_TIERS`): a non-universal hard part fits one generation (47%),
  one make+model (24%), ~15-300 vehicles of one make (27%), ~300-3,000 vehicles across makes
  (2%) or 3,000+ (0.25%; every vehicle when a scale has fewer). Specific parts are anchored on
  popular vehicles more often. Universal parts (all apparel, accessories, tools, gift cards and
  a share of each hard-part category, e.g. 90% of fluids) have `is_universal` and no fitment.
- **Variants.** 10% of hard-part/accessory designs are B/R/G/P families (plain SKU in 80% of
  them, 1-3 suffixed siblings; families without the plain SKU have 2+ siblings). Variants
  share the design's fitment (one in ten fits a narrower subset) and cost 0-30% more. 1% of
  other SKUs are look-alikes: a lone SKU ending in B/R/G/P (`ACC-10452B`, no family).
- **Purchases.** Each order is for one of the customer's vehicles (garage, or an unsaved
  vehicle for 75% of the customers without a garage). Each line is a fitted part of that
  vehicle (80% of parts lines), a fitted part of a random other vehicle (6%, noise: buying for
  a friend) or a universal hard part (14%); a small calibrated share goes to accessories,
  tools and gift cards. A fitted part is drawn with weight popularity x breadth boost x
  signature: a part fitting <= 10 vehicles weighs `SPECIFIC_BOOST` (14) times one fitting
  1,000+ (log-linear in between; half the vehicles at small scales), which, after owners with
  several vehicles and noise lines, makes owners about `SPECIFIC_LIFT` (6) times likelier, per
  part and within a vehicle, to buy a vehicle-specific part than a broad one. 8% of
  (make+model, part) pairs are signature parts (4x), shared by every year of the model, which
  is what taxonomy backoff exploits. A need is met once: a drawn parts line that repeats a SKU
  the customer buys on another line is redrawn with probability `REPEAT_REDRAW` (0.8) per
  round (up to `REDRAW_ROUNDS` = 6), so buying the same SKU again is mostly replenishment
  (below). Lines record the shop vehicle on 66% of fitted lines (~50% overall).
- **Taste** (knob `taste`, hidden: never a column). Each customer has 1-3 favourite hard-parts
  categories (45% one, 35% two, 20% three; drawn by catalog share, distinct) with weights
  (gamma 1.5, normalised), drawn once and fixed for life. A share T of their fitted lines is
  drawn within a favourite (picked by weight), among the parts fitting the order's vehicle in
  the line's price class (any category when none of the favourite's parts fits). T = 0: no
  taste.
  The manifest's `ground_truth.taste` has T and the favourite distribution.
- **Revenue facts** (`_shop._calibrate`): the probability that a fitted line is drawn among
  items over $500, and the share of other-department lines, are solved from the catalog's
  expected line values so that items over $500 make ~60% of hard-parts revenue and hard parts
  ~98% of revenue. Apparel is in a flat 4% of orders (half apparel-only orders next to an
  existing order of the same customer, half added to existing orders).
- **Replenishment** (knob `rebuy`, hidden: never a column). Parts whose noun is in
  `REBUY_NOUNS` are consumables, each with a typical cycle and a per-cycle re-buy probability:
  motor oil and oil filters ~3.5 months, other fluids ~4, air/fuel/breather filters 5-6, spark
  plug sets, distributor caps and brake pad sets 12, plug wires and valve cover gaskets 18,
  rotors ~20, oil pan and intake gaskets 24. Per part (variants of one design share it), the
  cycle varies log-normally (sigma 0.2) and so does the probability (sigma 0.3); the
  probability is then multiplied by R and capped at 0.95. After buying a consumable, a
  customer buys the same SKU again, for the same vehicle, one cycle later (times a
  per-purchase log-normal jitter, sigma 0.15) with the SKU's probability, in chains until a
  chain stops or the window ends. R = 0: nobody re-buys a SKU on its cycle (same-SKU repeats
  fall to the background of the other categories). At s seed 22 with the default knobs about
  10% of the lines in the 60 days from 2026-09-01 are of a SKU the customer bought before.
  The manifest's `ground_truth.rebuy` has every noun's cycle and median probability before
  and after R; `ground_truth.consumable_categories` lists the categories with consumables
  (ignition, brakes, filters, fluids, gaskets).
- **Seasonality** (knob `season`). Each hard-parts category has a month-of-year profile
  `SEASONS`: amplitude x cos(2 pi x peaks x (month - peak month) / 12), mean 0 over the year,
  amplitude <= 1: cooling peaks in June-July; wheels, exhaust, suspension, body (and emblems,
  fuel, weatherstrip, ignition, more mildly) in spring as cars come out; interior, engine,
  drivetrain (gaskets, electrical, mildly) in the winter restoration season; fluids and filters
  twice, at the April and October services; lighting in November; brakes nearly flat. In month
  m a category weighs multiplier = max(1 + S x profile, 0.05): every parts line (fitted, noise
  or universal) is kept with probability multiplier / the month's largest multiplier, else
  redrawn (source, vehicle and price class kept; up to `REDRAW_ROUNDS` = 6 rounds, then kept),
  so order dates keep their distribution and only the mix of categories moves with the month.
  Re-buys follow their cycles, apparel and the other departments are flat. S = 0: no
  seasonality. The manifest's `ground_truth.season` has each category's profile and
  multipliers (January first).
- **Customers.** 4% without email, 72% opted in before unsubscribes; garages of 0-3 vehicles
  (15% empty), `added_at` mostly weeks after sign-up, some much later.
- **Projects** (knob `new_vehicle`). Adding a vehicle to the garage starts a project: each
  garage vehicle brings Poisson(N x the customer's usual yearly order rate x
  `NEW_VEHICLE_DAYS` / 365) extra orders for it, placed an exponential `NEW_VEHICLE_DAYS` (60)
  after it was added, so right after adding the customer orders for it at N times their usual
  rate on top of their usual orders, fading over ~2 months. The base order rate is lowered so
  the total stays on target. N = 0: when a vehicle was added says nothing. The manifest's
  `ground_truth.new_vehicle` has N and the decay.
- **Orders.** Status completed 90%, cancelled 6%, returned 4%; 5% of lines 10% off list price.
- **Email.** Each campaign mails `send_share` of opted-in, not unsubscribed customers; arms
  random/bandit 50/50 (propensity null in the first third of campaigns, then logged 0.5), then
  30/70 in the last third. Six distinct items per send. 97% delivered (else bounce), clicks
  on `TRUE_CTR[arm] / DELIVERY_RATE` of delivered sends so CTR per send equals `TRUE_CTR`
  (0.25% random, 0.39% bandit); every clicked send is opened; 18% opens; 1% of opened,
  unclicked sends unsubscribe (opt-in cleared, no later sends); 20% of clicks lead to an
  order of the clicked SKU within three days. With `holdout` H > 0 (default 0) a share H of
  each campaign's selected customers is assigned to `control` and gets no email, the other
  arms keep their weights among the rest, and the assignment log is written to
  `assignment_log/`; `email_lift` L (default 0) lets a delivered email sell one of its items
  within three days with probability L. The manifest's `email_experiment` has the orders the
  emails caused per arm within seven days of the campaign day.
- **Bad rows** (`DIRTY_RATE` = 0.2% of rows per kind, at least one): duplicated
  product, customer and order rows; products with zero/negative price; order lines with
  unknown SKUs (`ZZ-9xxxx`), zero/negative quantities or unit prices; garage rows for unknown
  vehicles (`V9xxxxx`); orders with status `pending_review`; orders dated 2031-2099; email
  events for unknown send ids. Counts per kind are in the manifest under `dirty`.
"""

from vehicle_recs.synth._config import (
    APPAREL_ORDER_SHARE,
    BREADTH_TIERS,
    DATA_END,
    DATA_START,
    DELIVERY_RATE,
    DIRTY_RATE,
    GARAGE_SIZE_SHARE,
    HARD_PARTS_REVENUE_SHARE,
    ORDER_STATUS_SHARE,
    OVER_500_PARTS_REVENUE_SHARE,
    SCALES,
    SPECIFIC_BOOST,
    SPECIFIC_LIFT,
    TRUE_CTR,
    UNKNOWN_STATUS,
    VARIANT_SUFFIXES,
    Scale,
)
from vehicle_recs.synth._generate import MANIFEST_NAME, generate, ground_truth, read_manifest

__all__ = [
    "APPAREL_ORDER_SHARE",
    "BREADTH_TIERS",
    "DATA_END",
    "DATA_START",
    "DELIVERY_RATE",
    "DIRTY_RATE",
    "GARAGE_SIZE_SHARE",
    "HARD_PARTS_REVENUE_SHARE",
    "MANIFEST_NAME",
    "ORDER_STATUS_SHARE",
    "OVER_500_PARTS_REVENUE_SHARE",
    "SCALES",
    "SPECIFIC_BOOST",
    "SPECIFIC_LIFT",
    "TRUE_CTR",
    "UNKNOWN_STATUS",
    "VARIANT_SUFFIXES",
    "Scale",
    "generate",
    "ground_truth",
    "read_manifest",
]
