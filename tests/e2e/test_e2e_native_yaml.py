"""End to end: a ``runtime: yaml`` program through the native plugin, with the real CLI.

The YAML language host is the one ``scripts/install-pulumi-cli.sh`` builds from
github.com/pulumi/pulumi-yaml; the plugin is ``pulumi-resource-metronome`` from the test
virtualenv (first on PATH). The program declares two metrics, two products and a rate card
with a tiered rate, under the schema's camelCase names:

- ``up`` creates them as declared (checked on the server), and a preview of the same
  program changes nothing and makes no write;
- a rename and a later price are updated in place (same ids, only update calls);
- a product ``type`` change is refused at preview with no write, and goes through with
  ``allowReplace``;
- ``destroy`` archives products, rate card and metrics.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from metronome_local.process import LocalServer
from pulumi_metronome.testing import PulumiStack

TOKEN = f"tok-e2e-native-yaml-{uuid.uuid4().hex}"
PAST = "2026-01-01T00:00:00Z"
LATER = "2031-01-01T00:00:00Z"
#: POSTs that only read.
READS = {
    "/v1/customFields/listKeys",
    "/v1/contract-pricing/products/get",
    "/v1/contract-pricing/products/list",
    "/v1/contract-pricing/rate-cards/get",
    "/v1/contract-pricing/rate-cards/list",
    "/v1/contract-pricing/rate-cards/getRates",
    "/v1/contract-pricing/rate-cards/getRateSchedule",
}


@pytest.fixture(scope="module")
def _server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    db = tmp_path_factory.mktemp("metronome") / "metronome.db"
    with LocalServer(db=db, tokens=[TOKEN]) as server:
        yield server


@pytest.fixture
def server(_server: LocalServer) -> LocalServer:
    _server.reset()
    return _server


def writes(server: LocalServer) -> list[tuple[str, str]]:
    """(method, path) of every request that may change something, oldest first."""
    return [
        (r["method"], r["path"])
        for r in server.requests()
        if r["method"] in ("POST", "PUT", "PATCH", "DELETE") and r["path"] not in READS
    ]


def post(server: LocalServer, path: str, body: dict[str, Any]) -> Any:
    response = requests.post(server.url + path, json=body, headers=server.headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def metric(server: LocalServer, metric_id: str) -> dict[str, Any]:
    response = requests.get(
        f"{server.url}/v1/billable-metrics/{metric_id}", headers=server.headers, timeout=10
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def program(
    *,
    requests_name: str = "Requests",
    seat: dict[str, Any] | None = None,
    extra_rates: list[dict[str, Any]] = (),  # type: ignore[assignment]
) -> dict[str, Any]:
    """The YAML program (as data): metrics -> products -> a rate card, and outputs."""
    return {
        "resources": {
            "tokens": {
                "type": "metronome:index:BillableMetric",
                "properties": {
                    "name": "Tokens",
                    "aggregationType": "SUM",
                    "aggregationKey": "tokens",
                    "eventTypeFilter": {"inValues": ["completion"]},
                    "propertyFilters": [
                        {"name": "tokens", "exists": True},
                        {"name": "model", "inValues": ["atlas-large", "atlas-mini"]},
                    ],
                    "groupKeys": [["model"]],
                },
            },
            "requests": {
                "type": "metronome:index:BillableMetric",
                "properties": {"name": requests_name, "aggregationType": "COUNT"},
            },
            "tokensProduct": {
                "type": "metronome:index:Product",
                "properties": {
                    "name": "Tokens",
                    "type": "USAGE",
                    "billableMetricId": "${tokens.id}",
                    "pricingGroupKey": ["model"],
                },
            },
            "seat": {
                "type": "metronome:index:Product",
                "properties": seat or {"name": "Seat", "type": "FIXED"},
            },
            "card": {
                "type": "metronome:index:RateCard",
                "properties": {
                    "name": "List prices",
                    "rates": [
                        {
                            "productId": "${tokensProduct.id}",
                            "rateType": "TIERED",
                            "startingAt": PAST,
                            "pricingGroupValues": {"model": "atlas-large"},
                            "tiers": [{"price": 0.0012, "size": 10_000_000}, {"price": 0.0009}],
                        },
                        {
                            "productId": "${seat.id}",
                            "rateType": "FLAT",
                            "price": 1000,
                            "startingAt": PAST,
                        },
                        *extra_rates,
                    ],
                },
            },
        },
        "outputs": {
            "metricIds": {"tokens": "${tokens.id}", "requests": "${requests.id}"},
            "productIds": {"tokens": "${tokensProduct.id}", "seat": "${seat.id}"},
            "cardId": "${card.id}",
        },
    }


class YamlStack(PulumiStack):
    """A ``PulumiStack`` whose project is a ``runtime: yaml`` program in Pulumi.yaml."""

    def write(self, body: dict[str, Any]) -> None:
        project = {"name": self.project, "runtime": "yaml", **body}
        (self.dir / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))


@pytest.fixture
def stack(tmp_path: Path, server: LocalServer) -> YamlStack:
    made = YamlStack(tmp_path, base_url=server.url, token=server.token)
    # Nothing of the Python project is left: the YAML host runs Pulumi.yaml alone.
    for name in ("__main__.py", "declaration.json"):
        (tmp_path / name).unlink()
    made.write(program())
    made.up()
    return made


def test_up_creates_the_program_and_a_preview_of_it_writes_nothing(
    stack: YamlStack, server: LocalServer
) -> None:
    outputs = stack.outputs()
    tokens = metric(server, outputs["metricIds"]["tokens"])
    assert (tokens["name"], tokens["aggregation_type"], tokens["aggregation_key"]) == (
        "Tokens",
        "SUM",
        "tokens",
    )
    assert tokens["event_type_filter"] == {"in_values": ["completion"]}
    assert tokens["group_keys"] == [["model"]]
    # (the core keeps property filters in name order)
    assert sorted(tokens["property_filters"], key=lambda f: f["name"]) == [
        {"name": "model", "in_values": ["atlas-large", "atlas-mini"]},
        {"name": "tokens", "exists": True},
    ]
    product_id = outputs["productIds"]["tokens"]
    product = post(server, "/v1/contract-pricing/products/get", {"id": product_id})
    assert product["type"] == "USAGE"
    assert product["current"]["billable_metric_id"] == outputs["metricIds"]["tokens"]
    assert product["current"]["pricing_group_key"] == ["model"]
    rates = post(
        server,
        "/v1/contract-pricing/rate-cards/getRates",
        {"rate_card_id": outputs["cardId"], "at": "2026-06-01T00:00:00Z"},
    )
    by_product = {r["product_id"]: r for r in rates}
    assert by_product[outputs["productIds"]["tokens"]]["rate"]["tiers"] == [
        {"price": 0.0012, "size": 10_000_000},
        {"price": 0.0009},
    ]
    assert by_product[outputs["productIds"]["seat"]]["rate"]["price"] == 1000
    # The token reached the plugin through stack config only, and never the state.
    assert TOKEN not in stack.state_text()

    server.clear_requests()
    stack.preview("--expect-no-changes")
    assert writes(server) == []


def test_a_rename_and_a_later_price_update_in_place(stack: YamlStack, server: LocalServer) -> None:
    before = stack.outputs()
    later = {"productId": "${seat.id}", "rateType": "FLAT", "price": 1200, "startingAt": LATER}
    stack.write(program(requests_name="API requests", extra_rates=[later]))
    server.clear_requests()
    preview = stack.preview()
    assert writes(server) == []
    assert "API requests" in preview.stdout, preview.stdout
    stack.up()
    assert stack.outputs() == before
    assert sorted(writes(server)) == [
        ("POST", "/v1/contract-pricing/rate-cards/addRates"),
        ("PUT", f"/v1/billable-metrics/{before['metricIds']['requests']}"),
    ]
    assert stack.last_update()["resourceChanges"] == {"same": 4, "update": 2}
    assert metric(server, before["metricIds"]["requests"])["name"] == "API requests"
    schedule = post(
        server,
        "/v1/contract-pricing/rate-cards/getRateSchedule",
        {"rate_card_id": before["cardId"], "starting_at": "2000-01-01T00:00:00Z"},
    )
    seat = [
        (s["rate"]["price"], s["starting_at"], s.get("ending_before"))
        for s in schedule
        if s["product_id"] == before["productIds"]["seat"]
    ]
    assert seat == [
        (1000, "2026-01-01T00:00:00.000Z", "2031-01-01T00:00:00.000Z"),
        (1200, "2031-01-01T00:00:00.000Z", None),
    ]


def test_a_replace_is_refused_without_its_opt_in_and_destroy_archives(
    stack: YamlStack, server: LocalServer
) -> None:
    outputs = stack.outputs()
    stack.write(program(seat={"name": "Seat", "type": "SUBSCRIPTION"}))
    server.clear_requests()
    refused = stack.preview(expect_failure=True)
    assert "changing type from FIXED to SUBSCRIPTION replaces the product" in refused.output
    assert "allowReplace" in refused.output or "allow_replace" in refused.output, refused.output
    assert not stack.up(check=False).ok
    assert writes(server) == []
    assert (
        post(server, "/v1/contract-pricing/products/get", {"id": outputs["productIds"]["seat"]})[
            "type"
        ]
        == "FIXED"
    )

    stack.write(program())
    stack.destroy()
    for product_id in outputs["productIds"].values():
        product = post(server, "/v1/contract-pricing/products/get", {"id": product_id})
        assert product["archived_at"]
    card = post(server, "/v1/contract-pricing/rate-cards/get", {"id": outputs["cardId"]})
    assert card["archived_at"]
    assert post(server, "/v1/contract-pricing/rate-cards/list", {}) == []
    for metric_id in outputs["metricIds"].values():
        assert metric(server, metric_id)["archived_at"]
