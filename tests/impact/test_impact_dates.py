"""Which rates price the events: as of the date a proposed change takes effect, tiers across
a rate change inside the period, subscription proration, percentages over segments that
differ, an event on a price-change instant. Every expected figure is computed by hand in
the test (never read back from the code under test)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pulumi_metronome.impact.analysis import Impact, analyse
from pulumi_metronome.impact.inputs import load_plan, load_state
from pulumi_metronome.impact.report import as_json, markdown
from pulumi_metronome.impact.synthetic import (
    event,
    export,
    metric,
    plan,
    product,
    rate_card,
    step,
    write_events,
)

START = "2026-10-01T00:00:00Z"
TOKENS = {
    "aggregation_type": "SUM",
    "aggregation_key": "tokens",
    "event_type_filter": {"in_values": ["completion"]},
    "property_filters": [{"name": "tokens", "exists": True}],
}
REQUESTS = {"aggregation_type": "COUNT", "event_type_filter": {"in_values": ["completion"]}}


def flat(product_id: str, price: float, starting_at: str = START, **extra: Any) -> dict[str, Any]:
    return {
        "product_id": product_id,
        "entitled": True,
        "rate_type": "FLAT",
        "starting_at": starting_at,
        "price": price,
        **extra,
    }


def tiered(product_id: str, tiers: list[dict[str, float]], starting_at: str = START) -> Any:
    return {
        "product_id": product_id,
        "entitled": True,
        "rate_type": "TIERED",
        "starting_at": starting_at,
        "tiers": tiers,
    }


def run(
    tmp_path: Path,
    state: dict[str, Any],
    preview: dict[str, Any],
    events: list[dict[str, Any]],
    as_of: datetime | None = None,
) -> tuple[Impact, str, dict[str, Any]]:
    now = load_state(state)
    proposed = load_plan(preview, now)
    impact = analyse(now, proposed, write_events(tmp_path / "events.jsonl", events), as_of=as_of)
    return impact, markdown(impact), as_json(impact)


def by_customer(report: dict[str, Any]) -> dict[tuple[str, str], tuple[str, str, str]]:
    return {
        (r["card"], r["customer"]): (r["now"], r["proposed"], r["change"])
        for r in report["charges"]["by_customer"]
    }


def by_product(report: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    return {
        r["product"]: (r["now"], r["proposed"], r["change"])
        for r in report["charges"]["by_product"]
    }


def _future_price_stack() -> tuple[dict[str, Any], dict[str, Any]]:
    m = metric("requests", "m-1", **REQUESTS)
    prod = product("requests", "p-1", type="USAGE", billable_metric_id="m-1")
    # Today's schedule already holds a rise to 6 cents from December (not part of the change).
    today = [
        flat("p-1", 5, ending_before="2026-12-01T00:00:00Z"),
        flat("p-1", 6, "2026-12-01T00:00:00Z"),
    ]
    card = rate_card("standard", "rc-1", rates=today)
    # The change: 8 cents from 2027-01-01, 9 cents from 2027-02-01.
    new_card = rate_card(
        "standard",
        "rc-1",
        rates=[
            *today,
            flat("p-1", 8, "2027-01-01T00:00:00Z"),
            flat("p-1", 9, "2027-02-01T00:00:00Z"),
        ],
    )
    state = export(m, prod, card)
    preview = plan(step("same", m, m), step("same", prod, prod), step("update", new_card, card))
    return state, preview


EVENTS = [
    event("a1", "acme", "2026-10-01T10:00:00Z"),
    event("a2", "acme", "2026-10-02T10:00:00Z"),
    event("b1", "beta", "2026-10-02T11:00:00Z"),
]


def test_a_future_price_prices_the_events_as_of_its_date_on_both_sides(tmp_path: Path) -> None:
    state, preview = _future_price_stack()
    impact, md, data = run(tmp_path, state, preview, EVENTS)
    # By hand: at 2027-01-01, today's schedule charges 6 cents (not October's 5), the planned
    # one 8. acme 2 requests: 12 -> 16; beta 1: 6 -> 8; the product 18 -> 24.
    assert by_customer(data) == {
        ("standard", "acme"): ("12", "16", "4"),
        ("standard", "beta"): ("6", "8", "2"),
    }
    assert by_product(data) == {"requests": ("18", "24", "6")}
    assert data["prices"]["as_of"] == "2027-01-01T00:00:00+00:00"
    assert data["prices"]["later_dates"] == ["2027-02-01T00:00:00+00:00"]
    lines = md.splitlines()
    assert lines[1] == "## Pricing impact"
    assert lines[3].startswith(
        "**Prices as of 2027-01-01**, the first date a proposed rate change takes effect "
        "(after the events' period)"
    )
    assert lines[4] == (
        "Other dates a proposed rate change takes effect: 2027-02-01 (price each with "
        "`--as-of DATE`)."
    )
    assert "| `standard` | `requests` | $0.18 | $0.24 | +$0.06 (+33.3%) |" in md
    assert "| `acme` | `standard` | $0.12 | $0.16 | +$0.04 (+33.3%) |" in md
    assert impact.period.end == datetime(2026, 10, 3, tzinfo=UTC)


def test_as_of_prices_another_date_when_given(tmp_path: Path) -> None:
    state, preview = _future_price_stack()
    feb = datetime(2027, 2, 1, tzinfo=UTC)
    _, md, data = run(tmp_path, state, preview, EVENTS, as_of=feb)
    # At 2027-02-01: 6 cents today, 9 planned. acme 12 -> 18, beta 6 -> 9.
    assert by_customer(data) == {
        ("standard", "acme"): ("12", "18", "6"),
        ("standard", "beta"): ("6", "9", "3"),
    }
    assert data["prices"]["reason"] == "set by --as-of"
    assert data["prices"]["later_dates"] == ["2027-01-01T00:00:00+00:00"]
    assert md.splitlines()[3].startswith("**Prices as of 2027-02-01**, set by --as-of")
    # Before either change: both sides at today's 6 cents from December on: no change.
    _, _, dec = run(tmp_path, state, preview, EVENTS, as_of=datetime(2026, 12, 15, tzinfo=UTC))
    assert by_customer(dec) == {
        ("standard", "acme"): ("12", "12", "0"),
        ("standard", "beta"): ("6", "6", "0"),
    }


def test_without_a_future_change_the_period_is_priced_at_its_own_rates(tmp_path: Path) -> None:
    m = metric("requests", "m-1", **REQUESTS)
    prod = product("requests", "p-1", type="USAGE", billable_metric_id="m-1")
    card = rate_card("standard", "rc-1", rates=[flat("p-1", 5)])
    # Only a change inside the period: 7 cents from 10:30 on the 2nd.
    new_card = rate_card(
        "standard", "rc-1", rates=[flat("p-1", 5), flat("p-1", 7, "2026-10-02T10:30:00Z")]
    )
    state = export(m, prod, card)
    preview = plan(step("same", m, m), step("same", prod, prod), step("update", new_card, card))
    _, md, data = run(tmp_path, state, preview, EVENTS)
    # acme: 1 request before 10:30 on the 2nd, 1 at 10:00 on the 2nd (before): 10 -> 10;
    # beta at 11:00 on the 2nd: 5 -> 7.
    assert by_customer(data) == {
        ("standard", "acme"): ("10", "10", "0"),
        ("standard", "beta"): ("5", "7", "2"),
    }
    assert data["prices"]["as_of"] is None
    assert md.splitlines()[3] == (
        "**Prices: the rates in effect during the events' period** (no proposed rate change "
        "takes effect after it)."
    )


def test_a_tier_price_cut_mid_period_never_raises_a_bill(tmp_path: Path) -> None:
    m = metric("tokens", "m-1", **TOKENS)
    prod = product("tokens", "p-1", type="USAGE", billable_metric_id="m-1")
    tiers = [{"price": 3.25, "size": 100}, {"price": 1}]
    cut = [{"price": 3.25, "size": 100}, {"price": 0.5}]  # the second tier from 1 to 0.5 cent
    card = rate_card("standard", "rc-1", rates=[tiered("p-1", tiers)])
    new_card = rate_card(
        "standard",
        "rc-1",
        rates=[tiered("p-1", tiers), tiered("p-1", cut, "2026-10-02T00:00:00Z")],
    )
    state = export(m, prod, card)
    preview = plan(step("same", m, m), step("same", prod, prod), step("update", new_card, card))
    events = [
        event("a1", "acme", "2026-10-01T10:00:00Z", tokens=100),
        event("a2", "acme", "2026-10-03T10:00:00Z", tokens=100),
        event("b1", "beta", "2026-10-01T10:00:00Z", tokens=60),
        event("b2", "beta", "2026-10-03T10:00:00Z", tokens=60),
    ]
    _, md, data = run(tmp_path, state, preview, events)
    # acme, now: 100 * 3.25 + 100 * 1 = 425. Proposed: the first 100 before the cut at 3.25
    # = 325; the next 100 are units 101..200 of the period: second tier, at the cut's 0.5 =
    # 50; 375: -50. (Tiers restarting at the cut would give 325 + 325 = 650: +225, a bill
    # raised by a price cut.)
    # beta, now: 100 * 3.25 + 20 * 1 = 345. Proposed: 60 * 3.25 = 195 before; after, units
    # 61..100 at 3.25 = 130 and 101..120 at 0.5 = 10: 335, -10.
    assert by_customer(data) == {
        ("standard", "acme"): ("425", "375", "-50"),
        ("standard", "beta"): ("345", "335", "-10"),
    }
    assert "| `acme` | `standard` | $4.25 | $3.75 | -$0.50 (-11.8%) |" in md
    assert "tiers do not restart at a rate change inside the period" in md
    assert "tiers do not restart" in data["prices"]["tiers"]


def test_a_subscription_is_prorated_over_a_partial_month(tmp_path: Path) -> None:
    seat = product("seat", "p-1", type="SUBSCRIPTION")

    def subscription(price: float, starting_at: str = START) -> dict[str, Any]:
        return {
            "product_id": "p-1",
            "entitled": True,
            "rate_type": "SUBSCRIPTION",
            "starting_at": starting_at,
            "price": price,
            "is_prorated": True,
        }

    card = rate_card("standard", "rc-1", rates=[subscription(3100)])
    new_card = rate_card(
        "standard", "rc-1", rates=[subscription(3100), subscription(6200, "2026-10-06T00:00:00Z")]
    )
    state = export(seat, card)
    preview = plan(step("same", seat, seat), step("update", new_card, card))
    events = [
        event("a1", "acme", "2026-10-01T10:00:00Z"),
        event("a2", "acme", "2026-10-10T10:00:00Z"),
    ]
    impact, _, data = run(tmp_path, state, preview, events)
    # The period: 2026-10-01 .. 2026-10-11, 10 of October's 31 days. Now: 3100 * 10/31 =
    # 1000. Proposed: 5 days at 3100 (500), then 5 days at 6200 (1000): 1500.
    assert (impact.period.end - impact.period.start).days == 10
    assert by_product(data) == {"seat": ("1000", "1500", "500")}


def test_a_percentage_over_products_whose_segments_differ(tmp_path: Path) -> None:
    tokens = metric("tokens", "m-1", **TOKENS)
    requests = metric("requests", "m-2", **REQUESTS)
    a = product("tokens", "p-1", type="USAGE", billable_metric_id="m-1")
    b = product("requests", "p-2", type="USAGE", billable_metric_id="m-2")
    support = product("support", "p-3", type="COMPOSITE", composite_product_ids=["p-1", "p-2"])

    def percentage(price: float, starting_at: str, **extra: Any) -> dict[str, Any]:
        return {
            "product_id": "p-3",
            "entitled": True,
            "rate_type": "PERCENTAGE",
            "starting_at": starting_at,
            "price": price,
            **extra,
        }

    card = rate_card(
        "standard",
        "rc-1",
        rates=[
            # tokens: 2 cents until the 3rd, then 3; requests: 10 cents all along;
            # support: 10% until the 2nd, then 20%.
            flat("p-1", 2, ending_before="2026-10-03T00:00:00Z"),
            flat("p-1", 3, "2026-10-03T00:00:00Z"),
            flat("p-2", 10),
            percentage(0.1, START, ending_before="2026-10-02T00:00:00Z"),
            percentage(0.2, "2026-10-02T00:00:00Z"),
        ],
    )
    resources = (tokens, requests, a, b, support, card)
    state = export(*resources)
    preview = plan(*(step("same", r, r) for r in resources))
    events = [
        event("a1", "acme", "2026-10-01T10:00:00Z", tokens=100),
        event("a2", "acme", "2026-10-04T10:00:00Z", tokens=50),
    ]
    _, _, data = run(tmp_path, state, preview, events)
    # Period 10-01 .. 10-05 (4 days). tokens: 100 * 2 = 200 over [01, 03), 50 * 3 = 150 over
    # [03, 05); requests: 2 * 10 = 20 over [01, 05). Support, each charge shared by time:
    # [01, 02) at 10%: half of 200 + a quarter of 20 = 105 -> 10.5; [02, 05) at 20%: half of
    # 200 + 150 + three quarters of 20 = 265 -> 53. Total 63.5.
    rows = by_product(data)
    assert rows["tokens"][0] == "350"
    assert rows["requests"][0] == "20"
    assert rows["support"] == ("63.5", "63.5", "0")


def test_an_event_on_a_price_change_instant_is_priced_at_the_new_rate(tmp_path: Path) -> None:
    m = metric("tokens", "m-1", **TOKENS)
    prod = product("tokens", "p-1", type="USAGE", billable_metric_id="m-1")
    card = rate_card("standard", "rc-1", rates=[flat("p-1", 2)])
    cut = "2026-10-02T12:00:00Z"
    new_card = rate_card(
        "standard", "rc-1", rates=[flat("p-1", 2, ending_before=cut), flat("p-1", 3, cut)]
    )
    state = export(m, prod, card)
    preview = plan(step("same", m, m), step("same", prod, prod), step("update", new_card, card))
    events = [
        event("a1", "acme", "2026-10-02T11:59:59Z", tokens=1),
        event("a2", "acme", cut, tokens=10),  # exactly on the instant: the new rate's
    ]
    _, _, data = run(tmp_path, state, preview, events)
    # Now: 11 * 2 = 22. Proposed: 1 * 2 + 10 * 3 = 32 (an entry's start is inclusive, its
    # end exclusive: the event is in the second segment only).
    assert by_customer(data) == {("standard", "acme"): ("22", "32", "10")}


def test_postponing_a_scheduled_rise_is_priced_at_the_date_it_no_longer_happens(
    tmp_path: Path,
) -> None:
    m = metric("requests", "m-1", **REQUESTS)
    prod = product("requests", "p-1", type="USAGE", billable_metric_id="m-1")
    card = rate_card(
        "standard", "rc-1", rates=[flat("p-1", 5), flat("p-1", 8, "2027-01-01T00:00:00Z")]
    )
    # The change moves the rise from January to March.
    new_card = rate_card(
        "standard", "rc-1", rates=[flat("p-1", 5), flat("p-1", 8, "2027-03-01T00:00:00Z")]
    )
    state = export(m, prod, card)
    preview = plan(step("same", m, m), step("update", new_card, card), step("same", prod, prod))
    _, _, data = run(tmp_path, state, preview, EVENTS)
    # The first date the schedules differ is the old rise's: 8 cents today, 5 planned.
    # acme 2 requests: 16 -> 10; beta 1: 8 -> 5.
    assert data["prices"]["as_of"] == "2027-01-01T00:00:00+00:00"
    assert data["prices"]["later_dates"] == ["2027-03-01T00:00:00+00:00"]
    assert by_customer(data) == {
        ("standard", "acme"): ("16", "10", "-6"),
        ("standard", "beta"): ("8", "5", "-3"),
    }
