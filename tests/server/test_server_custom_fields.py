"""``/v1/customFields/*``: keys on the allow list, values on billable metrics."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from pulumi_metronome.models import CUSTOM_FIELD_ENTITIES, CUSTOM_FIELD_VALUE_MAX_LENGTH

ADD, LIST, SET, DELETE, REMOVE = (
    f"/v1/customFields/{op}"
    for op in ("addKey", "listKeys", "setValues", "deleteValues", "removeKey")
)


def key_name() -> str:
    return f"key-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def fresh(fresh_server: Any, api_for: Any) -> Any:
    """A client of an empty server."""
    return api_for(fresh_server)


def set_values(api: Any, metric_id: str, values: dict[str, Any]) -> Any:
    return api.post(
        SET, json={"entity": "billable_metric", "entity_id": metric_id, "custom_fields": values}
    )


def test_changes_answer_200_with_an_empty_body(api: Any) -> None:
    key = key_name()
    metric_id = api.create_metric()
    for path, body in [
        (ADD, {"entity": "billable_metric", "key": key, "enforce_uniqueness": False}),
        (SET, {"entity": "billable_metric", "entity_id": metric_id, "custom_fields": {key: "v"}}),
        (DELETE, {"entity": "billable_metric", "entity_id": metric_id, "keys": [key]}),
        (REMOVE, {"entity": "billable_metric", "key": key}),
    ]:
        response = api.post(path, json=body)
        assert (response.status_code, response.content) == (200, b""), path


def test_keys_can_be_added_for_every_entity_kind_and_listed(fresh: Any) -> None:
    for index, entity in enumerate(CUSTOM_FIELD_ENTITIES):
        fresh.add_key(f"k{index}", entity=entity, unique=index % 2 == 0)
    page = fresh.post(LIST, json={}).json()
    assert page["next_page"] is None
    assert page["data"] == [
        {"entity": entity, "key": f"k{index}", "enforce_uniqueness": index % 2 == 0}
        for index, entity in enumerate(CUSTOM_FIELD_ENTITIES)
    ]


def test_list_keys_filters_by_entity(fresh: Any) -> None:
    fresh.add_key("a", entity="customer")
    fresh.add_key("b", entity="billable_metric")
    fresh.add_key("c", entity="plan")
    listed = fresh.post(LIST, json={"entities": ["plan", "billable_metric"]}).json()["data"]
    assert [k["key"] for k in listed] == ["b", "c"]
    assert [k["key"] for k in fresh.post(LIST, json={"entities": []}).json()["data"]] == [
        "a",
        "b",
        "c",
    ]
    assert len(fresh.post(LIST).json()["data"]) == 3  # no body at all


def test_list_keys_pages_with_next_page_in_the_query(fresh: Any) -> None:
    for index in range(230):
        fresh.add_key(f"k{index:03}", entity="billable_metric" if index % 2 else "customer")
    keys: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"next_page": cursor} if cursor else {}
        page = fresh.post(LIST, params=params, json={}).json()
        pages += 1
        keys += [k["key"] for k in page["data"]]
        cursor = page["next_page"]
        if cursor is None:
            break
    assert pages == 3
    assert keys == [f"k{index:03}" for index in range(230)]

    only_metrics: list[str] = []
    cursor = None
    while True:
        params = {"next_page": cursor} if cursor else {}
        page = fresh.post(LIST, params=params, json={"entities": ["billable_metric"]}).json()
        only_metrics += [k["key"] for k in page["data"]]
        if not (cursor := page["next_page"]):
            break
    assert only_metrics == [f"k{index:03}" for index in range(1, 230, 2)]


def test_bad_list_keys_requests(api: Any) -> None:
    response = api.post(LIST, json={"entities": ["galaxy"]})
    assert response.status_code == 400
    assert response.json()["message"].startswith(
        "entities[0]: must be one of alert, billable_metric, charge,"
    )
    response = api.post(LIST, params={"next_page": "garbage"}, json={})
    assert response.json() == {"message": "next_page: is not a valid cursor"}


def test_duplicate_key_is_400(api: Any) -> None:
    key = key_name()
    api.add_key(key)
    response = api.post(
        ADD, json={"entity": "billable_metric", "key": key, "enforce_uniqueness": True}
    )
    assert response.status_code == 400
    assert response.json() == {"message": "Duplicate custom field key"}
    # The same key on another entity kind is another key.
    api.add_key(key, entity="customer")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"entity": "billable_metric", "key": "k"}, "enforce_uniqueness: is required"),
        (
            {"entity": "billable_metric", "key": "", "enforce_uniqueness": False},
            "key: must not be empty",
        ),
        (
            {"entity": "billable_metric", "key": "k" * 101, "enforce_uniqueness": False},
            "key: is longer than 100 characters",
        ),
        (
            {"entity": "billable_metric", "key": "k", "enforce_uniqueness": "yes"},
            "enforce_uniqueness: Input should be a valid boolean",
        ),
        ({"entity": "nope", "key": "k", "enforce_uniqueness": False}, None),
        (
            {"entity": "billable_metric", "key": "k", "enforce_uniqueness": False, "x": 1},
            "x: is not a known field",
        ),
        ([], "the body must be a JSON object"),
    ],
)
def test_add_key_validation(api: Any, body: Any, message: str | None) -> None:
    before = api.post(LIST, json={}).json()
    response = api.post(ADD, json=body)
    assert response.status_code == 400
    if message is None:
        assert response.json()["message"].startswith(
            "entity: must be one of alert, billable_metric"
        )
    else:
        assert response.json() == {"message": message}
    assert api.post(LIST, json={}).json() == before


def test_set_values_overwrites_named_keys_and_keeps_others(api: Any) -> None:
    team, tier = key_name(), key_name()
    api.add_key(team)
    api.add_key(tier)
    metric_id = api.create_metric(custom_fields={team: "core"})
    assert api.metric(metric_id)["custom_fields"] == {team: "core"}
    assert set_values(api, metric_id, {tier: "gold"}).status_code == 200
    assert set_values(api, metric_id, {team: "billing"}).status_code == 200
    assert api.metric(metric_id)["custom_fields"] == {team: "billing", tier: "gold"}
    # Listing shows them too.
    listed = {m["id"]: m for m in api.list_all()}
    assert listed[metric_id]["custom_fields"] == {team: "billing", tier: "gold"}


def test_set_values_is_all_or_nothing_and_names_every_problem(api: Any) -> None:
    team, tier = key_name(), key_name()
    api.add_key(team)
    api.add_key(tier)
    metric_id = api.create_metric(custom_fields={team: "core"})
    too_long = "x" * (CUSTOM_FIELD_VALUE_MAX_LENGTH + 1)
    response = set_values(api, metric_id, {team: "changed", tier: too_long, "unknown": "v"})
    assert response.status_code == 400
    assert response.json() == {
        "message": f"custom_fields['{tier}']: is longer than 200 characters; "
        "custom_fields['unknown']: is not a custom field key of billable_metric; "
        "add it with /v1/customFields/addKey first"
    }
    assert api.metric(metric_id)["custom_fields"] == {team: "core"}


def test_value_of_exactly_the_maximum_length_is_accepted(api: Any) -> None:
    key = key_name()
    api.add_key(key)
    metric_id = api.create_metric()
    value = "v" * CUSTOM_FIELD_VALUE_MAX_LENGTH
    assert set_values(api, metric_id, {key: value}).status_code == 200
    assert api.metric(metric_id)["custom_fields"] == {key: value}


def test_set_values_on_unknown_metric_is_404(api: Any) -> None:
    key = key_name()
    api.add_key(key)
    response = set_values(api, str(uuid.uuid4()), {key: "v"})
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound"


def test_values_for_other_entity_kinds_are_400(api: Any) -> None:
    key = key_name()
    api.add_key(key, entity="customer")
    body = {"entity": "customer", "entity_id": "c-1", "custom_fields": {key: "v"}}
    response = api.post(SET, json=body)
    assert response.status_code == 400
    assert response.json() == {
        "message": "entity: the local server stores custom field values only for "
        "billable_metric, contract_product, rate_card, not customer"
    }
    body = {"entity": "customer", "entity_id": "c-1", "keys": [key]}
    assert api.post(DELETE, json=body).status_code == 400


def test_enforce_uniqueness(api: Any) -> None:
    key = key_name()
    api.add_key(key, unique=True)
    first = api.create_metric(custom_fields={key: "same"})
    second = api.create_metric()
    response = set_values(api, second, {key: "same"})
    assert response.status_code == 400
    assert response.json() == {
        "message": f"custom_fields['{key}']: value 'same' is already used by another "
        f"billable_metric, and key '{key}' enforces uniqueness"
    }
    response = api.post(
        "/v1/billable-metrics/create",
        json={"name": "dup", "aggregation_type": "COUNT", "custom_fields": {key: "same"}},
    )
    assert response.status_code == 400
    # Setting the value a metric already has is fine; other values are fine.
    assert set_values(api, first, {key: "same"}).status_code == 200
    assert set_values(api, second, {key: "other"}).status_code == 200


def test_delete_values(api: Any) -> None:
    team, tier = key_name(), key_name()
    api.add_key(team)
    api.add_key(tier)
    metric_id = api.create_metric(custom_fields={team: "core", tier: "gold"})
    body = {"entity": "billable_metric", "entity_id": metric_id, "keys": [team, "never-set"]}
    assert api.post(DELETE, json=body).status_code == 200
    assert api.metric(metric_id)["custom_fields"] == {tier: "gold"}
    unknown = {**body, "entity_id": str(uuid.uuid4())}
    assert api.post(DELETE, json=unknown).status_code == 404


def test_remove_key_removes_its_values(api: Any) -> None:
    team, tier = key_name(), key_name()
    api.add_key(team)
    api.add_key(tier)
    metric_id = api.create_metric(custom_fields={team: "core", tier: "gold"})
    response = api.post(REMOVE, json={"entity": "billable_metric", "key": team})
    assert response.status_code == 200
    assert api.metric(metric_id)["custom_fields"] == {tier: "gold"}
    assert team not in [k["key"] for k in api.post(LIST, json={}).json()["data"]]
    # No longer on the allow list.
    assert set_values(api, metric_id, {team: "x"}).status_code == 400


def test_remove_unknown_key_is_404(api: Any) -> None:
    response = api.post(REMOVE, json={"entity": "billable_metric", "key": key_name()})
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound"


def test_values_on_archived_metrics_can_still_change(api: Any) -> None:
    key = key_name()
    api.add_key(key)
    metric_id = api.create_metric()
    api.post("/v1/billable-metrics/archive", json={"id": metric_id})
    assert set_values(api, metric_id, {key: "v"}).status_code == 200
    assert api.metric(metric_id)["custom_fields"] == {key: "v"}


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (SET, {"entity": "billable_metric", "custom_fields": {}}, "entity_id: is required"),
        (
            SET,
            {"entity": "billable_metric", "entity_id": "x", "custom_fields": {"k": 1}},
            "custom_fields['k']: Input should be a valid string",
        ),
        (DELETE, {"entity": "billable_metric", "entity_id": "x"}, "keys: is required"),
        (
            DELETE,
            {"entity": "billable_metric", "entity_id": "x", "keys": "k"},
            "keys: Input should be a valid list",
        ),
        (REMOVE, {"entity": "billable_metric"}, "key: is required"),
        (REMOVE, {"entity": "billable_metric", "key": ""}, "key: must not be empty"),
    ],
)
def test_value_endpoint_validation(api: Any, path: str, body: Any, message: str) -> None:
    response = api.post(path, json=body)
    assert response.status_code == 400
    assert response.json() == {"message": message}
