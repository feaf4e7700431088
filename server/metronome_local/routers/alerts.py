"""``/v1/alerts/*`` and ``/v1/customer-alerts/get``: threshold notifications.

Wire shapes are the official SDK's: ``AlertCreateParams`` in (checked with the shared
``AlertSpec``), ``{data: {id}}`` out; ``AlertArchiveParams`` (``id``,
``release_uniqueness_key``); ``AlertRetrieveParams`` -> ``{data: CustomerAlert}``. A create
with a ``uniqueness_key`` already held by an alert is a 409 (archiving keeps the key held
unless ``release_uniqueness_key``). The local server does not evaluate alerts: a live
alert's ``customer_status`` is ``evaluating``, an archived one's null.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from pulumi_metronome.models import (
    USD_CENTS_ID,
    USD_CENTS_NAME,
    AlertSpec,
    SpecError,
    parse_alert_spec,
    parse_model,
)

from .. import config_wire, wire
from ..customer_store import CustomerStore
from ..deps import BodyDep
from ..errors import ApiError, BadRequest, NotFound
from ..openapi import idempotent, request_body, responses
from ..store import Store, utc_now

router = APIRouter(tags=["alerts"])
_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,                -- JSON of the create body
    uniqueness_key TEXT UNIQUE,        -- NULL when none or released
    updated_at TEXT NOT NULL,
    archived_at TEXT
)
"""


class AlertStore:
    """Alerts, in the ``Store``'s database and transactions."""

    def __init__(self, store: Store) -> None:
        self.store = store
        store.extend(_SCHEMA, ("alerts",))

    def create(self, spec: AlertSpec) -> str:
        alert_id = str(uuid.uuid4())
        with self.store.transaction() as db:
            if (
                spec.uniqueness_key is not None
                and db.execute(
                    "SELECT 1 FROM alerts WHERE uniqueness_key = ?", (spec.uniqueness_key,)
                ).fetchone()
            ):
                raise ApiError(
                    409,
                    f"an alert with uniqueness_key {spec.uniqueness_key!r} already exists",
                )
            db.execute(
                "INSERT INTO alerts (id, body, uniqueness_key, updated_at) VALUES (?, ?, ?, ?)",
                (alert_id, json.dumps(spec.create_body()), spec.uniqueness_key, utc_now()),
            )
        return alert_id

    def archive(self, alert_id: str, *, release: bool) -> None:
        with self.store.transaction() as db:
            row = _row(db, alert_id)
            now = utc_now()
            if row["archived_at"] is None:
                db.execute(
                    "UPDATE alerts SET archived_at = ?, updated_at = ? WHERE id = ?",
                    (now, now, alert_id),
                )
            if release:
                db.execute("UPDATE alerts SET uniqueness_key = NULL WHERE id = ?", (alert_id,))

    def for_customer(self, customer_id: str, alert_id: str) -> dict[str, Any]:
        """The alert as the customer sees it (``CustomerAlert``); 404 when it does not
        apply to the customer."""
        with self.store.transaction() as db:
            row = _row(db, alert_id)
        body = json.loads(row["body"])
        if body.get("customer_id") not in (None, customer_id):
            raise NotFound(f"alert {alert_id} does not apply to customer {customer_id}")
        archived = row["archived_at"] is not None
        alert: dict[str, Any] = {
            "id": row["id"],
            "name": body["name"],
            "status": "archived" if archived else "enabled",
            "threshold": body["threshold"],
            "type": body["alert_type"],
            "updated_at": row["updated_at"],
        }
        credit_type_id = body.get("credit_type_id")
        if body.get("access_type") != "QUANTITY":
            name = USD_CENTS_NAME if (credit_type_id or USD_CENTS_ID) == USD_CENTS_ID else None
            unit = credit_type_id or USD_CENTS_ID
            alert["credit_type"] = {"id": unit, "name": name or self._unit_name(unit)}
        for key in (
            "access_type",
            "alert_specifiers",
            "credit_grant_type_filters",
            "custom_field_filters",
            "group_values",
            "invoice_types_filter",
            "seat_filter",
        ):
            if key in body:
                alert[key] = body[key]
        if row["uniqueness_key"] is not None:
            alert["uniqueness_key"] = row["uniqueness_key"]
        return {"alert": alert, "customer_status": None if archived else "evaluating"}

    def _unit_name(self, unit_id: str) -> str:
        """A declared pricing unit's name (``/v1/credit-types``), else its id."""
        with self.store.transaction() as db:
            if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'credit_types'").fetchone():
                found = db.execute(
                    "SELECT name FROM credit_types WHERE id = ?", (unit_id,)
                ).fetchone()
                if found is not None:
                    return str(found["name"])
        return unit_id


def _row(db: sqlite3.Connection, alert_id: str) -> sqlite3.Row:
    row: sqlite3.Row | None = db.execute(
        "SELECT * FROM alerts WHERE id = ?", (alert_id,)
    ).fetchone()
    if row is None:
        raise NotFound(f"alert {alert_id} not found")
    return row


def get_alerts(request: Request) -> AlertStore:
    alerts: AlertStore = request.app.state.alerts
    return alerts


def get_customers(request: Request) -> CustomerStore:
    customers: CustomerStore = request.app.state.customers
    return customers


AlertsDep = Annotated[AlertStore, Depends(get_alerts)]
CustomersDep = Annotated[CustomerStore, Depends(get_customers)]


def _parse(model: type[Any], body: Any) -> Any:
    try:
        return parse_model(model, wire.require_object(body))
    except SpecError as error:
        raise BadRequest(error.violations) from None


@router.post(
    "/v1/alerts/create",
    summary="Create a threshold notification (a uniqueness_key already held: 409)",
    operation_id="createAlert",
    responses=responses(wire.IdEnvelope, 400, 409),
    openapi_extra=idempotent(request_body(AlertSpec)),
)
def create_alert(alerts: AlertsDep, body: BodyDep) -> JSONResponse:
    try:
        spec = parse_alert_spec(wire.require_object(body))
    except SpecError as error:
        raise BadRequest(error.violations) from None
    return JSONResponse({"data": {"id": alerts.create(spec)}})


@router.post(
    "/v1/alerts/archive",
    summary="Archive a threshold notification (final; its uniqueness_key stays held "
    "unless released)",
    operation_id="archiveAlert",
    responses=responses(wire.IdEnvelope, 400, 404, 409),
    openapi_extra=idempotent(request_body(config_wire.ArchiveAlertBody)),
)
def archive_alert(alerts: AlertsDep, body: BodyDep) -> JSONResponse:
    ref = _parse(config_wire.ArchiveAlertBody, body)
    alerts.archive(ref.id, release=bool(ref.release_uniqueness_key))
    return JSONResponse({"data": {"id": ref.id}})


@router.post(
    "/v1/customer-alerts/get",
    summary="A threshold notification as one customer sees it",
    operation_id="getCustomerAlert",
    responses=responses(config_wire.CustomerAlertEnvelope, 400, 404, 409),
    openapi_extra=idempotent(request_body(config_wire.CustomerAlertBody)),
)
def get_customer_alert(alerts: AlertsDep, customers: CustomersDep, body: BodyDep) -> JSONResponse:
    ref = _parse(config_wire.CustomerAlertBody, body)
    customers.get(ref.customer_id)  # 404 for an unknown customer
    return JSONResponse({"data": alerts.for_customer(ref.customer_id, ref.alert_id)})
