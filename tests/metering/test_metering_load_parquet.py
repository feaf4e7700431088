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


def beta_and_acme(path: Path) -> Path:
    return parquet(
        path,
        [
            ("a", "acme", "call", T, '{"n": 2.50, "r": "eu"}'),
            ("b", "acme", "call", T, '{"n": 4, "r": "us"}'),
            ("c", "beta", "call", T, '{"n": "1.25", "r": "eu"}'),
            ("a", "beta", "call", T, '{"n": 100, "r": "eu"}'),  # a duplicate: ignored
            ("d", "beta", "view", T, '{"n": 7}'),
        ],
    )


@pytest.mark.parametrize("on_disk", [False, True])
def test_impact_events_in_memory_or_compressed_on_disk_give_the_same_usage(
    tmp_path: Path, on_disk: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The impact loads a file in memory when it fits in twice the memory limit, else into a
    compressed temporary database file (here: told the events are too many)."""
    from pulumi_metronome.impact.usage import Events, aggregate_sql
    from pulumi_metronome.models import BillableMetricSpec

    if on_disk:
        monkeypatch.setattr(Events, "_estimated_bytes", lambda self: float("inf"))
    spec = BillableMetricSpec.model_validate(
        {
            "name": "eu",
            "aggregation_type": "SUM",
            "aggregation_key": "n",
            "event_type_filter": {"in_values": ["call"]},
            "property_filters": [{"name": "r", "in_values": ["eu"]}],
        }
    )
    path = beta_and_acme(tmp_path / "e.parquet")
    with Events(path, ["n", "r"], numeric=["n"]) as events:
        assert (events.read_count, events.count) == (5, 4)
        found = events.totals([("eu", aggregate_sql(spec, events.layout))])
        database = events.db.execute("SELECT current_database()").fetchone()
    assert {k: v["eu"] for k, v in found.items()} == {
        ("acme",): Decimal("2.5"),
        ("beta",): Decimal("1.25"),
    }
    assert database == (("disk",) if on_disk else ("memory",))


def test_impact_estimates_the_loaded_size_and_reads_the_memory_limit(tmp_path: Path) -> None:
    from pulumi_metronome.impact.usage import Events

    path = beta_and_acme(tmp_path / "e.parquet")
    with Events(path, ["n", "r"], numeric=["n"], memory_limit="2GiB") as events:
        # 5 events (the file's metadata) x (48 + 16 x (2 texts + 1 decimal)) bytes.
        assert events._estimated_bytes() == 5 * 96
        assert events._limit_bytes() == 2 * 2**30


def test_customer_ids_and_event_types_are_kept_as_enums_that_order_as_text(
    tmp_path: Path,
) -> None:
    """The columns layout keeps a Parquet file's customer ids and event types as ENUM types
    (2 bytes an event); they order as their texts do (byte order, by hand: upper case, then
    lower case, then non-ASCII) and compare with any text, known or not."""
    path = parquet(
        tmp_path / "e.parquet",
        [
            ("a", "zeta", "call", T, "{}"),
            ("b", "acme", "call", T, "{}"),
            ("c", "\u00e9t\u00e9", "view", T, "{}"),
            ("d", "Beta", "call", T, "{}"),
            ("e", "acme", "view", T, "{}"),
        ],
    )
    db, _ = columns(path)
    types = {str(r[0]): str(r[1]) for r in db.execute("DESCRIBE ev").fetchall()}
    assert types["customer_id"].startswith("ENUM(")
    assert types["event_type"].startswith("ENUM(")
    ordered = db.execute("SELECT DISTINCT customer_id FROM ev ORDER BY customer_id").fetchall()
    assert [r[0] for r in ordered] == ["Beta", "acme", "zeta", "\u00e9t\u00e9"]
    row = db.execute(
        "SELECT count(*) FILTER (WHERE event_type IN ('call', 'nope')), "
        "count(*) FILTER (WHERE event_type NOT IN ('nope')), "
        "count(*) FILTER (WHERE customer_id = 'acme') FROM ev"
    ).fetchone()
    assert row == (3, 5, 2)
    # Loading again into the same table replaces it and its types.
    load(db, path, table="ev", properties=["n"], texts="columns")
    assert db.execute("SELECT count(DISTINCT customer_id) FROM ev").fetchone() == (4,)


def test_a_property_read_only_as_a_number_keeps_no_text(tmp_path: Path) -> None:
    """``numbers_only``: the property keeps its exact decimal only; a metric that would read
    its text fails to bind (never a silent NULL)."""
    from pulumi_metronome.impact.usage import Events, aggregate_sql
    from pulumi_metronome.models import BillableMetricSpec

    def spec(kind: str) -> BillableMetricSpec:
        return BillableMetricSpec.model_validate(
            {
                "name": "eu",
                "aggregation_type": kind,
                "aggregation_key": "n",
                "event_type_filter": {"in_values": ["call"]},
                "property_filters": [{"name": "r", "in_values": ["eu"]}],
            }
        )

    path = beta_and_acme(tmp_path / "e.parquet")
    with Events(path, ["n", "r"], numeric=["n"], numbers_only=["n"]) as events:
        names = [str(r[0]) for r in events.db.execute("DESCRIBE ev").fetchall()]
        found = events.totals([("eu", aggregate_sql(spec("SUM"), events.layout))])
        with pytest.raises(duckdb.BinderException):
            events.totals([("u", aggregate_sql(spec("UNIQUE"), events.layout))])
    assert [n for n in names if n[1:].isdigit()] == ["t1", "n0"]
    assert {k: v["eu"] for k, v in found.items()} == {
        ("acme",): Decimal("2.5"),
        ("beta",): Decimal("1.25"),
    }


@pytest.mark.parametrize(
    ("value", "number"),
    [
        ("2.50", Decimal("2.5")),
        ("-0.0", Decimal("0")),
        ("2.5e2", Decimal("250")),
        ("25E-1", Decimal("2.5")),
        ('"1.10"', Decimal("1.1")),  # a string: its text is a number
        ('" 5"', None),  # a string whose text is not a number
        ('"5 apples"', None),
        ("true", None),
        ("null", None),
        ('{"a": 1}', None),
        ("[1]", None),
        ("123456789012345678901234567", None),  # beyond the exact decimal's 26 digits
    ],
)
def test_a_property_read_only_as_a_number(
    tmp_path: Path, value: str, number: Decimal | None
) -> None:
    """A property read only as a number keeps no text column; its decimal is the number
    rule over its text, whatever the JSON value."""
    path = parquet(tmp_path / "e.parquet", [("a", "acme", "call", T, '{"n": ' + value + "}")])
    db = duckdb.connect()
    load(db, path, table="ev", properties=["n"], numbers=["n"], numbers_only=["n"], texts="columns")
    names = [r[0] for r in db.execute("DESCRIBE ev").fetchall()]
    assert "t0" not in names
    assert db.execute("SELECT n0 FROM ev").fetchall() == [(number,)]
