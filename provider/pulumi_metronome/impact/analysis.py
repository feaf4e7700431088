"""The comparison itself: usage and charges of the pricing now and the pricing proposed,
over the same events. ``report`` turns the result into Markdown and JSON."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from ..metering.load import NUMERIC_AGGREGATIONS, presence_only, properties_read
from ..models import BillableMetricSpec
from . import charges as ch
from .engines import open_events
from .inputs import Pricing, Product, Resolution, Unknown
from .usage import Period, aggregate_sql, metric_key, unbilled_sql

NOW, PROPOSED = "now", "proposed"


@dataclass(frozen=True)
class MetricImpact:
    urn: str
    status: str  # unchanged, changed, added, removed
    sql: bool  # a SQL metric (evaluated by the engine's SQL module; its charges are not)
    evaluable: dict[str, bool]
    usage: dict[str, Decimal | None]  # side -> total over customers (None: not evaluated)
    billed: dict[str, bool]  # side -> some USAGE product prices it
    daily: dict[str, list[Decimal | None]]


@dataclass(frozen=True)
class ProductImpact:
    urn: str
    status: str
    type: str | None  # the product type (proposed, else now); None when unknown
    metric: dict[str, str | None]  # side -> metric URN
    usage: dict[str, Decimal | None]


@dataclass
class Impact:
    period: Period
    events_read: int
    events_used: int
    customers: list[str]
    days: list[datetime]
    metrics: list[MetricImpact]
    products: list[ProductImpact]
    charges: dict[str, ch.Charges]
    units: dict[str, str]
    unbilled: dict[str, int | None]
    unknowns: list[Unknown]
    resolutions: list[Resolution]
    external: list[Unknown]
    mapping_used: bool
    cards: dict[str, list[str]] = field(default_factory=dict)  # card URN -> side names
    as_of: ch.AsOf = ch.DURING  # which rates price the period (charges.py)
    #: side -> events no known metric reads that a metric of unknown definition might read
    #: (not in ``unbilled``, which counts the events no metric reads for certain).
    unbilled_unknown: dict[str, int] = field(default_factory=dict)


def _status(now: object | None, proposed: object | None) -> str:
    if now is None:
        return "added"
    if proposed is None:
        return "removed"
    return "unchanged" if now == proposed else "changed"


def _metric_spec_of(pricing: Pricing, urn: str) -> BillableMetricSpec | None:
    metric = pricing.metrics.get(urn)
    return None if metric is None else metric.spec


def analyse(
    now: Pricing,
    proposed: Pricing,
    events_path: str | Path,
    *,
    mapping: Mapping[str, str] | None = None,
    progress: Callable[[str], None] = lambda _: None,
    memory_limit: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    as_of: datetime | None = None,
    engine: str = "duckdb",
) -> Impact:
    """``as_of``: price the period at the rates in effect at this instant (default: the
    first date a proposed rate change takes effect after the period, if any)."""
    sides = {NOW: now, PROPOSED: proposed}
    specs: dict[str, BillableMetricSpec] = {}
    sql_specs: dict[str, BillableMetricSpec] = {}  # SQL metrics: by the engine's SQL module
    for pricing in sides.values():
        for metric in pricing.metrics.values():
            if metric.spec is not None:
                chosen = specs if metric.spec.sql is None else sql_specs
                chosen.setdefault(metric_key(metric.spec), metric.spec)
    names: list[str] = properties_read([*specs.values(), *sql_specs.values()])
    as_text = properties_read([*specs.values(), *sql_specs.values()], as_text=True)
    pricing_keys: set[str] = set()
    for pricing in sides.values():
        for product in pricing.products.values():
            if product.spec is not None:
                names.extend(product.spec.pricing_group_key or [])
                as_text.extend(product.spec.pricing_group_key or [])
                pricing_keys.update(product.spec.pricing_group_key or [])
    numeric = [
        s.aggregation_key
        for s in specs.values()
        if s.aggregation_key and s.aggregation_type in NUMERIC_AGGREGATIONS
    ]
    with open_events(
        engine,
        events_path,
        names,
        numeric=numeric,
        numbers_only=[n for n in numeric if n not in as_text],
        # (A pricing group key is read as text.)
        presence_only=[
            n
            for n in presence_only([*specs.values(), *sql_specs.values()])
            if n not in pricing_keys
        ],
        progress=progress,
        start=start,
        end=end,
        memory_limit=memory_limit,
    ) as events:
        period = events.period
        priced_as_of = ch.choose_as_of(now, proposed, period, as_of)
        columns = {key: f"m{i}" for i, key in enumerate(specs)}
        unbilled_cols: list[tuple[str, str]] = []
        for side, pricing in sides.items():
            counts = unbilled_sql(pricing.metrics.values(), events.layout)
            unbilled_cols += [
                (f"unbilled_{side}", counts.certain),
                (f"unknown_{side}", counts.unknown),
            ]
        # Quantities for charges: per metric, segment and pricing group key.
        quantities: dict[ch.Need, dict[tuple[str | None, ...], Decimal | None]] = {}
        wanted: dict[tuple[datetime, datetime, tuple[str, ...]], set[str]] = {}
        for pricing in sides.values():
            for key, seg_start, seg_end, group in ch.needs(pricing, period, priced_as_of):
                wanted.setdefault((seg_start, seg_end, group), set()).add(key)
        whole = (period.start, period.end, ())
        wanted.setdefault(whole, set()).update(specs)
        # Daily series only where a resource's definition differs between the two sides
        # (an unchanged definition has the same series on both: nothing to chart).
        charted: set[str] = set()
        for urn in set(now.metrics) | set(proposed.metrics):
            keys_by_side = {
                metric_key(m.spec)
                for m in (now.metrics.get(urn), proposed.metrics.get(urn))
                if m is not None and m.spec is not None
            }
            differs = len(keys_by_side) > 1 or (urn in now.metrics) != (urn in proposed.metrics)
            if differs:
                charted |= keys_by_side
        daily: dict[datetime, dict[str, Decimal | None]] = {}
        streaming_charted = [k for k in charted if k in specs]
        if streaming_charted:
            progress(f"evaluating {len(streaming_charted)} changed metric definition(s) by day")
            daily = events.daily(
                [(columns[k], aggregate_sql(specs[k], events.layout)) for k in streaming_charted]
            )
        customers = events.customers()
        sql_totals: dict[str, dict[tuple[str | None, ...], Decimal | None]] = {}
        sql_daily: dict[str, dict[datetime, Decimal]] = {}
        for k, spec in sql_specs.items():
            assert spec.sql is not None
            progress(f"evaluating SQL metric {spec.name!r}")
            whole_values = events.sql_values(spec.sql, "NONE")
            sql_totals[k] = {(c,): v for (c, _), v in whole_values.items()}
            if k in charted:
                by_day: dict[datetime, Decimal] = {}
                for (_, day), v in events.sql_values(spec.sql, "DAY").items():
                    by_day[day] = by_day.get(day, Decimal(0)) + (v or Decimal(0))
                sql_daily[k] = by_day
        days = period.days
        unbilled: dict[str, Decimal] = {}
        for (seg_start, seg_end, group), keys in sorted(
            wanted.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])
        ):
            progress(
                f"evaluating {len(keys)} metric(s) by customer from {seg_start:%Y-%m-%d %H:%M} "
                f"to {seg_end:%Y-%m-%d %H:%M}" + (f" by {', '.join(group)}" if group else "")
            )
            asked = [(columns[k], aggregate_sql(specs[k], events.layout)) for k in sorted(keys)]
            if (seg_start, seg_end, group) == whole:
                asked += unbilled_cols
            found = events.totals(asked, by=("customer", *group), start=seg_start, end=seg_end)
            for k in keys:
                quantities[(k, seg_start, seg_end, group)] = {
                    g: v[columns[k]] for g, v in found.items()
                }
            if (seg_start, seg_end, group) == whole:
                for name, _ in unbilled_cols:
                    unbilled[name] = sum(
                        (v[name] or Decimal(0) for v in found.values()), Decimal(0)
                    )
    progress("pricing")
    cards_now = ch.customers_by_card(now, customers, mapping)
    cards_proposed = ch.customers_by_card(proposed, customers, mapping)
    priced = {
        NOW: ch.price(now, period, cards_now, quantities, priced_as_of),
        PROPOSED: ch.price(proposed, period, cards_proposed, quantities, priced_as_of),
    }
    totals = {k: quantities[(k, *whole)] for k in specs}

    def total(spec: BillableMetricSpec | None) -> Decimal | None:
        if spec is None:
            return None
        values = (sql_totals if spec.sql is not None else totals)[metric_key(spec)]
        return sum((v for v in values.values() if v is not None), Decimal(0))

    def series(spec: BillableMetricSpec | None) -> list[Decimal | None]:
        if spec is None:
            return [None] * len(days)
        if metric_key(spec) not in charted:
            return []  # unchanged: not charted
        if spec.sql is not None:
            found = sql_daily[metric_key(spec)]
            return [found.get(d, Decimal(0)) for d in days]
        col = columns[metric_key(spec)]
        return [(daily.get(d) or {}).get(col) or Decimal(0) for d in days]

    def billed(pricing: Pricing, urn: str) -> bool:
        return any(
            p.spec is not None and p.spec.type == "USAGE" and p.metric_urn == urn
            for p in pricing.products.values()
        )

    metrics = []
    for urn in sorted(set(now.metrics) | set(proposed.metrics)):
        a, b = _metric_spec_of(now, urn), _metric_spec_of(proposed, urn)
        ka = None if a is None else metric_key(a)
        kb = None if b is None else metric_key(b)
        in_now, in_proposed = urn in now.metrics, urn in proposed.metrics
        status = _status(ka if in_now else None, kb if in_proposed else None)
        if in_now and in_proposed and (a is None or b is None):
            status = "unknown"
        if status == "unchanged" and a is not None and b is not None and a.name != b.name:
            status = "renamed"
        metrics.append(
            MetricImpact(
                urn=urn,
                status=status,
                sql=bool((a and a.sql) or (b and b.sql)),
                evaluable={NOW: a is not None, PROPOSED: b is not None},
                usage={
                    NOW: total(a) if in_now else None,
                    PROPOSED: total(b) if in_proposed else None,
                },
                billed={NOW: billed(now, urn), PROPOSED: billed(proposed, urn)},
                daily={
                    NOW: series(a) if in_now else [],
                    PROPOSED: series(b) if in_proposed else [],
                },
            )
        )
    products = []
    for urn in sorted(set(now.products) | set(proposed.products)):
        pa, pb = now.products.get(urn), proposed.products.get(urn)
        products.append(
            ProductImpact(
                urn=urn,
                status=_status(_product_state(pa), _product_state(pb)),
                type=next((p.spec.type for p in (pb, pa) if p is not None and p.spec), None),
                metric={
                    NOW: pa.metric_urn if pa else None,
                    PROPOSED: pb.metric_urn if pb else None,
                },
                usage={
                    NOW: _product_usage(now, pa, totals),
                    PROPOSED: _product_usage(proposed, pb, totals),
                },
            )
        )

    def unbilled_total(side: str, kind: str = "unbilled") -> int:
        return int(unbilled.get(f"{kind}_{side}", Decimal(0)))

    return Impact(
        period=period,
        events_read=events.read_count,
        events_used=events.count,
        customers=customers,
        days=days,
        metrics=metrics,
        products=products,
        charges=priced,
        units={**priced[NOW].units, **priced[PROPOSED].units},
        unbilled={NOW: unbilled_total(NOW), PROPOSED: unbilled_total(PROPOSED)},
        unbilled_unknown={
            NOW: unbilled_total(NOW, "unknown"),
            PROPOSED: unbilled_total(PROPOSED, "unknown"),
        },
        unknowns=proposed.unknowns + now.unknowns,
        resolutions=proposed.resolutions,
        external=proposed.external + now.external,
        mapping_used=mapping is not None,
        as_of=priced_as_of,
    )


def _product_state(product: Product | None) -> object | None:
    if product is None:
        return None
    spec = product.spec
    return (
        None if spec is None else spec.model_dump_json(exclude={"billable_metric_id"}),
        product.metric_urn,
    )


def _product_usage(
    pricing: Pricing,
    product: Product | None,
    totals: Mapping[str, Mapping[tuple[str | None, ...], Decimal | None]],
) -> Decimal | None:
    spec = ch.usage_metric(pricing, product)
    if product is None or spec is None:
        return None
    values = totals.get(metric_key(spec), {})
    convert = ch.converter(product)
    return sum((convert(v) for v in values.values() if v is not None), Decimal(0))
