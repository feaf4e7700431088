"""The metering engine's inputs and outputs: plain frozen dataclasses, no I/O.

The local server builds these from its stored customers and metrics and turns the results
into Metronome's wire shapes; the in-process evaluator builds them from declarations. The
engine never knows which of the two is asking.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

from ..models import BillableMetricSpec

WindowSize = Literal["HOUR", "DAY", "NONE"]


@dataclass(frozen=True)
class MeteredMetric:
    """A billable metric as the engine evaluates it.

    ``created_at`` / ``archived_at`` bound the *ingestion* times a streaming metric sees (not
    retroactive); ``None`` means unbounded on that side (the in-process evaluator's default).
    """

    id: str
    name: str
    spec: BillableMetricSpec
    created_at: datetime | None = None
    archived_at: datetime | None = None


@dataclass(frozen=True)
class CustomerRef:
    """A customer and every id an event may carry for it (its id, ingest aliases, external id)."""

    id: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class GroupBy:
    """``/v1/usage`` ``group_by``: split a metric's value by one group-key property."""

    key: str
    values: tuple[str, ...] | None = None


@dataclass(frozen=True)
class UsageQuery:
    """``/v1/usage``: one row per (customer, metric, window), empty windows included."""

    metrics: tuple[MeteredMetric, ...]
    customers: tuple[CustomerRef, ...]
    starting_on: datetime
    ending_before: datetime
    window_size: WindowSize
    group_by: dict[str, GroupBy] = field(default_factory=dict)  # metric id -> group_by


@dataclass(frozen=True)
class UsageRow:
    customer_id: str
    metric_id: str
    metric_name: str
    start: datetime
    end: datetime
    value: Decimal | None
    #: Only when the query asked for ``group_by`` on this metric: value -> number (None when
    #: nothing matched).
    groups: dict[str, Decimal | None] | None = None


@dataclass(frozen=True)
class GroupsQuery:
    """``/v1/usage/groups``: one row per window and group tuple that has matching events."""

    customer: CustomerRef
    metric: MeteredMetric
    window_size: WindowSize
    starting_on: datetime
    ending_before: datetime
    group_key: tuple[str, ...] | None = None
    group_filters: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class GroupRow:
    start: datetime
    end: datetime
    group: dict[str, str | None]
    value: Decimal | None


@dataclass(frozen=True)
class IngestResult:
    stored: int
    duplicates: int


@dataclass(frozen=True)
class StoredEvent:
    """An event as ``/v1/events/search`` reports it."""

    transaction_id: str
    customer_id: str
    event_type: str
    timestamp: datetime
    properties: dict[str, object]
    processed_at: datetime
    is_duplicate: bool
    matched_metric_ids: tuple[str, ...]
