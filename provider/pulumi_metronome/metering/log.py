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
from pathlib import Path

#: ``fdatasync`` where the platform has it: the data and the size, not the timestamps.
_sync = getattr(os, "fdatasync", os.fsync)


def log_files(database: Path) -> list[Path]:
    """The ingest logs of a database, oldest first."""
    return sorted(database.parent.glob(f"{database.name}.ingest-*.log"))


class IngestLog:
    """An append-only file of batch lines with group-committed ``fsync``.

    ``append`` is called with the engine's write lock held (so lines keep sequence order);
    ``sync`` is called after releasing it, and one ``fsync`` covers every line appended so
    far, whoever appended it.
    """

    def __init__(self, database: Path) -> None:
        self.database = database
        existing = log_files(database)
        self._number = int(existing[-1].name.rsplit("-", 1)[1].split(".")[0]) if existing else 0
        self._sync_lock = threading.Lock()
        self._written = 0  # lines appended to the current file
        self._synced = 0
        self._file = self._open_next()

    def _open_next(self) -> int:
        self._number += 1
        self._written = self._synced = 0
        path = self.database.parent / f"{self.database.name}.ingest-{self._number:08}.log"
        self.path = path
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def append(self, line: bytes) -> tuple[int, int]:
        """Write one batch line; returns a ticket for ``sync``."""
        os.write(self._file, line)
        self._written += 1
        return self._number, self._written

    def sync(self, ticket: tuple[int, int]) -> None:
        """Return once the ticket's line is on disk (one fsync for every waiting caller)."""
        number, position = ticket
        with self._sync_lock:
            if number != self._number or self._synced >= position:
                return  # rotated (rotation syncs) or already covered by another fsync
            upto = self._written
            _sync(self._file)
            self._synced = upto

    def rotate(self) -> Path:
        """Close the current file (synced) and start a new one; returns the closed file.
        Called with the engine's write lock held."""
        with self._sync_lock:
            os.fsync(self._file)
            os.close(self._file)
            closed = self.path
            self._file = self._open_next()
        return closed

    def close(self) -> None:
        with self._sync_lock:
            os.fsync(self._file)
            os.close(self._file)


def complete_lines(path: Path) -> str:
    """The whole lines of a log file; a torn last line (no newline) was never acknowledged."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    cut = text.rfind("\n")
    return text[: cut + 1] if cut >= 0 else ""
