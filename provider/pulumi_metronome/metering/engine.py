"""``MeteringEngine``: events stored in DuckDB, usage computed with set-based SQL.

Why DuckDB: usage is aggregation over many narrow rows (filter by customer and time, bucket
by window, group, sum/max/count distinct), which a columnar, vectorised engine does in a few
milliseconds per million rows, while a row store (SQLite) walks every row. DuckDB embeds like
SQLite (one file, no server, ACID with a write-ahead log, so a restart loses nothing), reads
Parquet and JSON-lines natively (the in-process evaluator's inputs), and speaks SQL close to
the warehouses' (the queries in ``queries`` and ``sql`` are generated text with the
engine-specific functions kept in ``queries.Dialect``).

Layout: one ``events`` table in ingestion order. Each row keeps the event as sent (for
``/v1/events/search``) and its property *texts* (the rule in ``load.TEXT_MACROS``, SQL),
computed when the row enters DuckDB so that every query compares plain strings. Duplicates
(a transaction id already stored) are kept, flagged ``is_duplicate``, so search can show
them as Metronome does; no usage query ever reads them. Customer ids are resolved at query
time (an event sent with an alias counts once the alias is set).

Ingest: validation is done by the caller (``models.event.parse_events`` or, on the server,
``parse_event_batch``). ``submit`` dedupes against an in-memory set of stored transaction
ids (loaded at open), numbers the rows and writes the batch as one line to the ingest log
(``log``), returning a future that completes once an ``fdatasync`` has put it on disk; one
sync covers every batch written meanwhile (group commit), and the waiting costs no thread
(the server awaits the future on its event loop; ``ingest`` blocks on it). The log moves
into DuckDB in bulk (one native JSON parse and one INSERT for thousands of events) before
every read and in a background thread, so no per-batch DuckDB commit is paid. A batch is
atomic: one line, whole or (torn by a crash, never acknowledged) dropped.

A failed sync: the batches it fails (``log``) are forgotten before anything else is decided
(their transaction ids no longer count as stored, their lines never reach DuckDB), so a
retry is stored and acknowledged after a sync of its own. Should a failed line reach the
disk after all, replaying the log after a crash counts the first copy of each transaction
id and flags later ones as duplicates.

Order: events arrive interleaved across customers; when ingest pauses, ``compact`` rewrites
the table in (customer, time) order so a one-customer query skips the other customers' row
groups (DuckDB keeps min/max per row group).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import duckdb
from pydantic_core import PydanticSerializationError, to_json

from ..models import BillableMetricSpec, SpecError, Violation
from ..models.event import Event, EventFields, event_fields
from . import queries
from .load import install as install_text_rule
from .log import IngestLog, complete_lines, log_files, spare_files
from .queries import DUCKDB, Scope, lit, lits, ts_lit
from .types import (
    CustomerRef,
    GroupBy,
    GroupRow,
    GroupsQuery,
    IngestResult,
    MeteredMetric,
    StoredEvent,
    UsageQuery,
    UsageRow,
    WindowSize,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq BIGINT NOT NULL,
    transaction_id VARCHAR NOT NULL,
    customer_id VARCHAR NOT NULL,
    event_type VARCHAR NOT NULL,
    ts TIMESTAMP NOT NULL,
    props VARCHAR NOT NULL,
    properties VARCHAR NOT NULL,
    ingested_at TIMESTAMP NOT NULL,
    is_duplicate BOOLEAN NOT NULL
);
CREATE TABLE IF NOT EXISTS metering_state (sorted_upto BIGINT NOT NULL)
"""

#: Rows as the ingest log holds them: one JSON line per batch, a list of row objects. Each
#: bulk move inserts its rows in (customer, time) order, so even before ``compact`` a
#: customer's rows of one move sit together and a query decompresses few of their vectors.
_ROW_TYPE = (
    '[{"s": "BIGINT", "t": "VARCHAR", "c": "VARCHAR", "e": "VARCHAR", "ts": "BIGINT", '
    '"a": "BOOLEAN", "r": "JSON", "i": "BIGINT", "d": "BOOLEAN"}]'
)
_LOAD = f"""
INSERT INTO events
SELECT r.s, r.t, r.c, r.e, make_timestamp(r.ts),
       CASE WHEN r.a THEN r.r::VARCHAR ELSE coalesce(metronome_texts(r.r), '{{}}') END,
       r.r::VARCHAR,
       make_timestamp(r.i), r.d
FROM (
    SELECT unnest(from_json(line, '{_ROW_TYPE}')) AS r
    FROM (SELECT unnest(string_split($text, chr(10))) AS line)
    WHERE line <> ''
)
WHERE r.s > $after
ORDER BY r.c, r.ts, r.s
"""
#: Events the log may hold before the engine moves them into DuckDB in the background.
FLUSH_EVENTS = 20_000
#: ... or after this many seconds.
FLUSH_SECONDS = 1.0
#: The table is rewritten in (customer, time) order when this many rows arrived since the
#: last rewrite (and at least a tenth of the table), once ingest has paused this long.
COMPACT_MIN_ROWS = 50_000
COMPACT_IDLE_SECONDS = 2.0

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
#: ``/v1/usage`` ``group_by`` without ``values``: at most this many values are reported.
MAX_GROUP_VALUES = 200
_STEP: dict[str, timedelta] = {"HOUR": timedelta(hours=1), "DAY": timedelta(days=1)}
#: After a replay of the ingest log, the first copy of each transaction id counts: later
#: ones become duplicates (a failed batch whose line reached the disk after all, and its
#: retry). Only the replayed rows' ids are looked at.
_FIRST_COPY_WINS = """
UPDATE events SET is_duplicate = TRUE
FROM (
    SELECT transaction_id, min(seq) AS first_seq FROM events
    WHERE NOT is_duplicate AND transaction_id IN (
        SELECT transaction_id FROM events WHERE seq > $after AND NOT is_duplicate
    )
    GROUP BY transaction_id HAVING count(*) > 1
) AS firsts
WHERE events.transaction_id = firsts.transaction_id AND events.seq > firsts.first_seq
  AND NOT events.is_duplicate
"""


@dataclass(eq=False, slots=True)
class _Batch:
    """What to undo when a batch's sync fails: its line (while pending) and its new ids."""

    line: str
    new: set[str]
    events: int


def micros(moment: datetime) -> int:
    """Microseconds since the epoch (UTC), how timestamps travel into the bulk insert."""
    return (moment - _EPOCH) // _MICRO


def utc(moment: datetime) -> datetime:
    """A naive UTC wall time from DuckDB as an aware datetime."""
    return moment.replace(tzinfo=UTC)


def as_decimal(value: Any) -> Decimal | None:
    """A query result as an exact decimal without trailing zeros (``5.000`` -> ``5``)."""
    if value is None:
        return None
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if not number.is_finite():
        return None
    if number == number.to_integral_value():
        return number.quantize(Decimal(1))
    return number.normalize()


def check_range(starting_on: datetime, ending_before: datetime) -> None:
    """Usage ranges: UTC midnights, ``ending_before`` at least a day after ``starting_on``."""
    problems = []
    for name, moment in (("starting_on", starting_on), ("ending_before", ending_before)):
        if moment.tzinfo is None:
            problems.append(Violation(name, "must carry a UTC offset"))
            continue
        at = moment.astimezone(UTC)
        if (at.hour, at.minute, at.second, at.microsecond) != (0, 0, 0, 0):
            problems.append(Violation(name, "must be aligned to UTC midnight"))
    if not problems and ending_before - starting_on < timedelta(days=1):
        problems.append(Violation("ending_before", "must be at least one day after starting_on"))
    if problems:
        raise SpecError(problems)


def window_size(text: str) -> WindowSize:
    """``hour``, ``Day``, ``NONE``...: Metronome takes any case."""
    upper = text.upper()
    if upper == "HOUR":
        return "HOUR"
    if upper == "DAY":
        return "DAY"
    if upper == "NONE":
        return "NONE"
    raise SpecError([Violation("window_size", "must be one of HOUR, DAY, NONE (any case)")])


def window_end(start: datetime, window: WindowSize, ending_before: datetime) -> datetime:
    step = _STEP.get(window)
    return ending_before if step is None else start + step


class MeteringEngine:
    """Holds events (a DuckDB database file, or in memory when ``path`` is None).

    Every public method may be called from several threads at once: ingests are serialised
    (and their syncs group-committed), reads use their own DuckDB cursor.
    """

    def __init__(self, path: str | Path | None = None, *, auto_compact: bool = True) -> None:
        """``auto_compact``: let the background thread run ``compact`` when ingest pauses."""
        self.path = None if path is None else Path(path)
        self.auto_compact = auto_compact
        self._db = duckdb.connect(":memory:" if self.path is None else str(self.path))
        self._db.execute("SET enable_progress_bar = false")
        self._db.execute(SCHEMA)
        install_text_rule(self._db)
        self._write_lock = threading.Lock()  # sequence numbers, the dedupe set, the log
        self._flush_lock = threading.Lock()  # one move of the log into DuckDB at a time
        self._closed = False
        self._pending: list[str] = []  # batch lines not yet in DuckDB
        #: Batches DuckDB refused to load (kept in ``<db>.rejected.log``); 0 unless a bug.
        self.rejected_batches = 0
        self._pending_events = 0
        self._recover()
        row = self._db.execute(
            "SELECT coalesce(max(seq), 0), list(transaction_id) FILTER (WHERE NOT is_duplicate)"
            " FROM events"
        ).fetchone()
        assert row is not None
        self._last_seq: int = row[0]
        #: Stored transaction ids (dedupe at ingest); None after a bulk ``load`` until the
        #: next ingest needs it (a million ids cost most of a second to fetch).
        self._seen: set[str] | None = set(row[1] or ())
        self._count = len(self._seen)
        state = self._db.execute("SELECT coalesce(max(sorted_upto), 0) FROM metering_state")
        self._sorted_upto: int = (state.fetchone() or (0,))[0]
        self._compact_lock = threading.Lock()
        self._last_ingest = time.monotonic()
        self._log: IngestLog[_Batch] | None = None if self.path is None else IngestLog(self.path)
        self._wake = threading.Event()
        #: Log files whose lines are all in DuckDB, to be zeroed and kept as the spare.
        self._recyclable: list[tuple[Path, int]] = []
        self._flusher = threading.Thread(
            target=self._flush_in_background, name="metering-flush", daemon=True
        )
        self._flusher.start()

    @staticmethod
    def files(path: str | Path) -> list[Path]:
        """Every file an engine at ``path`` keeps: the database, its WAL, the ingest logs
        and their spare."""
        database = Path(path)
        return [
            database,
            database.with_name(database.name + ".wal"),
            database.with_name(database.name + ".rejected.log"),
            *log_files(database),
            *spare_files(database),
        ]

    def _recover(self) -> None:
        """Load what the ingest logs hold beyond the database (after a crash or a kill),
        the first copy of each transaction id counting (one transaction: a crash meanwhile
        leaves the logs to replay again)."""
        if self.path is None:
            return
        stale = log_files(self.path)
        if not stale:
            return
        row = self._db.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()
        after = row[0] if row else 0
        self._db.execute("BEGIN TRANSACTION")
        try:
            for log in stale:
                text = complete_lines(log)
                if text:
                    self._load(text)
            self._db.execute(_FIRST_COPY_WINS, {"after": after})
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        for log in stale:
            log.unlink()

    def _load(self, text: str) -> None:
        """Batch lines into the events table, skipping rows it already has."""
        row = self._db.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()
        after = row[0] if row else 0
        self._db.execute(_LOAD, {"text": text, "after": after})

    # -- ingest ---------------------------------------------------------------------------

    def ingest(
        self, events: Sequence[Event] | Sequence[EventFields], *, ingested_at: datetime
    ) -> IngestResult:
        """Store a validated batch atomically and durably; the first event with a
        transaction id wins. Returns once the batch is on disk (file engines)."""
        return self.submit(events, ingested_at=ingested_at).result()

    def submit(
        self, events: Sequence[Event] | Sequence[EventFields], *, ingested_at: datetime
    ) -> Future[IngestResult]:
        """``ingest`` without waiting for the disk: the batch is deduped, numbered and
        written to the ingest log now, and the future completes once it is durable (at
        once for an in-memory engine). Until then it must not be acknowledged; a crash
        before that loses it whole (a torn log line is dropped at the next open).

        ``events``: ``Event`` models, or the plain data ``parse_event_batch`` returns."""
        items: Sequence[EventFields] = (
            [event_fields(e) for e in events if isinstance(e, Event)]
            if events and isinstance(events[0], Event)
            else cast(Sequence[EventFields], events)
        )
        ing = micros(ingested_at)
        rows: list[dict[str, Any]] = []
        for e in items:
            raw = e.get("properties") or {}
            rows.append(
                {
                    "t": e["transaction_id"],
                    "c": e["customer_id"],
                    "e": e["event_type"],
                    "ts": (e["timestamp"] - _EPOCH) // _MICRO,
                    # Texts are computed in SQL (``load.TEXT_MACROS``) when the log moves
                    # into DuckDB; a batch of strings only needs none.
                    "a": _all_strings(raw),
                    "r": raw,
                    "i": ing,
                }
            )
        self._write_lock.acquire()
        while self._seen is None and not self._closed:  # only after a bulk ``load``
            self._write_lock.release()
            self._seen_ids()
            self._write_lock.acquire()
        with _held(self._write_lock):
            if self._closed:
                raise RuntimeError("the metering engine is closed")
            failures = self._forget_failed()[0]  # before deciding what is a duplicate
            seen = self._seen
            assert seen is not None
            seq = self._last_seq
            new: set[str] = set()
            for row in rows:
                seq += 1
                row["s"] = seq
                tid: str = row["t"]
                row["d"] = duplicate = tid in seen or tid in new
                if not duplicate:
                    new.add(tid)
            # One line per batch: a batch is in the log whole or (a torn line) not at all.
            data = _line(rows)  # refuses text that is not Unicode, before storing
            text = data.decode("utf-8")
            durable = (
                self._log.append(data, _Batch(text, new, len(rows)), failures=failures)
                if self._log is not None
                else None
            )
            self._last_seq = seq
            self._last_ingest = time.monotonic()
            seen |= new
            self._count += len(new)
            self._pending.append(text)
            self._pending_events += len(rows)
            if self._pending_events >= FLUSH_EVENTS:
                self._wake.set()  # the background thread moves the log into DuckDB
        result = IngestResult(stored=len(new), duplicates=len(rows) - len(new))
        done: Future[IngestResult] = Future()
        if durable is None:
            done.set_result(result)
        else:
            durable.add_done_callback(lambda f: _complete(done, f, result))
        return done

    def _forget_failed(self) -> tuple[int, set[int]]:
        """Undo the batches whose sync failed: their ids no longer count as stored and
        their lines leave the pending ones (write lock held). Returns the log's failure
        count (for ``IngestLog.append``) and the ``id`` of each failed line, for a caller
        holding lines taken from ``_pending``."""
        if self._log is None:
            return 0, set()
        failures, failed = self._log.take_failed()
        if not failed:
            return failures, set()
        gone = {id(batch.line) for batch in failed}
        kept = [line for line in self._pending if id(line) not in gone]
        if len(kept) != len(self._pending):
            pending = {id(line) for line in self._pending}
            self._pending_events -= sum(b.events for b in failed if id(b.line) in pending)
            self._pending = kept
        for batch in failed:
            if self._seen is not None:
                self._seen -= batch.new
            self._count -= len(batch.new)
        return failures, gone

    def load(
        self,
        events: Any,
        *,
        ingested_at: datetime,
        properties: Sequence[str] | None = None,
    ) -> IngestResult:
        """Store many events at once from a list, a JSON-lines or a Parquet file, checked,
        deduped and given their property texts in SQL (``load.load``); raise ``SpecError``
        naming ``events[i].field`` (nothing stored then). ``properties``: the only property
        texts the queries will read (faster), else every property's.

        Events whose transaction id is already stored count as duplicates and are dropped
        (a bulk load is for evaluation; search of them is not needed)."""
        from .load import load as load_events

        with self._compact_lock, self._flush_lock:
            if self._closed:
                raise RuntimeError("the metering engine is closed")
            with self._write_lock:
                if self._log is not None:
                    self._log.sync()  # every pending batch durable, or failed and forgotten
                    self._forget_failed()
                if self._pending:  # before them: their sequence numbers come first
                    self._load("".join(self._pending))
                    self._pending, self._pending_events = [], 0
                loaded = load_events(
                    self._db, events, table="metronome_loaded", properties=properties
                )
                try:
                    base = self._last_seq
                    # In list / file order (``seq``); ``compact`` sorts by customer later.
                    self._db.execute(
                        f"INSERT INTO events SELECT {base} + seq, transaction_id, customer_id, "
                        f"event_type, ts, props, properties, {ts_lit(ingested_at)}, FALSE "
                        "FROM metronome_loaded"
                        + (
                            " WHERE transaction_id NOT IN (SELECT transaction_id FROM events)"
                            if self._count
                            else ""
                        )
                    )
                    row = self._db.execute(
                        f"SELECT count(*), coalesce(max(seq), {base}) FROM events "
                        f"WHERE seq > {base}"
                    ).fetchone()
                finally:
                    self._db.execute("DROP TABLE IF EXISTS metronome_loaded")
                assert row is not None
                stored = int(row[0])
                self._last_seq = int(row[1])
                self._count += stored
                self._seen = None  # rebuilt from DuckDB by the next ingest, if any
        return IngestResult(stored=stored, duplicates=loaded.read - stored)

    def _seen_ids(self) -> None:
        """Fetch the stored transaction ids from DuckDB (needed after a bulk ``load``)."""
        with self._flush_lock, self._write_lock:
            if self._seen is None and not self._closed:
                row = self._db.execute(
                    "SELECT list(transaction_id) FILTER (WHERE NOT is_duplicate) FROM events"
                ).fetchone()
                self._seen = set((row[0] if row else None) or ())

    def flush(self) -> None:
        """Move the ingest log into DuckDB (queries call this first, so they see every
        acknowledged batch)."""
        with self._flush_lock:
            with self._write_lock:
                if not self._pending or self._closed:
                    return
                lines, self._pending, self._pending_events = self._pending, [], 0
                closed = self._log.rotate() if self._log is not None else None
                # The rotation settled every line it closed: none that failed is loaded.
                gone = self._forget_failed()[1]
                if gone:
                    lines = [line for line in lines if id(line) not in gone]
            try:
                self._load("".join(lines))
            except duckdb.Error:
                # Never let one batch block every later one: load them one at a time and set
                # aside (in ``<db>.rejected.log``) any that DuckDB refuses.
                for line in lines:
                    try:
                        self._load(line)
                    except duckdb.Error as error:
                        self._reject(line, error)
            except BaseException:
                with self._write_lock:  # keep them for the next try (they are in the log too)
                    self._pending[:0] = lines
                raise
            if closed is not None:  # the background thread zeroes it for reuse, after a flush
                with self._write_lock:
                    self._recyclable.append(closed)

    def _reject(self, line: str, error: Exception) -> None:
        self.rejected_batches += 1
        if self.path is not None:
            rejected = self.path.with_name(self.path.name + ".rejected.log")
            with rejected.open("a", encoding="utf-8", errors="backslashreplace") as out:
                out.write(f"# {error}\n{line}")

    def _flush_in_background(self) -> None:
        _lower_this_threads_priority()
        while not self._closed:
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            if self._closed:
                return
            # A failed move keeps the batches (in memory and in the log); the next read retries.
            with contextlib.suppress(Exception):
                self.flush()
                self._recycle()
                unsorted = self._last_seq - self._sorted_upto
                idle = time.monotonic() - self._last_ingest >= COMPACT_IDLE_SECONDS
                enough = unsorted >= max(COMPACT_MIN_ROWS, self._last_seq // 10)
                if self.auto_compact and idle and enough:
                    self.compact()

    def _recycle(self) -> None:
        """Zero the log files already moved into DuckDB, for the log to reuse."""
        with self._write_lock:
            done, self._recyclable = self._recyclable, []
        if self._log is None:
            return
        for index, (path, used) in enumerate(done):
            if self._closed:  # ``close`` deletes whatever is left
                return
            try:
                self._log.recycle(path, used)
            except OSError:
                with self._write_lock:
                    self._recyclable[:0] = done[index + 1 :]
                raise

    def compact(self) -> bool:
        """Rewrite the events table in (customer, time) order; True if there was anything new.

        Events arrive interleaved across customers, so every row group holds every customer
        and a one-customer query reads them all. Sorted, DuckDB's per-row-group min/max
        lets a query skip the row groups of other customers. The sort runs on a snapshot
        while ingest and queries go on; only the swap of the two tables holds the flush lock.
        """
        with self._compact_lock:
            if self._closed:
                return False
            self.flush()
            with self._flush_lock:  # the shared connection is busy only under this lock
                cursor = self._db.cursor()
            try:
                found = cursor.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()
                upto = found[0] if found else 0
                if upto <= self._sorted_upto:
                    return False
                cursor.execute("DROP TABLE IF EXISTS events_sorted")
                cursor.execute(
                    "CREATE TABLE events_sorted AS SELECT * FROM events "
                    f"WHERE seq <= {upto} ORDER BY customer_id, ts, seq"
                )
                with self._flush_lock:
                    cursor.execute("BEGIN TRANSACTION")
                    try:
                        cursor.execute(
                            f"INSERT INTO events_sorted SELECT * FROM events WHERE seq > {upto} "
                            "ORDER BY seq"
                        )
                        cursor.execute("DROP TABLE events")
                        cursor.execute("ALTER TABLE events_sorted RENAME TO events")
                        cursor.execute("DELETE FROM metering_state")
                        cursor.execute(f"INSERT INTO metering_state VALUES ({upto})")
                        cursor.execute("COMMIT")
                    except BaseException:
                        cursor.execute("ROLLBACK")
                        raise
                    self._sorted_upto = upto
            finally:
                cursor.close()
            return True

    # -- queries --------------------------------------------------------------------------

    def _read(self, sql: str) -> list[tuple[Any, ...]]:
        if self._closed:
            raise RuntimeError("the metering engine is closed")
        self.flush()
        with self._flush_lock:
            cursor = self._db.cursor()
        try:
            return cursor.execute(sql).fetchall()
        finally:
            cursor.close()

    def usage(self, query: UsageQuery) -> list[UsageRow]:
        """Rows ordered by customer id, metric id, window start."""
        check_range(query.starting_on, query.ending_before)
        window = window_size(query.window_size)
        for metric_id, wanted in query.group_by.items():
            found = next((m for m in query.metrics if m.id == metric_id), None)
            if found is not None:
                _check_group_by(found, wanted.key)
        if not query.customers:
            return []
        scope = Scope(query.customers, query.starting_on, query.ending_before)
        rows: list[UsageRow] = []
        for metric in query.metrics:
            group_by: GroupBy | None = query.group_by.get(metric.id)
            totals = self._totals(metric, scope, window)
            groups: dict[tuple[str, datetime], dict[str, Decimal | None]] = {}
            if group_by is not None:
                groups = self._group_by(metric, scope, window, group_by)
            for customer, start, end, value in totals:
                rows.append(
                    UsageRow(
                        customer_id=customer,
                        metric_id=metric.id,
                        metric_name=metric.name,
                        start=start,
                        end=end,
                        value=value,
                        groups=None if group_by is None else groups[(customer, start)],
                    )
                )
        rows.sort(key=lambda r: (r.customer_id, r.metric_id, r.start))
        return rows

    def _totals(
        self, metric: MeteredMetric, scope: Scope, window: WindowSize
    ) -> list[tuple[str, datetime, datetime, Decimal | None]]:
        spec = metric.spec
        if spec.sql is not None:
            from .sql import sql_usage

            sql = sql_usage(spec.sql, scope, window)
        else:
            sql = queries.streaming_totals(
                spec, metric.created_at, metric.archived_at, scope, window
            )
        return [(c, utc(s), utc(e), as_decimal(v)) for c, s, e, v in self._read(sql)]

    def _group_by(
        self, metric: MeteredMetric, scope: Scope, window: WindowSize, group_by: GroupBy
    ) -> dict[tuple[str, datetime], dict[str, Decimal | None]]:
        """``groups`` of every (customer, window): each value -> its number, None if unseen."""
        spec = metric.spec
        if spec.sql is not None:
            from .sql import sql_grouped

            found = sql_grouped(spec.sql, scope, window, (group_by.key,), {}, read=self._read)
        else:
            found = self._grouped(metric, scope, window, (group_by.key,), {})
        relation = DUCKDB.windows(window, scope.starting_on, scope.ending_before)
        windows = [utc(s) for (s,) in self._read(f"SELECT w_start FROM {relation} ORDER BY 1")]
        by_customer: dict[str, dict[tuple[datetime, str], Decimal | None]] = {}
        for customer, start, values, value in found:
            if values[0] is not None:
                by_customer.setdefault(customer, {})[(start, values[0])] = value
        out: dict[tuple[str, datetime], dict[str, Decimal | None]] = {}
        for ref in scope.customers:
            cells = by_customer.get(ref.id, {})
            if group_by.values is not None:
                names = list(dict.fromkeys(group_by.values))
            else:
                names = sorted({v for _, v in cells})[:MAX_GROUP_VALUES]
            for start in windows:
                out[(ref.id, start)] = {v: cells.get((start, v)) for v in names}
        return out

    def _grouped(
        self,
        metric: MeteredMetric,
        scope: Scope,
        window: WindowSize,
        keys: tuple[str, ...],
        filters: dict[str, tuple[str, ...]],
    ) -> list[tuple[str, datetime, tuple[str | None, ...], Decimal | None]]:
        """(customer, window start, group values, value) for every group with matched events."""
        sql = queries.streaming_grouped(
            metric.spec, metric.created_at, metric.archived_at, scope, window, keys, filters
        )
        n = len(keys)
        return [
            (row[0], utc(row[1]), tuple(row[2 : 2 + n]), as_decimal(row[2 + n]))
            for row in self._read(sql)
        ]

    def usage_groups(self, query: GroupsQuery) -> list[GroupRow]:
        """One row per window and group tuple that has matching events, by window then group."""
        check_range(query.starting_on, query.ending_before)
        window = window_size(query.window_size)
        metric = query.metric
        keys = _resolve_group_key(metric, query.group_key)
        for name in query.group_filters:
            if name not in keys:
                raise SpecError(
                    [
                        Violation(
                            f"group_filters[{name!r}]",
                            f"'{name}' is not part of the group key {list(keys)}",
                        )
                    ]
                )
        scope = Scope((query.customer,), query.starting_on, query.ending_before)
        if metric.spec.sql is not None:
            from .sql import sql_grouped

            found = sql_grouped(
                metric.spec.sql,
                scope,
                window,
                keys,
                query.group_filters,
                read=self._read,
            )
        else:
            found = self._grouped(metric, scope, window, keys, query.group_filters)
        return [
            GroupRow(
                start=start,
                end=window_end(start, window, query.ending_before),
                group=dict(zip(keys, values, strict=True)),
                value=value,
            )
            for _, start, values, value in found
        ]

    def search(
        self, transaction_ids: Sequence[str], metrics: Sequence[MeteredMetric]
    ) -> list[StoredEvent]:
        """Every stored receipt of the ids (duplicates flagged), in ingestion order, with the
        metrics each first receipt matches."""
        if not transaction_ids:
            return []
        matches = []
        for metric in metrics:
            if metric.spec.sql is not None:
                from .sql import sql_match_condition

                condition = sql_match_condition(metric.spec.sql)
            else:
                condition = queries.match_condition(
                    metric.spec, metric.created_at, metric.archived_at
                )
            matches.append(f"(NOT e.is_duplicate AND {condition})")
        match_list = f"[{', '.join(matches)}]" if matches else "[]::BOOLEAN[]"
        sql = (
            "SELECT e.transaction_id, e.customer_id, e.event_type, e.ts, e.properties, "
            f"e.ingested_at, e.is_duplicate, {match_list} FROM events AS e "
            f"WHERE e.transaction_id IN ({lits(list(dict.fromkeys(transaction_ids)))}) "
            "ORDER BY e.seq"
        )
        import json

        out = []
        for tid, cid, etype, ts, props, ingested, dup, matched in self._read(sql):
            out.append(
                StoredEvent(
                    transaction_id=tid,
                    customer_id=cid,
                    event_type=etype,
                    timestamp=utc(ts),
                    properties=json.loads(props),
                    processed_at=utc(ingested),
                    is_duplicate=dup,
                    matched_metric_ids=tuple(
                        m.id for m, hit in zip(metrics, matched, strict=True) if hit
                    ),
                )
            )
        return out

    def customer_ids(self) -> list[str]:
        """Every customer id events were sent with (ids or aliases), sorted."""
        sql = "SELECT DISTINCT customer_id FROM events WHERE NOT is_duplicate ORDER BY 1"
        return [c for (c,) in self._read(sql)]

    def count(self) -> int:
        """Stored events, duplicates and failed batches excluded (for tests and the
        benchmark)."""
        with self._write_lock:
            self._forget_failed()
            return self._count

    def close(self) -> None:
        """Move the log into DuckDB, stop the background flusher, close the database."""
        with self._compact_lock, self._flush_lock, self._write_lock:
            if self._closed:
                return
            self._closed = True
            if self._log is not None:
                self._log.close()  # settles every line
                self._forget_failed()
            if self._pending:
                self._load("".join(self._pending))
                self._pending, self._pending_events = [], 0
            if self._log is not None:
                for done in log_files(self._log.database):
                    done.unlink()  # everything is in DuckDB now
            self._db.close()
        self._wake.set()
        self._flusher.join()
        if self._log is not None:
            for spare in spare_files(self._log.database):
                spare.unlink(missing_ok=True)


#: How much lower than the process the background thread runs (a ``nice`` increment).
BACKGROUND_NICENESS = 10


def _lower_this_threads_priority() -> None:
    """Let the thread that moves the log into DuckDB and compacts it yield the CPU to the
    threads that answer requests: on a busy machine its bulk loads otherwise take a core
    from the server's event loop (about 10% more events/s in paired runs of the HTTP ingest
    benchmark on 2 cores). Linux only, where a thread has its own nice value; elsewhere the
    same call would lower the whole process, or another one."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError):
            tid = threading.get_native_id()
            # An increment on the nice value it inherited (19 at most), never an absolute
            # value: under a process already niced to 10 or more, "10" would raise it.
            niceness = min(19, os.getpriority(os.PRIO_PROCESS, tid) + BACKGROUND_NICENESS)
            os.setpriority(os.PRIO_PROCESS, tid, niceness)


def _complete(done: Future[IngestResult], durable: Future[None], result: IngestResult) -> None:
    error = durable.exception()
    if error is None:
        done.set_result(result)
    else:
        done.set_exception(error)


def _line(rows: list[dict[str, Any]]) -> bytes:
    """The batch as one UTF-8 JSON line. Serialised by pydantic-core (about twice as fast as
    ``json.dumps`` for a 100-event batch, the same JSON: Decimals as strings, non-ASCII
    kept); text that is not Unicode (a lone surrogate) goes to ``_utf8``, which names it."""
    try:
        return to_json(rows) + b"\n"
    except PydanticSerializationError:
        line = json.dumps(rows, separators=(",", ":"), ensure_ascii=False, default=_json_default)
        return _utf8(line + "\n", rows)


@contextlib.contextmanager
def _held(lock: threading.Lock) -> Iterator[None]:
    """Release a lock already acquired when the block ends."""
    try:
        yield
    finally:
        lock.release()


def _utf8(line: str, rows: list[dict[str, Any]]) -> bytes:
    """The batch line as UTF-8; a lone surrogate (``"\\ud800"`` is valid JSON, not valid
    text) is refused naming the event, so it cannot reach the log and stall the engine."""
    try:
        return line.encode("utf-8")
    except UnicodeEncodeError:
        for index, row in enumerate(rows):
            try:
                json.dumps(row, ensure_ascii=False, default=_json_default).encode("utf-8")
            except UnicodeEncodeError:
                raise SpecError(
                    [Violation(f"events[{index}]", "holds text that is not valid Unicode")]
                ) from None
        raise


def _all_strings(properties: dict[str, Any]) -> bool:
    for value in properties.values():  # noqa: SIM110 (twice as fast as all() over a generator)
        if type(value) is not str:
            return False
    return True


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # exact; a float would lose digits
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _check_group_by(metric: MeteredMetric, key: str) -> None:
    allowed = _group_properties(metric.spec)
    if key not in allowed:
        raise SpecError(
            [
                Violation(
                    "group_by.key",
                    f"'{key}' is not a group key property of billable metric {metric.id} "
                    f"(its group keys: {sorted(allowed) or 'none'})",
                )
            ]
        )


def _group_keys(spec: BillableMetricSpec) -> list[tuple[str, ...]]:
    if spec.sql is not None:
        from .sql import sql_group_columns

        columns = sql_group_columns(spec.sql)
        return [columns] if columns else []
    return [tuple(k) for k in spec.group_keys or []]


def _group_properties(spec: BillableMetricSpec) -> set[str]:
    return {name for key in _group_keys(spec) for name in key}


def _resolve_group_key(metric: MeteredMetric, group_key: tuple[str, ...] | None) -> tuple[str, ...]:
    keys = _group_keys(metric.spec)
    if group_key is None:
        # Decision: no group_key asks for the metric's first group key (none: one group, {}).
        return keys[0] if keys else ()
    for key in keys:
        if set(key) == set(group_key) and len(set(group_key)) == len(group_key):
            return tuple(group_key)
    raise SpecError(
        [
            Violation(
                "group_key",
                f"{list(group_key)} is not one of billable metric {metric.id}'s group keys "
                f"{[list(k) for k in keys]} (a compound key must be given whole)",
            )
        ]
    )


__all__ = ["CustomerRef", "MeteringEngine", "check_range", "lit"]
