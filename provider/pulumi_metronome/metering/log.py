"""The ingest log: acknowledged batches, durable before DuckDB has them.

Why: a DuckDB ``INSERT`` + commit costs milliseconds whatever its size, far more than a
100-event batch is worth, while appending one line to a file and ``fsync``-ing it costs a
fraction of that and is shared by every batch that arrives meanwhile (group commit). So
``ingest`` appends the batch (one JSON line: the rows exactly as they will be stored,
sequence numbers and duplicate flags included) to the log and returns once it is on disk;
the engine moves the log into DuckDB in bulk (one native JSON parse and one INSERT for
thousands of events) before any query reads, and in the background when it grows. On open,
whatever a crash left in the log is loaded (rows already in DuckDB are skipped by sequence
number), and a torn last line, a batch that was never acknowledged, is dropped.

Files: ``<database>.ingest-<n>.log`` beside the DuckDB file; ``log_files`` lists them.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future
from pathlib import Path

#: ``fdatasync`` where the platform has it: the data and the size, not the timestamps.
_sync = getattr(os, "fdatasync", os.fsync)


def log_files(database: Path) -> list[Path]:
    """The ingest logs of a database, oldest first."""
    return sorted(database.parent.glob(f"{database.name}.ingest-*.log"))


class IngestLog:
    """An append-only file of batch lines, made durable by one syncing thread.

    ``append`` writes a line and returns a future that completes once the line is on disk.
    The syncing thread waits for lines, then ``fdatasync``s once for every line written
    meanwhile, whoever wrote it (group commit), so no caller blocks a thread of its own on
    the disk: the server awaits the future on its event loop.

    ``append`` and ``rotate`` are called with the engine's write lock held (lines keep
    sequence order, and a rotation never races an append).
    """

    def __init__(self, database: Path) -> None:
        self.database = database
        existing = log_files(database)
        self._number = int(existing[-1].name.rsplit("-", 1)[1].split(".")[0]) if existing else 0
        self._file_lock = threading.Lock()  # the file: syncing, rotating, closing
        self._wake = threading.Condition(threading.Lock())
        self._waiting: list[Future[None]] = []  # lines written, not yet synced
        self._closing = False
        self._file = self._open_next()
        self._syncer = threading.Thread(
            target=self._sync_forever, name="ingest-log-sync", daemon=True
        )
        self._syncer.start()

    def _open_next(self) -> int:
        self._number += 1
        path = self.database.parent / f"{self.database.name}.ingest-{self._number:08}.log"
        self.path = path
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def append(self, line: bytes) -> Future[None]:
        """Write one batch line; the future completes when it is on disk (or fails with the
        ``OSError`` that kept it from getting there)."""
        os.write(self._file, line)
        durable: Future[None] = Future()
        with self._wake:
            self._waiting.append(durable)
            self._wake.notify()
        return durable

    def _sync_forever(self) -> None:
        while True:
            with self._wake:
                while not self._waiting and not self._closing:
                    self._wake.wait()
                if not self._waiting:
                    return
            with self._file_lock:
                with self._wake:  # every line written so far; later ones wait for the next
                    waiting, self._waiting = self._waiting, []
                try:
                    _sync(self._file)
                except OSError as error:
                    _settle(waiting, error)
                else:
                    _settle(waiting)

    def rotate(self) -> Path:
        """Close the current file (synced) and start a new one; returns the closed file."""
        with self._file_lock:
            os.fsync(self._file)
            os.close(self._file)
            with self._wake:  # their lines were in the file just synced
                waiting, self._waiting = self._waiting, []
            _settle(waiting)
            closed = self.path
            self._file = self._open_next()
        return closed

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
    """The whole lines of a log file; a torn last line (no newline) was never acknowledged."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    cut = text.rfind("\n")
    return text[: cut + 1] if cut >= 0 else ""
