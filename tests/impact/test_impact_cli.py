"""The command's inputs and outputs: Parquet and JSON lines alike, JSON output, and clear
errors that name the file and the problem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

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
]


def files(tmp_path: Path) -> list[str]:
    m = metric("tokens", "m-1", **TOKENS)
    prod = product("tokens", "p-1", type="USAGE", billable_metric_id="m-1")
    card = rate_card(
        "standard",
        "rc-1",
        rates=[
            {
                "product_id": "p-1",
                "entitled": True,
                "rate_type": "FLAT",
                "starting_at": "2026-10-01T00:00:00Z",
                "price": 4,
            }
        ],
    )
    (tmp_path / "state.json").write_text(json.dumps(export(m, prod, card)))
    (tmp_path / "plan.json").write_text(json.dumps(plan(step("same", m, m))))
    return [
        "impact",
        "--state",
        str(tmp_path / "state.json"),
        "--plan",
        str(tmp_path / "plan.json"),
    ]


def run_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main([*args, "--format", "json", "--quiet"]) == 0
    out = capsys.readouterr()
    assert out.err == ""  # --quiet: no progress
    data: dict[str, Any] = json.loads(out.out)
    return data


@pytest.mark.parametrize("shape", ["json-text", "struct"])
def test_parquet_and_json_lines_give_the_same_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], shape: str
) -> None:
    args = files(tmp_path)
    jsonl = write_events(tmp_path / "events.jsonl", EVENTS)
    parquet = tmp_path / "events.parquet"
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
        f"TO '{parquet}' (FORMAT parquet)"
    )
    from_jsonl = run_json([*args, "--events", str(jsonl)], capsys)
    from_parquet = run_json([*args, "--events", str(parquet)], capsys)
    # By hand: model "a" only: 10 + 2.5 = 12.5 tokens, all acme; 4 cents each = 50.
    assert from_jsonl["metrics"][0]["usage"] == {"now": "12.5", "proposed": "12.5"}
    assert from_jsonl["charges"]["by_customer"][0] == {
        "card": "standard",
        "customer": "acme",
        "now": "50",
        "proposed": "50",
        "change": "0",
    }
    assert from_parquet == from_jsonl


def test_progress_goes_to_stderr_and_the_report_to_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = files(tmp_path)
    events = write_events(tmp_path / "events.jsonl", EVENTS)
    out = tmp_path / "impact.md"
    assert main([*args, "--events", str(events), "--output", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "impact: [" in captured.err and "3 events read" in captured.err
    assert out.read_text().startswith("<!-- pulumi-metronome-impact -->\n## Pricing impact")


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ("events-columns", "events file {events}: missing column(s) event_type"),
        ("plan", "plan {plan}: no steps list; pass the output of `pulumi preview --json`"),
        ("state", "state export {state}: not valid JSON"),
        ("mapping", "rate card mapping {mapping}: must be a JSON object of customer id"),
        ("missing", "events file {tmp}/nowhere.jsonl: not found"),
    ],
)
def test_bad_input_is_a_clear_error_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], broken: str, message: str
) -> None:
    args = files(tmp_path)
    events = write_events(tmp_path / "events.jsonl", EVENTS)
    mapping = tmp_path / "cards.json"
    mapping.write_text('{"acme": "standard"}')
    if broken == "events-columns":
        events.write_text(
            json.dumps(
                {"transaction_id": "t", "customer_id": "c", "timestamp": "2026-10-01T00:00:00Z"}
            )
            + "\n"
        )
        events = tmp_path / "bad.parquet"
        duckdb.connect().execute(
            f"COPY (SELECT 't' AS transaction_id, 'c' AS customer_id, "
            f"TIMESTAMPTZ '2026-10-01 00:00:00+00' AS timestamp) TO '{events}' (FORMAT parquet)"
        )
    elif broken == "plan":
        (tmp_path / "plan.json").write_text('{"resources": []}')
    elif broken == "state":
        (tmp_path / "state.json").write_text("{not json")
    elif broken == "mapping":
        mapping.write_text('["acme"]')
    elif broken == "missing":
        events = tmp_path / "nowhere.jsonl"
    code = main([*args, "--events", str(events), "--rate-cards", str(mapping), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    expected = message.format(
        events=events,
        state=tmp_path / "state.json",
        plan=tmp_path / "plan.json",
        mapping=mapping,
        tmp=tmp_path,
    )
    assert err.startswith("pulumi-metronome impact: error: "), err
    assert expected in err, err
