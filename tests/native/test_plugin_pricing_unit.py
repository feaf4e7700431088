"""``metronome:index:PricingUnit`` through the plugin process over gRPC: check with camelCase
names, the replacement refused at check with no write, the detailed diff once allowed, the
lifecycle, and import by id alone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from plugin_engine import PluginProcess

from metronome_local.process import LocalServer

UNIT = "metronome:index:PricingUnit"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def plugin(metronome: LocalServer) -> Iterator[PluginProcess]:
    with PluginProcess() as process:
        process.configure_plugin({"bearerToken": metronome.token, "baseUrl": metronome.url})
        yield process
        assert process.alive, process.output()


def posts(server: LocalServer) -> list[str]:
    return [r["path"] for r in server.requests() if r["method"] == "POST"]


def checked(
    plugin: PluginProcess,
    news: dict[str, Any],
    olds: dict[str, Any] | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    result = plugin.check(olds or {}, news, type_=UNIT, name=name)
    assert result.failures == [], result.failures
    return result.inputs


def test_pricing_unit_lifecycle(plugin: PluginProcess, server: Any) -> None:
    name = unique("credits")
    news = checked(plugin, {"name": name})
    assert news == {"name": name, "allowReplace": False, "adoptExisting": False}
    server.clear_requests()
    created = plugin.create(news, type_=UNIT)
    assert posts(server) == ["/v1/credit-types/create"]
    assert created.properties == news

    same = plugin.detailed_diff(created.id, created.properties, checked(plugin, {"name": name}))
    assert same == ("DIFF_NONE", [], {}, False)

    server.clear_requests()
    refused = plugin.check(news, {**news, "name": "renamed"}, type_=UNIT)
    assert [f.property for f in refused.failures] == ["name"]
    assert "allowReplace: true" in refused.failures[0].reason
    allowed = checked(plugin, {**news, "name": "renamed", "allowReplace": True}, news)
    diff = plugin.detailed_diff(created.id, created.properties, allowed, type_=UNIT)
    assert diff == ("DIFF_SOME", ["name"], {"name": "UPDATE_REPLACE"}, False)
    assert posts(server) == []

    server.clear_requests()
    plugin.delete(created.id, created.properties, type_=UNIT)
    assert posts(server) == ["/v1/credit-types/archive"]
    assert plugin.read(created.id, created.properties, type_=UNIT).id == ""


def test_import_by_id_gives_the_inputs_check_writes(plugin: PluginProcess) -> None:
    news = checked(plugin, {"name": unique("imp")})
    created = plugin.create(news, type_=UNIT)
    name = unique("imported")
    read = plugin.read(created.id, {}, None, type_=UNIT, name=name)
    assert (read.id, read.inputs) == (created.id, news)
    assert checked(plugin, read.inputs, name=name) == read.inputs
    diff = plugin.detailed_diff(created.id, read.properties, read.inputs, type_=UNIT)
    assert diff == ("DIFF_NONE", [], {}, False)


def test_check_failures_name_the_property(plugin: PluginProcess) -> None:
    result = plugin.check({}, {"name": ""}, type_=UNIT)
    assert [(f.property, f.reason) for f in result.failures] == [("name", "must not be empty")]
