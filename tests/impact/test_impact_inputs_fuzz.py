"""Whatever the state, plan, events and options, ``pulumi-metronome impact`` never raises
past ``main``: it prints a report (exit 0) or one error line (exit 2).

The inputs are drawn near the real shapes (this provider's resource types and fields, the
events' fields, the options' formats) with any JSON value allowed in any place, so most
examples reach deep into the command instead of stopping at the first check."""

from __future__ import annotations

import io
import json
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pulumi_metronome.impact.cli import main
from pulumi_metronome.impact.inputs import TYPE_PREFIX, UNKNOWN

PREFIX = "pulumi-metronome impact: error:"
KINDS = ("BillableMetric", "Product", "RateCard")
URNS = tuple(f"urn:pulumi:dev::p::{TYPE_PREFIX}{k}::{n}" for k in KINDS for n in ("a", "b"))
IDS = ("m-1", "m-2", "p-1", "p-2", "rc-1")

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=6),
    st.sampled_from([UNKNOWN, "COUNT", "tokens", "m-1", "p-1", "2026-10-01T00:00:00Z"]),
)
anything = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def maybe(strategy: st.SearchStrategy[Any], odds: int = 8) -> st.SearchStrategy[Any]:
    """Usually ``strategy``, about one time in ``odds`` any JSON value instead (a draw from
    the middle of a range: generation favours a range's ends, and ``one_of`` its simple
    branches)."""
    cut = 50 + 100 // odds
    return st.integers(0, 99).flatmap(lambda i: anything if 50 <= i < cut else strategy)


names = st.sampled_from(["tokens", "model", "region"])
values = st.lists(st.sampled_from(["a", "b", "5", UNKNOWN, ""]), max_size=3)
property_filter = st.fixed_dictionaries(
    {"name": maybe(names)},
    optional={
        "exists": maybe(st.booleans()),
        "in_values": maybe(values),
        "not_in_values": maybe(values),
    },
)
SQLS = (
    "SELECT COUNT(*) AS value FROM events WHERE event_type = 'page'",
    "SELECT SUM(CAST(properties.tokens AS DECIMAL)) AS value FROM events "
    "WHERE properties.model IN ('a') AND NOT (properties.region = 'eu')",
    "SELECT MAX(CAST(properties.tokens AS DECIMAL)) FROM events",
    "SELECT",
    "DROP TABLE events",
    UNKNOWN,
)
metric_props = st.fixed_dictionaries(
    {},
    optional={
        "name": maybe(st.sampled_from(["tokens", "pages"])),
        "aggregation_type": maybe(st.sampled_from(["COUNT", "SUM", "MAX", "LATEST", "UNIQUE"])),
        "aggregation_key": maybe(names),
        "event_type_filter": maybe(
            st.fixed_dictionaries({}, optional={"in_values": values, "not_in_values": values})
        ),
        "property_filters": maybe(st.lists(property_filter, max_size=2)),
        "group_keys": maybe(st.lists(st.lists(names, max_size=2), max_size=2)),
        "sql": st.sampled_from(SQLS),
    },
)
product_props = st.fixed_dictionaries(
    {},
    optional={
        "name": maybe(st.sampled_from(["tokens", "seats"])),
        "type": maybe(st.sampled_from(["USAGE", "FIXED", "SUBSCRIPTION", "COMPOSITE", "usage"])),
        "billable_metric_id": maybe(st.sampled_from([*IDS, UNKNOWN])),
        "pricing_group_key": maybe(st.lists(names, max_size=2)),
        "quantity_conversion": maybe(
            st.fixed_dictionaries(
                {
                    "conversion_factor": maybe(st.sampled_from([2, 0, -1, 0.5])),
                    "operation": maybe(st.sampled_from(["MULTIPLY", "DIVIDE"])),
                }
            )
        ),
    },
)
moments = st.sampled_from(
    ["2026-10-01T00:00:00Z", "2026-10-02T12:00:00Z", "2027-01-01T00:00:00Z", "not a date", UNKNOWN]
)
rate = st.fixed_dictionaries(
    {},
    optional={
        "product_id": maybe(st.sampled_from([*IDS, UNKNOWN])),
        "entitled": maybe(st.booleans()),
        "rate_type": maybe(st.sampled_from(["FLAT", "TIERED", "PERCENTAGE", "SUBSCRIPTION"])),
        "starting_at": maybe(moments),
        "ending_before": maybe(moments),
        "price": maybe(st.sampled_from([4, 0, -2, 0.125, "3", UNKNOWN])),
        "tiers": maybe(
            st.lists(
                st.fixed_dictionaries(
                    {"price": maybe(st.sampled_from([1, 2]))},
                    optional={"size": maybe(st.sampled_from([5, 0, -1]))},
                ),
                max_size=3,
            )
        ),
    },
)
card_props = st.fixed_dictionaries(
    {},
    optional={
        "name": maybe(st.sampled_from(["standard", "premium"])),
        "rates": maybe(st.lists(maybe(rate), max_size=3)),
    },
)
#: Resources as this provider stores them, each valid on its own.
GOOD: dict[str, list[dict[str, Any]]] = {
    "BillableMetric": [
        {
            "name": "tokens",
            "aggregation_type": "SUM",
            "aggregation_key": "tokens",
            "property_filters": [
                {"name": "model", "in_values": ["a"]},
                {"name": "tokens", "exists": True},
            ],
        },
        {"name": "pages", "sql": SQLS[0]},
        {
            "name": "models",
            "aggregation_type": "UNIQUE",
            "aggregation_key": "model",
            "property_filters": [{"name": "model", "not_in_values": ["b"]}],
        },
    ],
    "Product": [
        {"name": "tokens", "type": "USAGE", "billable_metric_id": "m-1"},
        {"name": "pages", "type": "USAGE", "billable_metric_id": "m-2"},
        {"name": "seats", "type": "SUBSCRIPTION"},
    ],
    "RateCard": [
        {
            "name": "standard",
            "rates": [
                {
                    "product_id": "p-1",
                    "entitled": True,
                    "rate_type": "FLAT",
                    "starting_at": "2026-10-01T00:00:00Z",
                    "price": 4,
                },
                {
                    "product_id": "p-2",
                    "entitled": True,
                    "rate_type": "TIERED",
                    "starting_at": "2026-10-02T00:00:00Z",
                    "tiers": [{"size": 1, "price": 3}, {"price": 1}],
                },
            ],
        }
    ],
}
props = {
    kind: st.one_of(st.sampled_from(GOOD[kind]), fuzzed)
    for kind, fuzzed in (
        ("BillableMetric", metric_props),
        ("Product", product_props),
        ("RateCard", card_props),
    )
}


@st.composite
def resources(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(KINDS))
    out: dict[str, Any] = {
        "urn": draw(maybe(st.sampled_from([u for u in URNS if f":{kind}::" in u]))),
        "type": draw(maybe(st.just(TYPE_PREFIX + kind))),
        "id": draw(maybe(st.sampled_from([*IDS, None]))),
        "outputs": draw(maybe(props[kind])),
    }
    if draw(st.booleans()):
        out["propertyDependencies"] = draw(
            maybe(
                st.dictionaries(
                    st.sampled_from(["billable_metric_id", "rates"]),
                    st.lists(st.sampled_from(URNS), max_size=2),
                    max_size=2,
                )
            )
        )
    return out


@st.composite
def steps(draw: st.DrawFn) -> dict[str, Any]:
    r = draw(resources())
    new = {
        "type": r["type"],
        "urn": r["urn"],
        "inputs": r["outputs"],
        "propertyDependencies": r.get("propertyDependencies"),
    }
    return {
        "op": draw(maybe(st.sampled_from(["same", "create", "update", "replace", "delete"]))),
        "urn": r["urn"],
        "newState": draw(maybe(st.just(new))),
        "oldState": draw(st.none() | st.just({"type": r["type"], "id": r["id"], "outputs": {}})),
    }


def good_resource(kind: str, index: int) -> dict[str, Any]:
    """A valid resource of the stack (ids m-1.., p-1.., rc-1 as the products and rates
    reference them)."""
    short = {"BillableMetric": "m", "Product": "p", "RateCard": "rc"}[kind]
    return {
        "urn": f"urn:pulumi:dev::p::{TYPE_PREFIX}{kind}::{short}{index + 1}",
        "type": TYPE_PREFIX + kind,
        "id": f"{short}-{index + 1}",
        "outputs": GOOD[kind][index],
    }


GOOD_RESOURCES = [good_resource(k, i) for k in KINDS for i in range(len(GOOD[k]))]


@st.composite
def good_steps(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A plan over the good stack: some resources kept, changed (fuzzed inputs), replaced,
    deleted or added."""
    out = []
    for r in draw(st.lists(st.sampled_from(GOOD_RESOURCES), unique_by=lambda r: r["urn"])):
        op = draw(st.sampled_from(["same", "update", "replace", "delete", "create"]))
        kind = r["type"].removeprefix(TYPE_PREFIX)
        inputs = r["outputs"] if op == "same" else draw(props[kind])
        new = {"type": r["type"], "urn": r["urn"], "inputs": inputs}
        old = {"type": r["type"], "id": r["id"], "outputs": r["outputs"]}
        out.append({"op": op, "urn": r["urn"], "newState": new, "oldState": old})
    return out


good_states = st.builds(
    lambda rs: {"deployment": {"resources": rs}},
    st.lists(st.sampled_from(GOOD_RESOURCES), unique_by=lambda r: r["urn"]),
)
fuzzed_states = st.one_of(
    st.builds(lambda rs: {"deployment": {"resources": rs}}, st.lists(resources(), max_size=5)),
    anything,
)
good_plans = st.builds(lambda ss: {"steps": ss}, good_steps())
fuzzed_plans = st.one_of(
    st.builds(lambda ss: {"steps": ss}, st.lists(steps(), max_size=5)),
    anything,
)
good_event = st.fixed_dictionaries(
    {
        "transaction_id": st.sampled_from(["t1", "t2", "t3", "t4"]),
        "customer_id": st.sampled_from(["acme", "beta"]),
        "event_type": st.sampled_from(["completion", "page"]),
        "timestamp": st.sampled_from(
            ["2026-10-01T10:00:00Z", "2026-10-02T23:30:00-05:00", "2026-10-03T00:00:00Z"]
        ),
    },
    optional={
        "properties": st.dictionaries(names, st.sampled_from(["a", "b", 5, 2.5, True, None]))
    },
)
event = st.fixed_dictionaries(
    {
        "transaction_id": maybe(st.sampled_from(["t1", "t2", "t3", "", "x" * 200])),
        "customer_id": maybe(st.sampled_from(["acme", "beta", ""])),
        "event_type": maybe(st.sampled_from(["completion", "page", ""])),
        "timestamp": maybe(
            st.sampled_from(
                [
                    "2026-10-01T10:00:00Z",
                    "2026-10-02T23:30:00-05:00",
                    "2026-10-01",
                    "soon",
                    "9999-12-31T23:00:00-05:00",
                    "0001-01-01T00:00:00+01:00",
                ]
            )
        ),
    },
    optional={
        "properties": maybe(
            st.dictionaries(names, maybe(st.sampled_from(["a", "b", 5, 2.5, True, None])))
        ),
        "extra": anything,
    },
)
good_events = st.tuples(
    st.sampled_from(["jsonl", "parquet"]),
    st.lists(good_event, min_size=1, max_size=6),
    st.just(b""),
)
fuzzed_events = st.tuples(
    st.sampled_from(["jsonl", "parquet", "garbage.parquet", "bytes.jsonl", "directory"]),
    st.lists(st.one_of(good_event, event), max_size=6),
    st.binary(max_size=40),
)
good_dates = st.sampled_from([None, "2026-09-30", "2026-10-01", "2026-10-02", "2026-10-05"])
good_options = st.fixed_dictionaries(
    {
        "--start": good_dates,
        "--end": good_dates,
        "--memory-limit": st.sampled_from([None, "1GB"]),
        "--format": st.sampled_from([None, "json", "markdown"]),
        "--rate-cards": st.none()
        | st.dictionaries(st.sampled_from(["acme", "beta"]), st.sampled_from(["standard", "rc-1"])),
    }
).filter(lambda o: not (o["--start"] and o["--end"] and o["--start"] >= o["--end"]))


def _as_text(options: dict[str, Any]) -> dict[str, Any]:
    """Option values as a command line holds them (text; the mapping is a file's JSON)."""
    return {
        k: v if v is None or isinstance(v, str) or k == "--rate-cards" else json.dumps(v)
        for k, v in options.items()
    }


fuzzed_options = st.fixed_dictionaries(
    {
        "--start": maybe(good_dates | st.sampled_from(["2026-02-30", "today"]), 4),
        "--end": maybe(good_dates | st.sampled_from(["2026-02-30", "today"]), 4),
        "--memory-limit": st.sampled_from([None, "1GB", "lots", "0GB", "-1GB", "1KB", "1 gb"]),
        "--format": st.sampled_from([None, "json", "markdown", "html", ""]),
        "--rate-cards": st.none() | maybe(good_options.map(lambda o: o["--rate-cards"]), 3),
    }
).map(_as_text)
INPUTS = ("state", "plan", "events", "options")


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """Good inputs with some of them broken: none, one, or all (reaching each check)."""
    broken = draw(st.sampled_from([(), *((i,) for i in INPUTS), INPUTS]))
    good = {
        "state": good_states,
        "plan": good_plans,
        "events": good_events,
        "options": good_options,
    }
    fuzzed = {
        "state": fuzzed_states,
        "plan": fuzzed_plans,
        "events": fuzzed_events,
        "options": fuzzed_options,
    }
    return {i: draw(fuzzed[i] if i in broken else good[i]) for i in INPUTS}


def write_events(where: Path, spec: tuple[str, list[dict[str, Any]], bytes]) -> Path:
    kind, items, raw = spec
    lines = "".join(json.dumps(e) + "\n" for e in items)
    if kind == "directory":
        path = where / "events.jsonl"
        path.mkdir()
        return path
    if kind == "garbage.parquet":
        path = where / "events.parquet"
        path.write_bytes(raw)
        return path
    if kind == "bytes.jsonl":
        path = where / "events.jsonl"
        path.write_bytes(lines.encode() + raw)
        return path
    path = where / "events.jsonl"
    path.write_text(lines)
    if kind == "parquet" and items:
        target = where / "events.parquet"
        try:
            duckdb.connect().execute(
                f"COPY (SELECT * FROM read_json_auto('{path}')) TO '{target}' (FORMAT parquet)"
            )
        except duckdb.Error:
            return path  # DuckDB cannot infer one schema for these events: keep JSON lines
        return target
    return path


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenario=scenarios(), quiet=st.booleans())
def test_the_command_never_raises_past_main(scenario: dict[str, Any], quiet: bool) -> None:
    state, preview = scenario["state"], scenario["plan"]
    events, chosen = scenario["events"], scenario["options"]
    with tempfile.TemporaryDirectory(prefix="impact-fuzz-") as folder:
        where = Path(folder)
        (where / "state.json").write_text(json.dumps(state))
        (where / "plan.json").write_text(json.dumps(preview))
        args = [
            "impact",
            "--state",
            str(where / "state.json"),
            "--plan",
            str(where / "plan.json"),
            "--events",
            str(write_events(where, events)),
        ]
        for option, value in chosen.items():
            if value is None:
                continue
            if option == "--rate-cards":
                (where / "cards.json").write_text(json.dumps(value))
                value = str(where / "cards.json")
            args += [option, value]
        if quiet:
            args.append("--quiet")
        err, out = io.StringIO(), io.StringIO()
        with redirect_stderr(err), redirect_stdout(out):
            code = main(args)
    assert code in (0, 2), err.getvalue()
    lines = err.getvalue().splitlines()
    errors = [line for line in lines if line.startswith(PREFIX)]
    progress = [line for line in lines if line.startswith("impact: [")]
    assert len(errors) + len(progress) == len(lines), err.getvalue()  # nothing else, no traceback
    if code == 2:
        assert len(errors) == 1, err.getvalue()
        assert out.getvalue() == ""
    else:
        assert errors == [] and out.getvalue().strip(), err.getvalue()
    if quiet:
        assert progress == [], err.getvalue()
