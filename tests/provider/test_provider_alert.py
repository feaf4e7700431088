"""``Alert``: its provider method by method against a real local server, and through the
real dynamic provider process over gRPC. Every change replaces an alert (refused at check
without ``allow_replace``, with no write); each create carries a uniqueness key, so a
create sent again is refused by Metronome instead of making a second alert."""

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
from pulumi_metronome.errors import ProviderRefusal
from pulumi_metronome.resources import Alert, AlertProvider

ALERT_TYPE = "pulumi-python:dynamic/metronome:Alert"


@pytest.fixture
def alerts(stack_config: dict[str, str]) -> AlertProvider:
    provider = AlertProvider()
    provider.configure(ConfigureRequest(Config(raw_config=stack_config, project_name="test")))
    return provider


def post(server: LocalServer, path: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(server.url + path, json=body, headers=server.headers, timeout=10)


def customer(server: LocalServer) -> str:
    response = post(server, "/v1/customers", {"name": f"acme-{uuid.uuid4().hex[:6]}"})
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["id"])


def live(server: LocalServer, customer_id: str, alert_id: str) -> dict[str, Any]:
    response = post(
        server, "/v1/customer-alerts/get", {"customer_id": customer_id, "alert_id": alert_id}
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]["alert"]
    return data


def spend_alert(customer_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "alert_type": "spend_threshold_reached",
        "name": "Spend over $500",
        "threshold": 50000,
        "customer_id": customer_id,
        "__resource": "spend",
        **extra,
    }


def test_lifecycle_direct(
    alerts: AlertProvider, server: LocalServer, writes: Callable[[], list[dict]]
) -> None:
    customer_id = customer(server)
    server.clear_requests()
    checked = alerts.check({}, spend_alert(customer_id))
    assert checked.failures == []
    news = checked.inputs
    key = news["uniqueness_key"]
    assert key.startswith("pulumi-")
    # The same declaration gets the same key; another definition another one.
    assert alerts.check({}, spend_alert(customer_id)).inputs["uniqueness_key"] == key
    other = alerts.check({}, spend_alert(customer_id, threshold=1)).inputs
    assert other["uniqueness_key"] != key

    created = alerts.create(news)
    assert [w["path"] for w in writes()] == ["/v1/alerts/create"]
    alert = live(server, customer_id, created.id)
    assert (alert["name"], alert["threshold"], alert["uniqueness_key"]) == (
        "Spend over $500",
        50000,
        key,
    )
    assert alerts.diff(created.id, created.outs, news).changes is False
    read = alerts.read(created.id, created.outs)
    assert (read.id, read.outs) == (created.id, created.outs)

    # The same create again (its answer lost, say): refused by Metronome, no second alert.
    with pytest.raises(ProviderRefusal, match="already exists in Metronome"):
        alerts.create(news)

    # A change is refused at check without the opt-in, with no write.
    server.clear_requests()
    refused = alerts.check(news, spend_alert(customer_id, threshold=60000))
    assert [f.property for f in refused.failures] == ["threshold"]
    assert "replaces the alert" in refused.failures[0].reason
    allowed = alerts.check(news, spend_alert(customer_id, threshold=60000, allow_replace=True))
    assert allowed.failures == []
    diff = alerts.diff(created.id, created.outs, allowed.inputs)
    assert (diff.changes, sorted(diff.replaces)) == (True, ["threshold", "uniqueness_key"])
    assert diff.delete_before_replace is False
    assert writes() == []

    alerts.delete(created.id, created.outs)
    assert [w["path"] for w in writes()] == ["/v1/alerts/archive"]
    assert live(server, customer_id, created.id)["status"] == "archived"
    assert alerts.read(created.id, created.outs).id is None
    # The key was released: the same declaration can be created again.
    assert alerts.create(news).id != created.id


def test_a_declared_key_kept_across_a_replacement_archives_first(
    alerts: AlertProvider, server: LocalServer
) -> None:
    key = f"k-{uuid.uuid4().hex[:8]}"
    news = alerts.check({}, spend_alert(customer(server), uniqueness_key=key)).inputs
    created = alerts.create(news)
    changed = alerts.check(news, {**news, "threshold": 1, "allow_replace": True}).inputs
    diff = alerts.diff(created.id, created.outs, changed)
    assert (diff.replaces, diff.delete_before_replace) == (["threshold"], True)


def test_check_names_each_broken_rule(
    alerts: AlertProvider, writes: Callable[[], list[dict]]
) -> None:
    result = alerts.check(
        {},
        {
            "alert_type": "usage_threshold_reached",
            "name": "u",
            "threshold": "lots",
            "group_values": [{"key": "region"}],
            "colour": 1,
        },
    )
    assert [(f.property, f.reason) for f in result.failures] == [
        ("colour", "is not an argument of Alert"),
        ("threshold", "Input should be a valid number"),
        (
            "group_values",
            "is only for 'spend_threshold_reached' alerts, not 'usage_threshold_reached'",
        ),
        ("billable_metric_id", "is required for 'usage_threshold_reached' alerts"),
    ]
    assert writes() == []


def test_an_alert_for_every_customer_keeps_its_recorded_state(
    alerts: AlertProvider, server: LocalServer
) -> None:
    news = alerts.check(
        {},
        {
            "alert_type": "invoice_total_reached",
            "name": "big",
            "threshold": 1e6,
            "__resource": "big",
        },
    ).inputs
    created = alerts.create(news)
    read = alerts.read(created.id, created.outs)
    assert (read.id, read.outs) == (created.id, created.outs)
    # Imported by its id alone: two customers see it, so it is for everyone: refused.
    for name in ("acme", "globex"):
        made = requests.post(
            server.url + "/v1/customers", json={"name": name}, headers=server.headers, timeout=10
        )
        assert made.status_code == 200, made.text
    with pytest.raises(ProviderRefusal, match="applies to every customer"):
        alerts.read(created.id, {})
    alerts.delete(created.id, created.outs)


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
    customer_id = customer(server)
    declared = register(
        lambda: Alert(
            "spend",
            alert_type="spend_threshold_reached",
            threshold=50000,
            customer_id=customer_id,
        )
    )
    checked = engine.check({}, declared, type_=ALERT_TYPE)
    assert checked.failures == []
    news = checked.inputs
    created = engine.create(news, type_=ALERT_TYPE)
    assert live(server, customer_id, created.id)["name"] == "spend"
    assert engine.diff(created.id, created.properties, news, type_=ALERT_TYPE).changes == (
        "DIFF_NONE"
    )
    server.clear_requests()
    refused = engine.check(news, {**declared, "threshold": 1}, type_=ALERT_TYPE)
    assert [f.property for f in refused.failures] == ["threshold"]
    assert [r for r in server.requests() if r["method"] == "POST"] == []
    read = engine.read(created.id, created.properties, type_=ALERT_TYPE)
    assert read.id == created.id and read.properties["threshold"] == 50000
    engine.delete(created.id, created.properties, type_=ALERT_TYPE)
    assert live(server, customer_id, created.id)["status"] == "archived"
