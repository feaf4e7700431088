"""``/v1/billable-metrics``: create, get, list, rename, archive.

Bodies are validated with the shared models (``parse_metric_spec``, ``parse_model``), so the
server enforces exactly the rules the provider checks before it calls.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from pulumi_metronome.models import (
    BILLABLE_METRIC_ENTITY,
    BillableMetricSpec,
    SpecError,
    parse_metric_spec,
    parse_model,
)

from .. import wire
from ..cursors import decode_cursor, encode_cursor
from ..deps import BodyDep, SettingsDep, StoreDep
from ..errors import BadRequest
from ..openapi import CREATED_METRIC_LINKS, idempotent, request_body, responses

router = APIRouter(prefix="/v1/billable-metrics", tags=["billable metrics"])
MAX_PAGE_SIZE = 100
CREATE_EXAMPLES = {
    "sum": {
        "name": "Tokens by region",
        "aggregation_type": "SUM",
        "aggregation_key": "tokens",
        "event_type_filter": {"in_values": ["completion"]},
        "property_filters": [
            {"name": "tokens", "exists": True},
            {"name": "region", "in_values": ["us", "eu"]},
        ],
        "group_keys": [["region"]],
    },
    "count": {"name": "Requests", "aggregation_type": "count"},
    "sql": {
        "name": "Distinct users",
        "sql": "select count(distinct properties.user_id) from events",
    },
}


def _id(metric_id: str) -> JSONResponse:
    return JSONResponse({"data": {"id": metric_id}})


@router.post(
    "/create",
    summary="Create a billable metric",
    operation_id="createBillableMetric",
    responses=responses(wire.IdEnvelope, 400, 409, links=CREATED_METRIC_LINKS),
    openapi_extra=idempotent(request_body(BillableMetricSpec, examples=CREATE_EXAMPLES)),
)
def create_metric(store: StoreDep, body: BodyDep) -> JSONResponse:
    data = wire.require_object(body)
    try:
        spec = parse_metric_spec(data)
    except SpecError as error:
        # Name the allow-list problems too, for the custom fields that are well formed.
        fields = data.get("custom_fields")
        well_formed = {
            k: v
            for k, v in (fields.items() if isinstance(fields, dict) else ())
            if isinstance(k, str) and k and isinstance(v, str)
        }
        extra = store.custom_field_violations(BILLABLE_METRIC_ENTITY, "", well_formed)
        raise BadRequest([*error.violations, *extra]) from None
    return _id(store.create_metric(spec))


@router.get(
    "/{billable_metric_id}",
    summary="Get a billable metric (archived ones too)",
    operation_id="getBillableMetric",
    responses=responses(wire.MetricEnvelope, 404),
)
def get_metric(store: StoreDep, billable_metric_id: str) -> JSONResponse:
    return JSONResponse({"data": store.get_metric(billable_metric_id)})


@router.get(
    "",
    summary="List billable metrics in creation order",
    operation_id="listBillableMetrics",
    responses=responses(wire.MetricPage, 400),
)
def list_metrics(
    settings: SettingsDep,
    store: StoreDep,
    limit: Annotated[
        int | None, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size, 1 to 100")
    ] = None,
    next_page: Annotated[str | None, Query(description="Cursor from the previous page")] = None,
    include_archived: Annotated[bool, Query(description="Include archived metrics")] = False,
) -> JSONResponse:
    after = decode_cursor("billable_metrics", next_page)
    size = limit or settings.default_page_size
    items, next_after = store.list_metrics(
        after=after, limit=size, include_archived=include_archived
    )
    cursor = None if next_after is None else encode_cursor("billable_metrics", next_after)
    return JSONResponse({"data": items, "next_page": cursor})


@router.put(
    "/{billable_metric_id}",
    summary="Rename a billable metric (the only field that changes in place)",
    operation_id="updateBillableMetric",
    responses=responses(wire.IdEnvelope, 400, 404),
    openapi_extra=request_body(wire.RenameMetricBody),
)
def rename_metric(store: StoreDep, billable_metric_id: str, body: BodyDep) -> JSONResponse:
    try:
        rename = parse_model(wire.RenameMetricBody, wire.require_object(body))
    except SpecError as error:
        raise BadRequest(error.violations) from None
    store.rename_metric(billable_metric_id, rename.name)
    return _id(billable_metric_id)


@router.post(
    "/archive",
    summary="Archive a billable metric (final; archiving twice is harmless)",
    operation_id="archiveBillableMetric",
    responses=responses(wire.IdEnvelope, 400, 404, 409),
    openapi_extra=idempotent(request_body(wire.ArchiveMetricBody)),
)
def archive_metric(store: StoreDep, body: BodyDep) -> JSONResponse:
    try:
        archive = parse_model(wire.ArchiveMetricBody, wire.require_object(body))
    except SpecError as error:
        raise BadRequest(error.violations) from None
    store.archive_metric(archive.id)
    return _id(archive.id)
