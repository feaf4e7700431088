"""``/v1/contract-pricing/products/*`` over real HTTP: every documented rule."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pricing_helpers import PRODUCTS, bad, get_product, name, ok, product, token_metric

from pulumi_metronome.models import Product


def test_create_and_get_a_fixed_product(api: Any) -> None:
    product_name = name()
    response = api.post(
        f"{PRODUCTS}/create", json={"name": product_name, "type": "FIXED", "tags": ["a"]}
    )
    body = ok(response)
    assert set(body) == {"data"} and set(body["data"]) == {"id"}
    product_id = body["data"]["id"]
    assert str(uuid.UUID(product_id)) == product_id

    got = get_product(api, product_id)
    assert set(got) == {"id", "type", "initial", "current", "updates", "custom_fields"}
    assert got["id"] == product_id
    assert got["type"] == "FIXED"
    assert got["updates"] == []
    assert got["custom_fields"] == {}
    assert got["initial"]["name"] == product_name
    assert got["initial"]["tags"] == ["a"]
    assert got["current"] == got["initial"]
    created = datetime.fromisoformat(got["initial"]["created_at"])
    assert abs(created - datetime.now(UTC)) < timedelta(minutes=1)
    assert got["initial"]["created_by"]
    Product.model_validate(got)  # the shared tolerant model reads it


def test_professional_service_is_answered_as_pro_service(api: Any) -> None:
    product_id = product(api, type="PROFESSIONAL_SERVICE")
    assert get_product(api, product_id)["type"] == "PRO_SERVICE"


def test_usage_product_with_its_metric_and_group_keys(api: Any) -> None:
    metric_id = token_metric(api)
    fields = {
        "type": "USAGE",
        "billable_metric_id": metric_id,
        "pricing_group_key": ["region"],
        "presentation_group_key": ["model"],  # union {region, model} = the compound key
        "quantity_conversion": {"conversion_factor": 1000, "operation": "DIVIDE", "name": "k"},
        "quantity_rounding": {"decimal_places": 2, "rounding_method": "ROUND_UP"},
        "sql_breakdown_granularity": "HOUR",
        "netsuite_overage_item_id": "ns-1",
    }
    current = get_product(api, product(api, **fields))["current"]
    for key, value in fields.items():
        if key != "type":
            assert current[key] == value, key


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "USAGE"}, "billable_metric_id: is required for USAGE products"),
        (
            {"type": "COMPOSITE"},
            "composite_product_ids: composite_product_ids or composite_tags is required for "
            "COMPOSITE products",
        ),
        (
            {"type": "BUNDLE"},
            "type: must be one of FIXED, USAGE, COMPOSITE, SUBSCRIPTION, "
            "PROFESSIONAL_SERVICE, PRO_SERVICE",
        ),
        ({"type": "FIXED", "name": " "}, "name: must not be empty"),
        ({"type": "FIXED", "colour": "red"}, "colour: is not a known field"),
        ({"type": "FIXED", "tags": "a"}, "tags: Input should be a valid list"),
        (
            {"type": "USAGE", "billable_metric_id": "m", "pricing_group_key": ["a", "a"]},
            "pricing_group_key: names a property more than once",
        ),
        (
            {
                "type": "USAGE",
                "billable_metric_id": "m",
                "quantity_conversion": {"conversion_factor": 0, "operation": "DIVIDE"},
            },
            "quantity_conversion.conversion_factor: Input should be greater than 0",
        ),
        (
            {
                "type": "USAGE",
                "billable_metric_id": "m",
                "quantity_conversion": {"conversion_factor": 2, "operation": "POWER"},
            },
            "quantity_conversion.operation: must be one of MULTIPLY, DIVIDE",
        ),
        (
            {
                "type": "USAGE",
                "billable_metric_id": "m",
                "quantity_rounding": {"decimal_places": 1.5, "rounding_method": "ROUND_UP"},
            },
            "quantity_rounding.decimal_places: must be a whole number",
        ),
        (
            {
                "type": "USAGE",
                "billable_metric_id": "m",
                "quantity_rounding": {"decimal_places": -1, "rounding_method": "ROUND_UP"},
            },
            "quantity_rounding.decimal_places: Input should be greater than or equal to 0",
        ),
        (
            {"type": "USAGE", "billable_metric_id": "m", "sql_breakdown_granularity": "DAY"},
            "sql_breakdown_granularity: must be one of HOUR, SERVICE_PERIOD",
        ),
    ],
)
def test_create_rules(api: Any, body: dict[str, Any], message: str) -> None:
    assert bad(api.post(f"{PRODUCTS}/create", json={"name": name(), **body})) == message


@pytest.mark.parametrize(
    ("field", "value", "types"),
    [
        ("billable_metric_id", "m", "USAGE"),
        ("pricing_group_key", ["a"], "USAGE"),
        ("presentation_group_key", ["a"], "USAGE"),
        ("quantity_conversion", {"conversion_factor": 2, "operation": "MULTIPLY"}, "USAGE"),
        ("quantity_rounding", {"decimal_places": 0, "rounding_method": "ROUND_DOWN"}, "USAGE"),
        ("sql_breakdown_granularity", "HOUR", "USAGE"),
        ("composite_product_ids", ["x"], "COMPOSITE"),
        ("composite_tags", ["x"], "COMPOSITE"),
        ("exclude_free_usage", True, "COMPOSITE"),
        ("include_composite_spend", True, "COMPOSITE"),
        ("netsuite_overage_item_id", "ns", "COMPOSITE and USAGE"),
    ],
)
def test_type_specific_fields_are_refused_on_other_types(
    api: Any, field: str, value: Any, types: str
) -> None:
    body = {"name": name(), "type": "SUBSCRIPTION", field: value}
    assert bad(api.post(f"{PRODUCTS}/create", json=body)) == (
        f"{field}: is only valid for {types} products, not SUBSCRIPTION"
    )


def test_fields_any_type_takes(api: Any) -> None:
    product_id = product(
        api,
        type="SUBSCRIPTION",
        tags=["t"],
        is_refundable=False,
        netsuite_internal_item_id="ns-9",
    )
    current = get_product(api, product_id)["current"]
    assert (current["tags"], current["is_refundable"], current["netsuite_internal_item_id"]) == (
        ["t"],
        False,
        "ns-9",
    )


def test_composite_product_by_tags_or_ids(api: Any) -> None:
    first = product(api, tags=["x"])
    by_ids = product(api, type="COMPOSITE", composite_product_ids=[first])
    by_tags = product(api, type="COMPOSITE", composite_tags=["x"], include_composite_spend=True)
    assert get_product(api, by_ids)["current"]["composite_product_ids"] == [first]
    assert get_product(api, by_tags)["current"]["include_composite_spend"] is True


def test_every_problem_in_one_message(api: Any) -> None:
    body = {"name": "", "type": "FIXED", "pricing_group_key": ["a"], "colour": 1}
    assert bad(api.post(f"{PRODUCTS}/create", json=body)) == (
        "name: must not be empty; colour: is not a known field; "
        "pricing_group_key: is only valid for USAGE products, not FIXED"
    )


def test_usage_metric_must_exist_and_be_live(api: Any) -> None:
    missing = str(uuid.uuid4())
    body = {"name": name(), "type": "USAGE", "billable_metric_id": missing}
    assert bad(api.post(f"{PRODUCTS}/create", json=body)) == (
        f"billable_metric_id: billable metric {missing} not found"
    )
    metric_id = api.create_metric()
    ok(api.post("/v1/billable-metrics/archive", json={"id": metric_id}))
    body["billable_metric_id"] = metric_id
    assert bad(api.post(f"{PRODUCTS}/create", json=body)) == (
        f"billable_metric_id: billable metric {metric_id} is archived"
    )


@pytest.mark.parametrize(
    ("pricing", "presentation", "accepted"),
    [
        (["model", "region"], None, True),
        (["region"], ["model"], True),  # the union is the compound key, in any order
        (["model"], None, True),  # the simple key
        (["model"], ["model"], True),
        (["region"], None, False),  # region alone is not a key
        (["model", "region"], ["tokens"], False),  # the union is larger than any key
        (None, ["region"], False),
    ],
)
def test_group_keys_union_must_be_one_metric_key(
    api: Any, pricing: list[str] | None, presentation: list[str] | None, accepted: bool
) -> None:
    metric_id = token_metric(api)
    body: dict[str, Any] = {"name": name(), "type": "USAGE", "billable_metric_id": metric_id}
    if pricing:
        body["pricing_group_key"] = pricing
    if presentation:
        body["presentation_group_key"] = presentation
    response = api.post(f"{PRODUCTS}/create", json=body)
    if accepted:
        ok(response)
    else:
        message = bad(response)
        assert "must be one compound group key of billable metric" in message
        assert metric_id in message


# --- updates --------------------------------------------------------------------------------


def _hour(delta_hours: int) -> str:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return (now + timedelta(hours=delta_hours)).isoformat().replace("+00:00", "Z")


def update(api: Any, product_id: str, starting_at: str, **fields: Any) -> Any:
    body = {"product_id": product_id, "starting_at": starting_at, **fields}
    return api.post(f"{PRODUCTS}/update", json=body)


@pytest.mark.parametrize(
    "starting_at",
    [
        "2026-01-01T00:30:00Z",
        "2026-01-01T00:00:01Z",
        "2026-01-01T00:00:00.5Z",
        "2026-01-01T00:00:00+05:30",
    ],
)
def test_update_must_be_on_an_hour_boundary(api: Any, starting_at: str) -> None:
    product_id = product(api)
    assert bad(update(api, product_id, starting_at, name="x")) == (
        "starting_at: Product update effective at is required to be on an hour boundary"
    )


def test_update_on_an_hour_in_another_zone_is_accepted(api: Any) -> None:
    ok(update(api, product(api), "2026-01-01T05:00:00+02:00", name="x"))


def test_update_needs_a_zone_and_the_product(api: Any) -> None:
    message = bad(update(api, product(api), "2026-01-01T00:00:00", name="x"))
    assert message.startswith("starting_at: ")
    assert "timezone" in message
    missing = str(uuid.uuid4())
    response = update(api, missing, "2026-01-01T00:00:00Z", name="x")
    assert response.status_code == 404
    assert response.json() == {"message": f"product {missing} not found", "code": "NotFound"}


@pytest.mark.parametrize(
    ("field", "value"), [("type", "USAGE"), ("custom_fields", {"a": "b"}), ("id", "x")]
)
def test_update_cannot_change_type_or_custom_fields(api: Any, field: str, value: Any) -> None:
    assert bad(update(api, product(api), _hour(1), **{field: value})) == (
        f"{field}: is not a known field"
    )


def test_update_checks_fields_against_the_stored_type(api: Any) -> None:
    assert bad(update(api, product(api), _hour(1), pricing_group_key=["a"])) == (
        "pricing_group_key: is only valid for USAGE products, not FIXED"
    )
    composite = product(api, type="COMPOSITE", composite_tags=["x"])
    assert bad(update(api, composite, _hour(1), composite_tags=[])) == (
        "composite_product_ids: composite_product_ids or composite_tags is required for "
        "COMPOSITE products"
    )


def test_update_checks_the_metric_and_group_keys(api: Any) -> None:
    metric_id = token_metric(api)
    usage = product(api, type="USAGE", billable_metric_id=metric_id)
    message = bad(update(api, usage, _hour(1), pricing_group_key=["region"]))
    assert message.startswith("pricing_group_key: the union of pricing_group_key and ")
    # The union with the presentation key already set is checked, not the new key alone.
    ok(update(api, usage, _hour(1), presentation_group_key=["model"]))
    ok(update(api, usage, _hour(2), pricing_group_key=["region"]))
    archived = api.create_metric()
    ok(api.post("/v1/billable-metrics/archive", json={"id": archived}))
    assert bad(update(api, usage, _hour(3), billable_metric_id=archived)) == (
        f"billable_metric_id: billable metric {archived} is archived"
    )


def test_past_update_changes_current_future_one_waits(api: Any) -> None:
    product_id = product(api, tags=["v1"])
    ok(update(api, product_id, _hour(-24), name="renamed"))
    ok(update(api, product_id, _hour(48), tags=["v3"]))
    got = get_product(api, product_id)
    assert got["current"]["name"] == "renamed"
    assert got["current"]["tags"] == ["v1"]  # omitted fields keep their value
    assert got["current"]["starting_at"] == _hour(-24).replace("Z", ".000Z")
    assert got["initial"]["name"] != "renamed"
    assert [u.get("name") for u in got["updates"]] == ["renamed", None]
    assert got["updates"][1]["tags"] == ["v3"]
    assert got["updates"][1]["starting_at"] == _hour(48).replace("Z", ".000Z")
    assert all(u["created_by"] and u["created_at"] for u in got["updates"])


def test_updates_apply_in_order_of_starting_at(api: Any) -> None:
    product_id = product(api)
    ok(update(api, product_id, _hour(-2), name="later"))
    ok(update(api, product_id, _hour(-5), name="earlier"))  # sent second, effective first
    assert get_product(api, product_id)["current"]["name"] == "later"


def test_archived_product_cannot_be_updated(api: Any) -> None:
    product_id = product(api)
    ok(api.post(f"{PRODUCTS}/archive", json={"product_id": product_id}))
    assert bad(update(api, product_id, _hour(1), name="x")) == (
        f"product {product_id} is archived; an archived product cannot be updated"
    )


# --- archive, list ----------------------------------------------------------------------------


def test_archive_is_final_and_idempotent(api: Any) -> None:
    product_id = product(api)
    assert ok(api.post(f"{PRODUCTS}/archive", json={"product_id": product_id})) == {
        "data": {"id": product_id}
    }
    first = get_product(api, product_id)["archived_at"]
    ok(api.post(f"{PRODUCTS}/archive", json={"product_id": product_id}))
    assert get_product(api, product_id)["archived_at"] == first
    missing = str(uuid.uuid4())
    response = api.post(f"{PRODUCTS}/archive", json={"product_id": missing})
    assert response.status_code == 404
    assert bad(api.post(f"{PRODUCTS}/archive", json={"id": product_id})) == (
        "product_id: is required; id: is not a known field"
    )


def test_get_unknown_is_404(api: Any) -> None:
    missing = str(uuid.uuid4())
    response = api.post(f"{PRODUCTS}/get", json={"id": missing})
    assert response.status_code == 404
    assert response.json() == {"message": f"product {missing} not found", "code": "NotFound"}


def _list(api: Any, **body: Any) -> list[str]:
    ids: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = ok(api.post(f"{PRODUCTS}/list", params=params, json=body))
        assert len(page["data"]) <= 2
        ids += [p["id"] for p in page["data"]]
        if not page["next_page"]:
            return ids
        params["next_page"] = page["next_page"]


def test_list_filters_archived_and_paginates(fresh_server: Any, api_for: Any) -> None:
    api = api_for(fresh_server)
    ids = [product(api) for _ in range(5)]
    ok(api.post(f"{PRODUCTS}/archive", json={"product_id": ids[1]}))
    live = [i for i in ids if i != ids[1]]
    assert _list(api) == live
    assert _list(api, archive_filter="NOT_ARCHIVED") == live
    assert _list(api, archive_filter="ARCHIVED") == [ids[1]]
    assert _list(api, archive_filter="ALL") == ids
    # No body at all is the default filter, as the SDK may send it.
    assert [p["id"] for p in ok(api.post(f"{PRODUCTS}/list"))["data"]] == live
    assert bad(api.post(f"{PRODUCTS}/list", json={"archive_filter": "SOME"})) == (
        "archive_filter: must be one of ARCHIVED, NOT_ARCHIVED, ALL"
    )
    assert bad(api.post(f"{PRODUCTS}/list", params={"next_page": "nope"}, json={})) == (
        "next_page: is not a valid cursor"
    )
    assert bad(api.post(f"{PRODUCTS}/list", params={"limit": 0}, json={})).startswith("limit: ")


# --- custom fields, auth, idempotency, persistence -------------------------------------------


def test_custom_fields_on_products(api: Any) -> None:
    key = name("k")
    body = {"name": name(), "type": "FIXED", "custom_fields": {key: "v"}}
    assert bad(api.post(f"{PRODUCTS}/create", json=body)) == (
        f"custom_fields['{key}']: is not a custom field key of contract_product; "
        "add it with /v1/customFields/addKey first"
    )
    api.add_key(key, entity="contract_product")
    product_id = str(ok(api.post(f"{PRODUCTS}/create", json=body))["data"]["id"])
    assert get_product(api, product_id)["custom_fields"] == {key: "v"}
    values = {"entity": "contract_product", "entity_id": product_id, "custom_fields": {key: "w"}}
    ok_response = api.post("/v1/customFields/setValues", json=values)
    assert ok_response.status_code == 200
    assert get_product(api, product_id)["custom_fields"] == {key: "w"}
    missing = {**values, "entity_id": str(uuid.uuid4())}
    assert api.post("/v1/customFields/setValues", json=missing).status_code == 404


def test_auth_is_required(local_server: Any, api_for: Any) -> None:
    anonymous = api_for(local_server, auth=False)
    assert anonymous.post(f"{PRODUCTS}/list", json={}).status_code == 401
    assert (
        anonymous.post(f"{PRODUCTS}/create", json={"name": "x", "type": "FIXED"}).status_code == 401
    )


def test_idempotent_create_makes_one_product(fresh_server: Any, api_for: Any) -> None:
    api = api_for(fresh_server)
    body = {"name": name(), "type": "FIXED"}
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    first = ok(api.post(f"{PRODUCTS}/create", json=body, headers=headers))
    again = ok(api.post(f"{PRODUCTS}/create", json=body, headers=headers))
    assert first == again
    assert len(ok(api.post(f"{PRODUCTS}/list", json={}))["data"]) == 1
    other = api.post(f"{PRODUCTS}/create", json={**body, "name": "other"}, headers=headers)
    assert other.status_code == 409


def test_products_survive_a_restart(local_server_factory: Any, api_for: Any) -> None:
    server = local_server_factory()
    api = api_for(server)
    product_id = product(api, tags=["kept"])
    ok(update(api, product_id, _hour(-1), name="kept"))
    before = get_product(api, product_id)
    server.restart()
    api = api_for(server)
    assert get_product(api, product_id) == before
