"""``/v1/customFields/*``: the allow list of custom field keys, and values on metrics.

Keys can be added for every entity kind Metronome knows (``CUSTOM_FIELD_ENTITIES``);
values are stored only for ``billable_metric`` (other kinds: 400), since metrics are the
only entities this server holds. Changes answer 200 with an empty body, as Metronome does
(the official SDK casts them to ``None``).
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from pulumi_metronome.models import (
    CUSTOM_FIELDS,
    CustomFieldKeySpec,
    SpecError,
    Violation,
    parse_model,
    parse_value,
)

from .. import wire
from ..cursors import decode_cursor, encode_cursor
from ..deps import BodyDep, SettingsDep, StoreDep
from ..errors import BadRequest
from ..openapi import idempotent, request_body, responses

router = APIRouter(prefix="/v1/customFields", tags=["custom fields"])

M = TypeVar("M", bound=BaseModel)
_CURSOR_KIND = "custom_field_keys"


def _parse(model: type[M], body: Any) -> M:
    try:
        return parse_model(model, wire.require_object(body))
    except SpecError as error:
        raise BadRequest(error.violations) from None


def _value_violations(custom_fields: dict[str, str]) -> list[Violation]:
    """The value rules of ``custom_fields`` (e.g. length), from the shared type."""
    try:
        parse_value(CUSTOM_FIELDS, custom_fields, "custom_fields")
    except SpecError as error:
        return error.violations
    return []


def _empty() -> Response:
    return Response(status_code=200)


@router.post(
    "/addKey",
    summary="Add a key to an entity kind's custom field allow list",
    operation_id="addCustomFieldKey",
    response_class=Response,
    responses=responses(None, 400, 409),
    openapi_extra=idempotent(request_body(CustomFieldKeySpec)),
)
def add_key(store: StoreDep, body: BodyDep) -> Response:
    spec = _parse(CustomFieldKeySpec, body)
    store.add_key(spec.entity, spec.key, spec.enforce_uniqueness)
    return _empty()


@router.post(
    "/listKeys",
    summary="List custom field keys in the order they were added",
    operation_id="listCustomFieldKeys",
    responses=responses(wire.CustomFieldKeyPage, 400, 409),
    openapi_extra=idempotent(request_body(wire.ListCustomFieldKeysBody, required=False)),
)
def list_keys(
    settings: SettingsDep,
    store: StoreDep,
    body: BodyDep,
    next_page: Annotated[str | None, Query(description="Cursor from the previous page")] = None,
) -> JSONResponse:
    query = _parse(wire.ListCustomFieldKeysBody, {} if body is None else body)
    keys, next_after = store.list_keys(
        entities=query.entities,
        after=decode_cursor(_CURSOR_KIND, next_page),
        limit=settings.list_keys_page_size,
    )
    cursor = None if next_after is None else encode_cursor(_CURSOR_KIND, next_after)
    return JSONResponse({"data": keys, "next_page": cursor})


@router.post(
    "/setValues",
    summary="Set custom field values (overwrites the named keys; all or nothing)",
    operation_id="setCustomFieldValues",
    response_class=Response,
    responses=responses(None, 400, 404, 409),
    openapi_extra=idempotent(request_body(wire.SetCustomFieldValuesBody)),
)
def set_values(store: StoreDep, body: BodyDep) -> Response:
    values = _parse(wire.SetCustomFieldValuesBody, body)
    store.set_values(
        values.entity,
        values.entity_id,
        values.custom_fields,
        violations=_value_violations(values.custom_fields),
    )
    return _empty()


@router.post(
    "/deleteValues",
    summary="Delete custom field values (keys without a value are ignored)",
    operation_id="deleteCustomFieldValues",
    response_class=Response,
    responses=responses(None, 400, 404, 409),
    openapi_extra=idempotent(request_body(wire.DeleteCustomFieldValuesBody)),
)
def delete_values(store: StoreDep, body: BodyDep) -> Response:
    target = _parse(wire.DeleteCustomFieldValuesBody, body)
    store.delete_values(target.entity, target.entity_id, target.keys)
    return _empty()


@router.post(
    "/removeKey",
    summary="Remove a key from the allow list, with its values",
    operation_id="removeCustomFieldKey",
    response_class=Response,
    responses=responses(None, 400, 404, 409),
    openapi_extra=idempotent(request_body(wire.CustomFieldKeyRef)),
)
def remove_key(store: StoreDep, body: BodyDep) -> Response:
    ref = _parse(wire.CustomFieldKeyRef, body)
    store.remove_key(ref.entity, ref.key)
    return _empty()
