"""The official ``metronome`` SDK creates, reads (through a customer's view) and archives
threshold notifications on the local server, with strict response validation; a
``uniqueness_key`` makes a repeated create fail (409) instead of making a second alert."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import metronome
import pytest
from metronome import Metronome
from metronome.types.v1 import AlertArchiveResponse, AlertCreateResponse
from metronome.types.v1.customers import AlertRetrieveResponse

from metronome_local.process import LocalServer

USD_CENTS = "2714e483-4ff1-48e4-9e25-ac732e8f24f2"


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


def _customer(client: Metronome) -> str:
    return client.v1.customers.create(name=f"acme-{uuid.uuid4().hex[:6]}").data.id


def test_alert_lifecycle(client: Metronome) -> None:
    customer_id = _customer(client)
    key = f"spend-{uuid.uuid4().hex[:8]}"
    created = client.v1.alerts.create(
        alert_type="spend_threshold_reached",
        name="Spend over $500",
        threshold=50000,
        customer_id=customer_id,
        group_values=[{"key": "region", "value": "eu"}],
        uniqueness_key=key,
    )
    assert isinstance(created, AlertCreateResponse)
    alert_id = created.data.id

    got = client.v1.customers.alerts.retrieve(customer_id=customer_id, alert_id=alert_id)
    assert isinstance(got, AlertRetrieveResponse)
    alert = got.data.alert
    assert (alert.id, alert.name, alert.type, alert.threshold, alert.status) == (
        alert_id,
        "Spend over $500",
        "spend_threshold_reached",
        50000,
        "enabled",
    )
    assert alert.uniqueness_key == key
    assert alert.credit_type is not None and alert.credit_type.id == USD_CENTS
    assert [(g.key, g.value) for g in alert.group_values or []] == [("region", "eu")]
    assert got.data.customer_status == "evaluating"

    # The same uniqueness key again: 409, no second alert.
    with pytest.raises(metronome.ConflictError):
        client.v1.alerts.create(
            alert_type="spend_threshold_reached",
            name="Spend over $500",
            threshold=50000,
            uniqueness_key=key,
        )

    archived = client.v1.alerts.archive(id=alert_id)
    assert isinstance(archived, AlertArchiveResponse) and archived.data.id == alert_id
    got = client.v1.customers.alerts.retrieve(customer_id=customer_id, alert_id=alert_id)
    assert got.data.alert.status == "archived" and got.data.customer_status is None
    # Archived, the key stays held until released.
    with pytest.raises(metronome.ConflictError):
        client.v1.alerts.create(
            alert_type="spend_threshold_reached", name="x", threshold=1, uniqueness_key=key
        )
    client.v1.alerts.archive(id=alert_id, release_uniqueness_key=True)
    again = client.v1.alerts.create(
        alert_type="spend_threshold_reached", name="x", threshold=1, uniqueness_key=key
    )
    assert again.data.id != alert_id


def test_a_global_alert_is_seen_by_every_customer_and_priced_in_a_unit(
    client: Metronome,
) -> None:
    unit_id = client.v1.pricing_units.create(name="gpu credits").data.id
    alert_id = client.v1.alerts.create(
        alert_type="low_remaining_commit_balance_reached",
        name="Low commit",
        threshold=10,
        access_type="SPEND",
        credit_type_id=unit_id,
    ).data.id
    for customer_id in (_customer(client), _customer(client)):
        alert = client.v1.customers.alerts.retrieve(
            customer_id=customer_id, alert_id=alert_id
        ).data.alert
        assert alert.credit_type is not None
        assert (alert.credit_type.id, alert.credit_type.name) == (unit_id, "gpu credits")
        assert alert.access_type == "SPEND"


def test_rules_of_the_sdk_types_are_400s_naming_the_field(client: Metronome) -> None:
    with pytest.raises(
        metronome.BadRequestError,
        match="billable_metric_id: is required for 'usage_threshold_reached'",
    ):
        client.v1.alerts.create(alert_type="usage_threshold_reached", name="u", threshold=1)
    with pytest.raises(
        metronome.BadRequestError,
        match="group_values: is only for 'spend_threshold_reached' alerts",
    ):
        client.v1.alerts.create(
            alert_type="invoice_total_reached",
            name="i",
            threshold=1,
            group_values=[{"key": "region"}],
        )
    with pytest.raises(
        metronome.BadRequestError, match="credit_type_id: cannot be set with access_type 'QUANTITY'"
    ):
        client.v1.alerts.create(
            alert_type="low_remaining_commit_balance_reached",
            name="q",
            threshold=1,
            access_type="QUANTITY",
            credit_type_id=USD_CENTS,
        )
    with pytest.raises(
        metronome.BadRequestError, match="alert_type: must be one of low_credit_balance_reached"
    ):
        client.v1.alerts.create(alert_type="bogus", name="b", threshold=1)  # type: ignore[arg-type]
    other = client.v1.alerts.create(
        alert_type="spend_threshold_reached", name="o", threshold=1, customer_id=_customer(client)
    ).data.id
    with pytest.raises(metronome.NotFoundError):
        client.v1.customers.alerts.retrieve(customer_id=_customer(client), alert_id=other)
    with pytest.raises(metronome.NotFoundError):
        client.v1.alerts.archive(id=str(uuid.uuid4()))
