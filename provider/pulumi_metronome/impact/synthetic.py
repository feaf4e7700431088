"""The three inputs of an impact built in code, for tests and benchmarks: a ``pulumi stack
export``, a ``pulumi preview --json`` plan and an events file, shaped like what the real CLI
writes (checked against a real export and plan of this provider: type tokens, ``outputs`` /
``inputs``, ``propertyDependencies``, the unknown sentinel). Product and rate card state
carries the models' fields as declared, rates as the card's ``rates`` schedule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..models.rate_card import parse_rates, schedule_state
from .analysis import Impact, analyse
from .inputs import TYPE_PREFIX, UNKNOWN, is_unknown, load_plan, load_state
from .report import as_json, markdown

STACK = "urn:pulumi:dev::pricing::"


def urn(kind: str, name: str) -> str:
    return f"{STACK}{TYPE_PREFIX}{kind}::{name}"


def resource(kind: str, name: str, id_: str | None, props: dict[str, Any]) -> dict[str, Any]:
    return {"urn": urn(kind, name), "kind": kind, "id": id_, "props": props, "deps": {}}


def metric(name: str, id_: str | None = None, **props: Any) -> dict[str, Any]:
    return resource("BillableMetric", name, id_, {"name": name, **props})


def product(name: str, id_: str | None = None, **props: Any) -> dict[str, Any]:
    return resource("Product", name, id_, {"name": name, **props})


def rate_card(name: str, id_: str | None = None, **props: Any) -> dict[str, Any]:
    """A rate card; ``rates`` as declared (a list). Without unknowns they are kept in the
    stored form the RateCard resource writes (``schedule_state``: readable key -> rate);
    with unknowns, as declared (what its check passes on in a plan)."""
    rates = props.get("rates")
    if isinstance(rates, list) and not is_unknown(rates):
        props["rates"] = schedule_state(parse_rates(rates))
    return resource("RateCard", name, id_, {"name": name, **props})


def export(*resources: dict[str, Any]) -> dict[str, Any]:
    """A ``pulumi stack export`` document holding ``resources`` (plus Pulumi's own)."""
    items: list[dict[str, Any]] = [
        {
            "urn": f"{STACK}pulumi:pulumi:Stack::pricing-dev",
            "custom": False,
            "type": "pulumi:pulumi:Stack",
        },
        {
            "urn": f"{STACK}pulumi:providers:pulumi-python::default",
            "custom": True,
            "id": "prov",
            "type": "pulumi:providers:pulumi-python",
            "inputs": {},
            "outputs": {},
        },
    ]
    for r in resources:
        props = {**r["props"], "__provider": "gASV", "adopt_existing": False}
        items.append(
            {
                "urn": r["urn"],
                "custom": True,
                "id": r["id"],
                "type": TYPE_PREFIX + r["kind"],
                "inputs": props,
                "outputs": props,
                "propertyDependencies": r["deps"],
            }
        )
    return {"version": 3, "deployment": {"manifest": {}, "resources": items}}


def step(op: str, r: dict[str, Any], old: dict[str, Any] | None = None) -> dict[str, Any]:
    """One plan step: ``op`` on resource ``r`` (its planned inputs); ``old`` its state."""
    out: dict[str, Any] = {"op": op, "urn": r["urn"]}
    if op not in ("delete", "delete-replaced"):
        out["newState"] = {
            "urn": r["urn"],
            "custom": True,
            "type": TYPE_PREFIX + r["kind"],
            "inputs": {**r["props"], "__provider": "gASV", "adopt_existing": False},
            "propertyDependencies": r["deps"],
        }
    if old is not None:
        out["oldState"] = {
            "urn": old["urn"],
            "id": old["id"],
            "type": TYPE_PREFIX + old["kind"],
            "outputs": old["props"],
        }
    return out


def plan(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"config": {}, "steps": list(steps), "changeSummary": {}}


def depends(r: dict[str, Any], field: str, *targets: dict[str, Any]) -> dict[str, Any]:
    r["deps"][field] = [t["urn"] for t in targets]
    return r


def event(
    tid: str, customer: str, ts: str, event_type: str = "completion", **props: Any
) -> dict[str, Any]:
    return {
        "transaction_id": tid,
        "customer_id": customer,
        "event_type": event_type,
        "timestamp": ts,
        "properties": props,
    }


def write_events(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def run(
    tmp_path: Path,
    state: dict[str, Any],
    preview: dict[str, Any],
    events: list[dict[str, Any]],
    mapping: dict[str, str] | None = None,
) -> tuple[Impact, str, dict[str, Any]]:
    now = load_state(state)
    proposed = load_plan(preview, now)
    impact = analyse(
        now, proposed, write_events(tmp_path / "events.jsonl", events), mapping=mapping
    )
    return impact, markdown(impact), as_json(impact)


#: Re-exported for tests that put unknowns into plans.
__all__ = [
    "UNKNOWN",
    "depends",
    "event",
    "export",
    "metric",
    "plan",
    "product",
    "rate_card",
    "run",
    "step",
    "urn",
    "write_events",
]
