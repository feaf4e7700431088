"""``/v1/contract-pricing/rate-cards/*``: rate cards (create, get, list, update, archive)
and their rates (addRate, addRates, getRates, getRateSchedule), all POST.

Rates have no id and no delete: adding a rate with the key of a stored one (product,
pricing group values, billing frequency, ``starting_at``) replaces it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from pulumi_metronome.models import (
    GetRatesBody,
    GetRateScheduleBody,
    NonEmptyStr,
    RateCardSpec,
    RateCardUpdate,
    SpecError,
    Violation,
    Wire,
    parse_model,
    parse_rate,
    parse_rates,
)

from .. import pricing_wire, wire
from ..cursors import decode_cursor, encode_cursor
from ..deps import BodyDep, SettingsDep
from ..errors import BadRequest
from ..openapi import idempotent, request_body, responses
from .products import MAX_PAGE_SIZE, PricingDep, PrincipalDep, parse

router = APIRouter(prefix="/v1/contract-pricing/rate-cards", tags=["rate cards"])
CREATE_EXAMPLES = {
    "plain": {"name": "List prices 2026", "description": "Public list prices"},
    "aliases": {"name": "Enterprise", "aliases": [{"name": "enterprise-default"}]},
}
#: Links from a created rate card's id to the operations that take it (stateful fuzzing).
CREATED_CARD_LINKS = {
    "GetCreatedRateCard": {
        "operationId": "getRateCard",
        "requestBody": {"id": "$response.body#/data/id"},
    },
    "UpdateCreatedRateCard": {
        "operationId": "updateRateCard",
        "requestBody": {"rate_card_id": "$response.body#/data/id", "description": "updated"},
    },
    "ScheduleOfCreatedRateCard": {
        "operationId": "getRateSchedule",
        "requestBody": {
            "rate_card_id": "$response.body#/data/id",
            "starting_at": "2026-01-01T00:00:00Z",
        },
    },
    "ArchiveCreatedRateCard": {
        "operationId": "archiveRateCard",
        "requestBody": {"id": "$response.body#/data/id"},
    },
}
Limit = Annotated[int | None, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size, 1 to 100")]
NextPage = Annotated[str | None, Query(description="Cursor from the previous page")]


def _id(object_id: str) -> JSONResponse:
    return JSONResponse({"data": {"id": object_id}})


def _page(items: list[dict[str, Any]], kind: str, next_page: str | None, size: int) -> JSONResponse:
    """One page of an already computed list (rates), with an offset cursor."""
    start = decode_cursor(kind, next_page)
    page = items[start : start + size]
    more = start + size < len(items)
    cursor = encode_cursor(kind, start + size) if more else None
    return JSONResponse({"data": page, "next_page": cursor})


@router.post(
    "/create",
    summary="Create a rate card",
    operation_id="createRateCard",
    responses=responses(wire.IdEnvelope, 400, 409, links=CREATED_CARD_LINKS),
    openapi_extra=idempotent(request_body(RateCardSpec, examples=CREATE_EXAMPLES)),
)
def create_rate_card(pricing: PricingDep, principal: PrincipalDep, body: BodyDep) -> JSONResponse:
    spec = parse(RateCardSpec, body)
    return _id(pricing.create_rate_card(spec, principal=principal))


@router.post(
    "/get",
    summary="Get a rate card (without its rates)",
    operation_id="getRateCard",
    responses=responses(pricing_wire.RateCardEnvelope, 400, 404, 409),
    openapi_extra=idempotent(request_body(pricing_wire.IdBody)),
)
def get_rate_card(pricing: PricingDep, body: BodyDep) -> JSONResponse:
    ref = parse(pricing_wire.IdBody, body)
    return JSONResponse({"data": pricing.get_rate_card(ref.id)})


@router.post(
    "/list",
    summary="List rate cards in creation order (archived ones are left out)",
    operation_id="listRateCards",
    responses=responses(pricing_wire.RateCardPage, 400, 409),
    openapi_extra=idempotent(request_body(pricing_wire.ListRateCardsBody, required=False)),
)
def list_rate_cards(
    settings: SettingsDep,
    pricing: PricingDep,
    body: BodyDep,
    limit: Limit = None,
    next_page: NextPage = None,
) -> JSONResponse:
    parse(pricing_wire.ListRateCardsBody, {} if body is None else body)
    items, next_after = pricing.list_rate_cards(
        after=decode_cursor("rate_cards", next_page), limit=limit or settings.default_page_size
    )
    cursor = None if next_after is None else encode_cursor("rate_cards", next_after)
    return JSONResponse({"data": items, "next_page": cursor})


@router.post(
    "/update",
    summary="Change a rate card's name, description or aliases, or add credit conversions",
    operation_id="updateRateCard",
    responses=responses(wire.IdEnvelope, 400, 404, 409),
    openapi_extra=idempotent(request_body(RateCardUpdate)),
)
def update_rate_card(pricing: PricingDep, body: BodyDep) -> JSONResponse:
    update = parse(RateCardUpdate, body)
    pricing.update_rate_card(update)
    return _id(update.rate_card_id)


@router.post(
    "/archive",
    summary="Archive a rate card (final; archiving twice is harmless)",
    operation_id="archiveRateCard",
    responses=responses(wire.IdEnvelope, 400, 404, 409),
    openapi_extra=idempotent(request_body(pricing_wire.IdBody)),
)
def archive_rate_card(pricing: PricingDep, body: BodyDep) -> JSONResponse:
    ref = parse(pricing_wire.IdBody, body)
    pricing.archive_rate_card(ref.id)
    return _id(ref.id)


def _card_id(data: dict[str, Any]) -> tuple[str | None, list[Violation]]:
    """``rate_card_id`` of a body, or the problem with it."""
    try:
        return parse_model(_CardRef, {"rate_card_id": data.get("rate_card_id")}).rate_card_id, []
    except SpecError as error:
        return None, error.violations


class _CardRef(Wire):
    rate_card_id: NonEmptyStr


@router.post(
    "/addRate",
    summary="Add a rate (one with the same product, pricing group values, billing frequency "
    "and starting_at is replaced)",
    operation_id="addRate",
    responses=responses(pricing_wire.AddRateEnvelope, 400, 404, 409),
    openapi_extra=idempotent(request_body(pricing_wire.AddRateBody)),
)
def add_rate(pricing: PricingDep, body: BodyDep) -> JSONResponse:
    data = dict(wire.require_object(body))
    card_id, problems = _card_id(data)
    data.pop("rate_card_id", None)
    try:
        entry = parse_rate(data)
    except SpecError as error:
        problems += error.violations
    if problems or card_id is None:
        raise BadRequest(problems)
    pricing.add_rates(card_id, [entry], field=None)
    rate = {
        k: v
        for k, v in entry.body().items()
        if k in ("rate_type", "price", "tiers", "is_prorated", "quantity", "custom_rate")
        or k in ("pricing_group_values", "commit_rate")
    }
    return JSONResponse({"data": rate})


@router.post(
    "/addRates",
    summary="Add several rates to a rate card, all or none",
    operation_id="addRates",
    responses=responses(wire.IdEnvelope, 400, 404, 409),
    openapi_extra=idempotent(request_body(pricing_wire.AddRatesBody)),
)
def add_rates(pricing: PricingDep, body: BodyDep) -> JSONResponse:
    data = wire.require_object(body)
    card_id, problems = _card_id(data)
    unknown = sorted(set(data) - {"rate_card_id", "rates"})
    problems += [Violation(k, "is not a known field") for k in unknown]
    entries = []
    if "rates" not in data:
        problems.append(Violation("rates", "is required"))
    else:
        try:
            entries = parse_rates(data["rates"])
        except SpecError as error:
            problems += error.violations
    if problems or card_id is None:
        raise BadRequest(problems)
    pricing.add_rates(card_id, entries, field="rates")
    return _id(card_id)


@router.post(
    "/getRates",
    summary="The rates of a rate card in effect at a time",
    operation_id="getRates",
    responses=responses(pricing_wire.ScheduledRatePage, 400, 404, 409),
    openapi_extra=idempotent(request_body(GetRatesBody)),
)
def get_rates(
    settings: SettingsDep,
    pricing: PricingDep,
    body: BodyDep,
    limit: Limit = None,
    next_page: NextPage = None,
) -> JSONResponse:
    query = parse(GetRatesBody, body)
    items = pricing.rates_at(query)
    return _page(items, "rates", next_page, limit or settings.default_page_size)


@router.post(
    "/getRateSchedule",
    summary="A rate card's schedule of rates from starting_at on",
    operation_id="getRateSchedule",
    responses=responses(pricing_wire.ScheduledRatePage, 400, 404, 409),
    openapi_extra=idempotent(request_body(GetRateScheduleBody)),
)
def get_rate_schedule(
    settings: SettingsDep,
    pricing: PricingDep,
    body: BodyDep,
    limit: Limit = None,
    next_page: NextPage = None,
) -> JSONResponse:
    query = parse(GetRateScheduleBody, body)
    items = pricing.rate_schedule(query)
    return _page(items, "rate_schedule", next_page, limit or settings.default_page_size)
