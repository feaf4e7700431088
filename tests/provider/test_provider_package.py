"""The ``Package`` provider, method by method, against a real local server.

A package never changes in Metronome: a change is a new package taking the aliases over
from ``alias_cutover``, refused at check (preview) without ``allow_replace``; the old one
is archived only when no contract is on it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from pulumi.runtime import rpc

from metronome_local.process import LocalServer
from pulumi_metronome.resources import PackageProvider
from pulumi_metronome.resources.diffs import DiffKind

FUTURE = "2031-01-01T00:00:00Z"


@pytest.fixture
def packages(stack_config: dict[str, str]) -> PackageProvider:
    provider = PackageProvider()
    provider.configure(ConfigureRequest(Config(raw_config=stack_config, project_name="test")))
    return provider


def api(server: LocalServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(server.url + path, json=body, headers=server.headers, timeout=10)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def checked(
    provider: PackageProvider, news: dict[str, Any], olds: dict[str, Any] | None = None
) -> dict[str, Any]:
    result = provider.check(olds or {}, news)
    assert result.failures == [], [(f.property, f.reason) for f in result.failures]
    inputs: dict[str, Any] = result.inputs
    return inputs


def failures(
    provider: PackageProvider, olds: dict[str, Any], news: dict[str, Any]
) -> list[tuple[str, str]]:
    return [(f.property, f.reason) for f in provider.check(olds, news).failures]


def _card(server: LocalServer) -> str:
    return str(
        api(server, "/v1/contract-pricing/rate-cards/create", {"name": "List"})["data"]["id"]
    )


def _declared(card: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "Starter",
        "rate_card_id": card,
        "aliases": [{"name": "starter"}],
        "overrides": [
            {
                "override_specifiers": [{"product_tags": ["ai"]}],
                "starting_at_offset": {"unit": "DAYS", "value": 0},
                "type": "MULTIPLIER",
                "multiplier": 0.9,
            }
        ],
        "__resource": "starter",
        **extra,
    }


def test_check_names_every_problem(packages: PackageProvider) -> None:
    got = failures(
        packages,
        {},
        {
            "name": "x",
            "overrides": [
                {
                    "override_specifiers": [],
                    "starting_at_offset": {"unit": "DAYS", "value": 0},
                    "type": "OVERWRITE",
                    "multiplier": 2,
                }
            ],
            "alias_cutover": "tomorrow",
            "colour": "red",
        },
    )
    assert ("colour", "is not an argument of Package") in got
    assert ("overrides", "overrides[0].override_specifiers: must not be empty") in got
    assert ("rate_card_id", "is required (or rate_card_alias)") in got
    assert ("alias_cutover", "must be an RFC 3339 time with its zone") in got


def test_lifecycle_replace_with_cutover(
    packages: PackageProvider, server: LocalServer, writes: Callable[[], list[dict]]
) -> None:
    card = _card(server)
    inputs = checked(packages, _declared(card, alias_cutover=FUTURE))
    # The cutover dates the alias that has no start of its own.
    assert inputs["aliases"] == [{"name": "starter", "starting_at": "2031-01-01T00:00:00.000Z"}]
    created = packages.create(inputs)
    old_id = created.id
    assert [r["path"] for r in writes()][-1] == "/v1/packages/create"
    state = created.outs

    # A no-op: the same declaration checks to the same inputs, and the diff is empty.
    assert not packages.diff(
        old_id, state, checked(packages, _declared(card, alias_cutover=FUTURE), state)
    ).changes

    # A change without the opt-in is refused at check, before any call.
    server.clear_requests()
    cheaper = _declared(card, alias_cutover=FUTURE)
    cheaper["overrides"][0]["multiplier"] = 0.8
    refused = failures(packages, state, cheaper)
    assert refused and refused[0][0] == "overrides"
    assert "replaces the package" in refused[0][1] and "allow_replace" in refused[0][1]
    # With the opt-in but a past cutover: refused, naming alias_cutover.
    past = {**cheaper, "allow_replace": True, "alias_cutover": "2020-01-01T00:00:00Z"}
    assert failures(packages, state, past)[0][0] == "alias_cutover"
    # With the opt-in and no cutover: refused too.
    none = {**cheaper, "allow_replace": True, "alias_cutover": None}
    assert failures(packages, state, none)[0][0] == "alias_cutover"
    assert writes() == []

    # With both: a replacement, the cutover shown in the aliases that force it.
    cutover = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    stamp = cutover.isoformat().replace("+00:00", "Z")
    news = checked(packages, {**cheaper, "allow_replace": True, "alias_cutover": stamp}, state)
    diff = packages.plan(old_id, state, news)
    assert set(diff.replaces) == {"aliases", "overrides"}
    assert diff.detailed[("aliases",)] == DiffKind.UPDATE_REPLACE
    assert news["aliases"][0]["starting_at"] == cutover.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    # The engine creates the new one, then deletes the old one: archived (no contract).
    replaced = packages.create(news)
    new_id = replaced.id
    packages.delete(old_id, state)
    # The next preview of the same declaration: no change.
    again = checked(
        packages, {**cheaper, "allow_replace": True, "alias_cutover": stamp}, replaced.outs
    )
    assert again["aliases"] == news["aliases"]
    assert not packages.diff(new_id, replaced.outs, again).changes
    assert api(server, "/v1/packages/get", {"package_id": old_id})["data"]["archived_at"]
    live_new = api(server, "/v1/packages/get", {"package_id": new_id})["data"]
    assert live_new["overrides"][0]["multiplier"] == 0.8
    assert packages.read(old_id, state).id is None  # archived: gone for the stack


def test_an_unknown_field_of_a_stored_package_is_refused_without_the_opt_in(
    packages: PackageProvider, server: LocalServer, writes: Callable[[], list[dict]]
) -> None:
    """A rate card being replaced gives the package an unknown ``rate_card_id`` at preview:
    the package may be replaced, so that needs the opt-in too."""
    card = _card(server)
    state = packages.create(checked(packages, _declared(card))).outs
    server.clear_requests()
    news = _declared(card)
    news["rate_card_id"] = rpc.UNKNOWN
    refused = failures(packages, state, news)
    assert [p for p, _ in refused] == ["rate_card_id"]
    assert "is not known until apply" in refused[0][1] and "allow_replace" in refused[0][1]
    assert failures(packages, state, {**news, "allow_replace": True}) == []
    assert writes() == []


def test_old_package_with_contracts_is_left_and_said(
    packages: PackageProvider, server: LocalServer, capsys: pytest.CaptureFixture[str]
) -> None:
    card = _card(server)
    state = packages.create(checked(packages, _declared(card, aliases=None))).outs
    package_id = packages.create(checked(packages, _declared(card, aliases=None))).id
    contract = api(
        server,
        "/v1/contracts/create",
        {"customer_id": "c1", "starting_at": "2027-01-01T00:00:00Z", "package_id": package_id},
    )["data"]["id"]
    server.clear_requests()
    packages.delete(package_id, state)
    assert "archived_at" not in api(server, "/v1/packages/get", {"package_id": package_id})["data"]
    said = capsys.readouterr().err
    assert f"package {package_id}" in said and "1 contract(s)" in said and contract in said
    paths = [r["path"] for r in server.requests()]
    assert "/v1/packages/archive" not in paths


def test_import_by_id_alone_reads_the_declaration(
    packages: PackageProvider, server: LocalServer
) -> None:
    card = _card(server)
    inputs = checked(packages, _declared(card, alias_cutover=FUTURE))
    package_id = packages.create(inputs).id
    read = packages.read(package_id, {})
    assert read.id == package_id
    assert read.inputs is not None
    declared = {
        k: v for k, v in inputs.items() if k not in ("__resource", "alias_cutover", "allow_replace")
    }
    got = {k: v for k, v in read.inputs.items() if k not in ("alias_cutover", "allow_replace")}
    assert got == declared
