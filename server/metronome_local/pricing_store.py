"""Persistence of products, rate cards and rates, and the rules that need stored state.

It shares the ``Store``'s SQLite connection, lock and transactions (``Store.extend``), so a
request that touches a product and its metric, or a card and its products, sees one
consistent state and changes all it asked for or nothing. The shape of each request is
checked before, in the routers, with the shared models; here are the rules across
objects: a USAGE product's metric exists, is live and carries the group keys; archived
objects take no change; a rate's product exists and fits it; a rate with the same key
replaces the stored one.

Timestamps are stored as RFC 3339 UTC strings with milliseconds, so they sort as text.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pulumi_metronome.models import (
    USD_CENTS_ID,
    USD_CENTS_NAME,
    CreditTypeConversion,
    GetRatesBody,
    GetRateScheduleBody,
    ProductSpec,
    ProductUpdate,
    RateCardSpec,
    RateCardUpdate,
    RateEntry,
    RateSelector,
    Violation,
    metric_violations,
    product_rate_violations,
    required_violations,
    rfc3339,
    type_violations,
)

from .errors import BadRequest, NotFound
from .store import Store, utc_now

PRODUCT_ENTITY = "contract_product"
RATE_CARD_ENTITY = "rate_card"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    initial TEXT NOT NULL,             -- JSON of the updatable fields at creation
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    archived_at TEXT
);
CREATE TABLE IF NOT EXISTS product_updates (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id TEXT NOT NULL,
    starting_at TEXT NOT NULL,
    fields TEXT NOT NULL,              -- JSON of the fields the update set
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS product_updates_by_product ON product_updates (product_id, seq);
CREATE TABLE IF NOT EXISTS rate_cards (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    aliases TEXT NOT NULL,             -- JSON list
    conversions TEXT NOT NULL,         -- JSON list of credit type conversions
    fiat_credit_type_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    archived_at TEXT
);
CREATE TABLE IF NOT EXISTS rates (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    rate_card_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    pricing_group_values TEXT NOT NULL, -- canonical JSON (sorted keys)
    billing_frequency TEXT NOT NULL,    -- '' when none
    starting_at TEXT NOT NULL,
    body TEXT NOT NULL,                 -- JSON of the rate as added
    UNIQUE (rate_card_id, product_id, pricing_group_values, billing_frequency, starting_at)
);
"""
_TABLES = ("products", "product_updates", "rate_cards", "rates")


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _who(principal: str) -> str:
    """``created_by``: a non-secret name of the token that made the change."""
    return f"api-token-{principal[:12]}" if principal else "api-token"


class PricingStore:
    """Products, rate cards and rates, in the ``Store``'s database."""

    def __init__(self, store: Store) -> None:
        self.store = store
        store.extend(
            _SCHEMA,
            _TABLES,
            entities={PRODUCT_ENTITY: self._product_row, RATE_CARD_ENTITY: self._card_row},
        )

    # --- products ---------------------------------------------------------------------

    def create_product(self, spec: ProductSpec, *, principal: str) -> str:
        product_id = str(uuid.uuid4())
        custom_fields = spec.custom_fields or {}
        state = spec.state()
        with self.store.transaction() as db:
            problems = self._metric_problems(db, spec.type, state)
            problems += self.store.check_custom_fields(
                db, PRODUCT_ENTITY, product_id, custom_fields
            )
            if problems:
                raise BadRequest(problems)
            db.execute(
                "INSERT INTO products (id, type, initial, created_at, created_by)"
                " VALUES (?, ?, ?, ?, ?)",
                (product_id, spec.type, _json(state), utc_now(), _who(principal)),
            )
            self.store.write_custom_fields(db, PRODUCT_ENTITY, product_id, custom_fields)
        return product_id

    def update_product(self, update: ProductUpdate, *, principal: str) -> None:
        changes = update.changes()
        starting_at = rfc3339(update.starting_at)
        with self.store.transaction() as db:
            row = self._product_row(db, update.product_id)
            if row["archived_at"] is not None:
                raise BadRequest(
                    f"product {update.product_id} is archived; an archived product cannot "
                    "be updated"
                )
            problems = type_violations(row["type"], changes)
            if not problems:
                state = self._state_at(db, row, starting_at)
                state.update(changes)
                problems = required_violations(row["type"], state)
                touches_metric = {"billable_metric_id", "pricing_group_key"}
                touches_metric.add("presentation_group_key")
                if not problems and touches_metric & set(changes):
                    problems = self._metric_problems(db, row["type"], state)
            if problems:
                raise BadRequest(problems)
            db.execute(
                "INSERT INTO product_updates"
                " (product_id, starting_at, fields, created_at, created_by)"
                " VALUES (?, ?, ?, ?, ?)",
                (update.product_id, starting_at, _json(changes), utc_now(), _who(principal)),
            )

    def archive_product(self, product_id: str) -> None:
        """Archive; archiving an archived product changes nothing."""
        with self.store.transaction() as db:
            self._product_row(db, product_id)
            db.execute(
                "UPDATE products SET archived_at = ? WHERE id = ? AND archived_at IS NULL",
                (utc_now(), product_id),
            )

    def get_product(self, product_id: str) -> dict[str, Any]:
        with self.store.transaction() as db:
            return self._products(db, [self._product_row(db, product_id)])[0]

    def list_products(
        self, *, after: int, limit: int, archive_filter: str
    ) -> tuple[list[dict[str, Any]], int | None]:
        where = {
            "ALL": "",
            "ARCHIVED": "AND archived_at IS NOT NULL",
            "NOT_ARCHIVED": "AND archived_at IS NULL",
        }[archive_filter]
        with self.store.transaction() as db:
            rows = db.execute(
                f"SELECT * FROM products WHERE seq > ? {where} ORDER BY seq LIMIT ?",
                (after, limit + 1),
            ).fetchall()
            page = rows[:limit]
            next_after = page[-1]["seq"] if len(rows) > limit else None
            return self._products(db, page), next_after

    def _product_row(self, db: sqlite3.Connection, product_id: str) -> sqlite3.Row:
        row: sqlite3.Row | None = db.execute(
            "SELECT * FROM products WHERE id = ?", (product_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"product {product_id} not found")
        return row

    def _updates(self, db: sqlite3.Connection, product_id: str) -> list[sqlite3.Row]:
        """The product's updates in the order they take effect."""
        rows: list[sqlite3.Row] = db.execute(
            "SELECT * FROM product_updates WHERE product_id = ? ORDER BY starting_at, seq",
            (product_id,),
        ).fetchall()
        return rows

    def _state_at(self, db: sqlite3.Connection, row: sqlite3.Row, at: str) -> dict[str, Any]:
        """The product's fields in effect at ``at`` (RFC 3339)."""
        state: dict[str, Any] = json.loads(row["initial"])
        for update in self._updates(db, row["id"]):
            if update["starting_at"] <= at:
                state.update(json.loads(update["fields"]))
        return state

    def _metric_problems(
        self, db: sqlite3.Connection, product_type: str, state: Mapping[str, Any]
    ) -> list[Violation]:
        if product_type != "USAGE" or not state.get("billable_metric_id"):
            return []
        metric_id = state["billable_metric_id"]
        row = db.execute(
            "SELECT definition, archived_at FROM billable_metrics WHERE id = ?", (metric_id,)
        ).fetchone()
        metric = None
        if row is not None:
            metric = {**json.loads(row["definition"]), "archived_at": row["archived_at"]}
        return metric_violations(state, metric, metric_id=metric_id)

    def _products(
        self, db: sqlite3.Connection, rows: Sequence[sqlite3.Row]
    ) -> list[dict[str, Any]]:
        fields = self._custom_fields(db, PRODUCT_ENTITY, [row["id"] for row in rows])
        now = utc_now()
        out = []
        for row in rows:
            initial = {
                **json.loads(row["initial"]),
                "created_at": row["created_at"],
                "created_by": row["created_by"],
            }
            current = dict(initial)
            updates = []
            for update in self._updates(db, row["id"]):
                entry = {
                    **json.loads(update["fields"]),
                    "starting_at": update["starting_at"],
                    "created_at": update["created_at"],
                    "created_by": update["created_by"],
                }
                updates.append((update["seq"], entry))
                if update["starting_at"] <= now:
                    current.update(entry)
            product: dict[str, Any] = {
                "id": row["id"],
                "type": row["type"],
                "initial": initial,
                "current": current,
                "updates": [entry for _, entry in sorted(updates, key=lambda u: u[0])],
                "custom_fields": fields[row["id"]],
            }
            if row["archived_at"] is not None:
                product["archived_at"] = row["archived_at"]
            out.append(product)
        return out

    # --- rate cards -------------------------------------------------------------------

    def create_rate_card(self, spec: RateCardSpec, *, principal: str) -> str:
        card_id = str(uuid.uuid4())
        custom_fields = spec.custom_fields or {}
        body = spec.create_body()
        with self.store.transaction() as db:
            problems = self.store.check_custom_fields(db, RATE_CARD_ENTITY, card_id, custom_fields)
            if problems:
                raise BadRequest(problems)
            db.execute(
                "INSERT INTO rate_cards (id, name, description, aliases, conversions,"
                " fiat_credit_type_id, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    card_id,
                    spec.name,
                    spec.description,
                    _json(body.get("aliases", [])),
                    _json(body.get("credit_type_conversions", [])),
                    spec.fiat_credit_type_id or USD_CENTS_ID,
                    utc_now(),
                    _who(principal),
                ),
            )
            self.store.write_custom_fields(db, RATE_CARD_ENTITY, card_id, custom_fields)
        return card_id

    def update_rate_card(self, update: RateCardUpdate) -> None:
        with self.store.transaction() as db:
            row = self._card_row(db, update.rate_card_id)
            if row["archived_at"] is not None:
                raise BadRequest(
                    f"rate card {update.rate_card_id} is archived; an archived rate card "
                    "cannot be updated"
                )
            if update.name is not None:
                db.execute("UPDATE rate_cards SET name = ? WHERE id = ?", (update.name, row["id"]))
            if update.description is not None:
                db.execute(
                    "UPDATE rate_cards SET description = ? WHERE id = ?",
                    (update.description, row["id"]),
                )
            if update.aliases is not None:
                aliases = [a.model_dump(mode="json", exclude_none=True) for a in update.aliases]
                db.execute(
                    "UPDATE rate_cards SET aliases = ? WHERE id = ?", (_json(aliases), row["id"])
                )
            if update.add_credit_type_conversions:
                existing = json.loads(row["conversions"])
                known = {c["custom_credit_type_id"] for c in existing}
                problems = [
                    Violation(
                        f"add_credit_type_conversions[{index}].custom_credit_type_id",
                        f"rate card {row['id']} already converts {c.custom_credit_type_id}; "
                        "existing conversions cannot be modified",
                    )
                    for index, c in enumerate(update.add_credit_type_conversions)
                    if c.custom_credit_type_id in known
                ]
                if problems:
                    raise BadRequest(problems)
                added = [c.model_dump(mode="json") for c in update.add_credit_type_conversions]
                db.execute(
                    "UPDATE rate_cards SET conversions = ? WHERE id = ?",
                    (_json(existing + added), row["id"]),
                )

    def archive_rate_card(self, card_id: str) -> None:
        with self.store.transaction() as db:
            self._card_row(db, card_id)
            db.execute(
                "UPDATE rate_cards SET archived_at = ? WHERE id = ? AND archived_at IS NULL",
                (utc_now(), card_id),
            )

    def get_rate_card(self, card_id: str) -> dict[str, Any]:
        with self.store.transaction() as db:
            return self._cards(db, [self._card_row(db, card_id)])[0]

    def list_rate_cards(self, *, after: int, limit: int) -> tuple[list[dict[str, Any]], int | None]:
        """Unarchived rate cards in creation order (archived ones are no longer offered)."""
        with self.store.transaction() as db:
            rows = db.execute(
                "SELECT * FROM rate_cards WHERE seq > ? AND archived_at IS NULL"
                " ORDER BY seq LIMIT ?",
                (after, limit + 1),
            ).fetchall()
            page = rows[:limit]
            next_after = page[-1]["seq"] if len(rows) > limit else None
            return self._cards(db, page), next_after

    def _card_row(self, db: sqlite3.Connection, card_id: str) -> sqlite3.Row:
        row: sqlite3.Row | None = db.execute(
            "SELECT * FROM rate_cards WHERE id = ?", (card_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"rate card {card_id} not found")
        return row

    def _cards(self, db: sqlite3.Connection, rows: Sequence[sqlite3.Row]) -> list[dict[str, Any]]:
        fields = self._custom_fields(db, RATE_CARD_ENTITY, [row["id"] for row in rows])
        units = _unit_names(db)
        out = []
        for row in rows:
            card: dict[str, Any] = {
                "id": row["id"],
                "name": row["name"],
                "created_at": row["created_at"],
                "created_by": row["created_by"],
                "aliases": [_alias(a) for a in json.loads(row["aliases"])],
                "credit_type_conversions": [
                    _conversion(CreditTypeConversion.model_validate(c), units)
                    for c in json.loads(row["conversions"])
                ],
                "custom_fields": fields[row["id"]],
                "fiat_credit_type": _credit_type(row["fiat_credit_type_id"]),
            }
            if row["description"] is not None:
                card["description"] = row["description"]
            if row["archived_at"] is not None:
                card["archived_at"] = row["archived_at"]
            out.append(card)
        return out

    # --- rates ------------------------------------------------------------------------

    def add_rates(self, card_id: str, entries: Sequence[RateEntry], *, field: str | None) -> None:
        """Add rates to a card, all or none; a rate with the key of a stored one replaces it.

        ``field`` is the list's name for error paths (``rates``), ``None`` for one rate.
        """
        with self.store.transaction() as db:
            card = self._card_row(db, card_id)
            if card["archived_at"] is not None:
                raise BadRequest(
                    f"rate_card_id: rate card {card_id} is archived and takes no new rates"
                )
            conversions = {c["custom_credit_type_id"] for c in json.loads(card["conversions"])}
            credit_types = conversions | {card["fiat_credit_type_id"], USD_CENTS_ID}
            problems: list[Violation] = []
            for index, entry in enumerate(entries):
                prefix = "" if field is None else f"{field}[{index}]."
                problems += self._rate_problems(db, entry, credit_types, prefix)
            if problems:
                raise BadRequest(problems)
            for entry in entries:
                product_id, values, frequency, starting_at = entry.key()
                db.execute(
                    "INSERT INTO rates (rate_card_id, product_id, pricing_group_values,"
                    " billing_frequency, starting_at, body) VALUES (?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (rate_card_id, product_id, pricing_group_values,"
                    " billing_frequency, starting_at) DO UPDATE SET body = excluded.body",
                    (
                        card_id,
                        product_id,
                        _json(dict(values)),
                        frequency or "",
                        starting_at,
                        _json(entry.body()),
                    ),
                )

    def _rate_problems(
        self,
        db: sqlite3.Connection,
        entry: RateEntry,
        credit_types: set[str],
        prefix: str,
    ) -> list[Violation]:
        row = db.execute("SELECT * FROM products WHERE id = ?", (entry.product_id,)).fetchone()
        if row is None:
            return [Violation(f"{prefix}product_id", f"product {entry.product_id} not found")]
        if row["archived_at"] is not None:
            return [
                Violation(
                    f"{prefix}product_id",
                    f"product {entry.product_id} is archived and takes no new rates",
                )
            ]
        state = self._state_at(db, row, rfc3339(entry.starting_at))
        problems = product_rate_violations(
            entry,
            product_type=row["type"],
            pricing_group_key=state.get("pricing_group_key"),
            prefix=prefix.removesuffix("."),
        )
        if entry.credit_type_id is not None and entry.credit_type_id not in credit_types:
            problems.append(
                Violation(
                    f"{prefix}credit_type_id",
                    f"credit type {entry.credit_type_id} is neither the rate card's fiat credit "
                    "type nor one of its credit_type_conversions",
                )
            )
        return problems

    def rates_at(self, query: GetRatesBody) -> list[dict[str, Any]]:
        """The rates in effect at ``query.at`` that match a selector."""
        at = rfc3339(query.at)
        return [
            s
            for s in self._schedule(query.rate_card_id, query.selectors)
            if s["starting_at"] <= at and ("ending_before" not in s or at < s["ending_before"])
        ]

    def rate_schedule(self, query: GetRateScheduleBody) -> list[dict[str, Any]]:
        """The schedule's segments that overlap ``[starting_at, ending_before)``."""
        start = rfc3339(query.starting_at)
        end = None if query.ending_before is None else rfc3339(query.ending_before)
        return [
            s
            for s in self._schedule(query.rate_card_id, query.selectors)
            if ("ending_before" not in s or s["ending_before"] > start)
            and (end is None or s["starting_at"] < end)
        ]

    def _schedule(
        self, card_id: str, selectors: Sequence[RateSelector] | None
    ) -> list[dict[str, Any]]:
        """Every segment of the card's schedule, by product, values, frequency and start.

        A rate is in effect from its ``starting_at`` until its ``ending_before`` or the
        next rate's ``starting_at`` for the same product, pricing group values and billing
        frequency, whichever comes first: a later rate supersedes an earlier one.
        """
        with self.store.transaction() as db:
            card = self._cards(db, [self._card_row(db, card_id)])[0]
            rows = db.execute(
                "SELECT * FROM rates WHERE rate_card_id = ?"
                " ORDER BY product_id, pricing_group_values, billing_frequency, starting_at",
                (card_id,),
            ).fetchall()
            products = {
                pid: self._products(db, [self._product_row(db, pid)])[0]
                for pid in {row["product_id"] for row in rows}
            }
        segments: list[dict[str, Any]] = []
        for index, row in enumerate(rows):
            body = json.loads(row["body"])
            end = body.get("ending_before")
            following = rows[index + 1] if index + 1 < len(rows) else None
            if following is not None and _same_series(row, following):
                end = (
                    following["starting_at"] if end is None else min(end, following["starting_at"])
                )
            product = products[row["product_id"]]
            segment = _segment(body, product, card, end)
            if _selected(segment, product, selectors):
                segments.append(segment)
        segments.sort(key=lambda s: (s["starting_at"], s["product_id"]))
        return segments

    @staticmethod
    def _custom_fields(
        db: sqlite3.Connection, entity: str, ids: Iterable[str]
    ) -> dict[str, dict[str, str]]:
        wanted = list(ids)
        values: dict[str, dict[str, str]] = {i: {} for i in wanted}
        if wanted:
            marks = ",".join("?" * len(wanted))
            for entity_id, key, value in db.execute(
                "SELECT entity_id, key, value FROM custom_field_values"
                f" WHERE entity = ? AND entity_id IN ({marks}) ORDER BY key",
                (entity, *wanted),
            ):
                values[entity_id][key] = value
        return values


def _same_series(a: sqlite3.Row, b: sqlite3.Row) -> bool:
    keys = ("product_id", "pricing_group_values", "billing_frequency")
    return all(a[k] == b[k] for k in keys)


def _credit_type(credit_type_id: str) -> dict[str, str]:
    """Credit types are not stored here: the default is named, others go by their id."""
    name = USD_CENTS_NAME if credit_type_id == USD_CENTS_ID else credit_type_id
    return {"id": credit_type_id, "name": name}


def _alias(alias: Mapping[str, Any]) -> dict[str, Any]:
    out = {"name": alias["name"]}
    for key in ("starting_at", "ending_before"):
        if alias.get(key) is not None:
            out[key] = rfc3339(datetime.fromisoformat(alias[key]))
    return out


def _unit_names(db: sqlite3.Connection) -> dict[str, str]:
    """Declared custom pricing units by id (``/v1/credit-types``), when that table exists."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'credit_types'").fetchone() is None:
        return {}
    return {r["id"]: r["name"] for r in db.execute("SELECT id, name FROM credit_types")}


def _conversion(conversion: CreditTypeConversion, units: Mapping[str, str]) -> dict[str, Any]:
    unit_id = conversion.custom_credit_type_id
    return {
        "custom_credit_type": {"id": unit_id, "name": units.get(unit_id, unit_id)},
        # Metronome answers this one as a decimal string.
        "fiat_per_custom_credit": format(conversion.fiat_per_custom_credit, "g"),
    }


def _segment(
    body: Mapping[str, Any],
    product: Mapping[str, Any],
    card: Mapping[str, Any],
    ending_before: str | None,
) -> dict[str, Any]:
    """One entry of getRates / getRateSchedule, shaped as the SDK's ``RateListResponse``."""
    current = product["current"]
    rate: dict[str, Any] = {"rate_type": body["rate_type"]}
    for key in ("price", "tiers", "is_prorated", "quantity", "custom_rate"):
        if key in body:
            rate[key] = body[key]
    if body["rate_type"] != "PERCENTAGE":
        rate["credit_type"] = _credit_type(
            body.get("credit_type_id") or card["fiat_credit_type"]["id"]
        )
        for conversion in card["credit_type_conversions"]:
            if conversion["custom_credit_type"]["id"] == rate["credit_type"]["id"]:
                rate["credit_type"] = dict(conversion["custom_credit_type"])
    if body.get("pricing_group_values"):
        rate["pricing_group_values"] = body["pricing_group_values"]
    segment: dict[str, Any] = {
        "product_id": body["product_id"],
        "product_name": current["name"],
        "product_tags": current.get("tags", []),
        "product_custom_fields": product["custom_fields"],
        "entitled": body["entitled"],
        "rate": rate,
        "starting_at": body["starting_at"],
    }
    if ending_before is not None:
        segment["ending_before"] = ending_before
    for key in ("billing_frequency", "commit_rate", "pricing_group_values"):
        if body.get(key) is not None:
            segment[key] = body[key]
    return segment


def _selected(
    segment: Mapping[str, Any],
    product: Mapping[str, Any],
    selectors: Sequence[RateSelector] | None,
) -> bool:
    """Whether a segment matches any selector (no selectors: every segment)."""
    if not selectors:
        return True
    values: Mapping[str, str] = segment.get("pricing_group_values") or {}
    tags = set(product["current"].get("tags", []))
    for s in selectors:
        if s.product_id is not None and s.product_id != segment["product_id"]:
            continue
        if s.product_tags is not None and not tags & set(s.product_tags):
            continue
        if s.pricing_group_values is not None and dict(values) != s.pricing_group_values:
            continue
        if s.partial_pricing_group_values is not None and any(
            values.get(k) != v for k, v in s.partial_pricing_group_values.items()
        ):
            continue
        if s.billing_frequency is not None and s.billing_frequency != segment.get(
            "billing_frequency"
        ):
            continue
        return True
    return False
