"""The native provider's package schema agrees with the models, and the name conversion
between the schema (camelCase) and the core (snake_case) is exact.

The reference for fields, types and enums is pydantic's own JSON schema of each model
(``model_json_schema``), a code path the schema generator does not use; names are
converted by a deliberately naive function written here.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from pulumi_metronome import models
from pulumi_metronome.native import schema
from pulumi_metronome.resources import (
    BillableMetricProvider,
    CustomFieldKeyProvider,
    ProductProvider,
    RateCardProvider,
)

SCHEMA = schema.package_schema("1.2.3")
METRIC = "metronome:index:BillableMetric"
KEY = "metronome:index:CustomFieldKey"
PRODUCT = "metronome:index:Product"
CARD = "metronome:index:RateCard"
UNIT = "metronome:index:PricingUnit"
ALERT = "metronome:index:Alert"
NOTIFICATION = "metronome:index:Notification"
MODELS: dict[str, type[BaseModel]] = {
    METRIC: models.BillableMetricSpec,
    KEY: models.CustomFieldKeySpec,
    PRODUCT: models.ProductSpec,
    CARD: models.RateCardDeclaration,
    UNIT: models.PricingUnitSpec,
    ALERT: models.AlertSpec,
    NOTIFICATION: models.NotificationSpec,
}
#: The arguments of each resource that are not fields of its model, written out by hand.
CONTROLS: dict[str, set[str]] = {
    METRIC: {"adoptExisting"},
    KEY: {"adoptExisting"},
    PRODUCT: {"adoptExisting", "allowReplace", "updateStartingAt"},
    CARD: {"adoptExisting", "allowReplace", "allowRetroactiveRates", "allowRateRemoval", "rates"},
    UNIT: {"adoptExisting", "allowReplace"},
    ALERT: {"allowReplace"},
    NOTIFICATION: {"allowReplace"},
}


def naive_camel(name: str) -> str:
    parts = name.split("_")
    return parts[0] + "".join(p.capitalize() for p in parts[1:])


def resolve(spec: dict[str, Any] | bool, defs: dict[str, Any]) -> dict[str, Any]:
    """A JSON-schema property without its ``X | None`` wrapper and ``$ref`` indirection
    (``True``: anything, as in ``additionalProperties: true``)."""
    if spec is True:
        return {}
    assert isinstance(spec, dict)
    if "anyOf" in spec:
        options = [o for o in spec["anyOf"] if o.get("type") != "null"]
        assert len(options) == 1, spec
        spec = options[0]
    if "$ref" in spec:
        spec = defs[spec["$ref"].rsplit("/", 1)[-1]]
    return spec


def pulumi_type(spec: dict[str, Any]) -> dict[str, Any]:
    """A Pulumi schema property with its ``$ref`` resolved in the package's types."""
    ref = spec.get("$ref", "")
    if ref.startswith("#/types/"):
        return SCHEMA["types"][ref.removeprefix("#/types/")]  # type: ignore[no-any-return]
    return spec


def assert_same_type(path: str, pyd: dict[str, Any], pul: dict[str, Any], defs: Any) -> None:
    pyd = resolve(pyd, defs)
    if pul.get("$ref") == "pulumi.json#/Any":
        assert "type" not in pyd, path  # pydantic: Any has no type
        return
    pul = pulumi_type(pul)
    if "enum" in pyd:
        assert pul["type"] == "string", path
        assert [e["value"] for e in pul["enum"]] == pyd["enum"], path
        return
    assert pul.get("type") == pyd.get("type"), (path, pul, pyd)
    if pyd["type"] == "array":
        assert_same_type(path + "[]", pyd["items"], pul["items"], defs)
    elif pyd["type"] == "object" and "properties" in pyd:
        assert_same_object(path, pyd, pul, defs)
    elif pyd["type"] == "object":
        assert_same_type(
            path + "{}", pyd["additionalProperties"], pul["additionalProperties"], defs
        )


def assert_same_object(path: str, pyd: dict[str, Any], pul: dict[str, Any], defs: Any) -> None:
    expected = {naive_camel(k): v for k, v in pyd["properties"].items()}
    assert set(pul["properties"]) == set(expected), path
    for name, spec in expected.items():
        assert_same_type(f"{path}.{name}", spec, pul["properties"][name], defs)
        assert pul["properties"][name]["description"].strip(), f"{path}.{name}"


@pytest.mark.parametrize("token", sorted(MODELS))
def test_every_model_field_is_an_input_and_output_of_the_same_type(token: str) -> None:
    reference = MODELS[token].model_json_schema()
    defs = reference.get("$defs", {})
    resource = SCHEMA["resources"][token]
    fields = {naive_camel(k): v for k, v in reference["properties"].items()}
    inputs = resource["inputProperties"]
    assert set(inputs) == set(fields) | CONTROLS[token]
    assert set(resource["properties"]) >= set(inputs)
    for name, spec in fields.items():
        assert_same_type(f"{token}.{name}", spec, inputs[name], defs)
        assert_same_type(f"{token}.{name}", spec, resource["properties"][name], defs)


def test_the_rate_card_schedule_is_a_list_of_rates_in_and_a_map_of_rates_out() -> None:
    rate = models.RateEntry.model_json_schema()
    card = SCHEMA["resources"][CARD]
    listed, stored = card["inputProperties"]["rates"], card["properties"]["rates"]
    assert listed["type"] == "array" and stored["type"] == "object"
    defs = rate.get("$defs", {})
    assert_same_object("Rate", rate, pulumi_type(listed["items"]), defs)
    assert stored["additionalProperties"] == listed["items"]
    assert card["properties"]["unmanagedRates"] == {
        "type": "array",
        "items": {"type": "string"},
        "description": card["properties"]["unmanagedRates"]["description"],
    }


def test_required_inputs_and_defaults_are_the_resource_arguments() -> None:
    resources = SCHEMA["resources"]
    # Only a product's type has no default; names default to the resource's name.
    assert {t: r["requiredInputs"] for t, r in resources.items()} == {
        METRIC: [],
        KEY: [],
        PRODUCT: ["type"],
        CARD: [],
        UNIT: [],
        ALERT: ["alertType", "threshold"],
        NOTIFICATION: ["policy"],
        "metronome:index:Package": [],
    }
    assert resources[KEY]["inputProperties"]["entity"]["default"] == "billable_metric"
    assert resources[KEY]["inputProperties"]["enforceUniqueness"]["default"] is False
    assert pulumi_type({"$ref": "#/types/metronome:index:Rate"})["properties"]["entitled"][
        "default"
    ]
    assert schema.AUTONAMED == {
        METRIC: "name",
        KEY: "key",
        PRODUCT: "name",
        CARD: "name",
        UNIT: "name",
        ALERT: "name",
        NOTIFICATION: "name",
        "metronome:index:Package": "name",
    }


def test_enums_are_the_models_literals() -> None:
    enum = pulumi_type({"$ref": "#/types/metronome:index:AggregationType"})
    assert [e["value"] for e in enum["enum"]] == ["COUNT", "LATEST", "MAX", "SUM", "UNIQUE"]
    product = SCHEMA["resources"][PRODUCT]["inputProperties"]
    assert product["type"] == {
        "$ref": "#/types/metronome:index:ProductType",
        "description": product["type"]["description"],
    }
    rounding = pulumi_type(product["quantityRounding"])["properties"]["roundingMethod"]
    values = [e["value"] for e in pulumi_type(rounding)["enum"]]
    assert values == ["ROUND_UP", "ROUND_DOWN", "ROUND_HALF_UP"]


def test_config_descriptions_secrets_and_no_internal_keys() -> None:
    config = SCHEMA["config"]["variables"]
    assert config["bearerToken"]["secret"] is True
    assert config["bearerToken"]["type"] == "string"
    assert "secret" not in config["baseUrl"]
    assert SCHEMA["provider"]["inputProperties"] == config
    assert SCHEMA["version"] == "1.2.3"
    text = json.dumps(SCHEMA)
    assert "__resource" not in text and "__provider" not in text
    # No snake_case property name anywhere (user data never appears in the schema).
    for owner in [*SCHEMA["resources"].values(), *SCHEMA["types"].values()]:
        assert owner["description"].strip()
        for props in ("inputProperties", "properties"):
            for name, spec in owner.get(props, {}).items():
                assert re.fullmatch(r"[a-z][a-zA-Z]*", name), name
                assert spec["description"].strip(), name
    assert set(SCHEMA["resources"]) == set(schema.TOKENS)
    assert schema.TOKENS[CARD] == "RateCard"


# --- to_core / from_core -------------------------------------------------------------------

CARD_INPUTS: dict[str, Any] = {
    "name": "Standard",
    "fiatCreditTypeId": "usd",
    "customFields": {"cost_center": "a", "ownerTeam": "b"},
    "creditTypeConversions": [{"customCreditTypeId": "c", "fiatPerCustomCredit": 2.5}],
    "rates": [
        {
            "productId": "p1",
            "rateType": "TIERED",
            "startingAt": "2027-01-01T00:00:00Z",
            "tiers": [{"price": 3, "size": 10}, {"price": 1}],
            "pricingGroupValues": {"model_size": "large", "regionName": "eu"},
            "commitRate": {"rateType": "FLAT", "price": 2},
        },
        {
            "productId": "p2",
            "rateType": "CUSTOM",
            "startingAt": "2027-01-01T00:00:00Z",
            "customRate": {"someParam": {"nested_key": 1}},
        },
    ],
    "allowRetroactiveRates": True,
    "__resource": "card",
}
CARD_CORE: dict[str, Any] = {
    "name": "Standard",
    "fiat_credit_type_id": "usd",
    "custom_fields": {"cost_center": "a", "ownerTeam": "b"},
    "credit_type_conversions": [{"custom_credit_type_id": "c", "fiat_per_custom_credit": 2.5}],
    "rates": [
        {
            "product_id": "p1",
            "rate_type": "TIERED",
            "starting_at": "2027-01-01T00:00:00Z",
            "tiers": [{"price": 3, "size": 10}, {"price": 1}],
            "pricing_group_values": {"model_size": "large", "regionName": "eu"},
            "commit_rate": {"rate_type": "FLAT", "price": 2},
        },
        {
            "product_id": "p2",
            "rate_type": "CUSTOM",
            "starting_at": "2027-01-01T00:00:00Z",
            "custom_rate": {"someParam": {"nested_key": 1}},
        },
    ],
    "allow_retroactive_rates": True,
    "__resource": "card",
}


def test_to_core_renames_properties_and_never_user_keys() -> None:
    assert schema.to_core(CARD, CARD_INPUTS) == CARD_CORE
    assert schema.from_core(CARD, CARD_CORE) == CARD_INPUTS


def test_the_stored_schedule_keeps_its_keys_and_renames_each_rate() -> None:
    stored_key = "p1 model_size=large from 2027-01-01T00:00:00.000Z"
    core = {"rates": {stored_key: {"product_id": "p1", "is_prorated": True}}}
    camel = {"rates": {stored_key: {"productId": "p1", "isProrated": True}}}
    assert schema.from_core(CARD, core) == camel
    assert schema.to_core(CARD, camel) == core
    assert schema.from_core(CARD, {"unmanaged_rates": [stored_key]}) == {
        "unmanagedRates": [stored_key]
    }


def test_metric_names_and_unknown_keys() -> None:
    core = schema.to_core(
        METRIC,
        {
            "aggregationType": "sum",
            "eventTypeFilter": {"inValues": ["a_b"]},
            "propertyFilters": [{"name": "tokens_in", "exists": True, "notInValues": ["x"]}],
            "groupKeys": [["user_id", "modelName"]],
            "adoptExisting": False,
            "aggregatinType": "typo kept for check to report",
        },
    )
    assert core == {
        "aggregation_type": "sum",
        "event_type_filter": {"in_values": ["a_b"]},
        "property_filters": [{"name": "tokens_in", "exists": True, "not_in_values": ["x"]}],
        "group_keys": [["user_id", "modelName"]],
        "adopt_existing": False,
        "aggregatinType": "typo kept for check to report",
    }
    with pytest.raises(KeyError, match="not a resource of this provider"):
        schema.to_core("metronome:index:Nope", {})


def test_schema_names_of_violation_paths() -> None:
    assert schema.schema_name(PRODUCT, "billable_metric_id") == "billableMetricId"
    assert schema.schema_name(PRODUCT, "not_a_field") == "not_a_field"
    assert schema.schema_path(METRIC, "property_filters[1].in_values") == (
        "propertyFilters[1].inValues"
    )
    assert schema.schema_path(CARD, "rates[0].pricing_group_values['model_size']") == (
        "rates[0].pricingGroupValues['model_size']"
    )
    assert schema.schema_path(CARD, "rates[2].commit_rate.tiers[0].price") == (
        "rates[2].commitRate.tiers[0].price"
    )


user_keys = st.text(alphabet="abcXY_z09", min_size=1, max_size=12)
user_maps = st.dictionaries(user_keys, st.text(max_size=5), max_size=4)


@settings(max_examples=60, deadline=None)
@given(custom=user_maps, values=user_maps, params=st.dictionaries(user_keys, user_maps))
def test_user_map_keys_survive_both_ways(
    custom: dict[str, str], values: dict[str, str], params: dict[str, Any]
) -> None:
    camel = {
        "customFields": custom,
        "rates": [{"pricingGroupValues": values, "customRate": params}],
    }
    core = schema.to_core(CARD, camel)
    assert core["custom_fields"] == custom
    assert core["rates"][0]["pricing_group_values"] == values
    assert core["rates"][0]["custom_rate"] == params
    assert schema.from_core(CARD, core) == camel


# --- the core accepts what to_core gives --------------------------------------------------


def test_the_core_checks_converted_inputs_as_it_checks_its_own() -> None:
    """The dynamic providers' check (the core) gives the same result for to_core of a
    camelCase declaration as for the same declaration written by hand in snake_case, and
    from_core of its result names only properties of the schema (and ``__resource``)."""
    cases: list[tuple[str, Any, dict[str, Any], dict[str, Any]]] = [
        (
            METRIC,
            BillableMetricProvider(),
            {
                "name": "tokens",
                "aggregationType": "sum",
                "aggregationKey": "tokens",
                "propertyFilters": [{"name": "tokens", "exists": True, "inValues": ["a"]}],
                "customFields": {"team_name": "ml"},
            },
            {
                "name": "tokens",
                "aggregation_type": "sum",
                "aggregation_key": "tokens",
                "property_filters": [{"name": "tokens", "exists": True, "in_values": ["a"]}],
                "custom_fields": {"team_name": "ml"},
            },
        ),
        (
            KEY,
            CustomFieldKeyProvider(),
            {"key": "team_name", "enforceUniqueness": True},
            {"key": "team_name", "enforce_uniqueness": True},
        ),
        (
            PRODUCT,
            ProductProvider(),
            {
                "name": "GPU hours",
                "type": "USAGE",
                "billableMetricId": "m-1",
                "pricingGroupKey": ["gpu_type"],
                "quantityRounding": {"decimalPlaces": 2, "roundingMethod": "ROUND_UP"},
            },
            {
                "name": "GPU hours",
                "type": "USAGE",
                "billable_metric_id": "m-1",
                "pricing_group_key": ["gpu_type"],
                "quantity_rounding": {"decimal_places": 2, "rounding_method": "ROUND_UP"},
            },
        ),
        (CARD, RateCardProvider(), CARD_INPUTS, CARD_CORE),
    ]
    for token, provider, camel, snake in cases:
        converted = provider.check({}, schema.to_core(token, camel))
        assert converted.failures == [], (token, converted.failures)
        own = provider.check({}, snake)
        assert own.failures == []
        assert converted.inputs == own.inputs
        names = set(SCHEMA["resources"][token]["properties"])
        assert set(schema.from_core(token, converted.inputs)) <= names | {"__resource"}
