"""The plugin through the real ``pulumi`` CLI: a Python program declaring
``metronome:index:*`` resources, with ``pulumi-resource-metronome`` found on ``PATH``.

``up``, a no-op preview with no call to Metronome, the detailed diff the CLI shows for one
changed rate, a refusal at preview with no write, and ``pulumi import`` of a rate card by its
id (tiers included) followed by a preview of the same declaration showing no change.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from metronome_local.process import LocalServer
from pulumi_metronome.testing import PulumiStack

PAST = "2026-01-01T00:00:00Z"
FUTURE = "2031-01-01T00:00:00Z"

#: Declares what declaration.json lists: {"resources": [{"type", "name", "props",
#: "protect"}]}; a property value {"ref": <name>} is that resource's id.
PROGRAM = """\
import json
import pathlib

import pulumi

declaration = json.loads((pathlib.Path(__file__).parent / "declaration.json").read_text())
made = {}


def resolve(value):
    if isinstance(value, dict) and set(value) == {"ref"}:
        return made[value["ref"]].id
    if isinstance(value, dict):
        return {k: resolve(v) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v) for v in value]
    return value


for item in declaration["resources"]:
    opts = pulumi.ResourceOptions(protect=item.get("protect", False))
    made[item["name"]] = pulumi.CustomResource(
        f"metronome:index:{item['type']}", item["name"], resolve(item["props"]), opts
    )
    pulumi.export(item["name"], made[item["name"]].id)
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def metronome() -> Iterator[LocalServer]:
    with LocalServer() as server:
        yield server


def new_stack(where: Path, server: LocalServer, name: str) -> PulumiStack:
    stack = PulumiStack(
        where / name, base_url=server.url, token=server.token, program=PROGRAM, stack=name
    )
    return stack


def declare(stack: PulumiStack, *resources: dict[str, Any]) -> None:
    (stack.dir / "declaration.json").write_text(json.dumps({"resources": list(resources)}))


def writes(server: LocalServer) -> list[str]:
    return [
        r["path"]
        for r in server.requests()
        if r["method"] in ("POST", "PUT") and "/get" not in r["path"] and "/list" not in r["path"]
    ]


def card(name: str, price: float, *, product: Any, first: float = 10) -> dict[str, Any]:
    tiers = [{"price": price, "size": 100}, {"price": 1}]
    rates = [
        {"productId": product, "rateType": "FLAT", "price": first, "startingAt": PAST},
        {"productId": product, "rateType": "TIERED", "startingAt": FUTURE, "tiers": tiers},
    ]
    return {"type": "RateCard", "name": "card", "props": {"name": name, "rates": rates}}


def test_up_preview_detailed_diff_and_refusal(metronome: LocalServer, tmp_path: Path) -> None:
    stack = new_stack(tmp_path, metronome, "lifecycle")
    product = {"type": "Product", "name": "fee", "props": {"name": unique("fee"), "type": "FIXED"}}
    card_name = unique("card")
    declare(stack, product, card(card_name, 2, product={"ref": "fee"}))
    metronome.clear_requests()
    stack.up()
    assert writes(metronome) == [
        "/v1/contract-pricing/products/create",
        "/v1/contract-pricing/rate-cards/create",
        "/v1/contract-pricing/rate-cards/addRates",
    ]

    metronome.clear_requests()
    same = stack.preview_json()
    assert same["changeSummary"] == {"same": 3}
    assert metronome.requests() == []

    declare(stack, product, card(card_name, 2.5, product={"ref": "fee"}))
    changed = stack.preview_json("--diff")
    steps = {step["urn"].rsplit("::", 1)[1]: step for step in changed["steps"]}
    assert steps["card"]["op"] == "update"
    assert steps["card"]["detailedDiff"] == {"rates[1]": {"kind": "update", "inputDiff": True}}
    assert metronome.requests() == []

    declare(stack, product, card(card_name, 2, product={"ref": "fee"}, first=11))
    refused = stack.preview(expect_failure=True)
    assert "rewrite what was already billed" in refused.stdout + refused.stderr
    assert "Traceback" not in refused.stdout + refused.stderr
    assert writes(metronome) == []


def test_import_by_id_then_the_same_declaration_previews_no_change(
    metronome: LocalServer, tmp_path: Path
) -> None:
    response = requests.post(
        f"{metronome.url}/v1/contract-pricing/products/create",
        json={"name": unique("p"), "type": "FIXED"},
        headers=metronome.headers,
        timeout=10,
    )
    product_id = response.json()["data"]["id"]
    declared = card(unique("card"), 3, product=product_id)
    owner = new_stack(tmp_path, metronome, "owner")
    declare(owner, declared)
    owner.up()
    card_id = owner.outputs()["card"]

    importer = new_stack(tmp_path, metronome, "importer")
    declare(importer)
    metronome.clear_requests()
    importer.run(
        "import", "metronome:index:RateCard", "card", card_id, "--yes", "--generate-code=false"
    )
    assert writes(metronome) == []
    state = importer.resources(":RateCard")["card"]
    tiered = [r for r in state["inputs"]["rates"] if r["rateType"] == "TIERED"]
    assert tiered[0]["tiers"] == [{"price": 3, "size": 100}, {"price": 1}]

    declare(importer, {**declared, "protect": True})
    preview = importer.preview_json()
    assert preview["changeSummary"] == {"same": 2}
    assert writes(metronome) == []
