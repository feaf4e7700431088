"""The impact reads the state and plan of the native provider's resources (type tokens
``metronome:index:*``, camelCase properties) as it reads the dynamic provider's: the same
pricing change, written by hand in both forms, gives the same report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pulumi_metronome.impact.synthetic import (
    UNKNOWN,
    depends,
    event,
    export,
    metric,
    plan,
    product,
    rate_card,
    run,
    step,
)

STACK = "urn:pulumi:dev::pricing::"
START = "2026-10-01T00:00:00Z"
DAY1, DAY2 = "2026-10-01T10:00:00Z", "2026-10-02T10:00:00Z"
RATE_KEY = "p-1 model_size=large from 2026-10-01T00:00:00.000Z"
SMALL_KEY = "p-1 model_size=small from 2026-10-01T00:00:00.000Z"


def native_urn(kind: str, name: str) -> str:
    return f"{STACK}metronome:index:{kind}::{name}"


def tiered(size: str, prices: tuple[float, float]) -> dict[str, Any]:
    return {
        "product_id": "p-1",
        "entitled": True,
        "rate_type": "TIERED",
        "starting_at": START,
        "pricing_group_values": {"model_size": size},
        "tiers": [{"price": prices[0], "size": 100}, {"price": prices[1]}],
    }


def dynamic_inputs() -> tuple[dict[str, Any], dict[str, Any]]:
    """The change as the dynamic provider's state and plan (the suite's own builders)."""
    definition = {
        "aggregation_type": "SUM",
        "aggregation_key": "tokens",
        "property_filters": [
            {"name": "tokens", "exists": True},
            {"name": "model_size", "in_values": ["large", "small"]},
        ],
        "group_keys": [["model_size"]],
    }
    old_metric = metric("tokens", "m-1", **definition)
    new_metric = metric("tokens", **{**definition, "aggregation_type": "MAX"})
    prod = product(
        "tokens", "p-1", type="USAGE", billable_metric_id="m-1", pricing_group_key=["model_size"]
    )
    new_prod = depends(
        product(
            "tokens", type="USAGE", billable_metric_id=UNKNOWN, pricing_group_key=["model_size"]
        ),
        "billable_metric_id",
        new_metric,
    )
    card = rate_card("standard", "rc-1", rates=[tiered("large", (10, 5)), tiered("small", (2, 1))])
    new_card = rate_card(
        "standard", "rc-1", rates=[tiered("large", (10, 4)), tiered("small", (2, 1))]
    )
    state = export(old_metric, prod, card)
    preview = plan(
        step("replace", new_metric, old_metric),
        step("update", new_prod, prod),
        step("update", new_card, card),
    )
    return state, preview


def native_rate(size: str, prices: tuple[float, float]) -> dict[str, Any]:
    return {
        "productId": "p-1",
        "entitled": True,
        "rateType": "TIERED",
        "startingAt": "2026-10-01T00:00:00.000Z",
        "pricingGroupValues": {"model_size": size},
        "tiers": [{"price": prices[0], "size": 100}, {"price": prices[1]}],
    }


NATIVE_METRIC = {
    "name": "tokens",
    "aggregationType": "SUM",
    "aggregationKey": "tokens",
    "propertyFilters": [
        {"name": "model_size", "inValues": ["large", "small"]},
        {"name": "tokens", "exists": True},
    ],
    "groupKeys": [["model_size"]],
    "adoptExisting": False,
}
NATIVE_PRODUCT = {
    "name": "tokens",
    "type": "USAGE",
    "billableMetricId": "m-1",
    "pricingGroupKey": ["model_size"],
    "adoptExisting": False,
    "allowReplace": False,
}
NATIVE_CARD = {
    "name": "standard",
    "rates": {RATE_KEY: native_rate("large", (10, 5)), SMALL_KEY: native_rate("small", (2, 1))},
    "unmanagedRates": [],
    "adoptExisting": False,
}


def native_resource(kind: str, name: str, id_: str, props: dict[str, Any]) -> dict[str, Any]:
    return {
        "urn": native_urn(kind, name),
        "custom": True,
        "id": id_,
        "type": f"metronome:index:{kind}",
        "inputs": props,
        "outputs": props,
        "provider": f"{STACK}pulumi:providers:metronome::default::prov",
        "propertyDependencies": {},
    }


def native_inputs() -> tuple[dict[str, Any], dict[str, Any]]:
    """The same change as the native provider's state and plan, written out by hand."""
    state = {
        "version": 3,
        "deployment": {
            "manifest": {},
            "resources": [
                {"urn": f"{STACK}pulumi:pulumi:Stack::pricing-dev", "type": "pulumi:pulumi:Stack"},
                {
                    "urn": f"{STACK}pulumi:providers:metronome::default",
                    "custom": True,
                    "id": "prov",
                    "type": "pulumi:providers:metronome",
                    "inputs": {"baseUrl": "http://127.0.0.1:1"},
                    "outputs": {"baseUrl": "http://127.0.0.1:1"},
                },
                native_resource("BillableMetric", "tokens", "m-1", NATIVE_METRIC),
                native_resource("Product", "tokens", "p-1", NATIVE_PRODUCT),
                native_resource("RateCard", "standard", "rc-1", NATIVE_CARD),
            ],
        },
    }
    new_card = {
        **NATIVE_CARD,
        "rates": {**NATIVE_CARD["rates"], RATE_KEY: native_rate("large", (10, 4))},
    }

    def new_state(kind: str, name: str, props: dict[str, Any], deps: Any) -> dict[str, Any]:
        return {
            "urn": native_urn(kind, name),
            "custom": True,
            "type": f"metronome:index:{kind}",
            "inputs": props,
            "propertyDependencies": deps,
        }

    def old_state(kind: str, name: str, id_: str, props: dict[str, Any]) -> dict[str, Any]:
        return {
            "urn": native_urn(kind, name),
            "id": id_,
            "type": f"metronome:index:{kind}",
            "outputs": props,
        }

    preview = {
        "config": {},
        "changeSummary": {},
        "steps": [
            {
                "op": "replace",
                "urn": native_urn("BillableMetric", "tokens"),
                "newState": new_state(
                    "BillableMetric", "tokens", {**NATIVE_METRIC, "aggregationType": "MAX"}, {}
                ),
                "oldState": old_state("BillableMetric", "tokens", "m-1", NATIVE_METRIC),
            },
            {
                "op": "update",
                "urn": native_urn("Product", "tokens"),
                "newState": new_state(
                    "Product",
                    "tokens",
                    {**NATIVE_PRODUCT, "billableMetricId": UNKNOWN},
                    {"billableMetricId": [native_urn("BillableMetric", "tokens")]},
                ),
                "oldState": old_state("Product", "tokens", "p-1", NATIVE_PRODUCT),
            },
            {
                "op": "update",
                "urn": native_urn("RateCard", "standard"),
                "newState": new_state("RateCard", "standard", new_card, {}),
                "oldState": old_state("RateCard", "standard", "rc-1", NATIVE_CARD),
            },
        ],
    }
    return state, preview


EVENTS = [
    event("a1", "acme", DAY1, tokens=150, model_size="large"),
    event("a2", "acme", DAY2, tokens=40, model_size="large"),
    event("b1", "beta", DAY1, tokens=120, model_size="small"),
]


def test_a_native_state_and_plan_give_the_dynamic_report(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "n").mkdir()
    _, dynamic_md, dynamic = run(tmp_path / "d", *dynamic_inputs(), EVENTS)
    _, native_md, native = run(tmp_path / "n", *native_inputs(), EVENTS)

    # By hand: now SUM: acme 190 large tokens = 100*10 + 90*5 = 1450; beta 120 small =
    # 100*2 + 20*1 = 220. Proposed MAX: acme 150 = 100*10 + 50*4 = 1200; beta 120 = 220.
    assert {(r["customer"], r["now"], r["proposed"]) for r in native["charges"]["by_customer"]} == {
        ("acme", "1450", "1200"),
        ("beta", "220", "220"),
    }
    # The product's unknown metric id was resolved through the plan's dependency, read
    # under its camelCase name.
    assert native["resolved_references"] == [
        {
            "urn": native_urn("Product", "tokens"),
            "field": "billable_metric_id",
            "target": native_urn("BillableMetric", "tokens"),
        }
    ]
    assert native_md == dynamic_md
    as_dynamic = json.loads(
        json.dumps(native).replace("metronome:index:", "pulumi-python:dynamic/metronome:")
    )
    assert as_dynamic == dynamic
