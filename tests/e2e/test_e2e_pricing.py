"""End to end with the real ``pulumi`` CLI: products, rate cards and their rates.

- the full demo stack (``examples/ai_pricing``: metrics -> products -> a rate card -> a package,
  a pricing unit and an alert) goes up, and a second ``up`` makes no write;
- on a smaller program driven by ``pricing.json``: a price change from a later date
  updates the card in place; a retroactive price change and a product ``type`` change are
  refused at preview with no write, and go through with their opt-ins; ``destroy``
  archives products and rate cards.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from metronome_local.process import LocalServer
from pulumi_metronome.testing import REPO_ROOT, PulumiStack

TOKEN = f"tok-e2e-pricing-{uuid.uuid4().hex}"
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
DEMO = (REPO_ROOT / "examples" / "ai_pricing" / "__main__.py").read_text()
PAST = "2026-01-01T00:00:00Z"
LATER = "2031-01-01T00:00:00Z"

PROGRAM = '''\
"""A metric, products and a rate card, as pricing.json (written by the test) says."""

import json
import pathlib

import pulumi

from pulumi_metronome import BillableMetric, Product, RateCard

spec = json.loads((pathlib.Path(__file__).parent / "pricing.json").read_text())
metric = BillableMetric("requests", name="Requests", aggregation_type="COUNT")
products = {
    name: Product(
        name, billable_metric_id=metric.id if args.get("type") == "USAGE" else None, **args
    )
    for name, args in spec["products"].items()
}
rates = [
    {
        **{k: v for k, v in rate.items() if k != "product"},
        "product_id": products[rate["product"]].id,
    }
    for rate in spec["rates"]
]
card = RateCard("card", name="List prices", rates=rates, **spec.get("card_args", {}))
pulumi.export("product_ids", {name: p.id for name, p in products.items()})
pulumi.export("card_id", card.id)
'''


@pytest.fixture(scope="module")
def _server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    db = tmp_path_factory.mktemp("metronome") / "metronome.db"
    with LocalServer(db=db, tokens=[TOKEN]) as server:
        yield server


@pytest.fixture
def server(_server: LocalServer) -> LocalServer:
    _server.reset()
    return _server


def writes(server: LocalServer) -> list[str]:
    return [
        r["path"]
        for r in server.requests()
        if r["method"] in ("POST", "PUT") and r["path"] not in READS
    ]


def post(server: LocalServer, path: str, body: dict[str, Any]) -> Any:
    import requests

    response = requests.post(server.url + path, json=body, headers=server.headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def schedule(server: LocalServer, card_id: str) -> list[tuple[Any, str, str | None]]:
    data = post(
        server,
        "/v1/contract-pricing/rate-cards/getRateSchedule",
        {"rate_card_id": card_id, "starting_at": "2000-01-01T00:00:00Z"},
    )["data"]
    return [(r["rate"].get("price"), r["starting_at"], r.get("ending_before")) for r in data]


def test_the_demo_stack_goes_up_and_a_second_up_writes_nothing(
    tmp_path: Path, server: LocalServer
) -> None:
    import requests

    stack = PulumiStack(tmp_path, base_url=server.url, token=server.token, program=DEMO)
    customer = post(server, "/v1/customers", {"name": "Acme Robotics"})["data"]["id"]
    stack.run("config", "set", "alertCustomerId", customer)
    stack.up()
    outputs = stack.outputs()
    card_id = outputs["rate_card_id"]
    products = outputs["product_ids"]
    assert set(products) == {"tokens", "api_requests", "platform_subscription"}
    tokens = post(server, "/v1/contract-pricing/products/get", {"id": products["tokens"]})["data"]
    assert tokens["type"] == "USAGE"
    assert tokens["current"]["billable_metric_id"] == outputs["metric_ids"]["tokens"]
    assert tokens["current"]["pricing_group_key"] == ["model"]
    rates = post(
        server,
        "/v1/contract-pricing/rate-cards/getRates",
        {"rate_card_id": card_id, "at": "2026-06-01T00:00:00Z"},
    )["data"]
    by_product: dict[str, list[dict[str, Any]]] = {}
    for rate in rates:
        by_product.setdefault(rate["product_name"], []).append(rate)
    large = [
        r for r in by_product["Tokens"] if r["pricing_group_values"] == {"model": "atlas-large"}
    ]
    assert large[0]["rate"]["rate_type"] == "TIERED"
    assert large[0]["rate"]["tiers"] == [{"price": 0.0012, "size": 10_000_000}, {"price": 0.0009}]
    assert by_product["API requests"][0]["rate"] == {
        "rate_type": "FLAT",
        "price": 0.05,
        "credit_type": {"id": "2714e483-4ff1-48e4-9e25-ac732e8f24f2", "name": "USD (cents)"},
    }
    [seat] = by_product["Platform subscription"]
    assert (seat["rate"]["price"], seat["billing_frequency"]) == (4900, "MONTHLY")
    units = requests.get(server.url + "/v1/credit-types/list", headers=server.headers, timeout=10)
    assert {
        "id": outputs["pricing_unit_id"],
        "name": "Fine-tuning credits",
        "is_currency": False,
    } in (units.json()["data"])

    # The package on the list prices, 10% off the inference products (tokens).
    package = post(server, "/v1/packages/get", {"package_id": outputs["package_id"]})["data"]
    assert package["rate_card_id"] == card_id
    assert [a["name"] for a in package["aliases"]] == ["starter"]
    [override] = package["overrides"]
    assert (override["type"], override["multiplier"]) == ("MULTIPLIER", 0.9)
    # The alert on the configured customer's spend, as that customer sees it.
    alert = post(
        server,
        "/v1/customer-alerts/get",
        {"customer_id": customer, "alert_id": outputs["alert_id"]},
    )["data"]["alert"]
    assert (alert["type"], alert["threshold"], alert["status"]) == (
        "spend_threshold_reached",
        100_000,
        "enabled",
    )

    server.clear_requests()
    stack.up()
    assert writes(server) == []
    last = stack.last_update()
    assert set(last["resourceChanges"]) == {"same"}
    # The token reached the provider through stack config only, and never the state.
    assert TOKEN not in stack.state_text()


def _pricing(stack_dir: Path, spec: dict[str, Any]) -> None:
    (stack_dir / "pricing.json").write_text(json.dumps(spec))


BASE = {
    "products": {
        "requests-product": {"name": "Requests", "type": "USAGE"},
        "seat": {"name": "Seat", "type": "FIXED"},
    },
    "rates": [
        {"product": "requests-product", "rate_type": "FLAT", "price": 5, "starting_at": PAST},
        {"product": "seat", "rate_type": "FLAT", "price": 1000, "starting_at": PAST},
    ],
}


def _stack(tmp_path: Path, server: LocalServer, spec: dict[str, Any]) -> PulumiStack:
    """A stack of ``PROGRAM`` in ``tmp_path`` declaring ``spec``, not yet up."""
    _pricing(tmp_path, spec)
    return PulumiStack(tmp_path, base_url=server.url, token=server.token, program=PROGRAM)


@pytest.fixture
def pricing(tmp_path: Path, server: LocalServer) -> PulumiStack:
    stack = _stack(tmp_path, server, BASE)
    stack.up()
    return stack


def test_a_later_price_change_updates_the_card_in_place(
    pricing: PulumiStack, server: LocalServer
) -> None:
    card_id = pricing.outputs()["card_id"]
    product_id = pricing.outputs()["product_ids"]["requests-product"]
    rates = [
        *BASE["rates"],
        {"product": "requests-product", "rate_type": "FLAT", "price": 6, "starting_at": LATER},
    ]
    _pricing(pricing.dir, {**BASE, "rates": rates})
    server.clear_requests()
    preview = pricing.preview()
    # The diff names the added entry by its readable key, with its price.
    assert f"+ {product_id} from 2031-01-01T00:00:00.000Z" in preview.stdout, preview.stdout
    assert writes(server) == []
    pricing.up()
    assert writes(server) == ["/v1/contract-pricing/rate-cards/addRates"]
    assert pricing.outputs()["card_id"] == card_id
    assert pricing.last_update()["resourceChanges"] == {"same": 4, "update": 1}
    mine = [s for s in schedule(server, card_id) if s[0] in (5, 6)]
    assert mine == [
        (5, "2026-01-01T00:00:00.000Z", "2031-01-01T00:00:00.000Z"),
        (6, "2031-01-01T00:00:00.000Z", None),
    ]


def test_a_retroactive_price_change_is_refused_then_allowed(
    pricing: PulumiStack, server: LocalServer
) -> None:
    card_id = pricing.outputs()["card_id"]
    rates = [{**BASE["rates"][0], "price": 7}, BASE["rates"][1]]
    _pricing(pricing.dir, {**BASE, "rates": rates})
    server.clear_requests()
    refused = pricing.preview(expect_failure=True)
    assert "RateCard resource 'card' has a problem: rates: changing the rate" in refused.output
    assert "which is past: it would rewrite what was already billed" in refused.output
    assert "Add an entry with a later starting_at instead" in refused.output
    up = pricing.up(check=False)
    assert not up.ok
    assert writes(server) == []
    _pricing(pricing.dir, {**BASE, "rates": rates, "card_args": {"allow_retroactive_rates": True}})
    pricing.up()
    assert writes(server) == ["/v1/contract-pricing/rate-cards/addRates"]
    assert pricing.outputs()["card_id"] == card_id
    assert (7, "2026-01-01T00:00:00.000Z", None) in schedule(server, card_id)


def test_a_product_type_change_is_refused_then_allowed(
    pricing: PulumiStack, server: LocalServer
) -> None:
    old_id = pricing.outputs()["product_ids"]["seat"]
    products = {**BASE["products"], "seat": {"name": "Seat", "type": "SUBSCRIPTION"}}
    rates = [BASE["rates"][0], {**BASE["rates"][1], "billing_frequency": "MONTHLY"}]
    _pricing(pricing.dir, {**BASE, "products": products, "rates": rates})
    server.clear_requests()
    refused = pricing.preview(expect_failure=True)
    assert "changing type from FIXED to SUBSCRIPTION replaces the product" in refused.output
    assert writes(server) == []
    # With the product's opt-in only, the card refuses: its entry for the old product would
    # be removed, and the new one starts in the past. Said at preview, though the new
    # product's id is not known yet.
    products["seat"]["allow_replace"] = True
    _pricing(pricing.dir, {**BASE, "products": products, "rates": rates})
    refused = pricing.preview(expect_failure=True)
    assert "(for a product not created yet) starts at 2026-01-01T00:00:00Z" in refused.output
    assert "rates: removing the rate" in refused.output
    assert writes(server) == []
    _pricing(
        pricing.dir,
        {
            **BASE,
            "products": products,
            "rates": rates,
            "card_args": {"allow_retroactive_rates": True, "allow_rate_removal": True},
        },
    )
    pricing.up()
    new_id = pricing.outputs()["product_ids"]["seat"]
    assert new_id != old_id
    old = post(server, "/v1/contract-pricing/products/get", {"id": old_id})["data"]
    assert old["archived_at"]
    assert (
        post(server, "/v1/contract-pricing/products/get", {"id": new_id})["data"]["type"]
        == "SUBSCRIPTION"
    )


def test_destroy_archives_products_and_the_rate_card(
    pricing: PulumiStack, server: LocalServer
) -> None:
    outputs = pricing.outputs()
    pricing.destroy()
    for product_id in outputs["product_ids"].values():
        assert post(server, "/v1/contract-pricing/products/get", {"id": product_id})["data"][
            "archived_at"
        ]
    card = post(server, "/v1/contract-pricing/rate-cards/get", {"id": outputs["card_id"]})["data"]
    assert card["archived_at"]
    assert post(server, "/v1/contract-pricing/products/list", {})["data"] == []
    assert post(server, "/v1/contract-pricing/rate-cards/list", {})["data"] == []


def _pricing_made_by_hand(server: LocalServer) -> tuple[str, str]:
    """A FIXED product "Seat" and a card "List prices" pricing it at 1000 from PAST."""
    seat = post(server, "/v1/contract-pricing/products/create", {"name": "Seat", "type": "FIXED"})
    card = post(server, "/v1/contract-pricing/rate-cards/create", {"name": "List prices"})
    post(
        server,
        "/v1/contract-pricing/rate-cards/addRate",
        {
            "rate_card_id": card["data"]["id"],
            "product_id": seat["data"]["id"],
            "starting_at": PAST,
            "entitled": True,
            "rate_type": "FLAT",
            "price": 1000,
        },
    )
    return seat["data"]["id"], card["data"]["id"]


def _adopting(price: int) -> dict[str, Any]:
    return {
        "products": {"seat": {"name": "Seat", "type": "FIXED", "adopt_existing": True}},
        "rates": [{"product": "seat", "rate_type": "FLAT", "price": price, "starting_at": PAST}],
        "card_args": {"adopt_existing": True},
    }


def test_products_and_a_rate_card_made_by_hand_are_adopted_not_duplicated(
    tmp_path: Path, server: LocalServer
) -> None:
    seat, card = _pricing_made_by_hand(server)
    stack = _stack(tmp_path, server, _adopting(1000))
    server.clear_requests()
    stack.up()

    assert stack.outputs()["product_ids"] == {"seat": seat}
    assert stack.outputs()["card_id"] == card
    # Only the stack's own metric was created: no product, no card, no rate.
    assert writes(server) == ["/v1/billable-metrics/create"]
    assert schedule(server, card) == [(1000, "2026-01-01T00:00:00.000Z", None)]
    server.clear_requests()
    stack.up("--expect-no-changes")
    assert writes(server) == []


def test_a_rate_card_made_by_hand_at_another_price_is_not_adopted(
    tmp_path: Path, server: LocalServer
) -> None:
    _, card = _pricing_made_by_hand(server)
    stack = _stack(tmp_path, server, _adopting(1200))
    server.clear_requests()
    result = stack.up(check=False)

    assert not result.ok
    output = result.stdout + result.stderr
    assert "cannot adopt rate card 'List prices'" in output, output
    assert "differs" in output
    # The card was neither taken over nor duplicated, and its price is untouched.
    assert "/v1/contract-pricing/rate-cards/create" not in writes(server)
    assert "/v1/contract-pricing/rate-cards/addRates" not in writes(server)
    assert schedule(server, card) == [(1000, "2026-01-01T00:00:00.000Z", None)]
    cards = post(server, "/v1/contract-pricing/rate-cards/list", {})["data"]
    assert [c["id"] for c in cards] == [card]


def test_the_promotion_example_goes_up_in_sandbox_then_production(
    tmp_path: Path, server: LocalServer
) -> None:
    """Two accounts (two servers: a custom field key is per account), one program."""
    program = (REPO_ROOT / "examples" / "promotion" / "__main__.py").read_text()
    with LocalServer(tokens=[TOKEN]) as production_server:
        accounts = {"sandbox": server, "production": production_server}
        cards = {}
        for stack_name, account in accounts.items():
            stack = PulumiStack(
                tmp_path / stack_name,
                base_url=account.url,
                token=account.token,
                stack=stack_name,
                program=program,
            )
            if stack_name == "sandbox":
                stack.run("config", "set", "pricing:nameSuffix", " (sandbox)")
            stack.up()
            cards[stack_name] = stack.outputs()["rate_card_id"]
            account.clear_requests()
            stack.up()
            assert writes(account) == []

        def card(stack_name: str) -> dict[str, Any]:
            body = {"id": cards[stack_name]}
            found = post(accounts[stack_name], "/v1/contract-pricing/rate-cards/get", body)
            return dict(found["data"])

        def prices(stack_name: str) -> list[str]:
            body = {"rate_card_id": cards[stack_name], "at": "2026-06-01T00:00:00Z"}
            found = post(accounts[stack_name], "/v1/contract-pricing/rate-cards/getRates", body)
            return sorted(
                json.dumps([r["rate"], r.get("pricing_group_values")]) for r in found["data"]
            )

        assert card("sandbox")["name"] == "List prices (sandbox)"
        assert card("production")["name"] == "List prices"
        assert prices("sandbox") == prices("production")
        assert len(prices("production")) == 4


def test_invalid_pricing_fails_preview_with_every_problem_and_no_call(
    tmp_path: Path, server: LocalServer
) -> None:
    spec = {
        "products": {"fee": {"name": "Fee", "type": "FIXED", "pricing_group_key": ["model"]}},
        "rates": [
            {"product": "fee", "rate_type": "FLAT", "starting_at": PAST},
            {"product": "fee", "rate_type": "PERCENTAGE", "price": 5, "starting_at": LATER},
        ],
    }
    _pricing(tmp_path, spec)
    stack = PulumiStack(tmp_path, base_url=server.url, token=server.token, program=PROGRAM)
    server.clear_requests()
    result = stack.preview(expect_failure=True)
    out = result.output
    assert "Product 'fee': pricing_group_key: is only valid for USAGE products, not FIXED" in out
    assert "rates[0].price: is required for rate_type FLAT" in out
    assert "rates[1].price: is a fraction for PERCENTAGE rates: 0 to 1 (0.1 is 10%)" in out
    assert server.requests() == []
