"""``/v1/credit-types/*``: custom pricing units (create, list, archive).

Wire shapes are the official SDK's (``metronome.types.v1.pricing_unit_*``): create takes
``{name}`` and answers ``{data: {id}}``; ``GET list`` pages ``{id, name, is_currency}``,
the fiat USD (cents) first, archived units left out; archive takes ``{id}``. Metronome
has no get and no update for a unit. The units live in the ``Store``'s database, so a
rate card and its rates can name them (``PricingStore`` reads their names from here).
"""

from __future__ import annotations

import sqlite3
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from pulumi_metronome.models import (
    USD_CENTS_ID,
    USD_CENTS_NAME,
    PricingUnitSpec,
    SpecError,
    parse_model,
)

from .. import config_wire, pricing_wire, wire
from ..cursors import decode_cursor, encode_cursor
from ..deps import BodyDep, SettingsDep
from ..errors import BadRequest, NotFound
from ..openapi import idempotent, request_body, responses
from ..store import Store, utc_now

router = APIRouter(prefix="/v1/credit-types", tags=["pricing units"])
MAX_PAGE_SIZE = 100
_CURSOR_KIND = "credit_types"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS credit_types (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    archived_at TEXT
)
"""


class PricingUnitStore:
    """Custom pricing units, in the ``Store``'s database and transactions."""

    def __init__(self, store: Store) -> None:
        self.store = store
        store.extend(_SCHEMA, ("credit_types",))

    def create(self, spec: PricingUnitSpec) -> str:
        unit_id = str(uuid.uuid4())
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO credit_types (id, name, created_at) VALUES (?, ?, ?)",
                (unit_id, spec.name, utc_now()),
            )
        return unit_id

    def list(self, *, after: int, limit: int) -> tuple[list[dict[str, Any]], int | None]:
        """A page of live units after position ``after``: position 1 is the fiat USD
        (cents), position ``seq + 1`` a custom unit; 0 is the start."""
        out: list[tuple[int, dict[str, Any]]] = []
        if after == 0:
            out.append((1, {"id": USD_CENTS_ID, "name": USD_CENTS_NAME, "is_currency": True}))
        with self.store.transaction() as db:
            rows = db.execute(
                "SELECT seq, id, name FROM credit_types WHERE archived_at IS NULL AND seq > ?"
                " ORDER BY seq LIMIT ?",
                (max(after - 1, 0), limit + 1),
            ).fetchall()
        out += [
            (r["seq"] + 1, {"id": r["id"], "name": r["name"], "is_currency": False}) for r in rows
        ]
        page = [item for _, item in out[:limit]]
        return page, (out[limit - 1][0] if len(out) > limit else None)

    def name_of(self, db: sqlite3.Connection, unit_id: str) -> str | None:
        """The name of a custom unit (archived ones too), None for an id not declared."""
        row = db.execute("SELECT name FROM credit_types WHERE id = ?", (unit_id,)).fetchone()
        return None if row is None else str(row["name"])

    def archive(self, unit_id: str) -> None:
        """Archive a unit (final; archiving twice is harmless)."""
        with self.store.transaction() as db:
            row = _row(db, unit_id)
            if row["archived_at"] is None:
                db.execute(
                    "UPDATE credit_types SET archived_at = ? WHERE id = ?", (utc_now(), unit_id)
                )


def _row(db: sqlite3.Connection, unit_id: str) -> sqlite3.Row:
    row: sqlite3.Row | None = db.execute(
        "SELECT * FROM credit_types WHERE id = ?", (unit_id,)
    ).fetchone()
    if row is None:
        raise NotFound(f"pricing unit {unit_id} not found")
    return row


def get_units(request: Request) -> PricingUnitStore:
    units: PricingUnitStore = request.app.state.pricing_units
    return units


UnitsDep = Annotated[PricingUnitStore, Depends(get_units)]


@router.post(
    "/create",
    summary="Create a custom pricing unit",
    operation_id="createPricingUnit",
    responses=responses(wire.IdEnvelope, 400, 409),
    openapi_extra=idempotent(request_body(PricingUnitSpec)),
)
def create_unit(units: UnitsDep, body: BodyDep) -> JSONResponse:
    try:
        spec = parse_model(PricingUnitSpec, wire.require_object(body))
    except SpecError as error:
        raise BadRequest(error.violations) from None
    return JSONResponse({"data": {"id": units.create(spec)}})


@router.get(
    "/list",
    summary="List pricing units: the fiat USD (cents), then live custom units",
    operation_id="listPricingUnits",
    responses=responses(config_wire.PricingUnitPage, 400),
)
def list_units(
    settings: SettingsDep,
    units: UnitsDep,
    limit: Annotated[
        int | None, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size, 1 to 100")
    ] = None,
    next_page: Annotated[str | None, Query(description="Cursor from the previous page")] = None,
) -> JSONResponse:
    items, next_after = units.list(
        after=decode_cursor(_CURSOR_KIND, next_page), limit=limit or settings.default_page_size
    )
    cursor = None if next_after is None else encode_cursor(_CURSOR_KIND, next_after)
    return JSONResponse({"data": items, "next_page": cursor})


@router.post(
    "/archive",
    summary="Archive a custom pricing unit (final; archiving twice is harmless)",
    operation_id="archivePricingUnit",
    responses=responses(wire.IdEnvelope, 400, 404, 409),
    openapi_extra=idempotent(request_body(pricing_wire.IdBody)),
)
def archive_unit(units: UnitsDep, body: BodyDep) -> JSONResponse:
    try:
        ref = parse_model(pricing_wire.IdBody, wire.require_object(body))
    except SpecError as error:
        raise BadRequest(error.violations) from None
    units.archive(ref.id)
    return JSONResponse({"data": {"id": ref.id}})
