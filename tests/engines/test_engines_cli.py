"""``pulumi-metronome impact --engine``: the same report from every engine over the same
Parquet events (a JSON text or a nested properties column), and a clear one-line error for
what an engine cannot read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from engine_helpers import ENGINES

from pulumi_metronome.impact.cli import main
from pulumi_metronome.impact.synthetic import (
    event,
    export,
    metric,
    plan,
    product,
    rate_card,
    step,
    write_events,
)

TOKENS = {
    "aggregation_type": "SUM",
    "aggregation_key": "tokens",
    "property_filters": [{"name": "tokens", "exists": True}, {"name": "model", "in_values": ["a"]}],
}
EVENTS = [
    event("t1", "acme", "2026-10-01T10:00:00Z", tokens=10, model="a"),
    event("t2", "acme", "2026-10-01T11:00:00Z", tokens=2.5, model="a"),
    event("t3", "beta", "2026-10-02T10:00:00Z", tokens=7, model="b"),
    event("t1", "beta", "2026-10-02T11:00:00Z", tokens=1000, model="a"),  # a duplicate id
]


def arguments(tmp_path: Path) -> list[str]:
    m = metric("tokens", "m-1", **TOKENS)
    prod = product("tokens", "p-1", type="USAGE", billable_metric_id="m-1")
    rate = {
        "product_id": "p-1",
        "entitled": True,
        "rate_type": "FLAT",
        "starting_at": "2026-10-01T00:00:00Z",
        "price": 4,
    }
    card = rate_card("standard", "rc-1", rates=[rate])
    (tmp_path / "state.json").write_text(json.dumps(export(m, prod, card)))
    (tmp_path / "plan.json").write_text(json.dumps(plan(step("same", m, m))))
    return [
        "impact",
        "--state",
        str(tmp_path / "state.json"),
        "--plan",
        str(tmp_path / "plan.json"),
    ]


def parquet(tmp_path: Path, shape: str) -> Path:
    jsonl = write_events(tmp_path / "events.jsonl", EVENTS)
    path = tmp_path / f"events-{shape}.parquet"
    props = (
        "properties"
        if shape == "json-text"
        else 'json_transform(properties, \'{"tokens": "DOUBLE", "model": "VARCHAR"}\')'
    )
    duckdb.connect().execute(
        f"COPY (SELECT transaction_id, customer_id, event_type, "
        f"CAST(timestamp AS TIMESTAMPTZ) AS timestamp, {props} AS properties "
        f"FROM read_json('{jsonl}', columns = {{transaction_id: 'VARCHAR', customer_id: "
        f"'VARCHAR', event_type: 'VARCHAR', timestamp: 'VARCHAR', properties: 'JSON'}})) "
        f"TO '{path}' (FORMAT parquet)"
    )
    return path


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["json-text", "struct"])
def test_every_engine_gives_the_same_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], shape: str
) -> None:
    args = [*arguments(tmp_path), "--events", str(parquet(tmp_path, shape))]
    reports: dict[str, dict[str, Any]] = {}
    for engine in ENGINES:
        assert main([*args, "--engine", engine, "--format", "json", "--quiet"]) == 0
        reports[engine] = json.loads(capsys.readouterr().out)
    # By hand: model "a" only, the duplicate t1 dropped: 10 + 2.5 = 12.5 tokens (acme);
    # 4 cents each = 50.
    assert reports["duckdb"]["metrics"][0]["usage"] == {"now": "12.5", "proposed": "12.5"}
    assert reports["duckdb"]["charges"]["by_customer"][0] == {
        "card": "standard",
        "customer": "acme",
        "now": "50",
        "proposed": "50",
        "change": "0",
    }
    assert reports["spark"] == reports["duckdb"]
    assert reports["clickhouse"] == reports["duckdb"]


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES[1:])
def test_an_engine_given_json_lines_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], engine: str
) -> None:
    jsonl = write_events(tmp_path / "events.jsonl", EVENTS)
    args = [*arguments(tmp_path), "--events", str(jsonl), "--engine", engine, "--quiet"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err == (
        f"pulumi-metronome impact: error: events {jsonl}: engine {engine} reads Parquet "
        "(a *.parquet file or a folder of them)\n"
    )


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_a_missing_column_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], engine: str
) -> None:
    path = tmp_path / "events.parquet"
    duckdb.connect().execute(
        f"COPY (SELECT 't1' AS transaction_id, 'acme' AS customer_id, "
        f"TIMESTAMPTZ '2026-10-01 10:00:00+00' AS timestamp) TO '{path}' (FORMAT parquet)"
    )
    args = [*arguments(tmp_path), "--events", str(path), "--engine", engine, "--quiet"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err == (
        f"pulumi-metronome impact: error: events file {path}: missing column(s) event_type "
        "(an event has transaction_id, customer_id, event_type, timestamp and properties)\n"
    )


def test_an_unknown_engine_is_refused_naming_the_choices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [*arguments(tmp_path), "--events", "x.parquet", "--engine", "oracle", "--quiet"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err == (
        "pulumi-metronome impact: error: argument --engine: invalid choice: 'oracle' "
        "(choose from 'duckdb', 'spark', 'clickhouse')\n"
    )
