"""Each construct of the usage queries whose transpilation is silently wrong somewhere, run on
every engine against values computed by hand: time bucketing (ClickHouse's ``date_trunc``
returns a Date, its timestamps are seconds), week starts (Monday, as DuckDB), ``FILTER``
clauses (ClickHouse spells them ``-If``), ``regexp_full_match`` (Spark's ``RLIKE`` and
ClickHouse's ``match`` find a pattern anywhere), ordered aggregates (Spark's ``MAX_BY`` keeps
a NULL value), ``TRY_CAST`` (ClickHouse's ``CAST AS Nullable`` fails on a bad value) and
the property-text rule of each engine's loader."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import ENGINES, write_parquet

from pulumi_metronome.impact.engines import open_events
from pulumi_metronome.impact.usage import Events
from pulumi_metronome.metering.queries import DUCKDB

SUNDAY_LAST = "2026-01-04T23:59:59Z"  # a Sunday, one second before midnight
MONDAY_FIRST = "2026-01-05T00:00:00Z"  # the Monday after, at midnight

EVENTS = [
    # seq 1..5, in file order; t0 = property "n" (its text), n0 = its exact decimal.
    {
        "transaction_id": "1",
        "customer_id": "c",
        "event_type": "a",
        "timestamp": SUNDAY_LAST,
        "properties": {"n": "2.50", "s": "x5"},
    },
    {
        "transaction_id": "2",
        "customer_id": "c",
        "event_type": "b",
        "timestamp": MONDAY_FIRST,
        "properties": {"n": 7, "s": "55"},
    },
    {
        "transaction_id": "3",
        "customer_id": "c",
        "event_type": "a",
        "timestamp": MONDAY_FIRST,
        "properties": {"n": 1.50, "s": 5.0},
    },  # ties with 2 on time: ingested later
    {
        "transaction_id": "4",
        "customer_id": "c",
        "event_type": "a",
        "timestamp": "2026-01-05T01:30:00Z",
        "properties": {"n": "oops", "s": True},
    },
    {
        "transaction_id": "1",
        "customer_id": "c",
        "event_type": "a",  # a duplicate: dropped
        "timestamp": "2026-01-05T02:00:00Z",
        "properties": {"n": 1000},
    },
]


@pytest.fixture(scope="module", params=ENGINES)
def events(request: pytest.FixtureRequest) -> Iterator[Events]:
    with tempfile.TemporaryDirectory() as folder:
        path = write_parquet(Path(folder) / "events.parquet", EVENTS)
        with open_events(request.param, path, ["n", "s"], numeric=["n"]) as loaded:
            yield loaded


def rows(events: Events, sql: str) -> list[tuple[Any, ...]]:
    """Rows of DuckDB-dialect ``sql`` over table ``ev``, timestamps as UTC datetimes."""
    out = []
    for row in events.db.execute(sql).fetchall():
        out.append(
            tuple(
                (v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC))
                if isinstance(v, datetime)
                else v
                for v in row
            )
        )
    return out


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.slow
def test_property_texts_and_dedupe(events: Events) -> None:
    assert rows(events, "SELECT seq, t0, t1, n0 FROM ev ORDER BY seq") == [
        (1, "2.50", "x5", Decimal("2.5")),  # a string stays as sent
        (2, "7", "55", Decimal(7)),
        (3, "1.5", "5", Decimal("1.5")),  # numbers in their shortest form
        (4, "oops", "true", None),
    ]


@pytest.mark.slow
def test_day_and_hour_buckets_are_timestamps_at_their_start(events: Events) -> None:
    day = "SELECT date_trunc('day', ts) AS d, count(*) FROM ev GROUP BY 1 ORDER BY 1"
    assert rows(events, day) == [(utc("2026-01-04T00:00:00Z"), 1), (utc(MONDAY_FIRST), 3)]
    hour = "SELECT date_trunc('hour', ts) AS h, count(*) FROM ev GROUP BY 1 ORDER BY 1"
    assert rows(events, hour) == [
        (utc("2026-01-04T23:00:00Z"), 1),
        (utc(MONDAY_FIRST), 2),
        (utc("2026-01-05T01:00:00Z"), 1),
    ]


@pytest.mark.slow
def test_weeks_start_on_monday(events: Events) -> None:
    week = "SELECT date_trunc('week', ts) AS w, count(*) FROM ev GROUP BY 1 ORDER BY 1"
    assert rows(events, week) == [(utc("2025-12-29T00:00:00Z"), 1), (utc(MONDAY_FIRST), 3)]


@pytest.mark.slow
def test_filter_clauses_count_only_their_rows(events: Events) -> None:
    sql = (
        "SELECT count(*) FILTER (WHERE event_type = 'a'), "
        "sum(n0) FILTER (WHERE event_type = 'a'), "
        "max(n0) FILTER (WHERE event_type = 'b'), "
        "count(DISTINCT t1) FILTER (WHERE event_type = 'a'), "
        "count(*) FILTER (WHERE event_type = 'zz') FROM ev"
    )
    assert rows(events, sql) == [(3, Decimal("4"), Decimal(7), 3, 0)]


@pytest.mark.slow
def test_regexp_full_match_is_anchored(events: Events) -> None:
    sql = "SELECT count(*) FILTER (WHERE regexp_full_match(t1, '[0-9]+')) FROM ev"
    assert rows(events, sql) == [(2,)]  # "55" and "5", not "x5" nor "true"


@pytest.mark.slow
def test_latest_skips_events_without_a_number_and_ties_go_to_the_last_ingested(
    events: Events,
) -> None:
    latest = DUCKDB.latest("n0")
    # Event 4 is the latest but has no number; 2 and 3 tie on time: 3 was ingested last.
    assert rows(events, f"SELECT {latest} FROM ev") == [(Decimal("1.5"),)]
    # As a SQL metric's LATEST / EARLIEST reads (``metering.sql``): no FILTER, DuckDB's
    # arg_max / arg_min skip a NULL value by themselves.
    ordered = "SELECT arg_max(n0, {'t': ts, 's': seq}), arg_min(n0, {'t': ts, 's': seq}) FROM ev"
    assert rows(events, ordered) == [(Decimal("1.5"), Decimal("2.5"))]


@pytest.mark.slow
def test_try_cast_gives_null_for_a_bad_value(events: Events) -> None:
    sql = "SELECT seq, TRY_CAST(t0 AS DECIMAL(38, 12)) FROM ev ORDER BY seq"
    assert rows(events, sql) == [
        (1, Decimal("2.5")),
        (2, Decimal(7)),
        (3, Decimal("1.5")),
        (4, None),
    ]
