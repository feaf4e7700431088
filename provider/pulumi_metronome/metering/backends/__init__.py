"""The usage queries on engines other than the embedded DuckDB: Apache Spark and ClickHouse.

The queries stay written once, in DuckDB's dialect; a backend transpiles them (sqlglot) with
the fixes its engine needs and runs them where the events are (``base``). DuckDB itself is
the default engine and needs no backend: it runs the queries as written.
"""

from __future__ import annotations

from .base import Backend, EngineError, LoadedEvents, Rows

#: The engines the usage queries run on; the first is the default.
ENGINES = ("duckdb", "spark", "clickhouse")


def connect(engine: str) -> Backend:
    """A backend for ``engine`` (``spark`` or ``clickhouse``); ``EngineError`` when the
    engine is unknown or its package is not installed."""
    if engine == "spark":
        from .spark import SparkBackend

        return SparkBackend()
    if engine == "clickhouse":
        from .clickhouse import ClickHouseBackend

        return ClickHouseBackend()
    raise EngineError(f"engine {engine!r}: must be one of {', '.join(ENGINES[1:])}")


__all__ = ["ENGINES", "Backend", "EngineError", "LoadedEvents", "Rows", "connect"]
