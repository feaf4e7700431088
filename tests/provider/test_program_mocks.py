"""A Pulumi program declaring the package's resources, under ``pulumi.runtime.set_mocks``.

What the language host sends the engine: resource types, inputs (snake_case, typed args as
plain dicts, defaults filled), dependencies, and a small ``__provider`` that carries no
credentials, even with a token in the environment and in the stack config.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dill
import pulumi
import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import mocks as pulumi_mocks
from recording_mocks import RecordingMocks

from pulumi_metronome.resources import (
    BillableMetric,
    BillableMetricProvider,
    CustomFieldKey,
    CustomFieldKeyProvider,
    EventTypeFilterArgs,
    PropertyFilterArgs,
)

METRIC_TYPE = "pulumi-python:dynamic/metronome:BillableMetric"
KEY_TYPE = "pulumi-python:dynamic/metronome:CustomFieldKey"
ENV_TOKEN = "tok-SECRET-xyz"
CONFIG_TOKEN = "cfg-SECRET-abc"


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """Also keeps each raw ``RegisterResourceRequest`` (dependencies are not in the mock args)."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.requests: dict[str, Any] = {}

    def RegisterResource(self, request: Any) -> Any:
        self.requests[request.name] = request
        return super().RegisterResource(request)


@dataclass
class Program:
    mocks: RecordingMocks
    monitor: RecordingMonitor
    outputs: dict[str, Any]

    def inputs(self, name: str) -> dict[str, Any]:
        """The inputs sent for resource ``name``, less ``__resource`` (checked to be it)."""
        inputs = dict(self.mocks.resources[name].inputs)
        assert inputs.pop("__resource") == name
        return inputs


def declare() -> dict[str, pulumi.Output[Any]]:
    """The program: what a user writes in ``__main__.py``."""
    config = pulumi.Config("metronome")
    assert config.require_secret("bearerToken") is not None  # the token is in the config
    typed = BillableMetric(
        "typed-metric",
        aggregation_type="sum",
        aggregation_key="tokens",
        event_type_filter=EventTypeFilterArgs(in_values=["completion"]),
        property_filters=[
            PropertyFilterArgs(name="tokens", exists=True),
            PropertyFilterArgs(name="region", in_values=["us", "eu"]),
        ],
        group_keys=[["region"]],
    )
    plain = BillableMetric(
        "plain-metric",
        name="Plain metric",
        aggregation_type="sum",
        aggregation_key="tokens",
        event_type_filter={"in_values": ["completion"]},
        property_filters=[
            {"name": "tokens", "exists": True},
            {"name": "region", "in_values": ["us", "eu"]},
        ],
        group_keys=[["region"]],
    )
    key = CustomFieldKey("team-key", key="team")
    regions = pulumi.Output.from_input(["eu", "us"])
    dependent = BillableMetric(
        "dependent-metric",
        name=key.key.apply(lambda k: f"requests by {k}"),
        aggregation_type="count",
        # Typed args inside Outputs, and Outputs inside typed args.
        event_type_filter=pulumi.Output.from_input(EventTypeFilterArgs(in_values=["request"])),
        property_filters=regions.apply(lambda r: [PropertyFilterArgs(name="region", in_values=r)]),
        custom_fields={"team": key.key.apply(lambda k: f"{k}-ml")},
        opts=pulumi.ResourceOptions(depends_on=[key]),
    )
    return {
        "typed_name": typed.name,
        "plain_name": plain.name,
        "dependent_name": dependent.name,
        "dependent_id": dependent.id,
        "key_urn": key.urn,
        "dependent_urn": dependent.urn,
    }


@pytest.fixture(scope="module")
def program() -> Iterator[Program]:
    """Run the program once, with a token in the environment and in the stack config."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("METRONOME_BEARER_TOKEN", ENV_TOKEN)
        pulumi.runtime.set_all_config(
            {"metronome:bearerToken": CONFIG_TOKEN, "metronome:baseUrl": "http://127.0.0.1:1"},
            ["metronome:bearerToken"],
        )
        mocks = RecordingMocks()
        monitor = RecordingMonitor(mocks)
        pulumi.runtime.set_mocks(
            mocks, project="pricing", stack="test", preview=False, monitor=monitor
        )
        outputs: dict[str, Any] = {}

        @pulumi.runtime.test
        def run() -> pulumi.Output[Any]:
            declared = declare()
            return pulumi.Output.all(**declared).apply(outputs.update)

        try:
            run()
        finally:
            pulumi.runtime.set_all_config({}, [])
        yield Program(mocks, monitor, outputs)


def test_types_and_custom(program: Program) -> None:
    types = {name: args.typ for name, args in program.mocks.resources.items()}
    assert types == {
        "typed-metric": METRIC_TYPE,
        "plain-metric": METRIC_TYPE,
        "team-key": KEY_TYPE,
        "dependent-metric": METRIC_TYPE,
    }
    assert all(args.custom for args in program.mocks.resources.values())


def test_typed_args_become_the_same_plain_dicts(program: Program) -> None:
    typed = program.inputs("typed-metric")
    plain = program.inputs("plain-metric")
    assert typed.pop("name") == "typed-metric"  # the display name defaults to the resource name
    assert plain.pop("name") == "Plain metric"
    assert typed == plain
    assert {k: v for k, v in typed.items() if k != "__provider"} == {
        "aggregation_type": "sum",
        "aggregation_key": "tokens",
        "event_type_filter": {"in_values": ["completion"]},
        "property_filters": [
            {"name": "tokens", "exists": True},
            {"name": "region", "in_values": ["us", "eu"]},
        ],
        "group_keys": [["region"]],
        "adopt_existing": False,
    }


def test_custom_field_key_inputs_have_defaults(program: Program) -> None:
    inputs = program.inputs("team-key")
    provider = base64.b64decode(inputs.pop("__provider"))
    assert type(dill.loads(provider)) is CustomFieldKeyProvider
    assert inputs == {
        "entity": "billable_metric",
        "key": "team",
        "enforce_uniqueness": False,
        "adopt_existing": False,
    }


def test_outputs_and_typed_args_inside_outputs_resolve(program: Program) -> None:
    inputs = program.inputs("dependent-metric")
    inputs.pop("__provider")
    assert inputs == {
        "name": "requests by team",
        "aggregation_type": "count",
        "event_type_filter": {"in_values": ["request"]},
        "property_filters": [{"name": "region", "in_values": ["eu", "us"]}],
        "custom_fields": {"team": "team-ml"},
        "adopt_existing": False,
    }
    assert program.outputs["dependent_name"] == "requests by team"
    assert program.outputs["typed_name"] == "typed-metric"
    assert program.outputs["plain_name"] == "Plain metric"
    assert program.outputs["dependent_id"] == "dependent-metric-id"


def test_depends_on_and_output_inputs_are_dependencies(program: Program) -> None:
    key_urn = program.outputs["key_urn"]
    request = program.monitor.requests["dependent-metric"]
    assert key_urn in request.dependencies
    assert list(request.propertyDependencies["name"].urns) == [key_urn]
    assert list(request.propertyDependencies["custom_fields"].urns) == [key_urn]
    assert list(request.propertyDependencies["aggregation_type"].urns) == []
    assert list(program.monitor.requests["typed-metric"].dependencies) == []


def test_provider_is_small_and_pickled_by_reference(program: Program) -> None:
    for name in ("typed-metric", "plain-metric", "dependent-metric"):
        provider = program.inputs(name)["__provider"]
        assert isinstance(provider, str)  # not a secret: serialize_as_secret_always=False
        assert len(provider) < 300
        raw = base64.b64decode(provider)
        assert (
            b"pulumi_metronome.resources.billable_metric" in raw
            and b"BillableMetricProvider" in raw
        )
        assert type(dill.loads(raw)) is BillableMetricProvider
    assert len(program.inputs("team-key")["__provider"]) < 300


def test_no_token_in_any_input_or_provider(program: Program) -> None:
    assert program.mocks.resources
    for args in program.mocks.resources.values():
        raw = base64.b64decode(args.inputs["__provider"])
        text = repr(args.inputs)
        for token in (ENV_TOKEN, CONFIG_TOKEN):
            assert token.encode() not in raw
            assert token not in text
        # The raw request the engine receives, every byte of it.
        wire = program.monitor.requests[args.name].SerializeToString()
        assert ENV_TOKEN.encode() not in wire and CONFIG_TOKEN.encode() not in wire


def test_a_configured_provider_still_pickles_without_its_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    provider = BillableMetricProvider()
    provider.configure(
        ConfigureRequest(
            Config(raw_config={"metronome:bearerToken": CONFIG_TOKEN}, project_name="pricing")
        )
    )
    assert CONFIG_TOKEN in repr(provider.client._headers)  # the token is in the client now
    raw = base64.b64decode(serialize_provider(provider))
    assert CONFIG_TOKEN.encode() not in raw
    restored = dill.loads(raw)
    assert type(restored) is BillableMetricProvider
    assert vars(restored) == {}  # no token, no client: configured afresh by the engine


#: ``__provider`` as version 0.1.0 (commit 6c738fd, providers in ``providers.py``) stored it
#: in every resource's state; the engine unpickles it to delete or refresh those resources.
OLD_STATE_PROVIDERS = {
    "gASVPwAAAAAAAACMGnB1bHVtaV9tZXRyb25vbWUucHJvdmlkZXJzlIwWQmlsbGFibGVNZXRyaWNQcm92aWRlcpSTlC"
    "mBlH2UYi4=": BillableMetricProvider,
    "gASVPwAAAAAAAACMGnB1bHVtaV9tZXRyb25vbWUucHJvdmlkZXJzlIwWQ3VzdG9tRmllbGRLZXlQcm92aWRlcpSTlC"
    "mBlH2UYi4=": CustomFieldKeyProvider,
}


@pytest.mark.parametrize(("serialized", "kind"), OLD_STATE_PROVIDERS.items())
def test_providers_pickled_by_earlier_versions_still_load(serialized: str, kind: type) -> None:
    raw = base64.b64decode(serialized)
    assert b"pulumi_metronome.providers" in raw  # the old module name, as recorded
    assert type(dill.loads(raw)) is kind
