"""Email history: a campaign every two weeks over the last year, random vs bandit arms; with
`holdout` > 0 also a control arm that gets no email, and the assignment log the product would
have written, so an intent-to-treat readout can be checked against a known effect."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vehicle_recs.contract import EVENT_TYPES, GIFT_CARDS, HARD_PARTS
from vehicle_recs.synth import _config as cfg
from vehicle_recs.synth._catalog import Catalog
from vehicle_recs.synth._shop import END_US, Customers

ARMS = ("random", "bandit")
CONTROL = -1  # arm index of the holdout (no email) in `assigned_arm`
BANDIT_STRATEGIES = ("vehicle_affinity", "high_ticket", "category_diverse", "catalog_popular")
EVENT = {name: i for i, name in enumerate(EVENT_TYPES)}
SEND_HOUR_US = 15 * 3600 * 1_000_000
SECOND_US = 1_000_000
HOUR_US = 3600 * SECOND_US


@dataclass
class EmailHistory:
    send_campaign: np.ndarray
    send_customer: np.ndarray
    send_us: np.ndarray
    send_arm: np.ndarray  # index into ARMS
    send_propensity: np.ndarray  # NaN = not logged (older sends)
    send_version: np.ndarray  # index into versions
    versions: tuple[str, ...]
    items: np.ndarray  # (sends, ITEMS_PER_SEND) product indices
    event_send: np.ndarray
    event_type: np.ndarray  # index into EVENT_TYPES
    event_us: np.ndarray
    event_product: np.ndarray  # -1 = null (set on clicks)
    unsubscribed: np.ndarray  # customers who unsubscribed
    purchase_customer: np.ndarray  # orders that followed a click
    purchase_us: np.ndarray
    purchase_product: np.ndarray
    campaign_dates: list[str]
    # every assignment (control included), in campaign order: what the assignment log holds
    assigned_campaign: np.ndarray
    assigned_customer: np.ndarray
    assigned_arm: np.ndarray  # index into ARMS, or CONTROL
    assigned_propensity: np.ndarray  # planned P(arm)
    assigned_us: np.ndarray  # the campaign's start
    # purchases the email caused (click purchases and the lift's) per assignment, dated inside
    # the 7-day window from the campaign's day: the true incremental effect
    assigned_caused_orders: np.ndarray


ITT_WINDOW_US = 7 * cfg.US_PER_DAY  # the readout's default attribution window


def campaign_times(campaigns: int) -> np.ndarray:
    last_day = END_US - 8 * cfg.US_PER_DAY
    last_day -= last_day % cfg.US_PER_DAY
    return last_day + SEND_HOUR_US - cfg.CAMPAIGN_EVERY_DAYS * cfg.US_PER_DAY * np.arange(
        campaigns)[::-1]


def _distinct_items(rng: np.random.Generator, pool: np.ndarray, sends: int) -> np.ndarray:
    """ITEMS_PER_SEND distinct products per send: strided walks over a shuffled pool."""
    k = cfg.ITEMS_PER_SEND
    n = len(pool)
    step_max = max(n // k, 2)
    steps = np.concatenate([np.zeros((sends, 1), dtype=np.int64),
                            rng.integers(1, step_max, (sends, k - 1))], axis=1)
    position = (rng.integers(0, n, (sends, 1)) + np.cumsum(steps, axis=1)) % n
    return pool[position]


def build_email(rng: np.random.Generator, scale: cfg.Scale, catalog: Catalog,
                customers: Customers, holdout: float = 0.0,
                email_lift: float = 0.0) -> EmailHistory:
    """The campaigns. `holdout`: share of each campaign's selected customers assigned to a
    control arm that gets no email (0 draws nothing extra: the history of earlier versions).
    `email_lift`: probability that a delivered email leads to an order of one of its items within
    3 days, on top of the click purchases (0: none)."""
    times = campaign_times(scale.campaigns)
    third = max(scale.campaigns // 3, 1)
    versions = ("random-v1", "bandit-v1", "bandit-v2", "bandit-v3")
    dept = catalog.department()
    active = catalog.is_active & (dept != GIFT_CARDS)
    random_pool = rng.permutation(np.flatnonzero(active))
    # the bandit's strategies favour popular parts: a pool of the most popular active parts
    popular = np.flatnonzero(active & (dept == HARD_PARTS))
    popular = popular[np.argsort(-catalog.popularity[popular], kind="stable")]
    bandit_pool = rng.permutation(popular[: max(min(400, len(popular) // 4), 12)])
    unsubscribed = np.zeros(customers.count, dtype=bool)

    sends: dict[str, list[np.ndarray]] = {k: [] for k in (
        "campaign", "customer", "us", "arm", "propensity", "version", "items")}
    events: dict[str, list[np.ndarray]] = {k: [] for k in ("send", "type", "us", "product")}
    bought: dict[str, list[np.ndarray]] = {k: [] for k in ("customer", "us", "product")}
    assigned: dict[str, list[np.ndarray]] = {k: [] for k in (
        "campaign", "customer", "arm", "propensity", "us", "caused")}
    first_send = 0
    for campaign, start in enumerate(times):
        eligible = customers.opted_in & ~unsubscribed & (customers.created_us < start)
        customer = np.flatnonzero(eligible & (rng.random(customers.count) < scale.send_share))
        held = customer[:0]
        if holdout > 0:
            held = customer[rng.random(len(customer)) < holdout]
            customer = np.setdiff1d(customer, held, assume_unique=True)
        n = len(customer)
        if campaign < third:
            weights, logged, bandit_version = (0.5, 0.5), False, 1
        elif campaign < 2 * third:
            weights, logged, bandit_version = (0.5, 0.5), True, 2
        else:
            weights, logged, bandit_version = (0.3, 0.7), True, 3
        arm = (rng.random(n) < weights[1]).astype(np.int64)
        sent = start + rng.integers(0, 3 * HOUR_US, n)
        order = np.argsort(sent, kind="stable")
        customer, arm, sent = customer[order], arm[order], sent[order]
        items = np.where(arm[:, None] == 1, _distinct_items(rng, bandit_pool, n),
                         _distinct_items(rng, random_pool, n))
        sends["campaign"].append(np.full(n, campaign))
        sends["customer"].append(customer)
        sends["us"].append(sent)
        sends["arm"].append(arm)
        sends["propensity"].append(np.array(weights)[arm] if logged else np.full(n, np.nan))
        sends["version"].append(np.where(arm == 1, bandit_version, 0))
        sends["items"].append(items)

        ctr = np.array([cfg.TRUE_CTR[a] for a in ARMS])[arm]
        bounce = rng.random(n) >= cfg.DELIVERY_RATE
        delivered = ~bounce
        click = delivered & (rng.random(n) < ctr / cfg.DELIVERY_RATE)
        opened = click | (delivered & (rng.random(n) < cfg.OPEN_RATE))
        unsub = opened & ~click & (rng.random(n) < cfg.UNSUBSCRIBE_RATE)
        second = click & (rng.random(n) < 0.3)
        open_us = sent + np.minimum(rng.exponential(6 * HOUR_US, n), 7 * 24 * HOUR_US).astype(
            np.int64)
        click_us = open_us + SECOND_US + rng.exponential(180 * SECOND_US, n).astype(np.int64)
        second_us = click_us + SECOND_US + rng.exponential(300 * SECOND_US, n).astype(np.int64)
        rows = np.arange(n)
        click_item = items[rows, rng.integers(0, cfg.ITEMS_PER_SEND, n)]
        second_item = items[rows, rng.integers(0, cfg.ITEMS_PER_SEND, n)]
        parts = (
            (delivered, EVENT["delivered"], sent + rng.integers(SECOND_US, 120 * SECOND_US, n),
             None),
            (bounce, EVENT["bounce"], sent + rng.integers(SECOND_US, 60 * SECOND_US, n), None),
            (opened, EVENT["open"], open_us, None),
            (click, EVENT["click"], click_us, click_item),
            (second, EVENT["click"], second_us, second_item),
            (unsub, EVENT["unsubscribe"], open_us + rng.integers(10, 600, n) * SECOND_US, None),
        )
        for mask, kind, when, product in parts:
            idx = np.flatnonzero(mask)
            events["send"].append(first_send + idx)
            events["type"].append(np.full(len(idx), kind))
            events["us"].append(when[idx])
            events["product"].append(product[idx] if product is not None
                                     else np.full(len(idx), -1))
        buy = np.flatnonzero(click & (rng.random(n) < cfg.CLICK_PURCHASE_RATE))
        buy_us = click_us[buy] + rng.integers(60 * SECOND_US, 72 * HOUR_US, len(buy))
        buy_item = click_item[buy]
        if email_lift > 0:  # a delivered email also sells one of its items, unclicked
            lifted = np.flatnonzero(delivered & (rng.random(n) < email_lift))
            buy = np.concatenate([buy, lifted])
            buy_us = np.concatenate([buy_us, sent[lifted] + rng.integers(
                HOUR_US, 72 * HOUR_US, len(lifted))])
            buy_item = np.concatenate([buy_item, items[lifted, rng.integers(
                0, cfg.ITEMS_PER_SEND, len(lifted))]])
        keep = buy_us < END_US
        bought["customer"].append(customer[buy][keep])
        bought["us"].append(buy_us[keep])
        bought["product"].append(buy_item[keep])
        if holdout > 0:
            day = start - start % cfg.US_PER_DAY
            caused = np.bincount(buy[keep & (buy_us < day + ITT_WINDOW_US)], minlength=n)
            arm_share = (1 - holdout) * np.array(weights)
            assigned["campaign"].append(np.full(n + len(held), campaign))
            assigned["customer"].append(np.concatenate([customer, held]))
            assigned["arm"].append(np.concatenate([arm, np.full(len(held), CONTROL)]))
            assigned["propensity"].append(np.concatenate([arm_share[arm],
                                                          np.full(len(held), holdout)]))
            assigned["us"].append(np.full(n + len(held), start))
            assigned["caused"].append(np.concatenate([caused, np.zeros(len(held), np.int64)]))
        unsubscribed[customer[unsub]] = True
        first_send += n

    def cat(parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    return EmailHistory(
        send_campaign=cat(sends["campaign"]), send_customer=cat(sends["customer"]),
        send_us=cat(sends["us"]), send_arm=cat(sends["arm"]),
        send_propensity=cat(sends["propensity"]), send_version=cat(sends["version"]),
        versions=versions, items=np.concatenate(sends["items"], axis=0),
        event_send=cat(events["send"]), event_type=cat(events["type"]),
        event_us=cat(events["us"]), event_product=cat(events["product"]),
        unsubscribed=np.flatnonzero(unsubscribed),
        purchase_customer=cat(bought["customer"]), purchase_us=cat(bought["us"]),
        purchase_product=cat(bought["product"]),
        campaign_dates=[str(np.datetime64(int(t), "us"))[:10] for t in times],
        assigned_campaign=cat(assigned["campaign"]), assigned_customer=cat(assigned["customer"]),
        assigned_arm=cat(assigned["arm"]), assigned_propensity=cat(assigned["propensity"]),
        assigned_us=cat(assigned["us"]), assigned_caused_orders=cat(assigned["caused"]),
    )
