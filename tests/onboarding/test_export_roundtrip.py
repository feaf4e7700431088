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
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from harness import REPO, SEEDS, export, seed_id, writes
from metronome import Metronome
from seed import SMALL, seed

import pulumi_metronome.client as client_module
from metronome_local.process import LocalServer
from pulumi_metronome.onboarding.export import main
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


class Clock:
    """The client's clock, injected in place of ``time``: a pause is recorded and moves
    ``monotonic`` on at once, so the client's real retry policy runs without the waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds

    @staticmethod
    def time() -> float:  # wall-clock dates (an HTTP-date ``Retry-After``) stay real
        return time.time()


def test_failed_read_writes_nothing(
    server: LocalServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Listings that fail (every attempt refused) are each named, after every attempt the
    default retry policy allows, and no file is written. The command runs in this process
    with the client's clock injected: the same policy, without its pauses."""
    with Metronome(bearer_token=server.token, base_url=server.url, max_retries=0) as sdk:
        sdk.v1.billable_metrics.create(name="m", aggregation_type="COUNT")
    server.set_faults(error_rate=1.0, retry_after_ms=1)
    server.clear_requests()
    clock = Clock()
    monkeypatch.setattr(client_module, "time", clock)
    monkeypatch.setenv("METRONOME_BEARER_TOKEN", server.token)
    monkeypatch.delenv("METRONOME_BASE_URL", raising=False)

    code = main(["--base-url", server.url, "--out-dir", str(tmp_path)])
    stderr = capsys.readouterr().err
    assert code == 1, stderr
    for part in ("custom field keys:", "billable metrics:", "products:", "rate cards:"):
        assert part in stderr
    assert "nothing was written" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    # Every listing tried 5 times (the default: 4 retries), every attempt refused, and
    # nothing but reads sent.
    calls = server.requests()
    assert writes(server) == []
    assert all(c.get("injected") for c in calls), calls
    tried = Counter(c["path"] for c in calls)
    assert set(tried.values()) == {5}, tried
    assert len(clock.pauses) == 4 * len(tried), clock.pauses
