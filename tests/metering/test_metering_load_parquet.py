"""The loader's Parquet paths as the pricing impact uses them (``texts="columns"``): a text
properties column is checked while it is parsed, duplicates are dropped before the
transaction ids are let go, and number texts take their fast path.

Expected values are written by hand from the semantics file's text rule and the event
rules (``models.event``).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pulumi_metronome.metering.load import load
from pulumi_metronome.models import SpecError


def parquet(
    path: Path, rows: list[tuple[str | None, str | None, str | None, str | None, str | None]]
) -> Path:
    """A Parquet file of events with a text ``properties`` column, rows in this order."""
    db = duckdb.connect()
    db.execute(
        "CREATE TABLE e (transaction_id VARCHAR, customer_id VARCHAR, event_type VARCHAR, "
        "timestamp VARCHAR, properties VARCHAR)"
    )
    db.executemany("INSERT INTO e VALUES (?, ?, ?, ?, ?)", rows)
    db.execute(f"COPY (SELECT * FROM e) TO '{path}' (FORMAT parquet)")
    db.close()
    return path


T = "2026-10-01T10:00:00Z"


def columns(path: Path) -> tuple[duckdb.DuckDBPyConnection, list[tuple[object, ...]]]:
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    load(db, path, table="ev", properties=["n", "r"], numbers=["n"], texts="columns")
    return db, db.execute("SELECT seq, customer_id, t0, t1, n0 FROM ev ORDER BY seq").fetchall()


def test_objects_written_any_way_are_kept_with_their_texts(tmp_path: Path) -> None:
    path = parquet(
        tmp_path / "e.parquet",
        [
            ("a", "acme", "call", T, '{"n": 2.50, "r": "eu"}'),
            # Not "{" first: the slower way, same result.
            ("b", "acme", "call", T, ' \n{"n": 10.0}'),
            ("c", "beta", "call", T, None),
            ("d", "beta", "call", T, "null"),
            ("e", "beta", "call", T, '{"n": "1.10", "r": 7}'),
        ],
    )
    db, rows = columns(path)
    assert rows == [
        (1, "acme", "2.5", "eu", Decimal("2.5")),
        (2, "acme", "10", None, Decimal("10")),
        (3, "beta", None, None, None),
        (4, "beta", None, None, None),
        (5, "beta", "1.10", "7", Decimal("1.1")),
    ]
    names = [r[0] for r in db.execute("DESCRIBE ev").fetchall()]
    assert "transaction_id" not in names


@pytest.mark.parametrize(
    ("value", "text", "number"),
    [
        ("2.50", "2.5", Decimal("2.5")),
        ("1.05", "1.05", Decimal("1.05")),
        ("10.0", "10", Decimal("10")),
        ("100", "100", Decimal("100")),
        ("-0.0", "0", Decimal("0")),
        ("-0", "0", Decimal("0")),
        ("0.000", "0", Decimal("0")),
        ("-12.5", "-12.5", Decimal("-12.5")),
        ("2.5e2", "250", Decimal("250")),
    ],
)
def test_number_texts(tmp_path: Path, value: str, text: str, number: Decimal) -> None:
    path = parquet(tmp_path / "e.parquet", [("a", "acme", "call", T, '{"n": ' + value + "}")])
    _, rows = columns(path)
    assert rows == [(1, "acme", text, None, number)]


def test_properties_not_an_object_are_named(tmp_path: Path) -> None:
    path = parquet(
        tmp_path / "e.parquet",
        [
            ("a", "acme", "call", T, '{"n": 1}'),
            ("b", "acme", "call", T, "[1, 2]"),
            ("c", "acme", "call", T, '{"n": '),
            ("d", "acme", "call", T, '"text"'),
        ],
    )
    with pytest.raises(SpecError) as caught:
        columns(path)
    assert [(v.field, v.message) for v in caught.value.violations] == [
        ("events[1].properties", "must be an object"),
        ("events[2].properties", "must be an object"),
        ("events[3].properties", "must be an object"),
    ]


def test_every_problem_is_named_when_properties_and_fields_break(tmp_path: Path) -> None:
    path = parquet(
        tmp_path / "e.parquet",
        [
            ("a", "", "call", T, '{"n": 1}'),
            ("b", "acme", "call", T, "[1]"),
        ],
    )
    with pytest.raises(SpecError) as caught:
        columns(path)
    assert [(v.field, v.message) for v in caught.value.violations] == [
        ("events[0].customer_id", "must not be empty"),
        ("events[1].properties", "must be an object"),
    ]


def test_first_event_of_a_transaction_id_wins_then_ids_are_dropped(tmp_path: Path) -> None:
    path = parquet(
        tmp_path / "e.parquet",
        [
            ("a", "acme", "call", T, '{"n": 1}'),
            ("b", "acme", "call", T, '{"n": 2}'),
            ("a", "beta", "call", T, '{"n": 3}'),
            ("c", "beta", "call", T, '{"n": 4}'),
            ("b", "beta", "call", T, '{"n": 5}'),
        ],
    )
    db = duckdb.connect()
    loaded = load(db, path, table="ev", properties=["n"], numbers=["n"], texts="columns")
    assert (loaded.read, loaded.kept, loaded.duplicates) == (5, 3, 2)
    rows = db.execute("SELECT seq, customer_id, t0, n0 FROM ev ORDER BY seq").fetchall()
    assert rows == [
        (1, "acme", "1", Decimal("1")),
        (2, "acme", "2", Decimal("2")),
        (4, "beta", "4", Decimal("4")),
    ]
    names = [r[0] for r in db.execute("DESCRIBE ev").fetchall()]
    assert "transaction_id" not in names


def test_properties_of_valid_json_that_is_no_object_are_named(tmp_path: Path) -> None:
    path = parquet(
        tmp_path / "e.parquet",
        [("a", "acme", "call", T, '{"n": 1}'), ("b", "acme", "call", T, "[1]")],
    )
    with pytest.raises(SpecError) as caught:
        columns(path)
    assert [(v.field, v.message) for v in caught.value.violations] == [
        ("events[1].properties", "must be an object")
    ]
