"""``/v1/contract-pricing/products/*``: create, get, list, update, archive (all POST).

Bodies are validated with the shared models (``parse_product_spec``,
``parse_product_update``), so the server enforces the rules the provider checks before it
calls; the rules that need stored state (the metric, the stored type, archived products)
are the ``PricingStore``'s.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from pulumi_metronome.models import (
    ProductSpec,
    ProductUpdate,
    SpecError,
    parse_model,
    parse_product_spec,
    parse_product_update,
)

from .. import pricing_wire, wire
from ..cursors import decode_cursor, encode_cursor
from ..deps import BodyDep, SettingsDep
from ..errors import BadRequest
from ..openapi import idempotent, request_body, responses
from ..pricing_store import PricingStore

router = APIRouter(prefix="/v1/contract-pricing/products", tags=["products"])
MAX_PAGE_SIZE = 100
M = TypeVar("M", bound=BaseModel)
CREATE_EXAMPLES = {
    "fixed": {"name": "Onboarding fee", "type": "FIXED"},
    "subscription": {"name": "Platform seat", "type": "SUBSCRIPTION", "tags": ["platform"]},
    "composite": {"name": "Support", "type": "COMPOSITE", "composite_tags": ["platform"]},
}


#: Links from a created product's id to the operations that take it (stateful fuzzing).
CREATED_PRODUCT_LINKS = {
    "GetCreatedProduct": {
        "operationId": "getProduct",
        "requestBody": {"id": "$response.body#/data/id"},
    },
    "UpdateCreatedProduct": {
        "operationId": "updateProduct",
        "requestBody": {
            "product_id": "$response.body#/data/id",
            "starting_at": "2030-01-01T00:00:00Z",
            "name": "renamed",
        },
    },
    "ArchiveCreatedProduct": {
        "operationId": "archiveProduct",
        "requestBody": {"product_id": "$response.body#/data/id"},
    },
}


def get_pricing(request: Request) -> PricingStore:
    pricing: PricingStore = request.app.state.pricing
    return pricing


PricingDep = Annotated[PricingStore, Depends(get_pricing)]
PrincipalDep = Annotated[str, Depends(pricing_wire.principal)]


def parse(model: type[M], body: Any) -> M:
    """``body`` as ``model``, or a 400 naming every problem."""
    try:
        return parse_model(model, wire.require_object(body))
    except SpecError as error:
        raise BadRequest(error.violations) from None


def _id(object_id: str) -> JSONResponse:
    return JSONResponse({"data": {"id": object_id}})


@router.post(
    "/create",
    summary="Create a product",
    operation_id="createProduct",
    responses=responses(wire.IdEnvelope, 400, 409, links=CREATED_PRODUCT_LINKS),
    openapi_extra=idempotent(request_body(ProductSpec, examples=CREATE_EXAMPLES)),
)
def create_product(pricing: PricingDep, principal: PrincipalDep, body: BodyDep) -> JSONResponse:
    try:
        spec = parse_product_spec(wire.require_object(body))
    except SpecError as error:
        raise BadRequest(error.violations) from None
    return _id(pricing.create_product(spec, principal=principal))


@router.post(
    "/get",
    summary="Get a product (archived ones too) with its initial, current and updates",
    operation_id="getProduct",
    responses=responses(pricing_wire.ProductEnvelope, 400, 404, 409),
    openapi_extra=idempotent(request_body(pricing_wire.IdBody)),
)
def get_product(pricing: PricingDep, body: BodyDep) -> JSONResponse:
    ref = parse(pricing_wire.IdBody, body)
    return JSONResponse({"data": pricing.get_product(ref.id)})


@router.post(
    "/list",
    summary="List products in creation order",
    operation_id="listProducts",
    responses=responses(pricing_wire.ProductPage, 400, 409),
    openapi_extra=idempotent(request_body(pricing_wire.ListProductsBody, required=False)),
)
def list_products(
    settings: SettingsDep,
    pricing: PricingDep,
    body: BodyDep,
    limit: Annotated[
        int | None, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size, 1 to 100")
    ] = None,
    next_page: Annotated[str | None, Query(description="Cursor from the previous page")] = None,
) -> JSONResponse:
    query = parse(pricing_wire.ListProductsBody, {} if body is None else body)
    items, next_after = pricing.list_products(
        after=decode_cursor("products", next_page),
        limit=limit or settings.default_page_size,
        archive_filter=query.archive_filter or "NOT_ARCHIVED",
    )
    cursor = None if next_after is None else encode_cursor("products", next_after)
    return JSONResponse({"data": items, "next_page": cursor})


@router.post(
    "/update",
    summary="Update a product from starting_at on (an hour boundary; may be in the past)",
    operation_id="updateProduct",
    responses=responses(wire.IdEnvelope, 400, 404, 409),
    openapi_extra=idempotent(request_body(ProductUpdate)),
)
def update_product(pricing: PricingDep, principal: PrincipalDep, body: BodyDep) -> JSONResponse:
    try:
        update = parse_product_update(wire.require_object(body))
    except SpecError as error:
        raise BadRequest(error.violations) from None
    pricing.update_product(update, principal=principal)
    return _id(update.product_id)


@router.post(
    "/archive",
    summary="Archive a product (final; it takes no new rates; archiving twice is harmless)",
    operation_id="archiveProduct",
    responses=responses(wire.IdEnvelope, 400, 404, 409),
    openapi_extra=idempotent(request_body(pricing_wire.ProductRef)),
)
def archive_product(pricing: PricingDep, body: BodyDep) -> JSONResponse:
    ref = parse(pricing_wire.ProductRef, body)
    pricing.archive_product(ref.product_id)
    return _id(ref.product_id)
