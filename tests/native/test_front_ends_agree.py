"""Both front ends, the dynamic provider (``python -m pulumi.dynamic``) and the plugin
(``pulumi-resource-metronome``), as real processes over gRPC, give the same answers to the
same cases: check (inputs, failures, refusals of the safety rules) and diff (changes,
replacements).

Each case is written once in the dynamic provider's terms; the plugin's request is made
from it by a deliberately naive renaming (snake_case to camelCase, user-keyed maps left
alone, a rate card's schedule map as the list of its entries), never by the plugin's own
code.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from plugin_engine import EngineProcess, PluginProcess
from pulumi.dynamic.dynamic import serialize_provider

from metronome_local.process import LocalServer
from pulumi_metronome.resources import (
    AlertProvider,
    BillableMetricProvider,
    NotificationProvider,
    PackageProvider,
    PricingUnitProvider,
    ProductProvider,
    RateCardProvider,
)

PAST = "2026-01-01T00:00:00Z"
FUTURE = "2031-01-01T00:00:00Z"
USER_MAPS = {"custom_fields", "pricing_group_values"}
PROVIDERS = {
    "BillableMetric": BillableMetricProvider,
    "Product": ProductProvider,
    "RateCard": RateCardProvider,
    "PricingUnit": PricingUnitProvider,
    "Alert": AlertProvider,
    "Notification": NotificationProvider,
    "Package": PackageProvider,
}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def naive(value: Any) -> Any:
    """The plugin's spelling of a dynamic value (for the comparison only)."""
    if isinstance(value, dict):
        return {
            camel(k): (v if k in USER_MAPS else naive(v))
            for k, v in value.items()
            if not k.startswith("__")
        }
    if isinstance(value, list):
        return [naive(v) for v in value]
    return value


def plugin_form(kind: str, value: dict[str, Any]) -> dict[str, Any]:
    out = naive(value)
    if kind == "RateCard" and isinstance(out.get("rates"), dict):
        out["rates"] = list(out["rates"].values())
    return out


@dataclass
class FrontEnds:
    dynamic: EngineProcess
    plugin: PluginProcess

    def check(self, kind: str, olds: dict[str, Any], news: dict[str, Any]) -> tuple[Any, Any]:
        """Both answers in the plugin's spelling: (inputs or failures) of each."""
        provider = serialize_provider(PROVIDERS[kind]())
        dynamic_type = f"pulumi-python:dynamic/metronome:{kind}"
        dyn = self.dynamic.check(
            {**olds, "__provider": provider} if olds else {},
            {**news, "__provider": provider},
            type_=dynamic_type,
        )
        plug = self.plugin.check(
            plugin_form(kind, olds) if olds else {},
            plugin_form(kind, news),
            type_=f"metronome:index:{kind}",
        )
        if dyn.failures or plug.failures:
            ours = sorted(
                (camel(f.property), _camel_path(f.property, f.reason)) for f in dyn.failures
            )
            return ours, sorted((f.property, f.reason) for f in plug.failures)
        return _unordered(plugin_form(kind, dyn.inputs)), _unordered(plug.inputs)

    def diff(
        self, kind: str, olds: dict[str, Any], news: dict[str, Any]
    ) -> tuple[tuple[str, list[str]], tuple[str, list[str]]]:
        provider = serialize_provider(PROVIDERS[kind]())
        id_ = f"id-{uuid.uuid4().hex[:8]}"
        dyn = self.dynamic.diff(
            id_,
            {**olds, "__provider": provider},
            {**news, "__provider": provider},
            type_=f"pulumi-python:dynamic/metronome:{kind}",
        )
        changes, replaces, _, _ = self.plugin.detailed_diff(
            id_, plugin_form(kind, olds), plugin_form(kind, news), type_=f"metronome:index:{kind}"
        )
        return (dyn.changes, [camel(r) for r in dyn.replaces]), (changes, replaces)


def _unordered(inputs: dict[str, Any]) -> dict[str, Any]:
    """A card's entries in one order on both sides: a stored map comes back from the
    dynamic provider in the protobuf ``Struct``'s order, not the schedule's."""
    if isinstance(inputs.get("rates"), list):
        inputs = {
            **inputs,
            "rates": sorted(inputs["rates"], key=lambda r: json.dumps(r, sort_keys=True)),
        }
    return inputs


def _camel_path(field: str, reason: str) -> str:
    """The dynamic provider's reason in the plugin's spelling: every snake_case word
    outside quotes camelCase, ``x=True`` as ``x: true``."""
    return re.sub(
        r"(?<!['\w])([a-z][a-z0-9]*(?:_[a-z0-9]+)+)(=True)?(?![\w'])",
        lambda m: camel(m.group(1)) + (": true" if m.group(2) else ""),
        reason,
    )


@pytest.fixture(scope="module")
def both(metronome: LocalServer) -> Iterator[FrontEnds]:
    config = {"metronome:bearerToken": metronome.token, "metronome:baseUrl": metronome.url}
    with EngineProcess() as dynamic, PluginProcess() as plugin:
        dynamic.configure(config, secrets=["metronome:bearerToken"])
        plugin.configure_plugin({"bearerToken": metronome.token, "baseUrl": metronome.url})
        yield FrontEnds(dynamic, plugin)


METRIC = {
    "name": "tokens",
    "aggregation_type": "sum",
    "aggregation_key": "tokens",
    "property_filters": [
        {"name": "tokens", "exists": True},
        {"name": "model", "in_values": ["small", "large"]},
    ],
    "group_keys": [["model"]],
    "custom_fields": {"team_name": "ml"},
}
PRODUCT = {"name": "fee", "type": "FIXED", "tags": ["fees"], "netsuite_internal_item_id": "n1"}
FLAT_PAST = {"product_id": "p-1", "rate_type": "FLAT", "price": 10, "starting_at": PAST}
TIERED_LATER = {
    "product_id": "p-1",
    "rate_type": "TIERED",
    "starting_at": FUTURE,
    "tiers": [{"price": 2, "size": 100}, {"price": 1}],
}
CARD = {"name": "list", "rates": [FLAT_PAST, TIERED_LATER]}
#: The resource name both front ends see (the plugin takes it from the URN): a derived
#: uniqueness key depends on it.
NAMED = {"__resource": "metric"}
UNIT = {"name": "credits", **NAMED}
ALERT = {
    "alert_type": "spend_threshold_reached",
    "name": "spend",
    "threshold": 500,
    "group_values": [{"key": "region", "value": "eu"}],
    **NAMED,
}
NOTIFICATION = {"name": "renewal", "policy": {"offset": "-P7D", "type": "contract.end"}, **NAMED}
PACKAGE = {
    "name": "starter",
    "rate_card_id": "rc-1",
    "aliases": [{"name": "starter"}],
    "overrides": [
        {
            "override_specifiers": [{"product_tags": ["ai"]}],
            "starting_at_offset": {"unit": "DAYS", "value": 0},
            "type": "MULTIPLIER",
            "multiplier": 0.9,
        }
    ],
    "alias_cutover": FUTURE,
}
CHEAPER = [{**PACKAGE["overrides"][0], "multiplier": 0.8}]

CHECKS = {
    "metric valid": ("BillableMetric", {}, METRIC),
    "metric invalid": (
        "BillableMetric",
        {},
        {**METRIC, "aggregation_type": "avg", "group_keys": [["zone"]], "colour": "red"},
    ),
    "product valid": ("Product", {}, PRODUCT),
    "product type change": ("Product", PRODUCT, {**PRODUCT, "type": "SUBSCRIPTION"}),
    "product unset field": ("Product", PRODUCT, {**PRODUCT, "netsuite_internal_item_id": None}),
    "card valid": ("RateCard", {}, CARD),
    "card invalid rate": (
        "RateCard",
        {},
        {**CARD, "rates": [{**FLAT_PAST, "price": None}]},
    ),
    "card retroactive": ("RateCard", CARD, {**CARD, "rates": [{**FLAT_PAST, "price": 11}]}),
    "card removal": ("RateCard", CARD, {**CARD, "rates": [TIERED_LATER]}),
    "card credit type": ("RateCard", CARD, {**CARD, "fiat_credit_type_id": "eur"}),
    "card product order": ("RateCard", {}, {**CARD, "product_order": ["p-1", "p-2"]}),
    "card product order repeated": ("RateCard", {}, {**CARD, "product_order": ["p-1", "p-1"]}),
    "unit valid": ("PricingUnit", {}, UNIT),
    "unit rename": ("PricingUnit", UNIT, {**UNIT, "name": "tokens"}),
    "alert valid": ("Alert", {}, ALERT),
    "alert invalid": ("Alert", {}, {**ALERT, "alert_type": "usage_threshold_reached"}),
    "alert change": ("Alert", ALERT, {**ALERT, "threshold": 600}),
    "notification valid": ("Notification", {}, NOTIFICATION),
    "notification bad offset": (
        "Notification",
        {},
        {**NOTIFICATION, "policy": {"offset": "a week", "type": "contract.end"}},
    ),
    "notification type change": (
        "Notification",
        NOTIFICATION,
        {**NOTIFICATION, "policy": {"offset": "-P7D", "type": "contract.start"}},
    ),
    "package valid": ("Package", {}, PACKAGE),
    "package invalid": ("Package", {}, {**PACKAGE, "rate_card_alias": "list", "colour": "red"}),
    "package replace refused": ("Package", PACKAGE, {**PACKAGE, "overrides": CHEAPER}),
    "package past cutover": (
        "Package",
        PACKAGE,
        {**PACKAGE, "overrides": CHEAPER, "allow_replace": True, "alias_cutover": PAST},
    ),
}


@pytest.mark.parametrize("case", sorted(CHECKS))
def test_check_gives_the_same_answer(both: FrontEnds, server: LocalServer, case: str) -> None:
    kind, olds, news = CHECKS[case]
    if olds:  # olds as stored: checked inputs
        stored = both.dynamic.check(
            {},
            {**olds, "__provider": serialize_provider(PROVIDERS[kind]())},
            type_=f"pulumi-python:dynamic/metronome:{kind}",
        )
        assert stored.failures == []
        olds = stored.inputs
    dynamic, plugin = both.check(kind, olds, news)
    assert dynamic == plugin
    assert dynamic  # every case yields inputs or failures
    assert server.requests() == []


DIFFS = {
    "metric same": ("BillableMetric", {}),
    "metric rename": ("BillableMetric", {"name": "renamed"}),
    "metric filter change": (
        "BillableMetric",
        {
            "property_filters": [
                {"name": "tokens", "exists": True},
                {"name": "model", "exists": True},
            ]
        },
    ),
    "metric custom field": ("BillableMetric", {"custom_fields": {"team_name": "infra"}}),
    "product tags": ("Product", {"tags": ["fees", "one-off"]}),
    "product type": ("Product", {"type": "SUBSCRIPTION", "allow_replace": True}),
    "card rate added": (
        "RateCard",
        {"rates": [*CARD["rates"], {**FLAT_PAST, "starting_at": "2032-01-01T00:00:00Z"}]},
    ),
    "card credit type": ("RateCard", {"fiat_credit_type_id": "eur", "allow_replace": True}),
    "card product order": ("RateCard", {"product_order": ["p-1"]}),
    "unit same": ("PricingUnit", {}),
    "unit rename": ("PricingUnit", {"name": "tokens", "allow_replace": True}),
    "alert threshold": ("Alert", {"threshold": 600, "allow_replace": True}),
    "notification offset": (
        "Notification",
        {"policy": {"offset": "-P14D", "type": "contract.end"}},
    ),
    "notification name": ("Notification", {"name": "renewal 2", "allow_replace": True}),
    "package replaced": (
        "Package",
        {"overrides": CHEAPER, "allow_replace": True, "alias_cutover": "2032-01-01T00:00:00Z"},
    ),
}
BASES = {
    "BillableMetric": METRIC,
    "Product": PRODUCT,
    "RateCard": CARD,
    "PricingUnit": UNIT,
    "Alert": ALERT,
    "Notification": NOTIFICATION,
    "Package": PACKAGE,
}


@pytest.mark.parametrize("case", sorted(DIFFS))
def test_diff_gives_the_same_answer(both: FrontEnds, server: LocalServer, case: str) -> None:
    kind, change = DIFFS[case]
    provider = serialize_provider(PROVIDERS[kind]())
    dynamic_type = f"pulumi-python:dynamic/metronome:{kind}"

    def stored(props: dict[str, Any]) -> dict[str, Any]:
        result = both.dynamic.check({}, {**props, "__provider": provider}, type_=dynamic_type)
        assert result.failures == []
        return {k: v for k, v in result.inputs.items() if k != "__provider"}

    olds = stored(BASES[kind])
    news = stored({**BASES[kind], **change})
    dynamic, plugin = both.diff(kind, olds, news)
    assert dynamic == plugin
    assert dynamic[0] == ("DIFF_NONE" if not change else "DIFF_SOME")
    assert server.requests() == []
