"""``POST /v1/ingest`` answers 200 only after an ``fdatasync`` that covers the batch.

The server runs in this process (uvicorn on a loopback socket, the app and engine files as
``metronome-local`` makes them) so that the ingest log's sync can be wrapped: the real
``fdatasync`` runs, held at a gate, and records in order what each sync covered; the client
records when its answer came. A 200 before the covering sync would let a crash lose an
acknowledged batch. A batch whose sync failed answers 500 and is forgotten: the client's
retry is stored and counted (not reported as duplicates of events that may never have
reached the disk).
"""

from __future__ import annotations

import errno
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import uvicorn

from metronome_local.__main__ import bind
from metronome_local.app import create_app
from metronome_local.settings import DEFAULT_TOKEN, Settings
from pulumi_metronome.metering import engine as engine_module
from pulumi_metronome.metering import log as log_module

AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}


class OrderedSync:
    """The real ``fdatasync``, held while ``gate`` is clear, failing with ``fail`` when set;
    each completed sync records ``"synced: <ids>"``: the transaction ids of ``watched`` that
    the file held when the sync began (what it covers)."""

    def __init__(self, watched: list[str]) -> None:
        self.watched = watched
        self.order: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.fail: OSError | None = None
        self._real = log_module._sync
        self._lock = threading.Lock()

    def __call__(self, fd: int) -> None:
        held = Path(f"/proc/self/fd/{fd}").read_bytes()  # the log is open write-only
        self.entered.set()
        assert self.gate.wait(30), "the gate was never opened"
        if self.fail is not None:
            raise self.fail
        self._real(fd)
        ids = [t for t in self.watched if f'"t":"{t}"'.encode() in held]
        self.note(f"synced: {' '.join(ids)}")

    def note(self, what: str) -> None:
        with self._lock:
            self.order.append(what)


@dataclass
class Served:
    url: str
    sync: OrderedSync
    ids: list[str]


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    ids = [f"tx-{uuid.uuid4().hex}" for _ in range(2)]
    sync = OrderedSync(ids)
    monkeypatch.setattr(log_module, "_sync", sync)
    # No background move into DuckDB meanwhile: its log rotation syncs with a plain fsync
    # (also durable, but not recorded), so every sync the test sees is one it records.
    monkeypatch.setattr(engine_module, "FLUSH_SECONDS", 3600.0)
    app = create_app(Settings(db=str(tmp_path / "metronome.db")))
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        started = threading.Event()
        while not server.started and thread.is_alive():
            started.wait(0.02)
        assert server.started, "the in-process server did not start"
        yield Served(f"http://127.0.0.1:{sock.getsockname()[1]}", sync, ids)
    finally:
        sync.gate.set()
        server.should_exit = True
        thread.join(30)
        sock.close()


#: When the test events happened: an hour ago (within the last 34 days, not in the future).
HAPPENED = datetime.now(UTC) - timedelta(hours=1)


def batch(*ids: str, customer: str = "acme") -> list[dict[str, Any]]:
    when = HAPPENED.isoformat()
    return [
        {"transaction_id": t, "customer_id": customer, "event_type": "api", "timestamp": when}
        for t in ids
    ]


def post(url: str, path: str, body: Any) -> requests.Response:
    return requests.post(f"{url}{path}", json=body, headers=AUTH, timeout=60)


def test_the_200_comes_after_the_sync_that_covers_the_batch(served: Served) -> None:
    first, second = served.ids
    served.sync.gate.clear()
    answers: dict[str, int] = {}
    answered = threading.Event()

    def post(tid: str) -> None:
        response = requests.post(
            f"{served.url}/v1/ingest", json=batch(tid), headers=AUTH, timeout=60
        )
        answers[tid] = response.status_code
        served.sync.note(f"answered: {tid}")
        answered.set()

    client = threading.Thread(target=post, args=(first,))
    client.start()
    assert served.sync.entered.wait(30)  # the batch is in the log; its sync is held
    # Give a wrongly early answer the time to come; a right one cannot come meanwhile.
    assert not answered.wait(1.0), served.sync.order
    served.sync.gate.set()
    client.join(60)
    post(second)  # a second batch, with the gate open
    assert answers == {first: 200, second: 200}
    assert served.sync.order == [
        f"synced: {first}",
        f"answered: {first}",
        f"synced: {first} {second}",
        f"answered: {second}",
    ]


def test_a_batch_whose_sync_fails_is_not_acknowledged(served: Served) -> None:
    served.sync.fail = OSError(errno.EIO, "Input/output error")
    response = requests.post(
        f"{served.url}/v1/ingest", json=batch(served.ids[0]), headers=AUTH, timeout=60
    )
    assert response.status_code == 500, response.text
    assert response.json() == {"message": "Internal server error"}
    assert served.sync.order == []


def test_the_retry_of_a_batch_whose_sync_failed_is_stored_and_counted(served: Served) -> None:
    alias = f"cust-{uuid.uuid4().hex[:12]}"
    customer = post(served.url, "/v1/customers", {"name": alias, "ingest_aliases": [alias]})
    assert customer.status_code == 200, customer.text
    metric = post(
        served.url, "/v1/billable-metrics/create", {"name": alias, "aggregation_type": "COUNT"}
    )
    assert metric.status_code == 200, metric.text
    sent = batch(*served.ids, customer=alias)

    served.sync.fail = OSError(errno.EIO, "Input/output error")
    assert post(served.url, "/v1/ingest", sent).status_code == 500
    served.sync.fail = None
    retry = post(served.url, "/v1/ingest", sent)
    assert (retry.status_code, retry.content) == (200, b"")
    assert served.sync.order == [f"synced: {' '.join(served.ids)}"]  # the retry's own sync

    found = post(served.url, "/v1/events/search", {"transactionIds": served.ids})
    assert found.status_code == 200, found.text
    # One receipt per event, the retry's, stored (not a duplicate of the failed attempt).
    assert [(e["transaction_id"], e["is_duplicate"]) for e in found.json()] == [
        (tid, False) for tid in served.ids
    ]
    day = HAPPENED.replace(hour=0, minute=0, second=0, microsecond=0)
    usage = post(
        served.url,
        "/v1/usage",
        {
            "starting_on": day.isoformat(),
            "ending_before": (day + timedelta(days=1)).isoformat(),
            "window_size": "NONE",
            "customer_ids": [customer.json()["data"]["id"]],
            "billable_metrics": [{"id": metric.json()["data"]["id"]}],
        },
    )
    assert usage.status_code == 200, usage.text
    assert [row["value"] for row in usage.json()["data"]] == [2]
