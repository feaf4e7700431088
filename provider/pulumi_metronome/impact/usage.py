"""Usage of many metric declarations over one events file, in few passes, with DuckDB.

The matching and aggregation rules are the metering engine's (``metering.queries``: the
same SQL the local server runs); what differs is where the events are. The server keeps
them in its ``events`` table with a JSON column of property texts and evaluates one metric
per query; a pull-request impact reads a month of events once from a JSON-lines or Parquet
file and needs every metric of two pricings over them. So:

1. **One load of the file** (``metering.load``, the engine's loader): DuckDB scans it
   directly (never through Python), checks every event's fields, dedupes by
   ``transaction_id`` (the first event in file order wins, as on ingest), and keeps one
   column per property that any metric reads, holding the property's *text* (the engine's
   rule, in SQL), plus an exact decimal for aggregated ones (only that for a property read
   only as a number; only whether it has a text for one tested only by exists filters),
   customer ids and event types of a Parquet file as ENUM types. The
   table stays in memory when its estimated size is at most twice DuckDB's memory limit
   (the part beyond the limit goes to DuckDB's temporary directory as it is, which costs
   little); a larger one goes to a temporary database file, written compressed and read
   through DuckDB's buffer pool under the limit, so memory stays bounded whatever the
   file's size.
2. **One pass per question** (``totals``): every metric is one aggregate column of the same
   ``GROUP BY`` query. A metric sees only the events it matches because its property
   columns are masked with its match condition (``CASE WHEN match THEN p END``), so the
   engine's aggregate expressions (SUM, MAX, LATEST, UNIQUE) are used as they are.

Customers are the events' ``customer_id`` values as sent (no customer records: an impact
file is usually a warehouse export keyed by customer id). Metrics are evaluated without the
not-retroactive bound (the in-process evaluator has none). SQL metrics are evaluated by
the engine's SQL module (``metering.sql``) over a view of the loaded table (``sql_values``).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import duckdb

from ..metering import queries
from ..metering.engine import as_decimal
from ..metering.load import load
from ..metering.queries import Dialect, Props, Scope, lit, ts_lit
from ..metering.sql import SqlMetricError, sql_reads
from ..metering.types import CustomerRef, WindowSize
from ..models import BillableMetricSpec, EventTypeFilter, SpecError, Violation
from .inputs import Metric

#: DuckDB's memory limit for the evaluation; beyond it, it spills to its temporary directory
#: (10 million events of the benchmark, in memory: peak RSS near 1.4 GiB with it).
DEFAULT_MEMORY_LIMIT = "1200MB"


class EventsError(ValueError):
    """An events file that cannot be evaluated; the message names the file and the problem."""


def metric_key(spec: BillableMetricSpec) -> str:
    """Identical definitions (whatever their name) are evaluated once."""
    return (
        spec.model_copy(update={"name": "-", "custom_fields": None})
        .canonical()
        .model_dump_json(exclude_none=True)
    )


@dataclass(frozen=True)
class Layout:
    """Where the loaded table keeps each property: its text column, and for properties that
    metrics aggregate, its exact-decimal column.

    ``conditions`` (when not None) names each metric's match condition once (``b<i>``): a
    metric's aggregate, its masks and the unbilled counts then read the boolean column
    ``e.b<i>``, which ``Events`` computes once per event in a projection below the aggregate
    (``with_conditions``) instead of once per use."""

    texts: dict[str, str]
    numbers: dict[str, str]
    conditions: dict[str, str] | None = field(default=None, compare=False)
    #: Properties whose text column holds only whether they have a text (a BOOLEAN; the
    #: metrics test them only with ``exists`` filters, ``metering.load.presence_only``).
    present: frozenset[str] = frozenset()

    def condition(self, sql: str) -> str:
        """``sql`` (a boolean over row ``e``), or the column that holds it once per event."""
        if self.conditions is None:
            return sql
        name = self.conditions.setdefault(sql, f"b{len(self.conditions)}")
        return f"e.{name}"

    def with_conditions(self, source: str, sqls: Iterable[str]) -> str:
        """``source`` (a relation aliased ``e``) with the condition columns that ``sqls``
        read, as a relation aliased ``e``."""
        if not self.conditions:
            return source
        text = " ".join(sqls)
        used = [
            f"{cond} AS {name}"
            for cond, name in self.conditions.items()
            if re.search(rf"\be\.{name}\b", text)
        ]
        if not used:
            return source
        return f"(SELECT e.*, {', '.join(used)} FROM {source}) AS e"


class _Columns(Dialect):
    """The engine's dialect, reading a property from its column of the loaded table, masked
    to NULL on events that do not match (``condition``)."""

    def __init__(self, layout: Layout, condition: str | None = None) -> None:
        self.layout = layout
        self.condition = condition
        self._names: dict[str, str] = {}  # text expression -> property name

    def _mask(self, column: str) -> str:
        if self.condition is None:
            return f"e.{column}"
        return f"(CASE WHEN {self.condition} THEN e.{column} END)"

    def prop(self, name: str, column: str = "e.props") -> str:
        # A property loaded only as a number has no text column: its name here can only be
        # read through ``number`` (anything else fails to bind, it is never silently NULL).
        text = self.layout.texts.get(name) or f"{self.layout.numbers[name]}_text_not_loaded"
        if name in self.layout.present:
            # Some text ('') when the property has one, NULL when not: all an exists test reads.
            test = f"e.{text}" if self.condition is None else f"{self.condition} AND e.{text}"
            expr = f"(CASE WHEN {test} THEN '' END)"
        else:
            expr = self._mask(text)
        self._names[expr] = name
        return expr

    def number(self, text_expr: str) -> str:
        name = self._names.get(text_expr)
        if name is not None and name in self.layout.numbers:
            return self._mask(self.layout.numbers[name])
        return super().number(text_expr)


class _ColumnProps(Props):
    """The engine's ``Props`` (a property name -> its text expression) over ``_Columns``."""

    def __call__(self, name: str) -> str:
        return self.dialect.prop(name)


def match_sql(spec: BillableMetricSpec, layout: Layout) -> str:
    """Whether an event (row ``e`` of the loaded table) matches ``spec`` (engine's rules)."""
    found = [
        *queries.cheap_conditions(spec, None, None, alias="e"),
        *queries.property_conditions(spec, _Columns(layout)),
    ]
    return layout.condition("(" + (" AND ".join(found) or "TRUE") + ")")


def reads_sql(spec: BillableMetricSpec, layout: Layout) -> str:
    """Whether ``spec`` reads an event (row ``e``): TRUE or FALSE, never NULL.

    A streaming metric reads the events it matches; a SQL metric, the events its WHERE
    holds for (``metering.sql.sql_reads``). Raises ``SqlMetricError`` for a SQL metric
    whose events cannot be derived."""
    if spec.sql is None:
        return match_sql(spec, layout)
    return layout.condition(sql_reads(spec.sql, _Columns(layout)))


def might_read_sql(event_types: EventTypeFilter | None) -> str:
    """Which events a metric of unknown definition might read: those its event type filter
    lets through, when that part is known; else any event."""
    found = queries.event_type_conditions(event_types, alias="e")
    return "(" + (" AND ".join(found) or "TRUE") + ")"


@dataclass(frozen=True)
class Unbilled:
    """The two counts of events no metric reads, as aggregate expressions over rows ``e``:
    ``certain`` no metric reads them; ``unknown`` only a metric whose definition (or whose
    events) is not known might read them."""

    certain: str
    unknown: str


def unbilled_sql(metrics: Iterable[Metric], layout: Layout) -> Unbilled:
    """The unbilled counts of one side's metrics (see ``Unbilled``).

    An event counts once whatever the number of metrics; every condition is two-valued,
    so an event lacking a property a filter reads still lands in exactly one count."""
    reads: list[str] = []
    maybe: list[str] = []
    for metric in metrics:
        if metric.spec is None:
            maybe.append(might_read_sql(metric.event_types))
            continue
        try:
            reads.append(reads_sql(metric.spec, layout))
        except SqlMetricError:
            maybe.append("TRUE")
    read = " OR ".join(reads) or "FALSE"
    might = " OR ".join(maybe) or "FALSE"
    return Unbilled(
        certain=f"count(*) FILTER (WHERE NOT ({read}) AND NOT ({might}))",
        unknown=f"count(*) FILTER (WHERE NOT ({read}) AND ({might}))",
    )


class DistinctCount(str):
    """A UNIQUE metric's aggregate (``count(DISTINCT value)``, the engine's), with the
    masked ``value`` it counts: ``Events.totals`` counts it in a query of its own (distinct
    ``(group, value)`` pairs, then a count per group), which DuckDB runs in half the time
    of a DISTINCT aggregate among the others (it then takes a slower way for the whole
    query); used as plain SQL elsewhere."""

    value: str

    def __new__(cls, sql: str, value: str) -> DistinctCount:
        out = super().__new__(cls, sql)
        out.value = value
        return out


def aggregate_sql(spec: BillableMetricSpec, layout: Layout) -> str:
    """The metric's value over the rows of a group, counting only the events it matches."""
    condition = match_sql(spec, layout)
    if spec.aggregation_type == "COUNT":
        return f"count(*) FILTER (WHERE {condition})"
    masked = _Columns(layout, condition)
    props = _ColumnProps(masked)
    agg, empty = queries.aggregate(spec, props, masked)
    if spec.aggregation_type == "UNIQUE" and spec.aggregation_key is not None:
        return DistinctCount(f"coalesce({agg}, {empty})", props(spec.aggregation_key))
    return f"coalesce({agg}, {empty})"


@dataclass(frozen=True)
class Period:
    """The range usage is computed over: UTC, ``start`` inclusive, ``end`` exclusive."""

    start: datetime
    end: datetime

    @property
    def days(self) -> list[datetime]:
        out, day = [], self.start
        while day < self.end:
            out.append(day)
            day += timedelta(days=1)
        return out


def period_of(
    path: Path,
    start: datetime | None,
    end: datetime | None,
    first: datetime | None,
    last: datetime | None,
) -> Period:
    """The period usage is computed over: ``start`` / ``end`` when given, else the days of
    the events kept (``first`` day, day after the ``last``). A period the events do not
    cover is a period of zero usage; with neither a bound nor an event there is none."""
    if start is None and end is None and first is None:
        raise EventsError(
            f"events file {path}: no events; give --start and --end for a period without events"
        )
    day = timedelta(days=1)
    if start is None:
        if first is not None:
            start = first
        else:
            assert end is not None
            start = end - day
    if end is None:
        end = last if last is not None and last > start else start + day
    return Period(start, end)


def first_line(error: BaseException | str) -> str:
    """The first line of an engine's message (DuckDB adds the query and a caret below)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


class Progress:
    """Progress lines on stderr (a month of events takes a while to read)."""

    def __init__(self, stream: TextIO | None = sys.stderr) -> None:
        self.stream = stream
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        if self.stream is not None:
            elapsed = time.monotonic() - self.started
            print(f"impact: [{elapsed:6.1f}s] {message}", file=self.stream, flush=True)


class Events:
    """An events file loaded once; usage of any metrics over it (see the module docstring)."""

    def __init__(
        self,
        path: str | Path,
        properties: Iterable[str],
        *,
        numeric: Iterable[str] = (),
        numbers_only: Iterable[str] = (),
        presence_only: Iterable[str] = (),
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
        progress: Callable[[str], None] = lambda _: None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise EventsError(f"events file {self.path}: not found")
        if not self.path.is_file():
            raise EventsError(f"events file {self.path}: not a file")
        if start is not None and end is not None and start >= end:
            raise EventsError(
                f"period {start:%Y-%m-%d} to {end:%Y-%m-%d}: the start must be before the end"
            )
        self.progress = progress
        names = list(dict.fromkeys(properties))
        numbers = [n for n in dict.fromkeys(numeric) if n in names]
        self.numbers = {name: f"n{j}" for j, name in enumerate(numbers)}
        # Text columns of the properties read as text (``numbers_only``: read only as a
        # number, e.g. the key of a SUM, and kept only as one).
        self._numbers_only = [n for n in dict.fromkeys(numbers_only) if n in self.numbers]
        self._names = names
        self.columns = {
            name: f"t{i}" for i, name in enumerate(names) if name not in self._numbers_only
        }
        self._presence = [n for n in dict.fromkeys(presence_only) if n in self.columns]
        self.layout = Layout(self.columns, self.numbers, {}, frozenset(self._presence))
        self._dir = tempfile.TemporaryDirectory(prefix="pulumi-metronome-impact-")
        self.db = duckdb.connect(":memory:")
        threads = os.cpu_count() or 2
        try:
            self.db.execute(f"SET memory_limit = {lit(memory_limit)}")
        except duckdb.Error as error:
            self.close()
            raise EventsError(f"memory limit {memory_limit!r}: {first_line(error)}") from None
        self.db.execute(f"SET threads = {threads}")
        self.db.execute("SET TimeZone = 'UTC'")
        self.db.execute("SET preserve_insertion_order = false")
        self.db.execute(f"SET temp_directory = {lit(self._dir.name)}")
        try:
            # In memory when the loaded table takes at most twice the memory limit (the
            # fastest: DuckDB moves the blocks beyond the limit to its temporary directory as
            # they are, and back when a query reads them; 10 million events of the benchmark:
            # 1.3 GB in memory under a 1.2 GB limit cost about 5% more CPU than under 4 GB).
            # Otherwise in a database file in the temporary directory, which DuckDB writes
            # compressed as it loads (a fraction of the size, but slower to write and read)
            # and reads through its buffer pool under the limit. Dictionary compression only
            # (FSST and the float codecs cost more time to write than they save).
            if self._estimated_bytes() > self._limit_bytes() * 2:
                self.db.execute(
                    "SET disabled_compression_methods = 'fsst,dict_fsst,chimp,patas,alp,alprd'"
                )
                self.db.execute(
                    f"ATTACH {lit(str(Path(self._dir.name) / 'events.duckdb'))} AS disk"
                )
                self.db.execute("USE disk")
                progress(
                    "the events would take over twice the memory limit: loading them compressed"
                )
            self._load(start, end)
        except BaseException:
            self.close()
            raise

    def _estimated_bytes(self) -> float:
        """The loaded table's size in memory, estimated: per event 48 bytes (sequence,
        timestamp, customer, event type) and 16 per property text and exact decimal; the
        events a Parquet file's metadata counts, or one per 100 bytes of JSON lines (20 when
        compressed)."""
        width = 48 + 16 * (len(self.columns) + len(self.numbers))
        try:
            row = self.db.execute(
                f"SELECT sum(num_rows) FROM parquet_file_metadata({lit(str(self.path))})"
            ).fetchone()
            events = float(row[0]) if row and row[0] is not None else 0.0
        except duckdb.Error:  # not Parquet: JSON lines (a broken file is the loader's to name)
            size = self.path.stat().st_size
            events = size / (20 if self.path.name.lower().endswith(".gz") else 100)
        return events * width

    def _limit_bytes(self) -> float:
        """DuckDB's memory limit in bytes (it shows it as e.g. ``953.6 MiB``)."""
        row = self.db.execute("SELECT current_setting('memory_limit')").fetchone()
        found = re.fullmatch(r"([0-9.]+)\s*([KMGT]?i?B|bytes)", str(row[0] if row else ""))
        if found is None:
            return 0.0
        units = {"bytes": 1, "B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
        units |= {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
        return float(found[1]) * units.get(found[2], 0)

    def close(self) -> None:
        self.db.close()
        self._dir.cleanup()

    def __enter__(self) -> Events:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- loading ----------------------------------------------------------------------

    def _load(self, start: datetime | None, end: datetime | None) -> None:
        name = self.path.name.lower()
        if not name.endswith((".parquet", ".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz")):
            raise EventsError(
                f"events file {self.path}: unknown format; name it *.parquet or *.jsonl "
                "(JSON lines, one Metronome ingest event per line)"
            )
        names = self._names
        self.progress(
            f"reading {self.path} ({self.path.stat().st_size / 1e6:,.0f} MB), one JSON parse "
            f"per event for {len(names)} properties"
        )
        # The engine's loader: field rules, dedupe (first wins) and property texts in SQL;
        # one text column per property (t<i>), one exact decimal per aggregated one (n<j>).
        try:
            loaded = load(
                self.db,
                self.path,
                table="ev",
                properties=names,
                numbers=list(self.numbers),
                texts="columns",
                numbers_only=self._numbers_only,
                presence=self._presence,
            )
        except SpecError as error:
            # Each problem on one line (an engine's message continues with hints below).
            found = [Violation(v.field, first_line(v.message)) for v in error.violations]
            memory = [v.message for v in found if "Out of Memory" in v.message]
            if memory:
                raise EventsError(
                    f"events file {self.path}: does not fit the memory limit "
                    f"({memory[0][memory[0].index('Out of Memory') :]}); "
                    "raise --memory-limit"
                ) from None
            raise EventsError(f"events file {self.path}: {SpecError(found)}") from None
        except duckdb.OutOfMemoryException as error:
            raise EventsError(
                f"events file {self.path}: does not fit the memory limit ({first_line(error)})"
            ) from None
        except duckdb.Error as error:
            raise EventsError(
                f"events file {self.path}: cannot read it ({first_line(error)})"
            ) from None
        self.read_count = loaded.read
        if loaded.duplicates:
            self.progress(f"dropped {loaded.duplicates:,} duplicate transaction ids")
        # Outside the period: a timestamp is never NULL (the loader requires one), and the
        # condition is spelled so that it could not keep a NULL one either.
        outside = []
        if start is not None:
            outside.append(f"ts < {ts_lit(start)}")
        if end is not None:
            outside.append(f"ts >= {ts_lit(end)}")
        if outside:
            self.db.execute(f"DELETE FROM ev WHERE ts IS NULL OR {' OR '.join(outside)}")
        # A report's dates run from year 1 to 9999 (UTC), the day after the last included:
        # the first event outside them (seq, timestamp) is counted in the same scan.
        # (Its timestamp is read afterwards: as text in the scan, every event's would be.)
        outside_dates = "ts < TIMESTAMP '0001-01-02' OR ts >= TIMESTAMP '9999-12-31'"
        row = self.db.execute(
            "SELECT count(*), "
            f"CASE WHEN NOT bool_or({outside_dates}) THEN date_trunc('day', min(ts)) END, "
            f"CASE WHEN NOT bool_or({outside_dates}) THEN date_trunc('day', max(ts)) END, "
            f"min(seq) FILTER (WHERE {outside_dates}) FROM ev"
        ).fetchone()
        assert row is not None
        if row[3] is not None:
            ts_text = self.db.execute(
                f"SELECT ts::VARCHAR FROM ev WHERE seq = {int(row[3])}"
            ).fetchone()
            assert ts_text is not None
            raise EventsError(
                f"events file {self.path}: events[{int(row[3]) - 1}].timestamp: {ts_text[0]} "
                "(UTC) is outside the dates a report covers (0001-01-02 to 9999-12-30)"
            )
        self.count = int(row[0])
        first = row[1].replace(tzinfo=UTC) if row[1] is not None else None
        last = row[2].replace(tzinfo=UTC) + timedelta(days=1) if row[2] is not None else None
        self.period = period_of(self.path, start, end, first, last)
        self.progress(
            f"{self.read_count:,} events read, {self.count:,} in the period "
            f"{self.period.start:%Y-%m-%d} to {self.period.end:%Y-%m-%d} after deduplication"
        )

    # -- usage --------------------------------------------------------------------------

    def totals(
        self,
        columns: Sequence[tuple[str, str]],
        *,
        by: Sequence[str] = ("customer",),
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> dict[tuple[Any, ...], dict[str, Decimal | None]]:
        """``(group values) -> {name: value}`` for aggregate ``columns`` ``(name, sql)``.

        ``by`` names columns of the loaded table (``customer``, ``day``) or properties.
        """
        if not columns:
            return {}
        fixed = {"customer": "e.customer_id", "day": "date_trunc('day', e.ts)"}
        group = [fixed[c] if c in fixed else f"e.{self.columns[c]}" for c in by]
        where = []
        if start is not None:
            where.append(f"e.ts >= {ts_lit(start)}")
        if end is not None:
            where.append(f"e.ts < {ts_lit(end)}")
        # UNIQUE metrics each by a query of their own (``DistinctCount``).
        plain = [(name, sql) for name, sql in columns if not isinstance(sql, DistinctCount)]
        distinct = [(name, sql) for name, sql in columns if isinstance(sql, DistinctCount)]
        # (Without other columns, the query still lists the groups.)
        select = ", ".join([*group, *(sql for _, sql in plain)] or ["count(*)"])
        # The period's bounds filter the scan; the match conditions are computed above it.
        scan = f"(SELECT * FROM ev AS e {'WHERE ' + ' AND '.join(where) if where else ''}) AS e"
        source = self.layout.with_conditions(scan, (sql for _, sql in plain))
        sql = f"SELECT {select} FROM {source} GROUP BY ALL"
        n = len(group)

        def key_of(row: tuple[Any, ...]) -> tuple[Any, ...]:
            return tuple(v.replace(tzinfo=UTC) if isinstance(v, datetime) else v for v in row[:n])

        out: dict[tuple[Any, ...], dict[str, Decimal | None]] = {}
        for row in self.db.execute(sql).fetchall():
            out[key_of(row)] = {
                name: as_decimal(value)
                for (name, _), value in zip(plain, row[n : n + len(plain)], strict=True)
            }
        aliases = [f"g{i}" for i in range(n)]
        for name, counted in distinct:
            pairs = ", ".join(
                [
                    *(f"{g} AS {a}" for g, a in zip(group, aliases, strict=True)),
                    f"{counted.value} AS v",
                ]
            )
            source = self.layout.with_conditions(scan, [counted.value])
            found = {
                key_of(row): row[n]
                for row in self.db.execute(
                    f"SELECT {', '.join([*aliases, 'count(*)'])} FROM (SELECT DISTINCT * FROM "
                    f"(SELECT {pairs} FROM {source}) WHERE v IS NOT NULL) GROUP BY ALL"
                ).fetchall()
            }
            for key, values in out.items():
                values[name] = as_decimal(found.get(key, 0))
        return {key: {name: values[name] for name, _ in columns} for key, values in out.items()}

    def daily(
        self, columns: Sequence[tuple[str, str]]
    ) -> dict[datetime, dict[str, Decimal | None]]:
        """Per day, each aggregate of ``columns`` per customer, summed over the customers."""
        inner = ", ".join(f"{sql} AS {name}" for name, sql in columns)
        outer = ", ".join(f"sum({name})" for name, _ in columns)
        sql = (
            f"SELECT day, {outer} FROM (SELECT customer_id, date_trunc('day', e.ts) AS day, "
            f"{inner} FROM {self.layout.with_conditions('ev AS e', (s for _, s in columns))} "
            "GROUP BY ALL) GROUP BY day ORDER BY day"
        )
        return {
            row[0].replace(tzinfo=UTC): {
                name: as_decimal(v) for (name, _), v in zip(columns, row[1:], strict=True)
            }
            for row in self.db.execute(sql).fetchall()
        }

    def sql_values(
        self, sql: str, window: WindowSize
    ) -> dict[tuple[str, datetime], Decimal | None]:
        """A SQL metric's value per ``(customer, window start)`` over the period, by the
        engine's SQL module (``metering.sql``), the events of every customer as sent.

        The engine's queries read an ``events`` table with a JSON column of property texts;
        here a view gives them one, built from the loaded text columns of the properties
        the query reads."""
        from ..metering.sql import parse_sql_metric, sql_usage

        names = parse_sql_metric(sql).prop_names
        customers = self.customers()
        if not customers:
            return {}  # no events in the period: no customer, no value
        missing = [n for n in names if n not in self.columns]
        if missing:
            raise ValueError(f"properties {missing} were not loaded")  # a bug of the caller
        pairs = ", ".join(f"{lit(n)}, {self.columns[n]}" for n in names)
        props = f"json_object({pairs})" if names else "'{}'"
        self.db.execute(
            # (The loaded table keeps no transaction ids; SQL metrics cannot read them.)
            "CREATE OR REPLACE TEMP VIEW events AS SELECT seq, NULL::VARCHAR AS transaction_id, "
            "customer_id::VARCHAR AS customer_id, event_type::VARCHAR AS event_type, ts, "
            f"{props}::VARCHAR AS props, FALSE AS is_duplicate FROM ev"
        )
        scope = Scope(tuple(CustomerRef(c) for c in customers), self.period.start, self.period.end)
        rows = self.db.execute(sql_usage(sql, scope, window)).fetchall()
        return {(c, start.replace(tzinfo=UTC)): as_decimal(v) for c, start, _, v in rows}

    def customers(self) -> list[str]:
        return [
            str(r[0])
            for r in self.db.execute(
                "SELECT customer_id::VARCHAR FROM (SELECT DISTINCT customer_id FROM ev) ORDER BY 1"
            ).fetchall()
        ]
