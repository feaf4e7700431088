"""``/v2/notifications/*``: offset lifecycle event notifications (create, get, edit,
archive, offset/list; all POST).

Wire shapes are the official SDK's (``OffsetCreateParams``, ``OffsetEditParams``,
``OffsetListParams``; ``LifecycleEventOffsetNotificationConfig`` back, wrapped in
``{data}``; the list is a body-cursor page ``{data, cursor}``). An edit changes only the
policy and its ``type`` must be the one the notification was created with. A
``uniqueness_key`` already held is a 409. Values Metronome's docs leave open are chosen
here: ``type`` is ``"offset"``, ``environment_type`` is ``"SANDBOX"``.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from pulumi_metronome.models import (
    NotificationEdit,
    NotificationSpec,
    SpecError,
    parse_model,
)

from .. import config_wire, pricing_wire, wire
from ..cursors import decode_cursor, encode_cursor
from ..deps import BodyDep
from ..errors import ApiError, BadRequest, NotFound
from ..openapi import idempotent, request_body, responses
from ..store import Store, utc_now

router = APIRouter(prefix="/v2/notifications", tags=["notifications"])
MAX_PAGE_SIZE = 400
_CURSOR_KIND = "notifications"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS notifications (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    policy TEXT NOT NULL,              -- JSON {offset, type}
    uniqueness_key TEXT UNIQUE,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    archived_at TEXT
)
"""


class NotificationStore:
    """Offset notifications, in the ``Store``'s database and transactions."""

    def __init__(self, store: Store) -> None:
        self.store = store
        store.extend(_SCHEMA, ("notifications",))

    def create(self, spec: NotificationSpec, principal: str) -> dict[str, Any]:
        notification_id = str(uuid.uuid4())
        with self.store.transaction() as db:
            if (
                spec.uniqueness_key is not None
                and db.execute(
                    "SELECT 1 FROM notifications WHERE uniqueness_key = ?", (spec.uniqueness_key,)
                ).fetchone()
            ):
                raise ApiError(
                    409,
                    f"a notification with uniqueness_key {spec.uniqueness_key!r} already exists",
                )
            db.execute(
                "INSERT INTO notifications (id, name, policy, uniqueness_key, created_at,"
                " created_by) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    notification_id,
                    spec.name,
                    spec.policy.model_dump_json(),
                    spec.uniqueness_key,
                    utc_now(),
                    f"api-token-{principal[:12]}" if principal else "api-token",
                ),
            )
            return _config(_row(db, notification_id))

    def get(self, notification_id: str) -> dict[str, Any]:
        with self.store.transaction() as db:
            return _config(_row(db, notification_id))

    def edit(self, edit: NotificationEdit) -> dict[str, Any]:
        with self.store.transaction() as db:
            row = _row(db, edit.id)
            current = json.loads(row["policy"])
            if row["archived_at"] is not None:
                raise BadRequest(f"notification {edit.id} is archived; it cannot be edited")
            if edit.policy.type != current["type"]:
                raise BadRequest(
                    f"policy.type: must be {current['type']!r}, the lifecycle event type of "
                    f"notification {edit.id}"
                )
            db.execute(
                "UPDATE notifications SET policy = ? WHERE id = ?",
                (edit.policy.model_dump_json(), edit.id),
            )
            return _config(_row(db, edit.id))

    def archive(self, notification_id: str) -> dict[str, Any]:
        with self.store.transaction() as db:
            row = _row(db, notification_id)
            if row["archived_at"] is None:
                db.execute(
                    "UPDATE notifications SET archived_at = ? WHERE id = ?",
                    (utc_now(), notification_id),
                )
            return _config(_row(db, notification_id))

    def page(
        self, *, after: int, limit: int, archive_filter: str
    ) -> tuple[list[dict[str, Any]], int | None]:
        where = {"ARCHIVED": " AND archived_at IS NOT NULL", "ALL": ""}.get(
            archive_filter, " AND archived_at IS NULL"
        )
        with self.store.transaction() as db:
            rows = db.execute(
                f"SELECT * FROM notifications WHERE seq > ?{where} ORDER BY seq LIMIT ?",
                (after, limit + 1),
            ).fetchall()
        items = [_config(r) for r in rows[:limit]]
        return items, (rows[limit - 1]["seq"] if len(rows) > limit else None)


def _row(db: sqlite3.Connection, notification_id: str) -> sqlite3.Row:
    query = "SELECT * FROM notifications WHERE id = ?"
    row: sqlite3.Row | None = db.execute(query, (notification_id,)).fetchone()
    if row is None:
        raise NotFound(f"notification {notification_id} not found")
    return row


def _config(row: sqlite3.Row) -> dict[str, Any]:
    """A row as ``LifecycleEventOffsetNotificationConfig``."""
    out: dict[str, Any] = {
        "id": row["id"],
        "name": row["name"],
        "policy": json.loads(row["policy"]),
        "type": "offset",
        "environment_type": "SANDBOX",
        "created_at": row["created_at"],
        "created_by": row["created_by"],
    }
    if row["archived_at"] is not None:
        out["archived_at"] = row["archived_at"]
    return out


def get_notifications(request: Request) -> NotificationStore:
    notifications: NotificationStore = request.app.state.notifications
    return notifications


NotificationsDep = Annotated[NotificationStore, Depends(get_notifications)]
PrincipalDep = Annotated[str, Depends(pricing_wire.principal)]


def _parse(model: type[Any], body: Any) -> Any:
    try:
        return parse_model(model, wire.require_object(body))
    except SpecError as error:
        raise BadRequest(error.violations) from None


@router.post(
    "/create",
    summary="Create an offset lifecycle event notification",
    operation_id="createNotification",
    responses=responses(config_wire.NotificationEnvelope, 400, 409),
    openapi_extra=idempotent(request_body(NotificationSpec)),
)
def create_notification(
    notifications: NotificationsDep, principal: PrincipalDep, body: BodyDep
) -> JSONResponse:
    spec = _parse(NotificationSpec, body)
    return JSONResponse({"data": notifications.create(spec, principal)})


@router.post(
    "/get",
    summary="Get an offset notification (archived ones too)",
    operation_id="getNotification",
    responses=responses(config_wire.NotificationEnvelope, 400, 404, 409),
    openapi_extra=idempotent(request_body(pricing_wire.IdBody)),
)
def get_notification(notifications: NotificationsDep, body: BodyDep) -> JSONResponse:
    ref = _parse(pricing_wire.IdBody, body)
    return JSONResponse({"data": notifications.get(ref.id)})


@router.post(
    "/edit",
    summary="Change an offset notification's policy (its type stays)",
    operation_id="editNotification",
    responses=responses(config_wire.NotificationEnvelope, 400, 404, 409),
    openapi_extra=idempotent(request_body(NotificationEdit)),
)
def edit_notification(notifications: NotificationsDep, body: BodyDep) -> JSONResponse:
    edit = _parse(NotificationEdit, body)
    return JSONResponse({"data": notifications.edit(edit)})


@router.post(
    "/archive",
    summary="Archive an offset notification (final; archiving twice is harmless)",
    operation_id="archiveNotification",
    responses=responses(config_wire.NotificationEnvelope, 400, 404, 409),
    openapi_extra=idempotent(request_body(pricing_wire.IdBody)),
)
def archive_notification(notifications: NotificationsDep, body: BodyDep) -> JSONResponse:
    ref = _parse(pricing_wire.IdBody, body)
    return JSONResponse({"data": notifications.archive(ref.id)})


@router.post(
    "/offset/list",
    summary="List offset notifications in creation order (cursor in the body)",
    operation_id="listNotifications",
    responses=responses(config_wire.NotificationPage, 400, 409),
    openapi_extra=idempotent(request_body(config_wire.ListNotificationsBody, required=False)),
)
def list_notifications(notifications: NotificationsDep, body: BodyDep) -> JSONResponse:
    query = _parse(config_wire.ListNotificationsBody, {} if body is None else body)
    limit = int(query.limit) if query.limit is not None else 100
    items, next_after = notifications.page(
        after=decode(query.cursor),
        limit=limit,
        archive_filter=query.archive_filter or "NOT_ARCHIVED",
    )
    cursor = None if next_after is None else encode_cursor(_CURSOR_KIND, next_after)
    return JSONResponse({"data": items, "cursor": cursor})


def decode(cursor: str | None) -> int:
    return decode_cursor(_CURSOR_KIND, cursor)
