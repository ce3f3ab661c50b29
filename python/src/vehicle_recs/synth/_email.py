"""Email history: a campaign every two weeks over the last year, random vs bandit arms."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vehicle_recs.contract import EVENT_TYPES
from vehicle_recs.synth import _config as cfg
from vehicle_recs.synth._catalog import Catalog
from vehicle_recs.synth._shop import END_US, Customers

ARMS = ("random", "bandit")
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
                customers: Customers) -> EmailHistory:
    times = campaign_times(scale.campaigns)
    third = max(scale.campaigns // 3, 1)
    versions = ("random-v1", "bandit-v1", "bandit-v2", "bandit-v3")
    dept = catalog.department()
    active = catalog.is_active & (dept != "gift_cards")
    random_pool = rng.permutation(np.flatnonzero(active))
    # the bandit's strategies favour popular parts: a pool of the most popular active parts
    popular = np.flatnonzero(active & (dept == "hard_parts"))
    popular = popular[np.argsort(-catalog.popularity[popular], kind="stable")]
    bandit_pool = rng.permutation(popular[: max(min(400, len(popular) // 4), 12)])
    unsubscribed = np.zeros(customers.count, dtype=bool)

    sends: dict[str, list[np.ndarray]] = {k: [] for k in (
        "campaign", "customer", "us", "arm", "propensity", "version", "items")}
    events: dict[str, list[np.ndarray]] = {k: [] for k in ("send", "type", "us", "product")}
    bought: dict[str, list[np.ndarray]] = {k: [] for k in ("customer", "us", "product")}
    first_send = 0
    for campaign, start in enumerate(times):
        eligible = customers.opted_in & ~unsubscribed & (customers.created_us < start)
        customer = np.flatnonzero(eligible & (rng.random(customers.count) < scale.send_share))
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
        keep = buy_us < END_US
        bought["customer"].append(customer[buy][keep])
        bought["us"].append(buy_us[keep])
        bought["product"].append(click_item[buy][keep])
        unsubscribed[customer[unsub]] = True
        first_send += n

    def cat(parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts)

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
    )
