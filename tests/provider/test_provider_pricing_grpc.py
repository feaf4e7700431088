"""``Product`` and ``RateCard`` through the real provider process, driven as the engine
does: inputs and ``__provider`` from a real program registration, every diff case of
issue 9 over gRPC, and the local server's request log showing what reached the API."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import dill
import pulumi
import pytest
import requests
from engine import PROJECT, STACK, EngineProcess
from pulumi.runtime import rpc
from recording_mocks import RecordingMocks

from metronome_local.process import LocalServer
from pulumi_metronome.resources import (
    Product,
    ProductProvider,
    RateArgs,
    RateCard,
    RateCardProvider,
    TierArgs,
)

PRODUCT_TYPE = "pulumi-python:dynamic/metronome:Product"
CARD_TYPE = "pulumi-python:dynamic/metronome:RateCard"
PAST = "2026-01-01T00:00:00Z"
FUTURE = "2031-01-01T00:00:00Z"
WRITES = {"POST", "PUT"}
READS = {"/v1/contract-pricing/products/get", "/v1/contract-pricing/rate-cards/get"}


def register(declare: Callable[[], pulumi.CustomResource]) -> dict[str, Any]:
    """Run a one-resource program; return the inputs the engine receives."""
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


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def engine(metronome: LocalServer) -> Iterator[EngineProcess]:
    with EngineProcess() as process:
        process.configure(
            {"metronome:bearerToken": metronome.token, "metronome:baseUrl": metronome.url},
            secrets=["metronome:bearerToken"],
        )
        yield process
        assert process.alive, process.output()


def writes(server: LocalServer) -> list[str]:
    """The paths of the writes the server saw (reads by id, like products/get, left out)."""
    return [
        r["path"]
        for r in server.requests()
        if r["method"] in WRITES
        and r["path"] not in READS
        and "/list" not in r["path"]
        and "/getRate" not in r["path"]
    ]


def checked(
    engine: EngineProcess,
    news: dict[str, Any],
    olds: dict[str, Any] | None = None,
    type_: str = PRODUCT_TYPE,
) -> dict[str, Any]:
    result = engine.check(olds or {}, news, type_=type_)
    assert result.failures == [], result.failures
    return result.inputs


def fixed_product(**extra: Any) -> dict[str, Any]:
    name = unique("fee")
    return register(lambda: Product(name, type="FIXED", tags=["fees"], **extra))


def test_providers_are_pickled_by_reference() -> None:
    raw = base64.b64decode(fixed_product()["__provider"])
    assert b"pulumi_metronome.resources.product" in raw
    assert type(dill.loads(raw)) is ProductProvider
    card = register(lambda: RateCard(unique("card")))
    raw = base64.b64decode(card["__provider"])
    assert b"pulumi_metronome.resources.rate_card" in raw
    assert type(dill.loads(raw)) is RateCardProvider


def test_product_diff_cases(engine: EngineProcess, server: LocalServer) -> None:
    news = checked(engine, fixed_product())
    created = engine.create(news, type_=PRODUCT_TYPE)
    product_id, outs = created.id, created.properties
    assert writes(server) == ["/v1/contract-pricing/products/create"]

    # No change: DIFF_NONE.
    same = checked(engine, dict(news), news)
    assert engine.diff(product_id, outs, same, type_=PRODUCT_TYPE).changes == "DIFF_NONE"

    # Name, tags: in place, one update.
    renamed = checked(engine, {**news, "name": "Onboarding", "tags": ["fees", "one-off"]}, news)
    diff = engine.diff(product_id, outs, renamed, type_=PRODUCT_TYPE)
    assert (diff.changes, diff.replaces) == ("DIFF_SOME", [])
    server.clear_requests()
    outs = engine.update(product_id, outs, renamed, type_=PRODUCT_TYPE)
    assert writes(server) == ["/v1/contract-pricing/products/update"]
    assert outs["name"] == "Onboarding"

    # Type: refused at check, with the reason; no call.
    server.clear_requests()
    refused = engine.check(renamed, {**renamed, "type": "SUBSCRIPTION"}, type_=PRODUCT_TYPE)
    assert [f.property for f in refused.failures] == ["type"]
    assert "replaces the product" in refused.failures[0].reason
    assert server.requests() == []
    # ... and a replacement with the opt-in.
    allowed = checked(engine, {**renamed, "type": "SUBSCRIPTION", "allow_replace": True}, renamed)
    diff = engine.diff(product_id, outs, allowed, type_=PRODUCT_TYPE)
    assert (diff.changes, diff.replaces) == ("DIFF_SOME", ["type"])

    # Refresh reads it back, no drift; destroy archives it.
    read = engine.read(product_id, outs, renamed, type_=PRODUCT_TYPE)
    assert read.id == product_id and read.properties["name"] == "Onboarding"
    server.clear_requests()
    engine.delete(product_id, outs, type_=PRODUCT_TYPE)
    assert writes(server) == ["/v1/contract-pricing/products/archive"]


def test_product_preview_with_an_unknown_metric(engine: EngineProcess, server: LocalServer) -> None:
    name = unique("tokens")
    news = register(
        lambda: Product(name, type="USAGE", billable_metric_id="m-1", pricing_group_key=["model"])
    )
    news["billable_metric_id"] = rpc.UNKNOWN  # the metric is created in the same run
    server.clear_requests()
    result = engine.check({}, news, type_=PRODUCT_TYPE)
    assert result.failures == []
    assert result.inputs["billable_metric_id"] == rpc.UNKNOWN
    assert server.requests() == []


def _card(rates: list[Any], **extra: Any) -> dict[str, Any]:
    name = unique("card")
    return register(lambda: RateCard(name, rates=rates, **extra))


def test_rate_card_diff_cases(engine: EngineProcess, server: LocalServer) -> None:
    response = requests.post(
        f"{server.url}/v1/contract-pricing/products/create",
        json={"name": unique("p"), "type": "FIXED"},
        headers=server.headers,
        timeout=10,
    )
    product_id = response.json()["data"]["id"]
    base = [RateArgs(product_id=product_id, rate_type="FLAT", price=10, starting_at=PAST)]
    news = checked(engine, _card(base), type_=CARD_TYPE)
    key = f"{product_id} from 2026-01-01T00:00:00.000Z"
    assert list(news["rates"]) == [key]
    server.clear_requests()
    created = engine.create(news, type_=CARD_TYPE)
    card_id, outs = created.id, created.properties
    assert writes(server) == [
        "/v1/contract-pricing/rate-cards/create",
        "/v1/contract-pricing/rate-cards/addRates",
    ]
    assert (
        engine.diff(
            card_id, outs, checked(engine, dict(news), news, CARD_TYPE), type_=CARD_TYPE
        ).changes
        == "DIFF_NONE"
    )

    # A price change from a later date: in place, one addRates.
    later_rates = [
        *base,
        RateArgs(
            product_id=product_id,
            rate_type="TIERED",
            starting_at=FUTURE,
            tiers=[TierArgs(price=2, size=100), TierArgs(price=1)],
        ),
    ]
    later = checked(engine, {**news, "rates": _card(later_rates)["rates"]}, news, CARD_TYPE)
    diff = engine.diff(card_id, outs, later, type_=CARD_TYPE)
    assert (diff.changes, diff.replaces) == ("DIFF_SOME", [])
    server.clear_requests()
    outs = engine.update(card_id, outs, later, type_=CARD_TYPE)
    assert writes(server) == ["/v1/contract-pricing/rate-cards/addRates"]

    # Retroactive price change, removal, credit type change: refused at check, no call.
    server.clear_requests()
    retro = _card(
        [
            RateArgs(product_id=product_id, rate_type="FLAT", price=11, starting_at=PAST),
            later_rates[1],
        ]
    )["rates"]
    refused = engine.check(later, {**later, "rates": retro}, type_=CARD_TYPE)
    assert [f.property for f in refused.failures] == ["rates"]
    assert "rewrite what was already billed" in refused.failures[0].reason
    removal = engine.check(later, {**later, "rates": _card(base)["rates"]}, type_=CARD_TYPE)
    assert "Metronome cannot delete a rate" in removal.failures[0].reason
    replace = engine.check(later, {**later, "fiat_credit_type_id": "eur"}, type_=CARD_TYPE)
    assert "replaces the rate card" in replace.failures[0].reason
    assert server.requests() == []

    # With the opt-in, the retroactive change goes through in place.
    allowed = checked(
        engine, {**later, "rates": retro, "allow_retroactive_rates": True}, later, CARD_TYPE
    )
    assert engine.diff(card_id, outs, allowed, type_=CARD_TYPE).changes == "DIFF_SOME"
    outs = engine.update(card_id, outs, allowed, type_=CARD_TYPE)
    assert outs["rates"][key]["price"] == 11

    # Rename in place; refresh shows no drift; destroy archives.
    renamed = checked(engine, {**allowed, "name": "List prices"}, allowed, CARD_TYPE)
    assert engine.diff(card_id, outs, renamed, type_=CARD_TYPE).replaces == []
    outs = engine.update(card_id, outs, renamed, type_=CARD_TYPE)
    read = engine.read(card_id, outs, renamed, type_=CARD_TYPE)
    assert read.properties["rates"] == renamed["rates"]
    assert read.properties["name"] == "List prices"
    server.clear_requests()
    engine.delete(card_id, outs, type_=CARD_TYPE)
    assert writes(server) == ["/v1/contract-pricing/rate-cards/archive"]


def test_rate_card_preview_with_an_unknown_product(
    engine: EngineProcess, server: LocalServer
) -> None:
    inputs = _card([RateArgs(product_id="p", rate_type="FLAT", price=1, starting_at=PAST)])
    inputs["rates"] = [{**inputs["rates"][0], "product_id": rpc.UNKNOWN}]
    server.clear_requests()
    result = engine.check({}, inputs, type_=CARD_TYPE)
    assert result.failures == []
    # (A program declaring this fails at registration already; the provider checks too.)
    bad = _card([RateArgs(product_id="p", rate_type="FLAT", price=1, starting_at=PAST)])
    del bad["rates"][0]["price"]
    result = engine.check({}, bad, type_=CARD_TYPE)
    assert [(f.property, f.reason) for f in result.failures] == [
        ("rates", "rates[0].price: is required for rate_type FLAT")
    ]
    assert server.requests() == []
