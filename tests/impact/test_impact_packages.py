"""A customer mapped to a package is priced by the package's rate card with its overrides:
multipliers and overwritten rates. Every expected figure is worked out by hand in the
comments; what a package holds that the impact does not price is listed in the notes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pulumi_metronome.impact.synthetic import (
    event,
    export,
    metric,
    plan,
    product,
    rate_card,
    run,
    step,
)
from pulumi_metronome.impact.synthetic import resource as synthetic_resource

START = "2026-10-01T00:00:00Z"
DAY1 = "2026-10-01T10:00:00Z"
DAY0 = {"unit": "DAYS", "value": 0}
TOKENS = {
    "aggregation_type": "SUM",
    "aggregation_key": "tokens",
    "property_filters": [
        {"name": "tokens", "exists": True},
        {"name": "model", "in_values": ["small", "large"]},
    ],
    "group_keys": [["model"]],
}


def package(name: str, id_: str | None, **props: Any) -> dict[str, Any]:
    return synthetic_resource("Package", name, id_, {"name": name, **props})


def multiplier(value: float, **specifier: Any) -> dict[str, Any]:
    return {
        "override_specifiers": [specifier],
        "starting_at_offset": DAY0,
        "type": "MULTIPLIER",
        "multiplier": value,
    }


def by_customer(report: dict[str, Any]) -> dict[tuple[str, str], tuple[str, str, str]]:
    return {
        (r["card"], r["customer"]): (r["now"], r["proposed"], r["change"])
        for r in report["charges"]["by_customer"]
    }


def stack() -> tuple[dict[str, Any], ...]:
    tokens = metric("tokens", "m-1", **TOKENS)
    usage = product(
        "tokens",
        "p-1",
        type="USAGE",
        billable_metric_id="m-1",
        pricing_group_key=["model"],
        tags=["ai"],
    )
    card = rate_card(
        "list",
        "rc-1",
        rates=[
            # 2 cents per token for every model; the large model 5.
            {
                "product_id": "p-1",
                "entitled": True,
                "rate_type": "FLAT",
                "starting_at": START,
                "price": 2,
            },
            {
                "product_id": "p-1",
                "entitled": True,
                "rate_type": "FLAT",
                "starting_at": START,
                "price": 5,
                "pricing_group_values": {"model": "large"},
            },
        ],
    )
    return tokens, usage, card


EVENTS = [
    event("a1", "acme", DAY1, tokens=10, model="small"),
    event("a2", "acme", DAY1, tokens=4, model="large"),
    event("b1", "beta", DAY1, tokens=100, model="small"),
]


def test_multiplier_by_tag_and_overwrite_by_pricing_group(tmp_path: Path) -> None:
    tokens, usage, card = stack()
    starter = package(
        "starter",
        "pk-1",
        rate_card_id="rc-1",
        overrides=[
            multiplier(0.8, product_tags=["ai"]),
            {
                "override_specifiers": [
                    {"product_id": "p-1", "pricing_group_values": {"model": "large"}}
                ],
                "starting_at_offset": DAY0,
                "type": "OVERWRITE",
                "overwrite_rate": {
                    "rate_type": "TIERED",
                    "tiers": [{"price": 3, "size": 2}, {"price": 1}],
                },
            },
        ],
    )
    # The plan replaces the package with a deeper discount (0.5).
    proposed = package(
        "starter",
        None,
        rate_card_id="rc-1",
        overrides=[multiplier(0.5, product_tags=["ai"]), starter["props"]["overrides"][1]],
    )
    state = export(tokens, usage, card, starter)
    preview = plan(
        step("same", tokens, tokens),
        step("same", usage, usage),
        step("same", card, card),
        step("replace", proposed, starter),
    )
    _, _, report = run(
        tmp_path, state, preview, EVENTS, mapping={"acme": "starter", "beta": "list"}
    )
    # acme on the package: small 10 tokens x 2 x 0.8 = 16; large 4 tokens through the
    # overwritten tiers (2 x 3 + 2 x 1 = 8) x 0.8 = 6.4; total 22.4.
    # Proposed: 10 x 2 x 0.5 = 10; 8 x 0.5 = 4; total 14; change -8.4.
    # beta on the card itself: 100 x 2 = 200, unchanged.
    assert by_customer(report) == {
        ("starter", "acme"): ("22.4", "14", "-8.4"),
        ("list", "beta"): ("200", "200", "0"),
    }


def test_lowest_multiplier_wins_unless_explicit(tmp_path: Path) -> None:
    tokens, usage, card = stack()
    overrides = [multiplier(0.9, product_id="p-1"), multiplier(0.7, product_tags=["ai"])]
    lowest = package("lowest", "pk-1", rate_card_id="rc-1", overrides=overrides)
    explicit = package(
        "explicit",
        "pk-2",
        rate_card_id="rc-1",
        multiplier_override_prioritization="EXPLICIT",
        overrides=[{**overrides[0], "priority": 1}, {**overrides[1], "priority": 2}],
    )
    resources = (tokens, usage, card, lowest, explicit)
    state = export(*resources)
    preview = plan(*(step("same", r, r) for r in resources))
    events = [event("a1", "acme", DAY1, tokens=10, model="small")]
    _, _, report = run(
        tmp_path, state, preview, events, mapping={"acme": "lowest", "zeta": "explicit"}
    )
    # LOWEST_MULTIPLIER: 10 x 2 x 0.7 = 14. (zeta has no usage: no line.)
    assert by_customer(report) == {("lowest", "acme"): ("14", "14", "0")}
    _, _, report = run(tmp_path, state, preview, events, mapping={"acme": "explicit"})
    # EXPLICIT: priority 1 (0.9) first: 10 x 2 x 0.9 = 18.
    assert by_customer(report) == {("explicit", "acme"): ("18", "18", "0")}


def test_what_is_not_priced_is_said(tmp_path: Path) -> None:
    tokens, usage, card = stack()
    later = {
        **multiplier(0.1, product_id="p-1"),
        "starting_at_offset": {"unit": "MONTHS", "value": 1},
    }
    starter = package(
        "starter",
        "pk-1",
        rate_card_id="rc-1",
        overrides=[later],
        credits=[
            {
                "product_id": "p-1",
                "access_schedule": {
                    "schedule_items": [
                        {
                            "amount": 100,
                            "starting_at_offset": DAY0,
                            "duration": {"unit": "MONTHS", "value": 1},
                        }
                    ]
                },
            }
        ],
    )
    resources = (tokens, usage, card, starter)
    state = export(*resources)
    preview = plan(*(step("same", r, r) for r in resources))
    events = [event("a1", "acme", DAY1, tokens=10, model="small")]
    _, _, report = run(tmp_path, state, preview, events, mapping={"acme": "pk-1"})
    # The later override is not applied: 10 x 2 = 20.
    assert by_customer(report) == {("starter", "acme"): ("20", "20", "0")}
    reasons = {n["reason"] for n in report["charges"]["not_priced"] if n["rate_card"] == "starter"}
    assert reasons == {
        "override overrides[0] starts after the contract's start: not applied",
        "the package's credits are not priced",
    }
