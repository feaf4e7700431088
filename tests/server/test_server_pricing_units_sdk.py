"""The official ``metronome`` SDK creates, lists and archives custom pricing units on the
local server, with strict response validation (every answer must parse into the SDK's own
``PricingUnit*Response`` types)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import metronome
import pytest
from metronome import Metronome
from metronome.types.v1 import (
    PricingUnitArchiveResponse,
    PricingUnitCreateResponse,
    PricingUnitListResponse,
)

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


def test_pricing_unit_lifecycle(client: Metronome) -> None:
    name = f"compute credits {uuid.uuid4().hex[:6]}"
    created = client.v1.pricing_units.create(name=name)
    assert isinstance(created, PricingUnitCreateResponse)
    unit_id = created.data.id

    listed = list(client.v1.pricing_units.list())
    assert all(isinstance(u, PricingUnitListResponse) for u in listed)
    by_id = {u.id: u for u in listed}
    assert (by_id[USD_CENTS].name, by_id[USD_CENTS].is_currency) == ("USD (cents)", True)
    assert (by_id[unit_id].name, by_id[unit_id].is_currency) == (name, False)

    archived = client.v1.pricing_units.archive(id=unit_id)
    assert isinstance(archived, PricingUnitArchiveResponse)
    assert archived.data.id == unit_id
    assert unit_id not in {u.id for u in client.v1.pricing_units.list()}
    # Archiving again is harmless.
    assert client.v1.pricing_units.archive(id=unit_id).data.id == unit_id


def test_list_pages_with_the_cursor(client: Metronome) -> None:
    """Pages of 2 walk every unit once: the fiat first, then custom units in order."""
    names = [f"unit {i} {uuid.uuid4().hex[:6]}" for i in range(3)]
    ids = [client.v1.pricing_units.create(name=n).data.id for n in names]
    seen = [u.id for u in client.v1.pricing_units.list(limit=2)]
    assert seen[0] == USD_CENTS
    assert len(seen) == len(set(seen))
    assert [i for i in seen if i in ids] == ids
    first = client.v1.pricing_units.list(limit=2)
    assert len(first.data) == 2 and first.next_page is not None


def test_bad_requests(client: Metronome) -> None:
    with pytest.raises(metronome.BadRequestError, match="name: must not be empty"):
        client.v1.pricing_units.create(name=" ")
    with pytest.raises(metronome.NotFoundError):
        client.v1.pricing_units.archive(id=str(uuid.uuid4()))


def test_a_rate_card_converts_a_declared_unit(client: Metronome) -> None:
    """A rate card's conversion and a rate priced in the unit refer to its id."""
    unit_id = client.v1.pricing_units.create(name="gpu credits").data.id
    product_id = client.v1.contracts.products.create(name="Seat", type="FIXED").data.id
    card_id = client.v1.contracts.rate_cards.create(
        name="credits card",
        credit_type_conversions=[{"custom_credit_type_id": unit_id, "fiat_per_custom_credit": 25}],
    ).data.id
    client.v1.contracts.rate_cards.rates.add(
        rate_card_id=card_id,
        product_id=product_id,
        entitled=True,
        rate_type="FLAT",
        price=3,
        credit_type_id=unit_id,
        starting_at="2030-01-01T00:00:00Z",
    )
    card = client.v1.contracts.rate_cards.retrieve(id=card_id).data
    conversions = card.credit_type_conversions or []
    assert [c.custom_credit_type.id for c in conversions] == [unit_id]
    assert [c.custom_credit_type.name for c in conversions] == ["gpu credits"]
    rates = list(
        client.v1.contracts.rate_cards.rates.list(rate_card_id=card_id, at="2030-01-02T00:00:00Z")
    )
    assert [
        (r.rate.credit_type.id, r.rate.credit_type.name) for r in rates if r.rate.credit_type
    ] == [(unit_id, "gpu credits")]
