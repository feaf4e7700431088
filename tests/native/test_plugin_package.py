"""``metronome:index:Package`` through the plugin process over gRPC, as the engine drives it:
check in camelCase, the replacement refused without ``allowReplace``, the detailed diff
showing the alias cutover, the lifecycle (create the new package, archive the old one),
and import by id alone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from plugin_engine import PluginProcess

from metronome_local.process import LocalServer

PACKAGE = "metronome:index:Package"
FUTURE = "2031-01-01T00:00:00Z"


@pytest.fixture(scope="module")
def plugin(metronome: LocalServer) -> Iterator[PluginProcess]:
    with PluginProcess() as process:
        process.configure_plugin({"bearerToken": metronome.token, "baseUrl": metronome.url})
        yield process
        assert process.alive, process.output()


def api(server: LocalServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(server.url + path, json=body, headers=server.headers, timeout=10)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def writes(server: LocalServer) -> list[str]:
    return [
        r["path"]
        for r in server.requests()
        if r["method"] == "POST" and not r["path"].endswith(("/get", "/list"))
    ]


def declared(card: str, **extra: Any) -> dict[str, Any]:
    """A package as a YAML or TypeScript program declares it."""
    return {
        "name": f"starter-{uuid.uuid4().hex[:6]}",
        "rateCardId": card,
        "aliases": [{"name": "starter"}],
        "duration": {"unit": "YEARS", "value": 1},
        "overrides": [
            {
                "overrideSpecifiers": [{"productTags": ["ai"]}],
                "startingAtOffset": {"unit": "DAYS", "value": 0},
                "type": "MULTIPLIER",
                "multiplier": 0.9,
            }
        ],
        "aliasCutover": FUTURE,
        **extra,
    }


def test_package_lifecycle_over_grpc(plugin: PluginProcess, server: LocalServer) -> None:
    card = str(api(server, "/v1/contract-pricing/rate-cards/create", {"name": "L"})["data"]["id"])
    program = declared(card)
    checked = plugin.check({}, program, type_=PACKAGE)
    assert checked.failures == [], checked.failures
    news = checked.inputs
    assert news["aliases"] == [{"name": "starter", "startingAt": "2031-01-01T00:00:00.000Z"}]
    assert news["overrides"][0]["overrideSpecifiers"] == [{"productTags": ["ai"]}]
    created = plugin.create(news, type_=PACKAGE)
    live = api(server, "/v1/packages/get", {"package_id": created.id})["data"]
    assert live["overrides"][0]["multiplier"] == 0.9

    # A changed multiplier without the opt-in: refused at check, naming the property.
    server.clear_requests()
    changed = {**program, "overrides": [{**program["overrides"][0], "multiplier": 0.8}]}
    refused = plugin.check(news, changed, type_=PACKAGE)
    assert [f.property for f in refused.failures] == ["overrides"]
    assert "replaces the package" in refused.failures[0].reason
    assert "allowReplace" in refused.failures[0].reason
    assert writes(server) == []

    # With the opt-in and a future cutover: a replacement, the cutover in the diff.
    cutover = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT%H:00:00.000Z")
    allowed = plugin.check(
        news, {**changed, "allowReplace": True, "aliasCutover": cutover}, type_=PACKAGE
    )
    assert allowed.failures == [], allowed.failures
    assert allowed.inputs["aliases"] == [{"name": "starter", "startingAt": cutover}]
    diff = plugin.detailed_diff(created.id, created.properties, allowed.inputs, type_=PACKAGE)
    changes, replaces, detailed, delete_first = diff
    assert (changes, sorted(replaces), delete_first) == (
        "DIFF_SOME",
        ["aliases", "overrides"],
        False,
    )
    assert detailed["aliases"] == "UPDATE_REPLACE"
    assert detailed["overrides"] == "UPDATE_REPLACE"

    replacement = plugin.create(allowed.inputs, type_=PACKAGE)
    plugin.delete(created.id, created.properties, type_=PACKAGE)
    old = api(server, "/v1/packages/get", {"package_id": created.id})["data"]
    assert "archived_at" in old
    # The old package's alias would only have started in 2031, after the cutover: the new
    # package holds it from the cutover on, so the old one keeps none of it.
    assert old["aliases"] == []
    new = api(server, "/v1/packages/get", {"package_id": replacement.id})["data"]
    assert new["aliases"] == [{"name": "starter", "starting_at": cutover}]


def test_import_by_id_alone(plugin: PluginProcess, server: LocalServer) -> None:
    card = str(api(server, "/v1/contract-pricing/rate-cards/create", {"name": "L"})["data"]["id"])
    news = plugin.check({}, declared(card), type_=PACKAGE).inputs
    created = plugin.create(news, type_=PACKAGE)
    read = plugin.read(created.id, {}, None, type_=PACKAGE, name="imported-package")
    assert read.id == created.id
    assert read.inputs is not None
    again = plugin.check({}, read.inputs, type_=PACKAGE, name="imported-package")
    assert again.failures == [] and again.inputs == read.inputs
    expected = {k: v for k, v in news.items() if k not in ("aliasCutover",)}
    assert {k: v for k, v in read.inputs.items() if k != "aliasCutover"} == expected
    diff = plugin.detailed_diff(created.id, read.properties, again.inputs, type_=PACKAGE)
    assert diff[:3] == ("DIFF_NONE", [], {})
