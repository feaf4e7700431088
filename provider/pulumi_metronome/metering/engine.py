"""``MeteringEngine``: events stored in DuckDB, usage computed with set-based SQL.

CONTRACT (lead's skeleton, to be implemented by the engine owner): the signatures below are
what the local server's routers call; change them only together with the server side.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from ..models.event import Event
from .types import (
    GroupRow,
    GroupsQuery,
    IngestResult,
    MeteredMetric,
    StoredEvent,
    UsageQuery,
    UsageRow,
)


class MeteringEngine:
    """Holds events (a DuckDB database file, or in memory when ``path`` is None)."""

    def __init__(self, path: str | Path | None = None) -> None:
        raise NotImplementedError

    def ingest(self, events: Sequence[Event], *, ingested_at: datetime) -> IngestResult:
        """Store a validated batch atomically; the first event with a transaction id wins."""
        raise NotImplementedError

    def usage(self, query: UsageQuery) -> list[UsageRow]:
        """Rows ordered by customer id, metric id, window start."""
        raise NotImplementedError

    def usage_groups(self, query: GroupsQuery) -> list[GroupRow]:
        raise NotImplementedError

    def search(
        self, transaction_ids: Sequence[str], metrics: Sequence[MeteredMetric]
    ) -> list[StoredEvent]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError
