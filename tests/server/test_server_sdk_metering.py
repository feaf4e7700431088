"""The official ``metronome`` SDK manages customers, ingests events, lists usage and usage
groups and searches events against the local server, with strict response validation (every
answer must parse into the SDK's own types)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import metronome
import pytest
from metronome import Metronome
from metronome.types.v1 import (
    CustomerArchiveResponse,
    CustomerCreateResponse,
    CustomerDetail,
    CustomerRetrieveResponse,
    UsageListResponse,
    UsageListWithGroupsResponse,
)
from metronome.types.v1.usage_search_response import UsageSearchResponseItem

from metronome_local.process import LocalServer

TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer() as server:
        yield server


@pytest.fixture
def client(server: LocalServer) -> Iterator[Metronome]:
    with Metronome(
        bearer_token=server.token,
        base_url=server.url,
        max_retries=0,
        _strict_response_validation=True,
    ) as client:
        yield client


def test_customer_lifecycle(client: Metronome) -> None:
    alias = f"sdk-{uuid.uuid4().hex[:8]}"
    created = client.v1.customers.create(name="SDK Corp", ingest_aliases=[alias])
    assert isinstance(created, CustomerCreateResponse)
    customer_id = created.data.id
    assert created.data.ingest_aliases == [alias]
    assert created.data.external_id == alias

    got = client.v1.customers.retrieve(customer_id=customer_id)
    assert isinstance(got, CustomerRetrieveResponse)
    assert got.data.name == "SDK Corp"
    assert got.data.archived_at is None
    assert got.data.created_at.tzinfo is not None

    other = f"sdk-{uuid.uuid4().hex[:8]}"
    assert (
        client.v1.customers.set_ingest_aliases(customer_id=customer_id, ingest_aliases=[other])
        is None
    )
    assert client.v1.customers.retrieve(customer_id=customer_id).data.ingest_aliases == [other]

    listed = client.v1.customers.list(ingest_alias=other)
    assert [c.id for c in listed] == [customer_id]
    assert all(isinstance(c, CustomerDetail) for c in listed)
    by_ids = client.v1.customers.list(customer_ids=[customer_id])
    assert [c.id for c in by_ids] == [customer_id]

    archived = client.v1.customers.archive(id=customer_id)
    assert isinstance(archived, CustomerArchiveResponse)
    assert archived.data.id == customer_id
    assert client.v1.customers.retrieve(customer_id=customer_id).data.archived_at is not None
    assert customer_id in [c.id for c in client.v1.customers.list(only_archived=True)]


def test_list_auto_paginates(fresh_server: LocalServer) -> None:
    with Metronome(
        bearer_token=fresh_server.token,
        base_url=fresh_server.url,
        max_retries=0,
        _strict_response_validation=True,
    ) as client:
        ids = [client.v1.customers.create(name=f"c{i}").data.id for i in range(5)]
        assert [c.id for c in client.v1.customers.list(limit=2)] == ids


def test_ingest_usage_groups_and_search(client: Metronome) -> None:
    alias = f"sdk-{uuid.uuid4().hex[:8]}"
    customer_id = client.v1.customers.create(name="Usage Corp", ingest_aliases=[alias]).data.id
    metric_id = client.v1.billable_metrics.create(
        name="sdk tokens",
        aggregation_type="SUM",
        aggregation_key="tokens",
        property_filters=[
            {"name": "tokens", "exists": True},
            {"name": "region", "exists": True},
        ],
        group_keys=[["region"]],
    ).data.id
    when = (TODAY + timedelta(hours=1)).isoformat()
    ids = [uuid.uuid4().hex for _ in range(3)]
    result = client.v1.usage.ingest(
        usage=[
            {
                "transaction_id": ids[0],
                "customer_id": alias,
                "event_type": "completion",
                "timestamp": when,
                "properties": {"tokens": "100", "region": "us"},
            },
            {
                "transaction_id": ids[1],
                "customer_id": alias,
                "event_type": "completion",
                "timestamp": when,
                "properties": {"tokens": 50, "region": "eu"},
            },
            {
                "transaction_id": ids[0],  # a duplicate: ignored
                "customer_id": alias,
                "event_type": "completion",
                "timestamp": when,
                "properties": {"tokens": "999", "region": "us"},
            },
        ]
    )
    assert result is None

    rows = list(
        client.v1.usage.list(
            starting_on=TODAY,
            ending_before=TODAY + timedelta(days=1),
            window_size="DAY",
            customer_ids=[customer_id],
            billable_metrics=[{"id": metric_id, "group_by": {"key": "region"}}],
        )
    )
    assert all(isinstance(r, UsageListResponse) for r in rows)
    assert [(r.value, r.groups) for r in rows] == [(150, {"us": 100, "eu": 50})]
    assert rows[0].start_timestamp == TODAY
    assert rows[0].billable_metric_name == "sdk tokens"

    groups = list(
        client.v1.usage.list_with_groups(
            customer_id=customer_id,
            billable_metric_id=metric_id,
            window_size="NONE",
            starting_on=TODAY,
            ending_before=TODAY + timedelta(days=1),
            group_key=["region"],
            limit=1,
        )
    )
    assert all(isinstance(g, UsageListWithGroupsResponse) for g in groups)
    assert sorted((g.group or {}).get("region", "") for g in groups) == ["eu", "us"]
    assert sorted(g.value or 0 for g in groups) == [50, 100]

    found = client.v1.usage.search(transaction_ids=[ids[0], ids[1], ids[2]])
    assert all(isinstance(e, UsageSearchResponseItem) for e in found)
    assert sorted((e.transaction_id, bool(e.is_duplicate)) for e in found) == sorted(
        [(ids[0], False), (ids[0], True), (ids[1], False)]
    )
    first = next(e for e in found if e.transaction_id == ids[0] and not e.is_duplicate)
    assert first.matched_customer is not None and first.matched_customer.id == customer_id
    assert [m.id for m in first.matched_billable_metrics or []] == [metric_id]
    assert (first.matched_billable_metrics or [])[0].aggregation_type == "SUM"


def test_sql_metric_usage_and_search(client: Metronome) -> None:
    alias = f"sdk-{uuid.uuid4().hex[:8]}"
    customer_id = client.v1.customers.create(name="SQL Corp", ingest_aliases=[alias]).data.id
    metric_id = client.v1.billable_metrics.create(
        name="sdk sql", sql="SELECT COUNT(*) AS value FROM events WHERE event_type = 'job'"
    ).data.id
    transaction_id = uuid.uuid4().hex
    client.v1.usage.ingest(
        usage=[
            {
                "transaction_id": transaction_id,
                "customer_id": alias,
                "event_type": "job",
                "timestamp": (TODAY + timedelta(minutes=5)).isoformat(),
            }
        ]
    )
    rows = list(
        client.v1.usage.list(
            starting_on=TODAY,
            ending_before=TODAY + timedelta(days=1),
            window_size="HOUR",
            customer_ids=[customer_id],
            billable_metrics=[{"id": metric_id}],
        )
    )
    assert len(rows) == 24
    assert [r.value for r in rows] == [1, *[0] * 23]
    (found,) = client.v1.usage.search(transaction_ids=[transaction_id])
    matched = found.matched_billable_metrics or []
    assert [(m.id, m.aggregation_type) for m in matched] == [(metric_id, "custom_sql")]


def test_errors_are_sdk_exceptions_with_our_message(client: Metronome) -> None:
    with pytest.raises(metronome.BadRequestError) as bad:
        client.v1.usage.ingest(
            usage=[
                {
                    "transaction_id": "",
                    "customer_id": "c",
                    "event_type": "e",
                    "timestamp": "2026-01-01T00:00:00Z",
                }
            ]
        )
    assert "events[0].transaction_id: must not be empty" in str(bad.value)
    with pytest.raises(metronome.BadRequestError) as period:
        list(
            client.v1.usage.list(
                starting_on=TODAY + timedelta(hours=1),
                ending_before=TODAY + timedelta(days=1),
                window_size="DAY",
            )
        )
    assert "starting_on: must be aligned to UTC midnight" in str(period.value)
    with pytest.raises(metronome.NotFoundError):
        client.v1.customers.retrieve(customer_id=str(uuid.uuid4()))


def test_sdk_retries_through_faults_and_counts_each_event_once(
    local_server_factory: Any,
) -> None:
    """Injected 429/5xx and dropped answers on every endpoint: the SDK retries (a dropped
    ingest was stored, so its retry is a duplicate), and usage counts each event once."""
    server: LocalServer = local_server_factory(retry_after_ms=1)
    with Metronome(
        bearer_token=server.token,
        base_url=server.url,
        max_retries=10,
        _strict_response_validation=True,
    ) as client:
        alias = f"sdk-{uuid.uuid4().hex[:8]}"
        customer_id = client.v1.customers.create(name="Faulty", ingest_aliases=[alias]).data.id
        metric_id = client.v1.billable_metrics.create(name="n", aggregation_type="COUNT").data.id
        server.set_faults(error_rate=0.15, drop_rate=0.2, seed=1)
        when = (TODAY + timedelta(minutes=1)).isoformat()
        for batch in range(8):
            client.v1.usage.ingest(
                usage=[
                    {
                        "transaction_id": f"{alias}-{batch}-{n}",
                        "customer_id": alias,
                        "event_type": "call",
                        "timestamp": when,
                    }
                    for n in range(10)
                ]
            )
        rows = list(
            client.v1.usage.list(
                starting_on=TODAY,
                ending_before=TODAY + timedelta(days=1),
                window_size="NONE",
                customer_ids=[customer_id],
                billable_metrics=[{"id": metric_id}],
            )
        )
    assert [r.value for r in rows] == [80]
    log = server.requests()
    ingests = [e for e in log if e["path"] == "/v1/ingest"]
    assert any(e.get("dropped") for e in ingests)
    assert any(e.get("injected") for e in ingests)
    assert sum(1 for e in ingests if e["status"] == 200 and not e.get("dropped")) == 8
