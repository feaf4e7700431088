"""Every provider method called directly, against the real local server on loopback."""

from __future__ import annotations

import json
import math
import sqlite3
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from pulumi.runtime import rpc

from pulumi_metronome import (
    AdoptionConflict,
    ConfigurationError,
    MetronomeAPIError,
    MetronomeClient,
    MetronomeError,
    MissingCredentialsError,
    OwnershipConflict,
    RetryPolicy,
)
from pulumi_metronome.resources import BillableMetricProvider, CustomFieldKeyProvider
from pulumi_metronome.resources.billable_metric import METRICS
from pulumi_metronome.resources.custom_field_key import KEYS

PROVIDER = "serialized-provider-v1"


def tokens(name: str | None = None, **extra: Any) -> dict[str, Any]:
    """A SUM-of-tokens declaration, as the engine hands it to check."""
    news = {
        "name": name or f"tokens-{uuid.uuid4().hex[:8]}",
        "aggregation_type": "sum",
        "aggregation_key": "tokens",
        "property_filters": [
            {"name": "tokens", "exists": True},
            {"name": "region", "in_values": ["us", "eu"]},
            {"name": "model", "in_values": ["small", "large"]},
        ],
        "group_keys": [["model", "region"]],
        "event_type_filter": {"in_values": ["completion"]},
        "__provider": PROVIDER,
    }
    news.update(extra)
    return news


def checked(provider: BillableMetricProvider, news: dict[str, Any]) -> dict[str, Any]:
    result = provider.check({}, news)
    assert result.failures == [], [(f.property, f.reason) for f in result.failures]
    return {**result.inputs, "__provider": news.get("__provider", PROVIDER)}


def failures(provider: Any, news: dict[str, Any]) -> list[tuple[str, str]]:
    """(field path, message) per failure: the engine gets the top-level property, and a
    deeper path leads the reason (``group_keys[0]: ...``)."""
    found = []
    for failure in provider.check({}, news).failures:
        path, message = failure.property, failure.reason
        head, _, rest = message.partition(": ")
        if rest and head.startswith((f"{path}[", f"{path}.")):
            path, message = head, rest
        found.append((path, message))
    return found


def created(provider: BillableMetricProvider, news: dict[str, Any]) -> tuple[str, dict]:
    inputs = checked(provider, news)
    result = provider.create(inputs)
    return result.id, {**result.outs, "__provider": PROVIDER}


def api(server: Any) -> MetronomeClient:
    return MetronomeClient(server.token, server.url)


# ----------------------------------------------------------------------------- check


RULES = [
    (
        {"sql": "select count(*) from events", "aggregation_type": "count"},
        "aggregation_type",
        "mutually exclusive",
    ),
    (
        {"sql": "select 1", "property_filters": [{"name": "a", "exists": True}]},
        "property_filters",
        "mutually exclusive",
    ),
    ({"sql": "select 1", "group_keys": [["a"]]}, "group_keys", "mutually exclusive"),
    ({"sql": "select 1", "aggregation_key": "a"}, "aggregation_key", "mutually exclusive"),
    (
        {"sql": "select 1", "event_type_filter": {"in_values": ["x"]}},
        "event_type_filter",
        "mutually exclusive",
    ),
    ({}, "aggregation_type", "is required when sql is not provided"),
    ({"aggregation_type": "average"}, "aggregation_type", "must be one of COUNT"),
    ({"aggregation_type": "SUM"}, "aggregation_key", "is required for aggregation type SUM"),
    (
        {"aggregation_type": "count", "aggregation_key": "x"},
        "aggregation_key",
        "not applicable to aggregation type COUNT",
    ),
    (
        {"aggregation_type": "max", "aggregation_key": "bytes"},
        "aggregation_key",
        "The specified aggregation key must be one of the property filter names.",
    ),
    (
        {"aggregation_type": "count", "group_keys": [["region"]]},
        "group_keys[0]",
        "Group key 'region' does not match one of the property filter names.",
    ),
    (
        {
            "aggregation_type": "count",
            "property_filters": [{"name": "region", "not_in_values": ["x"]}],
            "group_keys": [["region"]],
        },
        "group_keys[0]",
        "must have a property filter with exists: true or in_values",
    ),
    (
        {"aggregation_type": "count", "property_filters": [{"name": "a", "in_values": []}]},
        "property_filters[0].in_values",
        "must be non-empty",
    ),
    (
        {"aggregation_type": "count", "event_type_filter": {"not_in_values": []}},
        "event_type_filter.not_in_values",
        "must be non-empty",
    ),
    (
        {"aggregation_type": "count", "group_keys": [[]]},
        "group_keys[0]",
        "must not be empty",
    ),
    (
        {"aggregation_type": "count", "custom_fields": {"team": "x" * 201}},
        "custom_fields['team']",
        "is longer than 200 characters",
    ),
    ({"aggregation_type": "count", "name": "  "}, "name", "must not be empty"),
    ({"aggregation_type": "count", "colour": "red"}, "colour", "not an argument"),
    (
        {
            "aggregation_type": "count",
            "property_filters": [{"name": "a", "exists": True}, {"name": "a", "exists": True}],
        },
        "property_filters[1].name",
        "filtered twice",
    ),
]


@pytest.mark.parametrize(("fields", "field", "message"), RULES)
def test_check_reports_each_rule_with_its_field_and_makes_no_call(
    metrics: BillableMetricProvider,
    writes: Any,
    server: Any,
    fields: dict,
    field: str,
    message: str,
) -> None:
    news = {"name": "m", "__provider": PROVIDER, **fields}
    found = failures(metrics, news)
    assert any(f == field and message in reason for f, reason in found), found
    assert server.requests() == []


def test_check_reports_every_problem_at_once(metrics: BillableMetricProvider) -> None:
    found = failures(
        metrics,
        {
            "name": "m",
            "aggregation_type": "SUM",
            "event_type_filter": {"in_values": []},
            "property_filters": [{"name": "a", "exists": True}],
            "group_keys": [["b"]],
            "__provider": PROVIDER,
        },
    )
    fields = {f for f, _ in found}
    assert fields == {"aggregation_key", "event_type_filter.in_values", "group_keys[0]"}


def test_check_normalizes_so_equivalent_declarations_are_identical(
    metrics: BillableMetricProvider,
) -> None:
    a = checked(metrics, tokens("same"))
    b = checked(
        metrics,
        tokens(
            "same",
            aggregation_type="Sum",
            property_filters=[
                {"name": "model", "in_values": ["large", "small", "large"]},
                {"name": "tokens", "exists": True},
                {"name": "region", "in_values": ["eu", "us"]},
            ],
            event_type_filter={"in_values": ["completion"]},
        ),
    )
    assert a == b
    assert a["aggregation_type"] == "SUM"
    assert [f["name"] for f in a["property_filters"]] == ["model", "region", "tokens"]


def test_check_turns_numbers_pulumi_sends_as_floats_into_strings(
    metrics: BillableMetricProvider,
) -> None:
    inputs = checked(
        metrics,
        {
            "name": "status",
            "aggregation_type": "COUNT",
            "property_filters": [{"name": "status", "in_values": [404.0, 200.0, 2.5]}],
            "custom_fields": {"tier": 3.0},
            "__provider": PROVIDER,
        },
    )
    assert inputs["property_filters"][0]["in_values"] == ["2.5", "200", "404"]
    assert inputs["custom_fields"] == {"tier": "3"}


def test_check_tolerates_unknowns_in_preview(metrics: BillableMetricProvider, server: Any) -> None:
    news = tokens(name=rpc.UNKNOWN, property_filters=[{"name": "tokens", "exists": rpc.UNKNOWN}])
    result = metrics.check({}, news)
    assert result.failures == []
    assert result.inputs["name"] == rpc.UNKNOWN
    assert result.inputs["aggregation_type"] == "SUM"
    # Known fields are still checked while others are unknown.
    bad = metrics.check({}, {**news, "aggregation_type": "avg"})
    assert [f.property for f in bad.failures] == ["aggregation_type"]
    assert server.requests() == []


# ------------------------------------------------------------------------------ diff


def test_diff_same_declaration_in_another_case_and_order_is_no_change(
    metrics: BillableMetricProvider,
) -> None:
    olds = checked(metrics, tokens("x"))
    news = checked(
        metrics,
        tokens(
            "x",
            aggregation_type="SUM",
            property_filters=list(reversed(tokens()["property_filters"])),
        ),
    )
    result = metrics.diff("id", olds, news)
    assert result.changes is False and result.replaces == []


def test_diff_a_changed_provider_alone_is_no_change(metrics: BillableMetricProvider) -> None:
    olds = checked(metrics, tokens("x"))
    news = {**olds, "__provider": "a-newer-serialized-provider"}
    result = metrics.diff("id", olds, news)
    assert result.changes is False


def test_diff_rename_is_in_place(metrics: BillableMetricProvider) -> None:
    olds = checked(metrics, tokens("old"))
    result = metrics.diff("id", olds, checked(metrics, tokens("new")))
    assert result.changes is True and result.replaces == []


def test_diff_custom_fields_are_in_place(metrics: BillableMetricProvider) -> None:
    olds = checked(metrics, tokens("x", custom_fields={"team": "a"}))
    for custom_fields in ({"team": "b"}, {}, {"team": "a", "tier": "1"}):
        result = metrics.diff(
            "id", olds, checked(metrics, tokens("x", custom_fields=custom_fields))
        )
        assert result.changes is True and result.replaces == [], custom_fields


def test_diff_absent_and_empty_custom_fields_are_the_same(metrics: BillableMetricProvider) -> None:
    olds = checked(metrics, tokens("x"))
    result = metrics.diff("id", olds, checked(metrics, tokens("x", custom_fields={})))
    assert result.changes is False


@pytest.mark.parametrize(
    ("change", "replaced"),
    [
        ({"aggregation_type": "MAX"}, ["aggregation_type"]),
        ({"aggregation_key": "region"}, ["aggregation_key"]),
        ({"event_type_filter": {"in_values": ["chat"]}}, ["event_type_filter"]),
        ({"event_type_filter": None}, ["event_type_filter"]),
        ({"group_keys": [["model"]]}, ["group_keys"]),
        (
            {
                "property_filters": [
                    {"name": "tokens", "exists": True},
                    {"name": "region", "in_values": ["us"]},
                    {"name": "model", "in_values": ["small", "large"]},
                ]
            },
            ["property_filters"],
        ),
    ],
)
def test_diff_immutable_fields_replace(
    metrics: BillableMetricProvider, change: dict, replaced: list[str]
) -> None:
    olds = checked(metrics, tokens("x"))
    result = metrics.diff("id", olds, checked(metrics, tokens("x", **change)))
    assert result.changes is True
    assert result.replaces == replaced
    assert result.delete_before_replace is False  # new metric first, then archive the old


def test_diff_sql_change_replaces(metrics: BillableMetricProvider) -> None:
    base = {"name": "s", "__provider": PROVIDER}
    olds = checked(metrics, {**base, "sql": "select count(*) from events"})
    news = checked(
        metrics, {**base, "sql": "select count(distinct properties.user_id) from events"}
    )
    assert metrics.diff("id", olds, news).replaces == ["sql"]


def test_diff_unknown_immutable_field_is_a_possible_replacement(
    metrics: BillableMetricProvider,
) -> None:
    olds = checked(metrics, tokens("x"))
    news = metrics.check({}, tokens("x", aggregation_key=rpc.UNKNOWN)).inputs
    assert metrics.diff("id", olds, news).replaces == ["aggregation_key"]


# --------------------------------------------------------------- create/read/update/delete


def test_create_then_read_returns_complete_normalized_outputs(
    metrics: BillableMetricProvider, server: Any
) -> None:
    metric_id, outs = created(metrics, tokens(custom_fields={}))
    live = api(server).get_billable_metric(metric_id)
    assert live.aggregation_type == "SUM" and live.archived_at is None
    assert outs["aggregation_type"] == "SUM"
    read = metrics.read(metric_id, outs)
    assert read.id == metric_id
    assert {k: read.outs[k] for k in outs if k != "__provider"} == {
        k: v for k, v in outs.items() if k != "__provider"
    }
    assert read.inputs == read.outs


def test_create_sends_one_write(metrics: BillableMetricProvider, writes: Any) -> None:
    created(metrics, tokens())
    assert [w["path"] for w in writes()] == ["/v1/billable-metrics/create"]


def test_update_renames_in_place_and_sends_only_the_rename(
    metrics: BillableMetricProvider, server: Any, writes: Any
) -> None:
    metric_id, outs = created(metrics, tokens("before"))
    server.clear_requests()
    news = checked(metrics, tokens("after"))
    result = metrics.update(metric_id, outs, news)
    assert result.outs["name"] == "after"
    assert api(server).get_billable_metric(metric_id).name == "after"
    assert [(w["method"], w["path"]) for w in writes()] == [
        ("PUT", f"/v1/billable-metrics/{metric_id}")
    ]


def test_update_sets_and_deletes_custom_fields_in_place(
    metrics: BillableMetricProvider, keys: CustomFieldKeyProvider, server: Any, writes: Any
) -> None:
    for key in ("team", "tier", "owner"):
        keys.create(keys.check({}, {"key": key, "adopt_existing": True}).inputs)
    metric_id, outs = created(metrics, tokens("cf", custom_fields={"team": "a", "tier": "1"}))
    assert api(server).get_billable_metric(metric_id).custom_fields == {"team": "a", "tier": "1"}
    server.clear_requests()
    news = checked(metrics, tokens("cf", custom_fields={"team": "b", "owner": "ops"}))
    result = metrics.update(metric_id, outs, news)
    assert result.outs["custom_fields"] == {"owner": "ops", "team": "b"}
    assert api(server).get_billable_metric(metric_id).custom_fields == {"team": "b", "owner": "ops"}
    assert [w["path"] for w in writes()] == [
        "/v1/customFields/setValues",
        "/v1/customFields/deleteValues",
    ]


def test_delete_archives_and_is_harmless_twice_or_when_gone(
    metrics: BillableMetricProvider, server: Any
) -> None:
    metric_id, outs = created(metrics, tokens())
    metrics.delete(metric_id, outs)
    archived = api(server).get_billable_metric(metric_id)
    assert archived.archived_at is not None
    metrics.delete(metric_id, outs)
    assert api(server).get_billable_metric(metric_id).archived_at == archived.archived_at
    metrics.delete(str(uuid.uuid4()), outs)  # never existed: counts as deleted


def test_read_reports_a_metric_archived_outside_pulumi_as_gone(
    metrics: BillableMetricProvider, server: Any
) -> None:
    metric_id, outs = created(metrics, tokens())
    api(server).archive_billable_metric(metric_id)
    result = metrics.read(metric_id, outs)
    assert result.id is None and result.outs == {}


def test_read_reports_an_unknown_id_as_gone(metrics: BillableMetricProvider) -> None:
    result = metrics.read(str(uuid.uuid4()), checked(metrics, tokens()))
    assert result.id is None


def test_read_shows_a_rename_outside_pulumi_as_drift(
    metrics: BillableMetricProvider, server: Any
) -> None:
    metric_id, outs = created(metrics, tokens("declared"))
    api(server).rename_billable_metric(metric_id, "renamed-in-the-ui")
    result = metrics.read(metric_id, outs)
    assert result.inputs["name"] == "renamed-in-the-ui"
    # The next diff compares the declaration with what was found: an in-place rename back.
    diff = metrics.diff(
        metric_id, {**result.outs, "__provider": PROVIDER}, checked(metrics, tokens("declared"))
    )
    assert diff.changes is True and diff.replaces == []


def test_read_shows_custom_fields_changed_outside_pulumi_as_drift(
    metrics: BillableMetricProvider, keys: CustomFieldKeyProvider, server: Any
) -> None:
    keys.create(keys.check({}, {"key": "team", "adopt_existing": True}).inputs)
    metric_id, outs = created(metrics, tokens("tagged", custom_fields={"team": "a"}))
    api(server).set_custom_field_values("billable_metric", metric_id, {"team": "z"})
    assert metrics.read(metric_id, outs).inputs["custom_fields"] == {"team": "z"}


# -------------------------------------------------------------------------- adoption


def test_adoption_takes_over_a_metric_with_the_same_name_and_definition(
    metrics: BillableMetricProvider, server: Any, writes: Any
) -> None:
    name = f"existing-{uuid.uuid4().hex[:6]}"
    existing, _ = created(metrics, tokens(name))
    server.clear_requests()
    declared = tokens(
        name, aggregation_type="SUM", adopt_existing=True,
        property_filters=list(reversed(tokens()["property_filters"])),
    )  # fmt: skip
    adopted, outs = created(metrics, declared)
    assert adopted == existing
    assert writes() == []
    assert outs["adopt_existing"] is True


def test_adoption_never_takes_a_metric_this_stack_manages(
    metrics: BillableMetricProvider, server: Any
) -> None:
    """A forced replacement (`pulumi up --replace`) keeps the definition: the new resource
    must get a new metric, not its predecessor, which the engine archives next."""
    name = f"managed-{uuid.uuid4().hex[:6]}"
    old, outs = created(metrics, tokens(name, adopt_existing=True))
    inputs = checked(metrics, tokens(name, adopt_existing=True))
    assert metrics.diff(old, outs, inputs).changes is False  # the engine diffs it first
    new, new_outs = created(metrics, tokens(name, adopt_existing=True))
    assert new != old
    # A changed definition (an ordinary replacement) is not a conflict either.
    changed = checked(metrics, tokens(name, aggregation_type="MAX", adopt_existing=True))
    assert metrics.diff(new, new_outs, changed).replaces == ["aggregation_type"]
    newer, _ = created(metrics, changed)
    assert newer not in (old, new)


def test_adoption_refuses_a_namesake_with_another_definition(
    metrics: BillableMetricProvider, server: Any
) -> None:
    name = f"clash-{uuid.uuid4().hex[:6]}"
    created(metrics, tokens(name))
    server.clear_requests()
    with pytest.raises(MetronomeError, match=r"different definition.*aggregation_type"):
        created(metrics, tokens(name, aggregation_type="MAX", adopt_existing=True))
    assert [r for r in server.requests() if r["path"].endswith("/create")] == []


def test_without_adoption_a_namesake_gets_a_new_metric(
    metrics: BillableMetricProvider,
) -> None:
    name = f"twin-{uuid.uuid4().hex[:6]}"
    first, _ = created(metrics, tokens(name))
    second, _ = created(metrics, tokens(name))
    assert first != second


def test_adoption_ignores_archived_metrics(metrics: BillableMetricProvider, server: Any) -> None:
    name = f"retired-{uuid.uuid4().hex[:6]}"
    old, outs = created(metrics, tokens(name))
    metrics.delete(old, outs)
    new, _ = created(metrics, tokens(name, adopt_existing=True))
    assert new != old


# ----------------------------------------------------------------------- credentials


def test_credentials_come_from_the_environment_when_config_is_empty(
    server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METRONOME_BEARER_TOKEN", server.token)
    monkeypatch.setenv("METRONOME_BASE_URL", server.url)
    provider = BillableMetricProvider()
    provider.configure(ConfigureRequest(Config(raw_config={}, project_name="test")))
    metric_id, _ = created(provider, tokens())
    assert api(server).get_billable_metric(metric_id).id == metric_id


def test_stack_config_wins_over_the_environment(
    server: Any, monkeypatch: pytest.MonkeyPatch, stack_config: dict, local_server_factory: Any
) -> None:
    # The environment names another real server, with its own token: a metric created
    # there instead would make the test fail, not just a connection error.
    elsewhere = local_server_factory(tokens=["env-token"])
    monkeypatch.setenv("METRONOME_BEARER_TOKEN", "env-token")
    monkeypatch.setenv("METRONOME_BASE_URL", elsewhere.url)
    provider = BillableMetricProvider()
    provider.configure(ConfigureRequest(Config(raw_config=stack_config, project_name="test")))
    metric_id, _ = created(provider, tokens())
    assert api(server).get_billable_metric(metric_id).id == metric_id
    assert list(MetronomeClient("env-token", elsewhere.url).list_billable_metrics()) == []


def test_a_missing_token_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("METRONOME_BEARER_TOKEN", raising=False)
    provider = BillableMetricProvider()
    provider.configure(ConfigureRequest(Config(raw_config={}, project_name="test")))
    assert provider.check({}, tokens()).failures == []  # preview needs no credentials
    with pytest.raises(MissingCredentialsError, match="metronome:bearerToken"):
        created(provider, tokens())


def test_a_wrong_token_reports_metronomes_message(server: Any) -> None:
    provider = BillableMetricProvider()
    config = {"metronome:bearerToken": "not-the-token", "metronome:baseUrl": server.url}
    provider.configure(ConfigureRequest(Config(raw_config=config, project_name="test")))
    with pytest.raises(MetronomeError) as caught:
        created(provider, tokens())
    assert caught.value.status == 401
    assert "not-the-token" not in str(caught.value)


# ------------------------------------------------------------------- custom field keys


def test_custom_field_key_lifecycle(keys: CustomFieldKeyProvider, server: Any) -> None:
    key = f"cost_center_{uuid.uuid4().hex[:6]}"
    inputs = keys.check({}, {"key": key, "__provider": PROVIDER}).inputs
    assert inputs == {
        "entity": "billable_metric",
        "key": key,
        "enforce_uniqueness": False,
        "adopt_existing": False,
    }
    result = keys.create(inputs)
    assert result.id == f"billable_metric/{key}"
    listed = {k.key for k in api(server).list_custom_field_keys(["billable_metric"])}
    assert key in listed
    assert keys.read(result.id, result.outs).id == result.id
    keys.delete(result.id, result.outs)
    assert keys.read(result.id, result.outs).id is None
    keys.delete(result.id, result.outs)  # already gone: harmless


def test_custom_field_key_rules_and_diff(keys: CustomFieldKeyProvider) -> None:
    found = [
        (f.property, f.reason)
        for f in keys.check({}, {"key": "k" * 101, "entity": "widget"}).failures
    ]
    assert {f for f, _ in found} == {"key", "entity"}
    olds = keys.check({}, {"key": "a"}).inputs
    news = keys.check({}, {"key": "a", "enforce_uniqueness": True}).inputs
    diff = keys.diff("id", olds, news)
    assert diff.replaces == ["enforce_uniqueness"] and diff.delete_before_replace is True
    assert keys.diff("id", olds, dict(olds)).changes is False


def test_custom_field_key_that_exists_needs_adoption(
    keys: CustomFieldKeyProvider, server: Any
) -> None:
    key = f"region_{uuid.uuid4().hex[:6]}"
    inputs = keys.check({}, {"key": key}).inputs
    keys.create(inputs)
    with pytest.raises(MetronomeError, match="already exists"):
        keys.create(inputs)
    adopted = keys.create({**inputs, "adopt_existing": True})
    assert adopted.id == f"billable_metric/{key}"


def test_direct_http_sanity(server: Any) -> None:
    """The fixture's server really is a separate process speaking HTTP with auth."""
    response = requests.get(f"{server.url}/v1/billable-metrics", timeout=5)
    assert response.status_code == 401


# ---------------------------------------------------------------- configuration at preview


def configured(config: dict[str, str]) -> BillableMetricProvider:
    provider = BillableMetricProvider()
    provider.configure(ConfigureRequest(Config(raw_config=config, project_name="test")))
    return provider


def new_operation() -> None:
    """What a new provider process starts with: no record of who holds what (one process
    serves one Pulumi operation; these tests play several in one process)."""
    METRICS.clear()


@pytest.mark.parametrize("base_url", ["htp:/x", "localhost:8080", "https://"])
def test_configure_refuses_a_malformed_base_url_naming_the_setting(base_url: str) -> None:
    provider = BillableMetricProvider()
    config = {"metronome:baseUrl": base_url}
    with pytest.raises(ConfigurationError) as caught:
        provider.configure(ConfigureRequest(Config(raw_config=config, project_name="test")))
    assert f"the stack config metronome:baseUrl {base_url!r} is not a valid URL" in str(
        caught.value
    )


def test_configure_needs_no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """A preview (check, diff) must work without any Metronome credential."""
    monkeypatch.delenv("METRONOME_BEARER_TOKEN", raising=False)
    provider = configured({"metronome:baseUrl": "https://x.example"})
    assert provider.check({}, tokens()).failures == []


# ----------------------------------------------------------------------- delete's errors


def test_delete_reports_a_401_instead_of_counting_it_as_archived(
    metrics: BillableMetricProvider, server: Any
) -> None:
    metric_id, outs = created(metrics, tokens())
    intruder = configured(
        {"metronome:bearerToken": "not-the-token", "metronome:baseUrl": server.url},
    )
    with pytest.raises(MetronomeAPIError) as caught:
        intruder.delete(metric_id, outs)
    assert caught.value.status == 401
    assert api(server).get_billable_metric(metric_id).archived_at is None


def test_delete_reports_a_server_error_after_its_retries(
    metrics: BillableMetricProvider, server: Any
) -> None:
    metric_id, outs = created(metrics, tokens())
    metrics._client = MetronomeClient(
        server.token, server.url, retry=RetryPolicy(max_retries=2, backoff=0.01)
    )
    server.set_faults(error_rate=1.0, retry_after_ms=10)
    try:
        with pytest.raises(MetronomeAPIError) as caught:
            metrics.delete(metric_id, outs)
    finally:
        server.set_faults(error_rate=0.0)
    assert caught.value.status in (429, 500, 502, 503)
    assert api(server).get_billable_metric(metric_id).archived_at is None


# ------------------------------------------------------------ ownership and adoption


def named(resource: str, news: dict[str, Any]) -> dict[str, Any]:
    """A declaration as the resource class sends it: with its Pulumi resource name."""
    return {**news, "__resource": resource}


def test_adoption_refuses_several_live_metrics_with_the_same_definition(
    metrics: BillableMetricProvider, server: Any
) -> None:
    name = f"twins-{uuid.uuid4().hex[:6]}"
    first, _ = created(metrics, tokens(name))
    second, _ = created(metrics, tokens(name))
    new_operation()
    server.clear_requests()
    with pytest.raises(AdoptionConflict) as caught:
        created(metrics, named(unique("r"), tokens(name, adopt_existing=True)))
    assert "2 live billable metrics have this name and definition" in str(caught.value)
    assert first in str(caught.value) and second in str(caught.value)
    assert [r for r in server.requests() if r["method"] != "GET"] == []


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_two_resources_diffing_one_metric_is_refused(metrics: BillableMetricProvider) -> None:
    name = unique("shared")
    metric_id, outs = created(metrics, named("first", tokens(name)))
    first, second = unique("first"), unique("second")
    assert (
        metrics.diff(metric_id, outs, checked(metrics, named(first, tokens(name)))).changes is False
    )
    # The same resource again (engine retries, preview then update) is fine.
    metrics.diff(metric_id, outs, checked(metrics, named(first, tokens(name))))
    with pytest.raises(OwnershipConflict) as caught:
        metrics.diff(metric_id, outs, checked(metrics, named(second, tokens(name))))
    text = str(caught.value)
    assert text.startswith("pulumi-metronome refused:")
    assert metric_id in text and repr(first) in text and repr(second) in text
    assert repr(name) in text and "Remove one of the two declarations" in text


def test_two_resources_reading_one_metric_is_refused(metrics: BillableMetricProvider) -> None:
    metric_id, outs = created(metrics, named(unique("a"), tokens()))
    metrics.read(metric_id, {**outs, "__resource": "reader-a"})
    with pytest.raises(OwnershipConflict, match=metric_id):
        metrics.read(metric_id, {**outs, "__resource": "reader-b"})


def test_two_adopters_never_share_a_metric(metrics: BillableMetricProvider, server: Any) -> None:
    name = unique("wanted")
    existing, _ = created(metrics, tokens(name))
    new_operation()
    declared = [checked(metrics, named(unique("adopter"), tokens(name, adopt_existing=True)))]
    declared.append({**declared[0], "__resource": unique("adopter")})
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(metrics.create, props) for props in declared]
    outcomes = []
    for future in futures:
        try:
            outcomes.append(future.result().id)
        except AdoptionConflict as error:
            outcomes.append(str(error))
    assert existing in outcomes, outcomes
    refusal = next(o for o in outcomes if o != existing)
    assert "already holds it" in refusal and existing in refusal


def test_a_renamed_resource_keeps_the_metric_its_successor_adopted(
    metrics: BillableMetricProvider, server: Any
) -> None:
    """Rename without alias: the engine creates the new resource (adopting the metric),
    then deletes the old one, which must not archive what the new one now holds."""
    name = unique("renamed")
    old_resource, new_resource = unique("old"), unique("new")
    metric_id, old_outs = created(metrics, named(old_resource, tokens(name, adopt_existing=True)))
    new_operation()  # the next `pulumi up`, after the rename
    adopted, _ = created(metrics, named(new_resource, tokens(name, adopt_existing=True)))
    assert adopted == metric_id
    server.clear_requests()
    metrics.delete(metric_id, old_outs)
    assert api(server).get_billable_metric(metric_id).archived_at is None
    assert [r for r in server.requests() if r["path"].endswith("/archive")] == []


def test_a_replacement_still_archives_its_predecessor(
    metrics: BillableMetricProvider, server: Any
) -> None:
    resource, name = unique("replaced"), unique("metric")
    old_id, outs = created(metrics, named(resource, tokens(name, adopt_existing=True)))
    news = checked(
        metrics, named(resource, tokens(name, aggregation_type="MAX", adopt_existing=True))
    )
    news = {**news, "aggregation_type": "SUM"}  # forced replacement, same definition
    assert metrics.diff(old_id, outs, news).changes is False
    new_id, _ = created(metrics, news)
    assert new_id != old_id  # not its own predecessor
    metrics.delete(old_id, outs)
    assert api(server).get_billable_metric(old_id).archived_at is not None


# --------------------------------------------------------------------- refresh cost


def test_refresh_reads_share_list_pages_instead_of_one_get_each(
    stack_config: dict[str, str], server: Any
) -> None:
    client = api(server)
    ids = [client.create_billable_metric(_count(unique("r"))) for _ in range(120)]
    total = sum(1 for _ in client.list_billable_metrics(include_archived=True))
    provider = configured(stack_config)
    server.clear_requests()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: provider.read(i, {"__provider": PROVIDER}), ids))
    assert [r.id for r in results] == ids
    log = server.requests()
    assert all(r["path"] == "/v1/billable-metrics" for r in log), log
    assert len(log) == math.ceil(total / 100)
    # A metric the listing could not have seen is fetched on its own.
    late = client.create_billable_metric(_count(unique("late")))
    server.clear_requests()
    assert provider.read(late, {}).id == late
    assert [(r["method"], r["path"]) for r in server.requests()] == [
        ("GET", f"/v1/billable-metrics/{late}")
    ]
    assert provider.read(str(uuid.uuid4()), {}).id is None


def _count(name: str) -> Any:
    from pulumi_metronome.models import parse_metric_spec

    return parse_metric_spec({"name": name, "aggregation_type": "COUNT"})


# ------------------------------------------------------------------- lenient reads


@pytest.fixture
def odd_server(local_server_factory: Any, tmp_path: Any) -> Any:
    """A server holding one metric of a shape this version does not know: an aggregation
    type added after it, and fields it has never heard of (written into its database)."""
    db = tmp_path / "odd.db"
    server = local_server_factory(db=db)
    client = MetronomeClient(server.token, server.url)
    odd = client.create_billable_metric(_count("Odd metric"))
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE billable_metrics SET definition = ? WHERE id = ?",
            (
                json.dumps(
                    {
                        "aggregation_type": "PERCENTILE",
                        "percentile": 99,
                        "group_keys": [{"key": "region", "kind": "new"}],
                    }
                ),
                odd,
            ),
        )
    server.odd_id = odd
    return server


def test_a_metric_of_an_unknown_shape_breaks_neither_list_nor_refresh_nor_adoption(
    odd_server: Any,
) -> None:
    client = MetronomeClient(odd_server.token, odd_server.url)
    plain = client.create_billable_metric(_count("Plain metric"))
    listed = {m.id: m for m in client.list_billable_metrics()}
    assert set(listed) == {odd_server.odd_id, plain}
    assert listed[odd_server.odd_id].aggregation_type == "PERCENTILE"

    provider = configured(
        {"metronome:bearerToken": odd_server.token, "metronome:baseUrl": odd_server.url},
    )
    read = provider.read(odd_server.odd_id, {})
    assert read.id == odd_server.odd_id
    assert read.outs["aggregation_type"] == "PERCENTILE"  # kept as found: the diff shows it
    assert provider.read(plain, {}).outs["aggregation_type"] == "COUNT"
    # Adopting by the odd metric's name (in a later run): a namesake with another definition.
    new_operation()
    with pytest.raises(AdoptionConflict, match="different definition"):
        created(provider, tokens("Odd metric", adopt_existing=True))


def test_a_renamed_key_resource_keeps_the_key_its_successor_adopted(
    keys: CustomFieldKeyProvider, server: Any
) -> None:
    key = f"renamed_{uuid.uuid4().hex[:6]}"
    old = keys.create(
        keys.check({}, {"key": key, "adopt_existing": True, "__resource": unique("old")}).inputs
    )
    KEYS.clear()  # the next `pulumi up`, after the rename
    new = keys.create(
        keys.check({}, {"key": key, "adopt_existing": True, "__resource": unique("new")}).inputs
    )
    assert new.id == old.id
    server.clear_requests()
    keys.delete(old.id, old.outs)
    assert [r for r in server.requests() if r["path"].endswith("/removeKey")] == []
    assert key in {k.key for k in api(server).list_custom_field_keys(["billable_metric"])}
