"""End to end: the real ``pulumi`` CLI, the real provider process, a local Metronome server.

Each test makes its own project and stack in ``tmp_path`` (``stack.PulumiStack``); the
credentials reach the provider only through stack config. One server (a SQLite file) serves
the module and is reset (no data, no faults, empty request log) before each test, so a test
can say "the server holds exactly these metrics". Every pulumi command takes 2-4 s.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from metronome_local.process import LocalServer
from pulumi_metronome.models import BillableMetricSpec
from pulumi_metronome.testing import PulumiStack, key, metric

#: A token distinctive enough that finding it anywhere is proof of a leak.
TOKEN = f"tok-e2e-SECRET-{uuid.uuid4().hex}"
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
#: A POST that only reads.
READ_ONLY_POSTS = {"/v1/customFields/listKeys"}
METRIC_FIELDS = tuple(BillableMetricSpec.model_fields)


# --- fixtures and helpers ----------------------------------------------------------------


@pytest.fixture(scope="module")
def _server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    db = tmp_path_factory.mktemp("metronome") / "metronome.db"
    with LocalServer(db=db, tokens=[TOKEN]) as server:
        yield server


@pytest.fixture
def server(_server: LocalServer) -> LocalServer:
    _server.reset()
    return _server


@pytest.fixture
def api(server: LocalServer, api_for: Callable[..., Any]) -> Any:
    """Direct HTTP access to the server, "behind Pulumi's back"."""
    return api_for(server)


@pytest.fixture
def stack(tmp_path: Path, server: LocalServer) -> PulumiStack:
    return PulumiStack(tmp_path, base_url=server.url, token=server.token)


def writes(server: LocalServer) -> list[dict[str, Any]]:
    return [
        r
        for r in server.requests()
        if r["method"] in WRITE_METHODS and r["path"] not in READ_ONLY_POSTS
    ]


def calls(server: LocalServer, method: str, path: str) -> list[dict[str, Any]]:
    return [r for r in server.requests() if r["method"] == method and r["path"] == path]


def live_metrics(api: Any) -> list[dict[str, Any]]:
    return api.list_all("/v1/billable-metrics")


def by_name(metrics: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for item in metrics:
        assert item["name"] not in found, f"two live metrics named {item['name']!r}: {metrics}"
        found[item["name"]] = item
    return found


def fields(item: dict[str, Any]) -> dict[str, Any]:
    """A metric's definition as the server holds it (unset or empty fields left out: the
    server answers ``custom_fields: {}`` for a metric without any)."""
    return {k: item[k] for k in METRIC_FIELDS if item.get(k) not in (None, {}, [])}


def custom_field_keys(api: Any) -> set[str]:
    response = api.post("/v1/customFields/listKeys", json={"entities": ["billable_metric"]})
    assert response.status_code == 200, response.text
    return {item["key"] for item in response.json()["data"]}


def changes(stack: PulumiStack) -> dict[str, int]:
    """``resourceChanges`` of the stack's last update/refresh/destroy."""
    last = stack.last_update()
    assert last["result"] == "succeeded", last
    return last["resourceChanges"]


def planned_ops(stack: PulumiStack) -> dict[str, str]:
    """``pulumi preview --json``: the planned op per resource name, for the resources that
    would change (``update``, ``replace``, ``create``, ``delete``; unchanged ones are left
    out, as the CLI leaves them out of its steps)."""
    ops: dict[str, str] = {}
    for step in stack.preview_json()["steps"]:
        if step["op"] == "same":
            continue
        name = step["urn"].rsplit("::", 1)[1]
        # A replacement may be listed as several steps (create-replacement, replace, ...).
        if ops.get(name) != "replace":
            ops[name] = "replace" if "replace" in step["op"] else step["op"]
    return ops


# A count, a keyed sum and a SQL metric, declared in non-canonical ways: lower-case
# aggregation, unsorted and repeated values, numbers where Metronome wants strings.
TOKENS = metric(
    "tokens",
    name="Tokens by model",
    aggregation_type="sum",
    aggregation_key="tokens",
    event_type_filter={"in_values": ["embedding", "completion", "completion"]},
    property_filters=[
        {"name": "tokens", "exists": True},
        {"name": "model", "in_values": ["mini", "large"]},
    ],
    group_keys=[["model"]],
    custom_fields={"owner_team": "inference", "tier": "usage"},
)
REQUESTS = metric(
    "requests",
    name="API requests",
    aggregation_type="COUNT",
    property_filters=[{"name": "status", "in_values": [201, 200]}],
    custom_fields={"owner_team": "platform"},
)
GPU = metric(
    "gpu",
    name="GPU hours",
    sql="SELECT SUM(CAST(properties.gpu_seconds AS DOUBLE)) / 3600 AS value FROM events",
)
KEYS = [key("owner_team"), key("tier")]
#: What the server must hold for the three metrics above.
EXPECTED = {
    "Tokens by model": {
        "name": "Tokens by model",
        "aggregation_type": "SUM",
        "aggregation_key": "tokens",
        "event_type_filter": {"in_values": ["completion", "embedding"]},
        "property_filters": [
            {"name": "model", "in_values": ["large", "mini"]},
            {"name": "tokens", "exists": True},
        ],
        "group_keys": [["model"]],
        "custom_fields": {"owner_team": "inference", "tier": "usage"},
    },
    "API requests": {
        "name": "API requests",
        "aggregation_type": "COUNT",
        "property_filters": [{"name": "status", "in_values": ["200", "201"]}],
        "custom_fields": {"owner_team": "platform"},
    },
    "GPU hours": {
        "name": "GPU hours",
        "sql": "SELECT SUM(CAST(properties.gpu_seconds AS DOUBLE)) / 3600 AS value FROM events",
    },
}


def with_args(entry: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of a declaration entry with some arguments changed (None removes one)."""
    args = {**entry["args"], **changes}
    return {"resource": entry["resource"], "args": {k: v for k, v in args.items() if v is not None}}


# --- create, no-op, destroy --------------------------------------------------------------


def test_up_creates_the_declared_metrics_and_a_second_up_changes_nothing(
    stack: PulumiStack, server: LocalServer, api: Any
) -> None:
    stack.declare(metrics=[TOKENS, REQUESTS, GPU], keys=KEYS)
    stack.up()

    live = by_name(live_metrics(api))
    assert {name: fields(item) for name, item in live.items()} == EXPECTED
    assert custom_field_keys(api) == {"owner_team", "tier"}
    assert stack.metric_ids() == {
        "tokens": live["Tokens by model"]["id"],
        "requests": live["API requests"]["id"],
        "gpu": live["GPU hours"]["id"],
    }
    assert len(calls(server, "POST", "/v1/billable-metrics/create")) == 3

    server.clear_requests()
    # --expect-no-changes makes the CLI fail if the engine planned any change.
    result = stack.up("--expect-no-changes")
    assert changes(stack) == {"same": 6}, result.stdout  # the stack, 2 keys, 3 metrics
    assert writes(server) == [], f"a no-op up wrote to Metronome: {server.requests()}"
    assert by_name(live_metrics(api)) == live


def test_destroy_archives_every_metric_and_removes_the_keys(
    stack: PulumiStack, server: LocalServer, api: Any
) -> None:
    stack.declare(metrics=[TOKENS, REQUESTS, GPU], keys=KEYS)
    stack.up()
    ids = stack.metric_ids()
    assert len(ids) == 3 and custom_field_keys(api) == {"owner_team", "tier"}

    stack.destroy()

    for resource, metric_id in ids.items():
        assert api.metric(metric_id).get("archived_at"), f"{resource} ({metric_id}) is live"
    assert live_metrics(api) == []
    assert custom_field_keys(api) == set()
    assert len(calls(server, "POST", "/v1/billable-metrics/archive")) >= 3
    assert stack.resources() == {}


# --- in-place updates and replacements ---------------------------------------------------


def test_rename_updates_in_place(stack: PulumiStack, server: LocalServer, api: Any) -> None:
    stack.declare(metrics=[TOKENS, REQUESTS], keys=KEYS)
    stack.up()
    before = stack.metric_ids()

    stack.declare(metrics=[with_args(TOKENS, name="Tokens (v2)"), REQUESTS], keys=KEYS)
    assert planned_ops(stack) == {"tokens": "update"}
    server.clear_requests()
    stack.up()

    assert stack.metric_ids() == before
    assert api.metric(before["tokens"])["name"] == "Tokens (v2)"
    assert api.metric(before["tokens"]).get("archived_at") is None
    assert [(w["method"], w["path"]) for w in writes(server)] == [
        ("PUT", f"/v1/billable-metrics/{before['tokens']}")
    ]
    assert set(by_name(live_metrics(api))) == {"Tokens (v2)", "API requests"}


def test_custom_field_change_updates_in_place(
    stack: PulumiStack, server: LocalServer, api: Any
) -> None:
    stack.declare(metrics=[TOKENS], keys=KEYS)
    stack.up()
    before = stack.metric_ids()["tokens"]

    # One value changed, one key dropped.
    stack.declare(metrics=[with_args(TOKENS, custom_fields={"owner_team": "research"})], keys=KEYS)
    assert planned_ops(stack) == {"tokens": "update"}
    server.clear_requests()
    stack.up()

    assert stack.metric_ids()["tokens"] == before
    assert api.metric(before)["custom_fields"] == {"owner_team": "research"}
    assert not calls(server, "POST", "/v1/billable-metrics/create")
    assert not calls(server, "POST", "/v1/billable-metrics/archive")
    assert [m["id"] for m in live_metrics(api)] == [before]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"event_type_filter": {"in_values": ["completion"]}}, id="filter"),
        pytest.param(
            {"aggregation_type": "MAX", "aggregation_key": "tokens"}, id="aggregation-type"
        ),
    ],
)
def test_definition_change_replaces_and_archives_the_old_metric(
    stack: PulumiStack, server: LocalServer, api: Any, change: dict[str, Any]
) -> None:
    stack.declare(metrics=[TOKENS, REQUESTS], keys=KEYS)
    stack.up()
    before = stack.metric_ids()

    stack.declare(metrics=[with_args(TOKENS, **change), REQUESTS], keys=KEYS)
    assert planned_ops(stack) == {"tokens": "replace"}
    stack.up()

    after = stack.metric_ids()
    assert after["requests"] == before["requests"]
    assert after["tokens"] != before["tokens"]
    assert api.metric(before["tokens"]).get("archived_at"), "the replaced metric is still live"
    new = api.metric(after["tokens"])
    assert new.get("archived_at") is None
    for field, value in change.items():
        assert new[field] == value
    assert new["name"] == "Tokens by model"
    assert new["custom_fields"] == {"owner_team": "inference", "tier": "usage"}
    live = by_name(live_metrics(api))
    assert {n: m["id"] for n, m in live.items()} == {
        "Tokens by model": after["tokens"],
        "API requests": after["requests"],
    }


# --- validation at preview ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "field", "message"),
    [
        pytest.param(
            {"aggregation_type": "SUM", "aggregation_key": None},
            "aggregation_key",
            "is required for aggregation type SUM",
            id="sum-without-key",
        ),
        pytest.param(
            {"sql": "SELECT COUNT(*) AS value FROM events"},
            "aggregation_type",
            "cannot be set together with sql",
            id="sql-with-aggregation",
        ),
    ],
)
def test_invalid_declaration_fails_preview_without_calling_metronome(
    stack: PulumiStack, server: LocalServer, api: Any, bad: dict[str, Any], field: str, message: str
) -> None:
    stack.declare(metrics=[REQUESTS], keys=KEYS)
    stack.up()
    deployed = live_metrics(api)

    stack.declare(metrics=[REQUESTS, with_args(TOKENS, **bad)], keys=KEYS)
    server.clear_requests()
    result = stack.preview(expect_failure=True)

    # Checked when declared: the resource, the field and the rule on one line.
    assert f"BillableMetric 'tokens': {field}: {message}" in result.output, result.output
    assert server.requests() == [], "a failed preview must not talk to Metronome"
    assert live_metrics(api) == deployed


# --- drift ---------------------------------------------------------------------------------


def test_refresh_notices_a_metric_archived_outside_pulumi_and_up_recreates_it(
    stack: PulumiStack, server: LocalServer, api: Any
) -> None:
    stack.declare(metrics=[TOKENS, REQUESTS], keys=KEYS)
    stack.up()
    before = stack.metric_ids()
    response = api.post("/v1/billable-metrics/archive", json={"id": before["tokens"]})
    assert response.status_code == 200, response.text

    result = stack.refresh()

    assert changes(stack).get("delete") == 1, result.stdout
    assert "tokens" not in stack.resources(":BillableMetric"), "refresh kept the archived metric"
    assert "requests" in stack.resources(":BillableMetric")

    stack.up()
    after = stack.metric_ids()
    assert after["requests"] == before["requests"]
    assert after["tokens"] != before["tokens"]
    assert api.metric(after["tokens"]).get("archived_at") is None
    assert {n: m["id"] for n, m in by_name(live_metrics(api)).items()} == {
        "Tokens by model": after["tokens"],
        "API requests": after["requests"],
    }


def test_refresh_shows_a_rename_outside_pulumi_and_up_renames_it_back(
    stack: PulumiStack, server: LocalServer, api: Any
) -> None:
    stack.declare(metrics=[TOKENS, REQUESTS], keys=KEYS)
    stack.up()
    ids = stack.metric_ids()
    # Without drift, refresh finds nothing to change (no spurious diff from normalization).
    stack.refresh("--expect-no-changes")

    response = api.put(f"/v1/billable-metrics/{ids['tokens']}", json={"name": "Renamed by hand"})
    assert response.status_code == 200, response.text
    result = stack.refresh()

    assert changes(stack).get("update") == 1, result.stdout
    state = stack.resources(":BillableMetric")["tokens"]
    assert state["outputs"]["name"] == "Renamed by hand"
    assert state["inputs"]["name"] == "Renamed by hand"

    assert planned_ops(stack) == {"tokens": "update"}
    server.clear_requests()
    stack.up()

    assert stack.metric_ids() == ids
    assert api.metric(ids["tokens"])["name"] == "Tokens by model"
    assert [(w["method"], w["path"]) for w in writes(server)] == [
        ("PUT", f"/v1/billable-metrics/{ids['tokens']}")
    ]


# --- adoption ------------------------------------------------------------------------------


def test_adopt_existing_takes_over_a_metric_with_the_same_definition(
    stack: PulumiStack, server: LocalServer, api: Any
) -> None:
    for item in KEYS:
        api.add_key(item["resource"])
    # Created by hand, written differently (order, case) but the same definition, and
    # without the declared custom fields.
    existing = api.create_metric(
        name="Tokens by model",
        aggregation_type="Sum",
        aggregation_key="tokens",
        event_type_filter={"in_values": ["embedding", "completion"]},
        property_filters=[
            {"name": "model", "in_values": ["mini", "large"]},
            {"name": "tokens", "exists": True},
        ],
        group_keys=[["model"]],
    )
    stack.declare(metrics=[with_args(TOKENS, adopt_existing=True)])
    server.clear_requests()

    stack.up()

    assert stack.metric_ids() == {"tokens": existing}
    assert not calls(server, "POST", "/v1/billable-metrics/create")
    assert [m["id"] for m in live_metrics(api)] == [existing]
    assert api.metric(existing)["custom_fields"] == {"owner_team": "inference", "tier": "usage"}
    stack.up("--expect-no-changes")


def test_adopt_existing_refuses_a_namesake_with_another_definition(
    stack: PulumiStack, server: LocalServer, api: Any
) -> None:
    existing = api.create_metric(name="Tokens by model", aggregation_type="COUNT")
    stack.declare(metrics=[with_args(TOKENS, custom_fields=None, adopt_existing=True)])
    server.clear_requests()

    result = stack.up(check=False)

    assert not result.ok, result.describe()
    assert "cannot adopt billable metric 'Tokens by model'" in result.output, result.output
    assert existing in result.output and "different definition" in result.output
    assert not calls(server, "POST", "/v1/billable-metrics/create")
    assert writes(server) == []
    assert [m["id"] for m in live_metrics(api)] == [existing]
    assert stack.resources(":BillableMetric") == {}


def test_adopted_metric_can_still_be_replaced(
    stack: PulumiStack, server: LocalServer, api: Any
) -> None:
    stack.declare(metrics=[with_args(REQUESTS, custom_fields=None, adopt_existing=True)])
    stack.up()
    before = stack.metric_ids()["requests"]

    changed = with_args(
        REQUESTS, custom_fields=None, adopt_existing=True, event_type_filter={"in_values": ["a"]}
    )
    stack.declare(metrics=[changed])
    stack.up()

    after = stack.metric_ids()["requests"]
    assert after != before
    assert api.metric(before).get("archived_at")
    assert [m["id"] for m in live_metrics(api)] == [after]


# --- secrets -------------------------------------------------------------------------------


def test_bearer_token_is_never_stored_in_plain_text(
    stack: PulumiStack, server: LocalServer, api: Any
) -> None:
    assert server.token == TOKEN
    stack.declare(metrics=[TOKENS, REQUESTS], keys=KEYS)
    stack.up()
    stack.refresh()
    # The provider did use the token: the metrics exist.
    assert len(live_metrics(api)) == 2

    config = stack.stack_config_text()
    assert "metronome:bearerToken" in config and "secure:" in config  # the check can fail
    assert TOKEN not in config
    exported = stack.run("stack", "export").stdout
    assert '"resources"' in exported
    assert TOKEN not in exported
    state = stack.state_text()
    assert "BillableMetric" in state
    assert TOKEN not in state
    # ...and no partial leak either (e.g. only the random part).
    assert TOKEN.rsplit("-", 1)[1] not in exported + state + config


# --- faults --------------------------------------------------------------------------------


def test_up_converges_despite_errors_and_dropped_responses(
    stack: PulumiStack, server: LocalServer, api: Any
) -> None:
    declared = {
        f"metric-{i:02d}": metric(
            f"metric-{i:02d}",
            name=f"Faulty metric {i:02d}",
            aggregation_type="COUNT",
            property_filters=[{"name": "region", "in_values": ["eu", "us"]}],
            group_keys=[["region"]],
            custom_fields={"owner_team": f"team-{i % 3}"},
        )
        for i in range(20)
    }
    stack.declare(metrics=list(declared.values()), keys=KEYS)
    server.set_faults(error_rate=0.10, drop_rate=0.15, retry_after_ms=200, seed=7)

    first = stack.up(check=False)
    # A call may still fail after all its retries; one more `up` is allowed to finish the
    # job, and must not duplicate anything the first one did.
    retried = not first.ok
    if retried:
        print(f"first up failed, retrying once:\n{first.describe()}")
        stack.up()
    log = server.requests()
    server.set_faults(error_rate=0, drop_rate=0)
    injected = sum(1 for r in log if r.get("injected"))
    dropped = sum(1 for r in log if r.get("dropped"))
    print(
        f"{len(log)} requests, {injected} injected errors, {dropped} dropped responses, "
        f"{'a second up was needed' if retried else 'the first up succeeded'}"
    )

    assert injected > 0, "no error was injected: the test proves nothing"
    assert dropped > 0, "no response was dropped: the test proves nothing"
    live = by_name(live_metrics(api))  # fails on duplicate names
    assert sorted(live) == sorted(m["args"]["name"] for m in declared.values())
    assert stack.metric_ids() == {
        resource: live[entry["args"]["name"]]["id"] for resource, entry in declared.items()
    }
    for entry in declared.values():
        assert live[entry["args"]["name"]]["custom_fields"] == entry["args"]["custom_fields"]
    archived = [m for m in api.list_all(include_archived="true") if m.get("archived_at")]
    assert archived == [], f"metrics were created and archived: {archived}"
    assert custom_field_keys(api) == {"owner_team", "tier"}
    stack.up("--expect-no-changes")


# --- one metric, one resource --------------------------------------------------------------


def test_two_adopting_resources_never_hold_one_metric(
    stack: PulumiStack, server: LocalServer, api: Any
) -> None:
    """Two declarations of one live metric with adopt_existing: one adopts it, the other
    is refused with a clear error; before, both held the same id and `up` exited 0."""
    existing = api.create_metric(name="API requests", aggregation_type="COUNT")
    twin = {"name": "API requests", "aggregation_type": "COUNT", "adopt_existing": True}
    stack.declare(metrics=[metric("first", **twin), metric("second", **twin)])
    server.clear_requests()

    result = stack.up(check=False)

    assert not result.ok, result.describe()
    assert "pulumi-metronome refused: cannot adopt billable metric 'API requests'" in (
        result.output
    ), result.output
    assert "already holds it" in result.output and existing in result.output
    held = {n: r["id"] for n, r in stack.resources(":BillableMetric").items()}
    assert list(held.values()) == [existing], held  # one resource holds it, the other none
    assert [m["id"] for m in live_metrics(api)] == [existing]
    assert not calls(server, "POST", "/v1/billable-metrics/create")


def test_renaming_an_adopting_resource_keeps_its_metric_live(
    stack: PulumiStack, server: LocalServer, api: Any
) -> None:
    """A new resource name without an alias: the engine creates the new resource (which
    adopts the metric) before it deletes the old one, whose delete must not archive it."""
    args = {"name": "API requests", "aggregation_type": "COUNT", "adopt_existing": True}
    stack.declare(metrics=[metric("requests", **args)])
    stack.up()
    metric_id = stack.metric_ids()["requests"]

    stack.declare(metrics=[metric("api-requests", **args)])
    server.clear_requests()
    result = stack.up()

    assert stack.metric_ids() == {"api-requests": metric_id}
    assert api.metric(metric_id).get("archived_at") is None, result.output
    assert not calls(server, "POST", "/v1/billable-metrics/archive")
    assert not calls(server, "POST", "/v1/billable-metrics/create")
    assert changes(stack) == {"create": 1, "delete": 1, "same": 1}
    stack.refresh("--expect-no-changes")
    stack.up("--expect-no-changes")
    assert [m["id"] for m in live_metrics(api)] == [metric_id]


def test_two_resources_holding_one_metric_fail_at_preview(
    stack: PulumiStack, server: LocalServer, api: Any, tmp_path: Path
) -> None:
    """State in which two resources hold one id (as earlier versions could leave it) is
    refused at preview, naming the id and both resources, before anything is archived."""
    stack.declare(
        metrics=[
            metric("first", name="Shared", aggregation_type="COUNT"),
            metric("second", name="Other", aggregation_type="COUNT"),
        ]
    )
    stack.up()
    ids = stack.metric_ids()
    state = stack.export_state()
    for resource in state["deployment"]["resources"]:
        if resource["urn"].endswith("::second"):
            resource["id"] = ids["first"]
            resource["outputs"]["name"] = resource["inputs"]["name"] = "Shared"
    (tmp_path / "state.json").write_text(json.dumps(state))
    stack.run("stack", "import", "--file", str(tmp_path / "state.json"))
    stack.declare(
        metrics=[
            metric("first", name="Shared", aggregation_type="COUNT"),
            metric("second", name="Shared", aggregation_type="COUNT"),
        ]
    )
    server.clear_requests()

    result = stack.preview(expect_failure=True)

    assert "pulumi-metronome refused: resources" in result.output, result.output
    assert ids["first"] in result.output and "'first'" in result.output
    assert "'second'" in result.output and "hold billable metric 'Shared'" in result.output
    assert writes(server) == []
    assert api.metric(ids["first"]).get("archived_at") is None


# --- every problem at preview --------------------------------------------------------------


def test_every_problem_of_every_declaration_in_one_preview(
    stack: PulumiStack, server: LocalServer
) -> None:
    stack.declare(
        metrics=[
            metric("m1", aggregation_type="SUM"),
            metric("m2", aggregation_type="average"),
            metric("m3", aggregation_type="COUNT", group_keys=[["zone"]]),
            metric("m4", sql="SELECT 1", aggregation_type="COUNT"),
            metric(
                "m5", aggregation_type="COUNT", property_filters=[{"name": "a", "in_values": []}]
            ),
            metric("fine", aggregation_type="COUNT"),
        ]
    )
    result = stack.preview(expect_failure=True)

    expected = [
        "BillableMetric 'm1': aggregation_key: is required for aggregation type SUM",
        "BillableMetric 'm2': aggregation_type: must be one of COUNT, LATEST, MAX, SUM, UNIQUE",
        "BillableMetric 'm3': group_keys[0]: Group key 'zone' does not match one of the "
        "property filter names.",
        "BillableMetric 'm4': aggregation_type: cannot be set together with sql",
        "BillableMetric 'm5': property_filters[0].in_values: must be non-empty when present",
    ]
    for line in expected:
        assert line in result.output, result.output
    assert "invalid declarations ('m1', 'm2', 'm3', 'm4', 'm5')" in result.output
    assert "Traceback" not in result.output
    assert server.requests() == []


NESTED_PROGRAM = """\
import pulumi

from pulumi_metronome import BillableMetric

# Known only once the Output resolves: checked by the provider, not at declaration.
filters = pulumi.Output.from_input([{"name": "region", "in_values": ["eu", "us"]}])
BillableMetric("by-zone", aggregation_type="COUNT", property_filters=filters, group_keys=[["zone"]])
"""


def test_a_nested_problem_found_by_the_provider_reads_well(
    tmp_path: Path, server: LocalServer
) -> None:
    stack = PulumiStack(tmp_path, base_url=server.url, token=server.token, program=NESTED_PROGRAM)
    result = stack.preview(expect_failure=True)
    # The engine prints the top-level property's value (in Go's notation), the reason
    # names the exact element.
    assert "resource 'by-zone': property group_keys value {[{[{zone}]}]} has a problem: " in (
        result.output
    ), result.output
    assert (
        "has a problem: group_keys[0]: Group key 'zone' does not match one of the property "
        "filter names." in result.output
    ), result.output
    assert "<nil>" not in result.output
    assert server.requests() == []


def test_a_malformed_base_url_fails_preview_naming_the_setting(
    stack: PulumiStack, server: LocalServer
) -> None:
    stack.declare(metrics=[REQUESTS, GPU], keys=KEYS)
    stack.set_config(base_url="htp:/x")
    result = stack.preview(expect_failure=True)
    assert (
        "pulumi-metronome refused: the stack config metronome:baseUrl 'htp:/x' is not a valid "
        "URL" in result.output
    ), result.output
    assert "attempts" not in result.output  # refused, not retried
    assert server.requests() == []


# --- refresh cost --------------------------------------------------------------------------


def test_refresh_reads_list_pages_not_one_get_per_metric(
    stack: PulumiStack, server: LocalServer, api: Any
) -> None:
    stack.declare(
        metrics=[metric(f"m{i}", name=f"Metric {i}", aggregation_type="COUNT") for i in range(6)]
    )
    stack.up()
    server.clear_requests()

    stack.refresh("--expect-no-changes")

    log = [(r["method"], r["path"]) for r in server.requests()]
    assert log == [("GET", "/v1/billable-metrics")], log  # one page holds all six


# --- the pull-request job's credentials ----------------------------------------------------


def test_preview_needs_no_metronome_token(
    stack: PulumiStack, server: LocalServer, api: Any
) -> None:
    """What the pull-request workflow relies on: with no token in the stack config nor in
    the environment, `pulumi preview` still checks and diffs every declaration."""
    stack.declare(metrics=[TOKENS, REQUESTS], keys=KEYS)
    stack.up()
    stack.run("config", "rm", "metronome:bearerToken")
    assert "metronome:bearerToken" not in stack.stack_config_text()
    stack.declare(
        metrics=[
            with_args(TOKENS, name="Tokens (v2)"),
            with_args(REQUESTS, aggregation_type="SUM"),
        ],
        keys=KEYS,
    )
    server.clear_requests()

    result = stack.preview(expect_failure=True)  # REQUESTS as a SUM lacks its key
    assert "BillableMetric 'requests': aggregation_key: is required" in result.output

    stack.declare(metrics=[with_args(TOKENS, name="Tokens (v2)"), REQUESTS], keys=KEYS)
    assert planned_ops(stack) == {"tokens": "update"}
    assert server.requests() == []
