"""The OpenAPI document, built from the shared models.

Endpoints read their bodies themselves (so that a bad body is a 400 naming every problem,
never FastAPI's 422), so FastAPI cannot see the body types: each route declares its request
body with ``request_body(Model)`` (``openapi_extra``) and its answers with
``responses(Model, 400, 404, ...)``. All those schemas come from one pydantic
``models_json_schema`` call over the shared models and the envelopes in ``wire``, and are
put under ``components/schemas`` by ``install_openapi``, which also declares bearer auth and
drops FastAPI's unused 422 answers. The create operation also carries request examples and
OpenAPI links from the new id to get, rename and archive (used by stateful fuzzing).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from pulumi_metronome.models import BillableMetricSpec, CustomFieldKeySpec, customer, usage
from pulumi_metronome.models import package as package_models

from . import config_wire, pricing_wire, wire
from .idempotency import IDEMPOTENCY_KEY_MAX_LENGTH

_REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    BillableMetricSpec,
    wire.RenameMetricBody,
    wire.ArchiveMetricBody,
    CustomFieldKeySpec,
    wire.CustomFieldKeyRef,
    wire.ListCustomFieldKeysBody,
    wire.SetCustomFieldValuesBody,
    wire.DeleteCustomFieldValuesBody,
    customer.CustomerSpec,
    customer.SetIngestAliasesBody,
    customer.ArchiveCustomerBody,
    wire.EventBatch,
    usage.UsageQueryBody,
    usage.UsageGroupsBody,
    usage.SearchEventsBody,
    *pricing_wire.REQUEST_MODELS,
    *config_wire.REQUEST_MODELS,
    *package_models.REQUEST_MODELS,
    package_models.ContractFromPackage,
)
_RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    wire.ErrorBody,
    wire.IdEnvelope,
    wire.MetricEnvelope,
    wire.MetricPage,
    wire.CustomFieldKeyPage,
    wire.CustomerEnvelope,
    wire.CustomerDetailEnvelope,
    wire.CustomerPage,
    usage.UsagePage,
    usage.UsageGroupsPage,
    usage.SearchedEvents,
    *pricing_wire.RESPONSE_MODELS,
    *config_wire.RESPONSE_MODELS,
)
_REFS, _DEFS = models_json_schema(
    [(m, "validation") for m in _REQUEST_MODELS] + [(m, "serialization") for m in _RESPONSE_MODELS],
    ref_template="#/components/schemas/{model}",
)
_COMPONENTS: dict[str, Any] = _DEFS.get("$defs", {})

_ERROR_DESCRIPTIONS = {
    400: "Bad request: the message names every problem found",
    401: "Missing or unknown bearer token",
    404: "Not found",
    409: "Idempotency-Key already used with a different request",
    429: "Too many requests (only when fault injection is on); see Retry-After",
    "5XX": "Server error (only when fault injection is on)",
}

IDEMPOTENCY_KEY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Replays the first response to the same key, method, path and body (for 24 h); "
        "the same key with a different request is a 409."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH},
}


def _json(model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
    return {"application/json": {"schema": dict(_REFS[(model, mode)])}}


def request_body(
    model: type[BaseModel], *, required: bool = True, examples: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``openapi_extra`` declaring a JSON request body of ``model`` (validation schema)."""
    content = _json(model, "validation")
    if examples:
        content["application/json"]["examples"] = {
            name: {"value": value} for name, value in examples.items()
        }
    return {"requestBody": {"required": required, "content": content}}


#: Links from a created metric's id to the operations that take it.
CREATED_METRIC_LINKS = {
    "GetCreatedMetric": {
        "operationId": "getBillableMetric",
        "parameters": {"billable_metric_id": "$response.body#/data/id"},
    },
    "RenameCreatedMetric": {
        "operationId": "updateBillableMetric",
        "parameters": {"billable_metric_id": "$response.body#/data/id"},
    },
    "ArchiveCreatedMetric": {
        "operationId": "archiveBillableMetric",
        "requestBody": {"id": "$response.body#/data/id"},
    },
}


#: Links from a created customer's id to the operations that take it.
CREATED_CUSTOMER_LINKS = {
    "GetCreatedCustomer": {
        "operationId": "getCustomer",
        "parameters": {"customer_id": "$response.body#/data/id"},
    },
    "SetCreatedCustomerAliases": {
        "operationId": "setCustomerIngestAliases",
        "parameters": {"customer_id": "$response.body#/data/id"},
    },
    "ArchiveCreatedCustomer": {
        "operationId": "archiveCustomer",
        "requestBody": {"id": "$response.body#/data/id"},
    },
}


def idempotent(extra: dict[str, Any]) -> dict[str, Any]:
    """``extra`` plus the optional ``Idempotency-Key`` header (POST routes)."""
    return {**extra, "parameters": [IDEMPOTENCY_KEY_PARAMETER]}


def responses(
    ok: type[BaseModel] | None, *errors: int, links: dict[str, Any] | None = None
) -> dict[int | str, Any]:
    """``responses=`` of a route: 200 with ``ok`` (``None``: empty body) and error answers.

    401, 429 and 5XX apply to every ``/v1`` route and are always included. ``links`` are
    OpenAPI links of the 200 answer (what a client, or a stateful fuzzer, can do next).
    """
    out: dict[int | str, Any] = {200: {"description": "OK"}}
    if ok is not None:
        out[200]["content"] = _json(ok, "serialization")
    if links:
        out[200]["links"] = links
    statuses: list[int | str] = [*sorted({*errors, 401, 429}, key=str), "5XX"]
    for status in statuses:
        out[status] = {
            "description": _ERROR_DESCRIPTIONS[status],
            "content": _json(wire.ErrorBody, "serialization"),
        }
    return out


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the finished document (cached)."""

    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = document.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        schemas.update(_COMPONENTS)
        components["securitySchemes"] = {
            "bearerAuth": {"type": "http", "scheme": "bearer", "description": "--token"}
        }
        document["security"] = [{"bearerAuth": []}]
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                operation.get("responses", {}).pop("422", None)
        app.openapi_schema = document
        return document

    # FastAPI's documented way to customize the document is to replace this method; mypy
    # treats any assignment to a method as an error.
    app.openapi = build  # type: ignore[method-assign]
