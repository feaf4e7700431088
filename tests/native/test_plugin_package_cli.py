"""``metronome:index:Package`` through the real ``pulumi`` CLI, with the plugin on ``PATH``:
``up``, a no-op preview with no call, a changed package refused at preview with no write,
then the opted-in replacement: the preview's detailed diff shows the aliases (with the
cutover) forcing it, ``up`` creates the new package and archives the old one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from test_plugin_cli import declare, new_stack, writes

from metronome_local.process import LocalServer


def package(card_name: str, multiplier: float, **extra: Any) -> list[dict[str, Any]]:
    card = {"type": "RateCard", "name": "card", "props": {"name": card_name, "rates": []}}
    props = {
        "name": "Starter",
        "rateCardId": {"ref": "card"},
        "aliases": [{"name": f"starter-{card_name}"}],
        "overrides": [
            {
                "overrideSpecifiers": [{"productTags": ["ai"]}],
                "startingAtOffset": {"unit": "DAYS", "value": 0},
                "type": "MULTIPLIER",
                "multiplier": multiplier,
            }
        ],
        **extra,
    }
    return [card, {"type": "Package", "name": "starter", "props": props}]


def test_package_replacement_refused_then_cut_over(metronome: LocalServer, tmp_path: Path) -> None:
    stack = new_stack(tmp_path, metronome, "packages")
    card_name = f"list-{uuid.uuid4().hex[:6]}"
    declare(stack, *package(card_name, 0.9))
    metronome.clear_requests()
    stack.up()
    assert writes(metronome) == [
        "/v1/contract-pricing/rate-cards/create",
        "/v1/packages/create",
    ]
    old_id = stack.outputs()["starter"]

    metronome.clear_requests()
    assert stack.preview_json()["changeSummary"] == {"same": 3}
    assert metronome.requests() == []

    declare(stack, *package(card_name, 0.8))
    refused = stack.preview(expect_failure=True)
    said = refused.stdout + refused.stderr
    assert "replaces the package" in said and "allowReplace" in said
    assert "Traceback" not in said
    assert writes(metronome) == []

    cutover = (datetime.now(UTC) + timedelta(days=14)).strftime("%Y-%m-%dT%H:00:00.000Z")
    declare(stack, *package(card_name, 0.8, allowReplace=True, aliasCutover=cutover))
    planned = stack.preview_json("--diff")
    steps = {s["urn"].rsplit("::", 1)[1]: s for s in planned["steps"] if s["op"] != "same"}
    assert steps["starter"]["op"] == "replace"
    detailed = steps["starter"]["detailedDiff"]
    assert detailed["aliases"]["kind"] == "update-replace"
    assert detailed["overrides"]["kind"] == "update-replace"
    assert steps["starter"]["newState"]["inputs"]["aliases"][0]["startingAt"] == cutover
    assert writes(metronome) == []

    stack.up()
    assert writes(metronome) == ["/v1/packages/create", "/v1/packages/archive"]
    new_id = stack.outputs()["starter"]
    assert new_id != old_id
