"""The ingest log's durability contract: a batch's future completes only after an
``fdatasync`` that covers its line, one ``fdatasync`` covers every line written meanwhile
(group commit), a failed sync fails the futures that depended on it, and rotation and
closing settle every future."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future, wait
from pathlib import Path

import pytest

from pulumi_metronome.metering import log as log_module
from pulumi_metronome.metering.log import IngestLog, complete_lines, log_files, spare_files


class SyncRecorder:
    """The real ``fdatasync``, recording for each call how many bytes the file held, and
    optionally held back (``gate``) or failing (``fail``)."""

    def __init__(self) -> None:
        self.synced_sizes: list[int] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.fail: OSError | None = None
        self._real = log_module._sync

    def __call__(self, fd: int) -> None:
        self.entered.set()
        self.gate.wait(10)
        if self.fail is not None:
            raise self.fail
        self._real(fd)
        self.synced_sizes.append(os.fstat(fd).st_size)


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[SyncRecorder]:
    rec = SyncRecorder()
    monkeypatch.setattr(log_module, "_sync", rec)
    yield rec
    rec.gate.set()


def line(n: int) -> bytes:
    return f'[{{"n": {n}}}]\n'.encode()


def test_a_future_completes_after_a_sync_that_covers_its_line(
    tmp_path: Path, recorder: SyncRecorder
) -> None:
    log = IngestLog(tmp_path / "e.duckdb")
    first = log.append(line(1))
    first.result(timeout=10)
    assert recorder.synced_sizes and recorder.synced_sizes[-1] >= len(line(1))
    second = log.append(line(2))
    second.result(timeout=10)
    assert recorder.synced_sizes[-1] >= len(line(1)) + len(line(2))
    log.close()


def test_one_sync_covers_every_line_written_while_the_previous_one_ran(
    tmp_path: Path, recorder: SyncRecorder
) -> None:
    log = IngestLog(tmp_path / "e.duckdb")
    recorder.gate.clear()  # the first sync starts and blocks
    first = log.append(line(0))
    assert recorder.entered.wait(10)
    waiting = [log.append(line(n)) for n in range(1, 51)]
    assert not any(f.done() for f in [first, *waiting])  # nothing acknowledged before a sync
    recorder.gate.set()
    _, not_done = wait([first, *waiting], timeout=10)
    assert not not_done
    # The 50 lines written during the first sync needed one more sync, not 50.
    assert len(recorder.synced_sizes) == 2
    assert recorder.synced_sizes[-1] == sum(len(line(n)) for n in range(51))
    log.close()
    assert complete_lines(log_files(tmp_path / "e.duckdb")[-1]).count("\n") == 51


def test_a_failed_sync_fails_the_futures_it_was_to_cover(
    tmp_path: Path, recorder: SyncRecorder
) -> None:
    log = IngestLog(tmp_path / "e.duckdb")
    recorder.fail = OSError(5, "Input/output error")
    failed = log.append(line(1))
    with pytest.raises(OSError, match="Input/output error"):
        failed.result(timeout=10)
    recorder.fail = None
    later = log.append(line(2))
    later.result(timeout=10)  # the next sync (covering both lines) succeeds
    log.close()


def test_rotation_and_close_settle_every_waiting_future(
    tmp_path: Path, recorder: SyncRecorder
) -> None:
    log = IngestLog(tmp_path / "e.duckdb")
    recorder.gate.clear()
    blocker = log.append(line(0))
    assert recorder.entered.wait(10)
    before: list[Future[None]] = [log.append(line(n)) for n in range(1, 4)]
    rotating = threading.Thread(target=log.rotate)
    rotating.start()  # waits for the running sync, then fsyncs and settles the rest
    recorder.gate.set()
    rotating.join(10)
    assert not rotating.is_alive()
    for future in [blocker, *before]:
        future.result(timeout=10)
    after = log.append(line(9))
    log.close()  # settles what it had not synced yet
    after.result(timeout=0)
    files = log_files(tmp_path / "e.duckdb")
    assert [complete_lines(f).count("\n") for f in files] == [4, 1]


def test_a_recycled_file_is_zeroed_reused_and_written_over_without_growing(
    tmp_path: Path, recorder: SyncRecorder
) -> None:
    database = tmp_path / "e.duckdb"
    log = IngestLog(database)
    lines = [line(n) for n in range(1000)]
    for text in lines:
        log.append(text)
    first, used = log.rotate()
    assert used == sum(len(t) for t in lines)
    log.recycle(first, used)  # its lines are in DuckDB now (the engine's job)
    spare = spare_files(database)[0]
    assert not first.exists() and spare.read_bytes() == bytes(used)
    inode = spare.stat().st_ino
    log.append(line(1))  # into the second file, opened by the rotation (no spare then)
    second, _ = log.rotate()  # the third file: the spare, renamed
    assert complete_lines(second) == line(1).decode()
    assert not spare.exists() and log.path.stat().st_ino == inode
    log.append(line(2)).result(timeout=10)
    assert log.path.stat().st_size == used  # written over zeros: the size did not change
    assert complete_lines(log.path) == line(2).decode()
    log.close()


def test_reading_a_log_stops_at_the_zeros_and_drops_a_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    path.write_bytes(b"[1]\n[2]\n[3" + bytes(100) + b"[4]\n")
    assert complete_lines(path) == "[1]\n[2]\n"
    path.write_bytes(bytes(100))
    assert complete_lines(path) == ""


def test_a_second_closed_file_is_deleted_when_a_spare_is_ready(tmp_path: Path) -> None:
    database = tmp_path / "e.duckdb"
    log = IngestLog(database)
    log.append(line(1))
    first, used = log.rotate()
    log.append(line(2))
    second, used_second = log.rotate()
    log.recycle(first, used)
    log.recycle(second, used_second)
    assert not first.exists() and not second.exists()
    assert spare_files(database)[0].exists() and not spare_files(database)[1].exists()
    log.close()
