"""End to end: the real ``pulumi`` CLI exports a stack and previews a changed program
(``--json``) with no Metronome token, and the real ``pulumi-metronome impact`` command turns
both, with an events file, into the Markdown a pull request shows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from stack import PulumiStack, metric

from metronome_local.process import LocalServer

TOKENS = {
    "aggregation_type": "SUM",
    "aggregation_key": "tokens",
    "event_type_filter": {"in_values": ["completion"]},
    "property_filters": [{"name": "tokens", "exists": True}],
}


def test_impact_of_a_previewed_change_from_the_real_cli(tmp_path: Path) -> None:
    with LocalServer() as server:
        stack = PulumiStack(tmp_path / "project", base_url=server.url, token=server.token)
        stack.declare(
            metrics=[metric("tokens", **TOKENS), metric("requests", aggregation_type="COUNT")]
        )
        stack.up()
        state = stack.export_state()
        # The pull request's change: internal traffic stops counting as billed tokens, a
        # rename, and a new metric.
        internal = {"name": "internal", "not_in_values": ["true"]}
        stack.declare(
            metrics=[
                metric(
                    "tokens",
                    **{**TOKENS, "property_filters": [*TOKENS["property_filters"], internal]},
                ),
                metric("requests", name="API requests", aggregation_type="COUNT"),
                metric(
                    "page-views",
                    aggregation_type="COUNT",
                    event_type_filter={"in_values": ["page_view"]},
                ),
            ]
        )
        # The PR job has no Metronome token: preview must not need one.
        stack.run("config", "rm", "metronome:bearerToken")
        calls_before = len(server.requests())
        preview = stack.run("preview", "--json")
        assert len(server.requests()) == calls_before  # preview never called Metronome
    (tmp_path / "state.json").write_text(json.dumps(state))
    (tmp_path / "plan.json").write_text(preview.stdout)
    events = [
        ("t1", "acme", "completion", "2026-10-01T09:00:00Z", {"tokens": 100, "internal": "false"}),
        ("t2", "acme", "completion", "2026-10-01T10:00:00Z", {"tokens": 40, "internal": "true"}),
        ("t3", "beta", "completion", "2026-10-02T10:00:00Z", {"tokens": 60}),
        ("t4", "beta", "page_view", "2026-10-02T11:00:00Z", {}),
        ("t4", "beta", "page_view", "2026-10-02T11:00:00Z", {}),  # a duplicate: ignored
    ]
    (tmp_path / "events.jsonl").write_text(
        "".join(
            json.dumps(
                {
                    "transaction_id": t,
                    "customer_id": c,
                    "event_type": e,
                    "timestamp": ts,
                    "properties": p,
                }
            )
            + "\n"
            for t, c, e, ts, p in events
        )
    )
    cli = Path(sys.executable).with_name("pulumi-metronome")
    done = subprocess.run(
        [
            str(cli),
            "impact",
            "--state",
            str(tmp_path / "state.json"),
            "--plan",
            str(tmp_path / "plan.json"),
            "--events",
            str(tmp_path / "events.jsonl"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    md = done.stdout
    assert "impact: " in done.stderr  # progress goes to stderr, not into the comment
    assert "4 events (5 read), 2 customers" in md
    # By hand: tokens 100 + 40 + 60 = 200 now; 160 without the internal event.
    assert "| `tokens` | changed | 200 | 160 | -40 (-20.0%) |" in md
    assert "| `requests` | renamed | 4 | 4 | 0 (0.0%) |" in md
    assert "| `page-views` | added | — | 1 | added |" in md
    # Unbilled: now the page view (only requests counts it... every event is a request).
    assert "| 0 | 0 | 0 |" in md
    assert 'title "tokens: daily usage' in md
    assert "line [140, 60]" in md and "line [100, 60]" in md
