"""Bad events are refused the same way on every engine: the message names the events file,
the event's row, the field and the rule, word for word what the DuckDB loader says, and
nothing is evaluated.

The expected messages are written out by hand from the field rules of an event
(``models.event.Event``), not read from the loader."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from engine_helpers import ENGINES

from pulumi_metronome.impact.engines import open_events
from pulumi_metronome.impact.usage import EventsError

GOOD = {
    "transaction_id": "t-good",
    "customer_id": "acme",
    "event_type": "call",
    "timestamp": "2026-10-01T10:00:00Z",
    "properties": '{"tokens": 5}',
}


def row(**fields: Any) -> dict[str, Any]:
    return {**GOOD, **fields}


#: One broken rule per row (row 0 and the rows marked fine break none).
ROWS = [
    row(),
    row(transaction_id="t1", customer_id=""),
    row(transaction_id="é" * 128),  # fine: 128 characters (256 bytes in UTF-8)
    row(transaction_id="x" * 129),
    row(transaction_id="t4", timestamp="2026-10-01T10:00:00"),
    row(transaction_id="t5", timestamp="2026-02-30T10:00:00Z"),
    row(transaction_id="t6", timestamp="yesterday"),
    row(transaction_id="t7", properties="[1, 2]"),
    row(transaction_id="t8", properties="{not json"),
    row(transaction_id="t9", event_type=None),
    row(transaction_id="t10", properties="null"),  # fine: JSON null is no properties
    row(transaction_id="", properties="7"),  # two rules broken by one event
]

EXPECTED = (
    "events[1].customer_id: must not be empty; "
    "events[3].transaction_id: is longer than 128 characters; "
    "events[4].timestamp: must carry a UTC offset (Z or +hh:mm), e.g. 2026-01-31T12:00:00Z; "
    "events[5].timestamp: must be an RFC 3339 timestamp, e.g. 2026-01-31T12:00:00Z; "
    "events[6].timestamp: must be an RFC 3339 timestamp, e.g. 2026-01-31T12:00:00Z; "
    "events[7].properties: must be an object; "
    "events[8].properties: must be an object; "
    "events[9].event_type: must be a string; "
    "events[11].transaction_id: must not be empty; "
    "events[11].properties: must be an object"
)


def write(path: Path, rows: list[dict[str, Any]], types: dict[str, pa.DataType]) -> Path:
    columns = {name: [r[name] for r in rows] for name in types}
    pq.write_table(pa.table(columns, schema=pa.schema(list(types.items()))), path)
    return path


STRINGS = {name: pa.string() for name in GOOD}


def refusal(engine: str, path: Path) -> str:
    with pytest.raises(EventsError) as raised:
        open_events(engine, path, ["tokens"], numeric=["tokens"]).close()
    return str(raised.value)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_each_broken_rule_is_named_by_row_and_field(tmp_path: Path, engine: str) -> None:
    path = write(tmp_path / "events.parquet", ROWS, STRINGS)
    assert refusal(engine, path) == f"events file {path}: {EXPECTED}"


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_columns_of_the_wrong_type_or_unknown_are_named(tmp_path: Path, engine: str) -> None:
    rows = [
        row(transaction_id="t0", customer_id=1, extra="x"),
        row(transaction_id="t1", customer_id=None, extra="y"),
    ]
    types = {**STRINGS, "customer_id": pa.int64(), "extra": pa.string()}
    path = write(tmp_path / "events.parquet", rows, types)
    assert refusal(engine, path) == (
        f"events file {path}: events[0].customer_id: must be a string; "
        "events[0].extra: is not a known field; "
        "events[1].customer_id: must be a string; "
        "events[1].extra: is not a known field"
    )


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_good_events_are_kept(tmp_path: Path, engine: str) -> None:
    rows = [r for i, r in enumerate(ROWS) if i in (0, 2, 10)]
    path = write(tmp_path / "events.parquet", rows, STRINGS)
    events = open_events(engine, path, ["tokens"], numeric=["tokens"])
    try:
        assert (events.read_count, events.count) == (3, 3)
    finally:
        events.close()


#: Timestamp texts every engine reads, and the moment (UTC) each is.
READ = {
    "2026-10-01 10:00Z": datetime(2026, 10, 1, 10, 0),
    "2026-10-01T10:00Z": datetime(2026, 10, 1, 10, 0),
    "2026-10-01T10:00:00+0530": datetime(2026, 10, 1, 4, 30),
    "2026-10-01T10:00:00+05": datetime(2026, 10, 1, 5, 0),
    "2026-10-01T10:00:00.123456789Z": datetime(2026, 10, 1, 10, 0, 0, 123456),
    "2026-10-01T23:59:59-01:00": datetime(2026, 10, 2, 0, 59, 59),
}
#: Timestamp texts every engine refuses.
REFUSED = [
    "2026-10-01t10:00:00z",
    "2026-10-01T10:00:00,5Z",
    "2026-10-01T10:60:00Z",
    "2026-10-01T10:00:60Z",
]


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_timestamp_texts_are_read_alike(tmp_path: Path, engine: str) -> None:
    rows = [row(transaction_id=f"t{i}", timestamp=t) for i, t in enumerate(READ)]
    path = write(tmp_path / "read.parquet", rows, STRINGS)
    events = open_events(engine, path, [])
    try:
        found = events.db.execute("SELECT seq, ts FROM ev ORDER BY seq").fetchall()
    finally:
        events.close()
    moments = [ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts for _, ts in found]
    assert moments == list(READ.values())

    rows = [row(transaction_id=f"t{i}", timestamp=t) for i, t in enumerate(REFUSED)]
    path = write(tmp_path / "refused.parquet", rows, STRINGS)
    rule = "must be an RFC 3339 timestamp, e.g. 2026-01-31T12:00:00Z"
    assert refusal(engine, path) == f"events file {path}: " + "; ".join(
        f"events[{i}].timestamp: {rule}" for i in range(len(REFUSED))
    )


#: The engines that read a folder of Parquet files (DuckDB's loader reads one file).
FOLDER_ENGINES = [e for e in ENGINES if e != "duckdb"]


@pytest.mark.slow
@pytest.mark.parametrize("engine", FOLDER_ENGINES)
def test_a_refusal_in_a_folder_names_the_file_and_its_row(tmp_path: Path, engine: str) -> None:
    folder = tmp_path / "events"
    folder.mkdir()
    write(folder / "part-0.parquet", [row(transaction_id=f"a{i}") for i in range(3)], STRINGS)
    second = [
        row(transaction_id="b0"),
        row(transaction_id="b1", customer_id=""),
        row(transaction_id="b2", timestamp="yesterday"),
    ]
    write(folder / "part-1.parquet", second, STRINGS)
    assert refusal(engine, folder) == (
        f"events file {folder}/part-1.parquet: events[1].customer_id: must not be empty; "
        f"events file {folder}/part-1.parquet: events[2].timestamp: "
        "must be an RFC 3339 timestamp, e.g. 2026-01-31T12:00:00Z"
    )
