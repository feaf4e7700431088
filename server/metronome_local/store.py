"""SQLite persistence for metrics, custom fields and idempotent responses.

One connection (``check_same_thread=False``) guarded by a lock: FastAPI runs the sync
endpoints in a thread pool, and every public method runs in one transaction under that
lock, so a request either changes everything it asked for or nothing. A file database
survives restarts (WAL journal); ``:memory:`` is for tests.

Rules that need the stored state live here (custom field allow list and uniqueness,
metric existence); the shape of a request is checked by the routers with the shared models
before anything is read.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pulumi_metronome.models import BILLABLE_METRIC_ENTITY, BillableMetricSpec, Violation

from .errors import ApiError, BadRequest, NotFound
from .settings import MEMORY_DB

_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS billable_metrics (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    definition TEXT NOT NULL,          -- JSON of the fields fixed at creation
    created_at TEXT NOT NULL,
    archived_at TEXT
);
CREATE TABLE IF NOT EXISTS custom_field_keys (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    entity TEXT NOT NULL,
    key TEXT NOT NULL,
    enforce_uniqueness INTEGER NOT NULL,
    UNIQUE (entity, key)
);
CREATE TABLE IF NOT EXISTS custom_field_values (
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (entity, entity_id, key)
);
CREATE INDEX IF NOT EXISTS custom_field_values_by_value
    ON custom_field_values (entity, key, value);
CREATE TABLE IF NOT EXISTS idempotent_responses (
    principal TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (principal, key)
);
"""


def utc_now(timespec: str = "milliseconds") -> str:
    """RFC 3339 UTC timestamp, e.g. ``2025-01-31T12:00:00.123Z``."""
    return datetime.now(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def precise_now() -> str:
    """``utc_now`` to the microsecond: a metric's creation and archiving bound the ingestion
    times of the events it sees (not retroactive), so they must order finely with them."""
    return utc_now("microseconds")


@dataclass(frozen=True)
class StoredResponse:
    """A response kept for ``Idempotency-Key`` replays."""

    fingerprint: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Store:
    """All state of one server."""

    def __init__(self, path: str = MEMORY_DB) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        if path != MEMORY_DB:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
        with self._transaction() as db:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        self._last_prune = 0.0
        self._tables = [
            "billable_metrics",
            "custom_field_keys",
            "custom_field_values",
            "idempotent_responses",
        ]
        #: Entity kinds that hold custom field values: kind -> raises 404 for an unknown id.
        self._entities: dict[str, Callable[[sqlite3.Connection, str], object]] = {
            BILLABLE_METRIC_ENTITY: self._metric_row
        }

    def extend(
        self,
        schema: str,
        tables: Iterable[str],
        entities: Mapping[str, Callable[[sqlite3.Connection, str], object]] | None = None,
    ) -> None:
        """Hook for stores of other object kinds sharing this database, lock and
        transactions: create their tables, forget them on ``reset``, and let custom field
        values be kept for their ``entities`` (kind -> a check that raises 404)."""
        with self._transaction() as db:
            for statement in schema.split(";"):
                if statement.strip():
                    db.execute(statement)
        self._tables.extend(tables)
        self._entities.update(entities or {})

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """One transaction under the store's lock (for the stores that ``extend`` it)."""
        return self._transaction()

    def reset(self) -> None:
        """Forget everything: metrics, custom fields, idempotent responses."""
        with self._transaction() as db:
            for table in self._tables:
                db.execute(f"DELETE FROM {table}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --- billable metrics ----------------------------------------------------------------

    def create_metric(self, spec: BillableMetricSpec) -> str:
        body = spec.create_body()
        name = body.pop("name")
        custom_fields = body.pop("custom_fields", None) or {}
        metric_id = str(uuid.uuid4())
        with self._transaction() as db:
            violations = self._custom_field_violations(
                db, BILLABLE_METRIC_ENTITY, metric_id, custom_fields
            )
            if violations:
                raise BadRequest(violations)
            db.execute(
                "INSERT INTO billable_metrics (id, name, definition, created_at)"
                " VALUES (?, ?, ?, ?)",
                (metric_id, name, json.dumps(body), precise_now()),
            )
            self._write_values(db, BILLABLE_METRIC_ENTITY, metric_id, custom_fields)
        return metric_id

    def get_metric(self, metric_id: str) -> dict[str, Any]:
        with self._transaction() as db:
            row = db.execute("SELECT * FROM billable_metrics WHERE id = ?", (metric_id,)).fetchone()
            if row is None:
                raise _metric_not_found(metric_id)
            return self._metrics(db, [row])[0]

    def list_metrics(
        self, *, after: int, limit: int, include_archived: bool
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Metrics in creation order after sequence number ``after``; and the next ``after``."""
        archived = "" if include_archived else "AND archived_at IS NULL"
        with self._transaction() as db:
            rows = db.execute(
                f"SELECT * FROM billable_metrics WHERE seq > ? {archived} ORDER BY seq LIMIT ?",
                (after, limit + 1),
            ).fetchall()
            page = rows[:limit]
            next_after = page[-1]["seq"] if len(rows) > limit else None
            return self._metrics(db, page), next_after

    def rename_metric(self, metric_id: str, name: str) -> None:
        with self._transaction() as db:
            row = self._metric_row(db, metric_id)
            if row["archived_at"] is not None:
                raise BadRequest(
                    f"billable metric {metric_id} is archived; an archived metric cannot be renamed"
                )
            db.execute("UPDATE billable_metrics SET name = ? WHERE id = ?", (name, metric_id))

    def archive_metric(self, metric_id: str) -> None:
        """Archive; archiving an archived metric changes nothing (``archived_at`` is kept)."""
        with self._transaction() as db:
            self._metric_row(db, metric_id)
            db.execute(
                "UPDATE billable_metrics SET archived_at = ? WHERE id = ? AND archived_at IS NULL",
                (precise_now(), metric_id),
            )

    def _metric_row(self, db: sqlite3.Connection, metric_id: str) -> sqlite3.Row:
        row: sqlite3.Row | None = db.execute(
            "SELECT seq, archived_at FROM billable_metrics WHERE id = ?", (metric_id,)
        ).fetchone()
        if row is None:
            raise _metric_not_found(metric_id)
        return row

    def _metrics(self, db: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[dict[str, Any]]:
        ids = [row["id"] for row in rows]
        values: dict[str, dict[str, str]] = {i: {} for i in ids}
        if ids:
            marks = ",".join("?" * len(ids))
            for entity_id, key, value in db.execute(
                "SELECT entity_id, key, value FROM custom_field_values"
                f" WHERE entity = ? AND entity_id IN ({marks}) ORDER BY key",
                (BILLABLE_METRIC_ENTITY, *ids),
            ):
                values[entity_id][key] = value
        out = []
        for row in rows:
            metric: dict[str, Any] = {"id": row["id"], "name": row["name"]}
            metric.update(json.loads(row["definition"]))
            metric["custom_fields"] = values[row["id"]]
            if row["archived_at"] is not None:
                metric["archived_at"] = row["archived_at"]
            out.append(metric)
        return out

    # --- custom fields -------------------------------------------------------------------

    def add_key(self, entity: str, key: str, enforce_uniqueness: bool) -> None:
        with self._transaction() as db:
            try:
                db.execute(
                    "INSERT INTO custom_field_keys (entity, key, enforce_uniqueness)"
                    " VALUES (?, ?, ?)",
                    (entity, key, int(enforce_uniqueness)),
                )
            except sqlite3.IntegrityError:
                raise BadRequest("Duplicate custom field key") from None

    def list_keys(
        self, *, entities: Iterable[str] | None, after: int, limit: int
    ) -> tuple[list[dict[str, Any]], int | None]:
        wanted = sorted(set(entities or ()))
        where = "seq > ?"
        params: list[Any] = [after]
        if wanted:
            where += f" AND entity IN ({','.join('?' * len(wanted))})"
            params.extend(wanted)
        with self._transaction() as db:
            rows = db.execute(
                f"SELECT * FROM custom_field_keys WHERE {where} ORDER BY seq LIMIT ?",
                (*params, limit + 1),
            ).fetchall()
        page = rows[:limit]
        next_after = page[-1]["seq"] if len(rows) > limit else None
        keys = [
            {
                "entity": row["entity"],
                "key": row["key"],
                "enforce_uniqueness": bool(row["enforce_uniqueness"]),
            }
            for row in page
        ]
        return keys, next_after

    def remove_key(self, entity: str, key: str) -> None:
        """Take ``key`` off ``entity``'s allow list, with every value stored under it."""
        with self._transaction() as db:
            gone = db.execute(
                "DELETE FROM custom_field_keys WHERE entity = ? AND key = ?", (entity, key)
            ).rowcount
            if not gone:
                raise NotFound(f"custom field key '{key}' does not exist for entity {entity}")
            db.execute(
                "DELETE FROM custom_field_values WHERE entity = ? AND key = ?", (entity, key)
            )

    def set_values(
        self,
        entity: str,
        entity_id: str,
        custom_fields: Mapping[str, str],
        *,
        violations: Iterable[Violation] = (),
    ) -> None:
        """Overwrite the named keys' values and leave the others; all or nothing.

        ``violations`` found by the caller (e.g. values too long) are reported together
        with the allow-list and uniqueness problems found here.
        """
        with self._transaction() as db:
            self._require_entity(db, entity, entity_id)
            violations = [
                *violations,
                *self._custom_field_violations(db, entity, entity_id, custom_fields),
            ]
            if violations:
                raise BadRequest(violations)
            self._write_values(db, entity, entity_id, custom_fields)

    def delete_values(self, entity: str, entity_id: str, keys: Iterable[str]) -> None:
        """Delete the named keys' values; a key without a value is ignored."""
        with self._transaction() as db:
            self._require_entity(db, entity, entity_id)
            db.executemany(
                "DELETE FROM custom_field_values WHERE entity = ? AND entity_id = ? AND key = ?",
                [(entity, entity_id, key) for key in keys],
            )

    def custom_field_violations(
        self, entity: str, entity_id: str, custom_fields: Mapping[str, str]
    ) -> list[Violation]:
        """Allow-list and uniqueness problems of setting ``custom_fields`` (read only)."""
        with self._transaction() as db:
            return self._custom_field_violations(db, entity, entity_id, custom_fields)

    def _require_entity(self, db: sqlite3.Connection, entity: str, entity_id: str) -> None:
        exists = self._entities.get(entity)
        if exists is None:
            raise BadRequest(
                f"entity: the local server stores custom field values only for "
                f"{', '.join(sorted(self._entities))}, not {entity}"
            )
        exists(db, entity_id)

    def _custom_field_violations(
        self,
        db: sqlite3.Connection,
        entity: str,
        entity_id: str,
        custom_fields: Mapping[str, str],
    ) -> list[Violation]:
        allowed = {
            row["key"]: bool(row["enforce_uniqueness"])
            for row in db.execute(
                "SELECT key, enforce_uniqueness FROM custom_field_keys WHERE entity = ?", (entity,)
            )
        }
        violations = []
        for key, value in custom_fields.items():
            where = f"custom_fields[{key!r}]"
            if key not in allowed:
                violations.append(
                    Violation(
                        where,
                        f"is not a custom field key of {entity}; "
                        "add it with /v1/customFields/addKey first",
                    )
                )
            elif (
                allowed[key]
                and db.execute(
                    "SELECT 1 FROM custom_field_values"
                    " WHERE entity = ? AND key = ? AND value = ? AND entity_id != ? LIMIT 1",
                    (entity, key, value, entity_id),
                ).fetchone()
            ):
                violations.append(
                    Violation(
                        where,
                        f"value '{value}' is already used by another {entity}, "
                        f"and key '{key}' enforces uniqueness",
                    )
                )
        return violations

    @staticmethod
    def _write_values(
        db: sqlite3.Connection, entity: str, entity_id: str, custom_fields: Mapping[str, str]
    ) -> None:
        db.executemany(
            "INSERT INTO custom_field_values (entity, entity_id, key, value) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (entity, entity_id, key) DO UPDATE SET value = excluded.value",
            [(entity, entity_id, key, value) for key, value in custom_fields.items()],
        )

    #: For the stores that ``extend`` this one, inside their own transaction.
    check_custom_fields = _custom_field_violations
    write_custom_fields = _write_values

    # --- idempotency ---------------------------------------------------------------------

    def get_response(self, principal: str, key: str, *, ttl: float) -> StoredResponse | None:
        with self._transaction() as db:
            row = db.execute(
                "SELECT * FROM idempotent_responses"
                " WHERE principal = ? AND key = ? AND created_at >= ?",
                (principal, key, time.time() - ttl),
            ).fetchone()
        if row is None:
            return None
        return StoredResponse(
            fingerprint=row["fingerprint"],
            status=row["status"],
            headers=[(k, v) for k, v in json.loads(row["headers"])],
            body=bytes(row["body"]),
        )

    def save_response(
        self, principal: str, key: str, response: StoredResponse, *, ttl: float
    ) -> None:
        now = time.time()
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO idempotent_responses"
                " (principal, key, fingerprint, status, headers, body, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    principal,
                    key,
                    response.fingerprint,
                    response.status,
                    json.dumps(response.headers),
                    response.body,
                    now,
                ),
            )
            if now - self._last_prune > 60:
                self._last_prune = now
                db.execute("DELETE FROM idempotent_responses WHERE created_at < ?", (now - ttl,))


def _metric_not_found(metric_id: str) -> ApiError:
    return NotFound(f"billable metric {metric_id} not found")
