"""Events as Parquet (the form every engine reads) and the impact run on a chosen engine."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pulumi_metronome.impact.analysis import Impact, analyse
from pulumi_metronome.impact.inputs import load_plan, load_state
from pulumi_metronome.impact.report import as_json, markdown

#: Every engine; DuckDB is the default and the others must agree with it.
ENGINES = ("duckdb", "spark", "clickhouse")


def write_parquet(path: Path, events: list[dict[str, Any]]) -> Path:
    """Ingest events as a Parquet file: the fields as strings, ``properties`` as JSON text
    (as a warehouse export keeps them), in list order."""
    table = pa.table(
        {
            "transaction_id": [e["transaction_id"] for e in events],
            "customer_id": [e["customer_id"] for e in events],
            "event_type": [e["event_type"] for e in events],
            "timestamp": [e["timestamp"] for e in events],
            "properties": [json.dumps(e.get("properties") or {}) for e in events],
        },
        schema=pa.schema(
            [
                ("transaction_id", pa.string()),
                ("customer_id", pa.string()),
                ("event_type", pa.string()),
                ("timestamp", pa.string()),
                ("properties", pa.string()),
            ]
        ),
    )
    pq.write_table(table, path)
    return path


Runner = Callable[..., tuple[Impact, str, dict[str, Any]]]


def runner(engine: str) -> Runner:
    """``synthetic.run`` with the events as Parquet, evaluated on ``engine``."""

    def run(
        tmp_path: Path,
        state: dict[str, Any],
        preview: dict[str, Any],
        events: list[dict[str, Any]],
        mapping: dict[str, str] | None = None,
    ) -> tuple[Impact, str, dict[str, Any]]:
        now = load_state(state)
        proposed = load_plan(preview, now)
        path = write_parquet(tmp_path / "events.parquet", events)
        impact = analyse(now, proposed, path, mapping=mapping, engine=engine)
        return impact, markdown(impact), as_json(impact)

    return run
