"""Export round trip: a random account made through the official SDK, exported, then taken
over by the generated program with the real ``pulumi`` CLI and the dynamic provider:
0 writes to Metronome (the server's request log), and the next preview shows no change.

Runs on an account from a fixed seed and on one from a new seed each run; the seed is in
the test id and in every failure message.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest
from harness import REPO, SEEDS, export, seed_id, writes
from metronome import Metronome
from seed import SMALL, seed

from metronome_local.process import LocalServer
from pulumi_metronome.testing import PulumiStack


@pytest.mark.parametrize("seed_value", SEEDS, ids=seed_id)
def test_dynamic_round_trip(server: LocalServer, tmp_path: Path, seed_value: int) -> None:
    why = f"(account seed {seed_value}; rerun with ONBOARDING_SEED={seed_value})"
    with Metronome(bearer_token=server.token, base_url=server.url, max_retries=0) as sdk:
        made = seed(sdk, random.Random(seed_value), SMALL)
    out = tmp_path / "export"
    out.mkdir()
    server.clear_requests()

    done = export(server, out)
    assert done.returncode == 0, f"{why}\n{done.stderr}"
    assert writes(server) == [], why
    # Reads are list pages: one per kind (seven), plus one schedule read per rate card.
    calls = server.requests()
    assert len(calls) == 7 + len(made["cards"]), f"{why} {[c['path'] for c in calls]}"

    imported = json.loads((out / "import.json").read_text())["resources"]
    assert sorted(r["id"] for r in imported) == sorted(id_ for ids in made.values() for id_ in ids)
    names = [(r["type"], r["name"]) for r in imported]
    assert len(set(names)) == len(names), why
    assert all(r["name"].isidentifier() for r in imported), why

    # Same account, same files (names do not depend on anything but the account).
    again = tmp_path / "again"
    again.mkdir()
    assert export(server, again, "--quiet").returncode == 0
    for name in ("import.json", "__main__.py"):
        assert (again / name).read_text() == (out / name).read_text(), f"{why} {name}"

    program = (out / "__main__.py").read_text()
    # mypy reads the package from its source folder (the editable install hides it).
    typing_env = {**os.environ, "MYPYPATH": str(REPO / "provider")}
    for tool in (["ruff", "format", "--check"], ["ruff", "check"], ["mypy", "--strict"]):
        checked = subprocess.run(
            [*tool, str(out / "__main__.py")],
            capture_output=True,
            text=True,
            check=False,
            env=typing_env,
        )
        assert checked.returncode == 0, f"{why} {tool}: {checked.stdout}{checked.stderr}"
    assert "billable_metric_id=metric_" in program, why
    assert 'product_id": product_' in program, why

    server.clear_requests()
    stack = PulumiStack(
        tmp_path / "stack", base_url=server.url, token=server.token, program=program
    )
    stack.up()
    assert writes(server) == [], f"{why} the takeover wrote to Metronome"
    preview = stack.preview_json()
    changes = preview.get("changeSummary", {})
    assert set(changes) <= {"same"}, f"{why} {changes}"
    assert writes(server) == [], why

    # The stack now manages the whole account: no drift either way.
    state = tmp_path / "state.json"
    state.write_text(json.dumps(stack.export_state()))
    drift = export(server, out, "--diff", str(state), "--format", "json")
    assert drift.returncode == 0, f"{why}\n{drift.stderr}"
    assert json.loads(drift.stdout) == {"unmanaged": [], "missing": []}, why


def test_drift_lists_both_sides(server: LocalServer, tmp_path: Path) -> None:
    """An object made after the stack is unmanaged; one archived since is missing."""
    with Metronome(bearer_token=server.token, base_url=server.url, max_retries=0) as sdk:
        kept = sdk.v1.billable_metrics.create(name="kept", aggregation_type="COUNT").data.id
        gone = sdk.v1.billable_metrics.create(name="gone", aggregation_type="COUNT").data.id
        state: dict[str, Any] = {
            "deployment": {
                "resources": [
                    {
                        "type": "metronome:index:BillableMetric",
                        "urn": f"urn:pulumi:s::p::metronome:index:BillableMetric::{name}",
                        "id": id_,
                    }
                    for name, id_ in (("kept", kept), ("gone", gone))
                ]
            }
        }
        sdk.v1.billable_metrics.archive(id=gone)
        new = sdk.v1.billable_metrics.create(name="New one", aggregation_type="COUNT").data.id
    path = tmp_path / "state.json"
    path.write_text(json.dumps(state))
    done = export(server, tmp_path, "--diff", str(path), "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "unmanaged": [
            {"kind": "BillableMetric", "id": new, "name": "New one", "resource": "new_one"}
        ],
        "missing": [{"kind": "BillableMetric", "id": gone, "resource": "gone"}],
    }
    assert not (tmp_path / "import.json").exists()


def test_failed_read_writes_nothing(server: LocalServer, tmp_path: Path) -> None:
    """Listings that fail (every attempt refused) are each named, and no file is written."""
    with Metronome(bearer_token=server.token, base_url=server.url, max_retries=0) as sdk:
        sdk.v1.billable_metrics.create(name="m", aggregation_type="COUNT")
    server.set_faults(error_rate=1.0, retry_after_ms=1)
    done = export(server, tmp_path)
    assert done.returncode == 1, done.stderr
    for part in ("custom field keys:", "billable metrics:", "products:", "rate cards:"):
        assert part in done.stderr
    assert "nothing was written" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []
