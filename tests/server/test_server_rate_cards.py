"""``/v1/contract-pricing/rate-cards/*`` over real HTTP: rate cards and their rates."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pricing_helpers import (
    CARDS,
    PRODUCTS,
    USD_CENTS,
    bad,
    card,
    flat,
    get_card,
    name,
    ok,
    product,
    rates_at,
    schedule,
    token_metric,
)

from pulumi_metronome.models import RateCard, ScheduledRate


def add(api: Any, card_id: str, **rate: Any) -> Any:
    return api.post(f"{CARDS}/addRate", json={"rate_card_id": card_id, **rate})


def add_many(api: Any, card_id: str, rates: list[dict[str, Any]]) -> Any:
    return api.post(f"{CARDS}/addRates", json={"rate_card_id": card_id, "rates": rates})


# --- rate cards -------------------------------------------------------------------------------


def test_create_and_get_a_rate_card(api: Any) -> None:
    card_name = name("card")
    card_id = card(api, name=card_name)
    got = get_card(api, card_id)
    assert got == {
        "id": card_id,
        "name": card_name,
        "created_at": got["created_at"],
        "created_by": got["created_by"],
        "aliases": [],
        "credit_type_conversions": [],
        "custom_fields": {},
        "fiat_credit_type": {"id": USD_CENTS, "name": "USD (cents)"},
    }
    RateCard.model_validate(got)


def test_every_create_field(api: Any) -> None:
    card_id = card(
        api,
        description="list prices",
        aliases=[
            {"name": "default"},
            {
                "name": "2026",
                "starting_at": "2026-01-01T00:00:00Z",
                "ending_before": "2027-01-01T01:00:00+01:00",
            },
        ],
        credit_type_conversions=[
            {"custom_credit_type_id": "tokens-credit", "fiat_per_custom_credit": 2.5}
        ],
        fiat_credit_type_id="eur-cents",
    )
    got = get_card(api, card_id)
    assert got["description"] == "list prices"
    assert got["aliases"] == [
        {"name": "default"},
        {
            "name": "2026",
            "starting_at": "2026-01-01T00:00:00.000Z",
            "ending_before": "2027-01-01T00:00:00.000Z",
        },
    ]
    assert got["credit_type_conversions"] == [
        {
            "custom_credit_type": {"id": "tokens-credit", "name": "tokens-credit"},
            "fiat_per_custom_credit": "2.5",
        }
    ]
    assert got["fiat_credit_type"] == {"id": "eur-cents", "name": "eur-cents"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": ""}, "name: must not be empty"),
        ({"description": "no name"}, "name: is required"),
        (
            {
                "name": "x",
                "aliases": [
                    {
                        "name": "a",
                        "starting_at": "2026-02-01T00:00:00Z",
                        "ending_before": "2026-01-01T00:00:00Z",
                    }
                ],
            },
            "aliases[0].ending_before: must be after starting_at",
        ),
        (
            {"name": "x", "aliases": [{"starting_at": "2026-02-01T00:00:00Z"}]},
            "aliases[0].name: is required",
        ),
        (
            {
                "name": "x",
                "credit_type_conversions": [
                    {"custom_credit_type_id": "c", "fiat_per_custom_credit": 0}
                ],
            },
            "credit_type_conversions[0].fiat_per_custom_credit: Input should be greater than 0",
        ),
        (
            {
                "name": "x",
                "credit_type_conversions": [
                    {"custom_credit_type_id": "c", "fiat_per_custom_credit": 1},
                    {"custom_credit_type_id": "c", "fiat_per_custom_credit": 2},
                ],
            },
            "credit_type_conversions: names a custom credit type more than once",
        ),
        ({"name": "x", "rates": []}, "rates: is not a known field"),
    ],
)
def test_create_rules(api: Any, body: dict[str, Any], message: str) -> None:
    assert bad(api.post(f"{CARDS}/create", json=body)) == message


def test_update_changes_name_description_aliases_only(api: Any) -> None:
    card_id = card(api, description="old")
    ok(api.post(f"{CARDS}/update", json={"rate_card_id": card_id, "name": "new name"}))
    got = get_card(api, card_id)
    assert (got["name"], got["description"]) == ("new name", "old")  # omitted: kept
    ok(
        api.post(
            f"{CARDS}/update",
            json={"rate_card_id": card_id, "description": "new", "aliases": [{"name": "a"}]},
        )
    )
    got = get_card(api, card_id)
    assert (got["name"], got["description"], got["aliases"]) == ("new name", "new", [{"name": "a"}])
    for field, value in [
        ("fiat_credit_type_id", "x"),
        ("custom_fields", {}),
        ("credit_type_conversions", []),
    ]:
        body = {"rate_card_id": card_id, field: value}
        assert bad(api.post(f"{CARDS}/update", json=body)) == f"{field}: is not a known field"


def test_update_adds_credit_type_conversions_but_never_changes_one(api: Any) -> None:
    card_id = card(
        api, credit_type_conversions=[{"custom_credit_type_id": "a", "fiat_per_custom_credit": 1}]
    )
    conversion = {"custom_credit_type_id": "b", "fiat_per_custom_credit": 3}
    ok(
        api.post(
            f"{CARDS}/update",
            json={"rate_card_id": card_id, "add_credit_type_conversions": [conversion]},
        )
    )
    assert [
        c["custom_credit_type"]["id"] for c in get_card(api, card_id)["credit_type_conversions"]
    ] == ["a", "b"]
    again = {"custom_credit_type_id": "a", "fiat_per_custom_credit": 9}
    assert bad(
        api.post(
            f"{CARDS}/update",
            json={"rate_card_id": card_id, "add_credit_type_conversions": [again]},
        )
    ) == (
        f"add_credit_type_conversions[0].custom_credit_type_id: rate card {card_id} already "
        "converts a; existing conversions cannot be modified"
    )


def test_unknown_and_archived_cards(api: Any) -> None:
    missing = str(uuid.uuid4())
    for path, body in [
        ("get", {"id": missing}),
        ("archive", {"id": missing}),
        ("update", {"rate_card_id": missing, "name": "x"}),
    ]:
        response = api.post(f"{CARDS}/{path}", json=body)
        assert response.status_code == 404, path
        assert response.json() == {"message": f"rate card {missing} not found", "code": "NotFound"}
    card_id = card(api)
    assert ok(api.post(f"{CARDS}/archive", json={"id": card_id})) == {"data": {"id": card_id}}
    archived_at = get_card(api, card_id)["archived_at"]
    ok(api.post(f"{CARDS}/archive", json={"id": card_id}))
    assert get_card(api, card_id)["archived_at"] == archived_at
    assert bad(api.post(f"{CARDS}/update", json={"rate_card_id": card_id, "name": "x"})) == (
        f"rate card {card_id} is archived; an archived rate card cannot be updated"
    )
    assert bad(add(api, card_id, **flat(product(api), 1))) == (
        f"rate_card_id: rate card {card_id} is archived and takes no new rates"
    )


def test_list_leaves_archived_cards_out_and_paginates(fresh_server: Any, api_for: Any) -> None:
    api = api_for(fresh_server)
    ids = [card(api) for _ in range(5)]
    ok(api.post(f"{CARDS}/archive", json={"id": ids[2]}))
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = ok(api.post(f"{CARDS}/list", params=params, json={}))
        seen += [c["id"] for c in page["data"]]
        if not page["next_page"]:
            break
        params["next_page"] = page["next_page"]
    assert seen == [i for i in ids if i != ids[2]]
    assert len(ok(api.post(f"{CARDS}/list"))["data"]) == 4  # no body is fine too


def test_custom_fields_on_rate_cards(api: Any) -> None:
    key = name("k")
    api.add_key(key, entity="rate_card")
    card_id = card(api, custom_fields={key: "v"})
    assert get_card(api, card_id)["custom_fields"] == {key: "v"}
    response = api.post(
        "/v1/customFields/deleteValues",
        json={"entity": "rate_card", "entity_id": card_id, "keys": [key]},
    )
    assert response.status_code == 200
    assert get_card(api, card_id)["custom_fields"] == {}


# --- rates --------------------------------------------------------------------------------------


def test_add_rate_answers_the_rate_and_get_rates_shows_it(api: Any) -> None:
    product_id = product(api, tags=["core"])
    card_id = card(api)
    answer = ok(
        add(
            api,
            card_id,
            **flat(product_id, 25, quantity=2, commit_rate={"rate_type": "FLAT", "price": 20}),
        )
    )
    assert answer == {
        "data": {
            "rate_type": "FLAT",
            "price": 25,
            "quantity": 2,
            "commit_rate": {"rate_type": "FLAT", "price": 20},
        }
    }
    [found] = rates_at(api, card_id, "2026-03-01T00:00:00Z")
    assert found["product_id"] == product_id
    assert found["product_tags"] == ["core"]
    assert found["product_custom_fields"] == {}
    assert found["entitled"] is True
    assert found["starting_at"] == "2026-01-01T00:00:00.000Z"
    assert "ending_before" not in found
    assert found["rate"] == {
        "rate_type": "FLAT",
        "price": 25,
        "quantity": 2,
        "credit_type": {"id": USD_CENTS, "name": "USD (cents)"},
    }
    assert found["commit_rate"] == {"rate_type": "FLAT", "price": 20}
    ScheduledRate.model_validate(found)
    assert rates_at(api, card_id, "2025-12-31T23:59:59Z") == []  # before it starts


def test_tiered_rate(api: Any) -> None:
    metric_id = token_metric(api)
    product_id = product(
        api, type="USAGE", billable_metric_id=metric_id, pricing_group_key=["model"]
    )
    card_id = card(api)
    tiers = [{"size": 1_000_000, "price": 2}, {"size": 9_000_000, "price": 1.5}, {"price": 1}]
    rate = {
        "product_id": product_id,
        "entitled": True,
        "rate_type": "TIERED",
        "tiers": tiers,
        "starting_at": "2026-01-01T00:00:00Z",
        "pricing_group_values": {"model": "large"},
    }
    ok(add(api, card_id, **rate))
    [found] = schedule(api, card_id)
    assert found["rate"]["tiers"] == tiers
    assert found["pricing_group_values"] == {"model": "large"}
    assert found["rate"]["pricing_group_values"] == {"model": "large"}


RATE_RULES = [
    ({"rate_type": "FLAT"}, "price: is required for rate_type FLAT"),
    ({"rate_type": "FLAT", "price": -1}, "price: Input should be greater than or equal to 0"),
    ({"rate_type": "FLAT", "price": "1"}, "price: Input should be a valid number"),
    (
        {"rate_type": "PERCENTAGE", "price": 1.5},
        "price: is a fraction for PERCENTAGE rates: 0 to 1 (0.1 is 10%)",
    ),
    (
        {"rate_type": "PERCENTAGE", "price": 0.1, "credit_type_id": USD_CENTS},
        "credit_type_id: is not used by PERCENTAGE rates (they use the credit type of the "
        "rates they apply to)",
    ),
    ({"rate_type": "TIERED"}, "tiers: is required for rate_type TIERED"),
    (
        {"rate_type": "TIERED", "tiers": []},
        "tiers: must not be empty",
    ),
    (
        {"rate_type": "TIERED", "tiers": [{"price": 1}], "price": 1},
        "price: is not used by rate_type TIERED; use tiers",
    ),
    (
        {"rate_type": "TIERED", "tiers": [{"price": 2}, {"price": 1}]},
        "tiers[0].size: is required on every tier but the last",
    ),
    (
        {"rate_type": "TIERED", "tiers": [{"price": 2, "size": 0}, {"price": 1}]},
        "tiers[0].size: Input should be greater than 0",
    ),
    (
        {"rate_type": "FLAT", "price": 1, "tiers": [{"price": 1}]},
        "tiers: is only used by TIERED and TIERED_PERCENTAGE rates",
    ),
    (
        {"rate_type": "TIERED_PERCENTAGE", "tiers": [{"price": 2}]},
        "tiers[0].price: is a fraction for TIERED_PERCENTAGE rates: 0 to 1 (0.1 is 10%)",
    ),
    ({"rate_type": "CUSTOM"}, "custom_rate: is required for rate_type CUSTOM"),
    (
        {"rate_type": "FLAT", "price": 1, "custom_rate": {"a": 1}},
        "custom_rate: is only used by CUSTOM rates",
    ),
    (
        {"rate_type": "FLAT", "price": 1, "is_prorated": True},
        "is_prorated: is only valid for rate_type SUBSCRIPTION",
    ),
    (
        {"rate_type": "FLAT", "price": 1, "quantity": -1},
        "quantity: Input should be greater than or equal to 0",
    ),
    (
        {"rate_type": "FLAT", "price": 1, "ending_before": "2026-01-01T00:00:00Z"},
        "ending_before: must be after starting_at",
    ),
    (
        {"rate_type": "FLAT", "price": 1, "starting_at": "2026-01-01T00:00:00"},
        "starting_at: Input should have timezone info",
    ),
    (
        {"rate_type": "FLAT", "price": 1, "entitled": "yes"},
        "entitled: Input should be a valid boolean",
    ),
    (
        {"rate_type": "FLAT", "price": 1, "billing_frequency": "DAILY"},
        "billing_frequency: must be one of MONTHLY, QUARTERLY, ANNUAL, WEEKLY",
    ),
    (
        {"rate_type": "FLAT", "price": 1, "commit_rate": {"rate_type": "TIERED"}},
        "commit_rate.tiers: is required for rate_type TIERED",
    ),
    ({"rate_type": "FLAT", "price": 1, "colour": "red"}, "colour: is not a known field"),
    (
        {"rate_type": "FLAT", "price": 1, "pricing_group_values": {"model": 1}},
        "pricing_group_values['model']: Input should be a valid string",
    ),
]


@pytest.mark.parametrize(("rate", "message"), RATE_RULES)
def test_rate_rules(api: Any, rate: dict[str, Any], message: str) -> None:
    body = {"product_id": "p", "entitled": True, "starting_at": "2026-01-01T00:00:00Z", **rate}
    # Shape rules come before any lookup: the card and product need not exist.
    assert bad(add(api, "any-card", **body)) == message
    assert bad(add_many(api, "any-card", [flat("p", 1), body])) == f"rates[1].{message}"


def test_rate_needs_card_and_fields(api: Any) -> None:
    assert bad(api.post(f"{CARDS}/addRate", json={"product_id": "p"})) == (
        "rate_card_id: Input should be a valid string; entitled: is required; "
        "rate_type: is required; starting_at: is required"
    )
    missing = str(uuid.uuid4())
    response = add(api, missing, **flat(product(api), 1))
    assert response.status_code == 404
    assert response.json()["message"] == f"rate card {missing} not found"


def test_rates_by_product_type(api: Any) -> None:
    card_id = card(api)
    subscription = product(api, type="SUBSCRIPTION")
    fixed = product(api)
    assert bad(add(api, card_id, **flat(subscription, 100))) == (
        "billing_frequency: is required for a FLAT rate of a SUBSCRIPTION product"
    )
    ok(add(api, card_id, **flat(subscription, 100, billing_frequency="MONTHLY")))
    assert bad(add(api, card_id, **flat(fixed, 100, billing_frequency="MONTHLY"))) == (
        f"billing_frequency: is only valid for SUBSCRIPTION products; product {fixed} is FIXED"
    )
    rate = {**flat(fixed, 1), "rate_type": "SUBSCRIPTION"}
    assert bad(add(api, card_id, **rate)) == (
        "rate_type: SUBSCRIPTION rates are only valid for SUBSCRIPTION products; "
        f"product {fixed} is FIXED"
    )
    ok(
        add(
            api,
            card_id,
            **{
                **flat(subscription, 5),
                "rate_type": "SUBSCRIPTION",
                "is_prorated": True,
                "quantity": 1,
            },
        )
    )
    assert bad(
        add(
            api,
            card_id,
            **{**flat(subscription, 5), "rate_type": "SUBSCRIPTION", "is_prorated": False},
        )
    ) == ("is_prorated: must be true when set")


def test_pricing_group_values_must_be_in_the_products_pricing_key(api: Any) -> None:
    metric_id = token_metric(api)
    priced = product(api, type="USAGE", billable_metric_id=metric_id, pricing_group_key=["model"])
    plain = product(api)
    card_id = card(api)
    assert bad(add(api, card_id, **flat(priced, 1, pricing_group_values={"region": "us"}))) == (
        "pricing_group_values['region']: 'region' is not in the pricing_group_key of "
        f"product {priced} (['model'])"
    )
    assert bad(add(api, card_id, **flat(plain, 1, pricing_group_values={"model": "a"}))) == (
        "pricing_group_values['model']: 'model' is not in the pricing_group_key of "
        f"product {plain} ([])"
    )


def test_credit_type_must_be_the_cards(api: Any) -> None:
    card_id = card(
        api,
        credit_type_conversions=[
            {"custom_credit_type_id": "gpu-credits", "fiat_per_custom_credit": 4}
        ],
    )
    product_id = product(api)
    assert bad(add(api, card_id, **flat(product_id, 1, credit_type_id="other"))) == (
        "credit_type_id: credit type other is neither the rate card's fiat credit type "
        "nor one of its credit_type_conversions"
    )
    ok(add(api, card_id, **flat(product_id, 1, credit_type_id="gpu-credits")))
    [found] = schedule(api, card_id)
    assert found["rate"]["credit_type"] == {"id": "gpu-credits", "name": "gpu-credits"}


def test_unknown_and_archived_products_take_no_rates(api: Any) -> None:
    card_id = card(api)
    missing = str(uuid.uuid4())
    assert bad(add(api, card_id, **flat(missing, 1))) == f"product_id: product {missing} not found"
    archived = product(api)
    ok(api.post(f"{PRODUCTS}/archive", json={"product_id": archived}))
    assert bad(add(api, card_id, **flat(archived, 1))) == (
        f"product_id: product {archived} is archived and takes no new rates"
    )
    assert bad(add_many(api, card_id, [flat(product(api), 1), flat(archived, 1)])) == (
        f"rates[1].product_id: product {archived} is archived and takes no new rates"
    )


def test_adding_the_same_rate_again_replaces_it(api: Any) -> None:
    product_id = product(api)
    card_id = card(api)
    ok(add(api, card_id, **flat(product_id, 10)))
    ok(
        add(api, card_id, **flat(product_id, 12, starting_at="2026-01-01T01:00:00+01:00"))
    )  # same instant
    [found] = schedule(api, card_id)
    assert found["rate"]["price"] == 12


def test_a_later_rate_supersedes_from_its_start(api: Any) -> None:
    product_id = product(api)
    card_id = card(api)
    ok(
        add_many(
            api,
            card_id,
            [flat(product_id, 10), flat(product_id, 12, starting_at="2026-07-01T00:00:00Z")],
        )
    )
    first, second = schedule(api, card_id)
    assert (first["rate"]["price"], first["starting_at"], first["ending_before"]) == (
        10,
        "2026-01-01T00:00:00.000Z",
        "2026-07-01T00:00:00.000Z",
    )
    assert (second["rate"]["price"], second["starting_at"]) == (12, "2026-07-01T00:00:00.000Z")
    assert "ending_before" not in second
    assert [r["rate"]["price"] for r in rates_at(api, card_id, "2026-06-30T23:59:59Z")] == [10]
    assert [r["rate"]["price"] for r in rates_at(api, card_id, "2026-07-01T00:00:00Z")] == [12]
    # The schedule from a time on, and within a window.
    assert [
        r["rate"]["price"] for r in schedule(api, card_id, starting_at="2026-08-01T00:00:00Z")
    ] == [12]
    window = schedule(
        api, card_id, starting_at="2025-01-01T00:00:00Z", ending_before="2026-07-01T00:00:00Z"
    )
    assert [r["rate"]["price"] for r in window] == [10]
    assert bad(
        api.post(
            f"{CARDS}/getRateSchedule",
            json={
                "rate_card_id": card_id,
                "starting_at": "2026-01-01T00:00:00Z",
                "ending_before": "2025-01-01T00:00:00Z",
            },
        )
    ) == ("ending_before: must be after starting_at")


def test_an_ended_rate_leaves_a_gap(api: Any) -> None:
    product_id = product(api)
    card_id = card(api)
    ok(add(api, card_id, **flat(product_id, 10, ending_before="2026-02-01T00:00:00Z")))
    assert rates_at(api, card_id, "2026-02-01T00:00:00Z") == []
    assert len(rates_at(api, card_id, "2026-01-31T00:00:00Z")) == 1


def test_add_rates_is_all_or_nothing(api: Any) -> None:
    product_id = product(api)
    card_id = card(api)
    message = bad(
        add_many(
            api,
            card_id,
            [flat(product_id, 1), {**flat(product_id, 2), "price": -2}, {"rate_type": "FLAT"}],
        )
    )
    assert message == (
        "rates[1].price: Input should be greater than or equal to 0; "
        "rates[2].product_id: is required; rates[2].entitled: is required; "
        "rates[2].starting_at: is required; rates[2].price: is required for rate_type FLAT"
    )
    missing = str(uuid.uuid4())
    assert bad(add_many(api, card_id, [flat(product_id, 1), flat(missing, 1)])) == (
        f"rates[1].product_id: product {missing} not found"
    )
    assert schedule(api, card_id) == []  # nothing was added
    assert ok(
        add_many(
            api,
            card_id,
            [flat(product_id, 1), flat(product_id, 2, starting_at="2027-01-01T00:00:00Z")],
        )
    ) == {"data": {"id": card_id}}
    assert len(schedule(api, card_id)) == 2
    assert (
        bad(api.post(f"{CARDS}/addRates", json={"rate_card_id": card_id})) == "rates: is required"
    )
    assert (
        bad(api.post(f"{CARDS}/addRates", json={"rate_card_id": card_id, "rates": {}}))
        == "rates: must be a list of rates"
    )


def test_selectors(api: Any) -> None:
    metric_id = token_metric(api)
    usage = product(
        api,
        type="USAGE",
        billable_metric_id=metric_id,
        pricing_group_key=["model", "region"],
        tags=["ai"],
    )
    seat = product(api, type="SUBSCRIPTION", tags=["seats"])
    card_id = card(api)
    ok(
        add_many(
            api,
            card_id,
            [
                flat(usage, 1, pricing_group_values={"model": "a", "region": "us"}),
                flat(usage, 2, pricing_group_values={"model": "a", "region": "eu"}),
                flat(usage, 3, pricing_group_values={"model": "b", "region": "us"}),
                flat(seat, 100, billing_frequency="MONTHLY"),
                flat(seat, 1000, billing_frequency="ANNUAL"),
            ],
        )
    )

    def prices(*selectors: dict[str, Any]) -> list[float]:
        found = rates_at(api, card_id, "2026-05-01T00:00:00Z", selectors=list(selectors))
        return sorted(r["rate"]["price"] for r in found)

    assert prices() == [1, 2, 3, 100, 1000]
    assert prices({"product_id": seat}) == [100, 1000]
    assert prices({"product_tags": ["ai", "nope"]}) == [1, 2, 3]
    assert prices({"pricing_group_values": {"model": "a", "region": "eu"}}) == [2]
    assert prices({"pricing_group_values": {"model": "a"}}) == []  # all values must match
    assert prices({"partial_pricing_group_values": {"model": "a"}}) == [1, 2]
    assert prices({"billing_frequency": "ANNUAL"}) == [1000]
    assert prices(
        {"product_id": seat, "billing_frequency": "MONTHLY"},
        {"partial_pricing_group_values": {"region": "us"}},
    ) == [1, 3, 100]


def test_rate_pages(api: Any) -> None:
    product_id = product(api)
    card_id = card(api)
    ok(
        add_many(
            api,
            card_id,
            [flat(product_id, i, starting_at=f"20{30 + i}-01-01T00:00:00Z") for i in range(5)],
        )
    )
    seen: list[float] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        body = {"rate_card_id": card_id, "starting_at": "2000-01-01T00:00:00Z"}
        page = ok(api.post(f"{CARDS}/getRateSchedule", params=params, json=body))
        assert len(page["data"]) <= 2
        seen += [r["rate"]["price"] for r in page["data"]]
        if not page["next_page"]:
            break
        params["next_page"] = page["next_page"]
    assert seen == [0, 1, 2, 3, 4]


def test_rates_survive_a_restart(local_server_factory: Any, api_for: Any) -> None:
    server = local_server_factory()
    api = api_for(server)
    product_id = product(api)
    card_id = card(api)
    ok(add(api, card_id, **flat(product_id, 7)))
    before = schedule(api, card_id)
    server.restart()
    assert schedule(api_for(server), card_id) == before


def test_idempotent_add_rates_replays(fresh_server: Any, api_for: Any) -> None:
    api = api_for(fresh_server)
    product_id = product(api)
    card_id = card(api)
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"rate_card_id": card_id, "rates": [flat(product_id, 3)]}
    first = api.post(f"{CARDS}/addRates", json=body, headers=headers)
    again = api.post(f"{CARDS}/addRates", json=body, headers=headers)
    assert (first.status_code, first.json()) == (again.status_code, again.json())
    assert len(schedule(api, card_id)) == 1
    log = fresh_server.requests()
    assert sum(1 for e in log if e["path"].endswith("/addRates") and e.get("replayed")) == 1
