"""Every bad input of ``pulumi-metronome impact`` gets exit status 2 and one line naming the
input and the problem; a period the events do not cover is a report of zero usage.

Each case builds good inputs, breaks one of them, runs the command's ``main`` and reads
what it printed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pulumi_metronome.impact.cli import main
from pulumi_metronome.impact.inputs import TYPE_PREFIX
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

PREFIX = "pulumi-metronome impact: error: "
T = "2026-10-01T10:00:00Z"
SQL_PAGES = "SELECT COUNT(*) AS value FROM events WHERE event_type = 'page'"


class Files:
    """Good inputs in ``dir``: a stack with a streaming and a SQL metric, a product and a
    rate card, a plan that keeps it, two events, a rate card mapping."""

    def __init__(self, dir: Path) -> None:
        self.dir = dir
        tokens = metric(
            "tokens",
            "m-1",
            aggregation_type="SUM",
            aggregation_key="tokens",
            property_filters=[{"name": "tokens", "exists": True}],
        )
        pages = metric("pages", "m-2", sql=SQL_PAGES)
        prod = product("tokens", "p-1", type="USAGE", billable_metric_id="m-1")
        rate = {
            "product_id": "p-1",
            "entitled": True,
            "rate_type": "FLAT",
            "starting_at": "2026-10-01T00:00:00Z",
            "price": 3,
        }
        card = rate_card("standard", "rc-1", rates=[rate])
        self.state = dir / "state.json"
        self.plan = dir / "plan.json"
        self.events = dir / "events.jsonl"
        self.mapping = dir / "cards.json"
        self.state.write_text(json.dumps(export(tokens, pages, prod, card)))
        self.plan.write_text(json.dumps(plan(*(step("same", r, r) for r in (tokens, pages)))))
        write_events(
            self.events,
            [
                event("a", "acme", T, "completion", tokens=4),
                event("b", "beta", "2026-10-02T10:00:00Z", "page"),
            ],
        )
        self.mapping.write_text('{"acme": "standard"}')

    def args(self, *extra: str) -> list[str]:
        return [
            "impact",
            "--state",
            str(self.state),
            "--plan",
            str(self.plan),
            "--events",
            str(self.events),
            "--quiet",
            *extra,
        ]


def resource(kind: str, **fields: Any) -> dict[str, Any]:
    return {"urn": f"urn:x::{kind}", "type": TYPE_PREFIX + kind, **fields}


def state_of(*resources: Any) -> str:
    return json.dumps({"deployment": {"resources": list(resources)}})


def parquet(path: Path, select: str) -> Path:
    duckdb.connect().execute(f"COPY ({select}) TO '{path}' (FORMAT parquet)")
    return path


def one_error_line(capsys: pytest.CaptureFixture[str], args: list[str]) -> str:
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(PREFIX), err
    return lines[0].removeprefix(PREFIX)


Case = Callable[[Files], tuple[list[str], str]]


def events_file(name: str, content: bytes, message: str) -> Case:
    def case(f: Files) -> tuple[list[str], str]:
        path = f.dir / name
        path.write_bytes(content)
        return f.args("--events", str(path)), message.format(path=path)

    return case


def state_file(content: str | bytes, message: str) -> Case:
    def case(f: Files) -> tuple[list[str], str]:
        f.state.write_bytes(content if isinstance(content, bytes) else content.encode())
        return f.args(), message.format(state=f.state)

    return case


def plan_file(content: str, message: str) -> Case:
    def case(f: Files) -> tuple[list[str], str]:
        f.plan.write_text(content)
        return f.args(), message.format(plan=f.plan)

    return case


def options(*extra: str, message: str) -> Case:
    def case(f: Files) -> tuple[list[str], str]:
        return f.args(*(e.format(dir=f.dir) for e in extra)), message.format(dir=f.dir)

    return case


def wrong_schema_parquet(f: Files) -> tuple[list[str], str]:
    path = parquet(
        f.dir / "types.parquet",
        "SELECT 't' AS transaction_id, 'c' AS customer_id, 'x' AS event_type, "
        "5 AS timestamp, 7 AS properties",
    )
    return f.args("--events", str(path)), (
        f"events file {path}: events[0].timestamp: must be an RFC 3339 timestamp string"
    )


def empty_parquet(f: Files) -> tuple[list[str], str]:
    path = parquet(
        f.dir / "none.parquet",
        "SELECT 't' AS transaction_id, 'c' AS customer_id, 'x' AS event_type, "
        "TIMESTAMPTZ '2026-10-01 00:00:00+00' AS timestamp WHERE false",
    )
    return f.args("--events", str(path)), (
        f"events file {path}: no events; give --start and --end for a period without events"
    )


def directory(option: str, message: str) -> Case:
    def case(f: Files) -> tuple[list[str], str]:
        where = f.dir / "folder.json"
        where.mkdir()
        return f.args(option, str(where)), message.format(path=where)

    return case


def missing(option: str, message: str) -> Case:
    def case(f: Files) -> tuple[list[str], str]:
        where = f.dir / "nowhere.jsonl"
        return f.args(option, str(where)), message.format(path=where)

    return case


def mapping(content: str, message: str) -> Case:
    def case(f: Files) -> tuple[list[str], str]:
        f.mapping.write_text(content)
        return f.args("--rate-cards", str(f.mapping)), message.format(mapping=f.mapping)

    return case


METRIC = TYPE_PREFIX + "BillableMetric"
CASES: dict[str, Case] = {
    # events files
    "corrupt parquet": events_file(
        "bad.parquet", b"PAR1 this is not parquet", "events file {path}: cannot read it ("
    ),
    "empty parquet file": events_file("empty.parquet", b"", "events file {path}: cannot read it ("),
    "parquet without events": empty_parquet,
    "parquet of the wrong schema": wrong_schema_parquet,
    "jsonl not JSON": events_file(
        "junk.jsonl", b"\x00\xff\xfe{{ nope\n", "events file {path}: events: cannot read"
    ),
    "empty jsonl": events_file(
        "empty.jsonl",
        b"",
        "events file {path}: no events; give --start and --end for a period without events",
    ),
    "jsonl of the wrong schema": events_file(
        "wrong.jsonl",
        b'{"transaction_id": 5, "customer_id": "c"}\n',
        "events file {path}: events[0].transaction_id: must be a string",
    ),
    "event after the last date": events_file(
        "far.jsonl",
        b'{"transaction_id": "a", "customer_id": "c", "event_type": "x", '
        b'"timestamp": "2026-10-01T00:00:00Z"}\n'
        b'{"transaction_id": "b", "customer_id": "c", "event_type": "x", '
        b'"timestamp": "9999-12-31T23:59:59-14:00"}\n',
        "events file {path}: events[1].timestamp: 10000-01-01 13:59:59 (UTC) is outside the "
        "dates a report covers",
    ),
    "unknown events format": events_file(
        "events.csv", b"a,b\n", "events file {path}: unknown format"
    ),
    "events a directory": directory("--events", "events file {path}: not a file"),
    "events missing": missing("--events", "events file {path}: not found"),
    # state and plan
    "state missing": missing("--state", "state export {path}: cannot read it ("),
    "state a directory": directory("--state", "state export {path}: cannot read it ("),
    "plan missing": missing("--plan", "plan {path}: cannot read it ("),
    "plan a directory": directory("--plan", "plan {path}: cannot read it ("),
    "state not JSON": state_file("{deployment", "state export {state}: not valid JSON"),
    "state not UTF-8": state_file(b"\xff\xfe{}", "state export {state}: not a JSON text file"),
    "state a list": state_file("[]", "state export {state}: no deployment.resources list"),
    "state resource a number": state_file(
        state_of(5), "state export {state}: deployment.resources[0] must be an object"
    ),
    "state resource without urn": state_file(
        json.dumps({"deployment": {"resources": [{"type": METRIC, "outputs": {}}]}}),
        "state export {state}: deployment.resources[0].urn must be a non-empty string",
    ),
    "state outputs a list": state_file(
        state_of(resource("BillableMetric", outputs=[1])),
        "state export {state}: deployment.resources[0].outputs must be an object",
    ),
    "state id a number": state_file(
        state_of(resource("Product", id=7, outputs={"name": "p"})),
        "state export {state}: deployment.resources[0].id must be a non-empty string",
    ),
    "state dependencies not lists": state_file(
        state_of(resource("Product", outputs={"name": "p"}, propertyDependencies={"x": "y"})),
        "state export {state}: deployment.resources[0].propertyDependencies.x must be a list",
    ),
    "state metric of a wrong field type": state_file(
        state_of(resource("BillableMetric", outputs={"name": "m", "aggregation_type": 5})),
        "state export {state}: urn:x::BillableMetric: aggregation_type: must be one of",
    ),
    "state rates a number": state_file(
        state_of(resource("RateCard", outputs={"name": "c", "rates": 5})),
        "state export {state}: urn:x::RateCard: rates must be a list of rates",
    ),
    "state rate not an object": state_file(
        state_of(resource("RateCard", outputs={"name": "c", "rates": ["x"]})),
        "state export {state}: urn:x::RateCard: rates[0] is not an object",
    ),
    "plan not JSON": plan_file("{steps", "plan {plan}: not valid JSON"),
    "plan steps an object": plan_file('{"steps": {}}', "plan {plan}: no steps list"),
    "plan step a string": plan_file('{"steps": ["x"]}', "plan {plan}: steps[0] must be an object"),
    "plan step without op": plan_file(
        json.dumps({"steps": [{"urn": "u", "newState": {"type": METRIC}}]}),
        "plan {plan}: steps[0].op must be a non-empty string",
    ),
    "plan inputs a list": plan_file(
        json.dumps(
            {"steps": [{"op": "create", "urn": "u", "newState": {"type": METRIC, "inputs": []}}]}
        ),
        "plan {plan}: steps[0].newState.inputs must be an object",
    ),
    "plan newState a string": plan_file(
        json.dumps({"steps": [{"op": "create", "urn": "u", "newState": "x"}]}),
        "plan {plan}: steps[0].newState must be an object",
    ),
    # rate card mapping
    "mapping a list": mapping('["acme"]', "rate card mapping {mapping}: must be a JSON object"),
    "mapping to no card": mapping(
        '{"acme": "premium"}',
        "rate card mapping {mapping}: 'acme' -> 'premium' names no rate card of the state or "
        "the plan",
    ),
    "mapping a directory": directory("--rate-cards", "rate card mapping {path}: cannot read it ("),
    # options
    "bad date": options(
        "--start", "2026-02-30", message="argument --start: '2026-02-30' is not a date"
    ),
    "start after end": options(
        "--start",
        "2026-10-05",
        "--end",
        "2026-10-01",
        message="--start 2026-10-05 must be before --end 2026-10-01",
    ),
    "start equals end": options(
        "--start",
        "2026-10-01",
        "--end",
        "2026-10-01",
        message="--start 2026-10-01 must be before --end 2026-10-01",
    ),
    "memory limit not a size": options(
        "--memory-limit", "lots", message="--memory-limit 'lots': must be a positive size"
    ),
    "memory limit zero": options(
        "--memory-limit", "0MB", message="--memory-limit '0MB': must be a positive size"
    ),
    "memory limit too small": options(
        "--memory-limit", "1KB", message="does not fit the memory limit"
    ),
    "output a directory": options("--output", "{dir}", message="--output {dir}: is a directory"),
    "output in no folder": options(
        "--output",
        "{dir}/no/such/report.md",
        message="--output {dir}/no/such/report.md: its folder {dir}/no/such does not exist",
    ),
    "unknown format": options("--format", "html", message="argument --format: invalid choice"),
    "unknown option": options("--colour", message="unrecognized arguments: --colour"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_bad_input_exits_2_with_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    args, message = CASES[name](Files(tmp_path))
    line = one_error_line(capsys, args)
    assert message in line, line


def test_a_missing_required_option_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    line = one_error_line(capsys, ["impact", "--state", "s.json"])
    assert line == "the following arguments are required: --plan, --events"


def report(capsys: pytest.CaptureFixture[str], args: list[str]) -> dict[str, Any]:
    assert main([*args, "--format", "json"]) == 0
    out = capsys.readouterr()
    assert out.err == ""
    data: dict[str, Any] = json.loads(out.out)
    return data


def test_a_period_the_events_do_not_cover_is_zero_usage_also_with_a_sql_metric(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = Files(tmp_path)
    data = report(capsys, f.args("--start", "2026-11-05", "--end", "2026-11-07"))
    assert data["period"]["starting_on"].startswith("2026-11-05")
    assert data["period"]["ending_before"].startswith("2026-11-07")
    assert {m["resource"]: m["usage"] for m in data["metrics"]} == {
        "pages": {"now": "0", "proposed": "0"},
        "tokens": {"now": "0", "proposed": "0"},
    }
    assert data["unbilled"] == {"now": 0, "proposed": 0}
    assert data["charges"]["by_customer"] == []


@pytest.mark.parametrize(
    ("bounds", "period"),
    [
        # Only a start after the events: one day from it.
        (["--start", "2026-12-01"], ("2026-12-01", "2026-12-02")),
        # Only an end before the events: the day before it.
        (["--end", "2026-09-01"], ("2026-08-31", "2026-09-01")),
    ],
)
def test_one_bound_outside_the_events_gives_a_one_day_period(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    bounds: list[str],
    period: tuple[str, str],
) -> None:
    data = report(capsys, Files(tmp_path).args(*bounds))
    assert (data["period"]["starting_on"][:10], data["period"]["ending_before"][:10]) == period
    assert all(m["usage"]["now"] == "0" for m in data["metrics"])


def test_an_empty_events_file_with_a_period_is_zero_usage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = Files(tmp_path)
    f.events.write_text("")
    data = report(capsys, f.args("--start", "2026-10-01", "--end", "2026-10-03"))
    assert {m["resource"]: m["usage"]["now"] for m in data["metrics"]} == {
        "pages": "0",
        "tokens": "0",
    }


def test_the_period_bounds_events_by_day(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The events at 2026-10-01 (4 tokens) and 2026-10-02 (a page): each bound keeps one."""
    f = Files(tmp_path)
    first = report(capsys, f.args("--end", "2026-10-02"))
    second = report(capsys, f.args("--start", "2026-10-02"))
    usage = lambda d: {m["resource"]: m["usage"]["now"] for m in d["metrics"]}  # noqa: E731
    assert usage(first) == {"pages": "0", "tokens": "4"}
    assert usage(second) == {"pages": "1", "tokens": "0"}
