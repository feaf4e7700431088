"""``PricingUnit``: its provider method by method against a real local server, and the same
through the real dynamic provider process over gRPC (inputs from a real program
registration). Every change replaces a unit; without ``allow_replace`` that is refused at
check (preview) before any call to Metronome."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pulumi
import pytest
import requests
from engine import PROJECT, STACK, EngineProcess
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from recording_mocks import RecordingMocks

from metronome_local.process import LocalServer
from pulumi_metronome.resources import PricingUnit, PricingUnitProvider

UNIT_TYPE = "pulumi-python:dynamic/metronome:PricingUnit"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def units(stack_config: dict[str, str]) -> PricingUnitProvider:
    provider = PricingUnitProvider()
    provider.configure(ConfigureRequest(Config(raw_config=stack_config, project_name="test")))
    return provider


def live_units(server: LocalServer) -> dict[str, str]:
    """Live custom units by id, read straight from the server's list."""
    response = requests.get(
        server.url + "/v1/credit-types/list", headers=server.headers, timeout=10
    )
    assert response.status_code == 200, response.text
    return {u["id"]: u["name"] for u in response.json()["data"] if not u["is_currency"]}


def test_lifecycle_direct(
    units: PricingUnitProvider, server: LocalServer, writes: Callable[[], list[dict]]
) -> None:
    name = unique("credits")
    checked = units.check({}, {"name": name, "__resource": "credits"})
    assert checked.failures == []
    news = checked.inputs
    assert news == {
        "name": name,
        "adopt_existing": False,
        "allow_replace": False,
        "__resource": "credits",
    }
    created = units.create(news)
    assert [w["path"] for w in writes()] == ["/v1/credit-types/create"]
    assert live_units(server)[created.id] == name
    assert created.outs == news

    assert units.diff(created.id, created.outs, news).changes is False
    read = units.read(created.id, created.outs)
    assert (read.id, read.outs) == (created.id, news)

    # A rename is refused at check without the opt-in, and nothing is written.
    server.clear_requests()
    refused = units.check(news, {**news, "name": name + "-2"})
    assert [f.property for f in refused.failures] == ["name"]
    assert "replaces it" in refused.failures[0].reason
    assert "allow_replace=True" in refused.failures[0].reason
    allowed = units.check(news, {**news, "name": name + "-2", "allow_replace": True})
    assert allowed.failures == []
    diff = units.diff(created.id, created.outs, allowed.inputs)
    assert (diff.changes, diff.replaces) == (True, ["name"])
    assert writes() == []

    units.delete(created.id, created.outs)
    assert [w["path"] for w in writes()] == ["/v1/credit-types/archive"]
    assert created.id not in live_units(server)
    # Archived: refresh reads it as gone; deleting again is harmless.
    assert units.read(created.id, created.outs).id is None
    units.delete(created.id, created.outs)


def test_check_names_bad_input_and_calls_nothing(
    units: PricingUnitProvider, writes: Callable[[], list[dict]]
) -> None:
    result = units.check({}, {"name": " ", "colour": "red"})
    assert [(f.property, f.reason) for f in result.failures] == [
        ("colour", "is not an argument of PricingUnit"),
        ("name", "must not be empty"),
    ]
    result = units.check({}, {"name": 3})
    assert [(f.property, f.reason) for f in result.failures] == [
        ("name", "Input should be a valid string")
    ]
    assert writes() == []


def test_adoption_takes_the_live_namesake(
    units: PricingUnitProvider, server: LocalServer, writes: Callable[[], list[dict]]
) -> None:
    name = unique("adopted")
    response = requests.post(
        server.url + "/v1/credit-types/create",
        json={"name": name},
        headers=server.headers,
        timeout=10,
    )
    live_id = response.json()["data"]["id"]
    server.clear_requests()
    news = units.check({}, {"name": name, "adopt_existing": True, "__resource": "a"}).inputs
    created = units.create(news)
    assert created.id == live_id
    assert writes() == []


# --- the dynamic provider process over gRPC ---------------------------------------------


def register(declare: Callable[[], pulumi.CustomResource]) -> dict[str, Any]:
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=STACK, preview=False)
    names: list[str] = []

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        resource = declare()
        names.append(resource._name)
        return resource.urn

    program()
    return dict(mocks.resources[names[0]].inputs)


@pytest.fixture(scope="module")
def engine(metronome: LocalServer) -> Iterator[EngineProcess]:
    with EngineProcess() as process:
        process.configure(
            {"metronome:bearerToken": metronome.token, "metronome:baseUrl": metronome.url},
            secrets=["metronome:bearerToken"],
        )
        yield process
        assert process.alive, process.output()


def test_lifecycle_over_grpc(engine: EngineProcess, server: LocalServer) -> None:
    name = unique("gpu")
    declared = register(lambda: PricingUnit("gpu-credits", name=name))
    checked = engine.check({}, declared, type_=UNIT_TYPE)
    assert checked.failures == []
    news = checked.inputs
    created = engine.create(news, type_=UNIT_TYPE)
    assert live_units(server)[created.id] == name
    assert engine.diff(created.id, created.properties, news, type_=UNIT_TYPE).changes == (
        "DIFF_NONE"
    )

    server.clear_requests()
    refused = engine.check(news, {**news, "name": "renamed"}, type_=UNIT_TYPE)
    assert [f.property for f in refused.failures] == ["name"]
    allowed = engine.check(
        news, {**news, "name": "renamed", "allow_replace": True}, type_=UNIT_TYPE
    )
    diff = engine.diff(created.id, created.properties, allowed.inputs, type_=UNIT_TYPE)
    assert (diff.changes, diff.replaces) == ("DIFF_SOME", ["name"])
    assert [r for r in server.requests() if r["method"] == "POST"] == []

    read = engine.read(created.id, created.properties, type_=UNIT_TYPE)
    assert read.id == created.id and read.properties["name"] == name
    engine.delete(created.id, created.properties, type_=UNIT_TYPE)
    assert created.id not in live_units(server)


@pytest.mark.parametrize("kind", ["PricingUnit", "Notification"])
def test_check_waits_for_values_unknown_until_apply(kind: str) -> None:
    """A name not known until apply (another resource's output) is checked at apply, not
    refused at preview: the declaration comes back as it is, with no failure."""
    from pulumi.runtime import rpc

    from pulumi_metronome.resources import NotificationProvider

    provider = PricingUnitProvider() if kind == "PricingUnit" else NotificationProvider()
    news: dict[str, Any] = {"name": rpc.UNKNOWN}
    if kind == "Notification":
        news["policy"] = {"offset": "-P7D", "type": "contract.end"}
    result = provider.check({}, news)
    assert list(result.failures or []) == []
    assert result.inputs == news
