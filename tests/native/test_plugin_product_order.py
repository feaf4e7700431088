"""A ``RateCard``'s ``productOrder`` through the plugin over gRPC: set on create after the
rates, a new order detailed as an in-place ``UPDATE``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests
from plugin_engine import PluginProcess

from metronome_local.process import LocalServer

CARD = "metronome:index:RateCard"
ORDER_PATH = "/v1/contract-pricing/rate-cards/setRateCardProductsOrder"


def product(server: LocalServer) -> str:
    response = requests.post(
        server.url + "/v1/contract-pricing/products/create",
        json={"name": f"p-{uuid.uuid4().hex[:6]}", "type": "FIXED"},
        headers=server.headers,
        timeout=10,
    )
    return str(response.json()["data"]["id"])


@pytest.fixture(scope="module")
def plugin(metronome: LocalServer) -> Iterator[PluginProcess]:
    with PluginProcess() as process:
        process.configure_plugin({"bearerToken": metronome.token, "baseUrl": metronome.url})
        yield process
        assert process.alive, process.output()


def test_order_through_the_plugin(plugin: PluginProcess, server: LocalServer) -> None:
    a, b = product(server), product(server)
    declared = {
        "name": f"card-{uuid.uuid4().hex[:6]}",
        "rates": [
            {"productId": p, "rateType": "FLAT", "price": 1, "startingAt": "2031-01-01T00:00:00Z"}
            for p in (a, b)
        ],
        "productOrder": [b, a],
    }
    result = plugin.check({}, declared, type_=CARD)
    assert result.failures == []
    server.clear_requests()
    created = plugin.create(result.inputs, type_=CARD)
    assert [r["path"] for r in server.requests() if r["path"] == ORDER_PATH] == [ORDER_PATH]
    assert created.properties["productOrder"] == [b, a]
    again = plugin.check(result.inputs, {**declared, "productOrder": [a, b]}, type_=CARD)
    diff = plugin.detailed_diff(created.id, created.properties, again.inputs, type_=CARD)
    assert diff == ("DIFF_SOME", [], {"productOrder": "UPDATE"}, False)
