"""The official ``metronome`` SDK manages products, rate cards and rates on the local
server, with strict response validation: every answer must parse into the SDK's own types
(a missing required field, or a value of the wrong type, raises)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import metronome
import pytest
from metronome import Metronome
from metronome.types.v1.contracts import (
    ProductArchiveResponse,
    ProductCreateResponse,
    ProductListResponse,
    ProductRetrieveResponse,
    ProductUpdateResponse,
    RateCardArchiveResponse,
    RateCardCreateResponse,
    RateCardListResponse,
    RateCardRetrieveRateScheduleResponse,
    RateCardRetrieveResponse,
    RateCardUpdateResponse,
)
from metronome.types.v1.contracts.rate_cards import (
    RateAddManyResponse,
    RateAddResponse,
    RateListResponse,
)

from metronome_local.process import LocalServer


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


def _metric(client: Metronome) -> str:
    return client.v1.billable_metrics.create(
        name="tokens",
        aggregation_type="SUM",
        aggregation_key="tokens",
        property_filters=[
            {"name": "tokens", "exists": True},
            {"name": "model", "in_values": ["large", "small"]},
        ],
        group_keys=[["model"]],
    ).data.id


def test_product_lifecycle(client: Metronome) -> None:
    metric_id = _metric(client)
    created = client.v1.contracts.products.create(
        name="Tokens",
        type="USAGE",
        billable_metric_id=metric_id,
        pricing_group_key=["model"],
        quantity_conversion={"conversion_factor": 1000, "operation": "DIVIDE"},
        quantity_rounding={"decimal_places": 0, "rounding_method": "ROUND_UP"},
        tags=["ai"],
    )
    assert isinstance(created, ProductCreateResponse)
    product_id = created.data.id

    got = client.v1.contracts.products.retrieve(id=product_id)
    assert isinstance(got, ProductRetrieveResponse)
    assert got.data.type == "USAGE"
    assert got.data.current.name == "Tokens"
    assert got.data.current.billable_metric_id == metric_id
    assert got.data.current.pricing_group_key == ["model"]
    assert got.data.current.quantity_conversion is not None
    assert got.data.current.quantity_conversion.conversion_factor == 1000
    assert got.data.current.quantity_conversion.operation == "DIVIDE"
    assert got.data.current.quantity_rounding is not None
    assert got.data.current.quantity_rounding.rounding_method == "ROUND_UP"
    assert got.data.updates == []
    assert got.data.archived_at is None

    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    updated = client.v1.contracts.products.update(
        product_id=product_id, starting_at=hour - timedelta(hours=1), name="Tokens (1k)"
    )
    assert isinstance(updated, ProductUpdateResponse)
    assert updated.data.id == product_id
    client.v1.contracts.products.update(
        product_id=product_id, starting_at=hour + timedelta(days=30), tags=["ai", "v2"]
    )
    got = client.v1.contracts.products.retrieve(id=product_id)
    assert got.data.current.name == "Tokens (1k)"
    assert got.data.current.tags == ["ai"]
    assert got.data.current.starting_at == hour - timedelta(hours=1)
    assert [u.starting_at for u in got.data.updates] == [
        hour - timedelta(hours=1),
        hour + timedelta(days=30),
    ]
    assert got.data.initial.name == "Tokens"

    with pytest.raises(metronome.BadRequestError) as raised:
        client.v1.contracts.products.update(
            product_id=product_id, starting_at=hour + timedelta(minutes=30), name="x"
        )
    assert raised.value.body == {
        "message": "starting_at: Product update effective at is required to be on an hour boundary"
    }

    archived = client.v1.contracts.products.archive(product_id=product_id)
    assert isinstance(archived, ProductArchiveResponse)
    archived_at = client.v1.contracts.products.retrieve(id=product_id).data.archived_at
    assert isinstance(archived_at, datetime)


def test_product_list_paginates_and_filters(client: Metronome) -> None:
    prefix = f"list-{uuid.uuid4().hex[:6]}"
    ids = [
        client.v1.contracts.products.create(name=f"{prefix}-{i}", type="FIXED").data.id
        for i in range(5)
    ]
    client.v1.contracts.products.archive(product_id=ids[0])
    listed = [
        p for p in client.v1.contracts.products.list(limit=2) if p.current.name.startswith(prefix)
    ]
    assert all(isinstance(p, ProductListResponse) for p in listed)
    assert [p.id for p in listed] == ids[1:]
    archived = client.v1.contracts.products.list(limit=2, archive_filter="ARCHIVED")
    assert ids[0] in [p.id for p in archived]
    everything = client.v1.contracts.products.list(limit=3, archive_filter="ALL")
    assert [p.id for p in everything if p.current.name.startswith(prefix)] == ids


def test_rate_card_lifecycle_and_rates(client: Metronome) -> None:
    metric_id = _metric(client)
    tokens = client.v1.contracts.products.create(
        name="Tokens", type="USAGE", billable_metric_id=metric_id, pricing_group_key=["model"]
    ).data.id
    seat = client.v1.contracts.products.create(name="Seat", type="SUBSCRIPTION").data.id

    created = client.v1.contracts.rate_cards.create(
        name="List prices",
        description="2026",
        aliases=[{"name": "list", "starting_at": datetime(2026, 1, 1, tzinfo=UTC)}],
        credit_type_conversions=[{"custom_credit_type_id": "gpu", "fiat_per_custom_credit": 2}],
    )
    assert isinstance(created, RateCardCreateResponse)
    card_id = created.data.id
    got = client.v1.contracts.rate_cards.retrieve(id=card_id)
    assert isinstance(got, RateCardRetrieveResponse)
    assert got.data.name == "List prices"
    assert got.data.aliases is not None
    assert got.data.aliases[0].starting_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert got.data.credit_type_conversions is not None
    assert got.data.credit_type_conversions[0].fiat_per_custom_credit == "2"
    assert got.data.fiat_credit_type is not None
    assert got.data.fiat_credit_type.name == "USD (cents)"

    renamed = client.v1.contracts.rate_cards.update(rate_card_id=card_id, name="List 2026")
    assert isinstance(renamed, RateCardUpdateResponse)
    assert client.v1.contracts.rate_cards.retrieve(id=card_id).data.name == "List 2026"

    start = datetime(2026, 1, 1, tzinfo=UTC)
    added = client.v1.contracts.rate_cards.rates.add(
        rate_card_id=card_id,
        product_id=tokens,
        entitled=True,
        rate_type="TIERED",
        starting_at=start,
        tiers=[{"size": 1000, "price": 2}, {"price": 1}],
        pricing_group_values={"model": "large"},
    )
    assert isinstance(added, RateAddResponse)
    assert added.data.rate_type == "TIERED"
    assert added.data.tiers is not None and [t.price for t in added.data.tiers] == [2, 1]
    many = client.v1.contracts.rate_cards.rates.add_many(
        rate_card_id=card_id,
        rates=[
            {
                "product_id": seat,
                "entitled": True,
                "rate_type": "FLAT",
                "price": 5000,
                "billing_frequency": "MONTHLY",
                "starting_at": start,
            },
            {
                "product_id": seat,
                "entitled": True,
                "rate_type": "FLAT",
                "price": 6000,
                "billing_frequency": "MONTHLY",
                "starting_at": start + timedelta(days=181),
            },
        ],
    )
    assert isinstance(many, RateAddManyResponse)
    assert many.data.id == card_id

    now = list(client.v1.contracts.rate_cards.rates.list(rate_card_id=card_id, at=start, limit=1))
    assert all(isinstance(r, RateListResponse) for r in now)
    assert sorted((r.product_name, r.rate.price) for r in now) == [("Seat", 5000), ("Tokens", None)]
    [tiered] = [r for r in now if r.product_id == tokens]
    assert tiered.rate.tiers is not None and tiered.rate.tiers[0].size == 1000
    assert tiered.pricing_group_values == {"model": "large"}

    scheduled = client.v1.contracts.rate_cards.retrieve_rate_schedule(
        rate_card_id=card_id, starting_at=start, selectors=[{"product_id": seat}]
    )
    assert isinstance(scheduled, RateCardRetrieveRateScheduleResponse)
    assert [(s.rate.price, s.starting_at, s.ending_before) for s in scheduled.data] == [
        (5000, start, start + timedelta(days=181)),
        (6000, start + timedelta(days=181), None),
    ]
    assert all(s.billing_frequency == "MONTHLY" for s in scheduled.data)

    cards = [c for c in client.v1.contracts.rate_cards.list(limit=1) if c.id == card_id]
    assert len(cards) == 1 and isinstance(cards[0], RateCardListResponse)

    archived = client.v1.contracts.rate_cards.archive(id=card_id)
    assert isinstance(archived, RateCardArchiveResponse)
    assert card_id not in [c.id for c in client.v1.contracts.rate_cards.list()]
    with pytest.raises(metronome.BadRequestError, match="archived and takes no new rates"):
        client.v1.contracts.rate_cards.rates.add(
            rate_card_id=card_id,
            product_id=seat,
            entitled=True,
            rate_type="FLAT",
            price=1,
            billing_frequency="MONTHLY",
            starting_at=start,
        )


def test_sdk_errors_for_pricing(client: Metronome) -> None:
    with pytest.raises(metronome.NotFoundError):
        client.v1.contracts.products.retrieve(id=str(uuid.uuid4()))
    with pytest.raises(metronome.NotFoundError):
        client.v1.contracts.rate_cards.retrieve(id=str(uuid.uuid4()))
    with pytest.raises(metronome.BadRequestError) as raised:
        client.v1.contracts.products.create(name="x", type="USAGE")
    assert raised.value.body == {"message": "billable_metric_id: is required for USAGE products"}
