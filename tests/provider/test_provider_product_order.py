"""A ``RateCard``'s ``product_order`` through the provider: set after the card and its rates
on create, set again in place when it changes (and only then), kept by refresh (Metronome
cannot read it back), checked at preview."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from metronome_local.process import LocalServer
from pulumi_metronome.resources import RateCardProvider

ORDER_PATH = "/v1/contract-pricing/rate-cards/setRateCardProductsOrder"


@pytest.fixture
def cards(stack_config: dict[str, str]) -> RateCardProvider:
    provider = RateCardProvider()
    provider.configure(ConfigureRequest(Config(raw_config=stack_config, project_name="test")))
    return provider


def product(server: LocalServer) -> str:
    response = requests.post(
        server.url + "/v1/contract-pricing/products/create",
        json={"name": f"p-{uuid.uuid4().hex[:6]}", "type": "FIXED"},
        headers=server.headers,
        timeout=10,
    )
    return str(response.json()["data"]["id"])


def card(products: list[str], order: list[str] | None) -> dict[str, Any]:
    rates = [
        {"product_id": p, "rate_type": "FLAT", "price": 10, "starting_at": "2031-01-01T00:00:00Z"}
        for p in products
    ]
    return {"name": f"card-{uuid.uuid4().hex[:6]}", "rates": rates, "product_order": order}


def paths(writes: Callable[[], list[dict]]) -> list[str]:
    return [w["path"].rsplit("/", 1)[-1] for w in writes()]


def test_order_set_after_rates_and_changed_in_place(
    cards: RateCardProvider, server: LocalServer, writes: Callable[[], list[dict]]
) -> None:
    a, b = product(server), product(server)
    server.clear_requests()
    checked = cards.check({}, card([a, b], [b, a]))
    assert checked.failures == []
    news = checked.inputs
    assert news["product_order"] == [b, a]
    created = cards.create(news)
    assert paths(writes) == ["create", "addRates", "setRateCardProductsOrder"]
    assert created.outs["product_order"] == [b, a]

    # Refresh keeps the order (Metronome cannot read it back): no drift.
    read = cards.read(created.id, created.outs)
    assert read.outs["product_order"] == [b, a]
    assert cards.diff(created.id, created.outs, news).changes is False

    # A new order: in place, one call; nothing else is sent.
    server.clear_requests()
    reordered = cards.check(
        news, {**news, "rates": card([a, b], None)["rates"], "product_order": [a, b]}
    ).inputs
    diff = cards.diff(created.id, created.outs, reordered)
    assert (diff.changes, diff.replaces) == (True, [])
    outs = cards.update(created.id, created.outs, reordered).outs
    assert paths(writes) == ["setRateCardProductsOrder"]
    assert outs["product_order"] == [a, b]

    # Leaving the order out sends nothing (Metronome keeps the last order).
    server.clear_requests()
    unset = cards.check(outs, {**reordered, "product_order": None}).inputs
    cards.update(created.id, outs, unset)
    assert ORDER_PATH not in [w["path"] for w in writes()]


def test_check_names_a_repeated_product(cards: RateCardProvider) -> None:
    result = cards.check({}, card([], ["p1", "p1"]))
    assert [(f.property, f.reason) for f in result.failures] == [
        ("product_order", "names p1 more than once")
    ]
