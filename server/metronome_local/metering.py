"""The server's side of metering: where the engine lives, the metrics it evaluates, and
JSON with exact decimals.

The engine (``pulumi_metronome.metering.MeteringEngine``) keeps events in a DuckDB file
next to the SQLite database (``metronome.db`` -> ``metronome.events.duckdb``), or in memory
when the database is ``:memory:``. It is opened with the app and closed on shutdown.
Metric definitions stay in SQLite; ``metered_metrics`` reads them with their creation and
archiving times, which bound what a streaming metric sees (not retroactive).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pulumi_metronome.metering import MeteredMetric, MeteringEngine
from pulumi_metronome.models import BillableMetricSpec
from pulumi_metronome.models.usage import decimal_text

from .errors import NotFound
from .settings import MEMORY_DB
from .store import Store


def engine_path(db: str) -> Path | None:
    """The DuckDB file beside SQLite file ``db``; ``None`` (memory) for ``:memory:``."""
    if db == MEMORY_DB:
        return None
    path = Path(db)
    return path.with_name(f"{path.stem}.events.duckdb")


class EngineSlot:
    """The app's engine: opened at first use, replaced by ``reset``, closed with the app."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._engine: MeteringEngine | None = None

    def open(self) -> MeteringEngine:
        with self._lock:
            if self._engine is None:
                self._engine = MeteringEngine(self.path)
            return self._engine

    get = open

    def reset(self) -> None:
        """Forget every event: close the engine and delete its files (the next ``get``
        opens a new one)."""
        with self._lock:
            if self._engine is not None:
                self._engine.close()
                self._engine = None
            if self.path is not None:
                for file in MeteringEngine.files(self.path):
                    file.unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.close()
                self._engine = None


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def metered_metrics(
    store: Store,
    metric_ids: Sequence[str] | None = None,
    *,
    field: str = "",
    include_archived: bool = False,
) -> list[MeteredMetric]:
    """Metrics as the engine evaluates them: every live one (or every one, with
    ``include_archived``) when ``metric_ids`` is None, ordered by id; else the given ones in
    that order, archived ones too. An unknown id is a 404 naming ``field.format(i=index)``."""
    with store.transaction() as db:
        if metric_ids is None:
            live = "" if include_archived else " WHERE archived_at IS NULL"
            rows = db.execute(
                "SELECT id, name, definition, created_at, archived_at FROM billable_metrics"
                f"{live} ORDER BY id"
            ).fetchall()
        else:
            wanted = list(dict.fromkeys(metric_ids))
            found = {
                row["id"]: row
                for row in db.execute(
                    "SELECT id, name, definition, created_at, archived_at FROM billable_metrics"
                    f" WHERE id IN ({','.join('?' * len(wanted))})",
                    wanted,
                )
            }
            rows = []
            for index, metric_id in enumerate(metric_ids):
                if metric_id not in found:
                    prefix = f"{field.format(i=index)}: " if field else ""
                    raise NotFound(f"{prefix}billable metric {metric_id} not found")
                rows.append(found[metric_id])
    return [
        MeteredMetric(
            id=row["id"],
            name=row["name"],
            spec=BillableMetricSpec.model_validate(
                {"name": row["name"], **json.loads(row["definition"])}
            ),
            created_at=_when(row["created_at"]),
            archived_at=_when(row["archived_at"]),
        )
        for row in rows
    ]


# --- JSON with exact decimals -------------------------------------------------------------

_MARK = "\x00decimal:"
_MARKED = re.compile(r'"\\u0000decimal:(-?[0-9.]+)"')


def _decimal_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _MARK + decimal_text(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps_exact(data: Any) -> bytes:
    """JSON where every ``Decimal`` is a JSON number written exactly (``12.5``, never
    ``12.499999``): usage values are exact decimals and stay so on the wire."""
    text = json.dumps(data, default=_decimal_default, separators=(",", ":"))
    return _MARKED.sub(r"\1", text).encode()
