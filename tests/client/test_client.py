"""The HTTP client against the real local server: retries, idempotency, errors, pages."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from metronome_local.process import LocalServer
from pulumi_metronome import (
    ConfigurationError,
    MetronomeAPIError,
    MetronomeClient,
    MetronomeError,
    MissingCredentialsError,
    RetryPolicy,
    TransportError,
)
from pulumi_metronome import client as client_module
from pulumi_metronome.errors import MAX_MESSAGE_CHARS
from pulumi_metronome.models import CustomFieldKeySpec, parse_metric_spec


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        yield running


class Clock:
    """The clock the client reads and the pauses it takes, injected in place of ``time``:
    ``sleep`` records the pause and moves ``monotonic`` on by it, at once. Time passes only
    by pauses, so the tests assert exactly what the client waited and why it stopped,
    whatever the machine's load."""

    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds

    @staticmethod
    def time() -> float:  # wall-clock dates (an HTTP-date ``Retry-After``) stay real
        return time.time()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(client_module, "time", fake)
    return fake


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
    assert isinstance(caught.value, TransportError) and caught.value.attempts == 4
    assert "the connection dropped mid-answer" in str(caught.value)
    assert "gave up after 3 retries" in str(caught.value)
    server.set_faults(drop_rate=0.0)
    attempts = [r for r in server.requests() if r["path"] == "/v1/billable-metrics/create"]
    assert len(attempts) == 4
    # The first attempt was committed; the retries were replays, so there is one metric.
    assert [m.name for m in client.list_billable_metrics()] == ["never-answered"]


def test_429_retry_after_is_honoured(server: LocalServer, clock: Clock) -> None:
    # Seeded so that a 429 comes before the last attempt (the statuses are 429/5xx at random).
    server.set_faults(error_rate=1.0, retry_after_ms=300, seed=4)
    client = client_for(server, max_retries=2, backoff=0.0, max_backoff=0.0)
    with pytest.raises(MetronomeError) as caught:
        client.get_billable_metric(str(uuid.uuid4()))
    assert caught.value.status in {429, 500, 502, 503}
    # Two retries; each 429 asked for 300 ms, a 5xx falls back to the backoff (0 here).
    statuses = [r["status"] for r in server.requests() if r.get("injected")]
    assert len(statuses) == 3
    assert 429 in statuses[:-1], statuses  # a 429 was retried after: the test is not vacuous
    assert clock.pauses == [0.3 if status == 429 else 0.0 for status in statuses[:-1]]


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


# --- what is retried, for how long, and who is speaking -----------------------------------


def attempts_at(server: LocalServer, path: str) -> int:
    return sum(1 for r in server.requests() if r["path"] == path)


@pytest.mark.parametrize(
    ("call", "path", "status"),
    [
        pytest.param(
            lambda c: c._call("POST", "/v1/billable-metrics/create", json={"name": "x"}),
            "/v1/billable-metrics/create",
            400,
            id="400",
        ),
        pytest.param(
            lambda c: c.get_billable_metric("no-such-metric"),
            "/v1/billable-metrics/no-such-metric",
            404,
            id="404",
        ),
        pytest.param(
            lambda c: c.archive_billable_metric("no-such-metric"),
            "/v1/billable-metrics/archive",
            404,
            id="404-post",
        ),
    ],
)
def test_a_final_answer_is_one_attempt(
    server: LocalServer, call: Any, path: str, status: int
) -> None:
    client = client_for(server, backoff=0.01)
    with pytest.raises(MetronomeAPIError) as caught:
        call(client)
    assert caught.value.status == status
    assert attempts_at(server, path) == 1, server.requests()
    assert str(caught.value).startswith(f"Metronome answered {status}")


@pytest.mark.parametrize("token", ["wrong-token"])
def test_a_401_is_one_attempt(server: LocalServer, token: str) -> None:
    client = MetronomeClient(token, server.url, retry=RetryPolicy(backoff=0.01))
    with pytest.raises(MetronomeAPIError) as caught:
        list(client.list_billable_metrics())
    assert caught.value.status == 401
    assert attempts_at(server, "/v1/billable-metrics") == 1


def test_retry_after_ms_is_preferred_to_retry_after(server: LocalServer, clock: Clock) -> None:
    """Each 429 says ``retry-after-ms: 100`` and ``Retry-After: 1`` (whole seconds): the
    client pauses 0.1 s, not 1 s."""
    server.set_faults(error_rate=1.0, retry_after_ms=100, seed=1)
    client = client_for(server, max_retries=3, backoff=0.0, max_backoff=0.0)
    with pytest.raises(MetronomeAPIError):
        client.get_billable_metric(str(uuid.uuid4()))
    injected = [r["status"] for r in server.requests() if r.get("injected")]
    assert len(injected) == 4
    assert 429 in injected[:-1], injected  # seeded: the test is not vacuous
    assert clock.pauses == [0.1 if status == 429 else 0.0 for status in injected[:-1]]


def test_a_pause_longer_than_the_cap_is_reported_not_waited(
    server: LocalServer, clock: Clock
) -> None:
    server.set_faults(error_rate=1.0, retry_after_ms=120_000, seed=1)
    client = client_for(server, max_retries=8, backoff=0.0, max_backoff=0.0)
    with pytest.raises(MetronomeAPIError) as caught:
        client.get_billable_metric(str(uuid.uuid4()))
    injected = [r["status"] for r in server.requests() if r.get("injected")]
    # 5xx answers are retried until the first 429, whose 120 s pause is refused at once.
    assert injected[-1] == 429 and injected.count(429) == 1, injected
    assert caught.value.status == 429
    assert "asked to retry after 120 s, longer than the 30 s" in str(caught.value)
    assert clock.pauses == [0.0] * (len(injected) - 1)  # 5xx backoffs only, never the 120 s


def test_a_dead_host_fails_within_the_time_budget_and_says_what_was_tried(clock: Clock) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    policy = RetryPolicy(max_retries=50, backoff=0.2, max_backoff=0.4, total_timeout=2.0)
    client = MetronomeClient("t", f"http://127.0.0.1:{port}", retry=policy)
    with pytest.raises(TransportError) as caught:
        list(client.list_billable_metrics())
    error = caught.value
    # Pause n is the backoff 0.2 * 2^(n-1), capped at 0.4, cut to 50-100% at random.
    for n, pause in enumerate(clock.pauses, start=1):
        backoff = min(0.4, 0.2 * 2 ** (n - 1))
        assert backoff * 0.5 <= pause <= backoff, (n, clock.pauses)
    assert error.attempts == len(clock.pauses) + 1 < 51  # the budget ended it, not the retries
    # It stopped because the next pause (at most 0.4 s) would have passed the 2 s budget.
    assert 2.0 - 0.4 <= sum(clock.pauses) < 2.0, clock.pauses
    assert error.seconds == pytest.approx(sum(clock.pauses))
    text = str(error)
    assert text.startswith("the network: GET http://127.0.0.1:")
    assert f"({error.attempts} attempts over" in text
    assert "could not connect" in text and "budget" in text
    assert "HTTPConnectionPool" not in text and "Max retries" not in text


@pytest.mark.parametrize("base_url", ["htp:/x", "api.metronome.com", "http://", "https://h:0"])
def test_a_malformed_base_url_is_refused_before_any_attempt(
    base_url: str, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[str] = []
    monkeypatch.setattr(
        requests.Session, "request", lambda _self, method, url, **_: attempts.append(url)
    )
    with pytest.raises(ConfigurationError) as caught:
        MetronomeClient("t", base_url)
    assert attempts == [] and clock.pauses == []  # refused, not tried
    assert "metronome:baseUrl" in str(caught.value) and repr(base_url) in str(caught.value)
    assert str(caught.value).startswith("pulumi-metronome refused:")


def test_a_malformed_base_url_in_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("METRONOME_BASE_URL", "htp:/x")
    with pytest.raises(ConfigurationError, match="METRONOME_BASE_URL 'htp:/x'"):
        MetronomeClient("t")


def test_metronomes_message_is_kept_verbatim_but_bounded(server: LocalServer) -> None:
    client = client_for(server)
    long_id = "x" * 5000
    with pytest.raises(MetronomeAPIError) as caught:
        client.get_billable_metric(long_id)
    assert caught.value.status == 404
    assert len(str(caught.value)) < MAX_MESSAGE_CHARS + 300
    assert caught.value.message.startswith(_server_message(server, long_id)[:200])
    assert "more characters)" in caught.value.message


def _server_message(server: LocalServer, metric_id: str) -> str:
    response = requests.get(
        f"{server.url}/v1/billable-metrics/{metric_id}",
        headers={"Authorization": f"Bearer {server.token}"},
        timeout=10,
    )
    assert response.status_code == 404
    message: str = response.json()["message"]
    assert len(message) > MAX_MESSAGE_CHARS  # else the test proves nothing
    return message
