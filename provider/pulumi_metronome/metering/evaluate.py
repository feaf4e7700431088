"""Evaluate billable metrics over events in-process: no server, no network.

``evaluate`` loads the events into an in-memory ``MeteringEngine`` (the same engine and
queries the local server uses) and returns its usage rows, so a unit test can pin down what
a pricing declaration will count before it bills::

    rows = evaluate(
        {"api_calls": {"name": "API calls", "aggregation_type": "COUNT"}},
        [{"transaction_id": "t1", "customer_id": "acme", "event_type": "call",
          "timestamp": "2026-01-01T10:00:00Z"}],
        starting_on="2026-01-01T00:00:00Z", ending_before="2026-01-02T00:00:00Z",
    )

Events come as a list of dicts (the ``/v1/ingest`` shape), a JSON-lines file or a Parquet
file, read by DuckDB and checked with the ingest rules (``models.event``) in SQL over the
whole relation (``load``); the first problems are reported at once, naming the event's
index (the line, for files) and field. There is no age limit here (replaying history is
the point).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..models import BillableMetricSpec, SpecError, Violation, parse_metric_spec
from ..models.event import parse_timestamp
from .engine import MeteringEngine, check_range
from .engine import window_size as engine_window_size
from .load import properties_read
from .types import CustomerRef, GroupBy, MeteredMetric, UsageQuery, UsageRow

MetricInput = BillableMetricSpec | Mapping[str, Any]
MetricsInput = MetricInput | Sequence[MetricInput] | Mapping[str, MetricInput]
EventsInput = Sequence[Mapping[str, Any]] | str | Path
CustomersInput = Mapping[str, Sequence[str]] | Sequence[str | CustomerRef]


def metered_metrics(metrics: MetricsInput) -> tuple[MeteredMetric, ...]:
    """Metric declarations as the engine's metrics; the id is the mapping key or the name."""
    if isinstance(metrics, BillableMetricSpec):
        named: list[tuple[str | None, MetricInput]] = [(None, metrics)]
    elif isinstance(metrics, Mapping):
        if metrics and all(isinstance(v, Mapping | BillableMetricSpec) for v in metrics.values()):
            named = [(str(k), v) for k, v in metrics.items()]
        else:
            named = [(None, metrics)]
    else:
        named = [(None, m) for m in metrics]
    out: list[MeteredMetric] = []
    problems: list[Violation] = []
    for index, (key, item) in enumerate(named):
        where = f"metrics[{key!r}]" if key is not None else f"metrics[{index}]"
        try:
            spec = item if isinstance(item, BillableMetricSpec) else parse_metric_spec(dict(item))
        except SpecError as error:
            problems += [
                Violation(f"{where}.{v.field}".rstrip("."), v.message) for v in error.violations
            ]
            continue
        out.append(
            MeteredMetric(id=key if key is not None else spec.name, name=spec.name, spec=spec)
        )
    ids = [m.id for m in out]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(Violation("metrics", f"two metrics are named {dup!r}; give each a name"))
    if problems:
        raise SpecError(problems)
    return tuple(out)


def _moment(value: datetime | str, field: str) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise SpecError([Violation(field, "must carry a UTC offset")])
        return value.astimezone(UTC)
    try:
        return parse_timestamp(value)
    except ValueError as error:
        raise SpecError([Violation(field, str(error))]) from None


def load_events(
    engine: MeteringEngine, events: EventsInput, *, properties: Sequence[str] | None = None
) -> int:
    """Check, dedupe and store events in bulk (``load``); raise ``SpecError`` naming
    ``events[i].field``. ``properties``: the only property texts queries will read."""
    return engine.load(events, ingested_at=datetime.now(UTC), properties=properties).stored


def _customers(engine: MeteringEngine, customers: CustomersInput | None) -> tuple[CustomerRef, ...]:
    if customers is None:
        ids = engine.customer_ids()
        return tuple(CustomerRef(i) for i in ids)
    if isinstance(customers, Mapping):
        return tuple(CustomerRef(str(k), tuple(v)) for k, v in sorted(customers.items()))
    return tuple(c if isinstance(c, CustomerRef) else CustomerRef(c) for c in customers)


def evaluate(
    metrics: MetricsInput,
    events: EventsInput,
    *,
    starting_on: datetime | str,
    ending_before: datetime | str,
    window_size: str = "DAY",
    customers: CustomersInput | None = None,
    group_by: Mapping[str, str | GroupBy] | None = None,
) -> list[UsageRow]:
    """Usage of ``metrics`` over ``events``: one row per customer, metric and window.

    ``metrics``: a ``BillableMetricSpec``, a dict of ``BillableMetric`` arguments, a list
    of those, or a mapping of id -> those (the id names the metric in the rows; else its
    name). ``customers``: ids, or a mapping id -> ingest aliases; default: every
    ``customer_id`` the events carry. ``group_by``: metric id -> group key property (or a
    ``GroupBy`` with values), filling each row's ``groups``. Rows come ordered by customer,
    metric id and window start, empty windows included, as ``/v1/usage`` returns them.
    """
    start = _moment(starting_on, "starting_on")
    end = _moment(ending_before, "ending_before")
    check_range(start, end)
    window = engine_window_size(window_size)
    resolved = metered_metrics(metrics)
    engine = MeteringEngine(None)
    try:
        load_events(engine, events, properties=properties_read(m.spec for m in resolved))
        query = UsageQuery(
            metrics=resolved,
            customers=_customers(engine, customers),
            starting_on=start,
            ending_before=end,
            window_size=window,
            group_by={
                k: v if isinstance(v, GroupBy) else GroupBy(v) for k, v in (group_by or {}).items()
            },
        )
        return engine.usage(query)
    finally:
        engine.close()
