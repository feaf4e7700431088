"""The bulk loader's SQL rules agree with the Python ones: the event fields (``models.event``,
which the HTTP ingest path validates) and the property-text rule (``metering-semantics.md``).

Expected values come from the Python model (field rules) and from hand-written texts; the
property-based tests throw tricky inputs at both sides.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from pulumi_metronome.metering.load import install, load
from pulumi_metronome.models import SpecError
from pulumi_metronome.models.event import Event

GOOD: dict[str, Any] = {
    "transaction_id": "t1",
    "customer_id": "acme",
    "event_type": "call",
    "timestamp": "2026-01-01T10:00:00Z",
}


def sql_problems(event: Any) -> set[str]:
    """Fields the SQL loader refuses in a one-event list ('' for the event itself)."""
    db = duckdb.connect()
    try:
        load(db, [event])
    except SpecError as error:
        return {v.field.removeprefix("events[0]").removeprefix(".") for v in error.violations}
    finally:
        db.close()
    return set()


def python_problems(event: Any) -> set[str]:
    """Fields the ``Event`` model (the HTTP ingest path) refuses."""
    try:
        Event.model_validate(event)
    except ValidationError as error:
        return {str(e["loc"][0]) if e["loc"] else "" for e in error.errors()}
    return set()


TIMESTAMPS = [
    "2026-01-01T10:00:00Z",
    "2026-01-01T10:00:00.123456Z",
    "2026-01-01T10:00:00.5+01:00",
    "2026-01-01t10:00:00z",
    "2026-01-01 10:00:00Z",
    "2026-01-01T10:00:00+0100",
    "2026-01-01T10:00:00-05:30",
    "2026-01-01T10:00Z",
    "2026-01-01T10:00:00",
    "2026-01-01",
    "2026-02-30T10:00:00Z",
    "2026-13-01T10:00:00Z",
    "2026-01-01T25:00:00Z",
    "yesterday",
    "",
    "2026-01-01T10:00:00+01",
]
STRINGS = ["", "a", "x" * 128, "x" * 129, "é", " ", "t\n1"]
NON_STRINGS: list[Any] = [5, 1.5, True, None, [], {}, ["a"]]


@pytest.mark.parametrize("timestamp", TIMESTAMPS)
def test_timestamps_agree_with_the_model(timestamp: str) -> None:
    event = {**GOOD, "timestamp": timestamp}
    assert sql_problems(event) == python_problems(event)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    field=st.sampled_from(["transaction_id", "customer_id", "event_type", "timestamp"]),
    value=st.sampled_from([*STRINGS, *NON_STRINGS, "missing"]),
    properties=st.sampled_from([{}, {"a": 1}, None, [1], "x", 5, "missing"]),
    extra=st.booleans(),
)
def test_field_rules_agree_with_the_model(
    field: str, value: Any, properties: Any, extra: bool
) -> None:
    event = dict(GOOD)
    if value == "missing":
        del event[field]
    else:
        event[field] = value
    if properties != "missing":
        event["properties"] = properties
    if extra:
        event["colour"] = "red"
    assert sql_problems(event) == python_problems(event)


def test_not_an_object_is_named_by_index() -> None:
    with pytest.raises(SpecError, match=r"^events\[1\]: must be an object"):
        load(duckdb.connect(), [GOOD, 5])


def test_first_event_with_a_transaction_id_wins_and_order_is_kept() -> None:
    db = duckdb.connect()
    events = [
        {**GOOD, "transaction_id": "a", "properties": {"n": 1}},
        {**GOOD, "transaction_id": "b"},
        {**GOOD, "transaction_id": "a", "properties": {"n": 2}},
    ]
    loaded = load(db, events)
    assert (loaded.read, loaded.kept, loaded.duplicates) == (3, 2, 1)
    rows = db.execute("SELECT seq, transaction_id, props FROM loaded ORDER BY seq").fetchall()
    assert rows == [(1, "a", '{"n":"1"}'), (2, "b", "{}")]


# -- the property-text rule ---------------------------------------------------------------

#: (JSON text of a value, its text by the semantics file), written by hand.
TEXTS = [
    ('"5"', "5"),
    ("5", "5"),
    ("5.0", "5"),
    ("2.50", "2.5"),
    ("-0", "0"),
    ("-0.0", "0"),
    ("0.000", "0"),
    ("1e3", "1000"),
    ("1E+3", "1000"),
    ("-1.25e2", "-125"),
    ("1.5e-7", "0.00000015"),
    ("12345678901234567890", "12345678901234567890"),
    ("100", "100"),
    ("0.1", "0.1"),
    ("true", "true"),
    ("false", "false"),
    ('"a\\"b\\\\c"', 'a"b\\c'),
    ('"2.50"', "2.50"),
    ('{"b": 1, "a": [1, 2.0]}', '{"b":1,"a":[1,2.0]}'),
]


def texts_of(values: list[str]) -> list[str | None]:
    """Each JSON value as a property of one event, through the loader."""
    db = duckdb.connect()
    body = ", ".join(f'"p{i}": {v}' for i, v in enumerate(values))
    events = [{**GOOD, "properties": json.loads("{" + body + "}")}]
    load(db, events, properties=[f"p{i}" for i in range(len(values))])
    row = db.execute("SELECT props FROM loaded").fetchone()
    assert row is not None
    props = json.loads(row[0])
    return [props.get(f"p{i}") for i in range(len(values))]


def test_property_texts_computed_by_hand() -> None:
    assert texts_of([j for j, _ in TEXTS]) == [t for _, t in TEXTS]
    assert texts_of(["null"]) == [None]


_TEXTS_DB = duckdb.connect()
install(_TEXTS_DB)


def text_of_json(value_json: str) -> str | None:
    row = _TEXTS_DB.execute(
        "SELECT metronome_text(json_extract(?::JSON, '$')::VARCHAR)", [value_json]
    ).fetchone()
    assert row is not None
    return row[0]


def naive_number_text(value: int | float) -> str:
    """Shortest decimal form, by ``decimal`` (a naive reference, not the code under test)."""
    if isinstance(value, int):
        return str(value)
    number = Decimal(repr(value))
    if number == 0:
        return "0"
    return format(number.normalize(), "f")


@settings(max_examples=300, deadline=None)
@given(
    value=st.one_of(
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=False, allow_infinity=False),
        st.decimals(allow_nan=False, allow_infinity=False, places=6).map(float),
    )
)
def test_number_texts_match_a_naive_reference(value: int | float) -> None:
    assert text_of_json(json.dumps(value)) == naive_number_text(value)


@settings(max_examples=100, deadline=None)
@given(text=st.text().filter(lambda t: "\x00" not in t))
def test_string_texts_are_the_string(text: str) -> None:
    assert text_of_json(json.dumps(text)) == text


def test_parquet_and_json_lines_read_like_a_list(tmp_path: Path) -> None:
    events = [
        {**GOOD, "transaction_id": f"t{i}", "properties": {"n": i / 2, "r": "eu"}} for i in range(5)
    ]
    jsonl = tmp_path / "e.jsonl"
    jsonl.write_text("".join(json.dumps(e) + "\n" for e in events))
    parquet = tmp_path / "e.parquet"
    db = duckdb.connect()
    db.execute(
        f"COPY (SELECT transaction_id, customer_id, event_type, timestamp, properties::JSON "
        f"AS properties FROM read_ndjson('{jsonl}', columns = {{transaction_id: 'VARCHAR', "
        "customer_id: 'VARCHAR', event_type: 'VARCHAR', timestamp: 'VARCHAR', "
        f"properties: 'JSON'}})) TO '{parquet}' (FORMAT parquet)"
    )
    seen = []
    for source in (events, jsonl, parquet):
        db = duckdb.connect()
        load(db, source, properties=["n", "r"])
        seen.append(db.execute("SELECT seq, transaction_id, ts, props FROM loaded").fetchall())
    assert seen[0] == seen[1] == seen[2]
    assert [json.loads(p) for *_, p in seen[0]] == [
        {"n": t, "r": "eu"} for t in ("0", "0.5", "1", "1.5", "2")
    ]


def test_engine_bulk_load_then_ingest_dedupes_against_the_loaded_ids() -> None:
    from datetime import UTC, datetime

    from pulumi_metronome.metering import MeteringEngine

    engine = MeteringEngine(None)
    try:
        now = datetime.now(UTC)
        first = engine.load(
            [{**GOOD, "transaction_id": "a"}, {**GOOD, "transaction_id": "a"}], ingested_at=now
        )
        assert (first.stored, first.duplicates) == (1, 1)
        again = engine.load(
            [{**GOOD, "transaction_id": "a"}, {**GOOD, "transaction_id": "b"}], ingested_at=now
        )
        assert (again.stored, again.duplicates) == (1, 1)
        batch = [Event.model_validate({**GOOD, "transaction_id": t}) for t in ("a", "b", "c")]
        result = engine.ingest(batch, ingested_at=now)
        assert (result.stored, result.duplicates) == (1, 2)
        assert engine.count() == 3
        assert engine.customer_ids() == ["acme"]
    finally:
        engine.close()
