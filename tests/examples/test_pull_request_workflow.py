"""The pull-request preview workflow hands no production write credential to PR code.

The job runs code from the pull request, so what it can reach is what that code can
reach: it must get no Metronome write token, in any form. Checked on the workflow file
itself (``examples/pull-request/pricing-preview.yml``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

WORKFLOW = Path(__file__).resolve().parents[2] / "examples" / "pull-request" / "pricing-preview.yml"


def _workflow() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    return loaded


def test_the_only_secrets_are_the_passphrase_and_a_read_only_token() -> None:
    secrets = set(re.findall(r"secrets\.([A-Z0-9_]+)", WORKFLOW.read_text()))
    assert secrets == {"PULUMI_CONFIG_PASSPHRASE", "METRONOME_READONLY_TOKEN"}


def test_no_step_puts_a_token_into_the_stack_config() -> None:
    for job in _workflow()["jobs"].values():
        for step in job["steps"]:
            assert "metronome:bearerToken" not in str(step.get("run", "")), step["name"]


def test_the_read_only_token_reaches_only_a_refresh_preview() -> None:
    steps = [s for job in _workflow()["jobs"].values() for s in job["steps"]]
    with_token = [s for s in steps if "METRONOME_READONLY_TOKEN" in str(s.get("env", {}))]
    assert [s["name"] for s in with_token] == ["pulumi preview --diff"]
    env = with_token[0]["env"]["METRONOME_BEARER_TOKEN"]
    assert env.startswith("${{ env.REFRESH == 'true' && ")  # no refresh: no token at all
    assert "pulumi up" not in str(steps) and "pulumi refresh" not in str(steps)
