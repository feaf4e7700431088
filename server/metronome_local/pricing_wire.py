"""Wire shapes of the product, rate card and rate endpoints beyond the shared models.

The objects themselves (``ProductSpec``, ``RateCardSpec``, ``RateEntry`` in; ``Product``,
``RateCard``, ``ScheduledRate`` out) come from ``pulumi_metronome.models``; here are the
small request bodies and the envelopes, shaped like the official SDK's types.
"""

from __future__ import annotations

from typing import Literal

from fastapi import Request
from pydantic import BaseModel

from pulumi_metronome.models import (
    GetRatesBody,
    GetRateScheduleBody,
    NonEmptyStr,
    Product,
    ProductSpec,
    ProductUpdate,
    RateCard,
    RateCardSpec,
    RateCardUpdate,
    RateEntry,
    ReturnedPrice,
    ScheduledRate,
    Wire,
)

from .asgi import notes

# --- request bodies --------------------------------------------------------------------


class IdBody(Wire):
    """``products/get``, ``rate-cards/get``, ``rate-cards/archive``."""

    id: NonEmptyStr


class ProductRef(Wire):
    """``products/archive``."""

    product_id: NonEmptyStr


class ListProductsBody(Wire):
    """``products/list`` (``limit`` and ``next_page`` are query parameters)."""

    archive_filter: Literal["ARCHIVED", "NOT_ARCHIVED", "ALL"] | None = None


class ListRateCardsBody(Wire):
    """``rate-cards/list``: an empty object (or no body)."""


class AddRateBody(RateEntry):
    """``rate-cards/addRate``: one rate and the card it goes on."""

    rate_card_id: NonEmptyStr


class AddRatesBody(Wire):
    """``rate-cards/addRates``: several rates, added all or none."""

    rate_card_id: NonEmptyStr
    rates: list[RateEntry]


# --- responses ---------------------------------------------------------------------------


class ProductEnvelope(BaseModel):
    data: Product


class ProductPage(BaseModel):
    data: list[Product]
    next_page: str | None


class RateCardEnvelope(BaseModel):
    data: RateCard


class RateCardPage(BaseModel):
    data: list[RateCard]
    next_page: str | None


class AddRateEnvelope(BaseModel):
    data: ReturnedPrice


class ScheduledRatePage(BaseModel):
    data: list[ScheduledRate]
    next_page: str | None


REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    ProductSpec,
    ProductUpdate,
    IdBody,
    ProductRef,
    ListProductsBody,
    RateCardSpec,
    RateCardUpdate,
    ListRateCardsBody,
    AddRateBody,
    AddRatesBody,
    GetRatesBody,
    GetRateScheduleBody,
)
RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    ProductEnvelope,
    ProductPage,
    RateCardEnvelope,
    RateCardPage,
    AddRateEnvelope,
    ScheduledRatePage,
)


def principal(request: Request) -> str:
    """The non-secret name of the caller's token (for ``created_by``)."""
    return str(notes(request.scope).get("principal", ""))
