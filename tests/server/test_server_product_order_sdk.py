"""The official ``metronome`` SDK sets a rate card's product order on the local server
(``client.v1.contracts.rate_cards.product_orders.set``) with strict response validation;
unknown products and cards are refused naming them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import metronome
import pytest
from metronome import Metronome
from metronome.types.v1.contracts.rate_cards import ProductOrderSetResponse

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


def test_set_product_order(client: Metronome) -> None:
    first = client.v1.contracts.products.create(name="Seat", type="FIXED").data.id
    second = client.v1.contracts.products.create(name="Support", type="FIXED").data.id
    card_id = client.v1.contracts.rate_cards.create(name="list prices").data.id
    answer = client.v1.contracts.rate_cards.product_orders.set(
        rate_card_id=card_id, product_order=[second, first]
    )
    assert isinstance(answer, ProductOrderSetResponse) and answer.data.id == card_id

    missing = str(uuid.uuid4())
    with pytest.raises(metronome.BadRequestError, match=rf"product_order\[1\]: product {missing}"):
        client.v1.contracts.rate_cards.product_orders.set(
            rate_card_id=card_id, product_order=[first, missing]
        )
    with pytest.raises(
        metronome.BadRequestError, match=rf"product_order: names {first} more than once"
    ):
        client.v1.contracts.rate_cards.product_orders.set(
            rate_card_id=card_id, product_order=[first, first]
        )
    with pytest.raises(metronome.NotFoundError):
        client.v1.contracts.rate_cards.product_orders.set(
            rate_card_id=str(uuid.uuid4()), product_order=[first]
        )
    client.v1.contracts.rate_cards.archive(id=card_id)
    with pytest.raises(metronome.BadRequestError, match="archived"):
        client.v1.contracts.rate_cards.product_orders.set(
            rate_card_id=card_id, product_order=[first]
        )
