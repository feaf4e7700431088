"""The in-process evaluator: the same answers from a list, JSON lines and Parquet, and bad
input reported by event index and field."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pulumi_metronome import evaluate
from pulumi_metronome.models import BillableMetricSpec, SpecError

EVENTS: list[dict[str, Any]] = [
    {
        "transaction_id": f"t{i}",
        "customer_id": "acme" if i % 2 else "globex",
        "event_type": "completion",
        "timestamp": f"2026-03-0{1 + i // 4}T{i:02}:00:00Z",
        "properties": {"tokens": str(10 * i), "model": "large" if i % 3 else "mini"},
    }
    for i in range(8)
]
TOKENS = {
    "name": "Tokens",
    "aggregation_type": "sum",
    "aggregation_key": "tokens",
    "property_filters": [
        {"name": "tokens", "exists": True},
        {"name": "model", "in_values": ["large", "mini"]},
    ],
    "group_keys": [["model"]],
}
RANGE = {"starting_on": "2026-03-01T00:00:00Z", "ending_before": "2026-03-03T00:00:00Z"}
# By hand: acme has i = 1, 3, 5, 7 (tokens 10, 30 on Mar 1; 50, 70 on Mar 2);
# globex has i = 0, 2, 4, 6 (0, 20 on Mar 1; 40, 60 on Mar 2).
EXPECTED = [
    ("acme", "tokens", "2026-03-01", Decimal(40)),
    ("acme", "tokens", "2026-03-02", Decimal(120)),
    ("globex", "tokens", "2026-03-01", Decimal(20)),
    ("globex", "tokens", "2026-03-02", Decimal(100)),
]


def table(rows: list[Any]) -> list[tuple[str, str, str, Decimal | None]]:
    return [(r.customer_id, r.metric_id, r.start.date().isoformat(), r.value) for r in rows]


def test_list_of_dicts(tmp_path: Path) -> None:
    assert table(evaluate({"tokens": TOKENS}, EVENTS, **RANGE)) == EXPECTED


def test_json_lines_file(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    assert table(evaluate({"tokens": TOKENS}, path, **RANGE)) == EXPECTED


def test_parquet_file_with_typed_columns(tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    db = duckdb.connect()
    db.execute(
        "CREATE TABLE e (transaction_id VARCHAR, customer_id VARCHAR, event_type VARCHAR, "
        "timestamp TIMESTAMP, properties JSON)"
    )
    for e in EVENTS:
        db.execute(
            "INSERT INTO e VALUES (?, ?, ?, ?::TIMESTAMPTZ, ?)",
            [
                e["transaction_id"],
                e["customer_id"],
                e["event_type"],
                e["timestamp"],
                json.dumps(e["properties"]),
            ],
        )
    db.execute(f"COPY e TO '{path}' (FORMAT parquet)")
    db.close()
    assert table(evaluate({"tokens": TOKENS}, str(path), **RANGE)) == EXPECTED


def test_metric_forms_customers_aliases_and_group_by() -> None:
    spec = BillableMetricSpec.model_validate(TOKENS)
    rows = evaluate(
        [spec],
        EVENTS,
        **RANGE,
        window_size="none",
        customers={"acme-inc": ["acme"]},
        group_by={"Tokens": "model"},
    )
    # acme: i = 1, 3, 5, 7; model is mini when i % 3 == 0 (i = 3), else large.
    assert [(r.customer_id, r.metric_id, r.value, r.groups) for r in rows] == [
        ("acme-inc", "Tokens", Decimal(160), {"large": Decimal(130), "mini": Decimal(30)})
    ]


def test_bad_events_are_named_by_index_and_field() -> None:
    bad = [*EVENTS[:2], {**EVENTS[2], "timestamp": "yesterday"}, {"transaction_id": "x"}]
    with pytest.raises(SpecError) as caught:
        evaluate({"tokens": TOKENS}, bad, **RANGE)
    fields = [v.field for v in caught.value.violations]
    assert fields == [
        "events[2].timestamp",
        "events[3].customer_id",
        "events[3].event_type",
        "events[3].timestamp",
    ]


def test_bad_lines_of_a_file_are_named_by_line_index(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    lines = [json.dumps(e) for e in EVENTS]
    lines[5] = json.dumps({**EVENTS[5], "event_type": ""})
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SpecError, match=r"^events\[5\]\.event_type: must not be empty$"):
        evaluate({"tokens": TOKENS}, path, **RANGE)


def test_bad_metrics_and_ranges_are_refused() -> None:
    with pytest.raises(SpecError, match=r"metrics\['x'\]\.aggregation_key: is required"):
        evaluate({"x": {"name": "x", "aggregation_type": "SUM"}}, EVENTS, **RANGE)
    with pytest.raises(SpecError, match="starting_on: must be aligned to UTC midnight"):
        evaluate(
            {"tokens": TOKENS},
            EVENTS,
            starting_on="2026-03-01T01:00:00Z",
            ending_before="2026-03-03T00:00:00Z",
        )
    with pytest.raises(SpecError, match="window_size: must be one of HOUR, DAY, NONE"):
        evaluate({"tokens": TOKENS}, EVENTS, **RANGE, window_size="week")
