"""``/v1/customers``: create, get, list, archive, set ingest aliases.

Bodies are validated with the shared models (``pulumi_metronome.models.customer``); the
rules that need the other customers (an alias names one live customer) and custom fields'
allow list are the store's (``customer_store``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from pulumi_metronome.models import SpecError, parse_model
from pulumi_metronome.models.customer import (
    ArchiveCustomerBody,
    CustomerSpec,
    SetIngestAliasesBody,
)

from .. import wire
from ..cursors import decode_cursor, encode_cursor
from ..customer_store import CustomerStore
from ..deps import BodyDep, SettingsDep
from ..errors import BadRequest
from ..openapi import CREATED_CUSTOMER_LINKS, idempotent, request_body, responses

router = APIRouter(prefix="/v1/customers", tags=["customers"])
MAX_PAGE_SIZE = 100
#: ``customer_ids`` filter of the list: at most this many ids (official SDK docs).
MAX_LISTED_IDS = 100
_CURSOR_KIND = "customers"


def get_customers(request: Request) -> CustomerStore:
    store: CustomerStore = request.app.state.customers
    return store


def _parse(model: Any, body: Any) -> Any:
    try:
        return parse_model(model, wire.require_object(body))
    except SpecError as error:
        raise BadRequest(error.violations) from None


@router.post(
    "",
    summary="Create a customer",
    operation_id="createCustomer",
    responses=responses(wire.CustomerEnvelope, 400, 409, links=CREATED_CUSTOMER_LINKS),
    openapi_extra=idempotent(request_body(CustomerSpec)),
)
def create_customer(request: Request, body: BodyDep) -> JSONResponse:
    spec: CustomerSpec = _parse(CustomerSpec, body)
    return JSONResponse({"data": get_customers(request).create(spec)})


@router.get(
    "/{customer_id}",
    summary="Get a customer (archived ones too)",
    operation_id="getCustomer",
    responses=responses(wire.CustomerDetailEnvelope, 404),
)
def get_customer(request: Request, customer_id: str) -> JSONResponse:
    return JSONResponse({"data": get_customers(request).get(customer_id)})


@router.get(
    "",
    summary="List customers in creation order",
    operation_id="listCustomers",
    responses=responses(wire.CustomerPage, 400),
)
def list_customers(
    request: Request,
    settings: SettingsDep,
    limit: Annotated[
        int | None, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size, 1 to 100")
    ] = None,
    next_page: Annotated[str | None, Query(description="Cursor from the previous page")] = None,
    only_archived: Annotated[
        bool, Query(description="Only archived customers (default: only live ones)")
    ] = False,
    customer_ids: Annotated[
        list[str] | None,
        Query(description="Only these customer ids (repeated or comma-separated; at most 100)"),
    ] = None,
    ingest_alias: Annotated[
        str | None, Query(description="Only the customer this ingest alias names")
    ] = None,
) -> JSONResponse:
    ids = [i for item in customer_ids or [] for i in item.split(",") if i]
    if len(ids) > MAX_LISTED_IDS:
        raise BadRequest(f"customer_ids: at most {MAX_LISTED_IDS} ids, not {len(ids)}")
    if customer_ids is not None and not ids:
        return JSONResponse({"data": [], "next_page": None})
    items, next_after = get_customers(request).page(
        after=decode_cursor(_CURSOR_KIND, next_page),
        limit=limit or settings.default_page_size,
        only_archived=only_archived,
        customer_ids=ids,
        ingest_alias=ingest_alias,
    )
    cursor = None if next_after is None else encode_cursor(_CURSOR_KIND, next_after)
    return JSONResponse({"data": items, "next_page": cursor})


@router.post(
    "/archive",
    summary="Archive a customer (final; archiving twice is harmless; frees its aliases)",
    operation_id="archiveCustomer",
    responses=responses(wire.IdEnvelope, 400, 404, 409),
    openapi_extra=idempotent(request_body(ArchiveCustomerBody)),
)
def archive_customer(request: Request, body: BodyDep) -> JSONResponse:
    archive: ArchiveCustomerBody = _parse(ArchiveCustomerBody, body)
    get_customers(request).archive(archive.id)
    return JSONResponse({"data": {"id": archive.id}})


@router.post(
    "/{customer_id}/setIngestAliases",
    summary="Replace a customer's ingest aliases",
    operation_id="setCustomerIngestAliases",
    response_class=Response,
    responses=responses(None, 400, 404, 409),
    openapi_extra=idempotent(request_body(SetIngestAliasesBody)),
)
def set_ingest_aliases(request: Request, customer_id: str, body: BodyDep) -> Response:
    aliases: SetIngestAliasesBody = _parse(SetIngestAliasesBody, body)
    get_customers(request).set_aliases(customer_id, aliases.ingest_aliases)
    return Response(status_code=200)
