"""End to end: a Python program using the generated Python SDK (``pulumi_metronome_sdk``)
through the native plugin, with the real CLI: the full lifecycle.

The program declares two metrics, two products and a rate card with a tiered rate, with
the SDK's typed arguments (snake_case, ``RateArgs``/``TierArgs``); ``spec.json`` (written
by the test) holds what changes between runs.

- ``up`` creates them as declared, and a preview of the same program makes no write;
- a rename and a later price are updated in place (same ids);
- a product ``type`` change is refused at preview with no write;
- ``destroy`` archives products, rate card and metrics.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_e2e_native_import import post, writes

from metronome_local.process import LocalServer
from pulumi_metronome.testing import PulumiStack

TOKEN = f"tok-e2e-native-python-{uuid.uuid4().hex}"
LATER = "2031-01-01T00:00:00Z"

PROGRAM = '''\
"""Metrics -> products -> a rate card, with the generated SDK."""

import json
import pathlib

import pulumi
import pulumi_metronome_sdk as metronome

spec = json.loads((pathlib.Path(__file__).parent / "spec.json").read_text())
PAST = "2026-01-01T00:00:00Z"

tokens = metronome.BillableMetric(
    "tokens",
    name="Tokens",
    aggregation_type="SUM",
    aggregation_key="tokens",
    event_type_filter=metronome.EventTypeFilterArgs(in_values=["completion"]),
    property_filters=[
        metronome.PropertyFilterArgs(name="tokens", exists=True),
        metronome.PropertyFilterArgs(name="model", in_values=["atlas-large", "atlas-mini"]),
    ],
    group_keys=[["model"]],
)
requests = metronome.BillableMetric(
    "requests", name=spec["requests_name"], aggregation_type="COUNT"
)
tokens_product = metronome.Product(
    "tokensProduct",
    name="Tokens",
    type="USAGE",
    billable_metric_id=tokens.id,
    pricing_group_key=["model"],
)
seat = metronome.Product("seat", name="Seat", type=spec["seat_type"])
card = metronome.RateCard(
    "card",
    name="List prices",
    rates=[
        metronome.RateArgs(
            product_id=tokens_product.id,
            rate_type="TIERED",
            starting_at=PAST,
            pricing_group_values={"model": "atlas-large"},
            tiers=[
                metronome.TierArgs(price=0.0012, size=10_000_000),
                metronome.TierArgs(price=0.0009),
            ],
        ),
        metronome.RateArgs(product_id=seat.id, rate_type="FLAT", price=1000, starting_at=PAST),
        *[
            metronome.RateArgs(product_id=seat.id, rate_type="FLAT", **rate)
            for rate in spec["later_seat_rates"]
        ],
    ],
)
pulumi.export("metric_ids", {"tokens": tokens.id, "requests": requests.id})
pulumi.export("product_ids", {"tokens": tokens_product.id, "seat": seat.id})
pulumi.export("card_id", card.id)
'''

BASE: dict[str, Any] = {"requests_name": "Requests", "seat_type": "FIXED", "later_seat_rates": []}


@pytest.fixture(scope="module")
def _server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    db = tmp_path_factory.mktemp("metronome") / "metronome.db"
    with LocalServer(db=db, tokens=[TOKEN]) as server:
        yield server


@pytest.fixture
def server(_server: LocalServer) -> LocalServer:
    _server.reset()
    return _server


def declare(stack: PulumiStack, **changes: Any) -> None:
    (stack.dir / "spec.json").write_text(json.dumps({**BASE, **changes}))


def metric(server: LocalServer, metric_id: str) -> dict[str, Any]:
    import requests

    response = requests.get(
        f"{server.url}/v1/billable-metrics/{metric_id}", headers=server.headers, timeout=10
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def test_a_program_on_the_generated_python_sdk_through_its_lifecycle(
    tmp_path: Path, server: LocalServer, python_sdk: Path
) -> None:
    stack = PulumiStack(tmp_path, base_url=server.url, token=server.token, program=PROGRAM)
    stack.env["PYTHONPATH"] = str(python_sdk)
    declare(stack)
    stack.up()
    outputs = stack.outputs()
    tokens = metric(server, outputs["metric_ids"]["tokens"])
    assert (tokens["aggregation_type"], tokens["group_keys"]) == ("SUM", [["model"]])
    rates = post(
        server,
        "/v1/contract-pricing/rate-cards/getRates",
        {"rate_card_id": outputs["card_id"], "at": "2026-06-01T00:00:00Z"},
    )
    by_product = {r["product_id"]: r["rate"] for r in rates}
    assert by_product[outputs["product_ids"]["tokens"]]["tiers"] == [
        {"price": 0.0012, "size": 10_000_000},
        {"price": 0.0009},
    ]
    assert by_product[outputs["product_ids"]["seat"]]["price"] == 1000
    assert TOKEN not in stack.state_text()

    # No change, no write.
    server.clear_requests()
    stack.preview("--expect-no-changes")
    assert writes(server) == []

    # In place: a rename and a later price.
    declare(
        stack,
        requests_name="API requests",
        later_seat_rates=[{"price": 1200, "starting_at": LATER}],
    )
    stack.up()
    assert stack.outputs() == outputs
    assert sorted(writes(server)) == [
        ("POST", "/v1/contract-pricing/rate-cards/addRates"),
        ("PUT", f"/v1/billable-metrics/{outputs['metric_ids']['requests']}"),
    ]
    assert metric(server, outputs["metric_ids"]["requests"])["name"] == "API requests"

    # A replacement without its opt-in: refused at preview, nothing written.
    declare(
        stack,
        requests_name="API requests",
        later_seat_rates=[{"price": 1200, "starting_at": LATER}],
        seat_type="SUBSCRIPTION",
    )
    server.clear_requests()
    refused = stack.preview(expect_failure=True)
    assert "changing type from FIXED to SUBSCRIPTION replaces the product" in refused.output
    assert writes(server) == []

    # Destroy archives everything.
    stack.destroy()
    for product_id in outputs["product_ids"].values():
        product = post(server, "/v1/contract-pricing/products/get", {"id": product_id})
        assert product["archived_at"]
    card = post(server, "/v1/contract-pricing/rate-cards/get", {"id": outputs["card_id"]})
    assert card["archived_at"]
    for metric_id in outputs["metric_ids"].values():
        assert metric(server, metric_id)["archived_at"]
