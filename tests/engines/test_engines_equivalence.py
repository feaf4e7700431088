"""Equivalence: random metrics over random event streams give identical usage rows on DuckDB,
Spark and ClickHouse, and DuckDB's rows are the naive reference's
(``tests/metering/test_metering_reference.py``: its strategies, its reference functions).

Every engine reads the same Parquet file. Compared: each metric's value per customer, per
customer and day, per customer and group value(s); the daily series; the unbilled counts;
SQL metrics per customer over the whole period, by day and by hour. Decimals are exact.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

from engine_helpers import ENGINES, write_parquet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pulumi_metronome.impact.engines import open_events
from pulumi_metronome.impact.usage import Events, aggregate_sql
from pulumi_metronome.metering.load import properties_read
from pulumi_metronome.models import parse_metric_spec


def _reference() -> ModuleType:
    path = Path(__file__).parents[1] / "metering" / "test_metering_reference.py"
    spec = importlib.util.spec_from_file_location("naive_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


REF = _reference()
NO_BOUNDS = SimpleNamespace(created_at=None, archived_at=None)
SLOW = settings(
    max_examples=int(__import__("os").environ.get("ENGINE_EXAMPLES", "8")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def flatten(batches: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [e for batch in batches for e in batch]


def sent(events: list[dict[str, Any]]) -> list[Any]:
    """The reference's view of the events (file order is ingestion order)."""
    return [
        REF.Sent(
            e["transaction_id"],
            e["customer_id"],
            e["event_type"],
            datetime.fromisoformat(e["timestamp"]),
            e["properties"],
            None,
            i,
        )
        for i, e in enumerate(events)
    ]


@contextmanager
def parquet(events: list[dict[str, Any]]) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        yield write_parquet(Path(folder) / "events.parquet", events)


def streaming_usage(events: Events, specs: list[Any]) -> dict[str, Any]:
    columns = [(f"m{i}", aggregate_sql(s, events.layout)) for i, s in enumerate(specs)]
    return {
        "period": (events.period.start, events.period.end, events.read_count, events.count),
        "total": events.totals(columns, by=("customer",)),
        "day": events.totals(columns, by=("customer", "day")),
        "by r": events.totals(columns, by=("customer", "r")),
        "by r, k": events.totals(columns, by=("customer", "r", "k")),
        "daily": events.daily(columns),
        "customers": events.customers(),
    }


@SLOW
@given(
    fields=st.lists(REF.metric_fields(), min_size=1, max_size=3),
    batches=REF.streams(),
)
def test_streaming_metrics_give_identical_rows_on_every_engine(
    fields: list[dict[str, Any]], batches: list[list[dict[str, Any]]]
) -> None:
    specs = [parse_metric_spec(f) for f in fields]
    names = properties_read(specs)
    numeric = [s.aggregation_key for s in specs if s.aggregation_key]
    events = flatten(batches)
    found: dict[str, dict[str, Any]] = {}
    with parquet(events) as path:
        for engine in ENGINES:
            with open_events(engine, path, [*names, "r", "k"], numeric=numeric) as loaded:
                found[engine] = streaming_usage(loaded, specs)
    for engine in ENGINES[1:]:
        for part in found["duckdb"]:
            assert found[engine][part] == found["duckdb"][part], (engine, part)

    # DuckDB's (so every engine's) totals are the naive reference's.
    kept = REF.stored(sent(events))
    expected: dict[tuple[Any, ...], dict[str, Decimal | None]] = {}
    for customer in sorted({e.customer for e in kept}):
        mine = [e for e in kept if e.customer == customer]
        expected[(customer,)] = {
            f"m{i}": REF.aggregate(
                f["aggregation_type"], [e for e in mine if REF.matches(f, NO_BOUNDS, e)]
            )
            for i, f in enumerate(fields)
        }
    assert found["duckdb"]["total"] == expected


#: SQL metrics' values beyond the reference's: ordered aggregates and time bucketing.
SQL_EXTRA = [
    "LATEST(CAST(properties.n AS DECIMAL))",
    "EARLIEST(CAST(properties.n AS DECIMAL))",
    "COUNT(DISTINCT DATE_TRUNC('hour', timestamp))",
    "SUM(CASE WHEN properties.r IN ('us', 'eu') THEN 1 ELSE 0 END)",
    "ROUND(SUM(CAST(properties.n AS DECIMAL)) / 3, 2)",
]


@SLOW
@given(
    value=st.sampled_from(sorted(REF.SQL_VALUES) + SQL_EXTRA),
    where=st.sampled_from(sorted(REF.SQL_WHERE)),
    grouped=st.booleans(),
    batches=REF.streams(),
)
def test_sql_metrics_give_identical_rows_on_every_engine(
    value: str, where: str, grouped: bool, batches: list[list[dict[str, Any]]]
) -> None:
    group = "properties.k AS k, " if grouped else ""
    query = f"SELECT {group}{value} AS value FROM events{where}{' GROUP BY k' if grouped else ''}"
    events = flatten(batches)
    for i, e in enumerate(events):
        # Numbers as the reference's SQL test spells them (CAST is exact on these).
        n = REF.SQL_NUMBERS[i % len(REF.SQL_NUMBERS)]
        e["properties"] = {k: v for k, v in e["properties"].items() if k != "n"}
        if n is not REF.ABSENT:
            e["properties"]["n"] = n
    spec = parse_metric_spec({"name": "s", "sql": query})
    found: dict[str, dict[str, Any]] = {}
    with parquet(events) as path:
        for engine in ENGINES:
            with open_events(engine, path, properties_read([spec])) as loaded:
                found[engine] = {
                    window: loaded.sql_values(query, window) for window in ("NONE", "DAY", "HOUR")
                }
    for engine in ENGINES[1:]:
        assert found[engine] == found["duckdb"], engine

    if value in REF.SQL_VALUES and not grouped:
        keep = REF.SQL_WHERE[where]
        kept = REF.stored(sent(events))
        expected = {}
        for customer in sorted({e.customer for e in kept}):
            mine = [e for e in kept if e.customer == customer and keep(e)]
            result = REF.sql_aggregate(REF.SQL_VALUES[value], mine)
            expected[customer] = result
        got = {c: v for (c, _), v in found["duckdb"]["NONE"].items()}
        assert got == expected
