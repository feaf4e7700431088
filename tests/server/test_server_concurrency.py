"""Many clients at once: no lost or mixed-up writes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any


def test_fifty_concurrent_creates_make_fifty_metrics(
    local_server_factory: Any, api_for: Any
) -> None:
    server = local_server_factory()

    def create(index: int) -> str:
        client = api_for(server)
        return client.create_metric(name=f"m{index}")

    with ThreadPoolExecutor(max_workers=16) as pool:
        ids = list(pool.map(create, range(50)))
    assert len(set(ids)) == 50
    listed = api_for(server).list_all(limit=7)
    assert sorted(m["id"] for m in listed) == sorted(ids)
    assert sorted(m["name"] for m in listed) == sorted(f"m{i}" for i in range(50))


def test_concurrent_mixed_operations_stay_consistent(fresh_server: Any, api_for: Any) -> None:
    server = fresh_server
    setup = api_for(server)
    setup.add_key("team")
    ids = [setup.create_metric(name=f"m{i}") for i in range(20)]

    def work(index: int) -> None:
        client = api_for(server)
        metric_id = ids[index % len(ids)]
        if index % 4 == 0:
            client.put(f"/v1/billable-metrics/{metric_id}", json={"name": f"renamed{index}"})
        elif index % 4 == 1:
            client.post(
                "/v1/customFields/setValues",
                json={
                    "entity": "billable_metric",
                    "entity_id": metric_id,
                    "custom_fields": {"team": f"t{index}"},
                },
            )
        elif index % 4 == 2:
            client.list_all(limit=3, include_archived="true")
        else:
            client.post("/v1/billable-metrics/archive", json={"id": metric_id})

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(work, range(80)))
    listed = setup.list_all(include_archived="true")
    assert [m["id"] for m in listed] == ids
    assert all(m["name"].startswith(("m", "renamed")) for m in listed)
