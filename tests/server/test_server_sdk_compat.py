"""The official ``metronome`` SDK works against the local server, and parses every answer
into its own types."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime

import metronome
import pytest
from metronome import Metronome
from metronome.types.v1 import (
    BillableMetricArchiveResponse,
    BillableMetricCreateResponse,
    BillableMetricListResponse,
    BillableMetricRetrieveResponse,
    BillableMetricUpdateResponse,
    CustomFieldListKeysResponse,
)

from metronome_local.process import LocalServer


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer() as server:
        yield server


@pytest.fixture
def client(server: LocalServer) -> Iterator[Metronome]:
    with Metronome(bearer_token=server.token, base_url=server.url, max_retries=0) as client:
        yield client


def test_metric_lifecycle(client: Metronome) -> None:
    created = client.v1.billable_metrics.create(
        name="tokens",
        aggregation_type="SUM",
        aggregation_key="tokens",
        event_type_filter={"in_values": ["completion"]},
        property_filters=[
            {"name": "tokens", "exists": True},
            {"name": "region", "in_values": ["us", "eu"]},
        ],
        group_keys=[["region"]],
    )
    assert isinstance(created, BillableMetricCreateResponse)
    metric_id = created.data.id
    uuid.UUID(metric_id)

    got = client.v1.billable_metrics.retrieve(billable_metric_id=metric_id)
    assert isinstance(got, BillableMetricRetrieveResponse)
    assert got.data.id == metric_id
    assert got.data.name == "tokens"
    assert got.data.aggregation_type == "SUM"
    assert got.data.aggregation_key == "tokens"
    assert got.data.event_type_filter is not None
    assert got.data.event_type_filter.in_values == ["completion"]
    assert got.data.property_filters is not None
    assert [f.name for f in got.data.property_filters] == ["tokens", "region"]
    assert got.data.property_filters[0].exists is True
    assert got.data.property_filters[1].in_values == ["us", "eu"]
    assert got.data.group_keys == [["region"]]
    assert got.data.sql is None
    assert got.data.archived_at is None
    assert got.data.custom_fields == {}

    renamed = client.v1.billable_metrics.update(billable_metric_id=metric_id, name="renamed")
    assert isinstance(renamed, BillableMetricUpdateResponse)
    assert renamed.data.id == metric_id
    assert client.v1.billable_metrics.retrieve(billable_metric_id=metric_id).data.name == "renamed"

    archived = client.v1.billable_metrics.archive(id=metric_id)
    assert isinstance(archived, BillableMetricArchiveResponse)
    assert archived.data.id == metric_id
    archived_at = client.v1.billable_metrics.retrieve(billable_metric_id=metric_id).data.archived_at
    assert isinstance(archived_at, datetime)
    assert archived_at.tzinfo is not None


def test_sql_metric(client: Metronome) -> None:
    metric_id = client.v1.billable_metrics.create(
        name="sql", sql="select count(*) from events"
    ).data.id
    got = client.v1.billable_metrics.retrieve(billable_metric_id=metric_id).data
    assert got.sql == "select count(*) from events"
    assert got.aggregation_type is None


def test_lower_case_aggregation_type_comes_back_upper(client: Metronome) -> None:
    metric_id = client.v1.billable_metrics.create(
        name="lower",
        aggregation_type="max",  # type: ignore[arg-type]
        aggregation_key="latency",
        property_filters=[{"name": "latency", "exists": True}],
    ).data.id
    assert (
        client.v1.billable_metrics.retrieve(billable_metric_id=metric_id).data.aggregation_type
        == "MAX"
    )


def test_list_auto_paginates(client: Metronome) -> None:
    prefix = f"page-{uuid.uuid4().hex[:6]}"
    ids = [
        client.v1.billable_metrics.create(name=f"{prefix}-{i}", aggregation_type="COUNT").data.id
        for i in range(7)
    ]
    client.v1.billable_metrics.archive(id=ids[3])

    page = client.v1.billable_metrics.list(limit=2)
    assert len(page.data) == 2
    assert page.has_next_page()
    listed = [m for m in client.v1.billable_metrics.list(limit=2) if m.name.startswith(prefix)]
    assert all(isinstance(m, BillableMetricListResponse) for m in listed)
    assert [m.id for m in listed] == [i for i in ids if i != ids[3]]

    everything = client.v1.billable_metrics.list(limit=3, include_archived=True)
    mine = [m for m in everything if m.name.startswith(prefix)]
    assert [m.id for m in mine] == ids
    assert isinstance(mine[3].archived_at, datetime)
    assert all(m.archived_at is None for m in mine if m.id != ids[3])


def test_custom_fields(client: Metronome) -> None:
    key = f"team-{uuid.uuid4().hex[:6]}"
    assert (
        client.v1.custom_fields.add_key(entity="billable_metric", key=key, enforce_uniqueness=False)
        is None
    )
    keys = list(client.v1.custom_fields.list_keys(entities=["billable_metric"]))
    assert all(isinstance(k, CustomFieldListKeysResponse) for k in keys)
    mine = [k for k in keys if k.key == key]
    assert len(mine) == 1
    assert mine[0].entity == "billable_metric"
    assert mine[0].enforce_uniqueness is False

    metric_id = client.v1.billable_metrics.create(
        name="with-fields", aggregation_type="COUNT", custom_fields={key: "core"}
    ).data.id
    assert client.v1.billable_metrics.retrieve(billable_metric_id=metric_id).data.custom_fields == {
        key: "core"
    }
    assert (
        client.v1.custom_fields.set_values(
            entity="billable_metric", entity_id=metric_id, custom_fields={key: "billing"}
        )
        is None
    )
    assert client.v1.billable_metrics.retrieve(billable_metric_id=metric_id).data.custom_fields == {
        key: "billing"
    }
    assert (
        client.v1.custom_fields.delete_values(
            entity="billable_metric", entity_id=metric_id, keys=[key]
        )
        is None
    )
    assert (
        client.v1.billable_metrics.retrieve(billable_metric_id=metric_id).data.custom_fields == {}
    )
    assert client.v1.custom_fields.remove_key(entity="billable_metric", key=key) is None
    assert key not in [k.key for k in client.v1.custom_fields.list_keys()]


def test_list_keys_auto_paginates(fresh_server: LocalServer) -> None:
    server = fresh_server
    with Metronome(bearer_token=server.token, base_url=server.url, max_retries=0) as client:
        for index in range(205):
            client.v1.custom_fields.add_key(
                entity="customer" if index % 5 else "billable_metric",
                key=f"k{index}",
                enforce_uniqueness=False,
            )
        assert [k.key for k in client.v1.custom_fields.list_keys()] == [f"k{i}" for i in range(205)]
        only = client.v1.custom_fields.list_keys(entities=["billable_metric"])
        assert [k.key for k in only] == [f"k{i}" for i in range(0, 205, 5)]


def test_errors_are_the_sdk_exception_classes_with_our_message(client: Metronome) -> None:
    with pytest.raises(metronome.NotFoundError) as not_found:
        client.v1.billable_metrics.retrieve(billable_metric_id=str(uuid.uuid4()))
    assert not_found.value.status_code == 404
    assert isinstance(not_found.value.body, dict)
    assert not_found.value.body["code"] == "NotFound"
    assert "not found" in not_found.value.body["message"]

    with pytest.raises(metronome.BadRequestError) as bad:
        client.v1.billable_metrics.create(
            name="bad",
            aggregation_type="SUM",
            aggregation_key="tokens",
            event_type_filter={"in_values": []},
            property_filters=[{"name": "region", "in_values": ["eu"]}],
        )
    assert bad.value.status_code == 400
    assert bad.value.body == {
        "message": "event_type_filter.in_values: must be non-empty when present; "
        "aggregation_key: The specified aggregation key must be one of the property "
        "filter names."
    }
    assert "must be non-empty when present" in str(bad.value)

    with pytest.raises(metronome.BadRequestError, match="Duplicate custom field key"):
        for _ in range(2):
            client.v1.custom_fields.add_key(
                entity="plan", key="duplicate", enforce_uniqueness=False
            )

    with pytest.raises(metronome.NotFoundError):
        client.v1.custom_fields.remove_key(entity="plan", key="never-added")


def test_bad_token_is_the_sdk_authentication_error(server: LocalServer) -> None:
    with (
        Metronome(bearer_token="wrong", base_url=server.url, max_retries=0) as client,
        pytest.raises(metronome.AuthenticationError) as raised,
    ):
        client.v1.billable_metrics.list()
    assert raised.value.status_code == 401


def test_sdk_retries_injected_errors(fresh_server: LocalServer) -> None:
    server = fresh_server
    server.set_faults(error_rate=0.5, retry_after_ms=1, seed=5)
    with Metronome(bearer_token=server.token, base_url=server.url, max_retries=8) as client:
        for _ in range(10):
            client.v1.billable_metrics.list(limit=1)
    log = server.requests()
    assert any(e.get("injected") for e in log)
    assert sum(1 for e in log if e["status"] == 200) == 10
