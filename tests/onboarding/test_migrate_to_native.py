"""Moving the demo stack (examples/ai_pricing, dynamic resources) to native resources with
the real CLI, without touching Metronome:

    pulumi stack export > state.json
    pulumi-metronome export --from-stack state.json --out-dir migrate > urns.txt
    pulumi import --file migrate/import.json --yes --out native.py
    pulumi state delete <urn> --yes        # each line of urns.txt
    (native.py becomes the program)
    pulumi preview --expect-no-changes

0 writes to the server over the whole move, nothing archived, the same ids held by native
resources of the same names, and a clean preview.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from harness import REPO, writes

from metronome_local.process import LocalServer
from pulumi_metronome.testing import PulumiStack

DEMO = REPO / "examples" / "ai_pricing" / "__main__.py"


def test_demo_stack_moves_to_native_without_a_write(
    server: LocalServer, tmp_path: Path, python_sdk: Path
) -> None:
    stack = PulumiStack(
        tmp_path / "stack", base_url=server.url, token=server.token, program=DEMO.read_text()
    )
    (stack.dir / "declaration.json").unlink()
    # The demo's alert is for one customer (one of two, so that import can tell it is).
    customers = [
        _create(server, "/v1/customers", {"name": name})["id"] for name in ("Acme", "Globex")
    ]
    stack.run("config", "set", "alertCustomerId", customers[0])
    stack.up()
    before = stack.export_state()["deployment"]["resources"]
    # (kind, resource name) -> id: the demo has a metric and a product both named
    # "api-requests" (one name, two types: two URNs).
    dynamic = {
        (r["type"].rsplit(":", 1)[-1], r["urn"].rsplit("::", 1)[-1]): r["id"]
        for r in before
        if r["type"].startswith("pulumi-python:dynamic/metronome:")
    }
    assert len(dynamic) >= 5, dynamic
    kinds = {kind for kind, _ in dynamic}
    assert {"Alert", "Package", "PricingUnit"} <= kinds, kinds
    live = {
        "metrics": {m["id"] for m in _list(server, "/v1/billable-metrics")},
        "cards": {c["id"] for c in _post_list(server, "/v1/contract-pricing/rate-cards/list")},
    }
    server.clear_requests()

    state = tmp_path / "state.json"
    state.write_text(json.dumps(stack.export_state()))
    migrate = tmp_path / "migrate"
    migrate.mkdir()
    done = subprocess.run(
        ["pulumi-metronome", "export", "--from-stack", str(state), "--out-dir", str(migrate)],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("METRONOME_")},
    )
    assert done.returncode == 0, done.stderr
    urns = done.stdout.split()
    assert sorted(urns) == sorted(
        r["urn"] for r in before if r["type"].startswith("pulumi-python:dynamic/")
    )
    entries = json.loads((migrate / "import.json").read_text())["resources"]
    assert {(e["type"].rsplit(":", 1)[-1], e["name"]): e["id"] for e in entries} == dynamic
    assert all(e["type"].startswith("metronome:index:") for e in entries)

    native = tmp_path / "native.py"
    stack.env["PYTHONPATH"] = str(python_sdk)
    stack.run("import", "--file", str(migrate / "import.json"), "--yes", "--out", str(native))
    for urn in urns:  # dependents first: a resource others refer to goes last
        stack.run("state", "delete", urn, "--yes")
    (stack.dir / "__main__.py").write_text(native.read_text())
    stack.preview("--expect-no-changes")

    assert writes(server) == [], "the move wrote to Metronome"
    after = stack.export_state()["deployment"]["resources"]
    assert not [r for r in after if r["type"].startswith("pulumi-python:dynamic/")]
    held = {
        (r["type"].rsplit(":", 1)[-1], r["urn"].rsplit("::", 1)[-1]): r["id"]
        for r in after
        if r["type"].startswith("metronome:index:")
    }
    assert held == dynamic
    # Nothing archived: every metric and card is still listed (lists leave archived out).
    assert {m["id"] for m in _list(server, "/v1/billable-metrics")} == live["metrics"]
    cards = {c["id"] for c in _post_list(server, "/v1/contract-pricing/rate-cards/list")}
    assert cards == live["cards"]


def _create(server: LocalServer, path: str, body: dict[str, str]) -> dict[str, str]:
    import requests

    response = requests.post(server.url + path, json=body, headers=server.headers, timeout=10)
    assert response.status_code == 200, response.text
    data: dict[str, str] = response.json()["data"]
    return data


def _list(server: LocalServer, path: str) -> list[dict[str, str]]:
    import requests

    response = requests.get(server.url + path, headers=server.headers, timeout=10)
    assert response.status_code == 200, response.text
    data: list[dict[str, str]] = response.json()["data"]
    return data


def _post_list(server: LocalServer, path: str) -> list[dict[str, str]]:
    import requests

    response = requests.post(server.url + path, json={}, headers=server.headers, timeout=10)
    assert response.status_code == 200, response.text
    return [c for c in response.json()["data"] if not c.get("archived_at")]
