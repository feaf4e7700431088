"""Guardrails: a breach is the report's first section and exit status 3, the report still
written; a bad guardrails file or option is exit status 2 and one line naming the file (or
option), the key and the rule. Expected figures computed by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pulumi_metronome.impact.cli import main
from pulumi_metronome.impact.synthetic import (
    UNKNOWN,
    depends,
    event,
    export,
    metric,
    plan,
    product,
    rate_card,
    step,
    write_events,
)

START = "2026-10-01T00:00:00Z"
REQUESTS = {"aggregation_type": "COUNT", "event_type_filter": {"in_values": ["completion"]}}
PAGES = {"aggregation_type": "COUNT", "event_type_filter": {"in_values": ["page_view"]}}


def flat(price: float) -> dict[str, Any]:
    return {
        "product_id": "p-1",
        "entitled": True,
        "rate_type": "FLAT",
        "starting_at": START,
        "price": price,
    }


def price_rise(tmp_path: Path) -> list[str]:
    """Requests from 10 to 12 cents; the page-view metric removed (its events unbilled)."""
    requests = metric("requests", "m-1", **REQUESTS)
    pages = metric("pages", "m-2", **PAGES)
    prod = product("requests", "p-1", type="USAGE", billable_metric_id="m-1")
    card = rate_card("standard", "rc-1", rates=[flat(10)])
    new_card = rate_card("standard", "rc-1", rates=[flat(12)])
    state = export(requests, pages, prod, card)
    preview = plan(
        step("same", requests, requests),
        step("delete", pages, pages),
        step("same", prod, prod),
        step("update", new_card, card),
    )
    events = [event(f"a{i}", "acme", "2026-10-01T10:00:00Z") for i in range(10)]
    events += [event("b1", "beta", "2026-10-02T10:00:00Z")]
    views = [event(f"p{i}", "acme", "2026-10-02T11:00:00Z", event_type="page_view") for i in (1, 2)]
    events += views
    (tmp_path / "state.json").write_text(json.dumps(state))
    (tmp_path / "plan.json").write_text(json.dumps(preview))
    write_events(tmp_path / "events.jsonl", events)
    return [
        "impact",
        "--state",
        str(tmp_path / "state.json"),
        "--plan",
        str(tmp_path / "plan.json"),
        "--events",
        str(tmp_path / "events.jsonl"),
        "--quiet",
    ]


GUARDRAILS = """\
# The team's thresholds.
customer_increase_percent = 15
customer_increase_amount = 0.15   # dollars
card_change_percent = 25
unbilled_increase = true
undeclared_usage_change = true
"""


def test_a_breach_is_the_first_section_and_exit_status_3_with_the_report_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = price_rise(tmp_path)
    (tmp_path / "guardrails.toml").write_text(GUARDRAILS)
    out = tmp_path / "impact.md"
    status = main([*args, "--guardrails", str(tmp_path / "guardrails.toml"), "--output", str(out)])
    assert status == 3
    md = out.read_text()
    lines = md.splitlines()
    # By hand: acme 10 requests, 100 -> 120 cents (+20%, +$0.20); beta 1, 10 -> 12 (+20%,
    # +$0.02); the card 110 -> 132 (+20%, under 25%); unbilled 0 -> 2 (the page views).
    assert lines[1] == "## Pricing impact"
    assert lines[3] == "### ❌ Guardrails: 4 breached"
    assert lines[5:11] == [
        "| guardrail | customer | rate card | change | threshold |",
        "|---|---|---|---|---:|",
        "| `customer_increase_percent` | `acme` | `standard` | +$0.20 (+20.0%) | 15% |",
        "| `customer_increase_amount` | `acme` | `standard` | +$0.20 (+20.0%) | $0.15 |",
        "| `customer_increase_percent` | `beta` | `standard` | +$0.02 (+20.0%) | 15% |",
        "| `unbilled_increase` | — | — | 0 → 2 events | any |",
    ]
    # The rest of the report follows.
    assert "| `acme` | `standard` | $1.00 | $1.20 | +$0.20 (+20.0%) |" in md
    assert capsys.readouterr().err == ""


def test_an_option_overrides_the_file_and_json_carries_the_breaches(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = price_rise(tmp_path)
    (tmp_path / "guardrails.toml").write_text("card_change_percent = 25\n")
    status = main(
        [
            *args,
            "--guardrails",
            str(tmp_path / "guardrails.toml"),
            "--card-change-percent",
            "19.5",
            "--format",
            "json",
        ]
    )
    assert status == 3
    data = json.loads(capsys.readouterr().out)
    assert data["guardrails"] == {
        "rules": {"card_change_percent": "19.5"},
        "breaches": [
            {
                "rule": "card_change_percent",
                "customer": None,
                "card": "standard",
                "change": "+$0.22 (+20.0%)",
                "threshold": "19.5%",
            }
        ],
        "not_checked": [],
    }
    assert next(iter(data)) == "guardrails"


def test_thresholds_that_hold_exit_0_without_a_guardrails_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = price_rise(tmp_path)
    status = main([*args, "--customer-increase-percent", "20", "--card-change-percent", "20"])
    assert status == 0  # +20% exactly is not more than 20%
    assert "Guardrails" not in capsys.readouterr().out


def test_a_usage_change_of_an_unchanged_declaration_is_a_breach(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tokens = {
        "aggregation_type": "SUM",
        "aggregation_key": "tokens",
        "property_filters": [{"name": "tokens", "exists": True}],
    }
    old_metric = metric("tokens", "m-1", **tokens)
    prod = product("tokens", "p-1", type="USAGE", billable_metric_id="m-1")
    card = rate_card("standard", "rc-1", rates=[flat(1)])
    internal = {"name": "internal", "not_in_values": ["true"]}
    new_metric = metric(
        "tokens", **{**tokens, "property_filters": [*tokens["property_filters"], internal]}
    )
    new_prod = depends(
        product("tokens", type="USAGE", billable_metric_id=UNKNOWN),
        "billable_metric_id",
        new_metric,
    )
    preview = plan(
        step("replace", new_metric, old_metric),
        step("update", new_prod, prod),
        step("same", card, card),
    )
    (tmp_path / "state.json").write_text(json.dumps(export(old_metric, prod, card)))
    (tmp_path / "plan.json").write_text(json.dumps(preview))
    events = [
        event("a1", "acme", "2026-10-01T10:00:00Z", tokens=30),
        event("a2", "acme", "2026-10-01T11:00:00Z", tokens=12, internal="true"),
    ]
    write_events(tmp_path / "events.jsonl", events)
    args = ["impact", "--state", str(tmp_path / "state.json"), "--plan"]
    args += [str(tmp_path / "plan.json"), "--events", str(tmp_path / "events.jsonl"), "--quiet"]
    assert main([*args, "--fail-on-undeclared-usage-change"]) == 3
    md = capsys.readouterr().out
    # The product kept its declaration; its usage goes 42 -> 30 (the metric's filter).
    assert (
        "| `undeclared_usage_change` | — | — | product `tokens`: declaration unchanged, "
        "usage 42 → 30 (its metric `tokens` changed) | any |"
    ) in md
    assert main(args) == 0  # without the guardrail: no breach
    capsys.readouterr()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("customer_increase_pct = 10\n", "key 'customer_increase_pct': unknown; the keys are "),
        (
            'card_change_percent = "5"\n',
            "key 'card_change_percent': must be a number >= 0 (got '5')",
        ),
        ("customer_increase_amount = -1\n", "key 'customer_increase_amount': must be a number"),
        ("unbilled_increase = 1\n", "key 'unbilled_increase': must be true or false (got 1)"),
        ("card_change_percent = nan\n", "key 'card_change_percent': must be a number >= 0"),
        ("card_change_percent = \n", "not valid TOML"),
        ("[customer]\nincrease_percent = 3\n", "key 'customer': unknown"),
    ],
)
def test_a_bad_guardrails_file_is_exit_2_and_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    args = price_rise(tmp_path)
    path = tmp_path / "guardrails.toml"
    path.write_text(text)
    out = tmp_path / "impact.md"
    assert main([*args, "--guardrails", str(path), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"pulumi-metronome impact: error: guardrails file {path}: {expected}")
    assert not out.exists()  # checked before any work


def test_a_missing_guardrails_file_and_a_bad_option_are_exit_2_and_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = price_rise(tmp_path)
    missing = tmp_path / "nope.toml"
    assert main([*args, "--guardrails", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"guardrails file {missing}: cannot be read (No such file or directory)" in err
    assert main([*args, "--customer-increase-percent", "ten"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "option --customer-increase-percent: must be a number >= 0 (got ten)" in err


def test_an_unknown_figure_is_listed_as_not_checked_never_as_passed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    requests = metric("requests", "m-1", **REQUESTS)
    # The plan filters on a value not known until apply: which events match is unknown.
    unknown = metric(
        "requests", **{**REQUESTS, "property_filters": [{"name": "region", "in_values": [UNKNOWN]}]}
    )
    (tmp_path / "state.json").write_text(json.dumps(export(requests)))
    (tmp_path / "plan.json").write_text(json.dumps(plan(step("replace", unknown, requests))))
    write_events(tmp_path / "events.jsonl", [event("a1", "acme", "2026-10-01T10:00:00Z")])
    args = ["impact", "--state", str(tmp_path / "state.json"), "--plan"]
    args += [str(tmp_path / "plan.json"), "--events", str(tmp_path / "events.jsonl"), "--quiet"]
    assert main([*args, "--fail-on-unbilled-increase"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[3:6] == [
        "### Guardrails",
        "",
        # The one event is billed now; proposed, only a metric unknown until apply might read it.
        "- not checked: unbilled_increase: 1 event(s) may or may not be billed (a metric's "
        "definition is unknown until apply)",
    ]
