"""Bearer-token auth: required on ``/v1``, not on the admin routes or the OpenAPI document."""

from __future__ import annotations

from typing import Any

import pytest
import requests

ROUTES = [
    ("GET", "/v1/billable-metrics"),
    ("GET", "/v1/billable-metrics/some-id"),
    ("PUT", "/v1/billable-metrics/some-id"),
    ("POST", "/v1/billable-metrics/create"),
    ("POST", "/v1/billable-metrics/archive"),
    ("POST", "/v1/customFields/addKey"),
    ("POST", "/v1/customFields/listKeys"),
    ("POST", "/v1/customFields/setValues"),
    ("POST", "/v1/customFields/deleteValues"),
    ("POST", "/v1/customFields/removeKey"),
    ("GET", "/v1/no-such-route"),
]


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic bG9jYWw6ZGV2", "Bearer wrong-token", "local-dev-token"],
)
@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_missing_or_unknown_token_is_401(
    local_server: Any, method: str, path: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    body = {"name": "x", "aggregation_type": "COUNT"}
    response = requests.request(
        method, f"{local_server.url}{path}", json=body, headers=headers, timeout=10
    )
    assert response.status_code == 401
    assert set(response.json()) == {"message"}
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_unauthorized_requests_change_nothing(local_server: Any, api: Any, api_for: Any) -> None:
    before = len(api.list_all(include_archived="true"))
    anonymous = api_for(local_server, auth=False)
    response = anonymous.post(
        "/v1/billable-metrics/create", json={"name": "x", "aggregation_type": "COUNT"}
    )
    assert response.status_code == 401
    assert len(api.list_all(include_archived="true")) == before


def test_the_scheme_is_case_insensitive(local_server: Any) -> None:
    response = requests.get(
        f"{local_server.url}/v1/billable-metrics",
        headers={"Authorization": f"bearer {local_server.token}"},
        timeout=10,
    )
    assert response.status_code == 200


def test_every_configured_token_is_accepted(local_server_factory: Any, api_for: Any) -> None:
    server = local_server_factory(db=":memory:", tokens=["alpha", "beta"])
    assert server.token == "alpha"
    for token in ("alpha", "beta"):
        assert api_for(server, token).get("/v1/billable-metrics").status_code == 200
    assert api_for(server, "local-dev-token").get("/v1/billable-metrics").status_code == 401


def test_admin_routes_and_openapi_need_no_token(local_server: Any) -> None:
    for path in ("/_local/health", "/_local/requests", "/_local/faults", "/openapi.json"):
        assert requests.get(f"{local_server.url}{path}", timeout=10).status_code == 200, path
