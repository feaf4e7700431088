"""The pull-request preview workflow hands no production write credential to PR code.

The job runs code from the pull request, so what it can reach is what that code can
reach: it must get no Metronome write token, in any form. Checked on the workflow file
itself (``examples/pull-request/pricing-preview.yml``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from pulumi_metronome.impact.synthetic import (
    event,
    export,
    metric,
    plan,
    product,
    rate_card,
    write_events,
)
from pulumi_metronome.impact.synthetic import step as plan_step

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


# -- the workflow's own steps, run -----------------------------------------------------------
# The steps' shell scripts run as GitHub runs them (bash -eo pipefail, in their
# working-directory, with their env), in order, each `if:` evaluated; `pulumi`, `curl` and
# `gh` are stand-ins that serve a state, a plan and events and record the comment, and
# `pulumi-metronome` is the real command.

STUBS = {
    "pulumi": """#!/usr/bin/env bash
case "$*" in
  *"stack export"*) cat "$FAKE_STATE" ;;
  *"preview --json"*) cat "$FAKE_PLAN" ;;
  *"preview --diff"*) echo "Previewing update (production): ~ 1 to update" ;;
  *) echo "unexpected: pulumi $*" >&2; exit 9 ;;
esac
""",
    "curl": """#!/usr/bin/env bash
while [[ $# -gt 0 ]]; do
  if [[ $1 == --output ]]; then cp "$FAKE_EVENTS" "$2"; shift; fi
  shift
done
""",
    "gh": """#!/usr/bin/env bash
echo "$*" >>"$FAKE_GH_LOG"
case "$1 $2" in
  "api --paginate") ;;  # no comment yet
  "pr comment") cp "${@: -1}" "$FAKE_POSTED" ;;  # --body-file FILE
  *) echo "unexpected: gh $*" >&2; exit 9 ;;
esac
""",
}


def _expression(text: str, context: dict[str, str]) -> Any:
    """A GitHub expression of the forms the workflow uses (contexts, '' strings, == != && ||
    and parentheses), evaluated with Python's operators of the same meaning."""
    names = re.sub(
        r"\b(?:steps|vars|secrets|env|github)\.[A-Za-z0-9_.-]+",
        lambda m: repr(context.get(m.group(0), "")),
        text,
    )
    python = names.replace("&&", " and ").replace("||", " or ")
    return eval(python, {"__builtins__": {}}, {})  # the workflow's own text


def _rendered(value: Any, context: dict[str, str]) -> str:
    """``${{ ... }}`` in a value replaced by its result (booleans as GitHub writes them)."""

    def one(m: re.Match[str]) -> str:
        result = _expression(m.group(1), context)
        return str(result).lower() if isinstance(result, bool) else str(result)

    return re.sub(r"\$\{\{(.*?)\}\}", one, str(value))


def _run_workflow(tmp_path: Path, state: Any, preview: Any, events: Path) -> dict[str, Any]:
    """The preview job's steps; returns the steps' outputs and exit statuses, and the comment."""
    repo = tmp_path / "repo"
    work = repo / "examples" / "promotion"
    work.mkdir(parents=True)
    shutil.copy(WORKFLOW.parent / "guardrails.toml", work / "guardrails.toml")
    stubs = tmp_path / "bin"
    stubs.mkdir()
    for name, text in STUBS.items():
        (stubs / name).write_text(text)
        (stubs / name).chmod(0o755)
    (tmp_path / "state.json").write_text(json.dumps(state))
    (tmp_path / "plan.json").write_text(json.dumps(preview))
    runner_temp = tmp_path / "runner"
    runner_temp.mkdir()
    base_env = {
        **os.environ,
        "PATH": f"{stubs}:{Path(sys.executable).parent}:{os.environ['PATH']}",
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_REPOSITORY": "acme/pricing",
        "FAKE_STATE": str(tmp_path / "state.json"),
        "FAKE_PLAN": str(tmp_path / "plan.json"),
        "FAKE_EVENTS": str(events),
        "FAKE_GH_LOG": str(tmp_path / "gh.log"),
        "FAKE_POSTED": str(tmp_path / "comment.md"),
    }
    context = {
        "vars.IMPACT_EVENTS_URL": "https://warehouse.example/events.jsonl",
        "vars.PULUMI_BACKEND_URL": "s3://state",
        "github.event.pull_request.number": "7",
        "github.event.pull_request.head.sha": "abc123",
        "github.event.pull_request.head.repo.full_name": "acme/pricing",
        "github.repository": "acme/pricing",
        "github.token": "gh-token",
    }
    workflow = _workflow()
    for key, value in workflow["env"].items():
        context[f"env.{key}"] = _rendered(value, context)
    job = workflow["jobs"]["preview"]
    assert _expression(job["if"], context) is True
    ran: dict[str, int | None] = {}
    for number, step in enumerate(job["steps"]):
        if "run" not in step or step["name"] == "Install the project":
            continue  # actions and the install: the test's own environment stands in
        if "if" in step and not _expression(step["if"], context):
            ran[step["name"]] = None
            continue
        outputs = tmp_path / f"output-{number}"
        outputs.touch()
        env = {**base_env, "GITHUB_OUTPUT": str(outputs)}
        env.update({k[4:]: v for k, v in context.items() if k.startswith("env.")})
        env.update({k: _rendered(v, context) for k, v in step.get("env", {}).items()})
        script = tmp_path / f"step-{number}.sh"
        script.write_text(step["run"])
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=repo / _rendered(step.get("working-directory", "."), context),
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        ran[step["name"]] = done.returncode
        for line in outputs.read_text().splitlines():
            key, _, value = line.partition("=")
            context[f"steps.{step.get('id', number)}.outputs.{key}"] = value
        if done.returncode != 0:
            break  # a failed step ends the job
    comment = tmp_path / "comment.md"
    return {
        "ran": ran,
        "impact_status": context.get("steps.impact.outputs.status"),
        "comment": comment.read_text() if comment.exists() else None,
    }


def _price_rise(tmp_path: Path, new_price: float) -> tuple[Any, Any, Path]:
    requests = metric(
        "requests", "m-1", aggregation_type="COUNT", event_type_filter={"in_values": ["call"]}
    )
    prod = product("requests", "p-1", type="USAGE", billable_metric_id="m-1")

    def card(price: float) -> dict[str, Any]:
        rate = {
            "product_id": "p-1",
            "entitled": True,
            "rate_type": "FLAT",
            "starting_at": "2026-10-01T00:00:00Z",
            "price": price,
        }
        return rate_card("standard", "rc-1", rates=[rate])

    state = export(requests, prod, card(10))
    preview = plan(
        plan_step("same", requests, requests),
        plan_step("same", prod, prod),
        plan_step("update", card(new_price), card(10)),
    )
    events = [event(f"a{i}", "acme", "2026-10-01T10:00:00Z", event_type="call") for i in range(4)]
    return state, preview, write_events(tmp_path / "events.jsonl", events)


IMPACT, COMMENT = (
    "Pricing impact (usage and charges now vs proposed)",
    "Comment on the pull request",
)
FAIL = "Fail the check if the preview or the impact failed or a guardrail is breached"


def test_a_breached_guardrail_fails_the_check_after_the_comment_is_posted(tmp_path: Path) -> None:
    # 10 -> 12 cents: acme's 4 requests 40 -> 48 cents, +20%: over the example file's 10%.
    result = _run_workflow(tmp_path, *_price_rise(tmp_path, 12))
    assert result["impact_status"] == "3"
    assert result["ran"] == {
        "pulumi preview --diff": 0,
        IMPACT: 0,
        COMMENT: 0,
        FAIL: 1,  # the job fails: the pull request's check is red
    }
    comment = result["comment"]
    assert comment is not None and comment.startswith("<!-- pricing-preview -->")
    assert "**A pricing guardrail is breached**: this check fails" in comment
    assert "### ❌ Guardrails: 2 breached" in comment
    assert (
        "| `customer_increase_percent` | `acme` | `standard` | +$0.08 (+20.0%) | 10% |" in comment
    )
    assert "| `card_change_percent` | — | `standard` | +$0.08 (+20.0%) | 5% |" in comment
    assert "| `acme` | `standard` | $0.40 | $0.48 | +$0.08 (+20.0%) |" in comment


def test_a_change_within_the_guardrails_passes_with_the_comment(tmp_path: Path) -> None:
    # 10 -> 10.4 cents: +4%, within every threshold of the example file.
    result = _run_workflow(tmp_path, *_price_rise(tmp_path, 10.4))
    assert result["impact_status"] == "0"
    assert result["ran"] == {"pulumi preview --diff": 0, IMPACT: 0, COMMENT: 0, FAIL: None}
    comment = result["comment"]
    assert comment is not None and "Guardrails" not in comment
    assert "| `acme` | `standard` | $0.40 | $0.42 | +$0.02 (+4.0%) |" in comment
