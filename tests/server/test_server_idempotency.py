"""``Idempotency-Key`` on POSTs: replay, conflict, errors included, concurrency, restarts."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

CREATE = "/v1/billable-metrics/create"


def key() -> str:
    return f"idem-{uuid.uuid4()}"


def count(api: Any) -> int:
    return len(api.list_all(include_archived="true"))


def test_same_key_and_body_replays_the_first_response(api: Any) -> None:
    body = {"name": "once", "aggregation_type": "COUNT"}
    headers = {"Idempotency-Key": key()}
    before = count(api)
    first = api.post(CREATE, json=body, headers=headers)
    second = api.post(CREATE, json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count(api) == before + 1


def test_json_formatting_and_key_order_do_not_matter(api: Any) -> None:
    headers = {"Idempotency-Key": key(), "Content-Type": "application/json"}
    first = api.post(CREATE, data=b'{"name": "a", "aggregation_type": "COUNT"}', headers=headers)
    second = api.post(CREATE, data=b'{"aggregation_type":"COUNT","name":"a"}', headers=headers)
    assert first.json() == second.json()


def test_same_key_with_another_body_is_409(api: Any) -> None:
    headers = {"Idempotency-Key": key()}
    api.post(CREATE, json={"name": "a", "aggregation_type": "COUNT"}, headers=headers)
    before = count(api)
    response = api.post(CREATE, json={"name": "b", "aggregation_type": "COUNT"}, headers=headers)
    assert response.status_code == 409
    assert set(response.json()) == {"message"}
    assert "Idempotency-Key" in response.json()["message"]
    assert count(api) == before


def test_same_key_on_another_path_is_409(api: Any) -> None:
    headers = {"Idempotency-Key": key()}
    metric_id = api.create_metric()
    body = {"id": metric_id}
    assert api.post("/v1/billable-metrics/archive", json=body, headers=headers).status_code == 200
    response = api.post("/v1/customFields/removeKey", json=body, headers=headers)
    assert response.status_code == 409


def test_errors_are_replayed_too(api: Any) -> None:
    headers = {"Idempotency-Key": key()}
    body = {"id": str(uuid.uuid4())}
    first = api.post("/v1/billable-metrics/archive", json=body, headers=headers)
    second = api.post("/v1/billable-metrics/archive", json=body, headers=headers)
    assert first.status_code == second.status_code == 404
    assert first.json() == second.json()
    assert second.headers["Idempotent-Replayed"] == "true"


def test_keys_are_scoped_by_token(local_server_factory: Any, api_for: Any) -> None:
    server = local_server_factory(db=":memory:", tokens=["alpha", "beta"])
    alpha, beta = api_for(server, "alpha"), api_for(server, "beta")
    headers = {"Idempotency-Key": "shared-key"}
    body = {"name": "m", "aggregation_type": "COUNT"}
    a = alpha.post(CREATE, json=body, headers=headers).json()["data"]["id"]
    b = beta.post(CREATE, json=body, headers=headers).json()["data"]["id"]
    assert a != b


def test_without_a_key_every_post_runs(api: Any) -> None:
    body = {"name": "twice", "aggregation_type": "COUNT"}
    first = api.post(CREATE, json=body).json()["data"]["id"]
    second = api.post(CREATE, json=body).json()["data"]["id"]
    assert first != second


@pytest.mark.parametrize("value", ["", "k" * 256])
def test_bad_key_is_400(api: Any, value: str) -> None:
    response = api.post(
        CREATE, json={"name": "m", "aggregation_type": "COUNT"}, headers={"Idempotency-Key": value}
    )
    assert response.status_code == 400
    assert response.json() == {"message": "Idempotency-Key: must be 1 to 255 characters"}


def test_concurrent_requests_with_one_key_run_once(api: Any, local_server: Any) -> None:
    headers = {"Idempotency-Key": key()}
    body = {"name": "racing", "aggregation_type": "COUNT"}
    before = count(api)

    def create(_: int) -> tuple[int, str]:
        response = api.post(CREATE, json=body, headers=headers)
        return response.status_code, response.json()["data"]["id"]

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(create, range(20)))
    assert {status for status, _ in results} == {200}
    assert len({metric_id for _, metric_id in results}) == 1
    assert count(api) == before + 1


def test_replays_survive_a_restart(local_server_factory: Any, api_for: Any) -> None:
    server = local_server_factory()
    headers = {"Idempotency-Key": key()}
    body = {"name": "durable", "aggregation_type": "COUNT"}
    first = api_for(server).post(CREATE, json=body, headers=headers).json()
    server.restart()
    client = api_for(server)
    assert client.post(CREATE, json=body, headers=headers).json() == first
    assert len(client.list_all()) == 1
