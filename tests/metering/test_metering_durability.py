"""The engine acknowledges a batch only after an ``fdatasync`` that covers its line.

The log's own tests pin the log's futures; these pin the engine's: ``submit``'s future (what
the server awaits before answering) and ``ingest`` (which blocks on it) must not complete
before the sync of a file that holds the batch, and must fail when that sync fails. The real
``fdatasync`` runs, wrapped to be held at a gate and to record, in order, what each sync
covered and when each acknowledgement came.

A failed sync may lose its data although the next one succeeds (Linux may drop the pages and
clear the error), so a failed batch must also be forgotten: its retry is written and synced
again, counts once, and still counts once after a restart that replays the log, even when
the failed copy reached the disk after all.
"""

from __future__ import annotations

import errno
import re
import shutil
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest
from metering_harness import INGESTED, Harness, at, event, metric

from pulumi_metronome.metering import MeteringEngine
from pulumi_metronome.metering import engine as engine_module
from pulumi_metronome.metering import log as log_module
from pulumi_metronome.metering.log import log_files
from pulumi_metronome.metering.types import IngestResult


class OrderedSync:
    """The real ``fdatasync``, held while ``gate`` is clear (and the n-th call, counted from
    1, while ``hold[n]`` is clear), failing with ``fail`` when set (the n-th call: with
    ``failing[n]``); each completed sync appends ``"synced: <transaction ids the file held
    when it began, in file order>"`` to ``order``. ``held[n]``: the bytes the n-th call
    covered."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.fail: OSError | None = None
        self.hold: dict[int, threading.Event] = {}
        self.failing: dict[int, OSError] = {}
        self.held: dict[int, bytes] = {}
        self.calls = 0
        self._started = threading.Condition()
        self._real = log_module._sync
        self._lock = threading.Lock()

    def __call__(self, fd: int) -> None:
        # What this sync covers: what the file held when it began. (The log is open
        # write-only, so the file is read through its descriptor's path.)
        held = Path(f"/proc/self/fd/{fd}").read_bytes()
        with self._started:
            self.calls += 1
            call = self.calls
            self.held[call] = held
            self._started.notify_all()
        self.entered.set()
        assert self.gate.wait(30), "the gate was never opened"
        if call in self.hold:
            assert self.hold[call].wait(30), f"sync {call} was never let go"
        error = self.failing.get(call, self.fail)
        if error is not None:
            raise error
        self._real(fd)
        self.note(f"synced: {' '.join(transaction_ids(held))}")

    def started(self, calls: int) -> bool:
        """Wait until ``calls`` syncs have begun."""
        with self._started:
            return self._started.wait_for(lambda: self.calls >= calls, 30)

    def note(self, what: str) -> None:
        with self._lock:
            self.order.append(what)


def transaction_ids(log: bytes) -> list[str]:
    """The transaction ids in log text, in file order, repeats kept."""
    return [m.decode() for m in re.findall(rb'"t":"([^"]*)"', log)]


def note_when_done(future: Future[IngestResult], sync: OrderedSync, what: str) -> None:
    future.add_done_callback(
        lambda f: sync.note(f"{'failed' if f.exception() else 'acknowledged'}: {what}")
    )


def restarted(engine: MeteringEngine, into: Path, log: bytes | None = None) -> MeteringEngine:
    """An engine opened on a copy of ``engine``'s files, as a crash would leave them (the
    log as it is, or as ``log``): it replays the log."""
    assert engine.path is not None
    into.mkdir()
    for file in MeteringEngine.files(engine.path):
        if file.exists():
            shutil.copyfile(file, into / file.name)
    if log is not None:
        (logs,) = log_files(into / engine.path.name)
        logs.write_bytes(log)
    return MeteringEngine(into / engine.path.name, auto_compact=False)


def count_of(engine: MeteringEngine) -> object:
    return Harness(engine).value(metric("count", aggregation_type="COUNT"))


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


@pytest.mark.parametrize("then", ["query", "close and reopen", "bulk load"])
def test_a_failed_sync_fails_the_batch_instead_of_acknowledging_it(
    engine: MeteringEngine, sync: OrderedSync, tmp_path: Path, then: str
) -> None:
    sync.fail = OSError(errno.EIO, "Input/output error")
    pending = engine.submit([event("t1")], ingested_at=INGESTED)
    error = pending.exception(10)
    assert isinstance(error, OSError) and error.errno == errno.EIO
    with pytest.raises(OSError, match="Input/output error"):
        engine.ingest([event("t2")], ingested_at=INGESTED)
    assert sync.order == []  # nothing was synced, so nothing may be acknowledged
    sync.fail = None
    # Whatever moves the pending batches into DuckDB next leaves the failed ones out.
    if then == "query":
        assert count_of(engine) == 0
    elif then == "close and reopen":
        engine.close()
        engine = MeteringEngine(tmp_path / "events.duckdb", auto_compact=False)
    else:
        t3 = {"transaction_id": "t3", "customer_id": "c1", "event_type": "api"}
        loaded = engine.load([{**t3, "timestamp": at(1).isoformat()}], ingested_at=INGESTED)
        assert (loaded.stored, loaded.duplicates) == (1, 0)
    try:
        expected = 1 if then == "bulk load" else 0
        assert (engine.count(), count_of(engine)) == (expected, expected)
        again = engine.ingest([event("t1"), event("t2")], ingested_at=INGESTED)
        assert (again.stored, again.duplicates) == (2, 0)  # forgotten: new again
    finally:
        engine.close()


def test_the_retry_of_a_batch_whose_sync_failed_is_written_synced_and_counted_once(
    engine: MeteringEngine, sync: OrderedSync, tmp_path: Path
) -> None:
    sync.fail = OSError(errno.EIO, "Input/output error")
    batch = [event("t1"), event("t2")]
    with pytest.raises(OSError, match="Input/output error"):
        engine.ingest(batch, ingested_at=INGESTED)
    (log,) = log_files(tmp_path / "events.duckdb")
    failed_copy = sync.held[1]  # the file as the failed sync found it: the batch's line
    assert transaction_ids(failed_copy) == ["t1", "t2"]
    # Blanked: should the kernel have dropped its pages, no hole ends the log's text.
    assert log.read_bytes() == b"\n" * len(failed_copy)

    # The disk recovers and the client retries: the batch is new again, so it is written
    # again (the log grows by its line) and acknowledged after a sync of its own.
    sync.fail = None
    sync.gate.clear()
    retry = engine.submit(batch, ingested_at=INGESTED)
    assert sync.started(2)
    note_when_done(retry, sync, "t1 t2")
    assert not retry.done()
    sync.gate.set()
    assert (retry.result(10).stored, retry.result(10).duplicates) == (2, 0)
    assert sync.order == ["synced: t1 t2", "acknowledged: t1 t2"]
    retried = log.read_bytes()
    assert len(retried) == 2 * len(failed_copy)  # the same rows, numbered after the first
    assert transaction_ids(retried) == ["t1", "t2"]
    assert engine.count() == 2

    # Restarts replaying the log, as a crash leaves it: with the failed copy blanked, and
    # with it on disk after all (the kernel wrote it late): the first copy counts.
    blanked = restarted(engine, tmp_path / "blanked")
    written_late = restarted(engine, tmp_path / "late", failed_copy + retried[len(failed_copy) :])
    try:
        assert count_of(engine) == 2
        for replayed in (blanked, written_late):
            assert (replayed.count(), count_of(replayed)) == (2, 2)
            # And the ids are known: a third sending of the batch is all duplicates.
            again = replayed.ingest(batch, ingested_at=INGESTED)
            assert (again.stored, again.duplicates) == (0, 2)
    finally:
        blanked.close()
        written_late.close()


def test_every_batch_a_failed_group_commit_covered_is_failed_and_forgotten(
    engine: MeteringEngine, sync: OrderedSync, tmp_path: Path
) -> None:
    """Sync 1 covers t0 and succeeds; sync 2 covers two batches written meanwhile and fails,
    while a third batch is written (after theirs in the file): all three fail."""
    sync.hold = {1: threading.Event(), 2: threading.Event()}
    sync.failing[2] = OSError(errno.EIO, "Input/output error")
    before = engine.submit([event("t0")], ingested_at=INGESTED)
    assert sync.started(1)
    note_when_done(before, sync, "t0")
    covered = [
        engine.submit([event("t1")], ingested_at=INGESTED),
        engine.submit([event("t2"), event("t3"), event("t0")], ingested_at=INGESTED),
    ]
    sync.hold[1].set()
    assert sync.started(2)
    assert transaction_ids(sync.held[2]) == ["t0", "t1", "t2", "t3", "t0"]
    during = engine.submit([event("t4"), event("t1")], ingested_at=INGESTED)
    sync.hold[2].set()
    assert (before.result(10).stored, before.result(10).duplicates) == (1, 0)
    for failed in [*covered, during]:
        error = failed.exception(10)
        assert isinstance(error, OSError) and error.errno == errno.EIO
    assert sync.order == ["synced: t0", "acknowledged: t0"]
    assert engine.count() == 1  # t0 only

    # The client retries everything: t0 stays stored, the others are new again.
    retried = engine.ingest(
        [event("t0"), event("t1"), event("t2"), event("t3"), event("t4")], ingested_at=INGESTED
    )
    assert (retried.stored, retried.duplicates) == (4, 1)
    assert sync.order[-1] == "synced: t0 t0 t1 t2 t3 t4"  # the failed lines are blank
    assert engine.count() == 5

    # A crash image where the failed lines reached the disk after all: each id counts once.
    (log,) = log_files(tmp_path / "events.duckdb")
    now = log.read_bytes()
    written_late = restarted(engine, tmp_path / "late", sync.held[2] + now[len(sync.held[2]) :])
    try:
        assert count_of(engine) == 5
        assert (written_late.count(), count_of(written_late)) == (5, 5)
    finally:
        written_late.close()
