"""The ingest log: acknowledged batches, durable before DuckDB has them.

Why: a DuckDB ``INSERT`` + commit costs milliseconds whatever its size, far more than a
100-event batch is worth, while writing one line to a file and ``fdatasync``-ing it costs a
fraction of that and is shared by every batch that arrives meanwhile (group commit). So
``ingest`` writes the batch (one JSON line: the rows exactly as they will be stored,
sequence numbers and duplicate flags included) to the log and returns once it is on disk;
the engine moves the log into DuckDB in bulk (one native JSON parse and one INSERT for
thousands of events) before any query reads, and in the background when it grows. On open,
whatever a crash left in the log is loaded (rows already in DuckDB are skipped by sequence
number), and a torn last line, a batch that was never acknowledged, is dropped.

Recycled files: an ``fdatasync`` after a write that grows a file must also commit the new
size to the filesystem's journal, which costs about half as much again as the data and
waits behind every other file's metadata (DuckDB's among them). So, as databases do with
their write-ahead logs, lines are written over zeros: once a log file's lines are in
DuckDB, the engine zeroes the part it used and keeps it as the spare that the next rotation
renames into place. The zeros end the readable text (``complete_lines`` stops at the first
NUL byte, which JSON text never holds), so a recycled file reads as empty, and a crash in
the middle of a write reads as a torn last line.

A failed sync: on Linux, the kernel may drop the pages whose write-back failed and clear
the error, so the next sync succeeds without them: the failed lines may never reach the
disk, and where they were the file may read as zeros after a crash, which would end the
readable text before every later line. So a failed sync fails every line of the file not
yet on disk (those it covered, and those written while it ran, which may share its pages),
writes newlines over them (blank lines, skipped on replay; the next sync puts them on disk
before any later line is acknowledged) and records their tokens for the engine to forget
(``take_failed``). A line whose write began before a failure it did not see is failed too.
If the kernel did write a failed line after all and the machine crashes before its blank
lines reach the disk, replay finds it: the engine counts the first copy of a transaction id
(``MeteringEngine`` recovery), so a retried batch still counts once.

Files beside the DuckDB file: ``<database>.ingest-<n>.log`` (``log_files`` lists them) and
the spare ``<database>.ingest-spare`` (``spare_files``).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Generic, TypeVar

#: ``fdatasync`` where the platform has it: the data and the size, not the timestamps.
_sync = getattr(os, "fdatasync", os.fsync)
_ZEROS = bytes(1 << 20)
#: What a caller tags its lines with, to learn which of them failed (``take_failed``).
T = TypeVar("T")


def log_files(database: Path) -> list[Path]:
    """The ingest logs of a database, oldest first."""
    return sorted(database.parent.glob(f"{database.name}.ingest-*.log"))


def spare_files(database: Path) -> list[Path]:
    """The spare log file and the one being zeroed (neither holds a line to recover)."""
    return [
        database.with_name(f"{database.name}.ingest-spare"),
        database.with_name(f"{database.name}.ingest-zeroing"),
    ]


def _sync_directory(path: Path) -> None:
    """Make a rename in ``path`` durable (a line written to a file whose new name is lost
    in a crash would be lost with it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class IngestLog(Generic[T]):
    """A log file of batch lines, made durable by one syncing thread.

    ``append`` writes a line and returns a future that completes once the line is on disk.
    The syncing thread waits for lines, then ``fdatasync``s once for every line written
    meanwhile, whoever wrote it (group commit), so no caller blocks a thread of its own on
    the disk: the server awaits the future on its event loop.

    ``append``, ``rotate`` and ``sync`` are called with the engine's write lock held (lines
    keep sequence order, and a rotation never races an append). Futures are settled with
    the file lock held: their callbacks must not wait for the log.
    """

    def __init__(self, database: Path) -> None:
        self.database = database
        existing = log_files(database)
        self._number = int(existing[-1].name.rsplit("-", 1)[1].split(".")[0]) if existing else 0
        for leftover in spare_files(database):
            leftover.unlink(missing_ok=True)  # the next recycling makes a new one
        self._spare, self._zeroing = spare_files(database)
        self._spare_lock = threading.Lock()  # the spare: taken by rotate, made by recycle
        self._file_lock = threading.Lock()  # the file: syncing, rotating, closing
        self._wake = threading.Condition(threading.Lock())
        #: Lines written, not yet synced: (future, token, start, end), in file order.
        self._waiting: list[tuple[Future[None], T | None, int, int]] = []
        self._failures = 0  # syncs that failed so far
        self._error: OSError | None = None  # the last one's error
        self._failed: list[T] = []  # tokens of failed lines, until ``take_failed``
        self._closing = False
        self._file, self._offset = self._open_next(), 0
        self._syncer = threading.Thread(
            target=self._sync_forever, name="ingest-log-sync", daemon=True
        )
        self._syncer.start()

    def _open_next(self) -> int:
        """The next numbered file: the spare renamed, when there is one, else a new file."""
        self._number += 1
        path = self.database.parent / f"{self.database.name}.ingest-{self._number:08}.log"
        self.path = path
        with self._spare_lock:
            try:
                os.rename(self._spare, path)
            except FileNotFoundError:
                pass
            else:
                _sync_directory(path.parent)
                return os.open(path, os.O_WRONLY)
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)

    def take_failed(self) -> tuple[int, list[T]]:
        """How many syncs have failed so far, and the tokens of the lines failed since the
        last call (each reported once). Pass the count to the next ``append``: a failure
        after it fails that line too, so a caller that decides what a line holds from what
        it knows succeeded never builds on a line that failed unseen."""
        with self._wake:
            failed, self._failed = self._failed, []
            return self._failures, failed

    def append(
        self, line: bytes, token: T | None = None, *, failures: int | None = None
    ) -> Future[None]:
        """Write one batch line; the future completes when it is on disk, or fails with the
        ``OSError`` that kept it (or a line before it in the file) from getting there.
        ``token``: reported by ``take_failed`` if the line fails. ``failures``: the count
        ``take_failed`` returned (else the count now)."""
        with self._wake:
            seen = self._failures if failures is None else failures
        start = self._offset
        written = os.pwrite(self._file, line, start)
        while written < len(line):  # a short write (a full disk returns an error instead)
            written += os.pwrite(self._file, line[written:], start + written)
        self._offset += written
        durable: Future[None] = Future()
        with self._wake:
            if self._failures == seen:
                self._waiting.append((durable, token, start, self._offset))
                self._wake.notify()
                return durable
            # A sync failed meanwhile: the line may share its pages, or follow a line the
            # caller built on (a duplicate of it). Failed, and blanked like the others.
            if token is not None:
                self._failed.append(token)
            error = self._error
        assert error is not None
        self._blank(start, self._offset)
        durable.set_exception(error)
        return durable

    def _sync_forever(self) -> None:
        while True:
            with self._wake:
                while not self._waiting and not self._closing:
                    self._wake.wait()
                if not self._waiting:
                    return
            with self._file_lock:
                self._sync_waiting(_sync)

    def _sync_waiting(self, sync: Callable[[int], None]) -> None:
        """Sync the file and settle every line written so far (``_file_lock`` held); later
        lines wait for the next sync."""
        with self._wake:
            waiting, self._waiting = self._waiting, []
        try:
            sync(self._file)
        except OSError as error:
            self._fail(waiting, error)
        else:
            _settle([future for future, *_ in waiting])

    def _fail(self, waiting: list[tuple[Future[None], T | None, int, int]], error: OSError) -> None:
        """A sync covering ``waiting`` failed: fail them and every line written since, blank
        them in the file and record their tokens (``_file_lock`` held)."""
        with self._wake:
            self._failures += 1
            self._error = error
            waiting = waiting + self._waiting
            self._waiting = []
            self._failed.extend(token for _, token, _, _ in waiting if token is not None)
        for _, _, start, end in waiting:
            self._blank(start, end)
        _settle([future for future, *_ in waiting], error)

    def _blank(self, start: int, end: int) -> None:
        """Newlines over a failed line: it reads as blank lines, and its pages are written
        again by the next sync (the kernel may have dropped them). A write that fails here
        changes nothing for the line, which is failed already."""
        with contextlib.suppress(OSError):
            os.pwrite(self._file, b"\n" * (end - start), start)

    def sync(self) -> None:
        """Sync now and settle every line written so far (succeeded or failed)."""
        with self._file_lock:
            with self._wake:
                if not self._waiting:
                    return
            self._sync_waiting(_sync)

    def rotate(self) -> tuple[Path, int]:
        """Close the current file (synced) and start the next one; returns the closed file
        and how many bytes of it hold lines (for ``recycle`` once they are in DuckDB)."""
        with self._file_lock:
            self._sync_waiting(os.fsync)  # a failure fails the lines, not the rotation
            os.close(self._file)
            closed, used = self.path, self._offset
            self._file, self._offset = self._open_next(), 0
        return closed, used

    def recycle(self, closed: Path, used: int) -> None:
        """Zero the used part of a closed log whose lines are all in DuckDB and keep it as
        the spare (or delete it when there is a spare already). Called without the
        engine's locks: it writes as many zeros as the file held text."""
        with self._spare_lock:
            if self._spare.exists():
                closed.unlink()
                return
            os.rename(closed, self._zeroing)  # no longer a log: a crash now loses nothing
        fd = os.open(self._zeroing, os.O_WRONLY)
        try:
            for start in range(0, used, len(_ZEROS)):
                os.pwrite(fd, _ZEROS[: min(len(_ZEROS), used - start)], start)
            os.fsync(fd)
        finally:
            os.close(fd)
        with self._spare_lock:
            os.rename(self._zeroing, self._spare)

    def close(self) -> None:
        """Sync what is written, settle every future, stop the syncing thread."""
        with self._wake:
            self._closing = True
            self._wake.notify()
        self._syncer.join()
        with self._file_lock:
            os.fsync(self._file)
            os.close(self._file)


def _settle(futures: list[Future[None]], error: OSError | None = None) -> None:
    for future in futures:
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


def complete_lines(path: Path) -> str:
    """The whole lines of a log file, up to its first NUL byte (where a recycled file's
    zeros begin); a torn last line (no newline) was never acknowledged."""
    data = path.read_bytes()
    end = data.find(b"\0")
    text = (data if end < 0 else data[:end]).decode("utf-8", errors="replace")
    cut = text.rfind("\n")
    return text[: cut + 1] if cut >= 0 else ""
