"""``/v1/packages/*``: packages (create, get, list, archive, listContractsOnPackage), all
POST, with the official SDK's wire shapes (``metronome.types.v1.package_*``).

There is no update: a package never changes. An alias names one package at a time; creating
a package with an alias another package holds updates the other package's alias schedule:
here, the other package's alias ends where the new one starts (removed when the new one
has no start). ``/v1/contracts/create`` takes a subset of Metronome's body (``customer_id``,
``starting_at``, ``package_id`` or ``package_alias``), enough to put contracts on packages:
an alias is resolved as of the contract's start.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from pulumi_metronome.models import GetRateScheduleBody, SpecError, rfc3339
from pulumi_metronome.models.package import (
    ContractFromPackage,
    ListContractsOnPackageBody,
    ListPackagesBody,
    PackageIdBody,
    PackageSpec,
    parse_package_spec,
)
from pulumi_metronome.models.rate_card import USD_CENTS_ID, USD_CENTS_NAME

from .. import wire
from ..cursors import decode_cursor, encode_cursor
from ..deps import BodyDep, SettingsDep
from ..errors import BadRequest, NotFound
from ..openapi import idempotent, request_body, responses
from ..pricing_store import PricingStore
from ..store import Store, utc_now
from .products import MAX_PAGE_SIZE, PrincipalDep, parse

router = APIRouter(prefix="/v1", tags=["packages"])
Limit = Annotated[int | None, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size, 1 to 100")]
NextPage = Annotated[str | None, Query(description="Cursor from the previous page")]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS packages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,                -- JSON of the create body, aliases apart
    aliases TEXT NOT NULL,             -- JSON list, updated when another package takes one
    names TEXT NOT NULL,               -- JSON map product id -> name at creation
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    archived_at TEXT
);
CREATE TABLE IF NOT EXISTS package_contracts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    package_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    starting_at TEXT NOT NULL
);
"""
_TABLES = ("packages", "package_contracts")


def _ts(value: datetime) -> str:
    return rfc3339(value)


class PackageStore:
    """Packages and the contracts on them, in the ``Store``'s database."""

    def __init__(self, store: Store, pricing: PricingStore) -> None:
        self.store = store
        self.pricing = pricing
        store.extend(_SCHEMA, _TABLES)

    def create(self, spec: PackageSpec, principal: str) -> str:
        body = spec.create_body()
        names = self._product_names(spec)
        if spec.rate_card_id is not None:
            try:
                self.pricing.get_rate_card(spec.rate_card_id)
            except NotFound:
                raise BadRequest(
                    [f"rate_card_id: rate card {spec.rate_card_id} not found"]
                ) from None
            self._subscriptions_priced(spec, spec.rate_card_id)
        aliases = [
            {k: _ts(v) if isinstance(v, datetime) else v for k, v in a}
            for a in (spec.aliases or [])
        ]
        aliases = [{k: v for k, v in a.items() if v is not None} for a in aliases]
        package_id = str(uuid.uuid4())
        with self.store.transaction() as db:
            for alias in aliases:
                self._take_alias(db, alias)
            db.execute(
                "INSERT INTO packages (id, body, aliases, names, created_at, created_by)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    package_id,
                    json.dumps({k: v for k, v in body.items() if k != "aliases"}),
                    json.dumps(aliases),
                    json.dumps(names),
                    utc_now(),
                    f"api-token-{principal[:12]}" if principal else "api-token",
                ),
            )
        return package_id

    def _subscriptions_priced(self, spec: PackageSpec, card_id: str) -> None:
        """A subscription's rate must exist on the card (Metronome's rule)."""
        query = GetRateScheduleBody(
            rate_card_id=card_id, starting_at=datetime(1970, 1, 1, tzinfo=UTC)
        )
        priced = {s["product_id"] for s in self.pricing.rate_schedule(query)}
        problems = [
            f"subscriptions[{index}].subscription_rate.product_id: product "
            f"{item.subscription_rate.product_id} has no rate on rate card {card_id}"
            for index, item in enumerate(spec.subscriptions or [])
            if item.subscription_rate.product_id not in priced
        ]
        if problems:
            raise BadRequest(problems)

    def _product_names(self, spec: PackageSpec) -> dict[str, str]:
        ids = [c.product_id for c in spec.commits or []]
        ids += [c.product_id for c in spec.credits or []]
        ids += [c.product_id for c in spec.scheduled_charges or []]
        ids += [s.subscription_rate.product_id for s in spec.subscriptions or []]
        ids += [
            s.product_id
            for o in spec.overrides or []
            for s in o.override_specifiers
            if s.product_id
        ]
        names: dict[str, str] = {}
        missing = []
        for product_id in dict.fromkeys(ids):
            try:
                names[product_id] = str(self.pricing.get_product(product_id)["current"]["name"])
            except NotFound:
                missing.append(f"product {product_id} not found")
        if missing:
            raise BadRequest(missing)
        return names

    @staticmethod
    def _take_alias(db: sqlite3.Connection, alias: dict[str, Any]) -> None:
        """Another package holding this alias keeps it only until the new one starts."""
        start = alias.get("starting_at")
        rows = db.execute("SELECT id, aliases FROM packages WHERE archived_at IS NULL").fetchall()
        for row in rows:
            held = json.loads(row["aliases"])
            kept = []
            for item in held:
                if item["name"] != alias["name"]:
                    kept.append(item)
                    continue
                if start is None or item.get("starting_at", "") >= start:
                    continue
                end = item.get("ending_before")
                kept.append({**item, "ending_before": min(end, start) if end else start})
            if kept != held:
                db.execute(
                    "UPDATE packages SET aliases = ? WHERE id = ?", (json.dumps(kept), row["id"])
                )

    def get(self, package_id: str) -> dict[str, Any]:
        with self.store.transaction() as db:
            return _answer(self._row(db, package_id))

    def page(
        self, *, after: int, limit: int, archive_filter: str
    ) -> tuple[list[dict[str, Any]], int | None]:
        where = {
            "ALL": "",
            "ARCHIVED": "AND archived_at IS NOT NULL",
            "NOT_ARCHIVED": "AND archived_at IS NULL",
        }[archive_filter]
        with self.store.transaction() as db:
            rows = db.execute(
                f"SELECT * FROM packages WHERE seq > ? {where} ORDER BY seq LIMIT ?",
                (after, limit + 1),
            ).fetchall()
        page = rows[:limit]
        return [_answer(r) for r in page], (page[-1]["seq"] if len(rows) > limit else None)

    def archive(self, package_id: str) -> None:
        with self.store.transaction() as db:
            self._row(db, package_id)
            db.execute(
                "UPDATE packages SET archived_at = ? WHERE id = ? AND archived_at IS NULL",
                (utc_now(), package_id),
            )

    def contracts(self, query: ListContractsOnPackageBody) -> list[dict[str, Any]]:
        with self.store.transaction() as db:
            self._row(db, query.package_id)
            rows = db.execute(
                "SELECT * FROM package_contracts WHERE package_id = ? ORDER BY seq",
                (query.package_id,),
            ).fetchall()
        out = []
        for row in rows:
            if query.starting_at is not None and row["starting_at"] < _ts(query.starting_at):
                continue
            if query.covering_date is not None and row["starting_at"] > _ts(query.covering_date):
                continue
            out.append(
                {
                    "contract_id": row["id"],
                    "customer_id": row["customer_id"],
                    "starting_at": row["starting_at"],
                }
            )
        return out

    def create_contract(self, body: ContractFromPackage) -> str:
        start = _ts(body.starting_at)
        with self.store.transaction() as db:
            if body.package_id is not None:
                row = self._row(db, body.package_id)
            else:
                row = self._by_alias(db, str(body.package_alias), start)
            if row["archived_at"] is not None:
                raise BadRequest([f"package {row['id']} is archived"])
            contract_id = str(uuid.uuid4())
            db.execute(
                "INSERT INTO package_contracts (id, package_id, customer_id, starting_at)"
                " VALUES (?, ?, ?, ?)",
                (contract_id, row["id"], body.customer_id, start),
            )
        return contract_id

    @staticmethod
    def _by_alias(db: sqlite3.Connection, alias: str, at: str) -> sqlite3.Row:
        rows = db.execute(
            "SELECT * FROM packages WHERE archived_at IS NULL ORDER BY seq"
        ).fetchall()
        for row in reversed(rows):
            for item in json.loads(row["aliases"]):
                if item["name"] != alias:
                    continue
                if item.get("starting_at", "") <= at and at < item.get("ending_before", "~"):
                    found: sqlite3.Row = row
                    return found
        raise BadRequest([f"package_alias: no package has alias {alias!r} at {at}"])

    @staticmethod
    def _row(db: sqlite3.Connection, package_id: str) -> sqlite3.Row:
        row: sqlite3.Row | None = db.execute(
            "SELECT * FROM packages WHERE id = ?", (package_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"package {package_id} not found")
        return row


def _credit_type(credit_type_id: str | None) -> dict[str, str]:
    found = credit_type_id or USD_CENTS_ID
    return {"id": found, "name": USD_CENTS_NAME if found == USD_CENTS_ID else found}


def _ids(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**item, "id": str(uuid.uuid5(uuid.NAMESPACE_OID, json.dumps(item)))} for item in items]


def _schedule(schedule: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in schedule.items() if k != "credit_type_id"}
    out["credit_type"] = _credit_type(schedule.get("credit_type_id"))
    out["schedule_items"] = _ids(schedule["schedule_items"])
    return out


def _balance(item: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """A commit or credit as the SDK's ``DataCommit``/``DataCredit``."""
    out = {k: v for k, v in item.items() if k != "product_id"}
    out["product"] = {"id": item["product_id"], "name": names.get(item["product_id"], "")}
    out["access_schedule"] = _schedule(item["access_schedule"])
    if "invoice_schedule" in item:
        out["invoice_schedule"] = {"do_not_invoice": False, **_schedule(item["invoice_schedule"])}
    out["id"] = str(uuid.uuid5(uuid.NAMESPACE_OID, json.dumps(item)))
    return out


def _answer(row: sqlite3.Row) -> dict[str, Any]:
    """A package as ``PackageRetrieveResponse.data``."""
    body: dict[str, Any] = json.loads(row["body"])
    names: dict[str, str] = json.loads(row["names"])
    out: dict[str, Any] = {
        "id": row["id"],
        "created_at": row["created_at"],
        "created_by": row["created_by"],
        "aliases": json.loads(row["aliases"]),
        "usage_statement_schedule": body.pop("usage_statement_schedule", {"frequency": "MONTHLY"}),
    }
    overrides = []
    for item in body.pop("overrides", []):
        entry = dict(item)
        if "tiers" in entry:
            entry["override_tiers"] = entry.pop("tiers")
        rate = entry.get("overwrite_rate")
        if rate is not None:
            rate = {k: v for k, v in rate.items() if k != "credit_type_id"}
            rate["credit_type"] = _credit_type(entry["overwrite_rate"].get("credit_type_id"))
            entry["overwrite_rate"] = rate
        entry["id"] = str(uuid.uuid5(uuid.NAMESPACE_OID, json.dumps(item)))
        overrides.append(entry)
    out["overrides"] = overrides
    out["commits"] = [_balance(c, names) for c in body.pop("commits", [])]
    out["credits"] = [_balance(c, names) for c in body.pop("credits", [])]
    out["scheduled_charges"] = [
        {
            **{k: v for k, v in c.items() if k != "product_id"},
            "id": str(uuid.uuid5(uuid.NAMESPACE_OID, json.dumps(c))),
            "product": {"id": c["product_id"], "name": names.get(c["product_id"], "")},
            "schedule": _schedule(c["schedule"]),
        }
        for c in body.pop("scheduled_charges", [])
    ]
    subscriptions = []
    for item in body.pop("subscriptions", []):
        rate = item["subscription_rate"]
        subscriptions.append(
            {
                **item,
                "proration": {
                    "invoice_behavior": "BILL_IMMEDIATELY",
                    "is_prorated": False,
                    **item["proration"],
                },
                "subscription_rate": {
                    "billing_frequency": rate["billing_frequency"],
                    "product": {
                        "id": rate["product_id"],
                        "name": names.get(rate["product_id"], ""),
                    },
                },
            }
        )
    out["subscriptions"] = subscriptions
    out.update(body)
    if row["archived_at"] is not None:
        out["archived_at"] = row["archived_at"]
    return out


def get_packages(request: Request) -> PackageStore:
    found: PackageStore = request.app.state.packages
    return found


PackagesDep = Annotated[PackageStore, Depends(get_packages)]


@router.post(
    "/packages/create",
    summary="Create a package (a contract template); a package never changes",
    operation_id="createPackage",
    responses=responses(wire.IdEnvelope, 400, 409),
    openapi_extra=idempotent(request_body(PackageSpec)),
)
def create_package(packages: PackagesDep, principal: PrincipalDep, body: BodyDep) -> JSONResponse:
    try:
        spec = parse_package_spec(wire.require_object(body))
    except SpecError as error:
        raise BadRequest(error.violations) from None
    return JSONResponse({"data": {"id": packages.create(spec, principal)}})


@router.post(
    "/packages/get",
    summary="Get a package",
    operation_id="getPackage",
    responses=responses(None, 400, 404, 409),
    openapi_extra=idempotent(request_body(PackageIdBody)),
)
def get_package(packages: PackagesDep, body: BodyDep) -> JSONResponse:
    ref = parse(PackageIdBody, body)
    return JSONResponse({"data": packages.get(ref.package_id)})


@router.post(
    "/packages/list",
    summary="List packages in creation order",
    operation_id="listPackages",
    responses=responses(None, 400, 409),
    openapi_extra=idempotent(request_body(ListPackagesBody, required=False)),
)
def list_packages(
    settings: SettingsDep,
    packages: PackagesDep,
    body: BodyDep,
    limit: Limit = None,
    next_page: NextPage = None,
) -> JSONResponse:
    query = parse(ListPackagesBody, {} if body is None else body)
    items, after = packages.page(
        after=decode_cursor("packages", next_page),
        limit=limit or settings.default_page_size,
        archive_filter=query.archive_filter or "NOT_ARCHIVED",
    )
    cursor = None if after is None else encode_cursor("packages", after)
    return JSONResponse({"data": items, "next_page": cursor})


@router.post(
    "/packages/archive",
    summary="Archive a package: no new contract can be created on it",
    operation_id="archivePackage",
    responses=responses(wire.IdEnvelope, 400, 404, 409),
    openapi_extra=idempotent(request_body(PackageIdBody)),
)
def archive_package(packages: PackagesDep, body: BodyDep) -> JSONResponse:
    ref = parse(PackageIdBody, body)
    packages.archive(ref.package_id)
    return JSONResponse({"data": {"id": ref.package_id}})


@router.post(
    "/packages/listContractsOnPackage",
    summary="List the contracts created on a package",
    operation_id="listContractsOnPackage",
    responses=responses(None, 400, 404, 409),
    openapi_extra=idempotent(request_body(ListContractsOnPackageBody)),
)
def list_contracts_on_package(
    packages: PackagesDep, body: BodyDep, limit: Limit = None, next_page: NextPage = None
) -> JSONResponse:
    query = parse(ListContractsOnPackageBody, body)
    items = packages.contracts(query)
    start = decode_cursor("package_contracts", next_page)
    size = limit or 25
    more = start + size < len(items)
    cursor = encode_cursor("package_contracts", start + size) if more else None
    return JSONResponse({"data": items[start : start + size], "next_page": cursor})


@router.post(
    "/contracts/create",
    summary="Create a contract on a package (by id, or by alias as of its start)",
    operation_id="createContractOnPackage",
    responses=responses(wire.IdEnvelope, 400, 404, 409),
    openapi_extra=idempotent(request_body(ContractFromPackage)),
)
def create_contract(packages: PackagesDep, body: BodyDep) -> JSONResponse:
    request = parse(ContractFromPackage, body)
    if (request.package_id is None) == (request.package_alias is None):
        raise BadRequest(["package_id: give exactly one of package_id and package_alias"])
    return JSONResponse({"data": {"id": packages.create_contract(request)}})
