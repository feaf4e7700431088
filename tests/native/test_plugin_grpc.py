"""The plugin ``pulumi-resource-metronome`` as a real process, driven over gRPC as the engine
drives it: configuration, check, detailed diffs and refusals, the lifecycle against the local
server, import by id alone, concurrency, and the token kept out of everything it returns.

Expected values are written by hand in the plugin's terms (camelCase properties, a rate
card's schedule as a list ordered by product, pricing group values and ``startingAt``).
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from typing import Any

import grpc
import pytest
import requests
from plugin_engine import CARD, KEY, METRIC, PRODUCT, PluginProcess
from pulumi.runtime import rpc

from metronome_local.process import LocalServer

PAST = "2026-01-01T00:00:00Z"
FUTURE = "2031-01-01T00:00:00Z"
READ_PATHS = ("/get", "/list", "/getRate", "/listKeys")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def plugin(metronome: LocalServer) -> Iterator[PluginProcess]:
    """One plugin process for the module, configured as the engine configures it."""
    with PluginProcess() as process:
        response = process.configure_plugin(
            {"bearerToken": metronome.token, "baseUrl": metronome.url}
        )
        assert (response.acceptSecrets, response.supportsPreview) == (False, False)
        yield process
        assert process.alive, process.output()


def writes(server: LocalServer) -> list[str]:
    return [
        r["path"]
        for r in server.requests()
        if r["method"] in ("POST", "PUT") and not r["path"].endswith(READ_PATHS)
    ]


def by_content(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def checked(
    plugin: PluginProcess,
    news: dict[str, Any],
    olds: dict[str, Any] | None = None,
    *,
    type_: str = METRIC,
    name: str | None = None,
) -> dict[str, Any]:
    result = plugin.check(olds or {}, news, type_=type_, name=name)
    assert result.failures == [], result.failures
    return result.inputs


def tokens_metric(name: str, **extra: Any) -> dict[str, Any]:
    """A SUM-of-tokens metric as a YAML or TypeScript program declares it."""
    return {
        "name": name,
        "aggregationType": "sum",
        "aggregationKey": "tokens",
        "eventTypeFilter": {"inValues": ["completion"]},
        "propertyFilters": [
            {"name": "tokens", "exists": True},
            {"name": "region", "inValues": ["us", "eu"]},
            {"name": "model", "inValues": ["small", "large"]},
        ],
        "groupKeys": [["model", "region"]],
        **extra,
    }


def new_product(server: LocalServer) -> str:
    response = requests.post(
        f"{server.url}/v1/contract-pricing/products/create",
        json={"name": unique("p"), "type": "FIXED"},
        headers=server.headers,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["id"])


# ----------------------------------------------------------------------- the plugin itself


def test_plugin_reports_its_version_and_schema(plugin: PluginProcess) -> None:
    assert plugin.plugin_version() == metadata.version("pulumi-metronome")
    schema = plugin.schema()
    assert schema["name"] == "metronome"
    assert sorted(schema["resources"]) == sorted(
        [
            METRIC,
            KEY,
            PRODUCT,
            CARD,
            "metronome:index:PricingUnit",
            "metronome:index:Alert",
            "metronome:index:Notification",
            "metronome:index:Package",
        ]
    )
    assert schema["config"]["variables"]["bearerToken"]["secret"] is True


def test_configure_falls_back_to_the_environment(metronome: LocalServer, server: Any) -> None:
    env = {"METRONOME_BEARER_TOKEN": metronome.token, "METRONOME_BASE_URL": metronome.url}
    import os

    with PluginProcess(env={**os.environ, **env}) as process:
        process.configure_plugin({})
        created = process.create(checked(process, tokens_metric(unique("env"))))
        assert created.id
    assert writes(server) == ["/v1/billable-metrics/create"]


def test_a_missing_token_fails_create_with_how_to_set_it(
    metronome: LocalServer, server: Any
) -> None:
    unset = ["METRONOME_BEARER_TOKEN", "METRONOME_BASE_URL"]
    with PluginProcess(unset_env=unset) as process:
        process.configure_plugin({"baseUrl": metronome.url})
        inputs = checked(process, tokens_metric(unique("no-token")))  # check needs no token
        with pytest.raises(grpc.RpcError) as caught:
            process.create(inputs)
        assert process.alive
    details = caught.value.details()
    assert details.startswith("pulumi-metronome refused: ")
    assert "pulumi config set --secret metronome:bearerToken" in details
    assert "METRONOME_BEARER_TOKEN" in details
    assert "Traceback" not in details and 'File "' not in details
    assert server.requests() == []


def test_a_malformed_base_url_fails_configure_naming_the_setting() -> None:
    with PluginProcess() as process, pytest.raises(grpc.RpcError) as caught:
        process.configure_plugin({"bearerToken": "t", "baseUrl": "ftp://nowhere"})
    assert caught.value.details().startswith("pulumi-metronome refused: the stack config ")
    assert "metronome:baseUrl 'ftp://nowhere'" in caught.value.details()


def test_the_token_never_reaches_outputs_errors_or_logs(metronome: LocalServer) -> None:
    secret = f"sekrit-{uuid.uuid4().hex}"
    with PluginProcess() as process:
        process.configure_plugin({"bearerToken": secret, "baseUrl": metronome.url})
        inputs = checked(process, tokens_metric(unique("secret")))
        with pytest.raises(grpc.RpcError) as caught:
            process.create(inputs)  # Metronome refuses the token: 401
        stdout, stderr = process.output()
    details = caught.value.details()
    assert details.startswith("Metronome answered 401")
    assert secret not in details and secret not in stdout and secret not in stderr
    assert secret not in json.dumps(inputs)


# ----------------------------------------------------------------------------------- check


def test_check_normalizes_with_camel_case_names(plugin: PluginProcess, server: Any) -> None:
    inputs = checked(
        plugin,
        {
            **tokens_metric("normalized"),
            "aggregationType": "Sum",
            "eventTypeFilter": {"inValues": ["b", "a", "b"]},
            "customFields": {"team_name": "ml"},
        },
    )
    assert inputs == {
        "name": "normalized",
        "aggregationType": "SUM",
        "aggregationKey": "tokens",
        "eventTypeFilter": {"inValues": ["a", "b"]},
        "propertyFilters": [
            {"name": "model", "inValues": ["large", "small"]},
            {"name": "region", "inValues": ["eu", "us"]},
            {"name": "tokens", "exists": True},
        ],
        "groupKeys": [["model", "region"]],
        "customFields": {"team_name": "ml"},  # the user's key, never renamed
        "adoptExisting": False,
    }
    assert server.requests() == []


def test_check_failures_name_camel_case_properties(plugin: PluginProcess, server: Any) -> None:
    news = tokens_metric("bad", aggregationType="average", colour="red")
    news["groupKeys"] = [["zone"]]
    result = plugin.check({}, news)
    assert {(f.property, f.reason) for f in result.failures} == {
        ("colour", "is not an argument of BillableMetric"),
        ("aggregationType", "must be one of COUNT, LATEST, MAX, SUM, UNIQUE (any case)"),
        (
            "groupKeys",
            "groupKeys[0]: Group key 'zone' does not match one of the property filter names.",
        ),
    }
    empty = plugin.check(
        {}, tokens_metric("bad", propertyFilters=[{"name": "tokens", "inValues": []}])
    )
    assert ("propertyFilters", "propertyFilters[0].inValues: must be non-empty when present") in {
        (f.property, f.reason) for f in empty.failures
    }
    assert server.requests() == []


def test_check_keeps_unknowns_and_diff_says_what_may_change(
    plugin: PluginProcess, server: Any
) -> None:
    news = tokens_metric(rpc.UNKNOWN, customFields={"team": rpc.UNKNOWN})
    result = plugin.check({}, news)
    assert result.failures == []
    assert result.inputs["name"] == rpc.UNKNOWN
    assert result.inputs["customFields"] == {"team": rpc.UNKNOWN}
    assert result.inputs["aggregationType"] == "SUM"
    outs = checked(plugin, tokens_metric("known"))
    changes, replaces, detailed, _ = plugin.detailed_diff(
        unique("m"), outs, {**outs, "propertyFilters": rpc.UNKNOWN}
    )
    assert (changes, replaces, detailed) == (
        "DIFF_SOME",
        ["propertyFilters"],
        {"propertyFilters": "UPDATE_REPLACE"},
    )
    assert server.requests() == []


# ------------------------------------------------------------------------------ lifecycle


def test_metric_lifecycle_with_detailed_diffs(plugin: PluginProcess, server: Any) -> None:
    team = unique("team")
    key_inputs = checked(plugin, {"key": team, "entity": "billable_metric"}, type_=KEY)
    assert key_inputs == {
        "entity": "billable_metric",
        "key": team,
        "enforceUniqueness": False,
        "adoptExisting": False,
    }
    key = plugin.create(key_inputs, type_=KEY)
    assert key.id == f"billable_metric/{team}"

    name = unique("tokens")
    inputs = checked(plugin, tokens_metric(name))
    server.clear_requests()
    created = plugin.create(inputs)
    assert writes(server) == ["/v1/billable-metrics/create"]
    assert created.properties == inputs
    metric_id, outs = created.id, created.properties

    same = plugin.detailed_diff(metric_id, outs, checked(plugin, tokens_metric(name)))
    assert same == ("DIFF_NONE", [], {}, False)

    news = checked(plugin, tokens_metric(unique("renamed"), customFields={team: "ml"}))
    diff = plugin.detailed_diff(metric_id, outs, news)
    assert diff == ("DIFF_SOME", [], {"name": "UPDATE", f'customFields["{team}"]': "ADD"}, False)
    server.clear_requests()
    outs = plugin.update(metric_id, outs, news)
    assert sorted(writes(server)) == [
        f"/v1/billable-metrics/{metric_id}",
        "/v1/customFields/setValues",
    ]
    assert outs == news

    read = plugin.read(metric_id, outs, news)
    assert (read.id, read.properties, read.inputs) == (metric_id, outs, news)

    server.clear_requests()
    plugin.delete(metric_id, outs)
    assert writes(server) == ["/v1/billable-metrics/archive"]
    archived = requests.get(
        f"{server.url}/v1/billable-metrics/{metric_id}", headers=server.headers, timeout=10
    )
    assert archived.json()["data"]["archived_at"]
    plugin.delete(key.id, key.properties, type_=KEY)
    assert plugin.read(key.id, key.properties, type_=KEY).id == ""


def test_product_replacement_is_refused_then_detailed(plugin: PluginProcess, server: Any) -> None:
    news = checked(
        plugin, {"name": unique("fee"), "type": "FIXED", "tags": ["fees"]}, type_=PRODUCT
    )
    assert news["type"] == "FIXED" and news["allowReplace"] is False
    created = plugin.create(news, type_=PRODUCT)
    server.clear_requests()
    refused = plugin.check(news, {**news, "type": "SUBSCRIPTION"}, type_=PRODUCT)
    assert [f.property for f in refused.failures] == ["type"]
    assert "replaces the product" in refused.failures[0].reason
    allowed = checked(
        plugin, {**news, "type": "SUBSCRIPTION", "allowReplace": True}, news, type_=PRODUCT
    )
    diff = plugin.detailed_diff(created.id, created.properties, allowed, type_=PRODUCT)
    assert diff == ("DIFF_SOME", ["type"], {"type": "UPDATE_REPLACE"}, False)
    tagged = checked(plugin, {**news, "tags": ["fees", "one-off"]}, news, type_=PRODUCT)
    diff = plugin.detailed_diff(created.id, created.properties, tagged, type_=PRODUCT)
    assert diff == ("DIFF_SOME", [], {"tags": "UPDATE"}, False)
    assert writes(server) == []


def test_rate_card_detailed_diffs_and_refusals(plugin: PluginProcess, server: Any) -> None:
    product = new_product(server)
    base = {"productId": product, "rateType": "FLAT", "price": 10, "startingAt": PAST}
    later = {
        "productId": product,
        "rateType": "TIERED",
        "startingAt": FUTURE,
        "tiers": [{"price": 2, "size": 100}, {"price": 1}],
    }
    card = {"name": unique("card"), "rates": [base]}
    news = checked(plugin, card, type_=CARD)
    assert news["rates"] == [
        {
            "productId": product,
            "rateType": "FLAT",
            "price": 10,
            "startingAt": "2026-01-01T00:00:00.000Z",
            "entitled": True,
        }
    ]
    created = plugin.create(news, type_=CARD)
    card_id, outs = created.id, created.properties
    assert outs["unmanagedRates"] == []

    # An entry from a later date: one rate added, in place.
    added = checked(plugin, {**card, "rates": [base, later]}, news, type_=CARD)
    assert plugin.detailed_diff(card_id, outs, added, type_=CARD) == (
        "DIFF_SOME",
        [],
        {"rates[1]": "ADD"},
        False,
    )
    server.clear_requests()
    outs = plugin.update(card_id, outs, added, type_=CARD)
    assert writes(server) == ["/v1/contract-pricing/rate-cards/addRates"]
    assert sorted(outs["rates"].values(), key=by_content) == sorted(added["rates"], key=by_content)

    # A change of that future entry: one rate updated.
    cheaper = {**later, "tiers": [{"price": 2, "size": 100}, {"price": 0.5}]}
    changed = checked(plugin, {**card, "rates": [base, cheaper]}, added, type_=CARD)
    assert plugin.detailed_diff(card_id, outs, changed, type_=CARD)[2] == {"rates[1]": "UPDATE"}

    # An entry for a product created in the same run (its id unknown at preview).
    pending = {**later, "productId": rpc.UNKNOWN, "startingAt": "2032-01-01T00:00:00Z"}
    unknown = checked(plugin, {**card, "rates": [base, later, pending]}, added, type_=CARD)
    assert unknown["rates"][2]["productId"] == rpc.UNKNOWN
    assert plugin.detailed_diff(card_id, outs, unknown, type_=CARD)[:3] == (
        "DIFF_SOME",
        [],
        {"rates": "UPDATE"},
    )

    # What would rewrite the past or cannot be undone: refused at check, nothing written.
    server.clear_requests()
    retro = plugin.check(added, {**added, "rates": [{**base, "price": 11}, later]}, type_=CARD)
    assert [f.property for f in retro.failures] == [""]
    assert "rewrite what was already billed" in retro.failures[0].reason
    removal = plugin.check(added, {**added, "rates": [base]}, type_=CARD)
    assert "Metronome cannot delete a rate" in removal.failures[0].reason
    assert "set its endingBefore" in removal.failures[0].reason
    assert "or set allowRateRemoval: true to leave it" in removal.failures[0].reason
    fiat = plugin.check(added, {**added, "fiatCreditTypeId": "eur"}, type_=CARD)
    assert [f.property for f in fiat.failures] == ["fiatCreditTypeId"]
    assert "replaces the rate card" in fiat.failures[0].reason
    assert writes(server) == []

    # With the opt-ins: the removed entry is a DELETE, the credit type a replacement.
    removed = checked(
        plugin, {**added, "rates": [base], "allowRateRemoval": True}, added, type_=CARD
    )
    assert plugin.detailed_diff(card_id, outs, removed, type_=CARD)[2] == {"rates[1]": "DELETE"}
    replaced = checked(
        plugin, {**added, "fiatCreditTypeId": "eur", "allowReplace": True}, added, type_=CARD
    )
    assert plugin.detailed_diff(card_id, outs, replaced, type_=CARD)[:3] == (
        "DIFF_SOME",
        ["fiatCreditTypeId"],
        {"fiatCreditTypeId": "ADD_REPLACE"},
    )
    assert writes(server) == []
    plugin.delete(card_id, outs, type_=CARD)


# ---------------------------------------------------------------------------------- import


def _imported(plugin: PluginProcess, id_: str, type_: str) -> dict[str, Any]:
    """``pulumi import``: Read by the id alone, under a new resource name; then the engine's
    own check of what was read, which must change nothing, and a diff with no change."""
    name = unique("imported")
    read = plugin.read(id_, {}, None, type_=type_, name=name)
    assert read.id == id_
    assert read.inputs is not None
    again = checked(plugin, read.inputs, type_=type_, name=name)
    assert again == read.inputs
    diff = plugin.detailed_diff(id_, read.properties, again, type_=type_)
    assert diff[:3] == ("DIFF_NONE", [], {})
    return read.inputs


def test_import_by_id_gives_the_inputs_check_writes(plugin: PluginProcess, server: Any) -> None:
    declared = checked(plugin, tokens_metric(unique("imp"), customFields={}))
    metric = plugin.create(declared)
    assert _imported(plugin, metric.id, METRIC) == declared

    product_news = {
        "name": unique("tokens"),
        "type": "USAGE",
        "billableMetricId": metric.id,
        "pricingGroupKey": ["model", "region"],
        "quantityConversion": {"conversionFactor": 1000, "operation": "DIVIDE"},
        "quantityRounding": {"decimalPlaces": 2, "roundingMethod": "ROUND_UP"},
        "tags": ["ai"],
    }
    product_inputs = checked(plugin, product_news, type_=PRODUCT)
    product = plugin.create(product_inputs, type_=PRODUCT)
    assert _imported(plugin, product.id, PRODUCT) == product_inputs

    key = unique("region")
    key_inputs = checked(plugin, {"key": key, "enforceUniqueness": True}, type_=KEY)
    plugin.create(key_inputs, type_=KEY)
    assert _imported(plugin, f"billable_metric/{key}", KEY) == key_inputs


def test_import_of_a_rate_card_with_many_rates_and_tiers(
    plugin: PluginProcess, server: Any
) -> None:
    products = [new_product(server) for _ in range(3)]
    tiers = [{"price": 3, "size": 1000}, {"price": 2, "size": 9000}, {"price": 1}]
    rates: list[dict[str, Any]] = []
    for index, product in enumerate(products):
        for year in range(2026, 2033):  # a price per year, every other one tiered
            start = f"{year}-01-01T00:00:00Z"
            if year % 2:
                rate = {"rateType": "TIERED", "tiers": tiers}
            else:
                rate = {"rateType": "FLAT", "price": 1.5 + index + year - 2026}
            rates.append({"productId": product, "startingAt": start, **rate})
    rates[0] = {**rates[0], "endingBefore": "2026-06-01T00:00:00Z", "entitled": False}
    declared = checked(
        plugin,
        {"name": unique("list prices"), "description": "Public list", "rates": rates},
        type_=CARD,
    )
    assert len(declared["rates"]) == 21
    tiered = [r for r in declared["rates"] if r["rateType"] == "TIERED"]
    assert len(tiered) == 9 and all(r["tiers"] == tiers for r in tiered)
    ended = [r for r in declared["rates"] if "endingBefore" in r]
    assert ended == [
        {
            "productId": products[0],
            "rateType": "FLAT",
            "price": 1.5,
            "startingAt": "2026-01-01T00:00:00.000Z",
            "endingBefore": "2026-06-01T00:00:00.000Z",
            "entitled": False,
        }
    ]
    card = plugin.create(declared, type_=CARD)
    imported = _imported(plugin, card.id, CARD)
    assert imported == declared


# ----------------------------------------------------------------------------- concurrency


class _Gate:
    """A stand-in Metronome whose metric creation answers only once ``parties`` requests
    are in flight together (or after ``timeout``), counting the most seen at once."""

    def __init__(self, parties: int, timeout: float = 20.0) -> None:
        self.barrier = threading.Barrier(parties, timeout=timeout)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most = 0
        gate = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with gate.lock:
                    gate.in_flight += 1
                    gate.most = max(gate.most, gate.in_flight)
                with contextlib.suppress(threading.BrokenBarrierError):
                    gate.barrier.wait()
                with gate.lock:
                    gate.in_flight -= 1
                body = json.dumps({"data": {"id": str(uuid.uuid4())}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_creates_are_served_concurrently_beyond_four() -> None:
    parties = 12
    gate = _Gate(parties)
    try:
        with PluginProcess() as process:
            process.configure_plugin({"bearerToken": "t", "baseUrl": gate.url})
            names = [unique("parallel") for _ in range(parties)]
            inputs = [checked(process, tokens_metric(n), name=n) for n in names]
            with ThreadPoolExecutor(parties) as pool:
                ids = list(
                    pool.map(
                        lambda pair: process.create(pair[1], name=pair[0]).id,
                        zip(names, inputs, strict=True),
                    )
                )
    finally:
        gate.close()
    assert len(set(ids)) == parties
    assert gate.most == parties  # all twelve were in Metronome's hands at once
