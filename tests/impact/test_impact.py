"""The impact of pricing changes over small event sets, every expected figure computed by
hand in the test (never read back from the code under test)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pulumi_metronome.impact.charges import tiered
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
    urn,
)

DAY1, DAY2, DAY3 = "2026-10-01T10:00:00Z", "2026-10-02T10:00:00Z", "2026-10-03T23:59:59Z"
START = "2026-10-01T00:00:00Z"

TOKENS = {
    "aggregation_type": "SUM",
    "aggregation_key": "tokens",
    "event_type_filter": {"in_values": ["completion"]},
    "property_filters": [{"name": "tokens", "exists": True}],
}
TOKENS_EXTERNAL = {
    **TOKENS,
    "property_filters": [
        {"name": "internal", "not_in_values": ["true"]},
        {"name": "tokens", "exists": True},
    ],
}


def flat(product_id: str, price: float, **extra: Any) -> dict[str, Any]:
    return {
        "product_id": product_id,
        "entitled": True,
        "rate_type": "FLAT",
        "starting_at": START,
        "price": price,
        **extra,
    }


def by_customer(report: dict[str, Any]) -> dict[tuple[str, str], tuple[str, str, str]]:
    return {
        (r["card"], r["customer"]): (r["now"], r["proposed"], r["change"])
        for r in report["charges"]["by_customer"]
    }


def test_a_filter_that_excludes_internal_events_removes_exactly_their_usage_and_charge(
    tmp_path: Path,
) -> None:
    old_metric = metric("tokens", "m-1", **TOKENS)
    prod = product("tokens", "p-1", type="USAGE", billable_metric_id="m-1")
    card = rate_card("standard", "rc-1", rates=[flat("p-1", 2)])
    state = export(old_metric, prod, card)
    # The filter is fixed at creation: the metric is replaced, so the product's metric id
    # is unknown in the plan and recorded as depending on the metric.
    new_metric = metric("tokens", **TOKENS_EXTERNAL)
    new_prod = depends(
        product("tokens", type="USAGE", billable_metric_id=UNKNOWN),
        "billable_metric_id",
        new_metric,
    )
    preview = plan(
        step("replace", new_metric, old_metric),
        step("update", new_prod, prod),
        step("same", card, card),
    )
    events = [
        event("a1", "acme", DAY1, tokens=100, internal="false"),
        event("a2", "acme", DAY2, tokens=50, internal="true"),
        event("a3", "acme", DAY2, tokens=7, internal=True),  # JSON true reads "true"
        event("b1", "beta", DAY3, tokens=30),
        event("b2", "beta", DAY3, event_type="page_view"),  # no metric matches
    ]
    _, md, data = run(tmp_path, state, preview, events)

    # Hand-computed: now 100 + 50 + 7 + 30 = 187 tokens; the internal ones are 50 + 7.
    tokens = next(m for m in data["metrics"] if m["resource"] == "tokens")
    assert tokens["usage"] == {"now": "187", "proposed": "130"}
    assert tokens["declaration"] == "changed"
    assert tokens["daily"]["now"] == ["100", "57", "30"]
    assert tokens["daily"]["proposed"] == ["100", "0", "30"]
    # 2 cents a token: acme 157 -> 100 tokens, 314 -> 200 cents; beta 60 cents both.
    assert by_customer(data) == {
        ("standard", "acme"): ("314", "200", "-114"),
        ("standard", "beta"): ("60", "60", "0"),
    }
    # Unbilled: the page view now; after, also the two internal events no metric matches.
    assert data["unbilled"] == {"now": 1, "proposed": 3}
    assert data["resolved_references"] == [
        {
            "urn": urn("Product", "tokens"),
            "field": "billable_metric_id",
            "target": urn("BillableMetric", "tokens"),
        }
    ]
    assert "| `tokens` | changed | 187 | 130 | -57 (-30.5%) |" in md
    assert "| `standard` | `tokens` | $3.74 | $2.60 | -$1.14 (-30.5%) |" in md
    assert "| `acme` | `standard` | $3.14 | $2.00 | -$1.14 (-36.3%) |" in md
    assert "product `tokens`: declaration unchanged, usage 187 → 130" in md
    assert "line [100, 57, 30]" in md and "line [100, 0, 30]" in md
    assert "xychart-beta" in md


def test_a_tier_price_change_shows_the_per_customer_delta(tmp_path: Path) -> None:
    m = metric("tokens", "m-1", **TOKENS)
    prod = product("tokens", "p-1", type="USAGE", billable_metric_id="m-1")

    def card(second_price: float) -> dict[str, Any]:
        return rate_card(
            "standard",
            "rc-1",
            rates=[
                {
                    "product_id": "p-1",
                    "entitled": True,
                    "rate_type": "TIERED",
                    "starting_at": START,
                    "tiers": [{"price": 10, "size": 100}, {"price": second_price}],
                }
            ],
        )

    state = export(m, prod, card(5))
    preview = plan(step("same", m, m), step("same", prod, prod), step("update", card(4), card(5)))
    events = [
        event("a1", "acme", DAY1, tokens=150),
        event("a2", "acme", DAY2, tokens=100),
        event("b1", "beta", DAY1, tokens=100),  # exactly the first tier's maximum (inclusive)
        event("c1", "corp", DAY3, tokens=100.5),
    ]
    _, md, data = run(tmp_path, state, preview, events)
    # acme 250: now 100*10 + 150*5 = 1750, proposed 100*10 + 150*4 = 1600 -> -150 cents.
    # beta 100: 1000 both. corp 100.5: 1000 + 0.5*5 = 1002.5 -> 1000 + 0.5*4 = 1002.
    assert by_customer(data) == {
        ("standard", "acme"): ("1750", "1600", "-150"),
        ("standard", "beta"): ("1000", "1000", "0"),
        ("standard", "corp"): ("1002.5", "1002", "-0.5"),
    }
    assert "| `acme` | `standard` | $17.50 | $16.00 | -$1.50 (-8.6%) |" in md
    assert "| `corp` | `standard` | $10.03 | $10.02 | -$0.01 (-0.0%) |" in md
    assert "Largest per-customer changes (top 10 of 2 changed)" in md
    assert "| `tokens` | unchanged | 450.5 | 450.5 | 0 (0.0%) |" in md  # 150+100+100+100.5


def test_tiers_take_the_minimum_exclusive_and_the_maximum_inclusive() -> None:
    tiers = [(Decimal(10), Decimal(100)), (Decimal(5), Decimal(50)), (Decimal(1), None)]
    assert tiered(Decimal(0), tiers) == 0
    assert tiered(Decimal(100), tiers) == 1000
    assert tiered(Decimal(101), tiers) == 1005
    assert tiered(Decimal(150), tiers) == 1250
    assert tiered(Decimal(151), tiers) == 1251


def test_a_product_moved_to_a_new_metric_shows_usage_and_charges(tmp_path: Path) -> None:
    requests = metric(
        "requests", "m-1", aggregation_type="COUNT", event_type_filter={"in_values": ["completion"]}
    )
    prod = product("usage", "p-1", type="USAGE", billable_metric_id="m-1")
    card = rate_card("standard", "rc-1", rates=[flat("p-1", 3)])
    state = export(requests, prod, card)
    tokens = metric("tokens", **TOKENS)
    moved = depends(
        product("usage", type="USAGE", billable_metric_id=UNKNOWN), "billable_metric_id", tokens
    )
    preview = plan(
        step("same", requests, requests),
        step("create", tokens),
        step("update", moved, prod),
        step("same", card, card),
    )
    events = [
        event("a1", "acme", DAY1, tokens=10),
        event("a2", "acme", DAY1, tokens=20),
        event("b1", "beta", DAY2, tokens=5),
    ]
    _, md, data = run(tmp_path, state, preview, events)
    # now: 3 requests * 3 cents = acme 6, beta 3; proposed: tokens * 3 = acme 90, beta 15.
    assert by_customer(data) == {
        ("standard", "acme"): ("6", "90", "84"),
        ("standard", "beta"): ("3", "15", "12"),
    }
    usage = next(p for p in data["products"] if p["resource"] == "usage")
    assert usage["usage"] == {"now": "3", "proposed": "35"}
    assert usage["metric"] == {"now": "requests", "proposed": "tokens"}
    assert "| `usage` | changed | requests → tokens | 3 | 35 | +32 (+1066.7%) |" in md
    assert "| `tokens` | added | — | 35 | added |" in md
    # The requests metric did not change, but nothing bills it any more.
    assert (
        "metric `requests`: declaration unchanged, billed usage 3 → 0 (products moved off it)" in md
    )


def test_unknown_values_are_reported_never_guessed(tmp_path: Path) -> None:
    m = metric("tokens", "m-1", **TOKENS)
    prod = product("tokens", "p-1", type="USAGE", billable_metric_id="m-1")
    card = rate_card("standard", "rc-1", rates=[flat("p-1", 2)])
    state = export(m, prod, card)
    # A price computed from another resource's output, and a filter value not known yet.
    new_card = rate_card("standard", "rc-1", rates=[flat("p-1", UNKNOWN)])  # type: ignore[arg-type]
    filtered = metric(
        "tokens",
        **{
            **TOKENS,
            "property_filters": [
                {"name": "tokens", "exists": True},
                {"name": "region", "in_values": [UNKNOWN]},
            ],
        },
    )
    preview = plan(
        step("replace", filtered, m), step("same", prod, prod), step("update", new_card, card)
    )
    events = [event("a1", "acme", DAY1, tokens=10, region="eu")]
    _, md, data = run(tmp_path, state, preview, events)
    fields = {(u["resource"], u["field"]) for u in data["unknowns"]}
    assert ("tokens", "property_filters") in fields
    assert ("standard", "rates[0].price") in fields
    assert "### ⚠️ Unknown until apply" in md
    assert "| `tokens` | `property_filters` | usage of this metric cannot be computed |" in md
    assert "| `tokens` | unknown | 10 | unknown | unknown |" in md
    # The one event is a completion, which the unknown metric's (known) type filter lets
    # through: not certainly unbilled, but unknown.
    assert data["unbilled"]["proposed"] == 0
    assert data["unbilled_unknown"]["proposed"] == 1
    assert data["charges"]["by_customer"] == [
        {"card": "standard", "customer": "acme", "now": "20", "proposed": "0", "change": "-20"}
    ]
    assert any(
        n["side"] == "proposed" and n["reason"] == "rates unknown until apply"
        for n in data["charges"]["not_priced"]
    )


def test_pricing_groups_conversion_rounding_subscription_and_percentage(tmp_path: Path) -> None:
    gb = metric(
        "storage",
        "m-1",
        aggregation_type="SUM",
        aggregation_key="mb",
        property_filters=[
            {"name": "mb", "exists": True},
            {"name": "region", "in_values": ["eu", "us"]},
        ],
        group_keys=[["region"]],
    )
    storage = product(
        "storage",
        "p-1",
        type="USAGE",
        billable_metric_id="m-1",
        pricing_group_key=["region"],
        tags=["usage"],
        quantity_conversion={"conversion_factor": 1000, "operation": "DIVIDE"},
        quantity_rounding={"decimal_places": 0, "rounding_method": "ROUND_UP"},
    )
    seat = product("seat", "p-2", type="SUBSCRIPTION")
    support = product("support", "p-3", type="COMPOSITE", composite_tags=["usage"])
    card = rate_card(
        "standard",
        "rc-1",
        rates=[
            flat("p-1", 100, pricing_group_values={"region": "eu"}),
            flat("p-1", 80, pricing_group_values={"region": "us"}),
            {
                "product_id": "p-2",
                "entitled": True,
                "rate_type": "SUBSCRIPTION",
                "starting_at": START,
                "price": 5000,
                "quantity": 2,
                "is_prorated": True,
            },
            {
                "product_id": "p-3",
                "entitled": True,
                "rate_type": "PERCENTAGE",
                "starting_at": START,
                "price": 0.1,
            },
        ],
    )
    state = export(gb, storage, seat, support, card)
    preview = plan(*(step("same", r, r) for r in (gb, storage, seat, support, card)))
    events = [
        event("a1", "acme", "2026-10-01T00:00:00Z", event_type="store", mb=1500, region="eu"),
        event("a2", "acme", "2026-10-30T00:00:00Z", event_type="store", mb="1", region="us"),
        event("a3", "acme", "2026-10-31T23:00:00Z", event_type="store", mb=2000, region="us"),
    ]
    impact, _, data = run(tmp_path, state, preview, events)
    # Period: the events' days, 2026-10-01 .. 2026-11-01 (31 days, the whole of October).
    # eu: 1500 MB / 1000 = 1.5 -> round up 2 GB * 100 = 200 cents.
    # us: 2001 MB / 1000 = 2.001 -> 3 GB * 80 = 240 cents.
    # seat: 5000 * 2 per month, October whole = 10000. support: 10% of 440 = 44.
    rows = {(r["product"]): r["now"] for r in data["charges"]["by_product"]}
    assert rows == {"storage": "440", "seat": "10000", "support": "44"}
    assert impact.period.start.isoformat() == "2026-10-01T00:00:00+00:00"
    assert impact.period.end.isoformat() == "2026-11-01T00:00:00+00:00"


def test_a_mapping_file_prices_each_customer_on_its_card_only(tmp_path: Path) -> None:
    m = metric("tokens", "m-1", **TOKENS)
    prod = product("tokens", "p-1", type="USAGE", billable_metric_id="m-1")
    standard = rate_card("standard", "rc-1", rates=[flat("p-1", 2)])
    premium = rate_card("premium", "rc-2", rates=[flat("p-1", 1)])
    state = export(m, prod, standard, premium)
    preview = plan(*(step("same", r, r) for r in (m, prod, standard, premium)))
    events = [event("a1", "acme", DAY1, tokens=10), event("b1", "beta", DAY1, tokens=20)]
    _, _, every = run(tmp_path, state, preview, events)
    assert set(by_customer(every)) == {
        ("standard", "acme"),
        ("standard", "beta"),
        ("premium", "acme"),
        ("premium", "beta"),
    }
    _, md, mapped = run(
        tmp_path, state, preview, events, mapping={"acme": "premium", "beta": "rc-1"}
    )
    assert by_customer(mapped) == {
        ("premium", "acme"): ("10", "10", "0"),
        ("standard", "beta"): ("40", "40", "0"),
    }
    assert "customers as the mapping file assigns them" in md


@pytest.mark.parametrize("value", [5, 5.0, "5"])
def test_numbers_read_as_their_shortest_text_in_filters(tmp_path: Path, value: Any) -> None:
    m = metric(
        "fives",
        "m-1",
        aggregation_type="COUNT",
        property_filters=[{"name": "n", "in_values": ["5"]}],
    )
    state = export(m)
    preview = plan(step("same", m, m))
    events = [event("a1", "acme", DAY1, n=value), event("a2", "acme", DAY1, n=2.50)]
    _, _, data = run(tmp_path, state, preview, events)
    assert data["metrics"][0]["usage"] == {"now": "1", "proposed": "1"}


def test_a_price_change_inside_the_period_prices_each_part_at_its_rate(tmp_path: Path) -> None:
    m = metric("tokens", "m-1", **TOKENS)
    prod = product("tokens", "p-1", type="USAGE", billable_metric_id="m-1")
    card = rate_card("standard", "rc-1", rates=[flat("p-1", 2)])
    later = rate_card(
        "standard",
        "rc-1",
        rates=[
            flat("p-1", 2, ending_before="2026-10-02T12:00:00Z"),
            {**flat("p-1", 3), "starting_at": "2026-10-02T12:00:00Z"},
        ],
    )
    state = export(m, prod, card)
    preview = plan(step("same", m, m), step("same", prod, prod), step("update", later, card))
    events = [
        event("a1", "acme", "2026-10-01T10:00:00Z", tokens=10),
        event("a1", "acme", "2026-10-01T11:00:00Z", tokens=1000),  # same id: the first wins
        event("a2", "acme", "2026-10-02T10:00:00Z", tokens=20),
        event("a3", "acme", "2026-10-02T13:00:00Z", tokens=30),
        event("a4", "acme", "2026-10-03T08:00:00Z", tokens=40),
    ]
    impact, _, data = run(tmp_path, state, preview, events)
    assert impact.events_read == 5 and impact.events_used == 4
    # Now: 100 tokens at 2 = 200. Proposed: 10 + 20 before noon on the 2nd at 2 = 60, then
    # 30 + 40 at 3 = 210: 270.
    assert by_customer(data) == {("standard", "acme"): ("200", "270", "70")}


def test_an_unknown_metric_id_with_no_single_source_stays_unknown(tmp_path: Path) -> None:
    m = metric("tokens", "m-1", **TOKENS)
    prod = product("tokens", "p-1", type="USAGE", billable_metric_id="m-1")
    card = rate_card("standard", "rc-1", rates=[flat("p-1", 2)])
    state = export(m, prod, card)
    a, b = metric("a", **TOKENS), metric("b", aggregation_type="COUNT")
    # The id comes from one of two new metrics (e.g. chosen by an apply): not guessed.
    ambiguous = depends(
        product("tokens", type="USAGE", billable_metric_id=UNKNOWN), "billable_metric_id", a, b
    )
    preview = plan(step("create", a), step("create", b), step("update", ambiguous, prod))
    _, md, data = run(tmp_path, state, preview, [event("a1", "acme", DAY1, tokens=10)])
    assert {
        "resource": "tokens",
        "urn": urn("Product", "tokens"),
        "field": "billable_metric_id",
        "consequence": "usage and charges of this product unknown",
    } in data["unknowns"]
    assert data["resolved_references"] == []
    assert "| `tokens` | `billable_metric_id` | usage and charges of this product unknown |" in md
    tokens = next(p for p in data["products"] if p["resource"] == "tokens")
    assert tokens["usage"] == {"now": "10", "proposed": None}
    assert any(
        n["side"] == "proposed" and "not priced" in n["reason"]
        for n in data["charges"]["not_priced"]
    )


def test_a_sql_metric_is_evaluated_by_the_engine_sql_module(tmp_path: Path) -> None:
    sql_now = (
        "SELECT SUM(CAST(properties.tokens AS DECIMAL)) AS value FROM events "
        "WHERE event_type = 'completion'"
    )
    sql_proposed = sql_now + " AND (properties.internal IS NULL OR properties.internal <> 'true')"
    old_metric = metric("tokens", "m-1", sql=sql_now)
    new_metric = metric("tokens", sql=sql_proposed)
    state = export(old_metric)
    preview = plan(step("replace", new_metric, old_metric))
    events = [
        event("a1", "acme", DAY1, tokens=100, internal="false"),
        event("a2", "acme", DAY2, tokens=50, internal="true"),
        event("a3", "acme", DAY2, tokens=7, internal=True),  # JSON true reads "true"
        event("a3", "acme", DAY2, tokens=1000),  # a duplicate transaction id: ignored
        event("b1", "beta", DAY3, tokens=30.50),  # reads 30.5
        event("b2", "beta", DAY3, event_type="page_view", tokens=9),  # not a completion
    ]
    _, md, data = run(tmp_path, state, preview, events)

    # Hand-computed: now 100 + 50 + 7 + 30.5 = 187.5; without the internal ones 130.5.
    tokens = next(m for m in data["metrics"] if m["resource"] == "tokens")
    assert tokens["usage"] == {"now": "187.5", "proposed": "130.5"}
    assert tokens["sql"] is True
    assert tokens["daily"]["now"] == ["100", "57", "30.5"]
    assert tokens["daily"]["proposed"] == ["100", "0", "30.5"]
    assert "| `tokens` | changed (SQL) | 187.5 | 130.5 | -57 (-30.4%) |" in md


def test_unique_counts_distinct_texts_per_customer_and_day(tmp_path: Path) -> None:
    """UNIQUE counts each customer's distinct texts of its key (an event without the key
    counts nothing; 7, "7" and 7.0 are one text), and a customer with none has 0."""
    has_user = {"name": "user_id", "exists": True}
    users = {"aggregation_type": "UNIQUE", "aggregation_key": "user_id"}
    old_metric = metric("users", "m-1", **users, property_filters=[has_user])
    prod = product("users", "p-1", type="USAGE", billable_metric_id="m-1")
    card = rate_card("standard", "rc-1", rates=[flat("p-1", 3)])
    state = export(old_metric, prod, card)
    new_metric = metric(
        "users",
        **users,
        property_filters=[has_user, {"name": "internal", "not_in_values": ["true"]}],
    )
    new_prod = depends(
        product("users", type="USAGE", billable_metric_id=UNKNOWN),
        "billable_metric_id",
        new_metric,
    )
    preview = plan(
        step("replace", new_metric, old_metric),
        step("update", new_prod, prod),
        step("same", card, card),
    )
    events = [
        event("a1", "acme", DAY1, user_id="u1"),
        event("a2", "acme", DAY2, user_id="u1"),
        event("a3", "acme", DAY2, user_id="u2", internal="true"),
        event("a4", "acme", DAY3),
        event("a5", "acme", DAY3, "page_view", user_id="u3"),
        event("b1", "beta", DAY1, tokens=5),
        event("g1", "gamma", DAY1, user_id=7),
        event("g2", "gamma", DAY1, user_id="7"),
        event("g3", "gamma", DAY3, user_id=7.0),
    ]
    _, _, data = run(tmp_path, state, preview, events)

    # Now: acme u1, u2, u3 (3), beta none (0), gamma "7" (1); proposed: acme loses u2.
    users_impact = next(m for m in data["metrics"] if m["resource"] == "users")
    assert users_impact["usage"] == {"now": "4", "proposed": "3"}
    # Per day, summed over customers: day 1 acme u1 + gamma 7; day 2 acme u1, u2 (u1
    # only, proposed); day 3 acme u3 + gamma 7.
    assert users_impact["daily"]["now"] == ["2", "2", "2"]
    assert users_impact["daily"]["proposed"] == ["2", "1", "2"]
    # 3 cents a user (beta, charged nothing on either side, is not listed).
    assert by_customer(data) == {
        ("standard", "acme"): ("9", "6", "-3"),
        ("standard", "gamma"): ("3", "3", "0"),
    }


def test_an_event_outside_the_dates_a_report_covers_is_named(tmp_path: Path) -> None:
    from pulumi_metronome.impact.synthetic import write_events
    from pulumi_metronome.impact.usage import Events, EventsError

    path = write_events(
        tmp_path / "events.jsonl",
        [
            event("a1", "acme", DAY1, tokens=1),
            event("a2", "acme", "0001-01-01T12:00:00Z", tokens=1),
            event("a3", "acme", "9999-12-31T01:00:00Z", tokens=1),
        ],
    )
    with pytest.raises(EventsError) as caught:
        Events(path, ["tokens"])
    assert str(caught.value) == (
        f"events file {path}: events[1].timestamp: 0001-01-01 12:00:00 (UTC) is outside the "
        "dates a report covers (0001-01-02 to 9999-12-30)"
    )


def test_exists_filters_read_whether_a_property_has_a_text(tmp_path: Path) -> None:
    """A property tested only by exists filters: null and absent have no text; false, 0
    and "" have one. The same property read by value elsewhere keeps its text."""
    has_flag = metric(
        "has-flag",
        "m-1",
        aggregation_type="COUNT",
        property_filters=[{"name": "flag", "exists": True}],
    )
    no_flag = metric(
        "no-flag",
        "m-2",
        aggregation_type="COUNT",
        property_filters=[{"name": "flag", "exists": False}],
    )
    with_region = metric(
        "with-region",
        "m-3",
        aggregation_type="COUNT",
        property_filters=[{"name": "region", "exists": True}],
    )
    in_eu = metric(
        "in-eu",
        "m-4",
        aggregation_type="COUNT",
        property_filters=[{"name": "region", "in_values": ["eu"]}],
    )
    state = export(has_flag, no_flag, with_region, in_eu)
    preview = plan(*(step("same", m, m) for m in (has_flag, no_flag, with_region, in_eu)))
    events = [
        event("a1", "acme", DAY1, flag=None, region="eu"),
        event("a2", "acme", DAY1, region="us"),
        event("a3", "acme", DAY1, flag=False),
        event("a4", "acme", DAY1, flag=0, region=None),
        event("a5", "acme", DAY1, flag="", region="eu"),
    ]
    _, _, data = run(tmp_path, state, preview, events)
    usage = {m["resource"]: m["usage"]["now"] for m in data["metrics"]}
    # flag: a3, a4, a5 have one; a1 (null) and a2 (absent) not. region: a1, a2, a5.
    assert usage == {"has-flag": "3", "no-flag": "2", "with-region": "3", "in-eu": "2"}
