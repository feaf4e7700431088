"""A custom pricing unit (Metronome's "custom credit type", ``/v1/credit-types/*``).

A unit such as "compute credits" in which rates can be priced: a rate card converts it to
its fiat credit type (``credit_type_conversions``) and a rate in it names its id
(``credit_type_id``). Metronome offers create, list and archive only (the official SDK's
``v1.pricing_units``: ``PricingUnitCreateParams`` has ``name`` alone, ``PricingUnitListResponse``
is ``{id, name, is_currency}``), so a unit never changes: any change replaces it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import field_validator

from .common import NonEmptyStr, Returned, Wire, parse_model


class PricingUnitSpec(Wire):
    """A custom pricing unit as declared: the body of ``POST /v1/credit-types/create``."""

    name: NonEmptyStr
    """The unit's name, as invoices show it (e.g. "compute credits"). Fixed at creation: a
    change replaces the unit."""

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    def create_body(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_state(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_state(cls, props: Mapping[str, Any]) -> PricingUnitSpec:
        return parse_model(cls, {k: props[k] for k in cls.model_fields if k in props})


class PricingUnit(Returned):
    """A unit as ``/v1/credit-types/list`` returns it (``PricingUnitListResponse``: every
    field optional there, so read tolerantly); fiat currencies are listed too, with
    ``is_currency`` true."""

    id: str
    name: str | None = None
    is_currency: bool | None = None


#: Fields fixed at creation (all of them: Metronome has no update for pricing units).
PRICING_UNIT_FIELDS: tuple[str, ...] = tuple(PricingUnitSpec.model_fields)
