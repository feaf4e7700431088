"""Builders for the in-process metering tests: events, metrics, and a harness around a real
``MeteringEngine``.

Times: every test works on January 2026; ``T0`` is its first midnight. Ingestion times are
given explicitly, so the not-retroactive rule can be pinned down.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pulumi_metronome.metering import (
    CustomerRef,
    GroupBy,
    MeteredMetric,
    MeteringEngine,
    UsageQuery,
    UsageRow,
)
from pulumi_metronome.models import parse_metric_spec
from pulumi_metronome.models.event import Event

T0 = datetime(2026, 1, 1, tzinfo=UTC)
#: When test events are ingested unless told otherwise (after every metric's creation).
INGESTED = datetime(2026, 2, 1, tzinfo=UTC)


def at(hours: float = 0, days: int = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours)


def event(
    tid: str,
    *,
    customer: str = "c1",
    type: str = "api",
    ts: datetime | None = None,
    **properties: Any,
) -> Event:
    """An event; ``properties`` as keyword arguments (``None`` stays a JSON null)."""
    return Event.model_validate(
        {
            "transaction_id": tid,
            "customer_id": customer,
            "event_type": type,
            "timestamp": (ts or at(1)).isoformat(),
            "properties": properties or None,
        }
    )


def metric(
    metric_id: str = "m",
    *,
    created_at: datetime | None = None,
    archived_at: datetime | None = None,
    **fields: Any,
) -> MeteredMetric:
    spec = parse_metric_spec({"name": metric_id, **fields})
    return MeteredMetric(metric_id, metric_id, spec, created_at, archived_at)


def keyed(kind: str, key: str = "n", **fields: Any) -> dict[str, Any]:
    """Fields of a metric aggregating property ``key`` (which must exist)."""
    filters = [{"name": key, "exists": True}, *fields.pop("property_filters", [])]
    return {"aggregation_type": kind, "aggregation_key": key, "property_filters": filters, **fields}


class Harness:
    """An engine with shortcuts; ``usage`` returns ``{(customer, metric, start): value}``."""

    def __init__(self, engine: MeteringEngine) -> None:
        self.engine = engine

    def ingest(self, *events: Event, at: datetime = INGESTED) -> tuple[int, int]:
        result = self.engine.ingest(list(events), ingested_at=at)
        return result.stored, result.duplicates

    def rows(
        self,
        metrics: Sequence[MeteredMetric],
        customers: Sequence[CustomerRef | str] = ("c1",),
        *,
        window: str = "NONE",
        start: datetime = T0,
        end: datetime | None = None,
        group_by: dict[str, GroupBy] | None = None,
    ) -> list[UsageRow]:
        query = UsageQuery(
            metrics=tuple(metrics),
            customers=tuple(c if isinstance(c, CustomerRef) else CustomerRef(c) for c in customers),
            starting_on=start,
            ending_before=end or start + timedelta(days=1),
            window_size=window,  # type: ignore[arg-type]
            group_by=group_by or {},
        )
        return self.engine.usage(query)

    def value(self, m: MeteredMetric, customer: CustomerRef | str = "c1", **kw: Any) -> Any:
        """The single value of a one-window query (NONE over one day by default)."""
        rows = self.rows([m], [customer], **kw)
        assert len(rows) == 1, rows
        return rows[0].value


def D(text: str) -> Decimal:
    return Decimal(text)
