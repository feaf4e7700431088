"""A file database survives restarts; ``:memory:`` does not."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def test_everything_survives_a_restart(local_server_factory: Any, api_for: Any) -> None:
    server = local_server_factory()
    client = api_for(server)
    client.add_key("team", unique=True)
    client.add_key("region", entity="customer")
    live = client.create_metric(
        name="live",
        aggregation_type="sum",
        aggregation_key="tokens",
        property_filters=[{"name": "tokens", "exists": True}],
        custom_fields={"team": "core"},
    )
    archived = client.create_metric(name="old")
    client.post("/v1/billable-metrics/archive", json={"id": archived})
    client.put(f"/v1/billable-metrics/{live}", json={"name": "live-renamed"})
    before_metrics = client.list_all(include_archived="true")
    before_keys = client.post("/v1/customFields/listKeys", json={}).json()
    old_url = server.url

    server.restart()
    client = api_for(server)
    assert server.url != old_url or server.running
    assert client.list_all(include_archived="true") == before_metrics
    assert client.post("/v1/customFields/listKeys", json={}).json() == before_keys
    assert client.metric(live)["custom_fields"] == {"team": "core"}
    # Rules on stored state still hold: the unique value is taken, ordering continues.
    clash = client.post(
        "/v1/billable-metrics/create",
        json={"name": "n", "aggregation_type": "COUNT", "custom_fields": {"team": "core"}},
    )
    assert clash.status_code == 400
    newest = client.create_metric(name="after-restart")
    assert [m["id"] for m in client.list_all(include_archived="true")] == [
        live,
        archived,
        newest,
    ]


def test_a_cursor_stays_valid_across_a_restart(local_server_factory: Any, api_for: Any) -> None:
    server = local_server_factory()
    client = api_for(server)
    ids = [client.create_metric() for _ in range(4)]
    cursor = client.get("/v1/billable-metrics", params={"limit": 2}).json()["next_page"]
    server.restart()
    rest = api_for(server).get("/v1/billable-metrics", params={"next_page": cursor}).json()
    assert [m["id"] for m in rest["data"]] == ids[2:]


def test_the_database_is_a_file_at_the_given_path(
    local_server_factory: Any, api_for: Any, tmp_path: Path
) -> None:
    path = tmp_path / "nested-name.sqlite3"
    server = local_server_factory(db=path)
    api_for(server).create_metric()
    assert path.exists()
    server.stop()
    again = local_server_factory(db=path)
    assert len(api_for(again).list_all()) == 1


def test_memory_database_starts_empty_after_restart(
    local_server_factory: Any, api_for: Any
) -> None:
    server = local_server_factory(db=":memory:")
    api_for(server).create_metric()
    server.restart()
    assert api_for(server).list_all() == []
