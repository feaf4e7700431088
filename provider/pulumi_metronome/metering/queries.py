"""SQL generated from a metric: matching, window bucketing and aggregation as set-based
queries over the ``events`` table.

Everything here is plain SQL text except the few functions a warehouse spells differently,
which live in ``Dialect`` (``DUCKDB`` is the only one implemented). To run the same
evaluation on a warehouse (Snowflake, BigQuery) for volumes beyond one machine, write a
``Dialect`` for it and point the queries at a table with the same columns.

The ``events`` table (see ``engine.SCHEMA``): ``seq`` (ingestion order), ``transaction_id``,
``customer_id`` (as sent: an id or an alias), ``event_type``, ``ts`` (UTC timestamp),
``props`` (JSON object of property *texts*), ``properties`` (JSON as sent),
``ingested_at``, ``is_duplicate``.

Shape of every usage query: ``scoped`` reads the customer's events of the time range (one
equality filter per customer id or alias, pushed into the table scan) and extracts the
properties the metric reads into a list column ``p`` with one JSON parse per row; property
filters, aggregation and grouping then work on ``p[i]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..models import BillableMetricSpec, EventTypeFilter
from .types import CustomerRef, WindowSize

#: Exact decimals: 38 digits, 12 after the point (SUM/MAX/LATEST values are read as this).
DECIMAL_TYPE = "DECIMAL(38, 12)"
#: Up to this many customer ids and aliases, a query reads each with its own equality filter.
MAX_UNION_ALIASES = 16
#: What counts as a number in a property: plain decimal notation, optional exponent.
NUMBER_PATTERN = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"


def lit(text: str) -> str:
    """A SQL string literal (standard quoting, portable)."""
    return "'" + text.replace("'", "''") + "'"


def lits(texts: Sequence[str]) -> str:
    return ", ".join(lit(t) for t in texts)


def ts_lit(moment: datetime) -> str:
    """A UTC timestamp literal; the events table holds UTC wall times."""
    naive = moment.astimezone(UTC).replace(tzinfo=None)
    return f"TIMESTAMP '{naive.isoformat(sep=' ')}'"


class Dialect:
    """The functions that differ between engines; DuckDB's spelling here."""

    def json_path(self, name: str) -> str:
        key = name.replace("\\", "\\\\").replace('"', '\\"')
        return lit('$."' + key + '"')

    def prop(self, name: str, column: str = "e.props") -> str:
        """The text of property ``name`` (NULL when absent)."""
        return f"json_extract_string({column}, {self.json_path(name)})"

    def props(self, names: Sequence[str], column: str = "e.props") -> str:
        """The texts of several properties as a list, from one parse of the JSON."""
        if not names:
            return "[]::VARCHAR[]"
        return f"json_extract_string({column}, [{', '.join(self.json_path(n) for n in names)}])"

    def item(self, column: str, index: int) -> str:
        """Element ``index`` (0-based) of a list column."""
        return f"{column}[{index + 1}]"

    def number(self, text_expr: str) -> str:
        """A property text as an exact decimal; NULL when it is not a number."""
        return (
            f"CASE WHEN regexp_full_match({text_expr}, {lit(NUMBER_PATTERN)}) "
            f"THEN TRY_CAST({text_expr} AS {DECIMAL_TYPE}) END"
        )

    def bucket(self, ts: str, window: WindowSize, start: datetime) -> str:
        if window == "NONE":
            return ts_lit(start)
        return f"date_trunc('{window.lower()}', {ts})"

    def windows(self, window: WindowSize, start: datetime, end: datetime) -> str:
        """A relation ``(w_start, w_end)`` of every window of the query, empty ones included."""
        if window == "NONE":
            return f"(SELECT {ts_lit(start)} AS w_start, {ts_lit(end)} AS w_end)"
        step = f"INTERVAL 1 {window.lower()}"
        return (
            f"(SELECT range AS w_start, range + {step} AS w_end "
            f"FROM range({ts_lit(start)}, {ts_lit(end)}, {step}))"
        )

    def latest(self, value: str) -> str:
        """The value on the event with the greatest timestamp; ties: ingested last."""
        return f"arg_max({value}, {{'t': ts, 's': seq}}) FILTER (WHERE {value} IS NOT NULL)"


DUCKDB = Dialect()


@dataclass
class Props:
    """The properties one query reads, each extracted once per row into list column ``p``."""

    dialect: Dialect = DUCKDB
    names: list[str] = field(default_factory=list)

    def __call__(self, name: str) -> str:
        if name not in self.names:
            self.names.append(name)
        return self.dialect.item("p", self.names.index(name))

    def extraction(self, column: str = "e.props") -> str:
        return self.dialect.props(self.names, column)


@dataclass(frozen=True)
class Scope:
    """Which stored events a query reads: customers (with aliases), time range."""

    customers: tuple[CustomerRef, ...]
    starting_on: datetime
    ending_before: datetime

    def pairs(self) -> list[tuple[str, str]]:
        """``(id an event may carry, customer id)`` for every customer of the scope."""
        return [(a, c.id) for c in self.customers for a in dict.fromkeys((c.id, *c.aliases))]

    def customer_ids(self) -> str:
        return f"(VALUES {', '.join(f'({lit(c.id)})' for c in self.customers)}) AS ids(customer)"

    def scoped(
        self,
        window: WindowSize,
        props: Props,
        extra: Sequence[str] = (),
        dialect: Dialect = DUCKDB,
    ) -> str:
        """The events of the scope: ``customer``, ``w_start``, the table's columns, ``p``."""
        bucket = dialect.bucket("e.ts", window, self.starting_on)
        base = [
            "NOT e.is_duplicate",
            f"e.ts >= {ts_lit(self.starting_on)}",
            f"e.ts < {ts_lit(self.ending_before)}",
            *extra,
        ]
        columns = f"{bucket} AS w_start, e.*, {props.extraction()} AS p"
        pairs = self.pairs()
        if len(pairs) <= MAX_UNION_ALIASES:
            # One equality per id an event may carry: each is pushed into the table scan, so
            # only that customer's rows are read (an IN list or a join would read them all).
            return " UNION ALL ".join(
                f"SELECT {lit(customer)} AS customer, {columns} FROM events AS e WHERE "
                + " AND ".join([f"e.customer_id = {lit(alias)}", *base])
                for alias, customer in pairs
            )
        table = ", ".join(f"({lit(a)}, {lit(c)})" for a, c in pairs)
        return (
            f"SELECT cust.customer, {columns} FROM events AS e "
            f"JOIN (VALUES {table}) AS cust(alias, customer) ON e.customer_id = cust.alias "
            f"WHERE {' AND '.join(base)}"
        )


def event_type_conditions(type_filter: EventTypeFilter | None, alias: str = "e") -> list[str]:
    """A metric's event type filter (``event_type`` is never NULL: two-valued)."""
    out: list[str] = []
    if type_filter is not None:
        if type_filter.in_values is not None:
            out.append(f"{alias}.event_type IN ({lits(type_filter.in_values)})")
        if type_filter.not_in_values is not None:
            out.append(f"{alias}.event_type NOT IN ({lits(type_filter.not_in_values)})")
    return out


def cheap_conditions(
    spec: BillableMetricSpec,
    created_at: datetime | None,
    archived_at: datetime | None,
    alias: str = "e",
) -> list[str]:
    """Conditions on plain columns (event type, ingestion time): pushed into the scan."""
    out = event_type_conditions(spec.event_type_filter, alias)
    # Not retroactive: a streaming metric sees what was ingested while it was active.
    if created_at is not None:
        out.append(f"{alias}.ingested_at >= {ts_lit(created_at)}")
    if archived_at is not None:
        out.append(f"{alias}.ingested_at < {ts_lit(archived_at)}")
    return out


def property_conditions(spec: BillableMetricSpec, prop: Props | Dialect) -> list[str]:
    """Conditions on property texts; ``prop`` maps a name to its text expression.

    Each condition is TRUE or FALSE, never NULL (an absent property is NULL text), so a
    match can be negated or counted (``NOT match``) without losing events."""
    out: list[str] = []
    for item in spec.property_filters or []:
        text = prop(item.name) if isinstance(prop, Props) else prop.prop(item.name)
        if item.exists is True:
            out.append(f"{text} IS NOT NULL")
        elif item.exists is False:
            out.append(f"{text} IS NULL")
        if item.in_values is not None:
            # Two-valued: an absent property makes ``IN`` NULL, and a NULL match would
            # survive nowhere it is negated (``NOT (NULL)`` is NULL: the event drops out of
            # both "matched" and "not matched").
            out.append(f"coalesce({text} IN ({lits(item.in_values)}), FALSE)")
        if item.not_in_values is not None:
            # Decision: absent passes a not_in_values filter.
            out.append(f"({text} IS NULL OR {text} NOT IN ({lits(item.not_in_values)}))")
    return out


def match_condition(
    spec: BillableMetricSpec,
    created_at: datetime | None,
    archived_at: datetime | None,
    dialect: Dialect = DUCKDB,
) -> str:
    """Whether one row ``e`` of the events table matches a streaming metric (for search)."""
    parts = [
        *cheap_conditions(spec, created_at, archived_at),
        *property_conditions(spec, dialect),
    ]
    return " AND ".join(parts) or "TRUE"


def aggregate(spec: BillableMetricSpec, prop: Props, dialect: Dialect = DUCKDB) -> tuple[str, str]:
    """``(aggregate expression, value when nothing counted)`` over matched rows (columns
    ``p``, ``ts``, ``seq``)."""
    kind = spec.aggregation_type
    key = spec.aggregation_key
    if kind == "COUNT":
        return "count(*)", "0"
    assert key is not None, "the metric rules require aggregation_key"
    text = prop(key)
    number = dialect.number(text)
    if kind == "SUM":
        return f"sum({number})", "0"
    if kind == "MAX":
        return f"max({number})", "NULL"
    if kind == "LATEST":
        return dialect.latest(number), "NULL"
    if kind == "UNIQUE":
        return f"count(DISTINCT {text})", "0"
    raise ValueError(f"unsupported aggregation type {kind!r}")


def streaming_totals(
    spec: BillableMetricSpec,
    created_at: datetime | None,
    archived_at: datetime | None,
    scope: Scope,
    window: WindowSize,
    dialect: Dialect = DUCKDB,
) -> str:
    """``(customer, w_start, w_end, value)`` for every customer and window, empty included."""
    props = Props(dialect)
    conditions = property_conditions(spec, props)
    agg, empty = aggregate(spec, props, dialect)
    scoped = scope.scoped(window, props, cheap_conditions(spec, created_at, archived_at))
    return (
        f"WITH s AS ({scoped}), "
        f"a AS (SELECT customer, w_start, {agg} AS value FROM s "
        f"WHERE {' AND '.join(conditions) or 'TRUE'} GROUP BY customer, w_start) "
        f"SELECT ids.customer, w.w_start, w.w_end, coalesce(a.value, {empty}) "
        f"FROM {scope.customer_ids()} "
        f"CROSS JOIN {dialect.windows(window, scope.starting_on, scope.ending_before)} AS w "
        "LEFT JOIN a ON a.customer = ids.customer AND a.w_start = w.w_start "
        "ORDER BY ids.customer, w.w_start"
    )


def streaming_grouped(
    spec: BillableMetricSpec,
    created_at: datetime | None,
    archived_at: datetime | None,
    scope: Scope,
    window: WindowSize,
    keys: Sequence[str],
    filters: dict[str, tuple[str, ...]],
    dialect: Dialect = DUCKDB,
) -> str:
    """``(customer, w_start, group values..., value)`` for every group with matched events."""
    props = Props(dialect)
    conditions = property_conditions(spec, props)
    conditions += [f"{props(k)} IS NOT NULL" for k in keys]
    conditions += [f"{props(k)} IN ({lits(v)})" for k, v in filters.items()]
    agg, empty = aggregate(spec, props, dialect)
    groups = "".join(f", {props(k)}" for k in keys)
    scoped = scope.scoped(window, props, cheap_conditions(spec, created_at, archived_at))
    positions = "".join(f", {i + 3}" for i in range(len(keys)))
    return (
        f"WITH s AS ({scoped}) "
        f"SELECT customer, w_start{groups}, coalesce({agg}, {empty}) FROM s "
        f"WHERE {' AND '.join(conditions) or 'TRUE'} "
        f"GROUP BY customer, w_start{groups} ORDER BY 1, 2{positions}"
    )
