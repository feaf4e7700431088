"""``/v1/customers`` over HTTP: create, get, list, archive, ingest aliases, and their rules."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from metronome_local.process import LocalServer

if TYPE_CHECKING:
    # Only for annotations: importing the name "conftest" at run time picks whichever
    # conftest.py pytest loaded last (tests/provider's in a whole-suite run).
    from conftest import ApiClient


def unique_name(prefix: str = "metric") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create(api: ApiClient, **fields: Any) -> dict[str, Any]:
    body = {"name": unique_name("customer"), **fields}
    response = api.post("/v1/customers", json=body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def alias() -> str:
    return f"alias-{uuid.uuid4().hex[:12]}"


def test_create_answers_the_customer(api: ApiClient) -> None:
    a, b = alias(), alias()
    data = create(api, name="Acme Corp", ingest_aliases=[a, b])
    uuid.UUID(data["id"])
    assert data == {
        "id": data["id"],
        "name": "Acme Corp",
        "external_id": a,  # the first id an event may use
        "ingest_aliases": [a, b],
        "custom_fields": {},
    }


def test_get_answers_the_details(api: ApiClient) -> None:
    ext = alias()
    created = create(api, name="Globex", external_id=ext)
    response = api.get(f"/v1/customers/{created['id']}")
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["id"] == created["id"]
    assert data["name"] == "Globex"
    assert data["external_id"] == ext
    assert data["ingest_aliases"] == [ext]  # Metronome lists the external id as an alias
    assert data["custom_fields"] == {}
    assert data["customer_config"] == {}
    assert data["archived_at"] is None
    assert datetime.fromisoformat(data["created_at"]).tzinfo is not None
    assert data["updated_at"] == data["created_at"]


def test_external_id_without_aliases_is_the_metronome_id(api: ApiClient) -> None:
    created = create(api)
    assert created["external_id"] == created["id"]
    assert created["ingest_aliases"] == []


def test_long_names_are_truncated_to_160_characters(api: ApiClient) -> None:
    created = create(api, name="n" * 200)
    assert created["name"] == "n" * 160


def test_bad_bodies_are_400_naming_each_field(api: ApiClient) -> None:
    cases: list[tuple[Any, list[str]]] = [
        ({}, ["name: is required"]),
        ({"name": "  "}, ["name: must not be empty"]),
        ({"name": "x", "ingest_aliases": ["a", ""]}, ["ingest_aliases[1]: must not be empty"]),
        ({"name": "x", "ingest_aliases": "a"}, ["ingest_aliases"]),
        ({"name": "x", "ingest_aliases": ["a", "b", "a"]}, ["ingest_aliases: lists 'a'"]),
        ({"name": "x", "external_id": ""}, ["external_id: must not be empty"]),
        ({"name": "x", "billing_config": {}}, ["billing_config: is not a known field"]),
        ({"name": 5, "ingest_aliases": [1]}, ["name:", "ingest_aliases[0]:"]),
        ([], ["the body must be a JSON object"]),
    ]
    before = len(api.list_all("/v1/customers", limit=100))
    for body, expected in cases:
        response = api.post("/v1/customers", json=body)
        assert response.status_code == 400, (body, response.text)
        message = response.json()["message"]
        for part in expected:
            assert part in message, (body, message)
    assert len(api.list_all("/v1/customers", limit=100)) == before  # nothing stored


def test_an_alias_names_one_live_customer(api: ApiClient) -> None:
    taken = alias()
    first = create(api, ingest_aliases=[taken])
    for body in (
        {"name": "x", "ingest_aliases": ["free", taken]},
        {"name": "x", "external_id": taken},
        {"name": "x", "ingest_aliases": [first["id"]]},  # another customer's Metronome id
    ):
        response = api.post("/v1/customers", json=body)
        assert response.status_code == 400, response.text
        assert first["id"] in response.json()["message"]
    second = create(api)
    response = api.post(
        f"/v1/customers/{second['id']}/setIngestAliases", json={"ingest_aliases": [taken]}
    )
    assert response.status_code == 400
    assert "ingest_aliases[0]" in response.json()["message"]
    # Archiving frees the alias for another customer.
    assert api.post("/v1/customers/archive", json={"id": first["id"]}).status_code == 200
    response = api.post(
        f"/v1/customers/{second['id']}/setIngestAliases", json={"ingest_aliases": [taken]}
    )
    assert response.status_code == 200, response.text
    assert api.get(f"/v1/customers/{second['id']}").json()["data"]["ingest_aliases"] == [taken]


def test_set_ingest_aliases_replaces_them(api: ApiClient) -> None:
    a, b, c = alias(), alias(), alias()
    created = create(api, ingest_aliases=[a, b])
    response = api.post(
        f"/v1/customers/{created['id']}/setIngestAliases", json={"ingest_aliases": [c, a]}
    )
    assert response.status_code == 200
    assert response.content == b""
    data = api.get(f"/v1/customers/{created['id']}").json()["data"]
    assert data["ingest_aliases"] == [c, a]
    assert data["updated_at"] >= data["created_at"]
    # The same call again is harmless (its own aliases are not "taken").
    again = api.post(
        f"/v1/customers/{created['id']}/setIngestAliases", json={"ingest_aliases": [c, a]}
    )
    assert again.status_code == 200
    # b is free again.
    create(api, ingest_aliases=[b])


def test_set_ingest_aliases_errors(api: ApiClient) -> None:
    missing = api.post(
        f"/v1/customers/{uuid.uuid4()}/setIngestAliases", json={"ingest_aliases": []}
    )
    assert missing.status_code == 404
    assert missing.json()["code"] == "NotFound"
    created = create(api)
    for body, expected in [
        ({}, "ingest_aliases: is required"),
        ({"ingest_aliases": [""]}, "ingest_aliases[0]: must not be empty"),
        ({"ingest_aliases": ["a"], "extra": 1}, "extra: is not a known field"),
    ]:
        response = api.post(f"/v1/customers/{created['id']}/setIngestAliases", json=body)
        assert response.status_code == 400
        assert expected in response.json()["message"]
    api.post("/v1/customers/archive", json={"id": created["id"]})
    archived = api.post(
        f"/v1/customers/{created['id']}/setIngestAliases", json={"ingest_aliases": ["z"]}
    )
    assert archived.status_code == 400
    assert "archived" in archived.json()["message"]


def test_archive(api: ApiClient) -> None:
    created = create(api)
    response = api.post("/v1/customers/archive", json={"id": created["id"]})
    assert response.status_code == 200
    assert response.json() == {"data": {"id": created["id"]}}
    archived_at = api.get(f"/v1/customers/{created['id']}").json()["data"]["archived_at"]
    assert archived_at.endswith("Z")
    # Twice is harmless and keeps the first time.
    assert api.post("/v1/customers/archive", json={"id": created["id"]}).status_code == 200
    assert api.get(f"/v1/customers/{created['id']}").json()["data"]["archived_at"] == archived_at
    unknown = api.post("/v1/customers/archive", json={"id": str(uuid.uuid4())})
    assert unknown.status_code == 404
    assert api.post("/v1/customers/archive", json={}).json()["message"] == "id: is required"


def test_get_unknown_is_404(api: ApiClient) -> None:
    response = api.get(f"/v1/customers/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound"


def test_list_filters_and_pages(
    fresh_server: LocalServer, api_for: Callable[..., ApiClient]
) -> None:
    api = api_for(fresh_server)
    made = [create(api, name=f"c{i}", ingest_aliases=[f"list-alias-{i}"]) for i in range(5)]
    api.post("/v1/customers/archive", json={"id": made[4]["id"]})
    live = api.list_all("/v1/customers", limit=2)
    assert [c["id"] for c in live] == [c["id"] for c in made[:4]]  # creation order
    first = api.get("/v1/customers", params={"limit": 2}).json()
    assert len(first["data"]) == 2 and first["next_page"]
    archived = api.list_all("/v1/customers", only_archived="true")
    assert [c["id"] for c in archived] == [made[4]["id"]]
    by_ids = api.list_all("/v1/customers", customer_ids=f"{made[1]['id']},{made[3]['id']}")
    assert [c["id"] for c in by_ids] == [made[1]["id"], made[3]["id"]]
    repeated = api.get(
        "/v1/customers", params=[("customer_ids", made[0]["id"]), ("customer_ids", made[2]["id"])]
    ).json()["data"]
    assert [c["id"] for c in repeated] == [made[0]["id"], made[2]["id"]]
    by_alias = api.list_all("/v1/customers", ingest_alias="list-alias-2")
    assert [c["id"] for c in by_alias] == [made[2]["id"]]
    assert api.list_all("/v1/customers", ingest_alias="nobody") == []
    for params in ({"limit": 0}, {"limit": 101}, {"next_page": "garbage"}):
        response = api.get("/v1/customers", params=params)
        assert response.status_code == 400, params


def test_custom_fields_need_the_allow_list(api: ApiClient) -> None:
    key = unique_name("cust-key")
    response = api.post("/v1/customers", json={"name": "x", "custom_fields": {key: "v"}})
    assert response.status_code == 400
    assert f"custom_fields['{key}']" in response.json()["message"]
    api.add_key(key, entity="customer")
    created = create(api, custom_fields={key: "v"})
    assert created["custom_fields"] == {key: "v"}
    assert api.get(f"/v1/customers/{created['id']}").json()["data"]["custom_fields"] == {key: "v"}


def test_customers_survive_a_restart(
    local_server_factory: Callable[..., LocalServer], api_for: Callable[..., ApiClient]
) -> None:
    server = local_server_factory()
    api = api_for(server)
    created = create(api, ingest_aliases=["persisted"])
    server.restart()
    api = api_for(server)
    data = api.get(f"/v1/customers/{created['id']}").json()["data"]
    assert data["ingest_aliases"] == ["persisted"]
    assert (
        api.post("/v1/customers", json={"name": "y", "ingest_aliases": ["persisted"]}).status_code
        == 400
    )


def test_custom_field_values_on_customers(api: ApiClient) -> None:
    key, unique = unique_name("cust-key"), unique_name("cust-unique")
    api.add_key(key, entity="customer")
    api.add_key(unique, entity="customer", unique=True)
    first, second = create(api), create(api)
    set_ = {
        "entity": "customer",
        "entity_id": first["id"],
        "custom_fields": {key: "a", unique: "u"},
    }
    assert api.post("/v1/customFields/setValues", json=set_).status_code == 200
    got = api.get(f"/v1/customers/{first['id']}").json()["data"]["custom_fields"]
    assert got == {key: "a", unique: "u"}
    taken = {"entity": "customer", "entity_id": second["id"], "custom_fields": {unique: "u"}}
    response = api.post("/v1/customFields/setValues", json=taken)
    assert response.status_code == 400
    assert "already used by another customer" in response.json()["message"]
    delete = {"entity": "customer", "entity_id": first["id"], "keys": [key]}
    assert api.post("/v1/customFields/deleteValues", json=delete).status_code == 200
    got = api.get(f"/v1/customers/{first['id']}").json()["data"]["custom_fields"]
    assert got == {unique: "u"}
    missing = {"entity": "customer", "entity_id": str(uuid.uuid4()), "custom_fields": {key: "b"}}
    response = api.post("/v1/customFields/setValues", json=missing)
    assert response.status_code == 404
