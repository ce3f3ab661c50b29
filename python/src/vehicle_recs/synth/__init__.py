"""Synthetic raw data for vehicle_recs: the raw contract, at every scale, with bad rows.

`generate(scale, seed, out_dir)` writes the ten raw tables of the contract
(`vehicle_recs.contract.RAW_SCHEMAS`) as Parquet, deterministically for a seed, plus
`_synth_manifest.json` (row counts, bad rows injected per kind, ground truth). Everything is
vectorized numpy/Arrow; loops run only over make+model lines, tiers, campaigns and re-buy rounds.

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
  is what taxonomy backoff exploits. 20% of fitted lines come from the customer's favourite
  category (mild taste). Lines record the shop vehicle on 66% of fitted lines (~50% overall).
- **Revenue facts** (`_shop._calibrate`): the probability that a fitted line is drawn among
  items over $500, and the share of other-department lines, are solved from the catalog's
  expected line values so that items over $500 make ~60% of hard-parts revenue and hard parts
  ~98% of revenue. Apparel is in a flat 4% of orders (half apparel-only orders next to an
  existing order of the same customer, half added to existing orders).
- **Replenishment** (hidden; never a column): a share of ignition, brake, filter, fluid and
  gasket parts are consumables; after buying one, a customer re-buys the same SKU with the
  category's probability after its interval (3-9 months, log-normal noise), in chains.
- **Customers.** 4% without email, 72% opted in before unsubscribes; garages of 0-3 vehicles
  (15% empty), `added_at` mostly weeks after sign-up, some much later.
- **Orders.** Status completed 90%, cancelled 6%, returned 4%; 5% of lines 10% off list price.
- **Email.** Each campaign mails `send_share` of opted-in, not unsubscribed customers; arms
  random/bandit 50/50 (propensity null in the first third of campaigns, then logged 0.5), then
  30/70 in the last third. Six distinct items per send. 97% delivered (else bounce), clicks
  on `TRUE_CTR[arm] / DELIVERY_RATE` of delivered sends so CTR per send equals `TRUE_CTR`
  (0.25% random, 0.39% bandit); every clicked send is opened; 18% opens; 1% of opened,
  unclicked sends unsubscribe (opt-in cleared, no later sends); 20% of clicks lead to an
  order of the clicked SKU within three days.
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
