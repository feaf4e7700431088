"""Every rule of the shared models, enforced by the server with its exact message.

A rejected create is a 400 ``{"message": ...}`` naming every problem, and writes nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from metronome_local.process import LocalServer

CREATE = "/v1/billable-metrics/create"
SQL_CLASH = "cannot be set together with sql; sql is mutually exclusive with it"
FILTERED_KEY = "The specified aggregation key must be one of the property filter names."


def tokens_filter(**extra: Any) -> dict[str, Any]:
    return {"name": "tokens", "exists": True, **extra}


# (body, the exact message of the 400)
RULES: dict[str, tuple[Any, str]] = {
    "name missing": ({"aggregation_type": "COUNT"}, "name: is required"),
    "name empty": ({"name": "", "aggregation_type": "COUNT"}, "name: must not be empty"),
    "name blank": ({"name": "  \t", "aggregation_type": "COUNT"}, "name: must not be empty"),
    "name not a string": (
        {"name": 5, "aggregation_type": "COUNT"},
        "name: Input should be a valid string",
    ),
    "unknown field": (
        {"name": "m", "aggregation_type": "COUNT", "colour": "red"},
        "colour: is not a known field",
    ),
    "aggregation_type unknown": (
        {"name": "m", "aggregation_type": "AVERAGE"},
        "aggregation_type: must be one of COUNT, LATEST, MAX, SUM, UNIQUE (any case)",
    ),
    "aggregation_type not a string": (
        {"name": "m", "aggregation_type": 3},
        "aggregation_type: must be one of COUNT, LATEST, MAX, SUM, UNIQUE (any case)",
    ),
    "aggregation_type required without sql": (
        {"name": "m"},
        "aggregation_type: is required when sql is not provided",
    ),
    "aggregation_type null is absent": (
        {"name": "m", "aggregation_type": None},
        "aggregation_type: is required when sql is not provided",
    ),
    "aggregation_key empty": (
        {
            "name": "m",
            "aggregation_type": "SUM",
            "aggregation_key": "",
            "property_filters": [tokens_filter()],
        },
        "aggregation_key: must not be empty",
    ),
    "aggregation_key required for SUM": (
        {"name": "m", "aggregation_type": "SUM", "property_filters": [tokens_filter()]},
        "aggregation_key: is required for aggregation type SUM",
    ),
    "aggregation_key required for MAX": (
        {"name": "m", "aggregation_type": "max"},
        "aggregation_key: is required for aggregation type MAX",
    ),
    "aggregation_key required for LATEST": (
        {"name": "m", "aggregation_type": "Latest"},
        "aggregation_key: is required for aggregation type LATEST",
    ),
    "aggregation_key required for UNIQUE": (
        {"name": "m", "aggregation_type": "UNIQUE"},
        "aggregation_key: is required for aggregation type UNIQUE",
    ),
    "aggregation_key not for COUNT": (
        {
            "name": "m",
            "aggregation_type": "COUNT",
            "aggregation_key": "tokens",
            "property_filters": [tokens_filter()],
        },
        "aggregation_key: is not applicable to aggregation type COUNT",
    ),
    "aggregation_key must be filtered": (
        {"name": "m", "aggregation_type": "SUM", "aggregation_key": "tokens"},
        f"aggregation_key: {FILTERED_KEY}",
    ),
    "aggregation_key must match a filter name": (
        {
            "name": "m",
            "aggregation_type": "SUM",
            "aggregation_key": "tokens",
            "property_filters": [{"name": "region", "exists": True}],
        },
        f"aggregation_key: {FILTERED_KEY}",
    ),
    "event_type_filter in_values empty": (
        {"name": "m", "aggregation_type": "COUNT", "event_type_filter": {"in_values": []}},
        "event_type_filter.in_values: must be non-empty when present",
    ),
    "event_type_filter not_in_values empty": (
        {"name": "m", "aggregation_type": "COUNT", "event_type_filter": {"not_in_values": []}},
        "event_type_filter.not_in_values: must be non-empty when present",
    ),
    "event_type_filter unknown field": (
        {"name": "m", "aggregation_type": "COUNT", "event_type_filter": {"values": ["a"]}},
        "event_type_filter.values: is not a known field",
    ),
    "event_type_filter values not strings": (
        {"name": "m", "aggregation_type": "COUNT", "event_type_filter": {"in_values": [1]}},
        "event_type_filter.in_values[0]: Input should be a valid string",
    ),
    "property_filters not a list": (
        {"name": "m", "aggregation_type": "COUNT", "property_filters": "tokens"},
        "property_filters: Input should be a valid list",
    ),
    "property filter name missing": (
        {"name": "m", "aggregation_type": "COUNT", "property_filters": [{"exists": True}]},
        "property_filters[0].name: is required",
    ),
    "property filter name empty": (
        {"name": "m", "aggregation_type": "COUNT", "property_filters": [{"name": ""}]},
        "property_filters[0].name: must not be empty",
    ),
    "property filter exists not a bool": (
        {
            "name": "m",
            "aggregation_type": "COUNT",
            "property_filters": [{"name": "a", "exists": "yes"}],
        },
        "property_filters[0].exists: Input should be a valid boolean",
    ),
    "property filter in_values empty": (
        {
            "name": "m",
            "aggregation_type": "COUNT",
            "property_filters": [{"name": "a", "exists": True}, {"name": "b", "in_values": []}],
        },
        "property_filters[1].in_values: must be non-empty when present",
    ),
    "property filter not_in_values empty": (
        {
            "name": "m",
            "aggregation_type": "COUNT",
            "property_filters": [{"name": "a", "not_in_values": []}],
        },
        "property_filters[0].not_in_values: must be non-empty when present",
    ),
    "property filter unknown field": (
        {
            "name": "m",
            "aggregation_type": "COUNT",
            "property_filters": [{"name": "a", "equals": "x"}],
        },
        "property_filters[0].equals: is not a known field",
    ),
    "property filtered twice": (
        {
            "name": "m",
            "aggregation_type": "COUNT",
            "property_filters": [{"name": "a", "exists": True}, {"name": "a", "in_values": ["x"]}],
        },
        "property_filters[1].name: 'a' is filtered twice; give each property one filter",
    ),
    "group key empty": (
        {"name": "m", "aggregation_type": "COUNT", "group_keys": [[]]},
        "group_keys[0]: must not be empty",
    ),
    "group key property empty": (
        {"name": "m", "aggregation_type": "COUNT", "group_keys": [[""]]},
        "group_keys[0][0]: must not be empty",
    ),
    "group key not filtered": (
        {
            "name": "m",
            "aggregation_type": "COUNT",
            "property_filters": [{"name": "region", "exists": True}],
            "group_keys": [["region"], ["model"]],
        },
        "group_keys[1]: Group key 'model' does not match one of the property filter names.",
    ),
    "group key filter must require the property": (
        {
            "name": "m",
            "aggregation_type": "COUNT",
            "property_filters": [{"name": "region", "not_in_values": ["eu"]}],
            "group_keys": [["region"]],
        },
        "group_keys[0]: Group key 'region' must have a property filter with exists: true "
        "or in_values.",
    ),
    "group key filter exists false is not enough": (
        {
            "name": "m",
            "aggregation_type": "COUNT",
            "property_filters": [{"name": "region", "exists": False}],
            "group_keys": [["region"]],
        },
        "group_keys[0]: Group key 'region' must have a property filter with exists: true "
        "or in_values.",
    ),
    "sql empty": ({"name": "m", "sql": ""}, "sql: must not be empty"),
    "sql blank": ({"name": "m", "sql": "   "}, "sql: must not be empty when present"),
    "sql excludes aggregation_type": (
        {"name": "m", "sql": "select count(*) from events", "aggregation_type": "COUNT"},
        f"aggregation_type: {SQL_CLASH}",
    ),
    "sql excludes every definition field": (
        {
            "name": "m",
            "sql": "select count(*) from events",
            "aggregation_type": "SUM",
            "aggregation_key": "tokens",
            "event_type_filter": {"in_values": ["completion"]},
            "property_filters": [tokens_filter()],
            "group_keys": [["tokens"]],
        },
        "; ".join(
            f"{field}: {SQL_CLASH}"
            for field in (
                "aggregation_key",
                "aggregation_type",
                "event_type_filter",
                "group_keys",
                "property_filters",
            )
        ),
    ),
    "custom field value too long": (
        {"name": "m", "aggregation_type": "COUNT", "custom_fields": {"team": "x" * 201}},
        "custom_fields['team']: is longer than 200 characters",
    ),
    "custom field value not a string": (
        {"name": "m", "aggregation_type": "COUNT", "custom_fields": {"team": 7}},
        "custom_fields['team']: Input should be a valid string",
    ),
    "custom field key empty": (
        {"name": "m", "aggregation_type": "COUNT", "custom_fields": {"": "x"}},
        "custom_fields[''] key: must not be empty",
    ),
    "custom field key not on the allow list": (
        {"name": "m", "aggregation_type": "COUNT", "custom_fields": {"never-added": "x"}},
        "custom_fields['never-added']: is not a custom field key of billable_metric; "
        "add it with /v1/customFields/addKey first",
    ),
    "body not an object": (["name", "m"], "the body must be a JSON object"),
    "body null": (None, "the body must be a JSON object"),
}


@pytest.fixture(scope="module")
def server() -> Any:
    """A server of this module's own, so 'nothing was written' can be checked exactly.
    Custom field key ``team`` is on its billable_metric allow list."""
    with LocalServer() as server:
        response = requests.post(
            f"{server.url}/v1/customFields/addKey",
            json={"entity": "billable_metric", "key": "team", "enforce_uniqueness": False},
            headers=server.headers,
            timeout=10,
        )
        assert response.status_code == 200, response.text
        yield server


@pytest.fixture
def client(server: LocalServer, api_for: Any) -> Any:
    return api_for(server)


def metric_count(client: Any) -> int:
    return len(client.list_all(include_archived="true", limit=100))


@pytest.mark.parametrize(("body", "message"), RULES.values(), ids=RULES.keys())
def test_rule_is_enforced_with_its_message(client: Any, body: Any, message: str) -> None:
    before = metric_count(client)
    response = client.post(CREATE, json=body)
    assert response.status_code == 400, response.text
    assert response.json() == {"message": message}
    assert metric_count(client) == before


def test_every_problem_is_named_in_one_message(client: Any) -> None:
    client.add_key("validation-known")
    body = {
        "name": "",
        "aggregation_type": "SUM",
        "aggregation_key": "tokens",
        "property_filters": [{"name": "region", "in_values": []}, {"name": "model"}],
        "group_keys": [["model"]],
        "event_type_filter": {"not_in_values": []},
        "custom_fields": {"validation-known": "ok", "unknown-a": "1", "unknown-b": "2"},
        "extra": 1,
    }
    before = metric_count(client)
    response = client.post(CREATE, json=body)
    assert response.status_code == 400
    assert response.json()["message"] == "; ".join(
        [
            "name: must not be empty",
            "event_type_filter.not_in_values: must be non-empty when present",
            "property_filters[0].in_values: must be non-empty when present",
            "extra: is not a known field",
            "custom_fields['unknown-a']: is not a custom field key of billable_metric; "
            "add it with /v1/customFields/addKey first",
            "custom_fields['unknown-b']: is not a custom field key of billable_metric; "
            "add it with /v1/customFields/addKey first",
        ]
    )
    assert metric_count(client) == before


def test_cross_field_problems_are_all_named(client: Any) -> None:
    body = {
        "name": "m",
        "aggregation_type": "SUM",
        "aggregation_key": "tokens",
        "property_filters": [{"name": "region", "not_in_values": ["x"]}],
        "group_keys": [["region", "model"]],
    }
    response = client.post(CREATE, json=body)
    assert response.status_code == 400
    assert response.json()["message"] == (
        f"aggregation_key: {FILTERED_KEY.removesuffix('.')}; "
        "group_keys[0]: Group key 'region' must have a property filter with exists: true "
        "or in_values; "
        "group_keys[0]: Group key 'model' does not match one of the property filter names."
    )


def test_a_malformed_field_is_reported_once(client: Any) -> None:
    # aggregation_type is malformed, so "aggregation_key is required for ..." is not added.
    response = client.post(CREATE, json={"name": "m", "aggregation_type": "sumx"})
    assert response.json() == {
        "message": "aggregation_type: must be one of COUNT, LATEST, MAX, SUM, UNIQUE (any case)"
    }


@pytest.mark.parametrize("kind", ["count", "Count", "COUNT", "cOuNt"])
def test_aggregation_type_any_case_is_stored_upper(client: Any, kind: str) -> None:
    metric_id = client.create_metric(aggregation_type=kind)
    assert client.metric(metric_id)["aggregation_type"] == "COUNT"


@pytest.mark.parametrize(
    "body",
    [
        {"sql": "select count(*) from events"},
        {"aggregation_type": "COUNT", "event_type_filter": {"in_values": ["a"]}},
        {
            "aggregation_type": "unique",
            "aggregation_key": "user",
            "property_filters": [
                {"name": "user", "exists": True},
                {"name": "region", "in_values": ["eu", "us"]},
                {"name": "tier", "not_in_values": ["free"], "exists": True},
            ],
            "group_keys": [["region"], ["region", "tier"]],
        },
    ],
    ids=["sql", "count with event filter", "unique with compound group key"],
)
def test_valid_bodies_are_accepted(client: Any, body: dict[str, Any]) -> None:
    metric_id = client.create_metric(**body)
    stored = client.metric(metric_id)
    for field, value in body.items():
        expected = value.upper() if field == "aggregation_type" else value
        assert stored[field] == expected


def test_bad_json_is_a_400(client: Any) -> None:
    response = client.post(CREATE, data=b'{"name": ', headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["message"].startswith("the body is not valid JSON: ")


def test_empty_body_is_a_400(client: Any) -> None:
    response = client.post(CREATE, data=b"")
    assert response.status_code == 400
    assert response.json() == {"message": "the body must be a JSON object"}


def test_unpaired_surrogate_is_a_400_not_a_crash(client: Any) -> None:
    response = client.post(
        CREATE,
        data=b'{"name": "\\ud800", "aggregation_type": "COUNT"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["message"].startswith("the body is not valid JSON")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=0", "limit: Input should be greater than or equal to 1"),
        ("limit=101", "limit: Input should be less than or equal to 100"),
        (
            "limit=ten",
            "limit: Input should be a valid integer, unable to parse string as an integer",
        ),
        (
            "include_archived=maybe",
            "include_archived: Input should be a valid boolean, unable to interpret input",
        ),
        (
            "limit=0&include_archived=maybe",
            "limit: Input should be greater than or equal to 1; "
            "include_archived: Input should be a valid boolean, unable to interpret input",
        ),
        ("next_page=not-a-cursor", "next_page: is not a valid cursor"),
    ],
)
def test_bad_query_parameters_are_400_never_422(client: Any, query: str, message: str) -> None:
    response = client.get(f"/v1/billable-metrics?{query}")
    assert response.status_code == 400
    assert response.json() == {"message": message}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "name: is required"),
        ({"name": ""}, "name: must not be empty"),
        ({"name": "   "}, "name: must not be empty"),
        ({"name": "x", "sql": "select 1"}, "sql: is not a known field"),
        ("x", "the body must be a JSON object"),
    ],
)
def test_rename_validation(client: Any, body: Any, message: str) -> None:
    metric_id = client.create_metric(name="before-rename")
    response = client.put(f"/v1/billable-metrics/{metric_id}", json=body)
    assert response.status_code == 400
    assert response.json() == {"message": message}
    assert client.metric(metric_id)["name"] == "before-rename"
