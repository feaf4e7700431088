"""The impact's usage on Spark or ClickHouse: ``Events`` whose table lives in the engine.

``usage.Events`` writes its queries in DuckDB's dialect against a connection; here the
connection is a backend (``metering.backends``) that transpiles each query and runs it
where the events are, so the same ``totals``, ``daily`` and ``customers`` run unchanged and
only their result rows come back. What differs is the load (each engine reads the Parquet
events itself) and SQL metrics (their query reads the loaded text columns directly).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..metering.backends import Backend, EngineError, connect
from ..metering.engine import as_decimal
from ..metering.queries import ts_lit
from ..metering.sql import parse_sql_metric
from ..metering.types import WindowSize
from ..models import SpecError
from .usage import Events, EventsError, Layout, period_of


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    moment: datetime = value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class EngineEvents(Events):
    """Parquet events (a file or a folder of files) read by ``engine``; see the module."""

    def __init__(
        self,
        path: str | Path,
        properties: Iterable[str],
        *,
        engine: str,
        numeric: Iterable[str] = (),
        progress: Callable[[str], None] = lambda _: None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise EventsError(f"events {self.path}: not found")
        if self.path.is_file() and self.path.suffix.lower() != ".parquet":
            raise EventsError(
                f"events {self.path}: engine {engine} reads Parquet (a *.parquet file or a "
                "folder of them)"
            )
        if start is not None and end is not None and start >= end:
            raise EventsError(
                f"period {start:%Y-%m-%d} to {end:%Y-%m-%d}: the start must be before the end"
            )
        self.progress = progress
        self.columns = {name: f"t{i}" for i, name in enumerate(dict.fromkeys(properties))}
        numbers = [n for n in dict.fromkeys(numeric) if n in self.columns]
        self.numbers = {name: f"n{j}" for j, name in enumerate(numbers)}
        self.layout = Layout(self.columns, self.numbers)
        try:
            self.backend: Backend = connect(engine)
        except EngineError as error:
            raise EventsError(str(error)) from None
        # The usage queries call ``self.db.execute(sql).fetchall()``: the backend answers.
        self.db = self.backend  # type: ignore[assignment]
        try:
            self._load(start, end)
        except SpecError as error:
            # Events that break a field rule: the DuckDB loader's words, run on the engine
            # (for a folder, each problem already names its file).
            self.close()
            where = "" if self.path.is_dir() else f"events file {self.path}: "
            raise EventsError(f"{where}{error}") from None
        except EngineError as error:
            self.close()
            raise EventsError(f"events {self.path}: {error}") from None
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self.backend.close()

    def _load(self, start: datetime | None, end: datetime | None) -> None:
        names = list(self.columns)
        self.progress(f"engine {self.backend.name} reading {self.path} for {len(names)} properties")
        loaded = self.backend.load(self.path, names, list(self.numbers), start, end)
        self.read_count = loaded.read
        if loaded.duplicates:
            self.progress(f"dropped {loaded.duplicates:,} duplicate transaction ids")
        row = self.db.execute(
            "SELECT count(*), date_trunc('day', min(ts)), date_trunc('day', max(ts)) FROM ev"
        ).fetchone()
        assert row is not None
        self.count = int(row[0])
        first = _utc(row[1]) if self.count else None
        last_day = _utc(row[2]) if self.count else None
        last = last_day + timedelta(days=1) if last_day is not None else None
        self.period = period_of(self.path, start, end, first, last)
        self.progress(
            f"{self.read_count:,} events read, {self.count:,} in the period "
            f"{self.period.start:%Y-%m-%d} to {self.period.end:%Y-%m-%d} after deduplication"
        )

    def sql_values(
        self, sql: str, window: WindowSize
    ) -> dict[tuple[str, datetime], Decimal | None]:
        """A SQL metric's value per ``(customer, window start)`` over the period: the
        aggregates of the non-empty windows from the engine, every other window the value
        of the query over no events (``metering.sql``'s rule)."""
        metric = parse_sql_metric(sql)
        customers = self.customers()
        if not customers:
            return {}
        missing = [n for n in metric.prop_names if n not in self.columns]
        if missing:
            raise ValueError(f"properties {missing} were not loaded")  # a bug of the caller
        if window == "NONE":
            bucket = ts_lit(self.period.start)
            starts = [self.period.start]
        else:
            bucket = f"date_trunc('{window.lower()}', e.ts)"
            step = timedelta(hours=1) if window == "HOUR" else timedelta(days=1)
            starts, moment = [], self.period.start
            while moment < self.period.end:
                starts.append(moment)
                moment += step
        p = ""
        if metric.prop_names:
            p = ", [" + ", ".join(f"e.{self.columns[n]}" for n in metric.prop_names) + "] AS p"
        rows = self.db.execute(
            f"SELECT events.customer, events.w_start, {metric.value_sql()} FROM (SELECT "
            f"e.customer_id AS customer, {bucket} AS w_start, e.seq, e.ts, e.event_type{p} "
            f"FROM ev AS e WHERE e.ts >= {ts_lit(self.period.start)} AND e.ts < "
            f"{ts_lit(self.period.end)}) AS events WHERE {metric.where_sql()} "
            "GROUP BY events.customer, events.w_start"
        ).fetchall()
        found: dict[tuple[str, datetime], Decimal | None] = {}
        for customer, w_start, value in rows:
            window_start = _utc(w_start)
            assert window_start is not None
            found[(str(customer), window_start)] = as_decimal(value)
        empty = None if metric.empty == "NULL" else as_decimal(Decimal(metric.empty))
        return {(c, s): found.get((c, s), empty) for c in customers for s in starts}


def open_events(
    engine: str,
    path: str | Path,
    properties: Iterable[str],
    *,
    numeric: Iterable[str] = (),
    numbers_only: Iterable[str] = (),
    presence_only: Iterable[str] = (),
    progress: Callable[[str], None] = lambda _: None,
    start: datetime | None = None,
    end: datetime | None = None,
    memory_limit: str | None = None,
) -> Events:
    """The events for the impact on ``engine`` (``duckdb``, the default, or a backend);
    ``numbers_only`` (properties read only as numbers, kept without a text column) and
    ``presence_only`` (read only by exists tests, kept as a boolean) apply to DuckDB's own
    loader."""
    if engine == "duckdb":
        kwargs = {} if memory_limit is None else {"memory_limit": memory_limit}
        return Events(
            path,
            properties,
            numeric=numeric,
            numbers_only=numbers_only,
            presence_only=presence_only,
            progress=progress,
            start=start,
            end=end,
            **kwargs,
        )
    return EngineEvents(
        path, properties, engine=engine, numeric=numeric, progress=progress, start=start, end=end
    )
