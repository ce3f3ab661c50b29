"""Sizes, dates, ground truth and the hand-written taxonomy the generator draws from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from vehicle_recs.contract import ACCESSORIES, APPAREL, GIFT_CARDS, HARD_PARTS, TOOLS

# --- time --------------------------------------------------------------------------------------
# Orders cover three years that end on a fixed date, so `as_of` defaults are stable across runs.
DATA_START = datetime(2023, 11, 1, tzinfo=UTC)
DATA_END = datetime(2026, 11, 1, tzinfo=UTC)  # exclusive: the last clean order is on 2026-10-31
CATALOG_START = datetime(2012, 1, 1, tzinfo=UTC)
CUSTOMERS_START = datetime(2016, 1, 1, tzinfo=UTC)
# Future-dated dirty orders land between these years (typos such as 2062 for 2026).
FUTURE_YEARS = (2031, 2099)
US_PER_DAY = 86_400 * 1_000_000

# --- ground truth (downstream tests compare against these) -------------------------------------
TRUE_CTR: dict[str, float] = {"random": 0.0025, "bandit": 0.0039}  # sends with >=1 click / sends
DELIVERY_RATE = 0.97  # the rest bounce
OPEN_RATE = 0.18  # of delivered sends (every clicked send is also opened)
UNSUBSCRIBE_RATE = 0.01  # of opened, unclicked sends
CLICK_PURCHASE_RATE = 0.2  # clicked sends followed by an order of the clicked SKU within 3 days
ITEMS_PER_SEND = 6
CAMPAIGN_EVERY_DAYS = 14
APPAREL_ORDER_SHARE = 0.04  # orders with at least one apparel line, flat over time
HARD_PARTS_REVENUE_SHARE = 0.98
OVER_500_PARTS_REVENUE_SHARE = 0.60  # of hard-parts revenue, from items priced over $500
ORDER_STATUS_SHARE: dict[str, float] = {"completed": 0.90, "cancelled": 0.06, "returned": 0.04}
GARAGE_SIZE_SHARE = (0.15, 0.55, 0.20, 0.10)  # customers with 0, 1, 2, 3 saved vehicles
EMAIL_NULL_SHARE = 0.04
EMAIL_OPT_IN_SHARE = 0.72  # before unsubscribes (the final share is a little lower)
INACTIVE_PRODUCT_SHARE = 0.05
LINE_VEHICLE_SHARE = 0.66  # vehicle-fitted lines that record the vehicle chosen in the shop
VARIANT_SUFFIXES = ("B", "R", "G", "P")
VARIANT_NAMES = {"B": "Black", "R": "Red", "G": "Gloss", "P": "Polished"}
FAMILY_SHARE = 0.10  # product designs sold as a B/R/G/P family
LOOKALIKE_SHARE = 0.01  # single SKUs that end in B/R/G/P but have no family
DIRTY_RATE = 0.002  # share of rows per kind of bad row (at least one row of each kind)
UNKNOWN_STATUS = "pending_review"

# Fitment breadth tiers of non-universal hard parts: (name, share of designs).
BREADTH_TIERS: tuple[tuple[str, float], ...] = (
    ("generation", 0.47),  # one generation of one make+model (consecutive years)
    ("model", 0.24),  # every year of one make+model
    ("make", 0.2675),  # ~15-300 vehicles of one make
    ("broad", 0.02),  # ~300-3,000 vehicles across makes
    ("universal_fit", 0.0025),  # 3,000+ vehicles (all vehicles at small scales)
)
# Purchase weight of a fitted part among owners of a vehicle it fits: SPECIFIC_BOOST for parts
# fitting <= NARROW_BREADTH vehicles, falling log-linearly to 1 at BROAD_BREADTH vehicles (or
# half the vehicles at small scales). Owners buy for several vehicles and some lines are
# noise, so the measured lift (per owner and part, narrow vs broad, within a vehicle) comes
# out near SPECIFIC_LIFT.
SPECIFIC_BOOST = 14.0
SPECIFIC_LIFT = 6.0
NARROW_BREADTH = 10
BROAD_BREADTH = 1000
SIGNATURE_SHARE = 0.08  # (make+model, part) pairs that are a signature of the model's owners
SIGNATURE_BOOST = 4.0

# --- knobs: structure a recommender can exploit (`vehicle-recs synth --taste/--rebuy/--season/
# --new-vehicle`) --
# taste: share of a customer's fitted lines drawn within their favourite categories (0..1)
DEFAULT_TASTE = 0.35
# rebuy: multiplies every consumable SKU's re-buy probability (capped at REBUY_PROBABILITY_CAP)
DEFAULT_REBUY = 1.0
# season: month-of-year multiplier of a hard-parts category = 1 + season * profile (floored)
DEFAULT_SEASON = 0.5
# new_vehicle: a vehicle added to the garage starts a project: extra orders for it at this
# multiple of the customer's usual order rate, decaying over NEW_VEHICLE_DAYS (e-folding)
DEFAULT_NEW_VEHICLE = 2.0
# `synth --arrivals A`: share of the active hard parts introduced during the last
# ARRIVAL_WINDOW_DAYS of the data (created_at then, no sales before); 0 = the whole catalog
# exists before the data starts.
ARRIVAL_WINDOW_DAYS = 365
ARRIVALS_STREAM = 20261205  # the arrivals' own random stream: the other draws stay as they were
NEW_VEHICLE_DAYS = 60.0
FAVOURITE_COUNT_SHARE = (0.45, 0.35, 0.20)  # customers with 1, 2, 3 favourite categories
FAVOURITE_WEIGHT_SHAPE = 1.5  # gamma shape of the favourites' weights (normalised per customer)
REBUY_PROBABILITY_CAP = 0.95
REBUY_SKU_PROBABILITY_SIGMA = 0.3  # log-normal spread of a SKU's re-buy probability
REBUY_SKU_CYCLE_SIGMA = 0.2  # log-normal spread of a SKU's cycle around its noun's
REBUY_CUSTOMER_GAP_SIGMA = 0.15  # log-normal jitter of each customer's gap around the cycle
DAYS_PER_MONTH = 30.4
SEASON_FLOOR = 0.05  # the lowest month-of-year multiplier (strong seasons clip here)
# A need is met once: a drawn parts line that repeats a SKU the customer buys on another line is
# redrawn with this probability per round (re-buys of consumables come from their cycles).
REPEAT_REDRAW = 0.8
REDRAW_ROUNDS = 6  # rounds redrawing lines rejected for the month or as repeats; then kept


@dataclass(frozen=True)
class Scale:
    """Sizes of one synthetic data set."""

    name: str
    customers: int
    products: int
    vehicles: int
    lines_per_customer: float = 5.0  # order lines per customer over the three years
    send_share: float = 0.8  # share of eligible customers mailed per campaign
    campaigns: int = 26  # one every CAMPAIGN_EVERY_DAYS over the last year


SCALES: dict[str, Scale] = {
    "xs": Scale("xs", customers=2_000, products=1_500, vehicles=300),
    "s": Scale("s", customers=20_000, products=8_000, vehicles=3_200),
    "m": Scale("m", customers=200_000, products=50_000, vehicles=10_000, send_share=0.3),
    "l": Scale("l", customers=2_000_000, products=200_000, vehicles=30_000, send_share=0.06),
}

# --- vehicle taxonomy --------------------------------------------------------------------------
# (make, model, first year, last year), most popular first. Years are clipped to 1955-2020.
MODEL_LINES: tuple[tuple[str, str, int, int], ...] = (
    ("Chevrolet", "Camaro", 1967, 2002), ("Ford", "Mustang", 1965, 2020),
    ("Chevrolet", "Chevelle", 1964, 1977), ("Chevrolet", "C10 Pickup", 1960, 1987),
    ("Chevrolet", "Corvette", 1955, 2020), ("Chevrolet", "Nova", 1962, 1979),
    ("Dodge", "Charger", 1966, 1978), ("Pontiac", "Firebird", 1967, 2002),
    ("Ford", "F-100", 1955, 1983), ("Chevrolet", "Impala", 1958, 1996),
    ("Pontiac", "GTO", 1964, 1974), ("Plymouth", "Barracuda", 1964, 1974),
    ("Chevrolet", "Bel Air", 1955, 1975), ("Dodge", "Challenger", 1970, 1974),
    ("Ford", "Bronco", 1966, 1996), ("Chevrolet", "El Camino", 1959, 1987),
    ("Plymouth", "Road Runner", 1968, 1980), ("Oldsmobile", "Cutlass", 1961, 1999),
    ("Ford", "F-150", 1975, 2020), ("Chevrolet", "Blazer", 1969, 1994),
    ("Buick", "Skylark", 1961, 1998), ("Ford", "Fairlane", 1955, 1970),
    ("Mercury", "Cougar", 1967, 1997), ("Chevrolet", "Monte Carlo", 1970, 1988),
    ("Ford", "Thunderbird", 1955, 1997), ("Jeep", "CJ-5", 1955, 1983),
    ("Dodge", "Dart", 1960, 1976), ("Ford", "Falcon", 1960, 1970),
    ("Ford", "Galaxie", 1959, 1974), ("Ford", "Torino", 1968, 1976),
    ("AMC", "Javelin", 1968, 1974), ("Plymouth", "GTX", 1967, 1971),
    ("Dodge", "Coronet", 1955, 1976), ("Pontiac", "LeMans", 1962, 1981),
    ("Chevrolet", "Suburban", 1955, 1999), ("Buick", "Riviera", 1963, 1999),
    ("Oldsmobile", "442", 1964, 1980), ("Chevrolet", "Malibu", 1964, 1983),
    ("Plymouth", "Duster", 1970, 1976), ("Ford", "Ranchero", 1957, 1979),
    ("Jeep", "Wrangler", 1987, 2020), ("Chevrolet", "Caprice", 1966, 1996),
    ("Pontiac", "Bonneville", 1957, 2005), ("Pontiac", "Catalina", 1959, 1981),
    ("Dodge", "Super Bee", 1968, 1971), ("Buick", "Gran Sport", 1965, 1972),
    ("Ford", "Maverick", 1970, 1977), ("Cadillac", "Eldorado", 1955, 2002),
    ("Cadillac", "DeVille", 1959, 2005), ("Pontiac", "Grand Prix", 1962, 2008),
    ("Chevrolet", "S10", 1982, 2004), ("Chevrolet", "Silverado 1500", 1999, 2020),
    ("Dodge", "Ram 1500", 1994, 2020), ("Dodge", "D100", 1961, 1993),
    ("Plymouth", "Fury", 1956, 1978), ("Plymouth", "Valiant", 1960, 1976),
    ("Plymouth", "Satellite", 1965, 1974), ("Plymouth", "Belvedere", 1955, 1970),
    ("Oldsmobile", "Toronado", 1966, 1992), ("Oldsmobile", "Delta 88", 1965, 1999),
    ("Oldsmobile", "Vista Cruiser", 1964, 1977), ("Buick", "Electra", 1959, 1990),
    ("Buick", "LeSabre", 1959, 2005), ("Buick", "Wildcat", 1963, 1970),
    ("Buick", "Grand National", 1982, 1987), ("Cadillac", "Fleetwood", 1955, 1996),
    ("AMC", "AMX", 1968, 1970), ("AMC", "Hornet", 1970, 1977),
    ("AMC", "Gremlin", 1970, 1978), ("AMC", "Rebel", 1967, 1970),
    ("Mercury", "Cyclone", 1964, 1971), ("Mercury", "Comet", 1960, 1977),
    ("Mercury", "Montego", 1968, 1976), ("Mercury", "Monterey", 1955, 1974),
    ("Lincoln", "Continental", 1956, 2002), ("Jeep", "Wagoneer", 1963, 1991),
    ("Jeep", "Cherokee", 1974, 2001), ("Jeep", "CJ-7", 1976, 1986),
    ("Chevrolet", "Corvair", 1960, 1969), ("Chevrolet", "Nomad", 1955, 1961),
    ("Chevrolet", "Biscayne", 1958, 1972), ("Ford", "Crown Victoria", 1992, 2011),
    ("Ford", "Ranger", 1983, 2011), ("Ford", "Country Squire", 1955, 1991),
    ("Ford", "LTD", 1965, 1986), ("Dodge", "Viper", 1992, 2017),
    ("Dodge", "Polara", 1960, 1973), ("Dodge", "Power Wagon", 1955, 1980),
    ("Chrysler", "300", 1955, 1971), ("Chrysler", "New Yorker", 1955, 1996),
    ("Chrysler", "Newport", 1961, 1981), ("Studebaker", "Hawk", 1956, 1964),
    ("Studebaker", "Lark", 1959, 1966), ("Shelby", "GT350", 1965, 1970),
    ("Shelby", "GT500", 1967, 1970), ("International", "Scout", 1961, 1980),
    ("GMC", "Jimmy", 1970, 2001), ("GMC", "Sierra 1500", 1988, 2020),
    ("Toyota", "Land Cruiser", 1958, 2020), ("Toyota", "Supra", 1979, 2002),
    ("Toyota", "Pickup", 1969, 1995), ("Toyota", "Celica", 1971, 2005),
    ("Datsun", "240Z", 1970, 1973), ("Datsun", "510", 1968, 1973),
    ("Nissan", "300ZX", 1984, 1996), ("Nissan", "350Z", 2003, 2009),
    ("Mazda", "RX-7", 1979, 2002), ("Mazda", "MX-5 Miata", 1990, 2020),
    ("Porsche", "911", 1965, 2020), ("Porsche", "914", 1970, 1976),
    ("Porsche", "944", 1983, 1991), ("Volkswagen", "Beetle", 1955, 1979),
    ("Volkswagen", "Bus", 1955, 1979), ("Volkswagen", "Karmann Ghia", 1956, 1974),
    ("Volkswagen", "Golf GTI", 1983, 2020), ("BMW", "2002", 1968, 1976),
    ("BMW", "M3", 1988, 2020), ("Honda", "Civic", 1973, 2020),
    ("Honda", "S2000", 2000, 2009), ("Triumph", "TR6", 1969, 1976),
    ("Triumph", "Spitfire", 1962, 1980), ("MG", "MGB", 1962, 1980),
    ("Austin-Healey", "3000", 1959, 1967), ("Jaguar", "E-Type", 1961, 1975),
)
YEAR_RANGE = (1955, 2020)
# Larger scales need more make+model lines than the list above: body styles of each line become
# lines of their own ("Chevrolet Camaro Convertible"), less popular than the plain line.
BODY_STYLES = ("Convertible", "Wagon", "Hardtop", "Sport Coupe", "Sedan", "Custom", "Deluxe",
               "Special", "Super Sport", "GT", "Limited", "Pickup", "Fastback", "Royale",
               "Cabriolet", "Club Coupe", "Heavy Duty", "Touring", "Panel", "Rallye",
               "Sport Wagon", "Police")
SUBMODELS = ("Base", "Sport", "Deluxe", "Custom", "GT", "SS", "RS", "Limited")


@dataclass(frozen=True)
class Category:
    """One product category: its department, SKU prefix, share of the catalog and price model."""

    name: str
    department: str
    prefix: str
    share: float  # share of the catalog's product designs
    median_price: float
    price_sigma: float  # log-normal sigma
    universal_share: float  # share of its parts that fit every vehicle
    nouns: tuple[str, ...]


CATEGORIES: tuple[Category, ...] = (
    Category("ignition", HARD_PARTS, "IGN", 0.06, 45, 0.9, 0.03,
             ("Spark Plug Set", "Distributor Cap", "Ignition Coil", "Plug Wire Set",
              "Electronic Ignition Kit", "Ignition Switch")),
    Category("brakes", HARD_PARTS, "BRK", 0.08, 140, 1.1, 0.02,
             ("Brake Pad Set", "Disc Brake Conversion Kit", "Master Cylinder", "Brake Booster",
              "Rotor Pair", "Brake Line Kit")),
    Category("suspension", HARD_PARTS, "SUS", 0.08, 220, 1.1, 0.02,
             ("Coilover Kit", "Leaf Spring Pair", "Control Arm Set", "Sway Bar Kit",
              "Shock Absorber Set", "Bushing Kit")),
    Category("engine", HARD_PARTS, "ENG", 0.08, 330, 1.3, 0.03,
             ("Crate Engine", "Cylinder Head Pair", "Intake Manifold", "Camshaft Kit",
              "Carburetor", "Timing Chain Set", "Valve Cover Set")),
    Category("exhaust", HARD_PARTS, "EXH", 0.06, 260, 1.0, 0.05,
             ("Headers", "Cat-Back Exhaust System", "Muffler Pair", "Exhaust Manifold",
              "Tailpipe Kit")),
    Category("interior", HARD_PARTS, "INT", 0.09, 110, 1.2, 0.08,
             ("Console Latch", "Seat Upholstery Set", "Dash Pad", "Carpet Kit", "Door Panel Set",
              "Gauge Cluster", "Headliner")),
    Category("body", HARD_PARTS, "BOD", 0.09, 300, 1.3, 0.01,
             ("Fender", "Quarter Panel", "Hood", "Front Bumper", "Grille", "Trunk Lid",
              "Floor Pan")),
    Category("lighting", HARD_PARTS, "LGT", 0.05, 60, 0.9, 0.20,
             ("Headlight Assembly", "Tail Light Lens", "LED Headlight Conversion",
              "Marker Light Set", "Dome Light")),
    Category("cooling", HARD_PARTS, "COL", 0.05, 190, 0.9, 0.05,
             ("Aluminum Radiator", "Water Pump", "Electric Fan Kit", "Radiator Hose Kit",
              "Thermostat Housing")),
    Category("filters", HARD_PARTS, "FLT", 0.04, 16, 0.5, 0.10,
             ("Oil Filter", "Air Filter Element", "Fuel Filter", "Breather Filter")),
    Category("fluids", HARD_PARTS, "FLD", 0.03, 22, 0.5, 0.90,
             ("Synthetic Motor Oil 5qt", "Brake Fluid", "Coolant Concentrate",
              "Gear Oil", "Assembly Lube")),
    Category("gaskets", HARD_PARTS, "GSK", 0.04, 28, 0.7, 0.02,
             ("Valve Cover Gasket Set", "Oil Pan Gasket", "Head Gasket Set",
              "Intake Gasket Set")),
    Category("electrical", HARD_PARTS, "ELC", 0.04, 85, 1.0, 0.15,
             ("Wiring Harness", "Alternator", "Starter", "Battery Cable Set", "Fuse Box")),
    Category("fuel", HARD_PARTS, "FUE", 0.04, 150, 1.0, 0.05,
             ("Fuel Tank", "Fuel Pump", "Sending Unit", "Fuel Injection Kit")),
    Category("drivetrain", HARD_PARTS, "DRV", 0.04, 420, 1.1, 0.02,
             ("Transmission", "Rear End Assembly", "Driveshaft", "Clutch Kit",
              "Shifter Kit")),
    Category("wheels", HARD_PARTS, "WHL", 0.03, 550, 0.6, 0.30,
             ("Wheel Set", "Rally Wheel Pair", "Hubcap Set", "Wheel and Tire Package")),
    Category("weatherstrip", HARD_PARTS, "WST", 0.03, 70, 0.8, 0.02,
             ("Door Weatherstrip Kit", "Trunk Seal", "Window Felt Kit", "Roof Rail Seal")),
    Category("emblems", HARD_PARTS, "EMB", 0.03, 35, 0.6, 0.02,
             ("Fender Emblem", "Grille Emblem", "Decal Kit", "Badge Set")),
    Category("apparel", APPAREL, "APP", 0.05, 28, 0.35, 1.0,
             ("T-Shirt", "Hoodie", "Cap", "Work Shirt", "Jacket")),
    Category("accessories", ACCESSORIES, "ACC", 0.04, 45, 0.7, 1.0,
             ("Car Cover", "Floor Mat Set", "Keychain", "Garage Sign", "Detailing Kit")),
    Category("tools", TOOLS, "TLS", 0.03, 60, 1.0, 1.0,
             ("Torque Wrench", "Creeper", "Socket Set", "Floor Jack", "Timing Light")),
    Category("gift_cards", GIFT_CARDS, "GC", 0.0, 50, 0.0, 1.0, ("Gift Card",)),
)
GIFT_CARD_AMOUNTS = (25, 50, 100, 250)

# Replenishment (hidden: never a column, only visible in repeat purchases). Parts with these
# nouns are consumables: (typical re-buy cycle in months, probability that a buyer re-buys the
# same SKU after a cycle, before the per-SKU spread and the rebuy knob). Everything else is
# bought once per need.
REBUY_NOUNS: dict[str, tuple[float, float]] = {
    "Synthetic Motor Oil 5qt": (3.5, 0.50),
    "Gear Oil": (4.0, 0.40),
    "Coolant Concentrate": (4.0, 0.35),
    "Brake Fluid": (4.0, 0.35),
    "Oil Filter": (3.5, 0.50),
    "Air Filter Element": (6.0, 0.40),
    "Fuel Filter": (6.0, 0.40),
    "Breather Filter": (5.0, 0.35),
    "Spark Plug Set": (12.0, 0.50),
    "Distributor Cap": (12.0, 0.35),
    "Plug Wire Set": (18.0, 0.30),
    "Brake Pad Set": (12.0, 0.50),
    "Rotor Pair": (20.0, 0.30),
    "Valve Cover Gasket Set": (18.0, 0.35),
    "Oil Pan Gasket": (24.0, 0.30),
    "Intake Gasket Set": (24.0, 0.30),
}

# Month-of-year seasonality of hard-parts categories: (peak month, amplitude, peaks per year).
# profile(month) = amplitude * cos(2 pi * peaks * (month - peak) / 12): mean 0 over the year.
# Cooling peaks in early summer; wheels, exhaust, suspension and body in spring as cars come
# out; interior, engine, drivetrain and gaskets in the winter restoration season; fluids and
# filters at the spring and autumn services; brakes are nearly flat. Other departments: flat.
SEASONS: dict[str, tuple[float, float, int]] = {
    "cooling": (6.5, 1.0, 1),
    "wheels": (4.5, 0.9, 1),
    "exhaust": (4.0, 0.8, 1),
    "suspension": (4.0, 0.8, 1),
    "body": (3.5, 0.7, 1),
    "emblems": (5.0, 0.4, 1),
    "interior": (1.0, 0.8, 1),
    "engine": (1.0, 0.9, 1),
    "drivetrain": (1.5, 0.8, 1),
    "gaskets": (1.0, 0.5, 1),
    "electrical": (2.0, 0.4, 1),
    "fluids": (4.0, 0.8, 2),
    "filters": (4.0, 0.8, 2),
    "ignition": (3.0, 0.5, 1),
    "fuel": (3.5, 0.4, 1),
    "weatherstrip": (3.0, 0.5, 1),
    "lighting": (11.0, 0.4, 1),
    "brakes": (4.0, 0.15, 1),
}

BRANDS: dict[str, tuple[str, ...]] = {
    HARD_PARTS: ("Holley", "Edelbrock", "MSD", "Wilwood", "Flowmaster", "Hooker", "Moog",
                   "ACDelco", "Classic Industries", "Dynacorn", "Auto Metal Direct", "Pertronix",
                   "Hedman", "Bilstein", "QA1", "Hotchkis", "Be Cool", "Griffin", "Fel-Pro",
                   "K&N", "Wix", "Royal Purple", "Dakota Digital", "OER", "Scott Drake",
                   "Mr. Gasket", "Painless Performance", "Summit Racing", "Speedway Motors",
                   "Tanks Inc", "TMI Products", "Year One"),
    APPAREL: ("Garage Wear Co", "Rally Stripe Apparel", "Shop Rat", "Redline Threads"),
    ACCESSORIES: ("Covercraft", "Lloyd Mats", "Meguiar's", "Garage Art"),
    TOOLS: ("Eastwood", "Lisle", "GearWrench", "Tekton", "OTC"),
    GIFT_CARDS: ("Shop",),
}
