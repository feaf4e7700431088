"""The engine acknowledges a batch only after an ``fdatasync`` that covers its line.

The log's own tests pin the log's futures; these pin the engine's: ``submit``'s future (what
the server awaits before answering) and ``ingest`` (which blocks on it) must not complete
before the sync of a file that holds the batch, and must fail when that sync fails. The real
``fdatasync`` runs, wrapped to be held at a gate and to record, in order, what each sync
covered and when each acknowledgement came.
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from metering_harness import INGESTED, Harness, event, metric

from pulumi_metronome.metering import MeteringEngine
from pulumi_metronome.metering import engine as engine_module
from pulumi_metronome.metering import log as log_module


class OrderedSync:
    """The real ``fdatasync``, held while ``gate`` is clear, failing with ``fail`` when set;
    each completed sync appends ``"synced: <transaction ids the file held when it began>"``
    to ``order``."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.fail: OSError | None = None
        self._real = log_module._sync
        self._lock = threading.Lock()

    def __call__(self, fd: int) -> None:
        # What this sync covers: what the file held when it began. (The log is open
        # write-only, so the file is read through its descriptor's path.)
        held = Path(f"/proc/self/fd/{fd}").read_bytes()
        self.entered.set()
        assert self.gate.wait(30), "the gate was never opened"
        if self.fail is not None:
            raise self.fail
        self._real(fd)
        ids = sorted(t for t in ("t1", "t2", "t3") if f'"t":"{t}"'.encode() in held)
        self.note(f"synced: {' '.join(ids)}")

    def note(self, what: str) -> None:
        with self._lock:
            self.order.append(what)


@pytest.fixture
def sync(monkeypatch: pytest.MonkeyPatch) -> Iterator[OrderedSync]:
    recorder = OrderedSync()
    monkeypatch.setattr(log_module, "_sync", recorder)
    # No background move into DuckDB meanwhile: its log rotation syncs with a plain fsync
    # (also durable, but not recorded), so every sync the test sees is one it records.
    monkeypatch.setattr(engine_module, "FLUSH_SECONDS", 3600.0)
    yield recorder
    recorder.gate.set()


@pytest.fixture
def engine(tmp_path: Path, sync: OrderedSync) -> Iterator[MeteringEngine]:
    e = MeteringEngine(tmp_path / "events.duckdb", auto_compact=False)
    yield e
    sync.gate.set()
    e.close()


def test_submit_completes_only_after_the_sync_that_covers_its_batch(
    engine: MeteringEngine, sync: OrderedSync
) -> None:
    sync.gate.clear()
    first = engine.submit([event("t1")], ingested_at=INGESTED)
    assert sync.entered.wait(10)  # the line is written and its sync has started
    # Registered while the sync is held: runs when the future completes (at once if done).
    first.add_done_callback(lambda _: sync.note("acknowledged: t1"))
    second = engine.submit([event("t2"), event("t3")], ingested_at=INGESTED)
    second.add_done_callback(lambda _: sync.note("acknowledged: t2 t3"))
    assert not first.done() and not second.done()
    assert sync.order == []
    sync.gate.set()
    assert (first.result(10).stored, second.result(10).stored) == (1, 2)
    # The first sync started before the second batch was written, so it covered t1 only;
    # the second batch waited for the next sync, which covered all three.
    assert sync.order == [
        "synced: t1",
        "acknowledged: t1",
        "synced: t1 t2 t3",
        "acknowledged: t2 t3",
    ]


def test_ingest_returns_only_after_the_sync_that_covers_its_batch(
    engine: MeteringEngine, sync: OrderedSync
) -> None:
    sync.gate.clear()
    returned = threading.Event()

    def ingest() -> None:
        engine.ingest([event("t1")], ingested_at=INGESTED)
        sync.note("acknowledged: t1")
        returned.set()

    worker = threading.Thread(target=ingest)
    worker.start()
    assert sync.entered.wait(10)
    # Give a wrongly early return the time to show; a right one cannot happen meanwhile.
    assert not returned.wait(0.5)
    sync.gate.set()
    worker.join(10)
    assert sync.order == ["synced: t1", "acknowledged: t1"]


def test_a_failed_sync_fails_the_batch_instead_of_acknowledging_it(
    engine: MeteringEngine, sync: OrderedSync
) -> None:
    sync.fail = OSError(errno.EIO, "Input/output error")
    pending = engine.submit([event("t1")], ingested_at=INGESTED)
    error = pending.exception(10)
    assert isinstance(error, OSError) and error.errno == errno.EIO
    with pytest.raises(OSError, match="Input/output error"):
        engine.ingest([event("t2")], ingested_at=INGESTED)
    assert sync.order == []  # nothing was synced, so nothing may be acknowledged
    # The disk recovers and the client retries both batches: each event counts once.
    sync.fail = None
    retried = engine.ingest([event("t1"), event("t2")], ingested_at=INGESTED)
    assert (retried.stored, retried.duplicates) == (0, 2)  # kept from the failed attempts
    assert sync.order == ["synced: t1 t2"]
    assert Harness(engine).value(metric("count", aggregation_type="COUNT")) == 2
