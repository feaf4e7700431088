"""SQL generated from a metric: matching, window bucketing and aggregation as set-based
queries over the ``events`` table.

Everything here is plain SQL text except the few functions a warehouse spells differently,
which live in ``Dialect`` (``DuckDB`` is the only one implemented). To run the same
evaluation on a warehouse (Snowflake, BigQuery) for volumes beyond one machine, write a
``Dialect`` for it and point the queries at a table with the same columns.

The ``events`` table (see ``engine.SCHEMA``): ``seq`` (ingestion order), ``transaction_id``,
``customer_id`` (as sent: an id or an alias), ``event_type``, ``ts`` (UTC timestamp),
``props`` (JSON object of property *texts*), ``properties`` (JSON as sent),
``ingested_at``, ``is_duplicate``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ..models import BillableMetricSpec
from .types import CustomerRef, WindowSize

#: Exact decimals: 38 digits, 12 after the point (SUM/MAX/LATEST values are read as this).
DECIMAL_TYPE = "DECIMAL(38, 12)"
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

    def prop(self, name: str, column: str = "e.props") -> str:
        """The text of property ``name`` (NULL when absent)."""
        key = name.replace("\\", "\\\\").replace('"', '\\"')
        return f"json_extract_string({column}, {lit('$.' + chr(34) + key + chr(34))})"

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


@dataclass(frozen=True)
class Scope:
    """Which stored events a query reads: customers (with aliases), time range."""

    customers: tuple[CustomerRef, ...]
    starting_on: datetime
    ending_before: datetime

    def alias_table(self) -> str:
        """``cust(alias, customer)``: every id an event may carry, mapped to its customer."""
        rows = []
        for customer in self.customers:
            for alias in dict.fromkeys((customer.id, *customer.aliases)):
                rows.append(f"({lit(alias)}, {lit(customer.id)})")
        return f"(VALUES {', '.join(rows)}) AS cust(alias, customer)"

    def all_aliases(self) -> list[str]:
        return list(dict.fromkeys(a for c in self.customers for a in (c.id, *c.aliases)))

    def customer_ids(self) -> str:
        return f"(VALUES {', '.join(f'({lit(c.id)})' for c in self.customers)}) AS ids(customer)"

    def where(self) -> list[str]:
        return [
            "NOT e.is_duplicate",
            f"e.ts >= {ts_lit(self.starting_on)}",
            f"e.ts < {ts_lit(self.ending_before)}",
            f"e.customer_id IN ({lits(self.all_aliases())})",
        ]

    def scoped_events(self, dialect: Dialect, window: WindowSize, extra: Sequence[str] = ()) -> str:
        """The events of the scope with their customer and window start."""
        conditions = " AND ".join([*self.where(), *extra])
        bucket = dialect.bucket("e.ts", window, self.starting_on)
        return (
            f"SELECT cust.customer, {bucket} AS w_start, e.* "
            f"FROM events AS e JOIN {self.alias_table()} ON e.customer_id = cust.alias "
            f"WHERE {conditions}"
        )


def match_conditions(
    spec: BillableMetricSpec,
    created_at: datetime | None,
    archived_at: datetime | None,
    dialect: Dialect = DUCKDB,
) -> list[str]:
    """SQL conditions (over alias ``e``) an event must meet to match a streaming metric."""
    out: list[str] = []
    type_filter = spec.event_type_filter
    if type_filter is not None:
        if type_filter.in_values is not None:
            out.append(f"e.event_type IN ({lits(type_filter.in_values)})")
        if type_filter.not_in_values is not None:
            out.append(f"e.event_type NOT IN ({lits(type_filter.not_in_values)})")
    for item in spec.property_filters or []:
        text = dialect.prop(item.name)
        if item.exists is True:
            out.append(f"{text} IS NOT NULL")
        elif item.exists is False:
            out.append(f"{text} IS NULL")
        if item.in_values is not None:
            out.append(f"{text} IN ({lits(item.in_values)})")
        if item.not_in_values is not None:
            # Decision: absent passes a not_in_values filter.
            out.append(f"({text} IS NULL OR {text} NOT IN ({lits(item.not_in_values)}))")
    if created_at is not None:
        out.append(f"e.ingested_at >= {ts_lit(created_at)}")
    if archived_at is not None:
        out.append(f"e.ingested_at < {ts_lit(archived_at)}")
    return out


def aggregate(spec: BillableMetricSpec, dialect: Dialect = DUCKDB) -> tuple[str, str]:
    """``(aggregate expression, value when nothing counted)`` over matched rows (columns
    ``props``, ``ts``, ``seq``)."""
    kind = spec.aggregation_type
    key = spec.aggregation_key
    if kind == "COUNT":
        return "count(*)", "0"
    assert key is not None, "the metric rules require aggregation_key"
    text = dialect.prop(key, "props")
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
