"""The whole lifecycle through the real provider process, driven as the Pulumi engine does.

Inputs and ``__provider`` come from a real program registration (``BillableMetric`` under
``pulumi.runtime.set_mocks``): exactly what the language host hands the engine, which then
sends them to ``python -m pulumi.dynamic`` over gRPC. The provider talks to the local
Metronome server, whose request log shows what reached the API.
"""

from __future__ import annotations

import base64
import pickle
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import dill
import grpc
import pulumi
import pytest
import requests
from engine import KEY_TYPE, PROJECT, STACK, EngineProcess
from pulumi.runtime import rpc
from recording_mocks import RecordingMocks

from pulumi_metronome.resources import (
    BillableMetric,
    BillableMetricProvider,
    CustomFieldKey,
    CustomFieldKeyProvider,
    EventTypeFilterArgs,
    PropertyFilterArgs,
)

TOKEN_KEY = "metronome:bearerToken"
URL_KEY = "metronome:baseUrl"


# --------------------------------------------------------------------- the program side


def register(declare: Callable[[], pulumi.CustomResource]) -> pulumi.runtime.MockResourceArgs:
    """Run a one-resource program; return what the engine receives for the resource."""
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=STACK, preview=False)
    names: list[str] = []

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        resource = declare()
        names.append(resource._name)
        return resource.urn

    program()
    return mocks.resources[names[0]]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def tokens_metric(name: str | None = None, **extra: Any) -> dict[str, Any]:
    """The inputs a program declaring a SUM-of-tokens metric sends the engine."""
    resource_name = unique("tokens")

    def declare() -> BillableMetric:
        return BillableMetric(
            resource_name,
            name=name,
            aggregation_type="sum",
            aggregation_key="tokens",
            event_type_filter=EventTypeFilterArgs(in_values=["completion"]),
            property_filters=[
                PropertyFilterArgs(name="tokens", exists=True),
                PropertyFilterArgs(name="region", in_values=["us", "eu"]),
                {"name": "model", "in_values": ["small", "large"]},
            ],
            group_keys=[["model", "region"]],
            **extra,
        )

    args = register(declare)
    assert args.typ == "pulumi-python:dynamic/metronome:BillableMetric"
    return dict(args.inputs)


@pytest.fixture(scope="module")
def metric_provider() -> str:
    """``__provider`` as a program's registration produces it."""
    provider: str = tokens_metric()["__provider"]
    return provider


# ---------------------------------------------------------------------- the engine side


@pytest.fixture(scope="module")
def engine(metronome: Any) -> Iterator[EngineProcess]:
    """One provider process for the module, configured once as the engine does."""
    with EngineProcess() as process:
        accepts_secrets = process.configure(
            {TOKEN_KEY: metronome.token, URL_KEY: metronome.url, "pricing:env": "test"},
            secrets=[TOKEN_KEY],
        )
        assert accepts_secrets is False
        yield process
        assert process.alive, process.output()


def api(server: Any, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    """A direct HTTP call to the server, behind Pulumi's back."""
    response = requests.request(
        method,
        server.url + path,
        headers={"Authorization": f"Bearer {server.token}"},
        timeout=10,
        **kwargs,
    )
    assert response.status_code < 300, (response.status_code, response.text)
    return response.json() if response.content else {}


def live(server: Any, metric_id: str) -> dict[str, Any]:
    return api(server, "GET", f"/v1/billable-metrics/{metric_id}")["data"]


def calls(server: Any) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in server.requests()]


def checked(engine: EngineProcess, news: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    result = engine.check({}, news, **kwargs)
    assert result.failures == []
    return result.inputs


def created(engine: EngineProcess, news: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``pulumi up`` of a new resource: Check, then Create; returns (id, stored outputs)."""
    result = engine.create(checked(engine, news))
    assert result.id
    return result.id, result.properties


# ------------------------------------------------------------------------------ tests


def test_the_registered_provider_is_pickled_by_reference(metric_provider: str) -> None:
    raw = base64.b64decode(metric_provider)
    assert b"pulumi_metronome.resources.billable_metric" in raw and b"BillableMetricProvider" in raw
    assert type(dill.loads(raw)) is BillableMetricProvider
    key_inputs = register(lambda: CustomFieldKey(unique("key"))).inputs
    key_raw = base64.b64decode(key_inputs["__provider"])
    assert b"pulumi_metronome.resources.custom_field_key" in key_raw
    assert type(dill.loads(key_raw)) is CustomFieldKeyProvider


def test_preview_check_keeps_unknowns_validates_the_rest_and_calls_nothing(
    engine: EngineProcess, server: Any, metric_provider: str
) -> None:
    news = tokens_metric("preview", custom_fields={"team": "ml"})
    news["name"] = rpc.UNKNOWN  # e.g. computed from another resource's output
    news["custom_fields"] = {"team": rpc.UNKNOWN}
    result = engine.check({}, news)
    assert result.failures == []
    assert result.inputs["name"] == rpc.UNKNOWN
    assert result.inputs["custom_fields"] == {"team": rpc.UNKNOWN}
    # The known fields are normalized as usual.
    assert result.inputs["aggregation_type"] == "SUM"
    assert result.inputs["__provider"] == metric_provider
    # Unknown fields do not hide mistakes in the known ones.
    bad = engine.check({}, {**news, "aggregation_key": "bytes"})
    assert [(f.property, f.reason) for f in bad.failures] == [
        (
            "aggregation_key",
            "The specified aggregation key must be one of the property filter names.",
        )
    ]
    # Unknown immutable field: diff reports a possible replacement.
    outs = checked(engine, tokens_metric("preview"))
    diff = engine.diff(unique("m"), outs, {**outs, "property_filters": rpc.UNKNOWN})
    assert diff.changes == "DIFF_SOME" and diff.replaces == ["property_filters"]
    assert server.requests() == []


def test_check_reports_invalid_fields_with_the_rules_messages_and_calls_nothing(
    engine: EngineProcess, server: Any
) -> None:
    news = tokens_metric()
    news.update(
        aggregation_type="average",
        group_keys=[["zone"]],
        property_filters=[{"name": "region", "in_values": []}],
    )
    result = engine.check({}, news)
    assert {(f.property, f.reason) for f in result.failures} == {
        ("aggregation_type", "must be one of COUNT, LATEST, MAX, SUM, UNIQUE (any case)"),
        ("property_filters", "property_filters[0].in_values: must be non-empty when present"),
    }
    news = tokens_metric()
    news.update(aggregation_key=None, group_keys=[["zone"]], colour="red")
    result = engine.check({}, news)
    assert {(f.property, f.reason) for f in result.failures} == {
        ("colour", "is not an argument of BillableMetric"),
        ("aggregation_key", "is required for aggregation type SUM"),
        (
            "group_keys",
            "group_keys[0]: Group key 'zone' does not match one of the property filter names.",
        ),
    }
    assert server.requests() == []


def test_check_normalizes_case_order_and_numbers(engine: EngineProcess, server: Any) -> None:
    news = tokens_metric("normalized")
    news["aggregation_type"] = "sum"
    news["event_type_filter"] = {"in_values": ["b", "a", "b"]}
    news["property_filters"] = [
        {"name": "tokens", "exists": True},
        {"name": "status", "in_values": [500, 200]},  # numbers travel as floats
        {"name": "region", "in_values": ["us", "eu"]},
        {"name": "model", "in_values": ["small", "large"]},
    ]
    inputs = checked(engine, news)
    assert inputs["aggregation_type"] == "SUM"
    assert inputs["event_type_filter"] == {"in_values": ["a", "b"]}
    assert inputs["property_filters"] == [
        {"name": "model", "in_values": ["large", "small"]},
        {"name": "region", "in_values": ["eu", "us"]},
        {"name": "status", "in_values": ["200", "500"]},
        {"name": "tokens", "exists": True},
    ]
    assert inputs["group_keys"] == [["model", "region"]]
    assert inputs["name"] == "normalized" and inputs["adopt_existing"] is False
    assert server.requests() == []


def test_diff_rename_is_in_place_and_filter_change_replaces(engine: EngineProcess) -> None:
    outs = checked(engine, tokens_metric("before"))
    renamed = engine.diff(unique("m"), outs, checked(engine, tokens_metric("after")))
    assert renamed.changes == "DIFF_SOME"
    assert renamed.replaces == [] and renamed.delete_before_replace is False

    news = tokens_metric("before")
    news["property_filters"] = [*news["property_filters"], {"name": "tier", "exists": True}]
    refiltered = engine.diff(unique("m"), outs, checked(engine, news))
    assert refiltered.changes == "DIFF_SOME"
    assert refiltered.replaces == ["property_filters"]
    assert refiltered.delete_before_replace is False


def test_diff_same_declaration_in_another_order_and_case_is_no_change(
    engine: EngineProcess,
) -> None:
    outs = checked(engine, tokens_metric("same"))
    news = tokens_metric("same")
    news["aggregation_type"] = "Sum"
    news["property_filters"] = [
        {"name": "model", "in_values": ["large", "small"]},
        {"in_values": ["eu", "us", "eu"], "name": "region"},
        {"exists": True, "name": "tokens"},
    ]
    diff = engine.diff(unique("m"), outs, checked(engine, news))
    assert (diff.changes, diff.replaces) == ("DIFF_NONE", [])


def test_diff_a_different_provider_string_alone_is_no_change(
    engine: EngineProcess, metric_provider: str
) -> None:
    # The same class, pickled another way (an older SDK, another pickle protocol).
    other = base64.b64encode(dill.dumps(BillableMetricProvider(), protocol=2)).decode()
    assert other != metric_provider
    assert type(pickle.loads(base64.b64decode(other))) is BillableMetricProvider
    outs = checked(engine, tokens_metric("provider"))
    assert engine.diff(unique("m"), {**outs, "__provider": other}, outs).changes == "DIFF_NONE"
    assert engine.diff(unique("m"), outs, {**outs, "__provider": other}).changes == "DIFF_NONE"


def test_create_returns_the_id_of_a_metric_that_exists(
    engine: EngineProcess, server: Any, metric_provider: str
) -> None:
    name = unique("created")
    inputs = checked(engine, tokens_metric(name))
    result = engine.create(inputs)
    assert result.id
    assert result.properties == inputs  # outputs: the canonical inputs, with __provider
    assert result.properties["__provider"] == metric_provider
    assert calls(server) == [("POST", "/v1/billable-metrics/create")]
    metric = live(server, result.id)
    assert metric["name"] == name and metric["aggregation_type"] == "SUM"
    assert metric.get("archived_at") is None


def test_update_renames_in_place(engine: EngineProcess, server: Any) -> None:
    metric_id, outs = created(engine, tokens_metric(unique("old")))
    new_name = unique("new")
    news = checked(engine, tokens_metric(new_name))
    assert engine.diff(metric_id, outs, news).replaces == []
    server.clear_requests()
    new_outs = engine.update(metric_id, outs, news)
    assert new_outs["name"] == new_name
    assert calls(server) == [("PUT", f"/v1/billable-metrics/{metric_id}")]
    assert live(server, metric_id)["name"] == new_name
    # The same metric, found again by a refresh under the same id.
    assert engine.read(metric_id, new_outs).id == metric_id


def test_update_sets_and_deletes_custom_fields_in_place(engine: EngineProcess, server: Any) -> None:
    team, tier = unique("team"), unique("tier")
    for key in (team, tier):
        key_inputs = dict(register(lambda key=key: CustomFieldKey(key)).inputs)
        engine.create(checked(engine, key_inputs, type_=KEY_TYPE), type_=KEY_TYPE)
    name = unique("tagged")
    metric_id, outs = created(engine, tokens_metric(name, custom_fields={team: "ml"}))
    assert live(server, metric_id)["custom_fields"] == {team: "ml"}

    news = checked(engine, tokens_metric(name, custom_fields={tier: "gold"}))
    diff = engine.diff(metric_id, outs, news)
    assert (diff.changes, diff.replaces) == ("DIFF_SOME", [])
    server.clear_requests()
    new_outs = engine.update(metric_id, outs, news)
    assert new_outs["custom_fields"] == {tier: "gold"}
    assert sorted(calls(server)) == [
        ("POST", "/v1/customFields/deleteValues"),
        ("POST", "/v1/customFields/setValues"),
    ]
    assert live(server, metric_id)["custom_fields"] == {tier: "gold"}


def test_read_unchanged_returns_the_same_outputs(engine: EngineProcess, server: Any) -> None:
    name = unique("steady")
    metric_id, outs = created(engine, tokens_metric(name))
    # The same resource's inputs (a new declaration would be another resource).
    inputs = {**checked(engine, tokens_metric(name)), "__resource": outs["__resource"]}
    server.clear_requests()
    result = engine.read(metric_id, outs, inputs)
    assert result.id == metric_id
    assert result.properties == outs
    assert result.inputs == inputs
    assert [m for m, _ in calls(server)] == ["GET"]


def test_read_after_a_rename_behind_pulumis_back_returns_the_new_name(
    engine: EngineProcess, server: Any
) -> None:
    name = unique("declared")
    metric_id, outs = created(engine, tokens_metric(name))
    api(server, "PUT", f"/v1/billable-metrics/{metric_id}", json={"name": "renamed-in-ui"})
    result = engine.read(metric_id, outs, checked(engine, tokens_metric(name)))
    assert result.id == metric_id
    assert result.properties["name"] == "renamed-in-ui"
    assert result.inputs is not None and result.inputs["name"] == "renamed-in-ui"
    # The next `up` renames it back, in place.
    diff = engine.diff(metric_id, result.properties, checked(engine, tokens_metric(name)))
    assert (diff.changes, diff.replaces) == ("DIFF_SOME", [])


def test_read_after_an_archive_behind_pulumis_back_reports_it_gone(
    engine: EngineProcess, server: Any
) -> None:
    metric_id, outs = created(engine, tokens_metric(unique("doomed")))
    api(server, "POST", "/v1/billable-metrics/archive", json={"id": metric_id})
    result = engine.read(metric_id, outs)
    assert result.id == ""
    assert result.inputs is None


def test_delete_archives_and_deleting_again_is_harmless(engine: EngineProcess, server: Any) -> None:
    metric_id, outs = created(engine, tokens_metric(unique("deleted")))
    server.clear_requests()
    engine.delete(metric_id, outs)
    assert calls(server) == [("POST", "/v1/billable-metrics/archive")]
    archived_at = live(server, metric_id).get("archived_at")
    assert archived_at
    engine.delete(metric_id, outs)
    assert live(server, metric_id)["archived_at"] == archived_at
    assert engine.read(metric_id, outs).id == ""


def test_custom_field_key_create_read_delete(engine: EngineProcess, server: Any) -> None:
    key = unique("region")
    registered = register(lambda: CustomFieldKey(unique("key"), key=key))
    assert registered.typ == KEY_TYPE
    inputs = checked(engine, dict(registered.inputs), type_=KEY_TYPE)
    assert inputs["entity"] == "billable_metric" and inputs["key"] == key
    result = engine.create(inputs, type_=KEY_TYPE)
    assert result.id == f"billable_metric/{key}"
    listed = api(
        server, "POST", "/v1/customFields/listKeys", json={"entities": ["billable_metric"]}
    )
    assert {"entity": "billable_metric", "key": key, "enforce_uniqueness": False} in [
        {k: item[k] for k in ("entity", "key", "enforce_uniqueness")} for item in listed["data"]
    ]
    read = engine.read(result.id, result.properties, inputs, type_=KEY_TYPE)
    assert read.id == result.id and read.properties == result.properties
    engine.delete(result.id, result.properties, type_=KEY_TYPE)
    gone = engine.read(result.id, result.properties, inputs, type_=KEY_TYPE)
    assert gone.id == ""
    engine.delete(result.id, result.properties, type_=KEY_TYPE)  # harmless twice


def test_a_missing_token_fails_create_with_how_to_set_it(
    metronome: Any, server: Any, metric_provider: str
) -> None:
    with EngineProcess(unset_env=["METRONOME_BEARER_TOKEN", "METRONOME_BASE_URL"]) as process:
        process.configure({URL_KEY: metronome.url})
        inputs = checked(process, tokens_metric(unique("no-token")))  # check needs no token
        with pytest.raises(grpc.RpcError) as caught:
            process.create(inputs)
        assert process.alive
    error = caught.value
    assert error.code() == grpc.StatusCode.UNKNOWN
    assert "pulumi config set --secret metronome:bearerToken" in error.details()
    assert "METRONOME_BEARER_TOKEN" in error.details()
    assert server.requests() == []
