"""End to end: the real ``pulumi`` CLI applies a pricing stack (metrics, products, a rate
card), exports it, previews a changed program with ``--json`` and no Metronome token, and
the real ``pulumi-metronome impact`` command turns state, plan and an events file into the
Markdown a pull request shows. Expected figures are computed by hand below."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from metronome_local.process import LocalServer
from pulumi_metronome.testing import DECLARATION, PulumiStack

PROGRAM = '''\
"""Metrics, USAGE products on them and one rate card, as declaration.json lists them."""

import json
import pathlib

from pulumi_metronome import BillableMetric, Product, RateCard

declaration = json.loads((pathlib.Path(__file__).parent / "declaration.json").read_text())
metrics = {name: BillableMetric(name, **args) for name, args in declaration["metrics"].items()}
products = {
    name: Product(name, type="USAGE", billable_metric_id=metrics[metric].id)
    for name, metric in declaration["products"].items()
}
RateCard(
    "standard",
    rates=[
        {**{k: v for k, v in r.items() if k != "product"}, "product_id": products[r["product"]].id}
        for r in declaration["rates"]
    ],
    allow_retroactive_rates=True,
)
'''

TOKENS = {
    "aggregation_type": "SUM",
    "aggregation_key": "tokens",
    "event_type_filter": {"in_values": ["completion"]},
    "property_filters": [{"name": "tokens", "exists": True}],
}
INTERNAL = {"name": "internal", "not_in_values": ["true"]}


def declaration(
    tokens: dict[str, Any],
    second_tier_price: float,
    requests_price: float = 10,
    later_rates: tuple[dict[str, Any], ...] = (),
) -> dict[str, Any]:
    return {
        "metrics": {
            "tokens": tokens,
            "requests": {
                "aggregation_type": "COUNT",
                "event_type_filter": {"in_values": ["completion"]},
            },
        },
        "products": {"tokens": "tokens", "requests": "requests"},
        "rates": [
            {
                "product": "tokens",
                "rate_type": "TIERED",
                "starting_at": "2026-10-01T00:00:00Z",
                "tiers": [{"price": 2, "size": 100}, {"price": second_tier_price}],
            },
            {
                "product": "requests",
                "rate_type": "FLAT",
                "starting_at": "2026-10-01T00:00:00Z",
                "price": requests_price,
            },
            *later_rates,
        ],
    }


EVENTS = [
    ("t1", "acme", "2026-10-01T09:00:00Z", {"tokens": 100, "internal": "false"}),
    ("t2", "acme", "2026-10-01T10:00:00Z", {"tokens": 40, "internal": "true"}),
    ("t3", "beta", "2026-10-02T10:00:00Z", {"tokens": 60}),
    ("t3", "beta", "2026-10-02T10:00:00Z", {"tokens": 60}),  # a duplicate: ignored
]


def write_events(path: Path) -> Path:
    path.write_text(
        "".join(
            json.dumps(
                {
                    "transaction_id": t,
                    "customer_id": c,
                    "event_type": "completion",
                    "timestamp": ts,
                    "properties": p,
                }
            )
            + "\n"
            for t, c, ts, p in EVENTS
        )
    )
    return path


def impact_cli(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """The installed ``pulumi-metronome impact`` over state.json, plan.json and
    events.jsonl of ``tmp_path``."""
    cli = Path(sys.executable).with_name("pulumi-metronome")
    return subprocess.run(
        [
            str(cli),
            "impact",
            "--state",
            str(tmp_path / "state.json"),
            "--plan",
            str(tmp_path / "plan.json"),
            "--events",
            str(tmp_path / "events.jsonl"),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_impact_of_a_previewed_change_from_the_real_cli(tmp_path: Path) -> None:
    project = tmp_path / "project"
    with LocalServer() as server:
        stack = PulumiStack(project, base_url=server.url, token=server.token, program=PROGRAM)
        (project / DECLARATION).write_text(json.dumps(declaration(TOKENS, 1)))
        stack.up()
        state = stack.export_state()
        # The pull request: internal traffic stops counting as billed tokens (the metric is
        # replaced, so the product's metric id is unknown in the plan), and the second
        # token tier gets cheaper.
        filtered = {**TOKENS, "property_filters": [*TOKENS["property_filters"], INTERNAL]}
        (project / DECLARATION).write_text(json.dumps(declaration(filtered, 0.5)))
        # The PR job has no Metronome token: preview must not need one, nor call Metronome.
        stack.run("config", "rm", "metronome:bearerToken")
        calls_before = len(server.requests())
        preview = stack.run("preview", "--json")
        assert len(server.requests()) == calls_before
    (tmp_path / "state.json").write_text(json.dumps(state))
    (tmp_path / "plan.json").write_text(preview.stdout)
    write_events(tmp_path / "events.jsonl")
    done = impact_cli(tmp_path)
    assert done.returncode == 0, done.stderr
    md = done.stdout
    (tmp_path / "impact.md").write_text(md)
    assert "impact: " in done.stderr  # progress on stderr, not in the comment
    assert "3 events (4 read), 2 customers" in md
    # By hand. Tokens: 100 + 40 + 60 = 200 now; 160 without the internal event.
    assert "| `tokens` | changed | 200 | 160 | -40 (-20.0%) |" in md
    assert "| `requests` | unchanged | 3 | 3 | 0 (0.0%) |" in md
    # Charges, in cents: acme 140 tokens = 100*2 + 40*1 = 240 now; 100 tokens = 200 after.
    # beta 60 tokens = 120 both. Requests: 10 cents each, acme 2, beta 1.
    assert "| `acme` | `standard` | $2.60 | $2.20 | -$0.40 (-15.4%) |" in md
    assert "| `beta` | `standard` | $1.30 | $1.30 | 0 |" not in md  # unchanged: not listed
    assert "Largest per-customer changes (top 10 of 1 changed)" in md
    assert "| `standard` | `tokens` | $3.60 | $3.20 | -$0.40 (-11.1%) |" in md
    assert "| `standard` | `requests` | $0.30 | $0.30 | 0 |" in md
    # The product kept its declaration but its metric was replaced: found through the plan.
    assert "`tokens`.`billable_metric_id` → `tokens`" in md
    assert "product `tokens`: declaration unchanged, usage 200 → 160" in md
    assert 'title "tokens: daily usage' in md
    assert "line [140, 60]" in md and "line [100, 60]" in md


def test_a_future_price_is_priced_as_of_its_date_from_the_real_cli(tmp_path: Path) -> None:
    """The most common pricing change: a new FLAT entry for requests, 5 -> 8 cents, from a
    date after the events. Priced at the events' own dates it would change nothing."""
    project = tmp_path / "project"
    rise = {
        "product": "requests",
        "rate_type": "FLAT",
        "starting_at": "2030-01-01T00:00:00Z",
        "price": 8,
    }
    with LocalServer() as server:
        stack = PulumiStack(project, base_url=server.url, token=server.token, program=PROGRAM)
        (project / DECLARATION).write_text(json.dumps(declaration(TOKENS, 1, requests_price=5)))
        stack.up()
        state = stack.export_state()
        changed = declaration(TOKENS, 1, requests_price=5, later_rates=(rise,))
        (project / DECLARATION).write_text(json.dumps(changed))
        stack.run("config", "rm", "metronome:bearerToken")
        preview = stack.run("preview", "--json")
    (tmp_path / "state.json").write_text(json.dumps(state))
    (tmp_path / "plan.json").write_text(preview.stdout)
    write_events(tmp_path / "events.jsonl")
    done = impact_cli(tmp_path, "--quiet")
    assert done.returncode == 0, done.stderr
    md = done.stdout
    (tmp_path / "impact.md").write_text(md)
    lines = md.splitlines()
    assert lines[3].startswith(
        "**Prices as of 2030-01-01**, the first date a proposed rate change takes effect"
    )
    # By hand, at 2030-01-01: requests 5 cents now, 8 proposed; acme 2 requests (10 -> 16),
    # beta 1 (5 -> 8). Tokens unchanged: acme 140 = 100*2 + 40*1 = 240, beta 60*2 = 120.
    assert "| `standard` | `requests` | $0.15 | $0.24 | +$0.09 (+60.0%) |" in md
    assert "| `standard` | `tokens` | $3.60 | $3.60 | 0 |" in md
    assert "| `acme` | `standard` | $2.50 | $2.56 | +$0.06 (+2.4%) |" in md
    assert "| `beta` | `standard` | $1.25 | $1.28 | +$0.03 (+2.4%) |" in md
    assert "Largest per-customer changes (top 10 of 2 changed)" in md
    # The same change priced at the events' own dates changes nothing.
    during = impact_cli(tmp_path, "--quiet", "--as-of", "2026-10-01")
    assert during.returncode == 0, during.stderr
    assert "No customer's charges change." in during.stdout
    assert during.stdout.splitlines()[3].startswith("**Prices as of 2026-10-01**, set by --as-of")
