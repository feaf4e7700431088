"""``/v1/billable-metrics``: create, get, list (pagination), rename, archive."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest

from pulumi_metronome.models import BillableMetric

SUM_OF_TOKENS = {
    "aggregation_type": "sum",
    "aggregation_key": "tokens",
    "event_type_filter": {"in_values": ["completion"], "not_in_values": ["test"]},
    "property_filters": [
        {"name": "tokens", "exists": True},
        {"name": "region", "in_values": ["us", "eu"]},
        {"name": "model", "in_values": ["small", "large"], "not_in_values": ["tiny"]},
    ],
    "group_keys": [["region"], ["model", "region"]],
}


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_create_returns_a_uuid_and_get_returns_the_metric_as_given(api: Any) -> None:
    name = unique_name("tokens")
    response = api.post("/v1/billable-metrics/create", json={"name": name, **SUM_OF_TOKENS})
    assert response.status_code == 200
    assert set(response.json()) == {"data"}
    assert set(response.json()["data"]) == {"id"}
    metric_id = response.json()["data"]["id"]
    assert str(uuid.UUID(metric_id)) == metric_id

    response = api.get(f"/v1/billable-metrics/{metric_id}")
    assert response.status_code == 200
    assert response.json() == {
        "data": {
            "id": metric_id,
            "name": name,
            **SUM_OF_TOKENS,
            "aggregation_type": "SUM",
            "custom_fields": {},
        }
    }
    # The shared model parses what the server returns.
    parsed = BillableMetric.model_validate(response.json()["data"])
    assert parsed.spec.definition["aggregation_type"] == "SUM"


def test_unset_fields_are_absent(api: Any) -> None:
    metric_id = api.create_metric(name="bare")
    assert api.metric(metric_id) == {
        "id": metric_id,
        "name": "bare",
        "aggregation_type": "COUNT",
        "custom_fields": {},
    }


def test_null_fields_are_treated_as_absent(api: Any) -> None:
    metric_id = api.create_metric(name="nulls", sql=None, group_keys=None, aggregation_key=None)
    assert "sql" not in api.metric(metric_id)


def test_sql_metric(api: Any) -> None:
    sql = "select count(*) as value from events where event_type = 'completion'"
    metric_id = api.create_metric(sql=sql)
    metric = api.metric(metric_id)
    assert metric["sql"] == sql
    assert "aggregation_type" not in metric


def test_names_need_not_be_unique(api: Any) -> None:
    name = unique_name("same")
    first, second = api.create_metric(name=name), api.create_metric(name=name)
    assert first != second


def test_get_unknown_is_404_not_found(api: Any) -> None:
    response = api.get(f"/v1/billable-metrics/{uuid.uuid4()}")
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "NotFound"
    assert "not found" in body["message"]


def test_rename(api: Any) -> None:
    metric_id = api.create_metric(name="old", **SUM_OF_TOKENS)
    before = api.metric(metric_id)
    response = api.put(f"/v1/billable-metrics/{metric_id}", json={"name": "new"})
    assert response.status_code == 200
    assert response.json() == {"data": {"id": metric_id}}
    assert api.metric(metric_id) == {**before, "name": "new"}


def test_rename_unknown_is_404(api: Any) -> None:
    response = api.put(f"/v1/billable-metrics/{uuid.uuid4()}", json={"name": "x"})
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound"


def test_rename_archived_is_400(api: Any) -> None:
    metric_id = api.create_metric(name="kept")
    api.post("/v1/billable-metrics/archive", json={"id": metric_id})
    response = api.put(f"/v1/billable-metrics/{metric_id}", json={"name": "changed"})
    assert response.status_code == 400
    assert response.json() == {
        "message": f"billable metric {metric_id} is archived; an archived metric cannot be renamed"
    }
    assert api.metric(metric_id)["name"] == "kept"


def test_archive_sets_archived_at_once(api: Any) -> None:
    metric_id = api.create_metric()
    response = api.post("/v1/billable-metrics/archive", json={"id": metric_id})
    assert response.status_code == 200
    assert response.json() == {"data": {"id": metric_id}}
    archived_at = api.metric(metric_id)["archived_at"]
    assert archived_at.endswith("Z")
    assert datetime.fromisoformat(archived_at).tzinfo is not None

    again = api.post("/v1/billable-metrics/archive", json={"id": metric_id})
    assert again.status_code == 200
    assert api.metric(metric_id)["archived_at"] == archived_at


def test_archive_unknown_is_404(api: Any) -> None:
    response = api.post("/v1/billable-metrics/archive", json={"id": str(uuid.uuid4())})
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "id: is required"),
        ({"id": ""}, "id: must not be empty"),
        ({"id": 5}, "id: Input should be a valid string"),
    ],
)
def test_archive_bad_body_is_400(api: Any, body: Any, message: str) -> None:
    response = api.post("/v1/billable-metrics/archive", json=body)
    assert response.status_code == 400
    assert response.json() == {"message": message}


def test_unknown_route_and_method_use_the_error_shape(api: Any) -> None:
    response = api.get("/v1/no-such-thing")
    assert response.status_code == 404
    assert "message" in response.json()
    response = api.request("DELETE", f"/v1/billable-metrics/{uuid.uuid4()}")
    assert response.status_code == 405
    assert response.json() == {"message": "Method Not Allowed"}


# --- listing -------------------------------------------------------------------------------


@pytest.fixture
def fresh(fresh_server: Any, api_for: Any) -> Any:
    """A client of an empty server."""
    return api_for(fresh_server)


def test_list_is_in_creation_order_and_pages_with_an_opaque_cursor(fresh: Any) -> None:
    ids = [fresh.create_metric(name=f"m{i}") for i in range(7)]
    pages = []
    params: dict[str, Any] = {"limit": 3}
    while True:
        page = fresh.get("/v1/billable-metrics", params=params).json()
        pages.append(page)
        if page["next_page"] is None:
            break
        params["next_page"] = page["next_page"]
    assert [len(p["data"]) for p in pages] == [3, 3, 1]
    assert [m["id"] for p in pages for m in p["data"]] == ids
    assert [m["name"] for p in pages for m in p["data"]] == [f"m{i}" for i in range(7)]
    assert isinstance(pages[0]["next_page"], str)


def test_exact_multiple_of_the_limit_ends_with_a_null_cursor(fresh: Any) -> None:
    for _ in range(4):
        fresh.create_metric()
    first = fresh.get("/v1/billable-metrics", params={"limit": 2}).json()
    second = fresh.get(
        "/v1/billable-metrics", params={"limit": 2, "next_page": first["next_page"]}
    ).json()
    assert len(second["data"]) == 2
    assert second["next_page"] is None


def test_list_of_an_empty_server(fresh: Any) -> None:
    assert fresh.get("/v1/billable-metrics").json() == {"data": [], "next_page": None}


def test_default_page_is_100(fresh: Any) -> None:
    for _ in range(101):
        fresh.create_metric()
    page = fresh.get("/v1/billable-metrics").json()
    assert len(page["data"]) == 100
    assert page["next_page"] is not None


def test_archived_metrics_are_listed_only_on_request(fresh: Any) -> None:
    ids = [fresh.create_metric(name=f"m{i}") for i in range(6)]
    archived = {ids[1], ids[2], ids[5]}
    for metric_id in archived:
        fresh.post("/v1/billable-metrics/archive", json={"id": metric_id})

    live = fresh.list_all(limit=2)
    assert [m["id"] for m in live] == [i for i in ids if i not in archived]
    assert all("archived_at" not in m for m in live)

    everything = fresh.list_all(limit=2, include_archived="true")
    assert [m["id"] for m in everything] == ids
    assert {m["id"] for m in everything if "archived_at" in m} == archived

    assert [m["id"] for m in fresh.list_all(limit=4, include_archived="false")] == [
        i for i in ids if i not in archived
    ]


def test_cursor_survives_archiving_between_pages(fresh: Any) -> None:
    ids = [fresh.create_metric() for _ in range(5)]
    first = fresh.get("/v1/billable-metrics", params={"limit": 2}).json()
    fresh.post("/v1/billable-metrics/archive", json={"id": ids[2]})
    rest = fresh.list_all(limit=2, next_page=first["next_page"])
    assert [m["id"] for m in first["data"] + rest] == [ids[0], ids[1], ids[3], ids[4]]


def test_a_custom_fields_cursor_is_not_a_metrics_cursor(fresh: Any) -> None:
    for i in range(101):
        fresh.add_key(f"k{i}")
    cursor = fresh.post("/v1/customFields/listKeys", json={}).json()["next_page"]
    assert cursor
    response = fresh.get("/v1/billable-metrics", params={"next_page": cursor})
    assert response.status_code == 400
    assert response.json() == {"message": "next_page: is not a valid cursor"}
