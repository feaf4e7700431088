"""``Product`` and ``RateCard`` providers, method by method, against a real local server.

Each diff case of issue 9: what changes in place, what replaces, what is refused at
``check`` (preview) unless opted in, and what each step sends to Metronome.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from pulumi.runtime import rpc

from metronome_local.process import LocalServer
from pulumi_metronome.resources import ProductProvider, RateCardProvider
from pulumi_metronome.resources.product import next_hour

FUTURE = "2031-01-01T00:00:00Z"
PAST = "2026-01-01T00:00:00Z"


@pytest.fixture
def products(stack_config: dict[str, str]) -> ProductProvider:
    provider = ProductProvider()
    provider.configure(ConfigureRequest(Config(raw_config=stack_config, project_name="test")))
    return provider


@pytest.fixture
def cards(stack_config: dict[str, str]) -> RateCardProvider:
    provider = RateCardProvider()
    provider.configure(ConfigureRequest(Config(raw_config=stack_config, project_name="test")))
    return provider


def api(server: LocalServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(server.url + path, json=body, headers=server.headers, timeout=10)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json() if response.content else {}
    return result


def name(prefix: str = "p") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def checked(
    provider: Any, news: dict[str, Any], olds: dict[str, Any] | None = None
) -> dict[str, Any]:
    result = provider.check(olds or {}, news)
    assert result.failures == [], [(f.property, f.reason) for f in result.failures]
    inputs: dict[str, Any] = result.inputs
    return inputs


def failures(provider: Any, olds: dict[str, Any], news: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f.property, f.reason) for f in provider.check(olds, news).failures]


# --- Product ----------------------------------------------------------------------------------


def whole_hour_at_or_after(moment: datetime) -> datetime:
    """Worked out on the epoch seconds, independently of ``next_hour``."""
    return datetime.fromtimestamp(math.ceil(moment.timestamp() / 3600) * 3600, UTC)


def test_next_hour_is_the_default_update_start() -> None:
    at = datetime(2026, 5, 1, 10, 20, tzinfo=UTC)
    assert next_hour(at) == datetime(2026, 5, 1, 11, tzinfo=UTC)
    assert next_hour(datetime(2026, 5, 1, 10, tzinfo=UTC)) == datetime(2026, 5, 1, 10, tzinfo=UTC)


def test_product_check_validates_with_field_names_and_calls_nothing(
    products: ProductProvider, server: LocalServer
) -> None:
    result = products.check({}, {"name": "x", "type": "USAGE", "tags": ["a"], "colour": 1})
    assert [(f.property, f.reason) for f in result.failures] == [
        ("colour", "is not an argument of Product"),
        ("billable_metric_id", "is required for USAGE products"),
    ]
    result = products.check(
        {}, {"name": "x", "type": "FIXED", "update_starting_at": "2027-01-01T00:30:00Z"}
    )
    assert [(f.property, f.reason) for f in result.failures] == [
        ("update_starting_at", "must be on an hour boundary (Metronome's rule for product updates)")
    ]
    assert server.requests() == []


def test_product_lifecycle(
    products: ProductProvider, server: LocalServer, writes: Callable[[], list[dict]]
) -> None:
    news = checked(products, {"name": name(), "type": "FIXED", "tags": ["a"], "__resource": "prod"})
    created = products.create(news)
    product_id = created.id
    assert created.outs["tags"] == ["a"] and created.outs["type"] == "FIXED"
    # No change: diff says so, nothing is sent.
    assert products.diff(product_id, created.outs, checked(products, news, news)).changes is False
    # A later-dated change: in place, one update effective at the next hour by default.
    renamed = checked(products, {**news, "name": "Renamed"}, news)
    diff = products.diff(product_id, created.outs, renamed)
    assert (diff.changes, diff.replaces) == (True, [])
    before = len(writes())
    called = datetime.now(UTC)
    products.update(product_id, created.outs, renamed)
    returned = datetime.now(UTC)
    [update] = [w for w in writes()[before:]]
    assert update["path"] == "/v1/contract-pricing/products/update"
    live = api(server, "/v1/contract-pricing/products/get", {"id": product_id})["data"]
    assert live["updates"][-1]["name"] == "Renamed"
    # The first whole hour at or after the moment of the call, which lies between these two
    # clock readings (one hour apart only if the call crossed an hour boundary).
    starting_at = datetime.fromisoformat(live["updates"][-1]["starting_at"].replace("Z", "+00:00"))
    assert starting_at in {whole_hour_at_or_after(called), whole_hour_at_or_after(returned)}
    assert live["updates"][-1]["starting_at"].endswith(":00:00.000Z")
    # Read takes pending updates into account: the renamed product is not drift.
    read = products.read(product_id, {**created.outs, "name": "Renamed"})
    assert read.outs["name"] == "Renamed"
    # Destroy archives.
    products.delete(product_id, read.outs)
    assert api(server, "/v1/contract-pricing/products/get", {"id": product_id})["data"][
        "archived_at"
    ]
    assert products.read(product_id, read.outs).id is None


def test_product_update_starting_at_can_be_chosen(
    products: ProductProvider, server: LocalServer
) -> None:
    news = checked(products, {"name": name(), "type": "FIXED"})
    product_id = products.create(news).id
    later = checked(products, {**news, "tags": ["x"], "update_starting_at": FUTURE}, news)
    products.update(product_id, news, later)
    live = api(server, "/v1/contract-pricing/products/get", {"id": product_id})["data"]
    assert live["updates"][-1] == {
        **live["updates"][-1],
        "tags": ["x"],
        "starting_at": "2031-01-01T00:00:00.000Z",
    }
    assert "tags" not in live["current"]


def test_product_type_change_is_refused_unless_allowed(
    products: ProductProvider, server: LocalServer
) -> None:
    news = checked(products, {"name": name(), "type": "FIXED"})
    retyped = {**news, "type": "SUBSCRIPTION"}
    [(field, reason)] = failures(products, news, retyped)
    assert field == "type"
    assert reason.startswith("changing type from FIXED to SUBSCRIPTION replaces the product")
    assert "allow_replace=True" in reason
    allowed = checked(products, {**retyped, "allow_replace": True}, news)
    diff = products.diff("some-id", news, allowed)
    assert (diff.changes, diff.replaces) == (True, ["type"])
    # The opt-in alone is not a change.
    assert products.diff("some-id", news, {**news, "allow_replace": True}).changes is False


def test_product_field_cannot_be_unset_in_place(products: ProductProvider) -> None:
    news = checked(
        products,
        {"name": name(), "type": "FIXED", "netsuite_internal_item_id": "n1", "tags": ["a"]},
    )
    assert failures(products, news, {"name": news["name"], "type": "FIXED", "tags": ["a"]}) == [
        (
            "netsuite_internal_item_id",
            "cannot be unset in place: Metronome keeps a product field's last value when an "
            "update omits it; declare the value to keep, or a new one",
        )
    ]
    # Tags can be cleared (an empty list).
    assert (
        failures(
            products,
            news,
            {"name": news["name"], "type": "FIXED", "netsuite_internal_item_id": "n1"},
        )
        == []
    )


def test_product_custom_fields_change_in_place(
    products: ProductProvider, server: LocalServer
) -> None:
    key = name("k")
    api(
        server,
        "/v1/customFields/addKey",
        {"entity": "contract_product", "key": key, "enforce_uniqueness": False},
    )
    news = checked(products, {"name": name(), "type": "FIXED", "custom_fields": {key: "a"}})
    product_id = products.create(news).id
    changed = checked(products, {**news, "custom_fields": {key: "b"}}, news)
    assert products.diff(product_id, news, changed).replaces == []
    server.clear_requests()
    products.update(product_id, news, changed)
    assert [r["path"] for r in server.requests()] == ["/v1/customFields/setValues"]
    live = api(server, "/v1/contract-pricing/products/get", {"id": product_id})["data"]
    assert live["custom_fields"] == {key: "b"}


def test_product_drift_is_read_from_current(products: ProductProvider, server: LocalServer) -> None:
    news = checked(products, {"name": name(), "type": "FIXED", "tags": ["a"]})
    product_id = products.create(news).id
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    api(
        server,
        "/v1/contract-pricing/products/update",
        {"product_id": product_id, "starting_at": hour.isoformat(), "tags": ["edited"]},
    )
    read = products.read(product_id, news)
    assert read.outs["tags"] == ["edited"]
    assert read.inputs is not None and read.inputs["tags"] == ["edited"]
    assert products.diff(product_id, read.outs, news).changes is True


def test_product_adoption(products: ProductProvider, server: LocalServer) -> None:
    product_name = name()
    existing = api(
        server,
        "/v1/contract-pricing/products/create",
        {"name": product_name, "type": "FIXED", "tags": ["t"]},
    )["data"]["id"]
    news = checked(
        products,
        {
            "name": product_name,
            "type": "FIXED",
            "tags": ["t"],
            "adopt_existing": True,
            "__resource": name("r"),
        },
    )
    server.clear_requests()
    assert products.create(news).id == existing
    assert not any(r["path"].endswith("/create") for r in server.requests())
    other = checked(
        products,
        {
            "name": product_name,
            "type": "FIXED",
            "tags": ["u"],
            "adopt_existing": True,
            "__resource": name("r"),
        },
    )
    with pytest.raises(Exception, match="cannot adopt product"):
        products.create(other)


# --- RateCard ---------------------------------------------------------------------------------


def _product(server: LocalServer, **fields: Any) -> str:
    body = {"name": name(), "type": "FIXED", **fields}
    return str(api(server, "/v1/contract-pricing/products/create", body)["data"]["id"])


def _rate(product_id: str, price: float, starting_at: str = PAST, **more: Any) -> dict[str, Any]:
    return {
        "product_id": product_id,
        "rate_type": "FLAT",
        "price": price,
        "starting_at": starting_at,
        **more,
    }


def _schedule(server: LocalServer, card_id: str) -> list[tuple[float, str, str | None]]:
    data = api(
        server,
        "/v1/contract-pricing/rate-cards/getRateSchedule",
        {"rate_card_id": card_id, "starting_at": "2000-01-01T00:00:00Z"},
    )["data"]
    return [(r["rate"].get("price"), r["starting_at"], r.get("ending_before")) for r in data]


def test_card_check_validates_every_entry(cards: RateCardProvider, server: LocalServer) -> None:
    result = cards.check(
        {},
        {
            "name": "c",
            "rates": [
                _rate("p", -1),
                {"product_id": "p", "rate_type": "TIERED", "starting_at": PAST},
            ],
            "colour": 1,
        },
    )
    assert [(f.property, f.reason) for f in result.failures] == [
        ("colour", "is not an argument of RateCard"),
        ("rates", "rates[0].price: Input should be greater than or equal to 0"),
        ("rates", "rates[1].tiers: is required for rate_type TIERED"),
    ]
    dup = cards.check({}, {"name": "c", "rates": [_rate("p", 1), _rate("p", 2)]})
    assert [(f.property, f.reason) for f in dup.failures] == [
        (
            "rates",
            "rates[1]: has the same product, pricing group values, billing frequency and "
            "starting_at as rates[0]; Metronome keeps one rate per key",
        )
    ]
    assert server.requests() == []


def test_card_lifecycle(
    cards: RateCardProvider, server: LocalServer, writes: Callable[[], list[dict]]
) -> None:
    product_id = _product(server)
    news = checked(
        cards, {"name": name("card"), "rates": [_rate(product_id, 10)], "__resource": "card"}
    )
    key = f"{product_id} from 2026-01-01T00:00:00.000Z"
    assert list(news["rates"]) == [key]
    assert news["rates"][key]["entitled"] is True  # the default
    created = cards.create(news)
    card_id = created.id
    assert _schedule(server, card_id) == [(10, "2026-01-01T00:00:00.000Z", None)]
    # No change.
    assert cards.diff(card_id, created.outs, checked(cards, news, news)).changes is False
    # A later-dated price change: a new entry, in place, one addRates call.
    later = checked(
        cards, {**news, "rates": [_rate(product_id, 10), _rate(product_id, 12, FUTURE)]}, news
    )
    diff = cards.diff(card_id, created.outs, later)
    assert (diff.changes, diff.replaces) == (True, [])
    before = len(writes())
    outs = cards.update(card_id, created.outs, later).outs
    assert [w["path"] for w in writes()[before:]] == ["/v1/contract-pricing/rate-cards/addRates"]
    assert _schedule(server, card_id) == [
        (10, "2026-01-01T00:00:00.000Z", "2031-01-01T00:00:00.000Z"),
        (12, "2031-01-01T00:00:00.000Z", None),
    ]
    # Read gives back what was declared (the implied end of the first entry is no drift).
    read = cards.read(card_id, outs)
    assert read.outs["rates"] == later["rates"]
    assert cards.diff(card_id, read.outs, later).changes is False
    # Rename and description in place.
    renamed = checked(
        cards,
        {
            **news,
            "rates": [_rate(product_id, 10), _rate(product_id, 12, FUTURE)],
            "name": "Renamed",
            "description": "d",
        },
        later,
    )
    before = len(writes())
    cards.update(card_id, outs, renamed)
    assert [w["path"] for w in writes()[before:]] == ["/v1/contract-pricing/rate-cards/update"]
    # Destroy archives.
    cards.delete(card_id, renamed)
    live = api(server, "/v1/contract-pricing/rate-cards/get", {"id": card_id})["data"]
    assert live["archived_at"]
    assert cards.read(card_id, renamed).id is None


def test_retroactive_price_change_is_refused_unless_allowed(
    cards: RateCardProvider, server: LocalServer
) -> None:
    product_id = _product(server)
    news = checked(cards, {"name": name("card"), "rates": [_rate(product_id, 10)]})
    changed = {**news, "rates": [_rate(product_id, 11)]}
    [(field, reason)] = failures(cards, news, changed)
    assert field == ""
    assert reason.startswith(
        f"rates: changing the rate {product_id} from 2026-01-01T00:00:00.000Z changes prices from "
        "2026-01-01T00:00:00+00:00, which is past"
    )
    assert "Add an entry with a later starting_at instead" in reason
    added_past = {
        **news,
        "rates": [_rate(product_id, 10), _rate(product_id, 9, "2026-03-01T00:00:00Z")],
    }
    [(_, reason)] = failures(cards, news, added_past)
    assert reason.startswith("rates: adding the rate")
    allowed = checked(cards, {**changed, "allow_retroactive_rates": True}, news)
    assert cards.diff("id", news, allowed).changes is True
    # Ending a past entry in the future changes nothing already billed: allowed.
    ended = {**news, "rates": [_rate(product_id, 10, ending_before=FUTURE)]}
    assert failures(cards, news, ended) == []
    ended_in_past = {**news, "rates": [_rate(product_id, 10, ending_before="2026-02-01T00:00:00Z")]}
    [(_, reason)] = failures(cards, news, ended_in_past)
    assert "changes prices from 2026-02-01T00:00:00+00:00" in reason


def test_removing_an_entry_is_refused_unless_allowed(
    cards: RateCardProvider, server: LocalServer
) -> None:
    product_id = _product(server)
    news = checked(
        cards,
        {"name": name("card"), "rates": [_rate(product_id, 10), _rate(product_id, 12, FUTURE)]},
    )
    card_id = cards.create(news).id
    removed = {**news, "rates": [_rate(product_id, 10)]}
    [(field, reason)] = failures(cards, news, removed)
    assert field == ""
    assert reason.startswith(
        f"rates: removing the rate {product_id} from 2031-01-01T00:00:00.000Z: Metronome cannot "
        "delete a rate"
    )
    allowed = checked(cards, {**removed, "allow_rate_removal": True}, news)
    outs = cards.update(card_id, {**news, "unmanaged_rates": []}, allowed).outs
    assert outs["unmanaged_rates"] == [f"{product_id} from 2031-01-01T00:00:00.000Z"]
    # It stays in Metronome; refresh does not bring it back into the declaration.
    assert len(_schedule(server, card_id)) == 2
    read = cards.read(card_id, outs)
    assert list(read.outs["rates"]) == [f"{product_id} from 2026-01-01T00:00:00.000Z"]
    assert cards.diff(card_id, read.outs, allowed).changes is False


def test_credit_type_change_replaces_only_with_opt_in(cards: RateCardProvider) -> None:
    news = checked(cards, {"name": name("card")})
    changed = {**news, "fiat_credit_type_id": "eur-cents"}
    [(field, reason)] = failures(cards, news, changed)
    assert field == "fiat_credit_type_id"
    assert "replaces the rate card" in reason and "allow_replace=True" in reason
    allowed = checked(cards, {**changed, "allow_replace": True}, news)
    assert cards.diff("id", news, allowed).replaces == ["fiat_credit_type_id"]


def test_tiered_and_subscription_entries(cards: RateCardProvider, server: LocalServer) -> None:
    seat = _product(server, type="SUBSCRIPTION")
    usage = _product(server)
    rates = [
        {
            "product_id": usage,
            "rate_type": "TIERED",
            "starting_at": PAST,
            "tiers": [{"size": 1000, "price": 2}, {"price": 1}],
        },
        _rate(seat, 5000, billing_frequency="MONTHLY"),
    ]
    news = checked(cards, {"name": name("card"), "rates": rates})
    card_id = cards.create(news).id
    read = cards.read(card_id, news)
    assert read.outs["rates"] == news["rates"]


def test_card_create_with_a_refused_rate_leaves_no_card(
    cards: RateCardProvider, server: LocalServer
) -> None:
    missing = str(uuid.uuid4())
    news = checked(cards, {"name": name("card"), "rates": [_rate(missing, 1)]})
    with pytest.raises(Exception, match="not found"):
        cards.create(news)
    listed = api(server, "/v1/contract-pricing/rate-cards/list", {})["data"]
    assert news["name"] not in [c["name"] for c in listed]


def test_card_adoption(cards: RateCardProvider, server: LocalServer) -> None:
    product_id = _product(server)
    card_name = name("card")
    existing = api(server, "/v1/contract-pricing/rate-cards/create", {"name": card_name})["data"][
        "id"
    ]
    api(
        server,
        "/v1/contract-pricing/rate-cards/addRate",
        {"rate_card_id": existing, **_rate(product_id, 10), "entitled": True},
    )
    news = checked(
        cards,
        {
            "name": card_name,
            "rates": [_rate(product_id, 10)],
            "adopt_existing": True,
            "__resource": name("r"),
        },
    )
    assert cards.create(news).id == existing
    other = checked(
        cards,
        {
            "name": card_name,
            "rates": [_rate(product_id, 11)],
            "adopt_existing": True,
            "__resource": name("r"),
        },
    )
    with pytest.raises(Exception, match="cannot adopt rate card"):
        cards.create(other)


def test_entries_for_a_product_not_created_yet_are_checked_at_preview(
    cards: RateCardProvider, server: LocalServer
) -> None:
    """A product being replaced has no id at preview: its old entries would be removed and
    its new ones added from their starting_at, so both rules apply before any call."""
    kept, replaced = _product(server), _product(server)
    news = checked(cards, {"name": name("card"), "rates": [_rate(kept, 1), _rate(replaced, 2)]})
    unknown = {**_rate("x", 2), "product_id": rpc.UNKNOWN}
    preview = {**news, "rates": [_rate(kept, 1), unknown]}
    reasons = [reason for _, reason in failures(cards, news, preview)]
    assert len(reasons) == 2
    assert reasons[0].startswith(
        "rates: rates[1] (for a product not created yet) starts at 2026-01-01T00:00:00Z, "
        "which is past"
    )
    assert reasons[1].startswith(f"rates: removing the rate {replaced} from 2026-01-01")
    allowed = {**preview, "allow_retroactive_rates": True, "allow_rate_removal": True}
    assert failures(cards, news, allowed) == []
    # A new product priced from a later date needs no opt-in.
    later = {
        **news,
        "rates": [_rate(kept, 1), _rate(replaced, 2), {**unknown, "starting_at": FUTURE}],
    }
    assert failures(cards, news, later) == []
