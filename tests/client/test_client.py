"""The HTTP client against the real local server: retries, idempotency, errors, pages."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from metronome_local.process import LocalServer
from pulumi_metronome import (
    MetronomeClient,
    MetronomeError,
    MissingCredentialsError,
    RetryPolicy,
    TransportError,
)
from pulumi_metronome.models import CustomFieldKeySpec, parse_metric_spec


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        yield running


def client_for(server: LocalServer, **options: float) -> MetronomeClient:
    """A client of ``server`` with the given ``RetryPolicy`` fields."""
    return MetronomeClient(server.token, server.url, retry=RetryPolicy(**options))


def count_spec(name: str) -> object:
    return parse_metric_spec({"name": name, "aggregation_type": "count"})


def test_faults_never_duplicate_or_lose_a_create(server: LocalServer) -> None:
    """20% lost responses and 10% 429/5xx: 200 creates still make exactly 200 metrics."""
    server.set_faults(drop_rate=0.2, error_rate=0.1)
    client = client_for(server, backoff=0.01, max_backoff=0.05, max_retries=12)
    ids = [client.create_billable_metric(count_spec(f"m{i}")) for i in range(200)]
    server.set_faults(drop_rate=0.0, error_rate=0.0)

    log = server.requests()
    assert sum(1 for r in log if r.get("dropped")) > 10  # the faults really happened
    assert sum(1 for r in log if r.get("injected")) > 5
    names = [m.name for m in client.list_billable_metrics()]
    assert len(names) == 200
    assert sorted(names) == sorted(f"m{i}" for i in range(200))
    assert len(set(ids)) == 200


def test_every_post_sends_one_idempotency_key_across_its_retries(server: LocalServer) -> None:
    server.set_faults(drop_rate=1.0)
    client = client_for(server, backoff=0.01, max_backoff=0.01, max_retries=3)
    with pytest.raises(MetronomeError) as caught:
        client.create_billable_metric(count_spec("never-answered"))
    assert caught.value.status is None  # no response ever came back
    server.set_faults(drop_rate=0.0)
    attempts = [r for r in server.requests() if r["path"] == "/v1/billable-metrics/create"]
    assert len(attempts) == 4
    # The first attempt was committed; the retries were replays, so there is one metric.
    assert [m.name for m in client.list_billable_metrics()] == ["never-answered"]


def test_429_retry_after_is_honoured(server: LocalServer) -> None:
    # Seeded so that a 429 comes before the last attempt (the statuses are 429/5xx at random).
    server.set_faults(error_rate=1.0, retry_after_ms=300, seed=4)
    client = client_for(server, max_retries=2, backoff=0.0, max_backoff=0.0)
    started = time.monotonic()
    with pytest.raises(MetronomeError) as caught:
        client.get_billable_metric(str(uuid.uuid4()))
    elapsed = time.monotonic() - started
    assert caught.value.status in {429, 500, 502, 503}
    # Two retries; each 429 asked for 300 ms (5xx answers fall back to the tiny backoff).
    injected = [r for r in server.requests() if r.get("injected")]
    assert len(injected) == 3
    waits_asked = sum(0.3 for r in injected[:-1] if r["status"] == 429)
    assert waits_asked >= 0.3, [r["status"] for r in injected]  # a 429 was retried after
    assert elapsed >= waits_asked * 0.95


def test_errors_carry_status_and_metronomes_message(server: LocalServer) -> None:
    client = client_for(server)
    with pytest.raises(MetronomeError) as caught:
        client.get_billable_metric(str(uuid.uuid4()))
    assert caught.value.status == 404 and caught.value.not_found
    with pytest.raises(MetronomeError) as caught:
        client._call(
            "POST",
            "/v1/billable-metrics/create",
            json={"name": "bad", "aggregation_type": "sum", "property_filters": []},
        )
    assert caught.value.status == 400
    assert "aggregation_key" in caught.value.message
    assert caught.value.message in str(caught.value)


def test_a_bad_token_is_a_401_error_that_does_not_leak_it(server: LocalServer) -> None:
    client = MetronomeClient("tok-SECRET-123", server.url)
    with pytest.raises(MetronomeError) as caught:
        list(client.list_billable_metrics())
    assert caught.value.status == 401
    assert "tok-SECRET-123" not in str(caught.value) + repr(client)


def test_credentials_from_the_environment(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METRONOME_BEARER_TOKEN", server.token)
    monkeypatch.setenv("METRONOME_BASE_URL", server.url + "/")
    client = MetronomeClient()
    assert client.base_url == server.url
    assert list(client.list_billable_metrics()) == []
    monkeypatch.delenv("METRONOME_BEARER_TOKEN")
    with pytest.raises(MissingCredentialsError, match="METRONOME_BEARER_TOKEN"):
        MetronomeClient()
    monkeypatch.delenv("METRONOME_BASE_URL")
    assert MetronomeClient("t").base_url == "https://api.metronome.com"


def test_list_follows_every_page(server: LocalServer) -> None:
    client = client_for(server)
    ids = [client.create_billable_metric(count_spec(f"p{i}")) for i in range(7)]
    client.archive_billable_metric(ids[0])
    server.clear_requests()
    listed = [m.id for m in client.list_billable_metrics(page_size=3)]
    assert listed == ids[1:]
    assert len([r for r in server.requests() if r["method"] == "GET"]) == 2
    with_archived = [m.id for m in client.list_billable_metrics(include_archived=True, page_size=3)]
    assert with_archived == ids


def test_metric_round_trip_and_custom_fields(server: LocalServer) -> None:
    client = client_for(server)
    client.add_custom_field_key(
        CustomFieldKeySpec(entity="billable_metric", key="team", enforce_uniqueness=False)
    )
    spec = parse_metric_spec(
        {
            "name": "tokens",
            "aggregation_type": "Sum",
            "aggregation_key": "tokens",
            "property_filters": [{"name": "tokens", "exists": True}],
            "custom_fields": {"team": "a"},
        }
    )
    metric_id = client.create_billable_metric(spec)
    metric = client.get_billable_metric(metric_id)
    assert metric.spec == spec
    client.rename_billable_metric(metric_id, "tokens v2")
    client.set_custom_field_values("billable_metric", metric_id, {"team": "b"})
    assert client.get_billable_metric(metric_id).custom_fields == {"team": "b"}
    client.delete_custom_field_values("billable_metric", metric_id, ["team"])
    assert not client.get_billable_metric(metric_id).custom_fields
    assert client.get_billable_metric(metric_id).name == "tokens v2"
    assert [k.key for k in client.list_custom_field_keys(["billable_metric"])] == ["team"]
    client.remove_custom_field_key("billable_metric", "team")
    assert list(client.list_custom_field_keys(["billable_metric"])) == []


def test_unreachable_server_is_reported_after_retries() -> None:
    client = MetronomeClient(
        "t", "http://127.0.0.1:9", retry=RetryPolicy(max_retries=2, backoff=0.01)
    )
    with pytest.raises(TransportError, match="could not connect") as caught:
        list(client.list_billable_metrics())
    assert caught.value.status is None
