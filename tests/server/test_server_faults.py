"""Fault injection: latency, injected errors that do nothing, dropped-but-committed answers."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import requests

from metronome_local.process import LocalServer, LocalServerError

CREATE = "/v1/billable-metrics/create"
BODY = {"name": "faulty", "aggregation_type": "COUNT"}
BROKEN = (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)


def committed(server: LocalServer, api_for: Any) -> list[dict]:
    """The metrics really stored (read with faults off)."""
    settings = server.faults()
    server.set_faults(error_rate=0, drop_rate=0)
    try:
        return api_for(server).list_all(include_archived="true")
    finally:
        server.set_faults(error_rate=settings["error_rate"], drop_rate=settings["drop_rate"])


def test_injected_errors_do_nothing_and_are_logged(fresh_server: Any, api_for: Any) -> None:
    server = fresh_server
    server.set_faults(error_rate=1.0, retry_after_ms=1500, seed=7)
    client = api_for(server)
    statuses = set()
    for _ in range(40):
        response = client.post(CREATE, json=BODY)
        statuses.add(response.status_code)
        assert set(response.json()) == {"message"}
        if response.status_code == 429:
            assert response.headers["Retry-After"] == "2"  # 1.5 s rounded up
            assert response.headers["retry-after-ms"] == "1500"
    assert statuses == {429, 500, 502, 503}
    log = server.requests()
    assert len(log) == 40
    assert all(entry["injected"] and entry["status"] in statuses for entry in log)
    assert committed(server, api_for) == []


def test_dropped_responses_are_committed(fresh_server: Any, api_for: Any) -> None:
    server = fresh_server
    server.set_faults(drop_rate=1.0)
    client = api_for(server)
    for index in range(3):
        with pytest.raises(BROKEN):
            client.post(CREATE, json={**BODY, "name": f"dropped{index}"})
    with pytest.raises(BROKEN):  # an answer with an empty body is dropped too
        client.post(
            "/v1/customFields/addKey",
            json={"entity": "billable_metric", "key": "team", "enforce_uniqueness": False},
        )
    with pytest.raises(BROKEN):
        client.get("/v1/billable-metrics")
    log = server.requests()
    assert [(e["path"], e["status"], e.get("dropped")) for e in log] == [
        (CREATE, 200, True),
        (CREATE, 200, True),
        (CREATE, 200, True),
        ("/v1/customFields/addKey", 200, True),
        ("/v1/billable-metrics", 200, True),
    ]
    assert [m["name"] for m in committed(server, api_for)] == ["dropped0", "dropped1", "dropped2"]
    server.set_faults(drop_rate=0)
    keys = client.post("/v1/customFields/listKeys", json={}).json()["data"]
    assert [k["key"] for k in keys] == ["team"]
    assert "without completing response" not in server.stderr()  # dropped on purpose: quiet


def test_a_dropped_response_is_never_a_complete_answer(fresh_server: Any, api_for: Any) -> None:
    server = fresh_server
    server.set_faults(drop_rate=1.0)
    response = requests.post(
        f"{server.url}{CREATE}", json=BODY, headers=server.headers, stream=True, timeout=10
    )
    # The head may arrive, but the body never completes.
    with pytest.raises(BROKEN):
        response.content  # noqa: B018


def test_retrying_with_an_idempotency_key_creates_once(fresh_server: Any, api_for: Any) -> None:
    server = fresh_server
    server.set_faults(drop_rate=1.0)
    client = api_for(server)
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    with pytest.raises(BROKEN):
        client.post(CREATE, json=BODY, headers=headers)
    server.set_faults(drop_rate=0)
    retried = client.post(CREATE, json=BODY, headers=headers)
    assert retried.status_code == 200
    assert retried.headers["Idempotent-Replayed"] == "true"
    stored = committed(server, api_for)
    assert [m["id"] for m in stored] == [retried.json()["data"]["id"]]
    assert [e.get("dropped", False) for e in server.requests()][:2] == [True, False]


def test_a_retrying_client_gets_exactly_once_under_mixed_faults(
    local_server_factory: Any, api_for: Any
) -> None:
    server = local_server_factory(error_rate=0.3, drop_rate=0.3, retry_after_ms=0, seed=3)
    client = api_for(server)
    created = []
    for index in range(30):
        headers = {"Idempotency-Key": f"create-{index}"}
        for _attempt in range(50):
            try:
                response = client.post(CREATE, json={**BODY, "name": f"m{index}"}, headers=headers)
            except BROKEN:
                continue
            if response.status_code == 200:
                created.append(response.json()["data"]["id"])
                break
            assert response.status_code in (429, 500, 502, 503)
        else:
            pytest.fail("too many faults in a row")
    stored = committed(server, api_for)
    assert [m["id"] for m in stored] == created
    assert [m["name"] for m in stored] == [f"m{i}" for i in range(30)]
    log = server.requests()
    assert any(e.get("injected") for e in log)
    assert any(e.get("dropped") for e in log)
    assert any(e.get("replayed") for e in log)


def test_latency(fresh_server: Any, api_for: Any) -> None:
    server = fresh_server
    server.set_faults(latency_ms=1000)
    client = api_for(server)
    started = time.monotonic()
    assert client.get("/v1/billable-metrics").status_code == 200
    # A lower bound only: a busy machine can make the answer later, never earlier.
    assert time.monotonic() - started >= 1.0
    server.set_faults(latency_ms=250)
    client.post(CREATE, json=BODY)
    server.set_faults(latency_ms=0)
    client.get("/v1/billable-metrics")
    # The server says which requests it held, and for how long; the last one not at all.
    assert server.requests() == [
        {"method": "GET", "path": "/v1/billable-metrics", "status": 200, "latency_ms": 1000.0},
        {"method": "POST", "path": CREATE, "status": 200, "latency_ms": 250.0},
        {"method": "GET", "path": "/v1/billable-metrics", "status": 200},
    ]


def test_same_seed_same_faults(fresh_server: Any, api_for: Any) -> None:
    client = api_for(fresh_server)

    def statuses() -> list[int]:
        fresh_server.set_faults(error_rate=0.5, seed=11)
        return [client.get("/v1/billable-metrics").status_code for _ in range(30)]

    one, two = statuses(), statuses()
    assert one == two
    assert 200 in one and len(set(one)) > 1


def test_seed_option(local_server_factory: Any, api_for: Any) -> None:
    runs = []
    for _ in range(2):
        server = local_server_factory(db=":memory:", error_rate=0.5, seed=11)
        client = api_for(server)
        runs.append([client.get("/v1/billable-metrics").status_code for _ in range(20)])
        server.stop()
    assert runs[0] == runs[1]
    assert len(set(runs[0])) > 1


def test_admin_routes_and_openapi_get_no_faults(local_server_factory: Any) -> None:
    server = local_server_factory(db=":memory:", error_rate=1.0, latency_ms=1)
    for path in ("/_local/health", "/_local/faults", "/openapi.json"):
        assert requests.get(f"{server.url}{path}", timeout=10).status_code == 200
    assert server.requests() == []  # admin calls are not logged


def test_fault_settings_are_read_and_validated(local_server: LocalServer) -> None:
    assert local_server.faults() == {
        "latency_ms": 0.0,
        "error_rate": 0.0,
        "drop_rate": 0.0,
        "retry_after_ms": 1000,
    }
    for bad in ({"error_rate": 1.5}, {"error_rate": 0.6, "drop_rate": 0.6}, {"latency_ms": -1}):
        response = requests.put(f"{local_server.url}/_local/faults", json=bad, timeout=10)
        assert response.status_code == 400, bad
        assert "message" in response.json()
    response = requests.put(f"{local_server.url}/_local/faults", json={"colour": 1}, timeout=10)
    assert response.json() == {"message": "colour: is not a known field"}
    assert local_server.faults()["error_rate"] == 0.0


def test_local_server_set_faults_reports_errors(local_server: LocalServer) -> None:
    with pytest.raises(LocalServerError, match="error_rate"):
        local_server.set_faults(error_rate=2)


def test_request_log_clears(fresh_server: Any, api_for: Any) -> None:
    server = fresh_server
    api_for(server).get("/v1/billable-metrics")
    assert server.requests() == [{"method": "GET", "path": "/v1/billable-metrics", "status": 200}]
    server.clear_requests()
    assert server.requests() == []


def test_reset_restores_the_start_settings(local_server_factory: Any, api_for: Any) -> None:
    server = local_server_factory(db=":memory:", latency_ms=1, retry_after_ms=300)
    client = api_for(server)
    client.create_metric()
    server.set_faults(error_rate=1.0, latency_ms=0)
    server.reset()
    assert server.faults() == {
        "latency_ms": 1.0,
        "error_rate": 0.0,
        "drop_rate": 0.0,
        "retry_after_ms": 300,
    }
    assert server.requests() == []
    assert client.list_all(include_archived="true") == []
