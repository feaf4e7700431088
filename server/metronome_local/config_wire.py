"""Wire shapes of the pricing unit, alert and notification endpoints beyond the shared
models, shaped like the official SDK's types (``metronome.types.v1.pricing_unit_*``)."""

from __future__ import annotations

from pydantic import BaseModel

from pulumi_metronome.models import PricingUnitSpec


class PricingUnitItem(BaseModel):
    """One unit as listed (``PricingUnitListResponse``)."""

    id: str
    name: str
    is_currency: bool


class PricingUnitPage(BaseModel):
    data: list[PricingUnitItem]
    next_page: str | None


REQUEST_MODELS: tuple[type[BaseModel], ...] = (PricingUnitSpec,)
RESPONSE_MODELS: tuple[type[BaseModel], ...] = (PricingUnitPage,)
