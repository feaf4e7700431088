"""End to end with the real ``pulumi`` CLI: pricing units, alerts and notifications, on both
front ends (the dynamic provider, ``pulumi_metronome.PricingUnit`` etc., and the plugin,
``metronome:index:PricingUnit`` etc. found on ``PATH``).

One stack per kind and front end, several steps in it: ``up`` creates; a preview of the same
program makes no call; a change Metronome cannot make (a unit's name, an alert's threshold,
a notification's event type) is refused at preview with no write, and (unit, alert) goes
through with ``allow_replace``: the new one created, the old one archived; a notification's
offset is edited in place; ``refresh`` reads what was changed in Metronome behind the
stack's back; ``destroy`` archives.
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

#: ``declaration.json``: {"resources": [{"type", "name", "props"}]}, props in snake_case.
DYNAMIC = """\
import json
import pathlib

import pulumi

import pulumi_metronome

declaration = json.loads((pathlib.Path(__file__).parent / "declaration.json").read_text())
for item in declaration["resources"]:
    made = getattr(pulumi_metronome, item["type"])(item["name"], **item["props"])
    pulumi.export(item["name"], made.id)
"""

#: The same declaration, as ``metronome:index:*`` resources with camelCase properties.
NATIVE = """\
import json
import pathlib

import pulumi

declaration = json.loads((pathlib.Path(__file__).parent / "declaration.json").read_text())


def camel(name):
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


for item in declaration["resources"]:
    props = {camel(k): v for k, v in item["props"].items()}
    made = pulumi.CustomResource(f"metronome:index:{item['type']}", item["name"], props)
    pulumi.export(item["name"], made.id)
"""

FRONT_ENDS = {"dynamic": DYNAMIC, "native": NATIVE}


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer() as started:
        yield started


@pytest.fixture(params=sorted(FRONT_ENDS))
def front_end(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def new_stack(tmp_path: Path, server: LocalServer, front_end: str) -> PulumiStack:
    return PulumiStack(
        tmp_path, base_url=server.url, token=server.token, program=FRONT_ENDS[front_end]
    )


def declare(stack: PulumiStack, type_: str, resource: str, **props: Any) -> None:
    resources = [{"type": type_, "name": resource, "props": props}]
    (stack.dir / "declaration.json").write_text(json.dumps({"resources": resources}))


def writes(server: LocalServer) -> list[str]:
    """Paths of the calls that may change something, oldest first."""
    return [
        r["path"]
        for r in server.requests()
        if r["method"] in ("POST", "PUT") and "/get" not in r["path"] and "/list" not in r["path"]
    ]


def post(server: LocalServer, path: str, body: dict[str, Any]) -> Any:
    response = requests.post(server.url + path, json=body, headers=server.headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def changes(stack: PulumiStack) -> dict[str, int]:
    """The change summary of a preview of the program as it stands."""
    summary: dict[str, int] = stack.preview_json()["changeSummary"]
    return summary


def state(stack: PulumiStack, type_: str) -> dict[str, dict[str, Any]]:
    return stack.resources(f":{type_}")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def live_units(server: LocalServer) -> dict[str, str]:
    response = requests.get(
        server.url + "/v1/credit-types/list", headers=server.headers, timeout=10
    )
    assert response.status_code == 200, response.text
    return {u["id"]: u["name"] for u in response.json()["data"]}


def test_pricing_unit(tmp_path: Path, server: LocalServer, front_end: str) -> None:
    stack = new_stack(tmp_path, server, front_end)
    name = unique("credits")
    declare(stack, "PricingUnit", "credits", name=name)
    server.clear_requests()
    stack.up()
    assert writes(server) == ["/v1/credit-types/create"]
    first = stack.outputs()["credits"]
    assert live_units(server)[first] == name

    server.clear_requests()
    assert changes(stack) == {"same": 2}
    assert server.requests() == []

    renamed = unique("renamed")
    declare(stack, "PricingUnit", "credits", name=renamed)
    refused = stack.preview(expect_failure=True)
    assert "replaces it" in refused.output and "allow" in refused.output, refused.output
    assert "Traceback" not in refused.output
    assert not stack.up(check=False).ok
    assert writes(server) == []

    declare(stack, "PricingUnit", "credits", name=renamed, allow_replace=True)
    stack.up()
    assert writes(server) == ["/v1/credit-types/create", "/v1/credit-types/archive"]
    second = stack.outputs()["credits"]
    assert second != first
    units = live_units(server)
    assert units.get(second) == renamed and first not in units

    # Archived in Metronome behind the stack's back: refresh finds it gone, up makes it again.
    post(server, "/v1/credit-types/archive", {"id": second})
    stack.refresh()
    assert state(stack, "PricingUnit") == {}
    assert changes(stack) == {"create": 1, "same": 1}
    server.clear_requests()
    stack.up()
    assert writes(server) == ["/v1/credit-types/create"]
    third = stack.outputs()["credits"]

    server.clear_requests()
    stack.destroy()
    assert writes(server) == ["/v1/credit-types/archive"]
    assert third not in live_units(server)


def test_alert(tmp_path: Path, server: LocalServer, front_end: str) -> None:
    customer = post(server, "/v1/customers", {"name": unique("acme")})["id"]
    stack = new_stack(tmp_path, server, front_end)
    alert: dict[str, Any] = {
        "alert_type": "spend_threshold_reached",
        "name": "Spend over $100",
        "threshold": 10_000,
        "customer_id": customer,
    }
    declare(stack, "Alert", "spend", **alert)
    server.clear_requests()
    stack.up()
    assert writes(server) == ["/v1/alerts/create"]
    first = stack.outputs()["spend"]
    seen = post(server, "/v1/customer-alerts/get", {"customer_id": customer, "alert_id": first})
    assert (seen["alert"]["threshold"], seen["alert"]["status"]) == (10_000, "enabled")

    server.clear_requests()
    assert changes(stack) == {"same": 2}
    assert server.requests() == []

    declare(stack, "Alert", "spend", **{**alert, "threshold": 20_000})
    refused = stack.preview(expect_failure=True)
    assert "changing threshold replaces the alert" in refused.output, refused.output
    assert "Traceback" not in refused.output
    assert not stack.up(check=False).ok
    assert writes(server) == []

    declare(stack, "Alert", "spend", **{**alert, "threshold": 20_000}, allow_replace=True)
    stack.up()
    assert writes(server) == ["/v1/alerts/create", "/v1/alerts/archive"]
    second = stack.outputs()["spend"]
    assert second != first
    old = post(server, "/v1/customer-alerts/get", {"customer_id": customer, "alert_id": first})
    assert old["alert"]["status"] == "archived"

    # Refresh reads the customer's view of the alert: archived in Metronome means gone.
    post(server, "/v1/alerts/archive", {"id": second, "release_uniqueness_key": True})
    stack.refresh()
    assert state(stack, "Alert") == {}
    assert changes(stack) == {"create": 1, "same": 1}
    server.clear_requests()
    stack.up()
    assert writes(server) == ["/v1/alerts/create"]
    third = stack.outputs()["spend"]

    server.clear_requests()
    stack.destroy()
    assert writes(server) == ["/v1/alerts/archive"]
    gone = post(server, "/v1/customer-alerts/get", {"customer_id": customer, "alert_id": third})
    assert gone["alert"]["status"] == "archived"


def test_notification(tmp_path: Path, server: LocalServer, front_end: str) -> None:
    stack = new_stack(tmp_path, server, front_end)
    name = unique("renewal")

    def notification(offset: str, event: str = "contract.end", **extra: Any) -> None:
        declare(
            stack,
            "Notification",
            "renewal",
            name=name,
            policy={"offset": offset, "type": event},
            **extra,
        )

    notification("-P7D")
    server.clear_requests()
    stack.up()
    assert writes(server) == ["/v2/notifications/create"]
    notification_id = stack.outputs()["renewal"]

    server.clear_requests()
    assert changes(stack) == {"same": 2}
    assert server.requests() == []

    notification("-P14D")
    stack.up()
    assert writes(server) == ["/v2/notifications/edit"]
    assert stack.outputs()["renewal"] == notification_id
    assert stack.last_update()["resourceChanges"] == {"same": 1, "update": 1}
    live = post(server, "/v2/notifications/get", {"id": notification_id})
    assert live["policy"] == {"offset": "-P14D", "type": "contract.end"}

    server.clear_requests()
    notification("-P14D", "contract.start")
    refused = stack.preview(expect_failure=True)
    assert "changing policy replaces the notification" in refused.output, refused.output
    assert "Traceback" not in refused.output
    assert writes(server) == []

    # Edited in Metronome behind the stack's back: refresh reads the new offset, and the
    # next up puts the declared one back.
    notification("-P14D")
    post(
        server,
        "/v2/notifications/edit",
        {"id": notification_id, "policy": {"offset": "-P3D", "type": "contract.end"}},
    )
    stack.refresh()
    [recorded] = state(stack, "Notification").values()
    assert recorded["outputs"]["policy"] == {"offset": "-P3D", "type": "contract.end"}
    assert changes(stack) == {"same": 1, "update": 1}
    server.clear_requests()
    stack.up()
    assert writes(server) == ["/v2/notifications/edit"]
    live = post(server, "/v2/notifications/get", {"id": notification_id})
    assert live["policy"] == {"offset": "-P14D", "type": "contract.end"}

    server.clear_requests()
    stack.destroy()
    assert writes(server) == ["/v2/notifications/archive"]
    assert post(server, "/v2/notifications/get", {"id": notification_id})["archived_at"]
