"""What the onboarding tests share: the seeds, the export command, the server's writes."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from metronome_local.process import LocalServer

REPO = Path(__file__).resolve().parents[2]
FIXED_SEED = 16
#: A new account each run (the seed is in the test id; rerun one with ONBOARDING_SEED=<n>).
RUN_SEED = int(os.environ.get("ONBOARDING_SEED") or time.time_ns() % 1_000_000)
SEEDS = [FIXED_SEED, RUN_SEED]
#: POSTs that only read (Metronome's list and get endpoints are POSTs too).
READ_ONLY_POSTS = ("/list", "/get", "/listKeys", "/getRateSchedule", "/getRates")


def seed_id(seed: int) -> str:
    return f"seed={seed}"


def writes(server: LocalServer) -> list[str]:
    """Every request of the server's log that could change the account."""
    return [
        f"{r['method']} {r['path']}"
        for r in server.requests()
        if r["method"] != "GET" and not r["path"].endswith(READ_ONLY_POSTS)
    ]


def export(server: LocalServer, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``pulumi-metronome export`` against ``server`` into ``out``, as a child process."""
    env = {**os.environ, "METRONOME_BEARER_TOKEN": server.token}
    env.pop("METRONOME_BASE_URL", None)
    command = ["pulumi-metronome", "export", "--base-url", server.url, "--out-dir", str(out)]
    return subprocess.run(
        [*command, *extra], env=env, capture_output=True, text=True, timeout=300, check=False
    )
