"""Apache Spark (``pyspark``; local mode by default, any cluster through ``SPARK_REMOTE`` or
a master URL): the events stay in Spark, cached; only result rows are collected.

Property texts come from Spark's VARIANT type (``try_parse_json``): it keeps the JSON type
of each value, so a string ``"5.0"`` stays ``5.0`` while the number ``5.0`` reads ``5``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from sqlglot import exp

from ..queries import DUCKDB, lit, ts_lit
from .base import Backend, EngineError, LoadedEvents, check_call, parse

#: Spark settings for a local session (one per process: starting a JVM takes seconds).
LOCAL_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    # Few partitions after a shuffle: the aggregates are small, and each partition is a
    # task to schedule (local mode runs two at a time on two cores).
    "spark.sql.shuffle.partitions": "2",
    "spark.ui.showConsoleProgress": "false",
    # DuckDB's arithmetic: a division by zero is NULL, not an error.
    "spark.sql.ansi.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}

_session: Any = None


def session() -> Any:
    """The process's Spark session (created once; ``PULUMI_METRONOME_SPARK_MASTER`` picks
    the master, default ``local[*]``)."""
    global _session
    if _session is not None:
        return _session
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineError(
            "engine spark: pyspark is not installed (pip install 'pulumi-metronome[spark]')"
        ) from None
    builder = SparkSession.builder.appName("pulumi-metronome").master(
        os.environ.get("PULUMI_METRONOME_SPARK_MASTER", "local[*]")
    )
    for key, value in LOCAL_CONF.items():
        builder = builder.config(key, value)
    memory = os.environ.get("PULUMI_METRONOME_SPARK_DRIVER_MEMORY")
    if memory:
        builder = builder.config("spark.driver.memory", memory)
    _session = builder.getOrCreate()
    _session.sparkContext.setLogLevel("ERROR")
    return _session


def _variant_path(name: str) -> str:
    return lit("$['" + name.replace("\\", "\\\\").replace("'", "\\'") + "']")


def text_stages(i: int) -> list[list[str]]:
    """Spark SQL: the text of property ``i`` from its VARIANT ``x<i>``, in stages (each a
    projection over the previous one, so no expression is repeated inside another).

    A JSON number reads as a double (as DuckDB's JSON reader reads it), then in plain
    decimal notation without trailing zeros; a string as is; ``true``/``false``, objects
    and arrays as their JSON; ``null`` as absent. Only numbers take the number steps (a
    text cast to a double costs Spark a thrown exception when it is not a number)."""
    return [
        [
            f"schema_of_variant(x{i}) AS k{i}",
            f"(x{i} IS NULL OR is_variant_null(x{i})) AS z{i}",
        ],
        [
            f"CASE WHEN k{i} = 'STRING' THEN variant_get(x{i}, '$', 'string') END AS s{i}",
            f"CASE WHEN NOT z{i} AND k{i} <> 'STRING' THEN to_json(x{i}) END AS j{i}",
            f"coalesce(NOT z{i} AND k{i} NOT IN ('STRING', 'BOOLEAN') AND k{i} NOT LIKE "
            f"'OBJECT%' AND k{i} NOT LIKE 'ARRAY%', FALSE) AS q{i}",
        ],
        [f"CASE WHEN q{i} THEN CAST(CAST(j{i} AS DOUBLE) AS STRING) END AS d{i}"],
        [
            f"CASE WHEN d{i} RLIKE '[eE]' THEN format_string('%.12f', "
            f"CAST(CAST(j{i} AS DOUBLE) AS DECIMAL(38, 12))) ELSE d{i} END AS p{i}"
        ],
        [
            f"CASE WHEN p{i} LIKE '%.%' THEN regexp_replace(regexp_replace(p{i}, '0+$', ''), "
            f"'[.]$', '') ELSE p{i} END AS r{i}"
        ],
        [
            f"CASE WHEN z{i} THEN NULL WHEN k{i} = 'STRING' THEN s{i} WHEN NOT q{i} THEN j{i} "
            f"WHEN r{i} = '-0' THEN '0' ELSE r{i} END AS t{i}"
        ],
    ]


class SparkBackend(Backend):
    name = "spark"
    dialect = "spark"

    def __init__(self) -> None:
        super().__init__()
        self.spark = session()
        self._cached: list[str] = []

    def fix(self, node: exp.Expression) -> exp.Expression:
        text = check_call(node, "metronome_json_kind")
        if text is not None:
            # One parse: the first letters of the value's type name (OBJECT<...>, VOID for
            # JSON null, ARRAY<...>, STRING...; no type: not JSON).
            v = text.sql(dialect="spark")
            return parse(
                f"CASE WHEN {v} IS NULL THEN 'NULL' ELSE coalesce(replace(left("
                f"schema_of_variant(try_parse_json({v})), 6), 'VOID', 'NULL'), 'INVALID') END",
                "spark",
            )
        text = check_call(node, "metronome_moment")
        if text is not None:
            return parse(moment(text.sql(dialect="spark")), "spark")
        # regexp_full_match: DuckDB's; Spark's RLIKE finds the pattern anywhere.
        if isinstance(node, exp.RegexpFullMatch):
            return exp.RegexpLike(this=node.this.copy(), expression=_anchored(node.expression))
        # arg_max / arg_min skip a NULL value in DuckDB; MAX_BY / MIN_BY keep it.
        if isinstance(node, exp.ArgMax | exp.ArgMin) and not isinstance(node.parent, exp.Filter):
            known = exp.Not(this=exp.Is(this=node.this.copy(), expression=exp.Null()))
            return exp.Filter(this=node.copy(), expression=exp.Where(this=known))
        if isinstance(node, exp.Filter) and isinstance(node.this, exp.ArgMax | exp.ArgMin):
            where = node.expression.this
            known = exp.Not(this=exp.Is(this=node.this.this.copy(), expression=exp.Null()))
            if known.sql() not in where.sql():
                node.set("expression", exp.Where(this=exp.and_(where, known)))
        return node

    def run(self, sql: str) -> list[tuple[Any, ...]]:
        from pyspark.errors import PySparkException

        try:
            table = self.spark.sql(sql).toArrow()
        except PySparkException as error:
            raise EngineError(f"engine spark: {str(error).splitlines()[0]}") from None
        columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
        return list(zip(*columns, strict=True)) if columns else []

    def load(
        self,
        path: Path,
        properties: Sequence[str],
        numbers: Sequence[str],
        start: datetime | None,
        end: datetime | None,
    ) -> LoadedEvents:
        from pyspark.errors import PySparkException

        try:
            frame = self.spark.read.parquet(str(path))
        except PySparkException as error:
            raise EngineError(f"cannot read {path}: {str(error).splitlines()[0]}") from None
        types = {f.name: f.dataType.simpleString() for f in frame.schema.fields}
        # A folder of files: each row counts within its own file, so a refusal names the file.
        folder = path.is_dir()
        located = ["*", "_metadata.row_index AS metronome_row"]
        if folder:
            located.append("_metadata.file_path AS metronome_file")
        frame.selectExpr(*located).createOrReplaceTempView("ev_source")
        self.check(
            {name: duckdb_type(kind) for name, kind in types.items()}, "ev_source", files=folder
        )
        ts = "`timestamp`" if types["timestamp"].startswith("timestamp") else moment("`timestamp`")
        props = "try_parse_json(properties)" if "properties" in types else "NULL"
        if types.get("properties", "string") not in ("string", "variant"):
            props = "try_parse_json(to_json(properties))"
        self.columns = {name: f"t{i}" for i, name in enumerate(properties)}
        # Duplicates are rare: count the distinct hashes of the ids (8 bytes each through
        # the shuffle, not the ids), and only when two are equal count the ids themselves
        # and keep the first event of each (a shuffle and sort of every event).
        counted = self.run(
            "SELECT count(*), count(DISTINCT xxhash64(transaction_id)) FROM ev_source"
        )[0]
        read, distinct = int(counted[0]), int(counted[1])
        if distinct < read:
            distinct = int(self.run("SELECT count(DISTINCT transaction_id) FROM ev_source")[0][0])
        variants = "".join(
            f", try_variant_get(v, {_variant_path(n)}, 'variant') AS x{i}"
            for i, n in enumerate(properties)
        )
        stages: list[list[str]] = [[] for _ in text_stages(0)]
        for i in range(len(properties)):
            for stage, columns in zip(stages, text_stages(i), strict=True):
                stage.extend(columns)
        texts = [f"t{i}" for i in range(len(properties))]
        self.spark.sql(
            "CREATE OR REPLACE TEMP VIEW ev_raw AS SELECT monotonically_increasing_id() + 1 "
            "AS seq, CAST(transaction_id AS STRING) AS transaction_id, "
            "CAST(customer_id AS STRING) AS customer_id, CAST(event_type AS STRING) "
            f"AS event_type, CAST({ts} AS TIMESTAMP) AS ts, {props} AS v FROM ev_source"
        )
        kept = ", ".join(["seq", "customer_id", "event_type", "ts", *texts])
        period = []
        if start is not None:
            period.append(f"ts >= {self.transpile_literal(start)}")
        if end is not None:
            period.append(f"ts < {self.transpile_literal(end)}")
        number_cols = "".join(
            f", {self.transpile(f'SELECT {DUCKDB.number(self.columns[n])}')[7:]} AS n{j}"
            for j, n in enumerate(numbers)
        )
        relation = "ev_raw"
        if distinct < read:
            relation = (
                "(SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY transaction_id "
                "ORDER BY seq) AS rn FROM ev_raw) WHERE rn = 1)"
            )
        relation = f"(SELECT *{variants} FROM {relation} WHERE {' AND '.join(['TRUE', *period])})"
        for stage in stages:
            if stage:
                relation = f"(SELECT *, {', '.join(stage)} FROM {relation})"
        self.spark.sql(
            f"CREATE OR REPLACE TEMP VIEW ev AS SELECT *{number_cols} FROM (SELECT {kept} "
            f"FROM {relation})"
        )
        self.spark.sql("CACHE TABLE ev")
        self._cached.append("ev")
        return LoadedEvents(read, distinct)

    def file_name(self, file: str) -> str:
        # Spark names a file by its URI; a local one as its path.
        parsed = urlparse(file)
        return unquote(parsed.path) if parsed.scheme == "file" else file

    def transpile_literal(self, moment: datetime) -> str:
        return self.transpile(f"SELECT {ts_lit(moment)}")[7:]

    def close(self) -> None:
        for name in self._cached:
            self.spark.sql(f"UNCACHE TABLE IF EXISTS {name}")
        self._cached.clear()


def moment(text: str) -> str:
    """Spark SQL: a timestamp text as a moment, NULL when it is not one; the loader's
    reading and the field rule's (``load.CHECK_FUNCTIONS``). Spark needs the seconds:
    ``10:00Z`` is read as ``10:00:00Z``, as DuckDB reads it."""
    minutes = r"^([0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2})([^:0-9]|$)"
    return f"to_timestamp(regexp_replace({text}, {lit(minutes)}, '$1:00$2'))"


def duckdb_type(kind: str) -> str:
    """A Spark column type (``simpleString``) as DuckDB names it (what the field rules
    read)."""
    if kind == "string" or kind.startswith(("varchar", "char")):
        return "VARCHAR"
    if kind == "timestamp":
        return "TIMESTAMP WITH TIME ZONE"
    if kind == "timestamp_ntz":
        return "TIMESTAMP"
    if kind.startswith(("struct", "map")):
        return "STRUCT"
    if kind == "variant":
        return "JSON"
    return kind.upper()


def _anchored(pattern: exp.Expression) -> exp.Expression:
    if isinstance(pattern, exp.Literal) and pattern.is_string:
        return exp.Literal.string("^(?:" + pattern.this + ")$")
    return exp.Concat(expressions=[exp.Literal.string("^(?:"), pattern, exp.Literal.string(")$")])


__all__ = ["SparkBackend", "session"]
