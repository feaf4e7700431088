"""Wire shapes of the endpoints beyond the shared models, and reading a JSON body.

The metric itself (``BillableMetricSpec`` in, ``BillableMetric`` out) and the custom field
key (``CustomFieldKeySpec``) come from ``pulumi_metronome.models``; here are only the
envelopes (``{"data": ...}``) and the small request bodies of the other endpoints, shaped
like the official SDK's ``*_params.py`` types. Unknown fields are rejected, as the shared
models do.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Request
from pydantic import BaseModel, Field, RootModel, StrictStr

from pulumi_metronome.models import (
    BillableMetric,
    CustomFieldEntity,
    CustomFieldKeySpec,
    MetricName,
    NonEmptyStr,
    Wire,
)
from pulumi_metronome.models.customer import Customer, CustomerDetail
from pulumi_metronome.models.event import Event

from .errors import BadRequest

# --- request bodies --------------------------------------------------------------------


class EventBatch(RootModel[Annotated[list[Event], Field(min_length=1, max_length=100)]]):
    """``POST /v1/ingest``: a bare JSON array of 1 to 100 events (for the OpenAPI document;
    the route validates with ``parse_events``)."""


class RenameMetricBody(Wire):
    """``PUT /v1/billable-metrics/{billable_metric_id}``: the create body's name rules."""

    name: MetricName


class ArchiveMetricBody(Wire):
    """``POST /v1/billable-metrics/archive``."""

    id: NonEmptyStr


class CustomFieldKeyRef(Wire):
    """``POST /v1/customFields/removeKey``."""

    entity: CustomFieldEntity
    key: NonEmptyStr


class ListCustomFieldKeysBody(Wire):
    """``POST /v1/customFields/listKeys``: no entities (or an empty list) means all."""

    entities: list[CustomFieldEntity] | None = None


class SetCustomFieldValuesBody(Wire):
    """``POST /v1/customFields/setValues``."""

    entity: CustomFieldEntity
    entity_id: NonEmptyStr
    custom_fields: dict[NonEmptyStr, StrictStr]


class DeleteCustomFieldValuesBody(Wire):
    """``POST /v1/customFields/deleteValues``."""

    entity: CustomFieldEntity
    entity_id: NonEmptyStr
    keys: list[NonEmptyStr]


# --- responses ---------------------------------------------------------------------------


class ErrorBody(BaseModel):
    """Every 4xx (and injected 5xx) answer."""

    message: str
    code: str | None = None


class IdData(BaseModel):
    id: str


class IdEnvelope(BaseModel):
    data: IdData


class MetricEnvelope(BaseModel):
    data: BillableMetric


class MetricPage(BaseModel):
    data: list[BillableMetric]
    next_page: str | None


class CustomFieldKeyPage(BaseModel):
    data: list[CustomFieldKeySpec]
    next_page: str | None


class CustomerEnvelope(BaseModel):
    data: Customer


class CustomerDetailEnvelope(BaseModel):
    data: CustomerDetail


class CustomerPage(BaseModel):
    data: list[CustomerDetail]
    next_page: str | None


# --- reading a body ----------------------------------------------------------------------


async def json_body(request: Request) -> Any:
    """The request's JSON body (``None`` when empty); 400 when it is not JSON.

    Endpoints parse it themselves with the shared models, so that a bad body is a 400 that
    names every problem rather than FastAPI's 422.
    """
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        data = json.loads(raw)
        # Lone surrogates ("\\ud800") decode but cannot be stored or sent back as UTF-8;
        # only an escaped surrogate can make one, so only then is the (costly) check run.
        if b"\\ud" in raw or b"\\uD" in raw:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError) as error:
        raise BadRequest(f"the body is not valid JSON: {error}") from None
    return data


def require_object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data
