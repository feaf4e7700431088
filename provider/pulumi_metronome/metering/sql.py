"""SQL billable metrics: Metronome's SQL parsed with sqlglot, checked against what Metronome
documents, and translated into a query over the engine's ``events`` table.

What a metric may say (``metering-semantics.md``, "SQL metrics"): one
``SELECT ... FROM events [WHERE ...] [GROUP BY ...]`` over the columns ``event_type``,
``timestamp`` and ``properties.<name>`` (every property a string; cast to compute), with the
documented functions COUNT, SUM, MAX, MIN, AVG, COUNT(DISTINCT), EARLIEST, LATEST, LEAST,
GREATEST, ROUND, CEIL, FLOOR, CASE WHEN, IN / NOT IN, IS NULL, DATE_TRUNC (hour, day) and
CAST, plus arithmetic, comparison and boolean operators. The column named ``value`` (else
the first) is the quantity and must aggregate; every other column is a group column and
must be grouped by. Anything else is refused with the reason, at metric creation and at
``pulumi preview`` (``check_sql``, called by the billable-metric rules).

Translation: the engine restricts the events (customer, window, duplicates out) and adds its
customer and window-start columns to the query's SELECT and GROUP BY, so the metric's own
aggregates run once per customer, window and group. An empty window gets the value the
query gives over no events at all (``COUNT`` 0, ``SUM`` null), as SQL would.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from .queries import DECIMAL_TYPE, DUCKDB, Dialect, Props, Scope, lits
from .types import WindowSize

_AGGREGATES: tuple[type[exp.Expression], ...] = (exp.Count, exp.Sum, exp.Max, exp.Min, exp.Avg)
_ALLOWED: tuple[type[exp.Expression], ...] = (
    exp.Select,
    exp.From,
    exp.Table,
    exp.Where,
    exp.Group,
    exp.Alias,
    exp.Identifier,
    exp.Column,
    exp.Star,
    exp.Literal,
    exp.Null,
    exp.Boolean,
    exp.Paren,
    exp.Neg,
    exp.Not,
    exp.And,
    exp.Or,
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.Is,
    exp.In,
    exp.Between,
    exp.Distinct,
    exp.Least,
    exp.Greatest,
    exp.Round,
    exp.Ceil,
    exp.Floor,
    exp.Case,
    exp.If,
    exp.Cast,
    exp.DataType,
    exp.DataTypeParam,
    exp.DateTrunc,
    exp.TimestampTrunc,
    exp.Var,
    exp.Anonymous,
    *_AGGREGATES,
)
#: Ordered aggregates. LATEST: the value on the event with the greatest timestamp, a tie
#: going to the event ingested last (the streaming rule); EARLIEST mirrors it: the smallest
#: timestamp, a tie going to the event ingested first. Both order by ``(ts, seq)``.
_ORDERED = ("EARLIEST", "LATEST")
#: Result types a value column may have (DuckDB's names).
_NUMERIC_TYPES = ("INT", "DECIMAL", "DOUBLE", "FLOAT", "NUMBER", "REAL")
_TYPES = {
    exp.DataType.Type.DECIMAL,
    exp.DataType.Type.DOUBLE,
    exp.DataType.Type.FLOAT,
    exp.DataType.Type.INT,
    exp.DataType.Type.BIGINT,
    exp.DataType.Type.SMALLINT,
    exp.DataType.Type.VARCHAR,
    exp.DataType.Type.TEXT,
    exp.DataType.Type.CHAR,
    exp.DataType.Type.BOOLEAN,
    exp.DataType.Type.DATE,
    exp.DataType.Type.TIMESTAMP,
}
_COLUMNS = ("event_type", "timestamp")


class SqlMetricError(ValueError):
    """A SQL metric Metronome would not accept; the message says why."""


@dataclass(frozen=True)
class SqlMetric:
    """A checked SQL metric: its value and group columns as DuckDB expressions over the
    engine's scoped events, aliased ``events`` (``event_type``, ``ts``, ``seq``, and the
    extracted property texts ``p``)."""

    value: exp.Expression
    groups: tuple[tuple[str, exp.Expression], ...]
    where: exp.Expression | None
    #: Properties the query reads, in the order of the extracted list column ``p``.
    prop_names: tuple[str, ...]
    #: The value over no events at all (an empty window), as a SQL literal.
    empty: str = "NULL"

    def value_sql(self) -> str:
        return self.value.sql(dialect="duckdb")

    def where_sql(self) -> str:
        return "TRUE" if self.where is None else self.where.sql(dialect="duckdb")

    def props(self) -> Props:
        return Props(DUCKDB, list(self.prop_names))


def _reject(reason: str) -> SqlMetricError:
    return SqlMetricError(reason)


def _frag(sql: str) -> exp.Expression:
    node = sqlglot.parse_one(sql, read="duckdb")
    assert isinstance(node, exp.Expression)
    return node


class _Translator:
    """Metronome's columns and functions in DuckDB's words, over relation ``table``: either
    the engine's scoped events (properties from the list column ``p``) or a plain row."""

    def __init__(self, table: str, names: list[str] | None, dialect: Dialect = DUCKDB) -> None:
        self.table = table
        self.names = names  # None: read properties through ``dialect.prop`` directly
        self.dialect = dialect

    def __call__(self, node: exp.Expression) -> exp.Expression:
        return _translate(node, self)

    def prop(self, name: str) -> exp.Expression:
        if self.names is None:
            return _frag(self.dialect.prop(name, f"{self.table}.props"))
        if name not in self.names:
            self.names.append(name)
        return _frag(DUCKDB.item(f"{self.table}.p", self.names.index(name)))


def _translate(node: exp.Expression, to: _Translator) -> exp.Expression:
    if isinstance(node, exp.Column):
        parts = [p.name for p in node.parts]
        if parts and parts[0] == "events":
            parts = parts[1:]
        if len(parts) == 2 and parts[0] == "properties":
            return to.prop(parts[1])
        if len(parts) == 1 and parts[0] in _COLUMNS:
            return exp.column("ts" if parts[0] == "timestamp" else parts[0], table=to.table)
        if len(parts) == 1 and parts[0] == "properties":
            raise _reject("properties must be read one at a time, as properties.<name>")
        raise _reject(
            f"unknown column {node.sql()}: the events table has event_type, timestamp "
            "and properties.<name>"
        )
    if isinstance(node, exp.Anonymous):
        name = str(node.this).upper()
        if name not in _ORDERED:
            raise _reject(f"function {node.this} is not supported in Metronome SQL metrics")
        if len(node.expressions) != 1:
            raise _reject(f"{name} takes one argument")
        function = "arg_min" if name == "EARLIEST" else "arg_max"
        arg = node.expressions[0].transform(to)  # a replaced node is not visited again
        return exp.Anonymous(
            this=function,
            expressions=[arg, _frag(f"{{'t': {to.table}.ts, 's': {to.table}.seq}}")],
        )
    if isinstance(node, exp.Cast) and not isinstance(node, exp.TryCast):
        # A value that does not convert reads as null (absent) instead of failing the whole
        # query: one malformed event must not stop a metric (as SUM skips non-numbers).
        return exp.TryCast(this=node.this.transform(to), to=_translate(node.args["to"], to))
    if isinstance(node, exp.DataType):
        if node.this not in _TYPES:
            raise _reject(f"CAST to {node.sql()} is not supported")
        if node.this == exp.DataType.Type.DECIMAL and not node.expressions:
            # A bare DECIMAL would be DuckDB's DECIMAL(18, 3); keep properties exact.
            return exp.DataType.build(DECIMAL_TYPE, dialect="duckdb")
    return node


def _check_nodes(tree: exp.Expression) -> None:
    for node in tree.walk():
        if isinstance(node, exp.Anonymous) and str(node.this).upper() not in _ORDERED:
            raise _reject(f"function {node.this} is not supported in Metronome SQL metrics")
        if not isinstance(node, _ALLOWED):
            raise _reject(f"{node.key.upper()} ({node.sql()}) is not supported in SQL metrics")
        if isinstance(node, exp.DateTrunc | exp.TimestampTrunc):
            unit = node.args.get("unit")
            text = unit.name.lower() if unit is not None else ""
            if text not in ("hour", "day"):
                raise _reject("DATE_TRUNC supports the units 'hour' and 'day'")
        if isinstance(node, exp.Select) and node is not tree:
            raise _reject("subqueries are not supported")
        for key in ("joins", "having", "order", "limit", "offset", "with", "qualify", "windows"):
            if isinstance(node, exp.Select) and node.args.get(key):
                raise _reject(f"{key.upper()} is not supported in SQL metrics")
        if isinstance(node, exp.Select) and node.args.get("distinct"):
            raise _reject("SELECT DISTINCT is not supported; use COUNT(DISTINCT ...)")


def _has_aggregate(node: exp.Expression) -> bool:
    return any(
        isinstance(n, _AGGREGATES)
        or (isinstance(n, exp.Anonymous) and str(n.this).upper() in _ORDERED)
        for n in node.walk()
    )


@lru_cache(maxsize=512)
def parse_sql_metric(sql: str) -> SqlMetric:
    """Parse and check a SQL metric; raise ``SqlMetricError`` with the reason."""
    try:
        statements = [s for s in sqlglot.parse(sql) if s is not None]
    except sqlglot.errors.ParseError as error:
        first = error.errors[0] if error.errors else {}
        at = f" at line {first.get('line')}, column {first.get('col')}" if first else ""
        raise _reject(f"cannot be parsed{at}: {first.get('description', error)}") from None
    except sqlglot.errors.TokenError:
        # e.g. an unterminated quote; the tokenizer's message quotes the input, which may
        # hold characters a JSON answer cannot carry, so it is not repeated.
        raise _reject("cannot be parsed: an invalid token (an unterminated quote?)") from None
    if len(statements) != 1:
        raise _reject("must be exactly one SELECT statement")
    tree = statements[0]
    if not isinstance(tree, exp.Select):
        raise _reject(f"must be a SELECT ... FROM events statement, not {tree.sql()[:60]!r}")
    source = tree.args.get("from_") or tree.args.get("from")
    if not isinstance(source, exp.From) or not isinstance(source.this, exp.Table):
        raise _reject("must select FROM events")
    table = source.this
    if table.name != "events" or table.args.get("db") or table.args.get("catalog"):
        raise _reject(f"must select FROM events, not {table.sql()}")
    if table.alias:
        raise _reject("the events table cannot be aliased")
    _check_nodes(tree)
    columns = list(tree.expressions)
    if not columns:
        raise _reject("must select at least one column")
    for part in [*columns, tree.args.get("where")]:
        for column in part.find_all(exp.Column) if part is not None else ():
            _translate(column, _Translator("events", None))  # unknown columns first
    names = [c.alias_or_name for c in columns]
    value_index = names.index("value") if "value" in names else 0
    value = columns[value_index]
    if isinstance(value, exp.Star) or not _has_aggregate(value):
        raise _reject(
            f"the value column ({value.sql()}) must aggregate the events, e.g. COUNT(*) or "
            "SUM(CAST(properties.<name> AS DECIMAL))"
        )
    group_exprs = list(tree.args["group"].expressions) if tree.args.get("group") else []
    grouped: set[int] = set()
    for item in group_exprs:
        index = _group_target(item, columns, names)
        if index is None or index == value_index:
            raise _reject(
                f"GROUP BY {item.sql()} must name one of the selected group columns "
                "(every column but the value)"
            )
        grouped.add(index)
    groups = []
    for index, column in enumerate(columns):
        if index == value_index:
            continue
        if index not in grouped:
            raise _reject(f"column {column.sql()} must be in GROUP BY (it is a group column)")
        if not names[index]:
            raise _reject(f"group column {column.sql()} needs a name: add AS <name>")
        groups.append((names[index], _unalias(column)))
    if len({n for n, _ in groups}) != len(groups):
        raise _reject("group columns must have distinct names")
    where: exp.Expression | None = tree.args.get("where")
    prop_names: list[str] = []
    to = _Translator("events", prop_names)
    metric = SqlMetric(
        value=_unalias(value).transform(to),
        groups=tuple((n, e.transform(to)) for n, e in groups),
        where=where.this.transform(to) if where is not None else None,
        prop_names=tuple(prop_names),
    )
    return replace(metric, empty=_dry_run(metric))


def _unalias(node: exp.Expression) -> exp.Expression:
    return node.this if isinstance(node, exp.Alias) else node


def _group_target(
    item: exp.Expression, columns: list[exp.Expression], names: list[str]
) -> int | None:
    if isinstance(item, exp.Literal) and not item.is_string:
        position = int(item.name) - 1
        return position if 0 <= position < len(columns) else None
    if isinstance(item, exp.Column) and not item.table and item.name in names:
        target = names.index(item.name)
        if isinstance(columns[target], exp.Alias):
            return target
    for index, column in enumerate(columns):
        if _unalias(column) == item:
            return index
    return None


_probe_lock = threading.Lock()
_probe: duckdb.DuckDBPyConnection | None = None


def _dry_run(metric: SqlMetric) -> str:
    """Bind the translated query against an empty events table: DuckDB names type errors
    (``SUM`` over a string property, a non-aggregated column) as Metronome would refuse them.
    Returns the value over no events, as a SQL literal."""
    global _probe
    groups = "".join(f", {e.sql(dialect='duckdb')}" for _, e in metric.groups)
    sql = (
        f"SELECT {metric.value_sql()}{groups} FROM (SELECT 'c' AS customer, "
        f"TIMESTAMP '2000-01-01' AS w_start, e.*, {metric.props().extraction()} AS p "
        f"FROM events AS e) AS events WHERE {metric.where_sql()} GROUP BY ALL"
    )
    with _probe_lock:
        if _probe is None:
            from .engine import SCHEMA

            _probe = duckdb.connect(":memory:")
            _probe.execute(SCHEMA)
        try:
            cursor = _probe.execute(f"SELECT * FROM ({sql}) LIMIT 0")
            kind = str(cursor.description[0][1]).upper() if cursor.description else ""
            cursor.fetchall()
            nothing = _probe.execute(
                f"SELECT CAST(({metric.value_sql()}) AS VARCHAR) FROM (SELECT e.*, "
                f"{metric.props().extraction()} AS p FROM events AS e) AS events"
            ).fetchone()
        except duckdb.Error as error:
            message = str(error).split("\n")[0]
            for prefix in ("Binder Error: ", "Parser Error: ", "Conversion Error: "):
                message = message.removeprefix(prefix)
            raise _reject(
                f"cannot be evaluated: {message} (properties are strings: CAST them to compute)"
            ) from None
    if not any(word in kind for word in _NUMERIC_TYPES):
        raise _reject(
            f"the value column must be a number, not {kind or 'unknown'}: "
            "CAST properties to compute, e.g. SUM(CAST(properties.<name> AS DECIMAL))"
        )
    text = nothing[0] if nothing else None
    return "NULL" if text is None else text


def check_sql(sql: str) -> str | None:
    """The reason a SQL metric is refused, or None when it is fine."""
    try:
        parse_sql_metric(sql)
    except SqlMetricError as error:
        return str(error)
    return None


def sql_group_columns(sql: str) -> tuple[str, ...]:
    return tuple(name for name, _ in parse_sql_metric(sql).groups)


def sql_match_condition(sql: str) -> str:
    """Whether a row ``e`` of the events table passes the metric's WHERE (for search)."""
    return sql_reads(sql)


def sql_reads(sql: str, dialect: Dialect = DUCKDB) -> str:
    """Which events a SQL metric reads: its WHERE over one row ``e`` (``e.event_type``,
    ``e.ts``, properties through ``dialect.prop``), TRUE or FALSE, never NULL.

    A metric of the documented form (``SELECT ... FROM events WHERE <condition>``) reads
    exactly the events its condition holds for: the engine adds only the customer and
    window, and every aggregate runs over what the WHERE keeps (an event whose aggregated
    value is absent is still read, as a streaming SUM still matches it). Raises
    ``SqlMetricError`` for a query the checker refuses (then which events it reads is not
    known)."""
    parse_sql_metric(sql)  # the checks (and their reason) first: one SELECT statement
    tree = next(s for s in sqlglot.parse(sql) if s is not None)
    where = tree.args.get("where")
    if where is None:
        return "TRUE"
    condition = where.this.transform(_Translator("e", None, dialect))
    return f"coalesce(({condition.sql(dialect='duckdb')}), FALSE)"


def sql_usage(sql: str, scope: Scope, window: WindowSize) -> str:
    """``(customer, w_start, w_end, value)`` for every customer and window of the scope."""
    metric = parse_sql_metric(sql)
    scoped = scope.scoped(window, metric.props())
    windows = DUCKDB.windows(window, scope.starting_on, scope.ending_before)
    return (
        f"WITH a AS (SELECT events.customer, events.w_start, {metric.value_sql()} AS value "
        f"FROM ({scoped}) AS events WHERE {metric.where_sql()} "
        "GROUP BY events.customer, events.w_start) "
        "SELECT ids.customer, w.w_start, w.w_end, "
        f"CASE WHEN a.w_start IS NULL THEN {metric.empty} ELSE a.value END "
        f"FROM {scope.customer_ids()} CROSS JOIN {windows} AS w "
        "LEFT JOIN a ON a.customer = ids.customer AND a.w_start = w.w_start "
        "ORDER BY ids.customer, w.w_start"
    )


def sql_grouped_query(
    sql: str,
    scope: Scope,
    window: WindowSize,
    keys: tuple[str, ...],
    filters: dict[str, tuple[str, ...]],
) -> str:
    metric = parse_sql_metric(sql)
    by_name = dict(metric.groups)
    exprs = [by_name[k].sql(dialect="duckdb") for k in keys]
    conditions = [metric.where_sql()]
    for key, values in filters.items():
        conditions.append(
            f"CAST({by_name[key].sql(dialect='duckdb')} AS VARCHAR) IN ({lits(values)})"
        )
    cols = "".join(f", CAST({e} AS VARCHAR)" for e in exprs)
    group = "".join(f", {e}" for e in exprs)
    return (
        f"SELECT events.customer, events.w_start{cols}, {metric.value_sql()} "
        f"FROM ({scope.scoped(window, metric.props())}) AS events "
        f"WHERE {' AND '.join(f'({c})' for c in conditions)} "
        f"GROUP BY events.customer, events.w_start{group} "
        f"ORDER BY events.customer, events.w_start{''.join(f', {i + 3}' for i in range(len(keys)))}"
    )


def sql_grouped(
    sql: str,
    scope: Scope,
    window: WindowSize,
    keys: tuple[str, ...],
    filters: dict[str, tuple[str, ...]],
    *,
    read: Any,
) -> list[tuple[str, datetime, tuple[str | None, ...], Decimal | None]]:
    from .engine import as_decimal, utc

    n = len(keys)
    rows = read(sql_grouped_query(sql, scope, window, keys, filters))
    return [(r[0], utc(r[1]), tuple(r[2 : 2 + n]), as_decimal(r[2 + n])) for r in rows]
