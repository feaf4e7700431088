"""``metronome:index:Notification`` through the plugin process over gRPC: the offset
changes in place (detailed diff ``policy`` UPDATE), the event type replaces (refused at
check with no write, ``UPDATE_REPLACE`` once allowed), and import by id alone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from plugin_engine import PluginProcess

from metronome_local.process import LocalServer

NOTIFICATION = "metronome:index:Notification"


@pytest.fixture(scope="module")
def plugin(metronome: LocalServer) -> Iterator[PluginProcess]:
    with PluginProcess() as process:
        process.configure_plugin({"bearerToken": metronome.token, "baseUrl": metronome.url})
        yield process
        assert process.alive, process.output()


def posts(server: LocalServer) -> list[str]:
    return [r["path"] for r in server.requests() if r["method"] == "POST"]


def checked(
    plugin: PluginProcess, news: dict[str, Any], olds: dict[str, Any] | None = None
) -> dict[str, Any]:
    result = plugin.check(olds or {}, news, type_=NOTIFICATION)
    assert result.failures == [], result.failures
    return result.inputs


def declared(offset: str = "-P7D", type_: str = "contract.end") -> dict[str, Any]:
    return {"name": "Renewal reminder", "policy": {"offset": offset, "type": type_}}


def test_notification_lifecycle(plugin: PluginProcess, server: Any) -> None:
    news = checked(plugin, declared())
    assert news["uniquenessKey"].startswith("pulumi-") and news["allowReplace"] is False
    server.clear_requests()
    created = plugin.create(news, type_=NOTIFICATION)
    assert posts(server) == ["/v2/notifications/create"]

    later = checked(plugin, declared("-P14D"), news)
    diff = plugin.detailed_diff(created.id, created.properties, later, type_=NOTIFICATION)
    assert diff == ("DIFF_SOME", [], {"policy": "UPDATE"}, False)
    server.clear_requests()
    outs = plugin.update(created.id, created.properties, later, type_=NOTIFICATION)
    assert posts(server) == ["/v2/notifications/edit"]
    assert outs == later

    server.clear_requests()
    refused = plugin.check(outs, declared("-P14D", "contract.start"), type_=NOTIFICATION)
    assert [f.property for f in refused.failures] == ["policy"]
    assert "allowReplace: true" in refused.failures[0].reason
    allowed = checked(plugin, {**declared("-P14D", "contract.start"), "allowReplace": True}, outs)
    diff = plugin.detailed_diff(created.id, outs, allowed, type_=NOTIFICATION)
    assert diff == ("DIFF_SOME", ["policy"], {"policy": "UPDATE_REPLACE"}, False)
    assert posts(server) == []

    plugin.delete(created.id, outs, type_=NOTIFICATION)
    assert plugin.read(created.id, outs, type_=NOTIFICATION).id == ""


def test_import_by_id_then_no_change(plugin: PluginProcess) -> None:
    created = plugin.create(checked(plugin, declared("P1D", "contract.start")), type_=NOTIFICATION)
    name = f"imported-{uuid.uuid4().hex[:6]}"
    read = plugin.read(created.id, {}, None, type_=NOTIFICATION, name=name)
    assert read.id == created.id and read.inputs is not None
    assert read.inputs["policy"] == {"offset": "P1D", "type": "contract.start"}
    again = plugin.check({}, read.inputs, type_=NOTIFICATION, name=name)
    assert again.failures == []
    diff = plugin.detailed_diff(created.id, read.properties, again.inputs, type_=NOTIFICATION)
    assert diff[:3] == ("DIFF_NONE", [], {})
