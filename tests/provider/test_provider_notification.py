"""``Notification``: its provider method by method against a real local server, and
through the real dynamic provider process over gRPC. The offset changes in place (one
edit); a change of name or event type replaces it, refused at check without
``allow_replace`` with no write."""

from __future__ import annotations

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
from pulumi_metronome.errors import ProviderRefusal
from pulumi_metronome.resources import Notification, NotificationProvider

NOTIFICATION_TYPE = "pulumi-python:dynamic/metronome:Notification"


@pytest.fixture
def notifications(stack_config: dict[str, str]) -> NotificationProvider:
    provider = NotificationProvider()
    provider.configure(ConfigureRequest(Config(raw_config=stack_config, project_name="test")))
    return provider


def live(server: LocalServer, notification_id: str) -> dict[str, Any]:
    response = requests.post(
        server.url + "/v2/notifications/get",
        json={"id": notification_id},
        headers=server.headers,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def renewal(**extra: Any) -> dict[str, Any]:
    return {
        "name": "Renewal reminder",
        "policy": {"offset": "-P7D", "type": "contract.end"},
        "__resource": "renewal",
        **extra,
    }


def test_lifecycle_direct(
    notifications: NotificationProvider,
    server: LocalServer,
    writes: Callable[[], list[dict]],
) -> None:
    news = notifications.check({}, renewal()).inputs
    assert news["uniqueness_key"].startswith("pulumi-")
    created = notifications.create(news)
    assert [w["path"] for w in writes()] == ["/v2/notifications/create"]
    assert live(server, created.id)["policy"] == {"offset": "-P7D", "type": "contract.end"}
    assert notifications.diff(created.id, created.outs, news).changes is False

    # The same create again: refused by Metronome (409), no second notification.
    with pytest.raises(ProviderRefusal, match="already exists in Metronome"):
        notifications.create(news)

    # The offset: in place, one edit.
    server.clear_requests()
    later = notifications.check(news, renewal(policy={"offset": "-P14D", "type": "contract.end"}))
    assert later.failures == []
    diff = notifications.diff(created.id, created.outs, later.inputs)
    assert (diff.changes, diff.replaces) == (True, [])
    outs = notifications.update(created.id, created.outs, later.inputs).outs
    assert [w["path"] for w in writes()] == ["/v2/notifications/edit"]
    assert live(server, created.id)["policy"]["offset"] == "-P14D"
    read = notifications.read(created.id, outs)
    assert (read.id, read.outs) == (created.id, outs)

    # Name or event type: refused without the opt-in, with no write.
    server.clear_requests()
    refused = notifications.check(outs, renewal(name="Renewal"))
    assert [f.property for f in refused.failures] == ["name"]
    refused = notifications.check(outs, renewal(policy={"offset": "P1D", "type": "contract.start"}))
    assert [f.property for f in refused.failures] == ["policy"]
    assert "replaces the notification" in refused.failures[0].reason
    allowed = notifications.check(outs, renewal(name="Renewal", allow_replace=True))
    assert allowed.failures == []
    diff = notifications.diff(created.id, outs, allowed.inputs)
    assert (diff.changes, diff.replaces) == (True, ["name"])
    assert writes() == []

    notifications.delete(created.id, outs)
    assert [w["path"] for w in writes()] == ["/v2/notifications/archive"]
    assert live(server, created.id)["archived_at"]
    assert notifications.read(created.id, outs).id is None


def test_a_replacement_with_the_same_declared_key_is_refused(
    notifications: NotificationProvider,
) -> None:
    olds = notifications.check({}, renewal(uniqueness_key="renewal-v1")).inputs
    refused = notifications.check(
        olds, renewal(name="Renewal", uniqueness_key="renewal-v1", allow_replace=True)
    )
    assert [(f.property, f.reason.split(":")[0]) for f in refused.failures] == [
        ("uniqueness_key", "a replacement needs a new uniqueness key")
    ]


def test_check_names_bad_input(
    notifications: NotificationProvider, writes: Callable[[], list[dict]]
) -> None:
    result = notifications.check({}, renewal(policy={"offset": "a week", "type": ""}))
    assert [(f.property, f.reason) for f in result.failures] == [
        (
            "policy",
            "policy.offset: 'a week' is not an ISO-8601 duration (e.g. P1D, -PT2H, P1W, -P1DT12H)",
        ),
        ("policy", "policy.type: must not be empty"),
    ]
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
    declared = register(
        lambda: Notification("renewal", policy={"offset": "-P7D", "type": "contract.end"})
    )
    news = engine.check({}, declared, type_=NOTIFICATION_TYPE).inputs
    created = engine.create(news, type_=NOTIFICATION_TYPE)
    assert live(server, created.id)["name"] == "renewal"
    later = engine.check(
        news,
        {**declared, "policy": {"offset": "-P14D", "type": "contract.end"}},
        type_=NOTIFICATION_TYPE,
    ).inputs
    diff = engine.diff(created.id, created.properties, later, type_=NOTIFICATION_TYPE)
    assert (diff.changes, diff.replaces) == ("DIFF_SOME", [])
    outs = engine.update(created.id, created.properties, later, type_=NOTIFICATION_TYPE)
    assert live(server, created.id)["policy"]["offset"] == "-P14D"
    server.clear_requests()
    refused = engine.check(outs, {**declared, "name": "other"}, type_=NOTIFICATION_TYPE)
    assert [f.property for f in refused.failures] == ["name"]
    assert [r for r in server.requests() if r["method"] == "POST"] == []
    engine.delete(created.id, outs, type_=NOTIFICATION_TYPE)
    assert live(server, created.id)["archived_at"]
