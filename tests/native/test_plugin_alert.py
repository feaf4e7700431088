"""``metronome:index:Alert`` through the plugin process over gRPC: camelCase check, the
replacement refused at check with no write, the detailed diff once allowed, the
lifecycle, and import by its id alone: a customer's alert is found through the customer it
applies to; an alert for every customer is refused."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
import requests
from plugin_engine import PluginProcess

from metronome_local.process import LocalServer

ALERT = "metronome:index:Alert"


@pytest.fixture(scope="module")
def plugin(metronome: LocalServer) -> Iterator[PluginProcess]:
    with PluginProcess() as process:
        process.configure_plugin({"bearerToken": metronome.token, "baseUrl": metronome.url})
        yield process
        assert process.alive, process.output()


def customer(server: LocalServer) -> str:
    response = requests.post(
        server.url + "/v1/customers",
        json={"name": f"acme-{uuid.uuid4().hex[:6]}"},
        headers=server.headers,
        timeout=10,
    )
    return str(response.json()["data"]["id"])


def posts(server: LocalServer) -> list[str]:
    return [r["path"] for r in server.requests() if r["method"] == "POST"]


def checked(
    plugin: PluginProcess,
    news: dict[str, Any],
    olds: dict[str, Any] | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    result = plugin.check(olds or {}, news, type_=ALERT, name=name)
    assert result.failures == [], result.failures
    return result.inputs


def test_alert_lifecycle(plugin: PluginProcess, server: Any) -> None:
    customer_id = customer(server)
    declared = {
        "alertType": "usage_threshold_reached",
        "name": "Heavy usage",
        "threshold": 1000,
        "billableMetricId": "m-1",
        "customerId": customer_id,
        "evaluateOnCreate": False,
    }
    news = checked(plugin, declared)
    assert news["uniquenessKey"].startswith("pulumi-")
    assert news["allowReplace"] is False
    server.clear_requests()
    created = plugin.create(news, type_=ALERT)
    assert posts(server) == ["/v1/alerts/create"]
    assert created.properties == news

    same = plugin.detailed_diff(created.id, created.properties, checked(plugin, declared))
    assert same == ("DIFF_NONE", [], {}, False)

    server.clear_requests()
    refused = plugin.check(news, {**declared, "name": "Heavier"}, type_=ALERT)
    assert [f.property for f in refused.failures] == ["name"]
    assert "allowReplace: true" in refused.failures[0].reason
    allowed = checked(plugin, {**declared, "name": "Heavier", "allowReplace": True}, news)
    diff = plugin.detailed_diff(created.id, created.properties, allowed, type_=ALERT)
    assert diff == (
        "DIFF_SOME",
        ["name", "uniquenessKey"],
        {"name": "UPDATE_REPLACE", "uniquenessKey": "UPDATE_REPLACE"},
        False,
    )
    assert posts(server) == []

    read = plugin.read(created.id, created.properties, type_=ALERT)
    assert (read.id, read.properties) == (created.id, created.properties)

    server.clear_requests()
    plugin.delete(created.id, created.properties, type_=ALERT)
    assert posts(server) == ["/v1/alerts/archive"]
    assert plugin.read(created.id, created.properties, type_=ALERT).id == ""


def test_check_failures_name_camel_case_properties(plugin: PluginProcess) -> None:
    result = plugin.check(
        {}, {"alertType": "usage_threshold_reached", "name": "u", "threshold": 1}, type_=ALERT
    )
    assert [(f.property, f.reason) for f in result.failures] == [
        ("billableMetricId", "is required for 'usage_threshold_reached' alerts")
    ]


def test_import_by_id_finds_the_customer_and_refuses_an_alert_for_everyone(
    plugin: PluginProcess, server: LocalServer
) -> None:
    ours, other = customer(server), customer(server)
    declared = {
        "alertType": "spend_threshold_reached",
        "name": "Spend over $100",
        "threshold": 10_000,
        "customerId": ours,
    }
    created = plugin.create(checked(plugin, declared), type_=ALERT)
    read = plugin.read(created.id, {}, None, type_=ALERT, name="imported")
    assert read.id == created.id and read.inputs is not None
    assert (read.inputs["customerId"], read.inputs["threshold"]) == (ours, 10_000)
    assert other != ours
    again = plugin.check({}, read.inputs, type_=ALERT, name="imported")
    assert again.failures == []
    diff = plugin.detailed_diff(created.id, read.properties, again.inputs, type_=ALERT)
    assert diff[:3] == ("DIFF_NONE", [], {})

    everyone = {k: v for k, v in declared.items() if k != "customerId"}
    broad = plugin.create(checked(plugin, everyone, name="broad"), type_=ALERT)
    server.clear_requests()
    with pytest.raises(grpc.RpcError) as caught:
        plugin.read(broad.id, {}, None, type_=ALERT, name="imported-broad")
    assert "applies to every customer" in str(caught.value.details())
    assert [p for p in posts(server) if "/get" not in p] == []
