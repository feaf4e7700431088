"""SQLite persistence for customers and their ingest aliases, beside ``store.Store``.

Customers share the store's connection, lock and transactions (so a customer's custom
fields and its row commit together) but keep their tables and queries here.

Rules that need every customer (all checked in the transaction that writes):

- An ingest alias or external id names one live customer: a second live customer cannot
  take it, nor can it be another customer's Metronome id. Archiving a customer frees its
  aliases (*decision*: Metronome lets an archived customer's aliases be reused).
- An event's ``customer_id`` resolves at query time (semantics file) to the live customer
  whose id, alias or external id it is; an archived customer still owns the aliases no live
  customer took since, so its past usage stays readable.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from typing import Any

from pulumi_metronome.metering import CustomerRef
from pulumi_metronome.models import Violation
from pulumi_metronome.models.customer import CustomerSpec, customer_wire

from .errors import BadRequest, NotFound
from .store import Store, utc_now

CUSTOMER_ENTITY = "customer"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    external_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT
);
CREATE TABLE IF NOT EXISTS customer_aliases (
    customer_id TEXT NOT NULL,
    alias TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (customer_id, alias)
);
CREATE INDEX IF NOT EXISTS customer_aliases_by_alias ON customer_aliases (alias);
"""
_TABLES = ("customers", "customer_aliases")


def customer_not_found(customer_id: str, where: str = "") -> NotFound:
    prefix = f"{where}: " if where else ""
    return NotFound(f"{prefix}customer {customer_id} not found")


class CustomerStore:
    """Customers of one server, in ``store``'s database."""

    def __init__(self, store: Store) -> None:
        self._store = store
        store.extend(_SCHEMA, _TABLES, entities={CUSTOMER_ENTITY: self._row})

    # --- writes ------------------------------------------------------------------------

    def create(self, spec: CustomerSpec) -> dict[str, Any]:
        """Store a new customer; returns it in the create answer's shape."""
        customer_id = str(uuid.uuid4())
        aliases = spec.all_aliases()
        custom_fields = spec.custom_fields or {}
        now = utc_now()
        with self._store.transaction() as db:
            violations = self._alias_violations(db, customer_id, aliases, "ingest_aliases")
            violations += self._store._custom_field_violations(
                db, CUSTOMER_ENTITY, customer_id, custom_fields
            )
            if violations:
                raise BadRequest(violations)
            db.execute(
                "INSERT INTO customers (id, name, external_id, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (customer_id, spec.name, spec.external_id, now, now),
            )
            self._write_aliases(db, customer_id, aliases)
            self._store._write_values(db, CUSTOMER_ENTITY, customer_id, custom_fields)
            row = self._row(db, customer_id)
            detail = self._details(db, [row])[0]
        return {k: detail[k] for k in ("id", "name", "external_id", "ingest_aliases")} | {
            "custom_fields": detail["custom_fields"]
        }

    def set_aliases(self, customer_id: str, aliases: Sequence[str]) -> None:
        """Replace every ingest alias of a live customer (its external id stays)."""
        with self._store.transaction() as db:
            row = self._row(db, customer_id)
            if row["archived_at"] is not None:
                raise BadRequest(
                    f"customer {customer_id} is archived; an archived customer's ingest "
                    "aliases cannot change"
                )
            violations = self._alias_violations(db, customer_id, aliases, "ingest_aliases")
            if violations:
                raise BadRequest(violations)
            db.execute("DELETE FROM customer_aliases WHERE customer_id = ?", (customer_id,))
            self._write_aliases(db, customer_id, aliases)
            db.execute("UPDATE customers SET updated_at = ? WHERE id = ?", (utc_now(), customer_id))

    def archive(self, customer_id: str) -> None:
        """Archive; archiving an archived customer changes nothing (``archived_at`` kept)."""
        with self._store.transaction() as db:
            self._row(db, customer_id)
            now = utc_now()
            db.execute(
                "UPDATE customers SET archived_at = ?, updated_at = ?"
                " WHERE id = ? AND archived_at IS NULL",
                (now, now, customer_id),
            )

    # --- reads ---------------------------------------------------------------------------

    def get(self, customer_id: str) -> dict[str, Any]:
        with self._store.transaction() as db:
            return self._details(db, [self._row(db, customer_id)])[0]

    def page(
        self,
        *,
        after: int,
        limit: int,
        only_archived: bool = False,
        customer_ids: Sequence[str] = (),
        ingest_alias: str | None = None,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Customers in creation order after sequence number ``after``; and the next one."""
        where = ["seq > ?", "archived_at IS NOT NULL" if only_archived else "archived_at IS NULL"]
        params: list[Any] = [after]
        if customer_ids:
            where.append(f"id IN ({','.join('?' * len(customer_ids))})")
            params += customer_ids
        if ingest_alias is not None:
            where.append(
                "(external_id = ? OR id IN"
                " (SELECT customer_id FROM customer_aliases WHERE alias = ?))"
            )
            params += [ingest_alias, ingest_alias]
        with self._store.transaction() as db:
            rows = db.execute(
                f"SELECT * FROM customers WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?",
                (*params, limit + 1),
            ).fetchall()
            page = rows[:limit]
            next_after = page[-1]["seq"] if len(rows) > limit else None
            return self._details(db, page), next_after

    def refs(
        self, customer_ids: Sequence[str] | None = None, *, field: str = ""
    ) -> list[CustomerRef]:
        """The customers (every live one when ``customer_ids`` is None), ordered by id, with
        every id an event may name them by. An unknown id is a 404 naming
        ``field.format(i=index)``."""
        with self._store.transaction() as db:
            if customer_ids is None:
                rows = db.execute(
                    "SELECT id, external_id, archived_at FROM customers"
                    " WHERE archived_at IS NULL ORDER BY id"
                ).fetchall()
            else:
                wanted = list(dict.fromkeys(customer_ids))
                found = (
                    {
                        row["id"]: row
                        for row in db.execute(
                            "SELECT id, external_id, archived_at FROM customers"
                            f" WHERE id IN ({','.join('?' * len(wanted))})",
                            wanted,
                        )
                    }
                    if wanted
                    else {}
                )
                for index, customer_id in enumerate(customer_ids):
                    if customer_id not in found:
                        raise customer_not_found(customer_id, field.format(i=index))
                rows = [found[i] for i in sorted(found)]
            aliases = self._aliases(db, [row["id"] for row in rows])
            taken = self._live_names(db) if any(r["archived_at"] for r in rows) else {}
            out = []
            for row in rows:
                names = list(aliases[row["id"]])
                if row["external_id"] and row["external_id"] not in names:
                    names.append(row["external_id"])
                if row["archived_at"] is not None:
                    names = [n for n in names if taken.get(n, row["id"]) == row["id"]]
                out.append(CustomerRef(id=row["id"], aliases=tuple(names)))
            return out

    def resolve(self, names: Sequence[str]) -> dict[str, tuple[str, str]]:
        """The customer (id, name) each event ``customer_id`` in ``names`` stands for, now:
        a live customer's id, alias or external id first, else an archived one's."""
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        with self._store.transaction() as db:
            rows = db.execute(
                "SELECT c.id AS id, c.name AS name, x.name_used AS name_used,"
                " c.archived_at IS NOT NULL AS archived, c.seq AS seq FROM ("
                f"  SELECT id AS customer_id, id AS name_used FROM customers WHERE id IN ({marks})"
                "  UNION ALL SELECT customer_id, alias FROM customer_aliases"
                f"   WHERE alias IN ({marks})"
                "  UNION ALL SELECT id, external_id FROM customers"
                f"   WHERE external_id IN ({marks})"
                ") AS x JOIN customers AS c ON c.id = x.customer_id"
                " ORDER BY archived DESC, c.seq",
                (*wanted, *wanted, *wanted),
            ).fetchall()
        # Later rows win: live customers come last, and among them the newest.
        return {row["name_used"]: (row["id"], row["name"]) for row in rows}

    # --- helpers -------------------------------------------------------------------------

    def _row(self, db: sqlite3.Connection, customer_id: str) -> sqlite3.Row:
        row: sqlite3.Row | None = db.execute(
            "SELECT * FROM customers WHERE id = ?", (customer_id,)
        ).fetchone()
        if row is None:
            raise customer_not_found(customer_id)
        return row

    @staticmethod
    def _aliases(db: sqlite3.Connection, ids: Sequence[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {i: [] for i in ids}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            for customer_id, alias in db.execute(
                "SELECT customer_id, alias FROM customer_aliases"
                f" WHERE customer_id IN ({','.join('?' * len(chunk))})"
                " ORDER BY customer_id, position",
                chunk,
            ):
                out[customer_id].append(alias)
        return out

    @staticmethod
    def _live_names(db: sqlite3.Connection) -> dict[str, str]:
        """Every alias and external id a live customer holds -> that customer's id."""
        out = {
            alias: customer_id
            for customer_id, alias in db.execute(
                "SELECT a.customer_id, a.alias FROM customer_aliases AS a"
                " JOIN customers AS c ON c.id = a.customer_id WHERE c.archived_at IS NULL"
            )
        }
        for customer_id, external_id in db.execute(
            "SELECT id, external_id FROM customers"
            " WHERE archived_at IS NULL AND external_id IS NOT NULL"
        ):
            out.setdefault(external_id, customer_id)
        return out

    def _alias_violations(
        self, db: sqlite3.Connection, customer_id: str, aliases: Sequence[str], field: str
    ) -> list[Violation]:
        violations = []
        for index, alias in enumerate(aliases):
            holder = db.execute(
                "SELECT c.id FROM customers AS c"
                " LEFT JOIN customer_aliases AS a ON a.customer_id = c.id AND a.alias = ?"
                " WHERE c.id != ? AND (c.id = ?"
                "  OR (c.archived_at IS NULL AND (a.alias IS NOT NULL OR c.external_id = ?)))"
                " LIMIT 1",
                (alias, customer_id, alias, alias),
            ).fetchone()
            if holder is not None:
                violations.append(
                    Violation(
                        f"{field}[{index}]",
                        f"'{alias}' already names customer {holder[0]}; an ingest alias "
                        "names one customer",
                    )
                )
        return violations

    @staticmethod
    def _write_aliases(db: sqlite3.Connection, customer_id: str, aliases: Sequence[str]) -> None:
        db.executemany(
            "INSERT INTO customer_aliases (customer_id, alias, position) VALUES (?, ?, ?)",
            [(customer_id, alias, position) for position, alias in enumerate(aliases)],
        )

    def _details(self, db: sqlite3.Connection, rows: Sequence[sqlite3.Row]) -> list[dict[str, Any]]:
        ids = [row["id"] for row in rows]
        aliases = self._aliases(db, ids)
        values: dict[str, dict[str, str]] = {i: {} for i in ids}
        if ids:
            for entity_id, key, value in db.execute(
                "SELECT entity_id, key, value FROM custom_field_values"
                f" WHERE entity = ? AND entity_id IN ({','.join('?' * len(ids))}) ORDER BY key",
                (CUSTOMER_ENTITY, *ids),
            ):
                values[entity_id][key] = value
        return [
            customer_wire(
                id=row["id"],
                name=row["name"],
                aliases=aliases[row["id"]],
                external_id=row["external_id"],
                custom_fields=values[row["id"]],
                created_at=row["created_at"],
                updated_at=row["updated_at"],
                archived_at=row["archived_at"],
            )
            for row in rows
        ]
