"""The order of a rate card's products on invoices (``setRateCardProductsOrder``).

Metronome sets it with ``POST /v1/contract-pricing/rate-cards/setRateCardProductsOrder``
(the official SDK's ``ProductOrderSetParams``: ``rate_card_id``, ``product_order``: product
ids) and offers no way to read it back (``RateCardRetrieveResponse`` has no order), so a
stack keeps the order it set. It is not part of a card's create body: it is set after the
card and its rates exist.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, TypeAdapter

from .common import NonEmptyStr, Wire
from .rate_card import RateCardSpec


def _each_once(ids: list[str]) -> list[str]:
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(f"names {', '.join(repeated)} more than once")
    return ids


#: Product ids in invoice order, each once.
ProductOrder = Annotated[list[NonEmptyStr], AfterValidator(_each_once)]
PRODUCT_ORDER: TypeAdapter[list[str] | None] = TypeAdapter(ProductOrder | None)


class RateCardDeclaration(RateCardSpec):
    """A rate card as a program declares it: the create body and the product order."""

    product_order: ProductOrder | None = None
    """The order of the card's products on invoices (product ids, each once), set after
    the card and its rates; changes in place. Metronome cannot read it back: the stack
    keeps the order it set."""


class ProductOrderBody(Wire):
    """The body of ``POST .../rate-cards/setRateCardProductsOrder``."""

    rate_card_id: NonEmptyStr
    product_order: ProductOrder
