"""ClickHouse, embedded (``chdb``): the same engine as a ClickHouse server, in process. The
events are read from Parquet into a Memory table; only result rows come back.

Property texts come from ``JSONExtractRaw``, which keeps each value's JSON spelling, so a
string ``"5.0"`` stays ``5.0`` while the number ``5.0`` reads ``5``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlglot import exp

from ..queries import DECIMAL_TYPE, DUCKDB, lit, ts_lit
from .base import Backend, EngineError, LoadedEvents, check_call, parse

#: Settings of every query: UTC, strings as strings in Arrow, file order kept on read.
SETTINGS = {
    "session_timezone": "'UTC'",
    "output_format_arrow_string_as_string": "1",
    "input_format_parquet_preserve_order": "1",
    "join_use_nulls": "1",
    "aggregate_functions_null_for_empty": "0",
}

#: DuckDB's date_trunc units -> ClickHouse's functions (date_trunc itself returns a Date
#: for a day, and its week start is not DuckDB's).
TRUNC = {"hour": "toStartOfHour", "day": "toStartOfDay", "week": "toMonday"}

#: ClickHouse's ``-If`` combinator for an aggregate with ``FILTER (WHERE ...)``.
_IF_NAMES = {
    exp.Count: "countIf",
    exp.Sum: "sumIf",
    exp.Max: "maxIf",
    exp.Min: "minIf",
    exp.Avg: "avgIf",
    exp.ArgMax: "argMaxIf",
    exp.ArgMin: "argMinIf",
}


def number_text(raw: str) -> str:
    """ClickHouse SQL: the text of a JSON number from its JSON text ``raw`` (read as a
    double, as DuckDB's JSON reader reads it, in plain decimal notation without trailing
    zeros)."""
    double = f"toFloat64OrNull({raw})"
    shortest = f"toString({double})"
    plain = f"if(match({shortest}, '[eE]'), toString(toDecimal128({double}, 12)), {shortest})"
    trimmed = f"if(position({plain}, '.') > 0, trimRight(trimRight({plain}, '0'), '.'), {plain})"
    return f"if({trimmed} = '-0', '0', {trimmed})"


class ClickHouseBackend(Backend):
    name = "clickhouse"
    dialect = "clickhouse"

    def __init__(self) -> None:
        super().__init__()
        try:
            from chdb import session as chs
        except ImportError:
            raise EngineError(
                "engine clickhouse: chdb is not installed "
                "(pip install 'pulumi-metronome[clickhouse]')"
            ) from None
        self.session = chs.Session()  # type: ignore[no-untyped-call]
        self._settings = " SETTINGS " + ", ".join(f"{k} = {v}" for k, v in SETTINGS.items())

    def fix(self, node: exp.Expression) -> exp.Expression:
        text = check_call(node, "metronome_json_kind")
        if text is not None:
            v = text.sql(dialect="clickhouse")
            return parse(
                f"multiIf({v} IS NULL, 'NULL', NOT isValidJSON({v}), 'INVALID', "
                f"upper(toString(JSONType({v}))))",
                "clickhouse",
            )
        text = check_call(node, "metronome_moment")
        if text is not None:
            return parse(moment(text.sql(dialect="clickhouse")), "clickhouse")
        if isinstance(node, exp.RegexpFullMatch):
            return exp.Anonymous(
                this="match",
                expressions=[node.this, _anchored(node.expression)],
            )
        if isinstance(node, exp.TimestampTrunc | exp.DateTrunc):
            unit = node.args.get("unit")
            name = (unit.name if unit is not None else "").lower()
            if name in TRUNC:
                return _datetime64(exp.Anonymous(this=TRUNC[name], expressions=[node.this]))
        if (
            isinstance(node, exp.Cast)
            and not isinstance(node, exp.TryCast)
            and node.args["to"].is_type(exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPNTZ)
        ):
            # A DuckDB TIMESTAMP (microseconds, UTC here), not a DateTime (seconds).
            return _datetime64(node.this)
        if isinstance(node, exp.TryCast):
            # CAST AS Nullable(...) fails on a bad value; DuckDB's TRY_CAST gives NULL.
            to = node.args["to"]
            if to.is_type(*exp.DataType.NUMERIC_TYPES) and to.this == exp.DataType.Type.DECIMAL:
                kind = "Decimal(38, 12)"
            else:
                kind = to.sql(dialect="clickhouse")
            return exp.Anonymous(
                this="accurateCastOrNull",
                expressions=[exp.cast(node.this, "String"), exp.Literal.string(kind)],
            )
        if isinstance(node, exp.Struct):
            values = [
                e.expression if isinstance(e, exp.PropertyEQ) else e for e in node.expressions
            ]
            return exp.Tuple(expressions=values)
        if isinstance(node, exp.Filter):
            return _if_combinator(node)
        return node

    def run(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            result = self.session.query(  # type: ignore[no-untyped-call]
                sql + self._settings, "ArrowTable"
            )
        except Exception as error:  # chdb raises a bare RuntimeError-like error
            raise EngineError(f"engine clickhouse: {str(error).splitlines()[0]}") from None
        columns = [result.column(i).to_pylist() for i in range(result.num_columns)]
        return list(zip(*columns, strict=True)) if columns else []

    def command(self, sql: str) -> None:
        try:
            self.session.query(sql + self._settings)  # type: ignore[no-untyped-call]
        except Exception as error:
            raise EngineError(f"engine clickhouse: {str(error).splitlines()[0]}") from None

    def load(
        self,
        path: Path,
        properties: Sequence[str],
        numbers: Sequence[str],
        start: datetime | None,
        end: datetime | None,
    ) -> LoadedEvents:
        source = f"file({lit(str(path))}, Parquet)"
        types = {str(r[0]): str(r[1]) for r in self.run(f"DESCRIBE TABLE {source}")}
        # A folder of files: each row counts within its own file, so a refusal names the file.
        folder = path.is_dir()
        located = ", _path AS metronome_file" if folder else ""
        self.command(
            "CREATE OR REPLACE VIEW ev_source AS SELECT *, toInt64(_row_number) AS "
            f"metronome_row{located} FROM {source}"
        )
        self.check(
            {name: duckdb_type(kind) for name, kind in types.items()}, "ev_source", files=folder
        )
        kind = types["timestamp"]
        ts = (
            "toDateTime64(`timestamp`, 6, 'UTC')"
            if "DateTime" in kind
            else moment("toString(`timestamp`)")
        )
        props = "'{}'"
        if "properties" in types:
            nested = types["properties"].removeprefix("Nullable(").startswith(("Tuple", "Map"))
            props = "toJSONString(properties)" if nested else "toString(properties)"
        self.columns = {name: f"t{i}" for i, name in enumerate(properties)}
        texts = []
        for i, name in enumerate(properties):
            raw = f"JSONExtractRaw(j, {lit(name)})"
            texts.append(
                f"multiIf({raw} IN ('', 'null'), NULL, startsWith({raw}, '\"'), "
                f"JSONExtractString(j, {lit(name)}), substring({raw}, 1, 1) IN "
                f"('{{', '[', 't', 'f'), {raw}, {number_text(raw)}) AS t{i}"
            )
        # The first event of a transaction id wins in file order: _row_number is the row
        # in the file (order kept on read).
        self.command(
            "CREATE TABLE ev_raw ENGINE = Memory AS SELECT toInt64(_row_number) + 1 AS seq, "
            "toString(transaction_id) AS transaction_id, toString(customer_id) AS customer_id, "
            f"toString(event_type) AS event_type, {ts} AS ts, {props} AS j FROM {source}"
        )
        counted = self.run("SELECT count(), uniqExact(transaction_id) FROM ev_raw")
        read, distinct = int(counted[0][0]), int(counted[0][1])
        period = ["1"]
        if start is not None:
            period.append(f"ts >= {ts_clickhouse(start)}")
        if end is not None:
            period.append(f"ts < {ts_clickhouse(end)}")
        kept = ", ".join(["seq", "transaction_id", "customer_id", "event_type", "ts", *texts])
        number_cols = "".join(
            f", {self.transpile(f'SELECT {DUCKDB.number(self.columns[n])}')[7:]} AS n{j}"
            for j, n in enumerate(numbers)
        )
        self.command(
            f"CREATE TABLE ev ENGINE = Memory AS SELECT *{number_cols} FROM (SELECT {kept} "
            f"FROM (SELECT * FROM ev_raw ORDER BY seq LIMIT 1 BY transaction_id) "
            f"WHERE {' AND '.join(period)})"
        )
        self.command("DROP TABLE ev_raw")
        return LoadedEvents(read, distinct)

    def close(self) -> None:
        self.session.close()  # type: ignore[no-untyped-call]


def moment(text: str) -> str:
    """ClickHouse SQL: a timestamp text as a moment (UTC), NULL when it is not one; the
    loader's reading and the field rule's (``load.CHECK_FUNCTIONS``)."""
    return f"parseDateTime64BestEffortOrNull({text}, 6, 'UTC')"


def duckdb_type(kind: str) -> str:
    """A ClickHouse column type as DuckDB names it (what the field rules read)."""
    bare = kind
    for wrapper in ("Nullable(", "LowCardinality("):
        if bare.startswith(wrapper):
            bare = bare[len(wrapper) : -1]
    if bare.startswith(("String", "FixedString")):
        return "VARCHAR"
    if bare.startswith("DateTime"):
        return "TIMESTAMP WITH TIME ZONE"
    if bare.startswith(("Tuple", "Map", "JSON", "Object")):
        return "STRUCT"
    return bare.upper()


def ts_clickhouse(at: datetime) -> str:
    return f"toDateTime64({ts_lit(at).removeprefix('TIMESTAMP ')}, 6, 'UTC')"


def _datetime64(value: exp.Expression) -> exp.Expression:
    return exp.Anonymous(
        this="toDateTime64",
        expressions=[value, exp.Literal.number(6), exp.Literal.string("UTC")],
    )


def _anchored(pattern: exp.Expression) -> exp.Expression:
    if isinstance(pattern, exp.Literal) and pattern.is_string:
        return exp.Literal.string("^(?:" + pattern.this + ")$")
    return exp.Concat(expressions=[exp.Literal.string("^(?:"), pattern, exp.Literal.string(")$")])


def _if_combinator(node: exp.Filter) -> exp.Expression:
    """``agg(x) FILTER (WHERE c)`` -> ``aggIf(x, c)`` (``count(DISTINCT x)`` ->
    ``uniqExactIf``)."""
    agg = node.this
    condition = node.expression.this
    if isinstance(agg, exp.Count):
        arg = agg.this
        if isinstance(arg, exp.Distinct):
            return exp.Anonymous(this="uniqExactIf", expressions=[*arg.expressions, condition])
        if arg is None or isinstance(arg, exp.Star):
            return exp.Anonymous(this="countIf", expressions=[condition])
        return exp.Anonymous(this="countIf", expressions=[arg, condition])
    for kind, name in _IF_NAMES.items():
        if type(agg) is kind:
            args = [agg.this, *([agg.expression] if agg.args.get("expression") else [])]
            return exp.Anonymous(this=name, expressions=[*args, condition])
    return node


__all__ = ["DECIMAL_TYPE", "ClickHouseBackend"]
