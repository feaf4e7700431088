"""The engine against a deliberately naive reference evaluator, on random metrics and random
event streams (hypothesis).

The reference below is plain Python over the list of events, written from
``metering-semantics.md`` without looking at the engine: it loops over every window and every
event, and does its arithmetic with ``Decimal``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pulumi_metronome.metering import (
    CustomerRef,
    GroupBy,
    GroupsQuery,
    MeteredMetric,
    MeteringEngine,
    UsageQuery,
)
from pulumi_metronome.models import parse_metric_spec
from pulumi_metronome.models.event import Event

START = datetime(2026, 1, 1, tzinfo=UTC)
END = START + timedelta(days=2)
FIRST_INGEST = datetime(2026, 2, 1, tzinfo=UTC)
CUSTOMERS = (CustomerRef("c1", ("alias-1",)), CustomerRef("c2"))
ABSENT = object()

NUMBERS: list[Any] = ["7", "-3", "2.50", "0.1", "1e2", 5, 2.5, 0.1, -4, 5.0]
NOT_NUMBERS: list[Any] = ["x", "NaN", "1_0", " 5", True, None, ABSENT]
REGIONS: list[Any] = ["us", "eu", 5, 5.0, "5", True, None, ABSENT]
KINDS = ["a", "b"]


# -- the naive reference ------------------------------------------------------------------


def text(value: Any) -> str | None:
    """A property's text, from the semantics file's words."""
    if value is None or value is ABSENT:
        return None
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int):
        return str(value)
    return str(value)


def number(value: Any) -> Decimal | None:
    t = text(value)
    if t is None or t == "" or any(c not in "0123456789.+-eE" for c in t):
        return None
    try:
        d = Decimal(t)
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


@dataclass
class Sent:
    tid: str
    customer: str
    kind: str
    ts: datetime
    props: dict[str, Any]
    ingested: datetime
    seq: int


def passes(f: dict[str, Any], value: Any) -> bool:
    t = text(value)
    if f.get("exists") is True and t is None:
        return False
    if f.get("exists") is False and t is not None:
        return False
    if "in_values" in f and t not in f["in_values"]:
        return False
    return not ("not_in_values" in f and t is not None and t in f["not_in_values"])


def matches(fields: dict[str, Any], m: MeteredMetric, e: Sent) -> bool:
    etf = fields.get("event_type_filter", {})
    if "in_values" in etf and e.kind not in etf["in_values"]:
        return False
    if "not_in_values" in etf and e.kind in etf["not_in_values"]:
        return False
    for f in fields.get("property_filters", []):
        if not passes(f, e.props.get(f["name"], ABSENT)):
            return False
    if m.created_at is not None and e.ingested < m.created_at:
        return False
    return not (m.archived_at is not None and e.ingested >= m.archived_at)


def aggregate(kind: str, events: list[Sent]) -> Decimal | None:
    values = [e.props.get("n", ABSENT) for e in events]
    if kind == "COUNT":
        return Decimal(len(events))
    if kind == "SUM":
        total = Decimal(0)
        for v in values:
            if number(v) is not None:
                total += number(v)  # type: ignore[operator]
        return total
    if kind == "MAX":
        found = [number(v) for v in values if number(v) is not None]
        return max(found) if found else None  # type: ignore[type-var]
    if kind == "LATEST":
        best: Sent | None = None
        for e in events:
            if number(e.props.get("n", ABSENT)) is None:
                continue
            if best is None or (e.ts, e.seq) > (best.ts, best.seq):
                best = e
        return None if best is None else number(best.props["n"])
    if kind == "UNIQUE":
        return Decimal(len({text(v) for v in values if text(v) is not None}))
    raise AssertionError(kind)


def windows(size: str) -> list[tuple[datetime, datetime]]:
    if size == "NONE":
        return [(START, END)]
    step = timedelta(hours=1) if size == "HOUR" else timedelta(days=1)
    out, at = [], START
    while at < END:
        out.append((at, at + step))
        at += step
    return out


def stored(sent: list[Sent]) -> list[Sent]:
    seen: set[str] = set()
    out = []
    for e in sent:
        if e.tid not in seen:
            seen.add(e.tid)
            out.append(e)
    return out


def owner(e: Sent) -> str | None:
    for c in CUSTOMERS:
        if e.customer == c.id or e.customer in c.aliases:
            return c.id
    return None


# -- random input -------------------------------------------------------------------------


@st.composite
def property_filter(draw: st.DrawFn, name: str, pool: list[Any], grouped: bool) -> dict[str, Any]:
    texts = sorted({t for t in map(text, pool) if t is not None})
    forms = ["exists", "in"] if grouped else ["none", "exists", "absent", "in", "not_in", "not_in"]
    form = draw(st.sampled_from(forms))
    listed = draw(st.lists(st.sampled_from(texts), min_size=1, max_size=3, unique=True))
    return {
        "none": {"name": name},
        "exists": {"name": name, "exists": True},
        "absent": {"name": name, "exists": False},
        "in": {"name": name, "in_values": listed},
        "not_in": {"name": name, "not_in_values": listed},
    }[form]


@st.composite
def metric_fields(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["COUNT", "SUM", "MAX", "LATEST", "UNIQUE"]))
    grouped = draw(st.booleans())
    fields: dict[str, Any] = {"name": "m", "aggregation_type": kind}
    filters = []
    if kind != "COUNT":
        fields["aggregation_key"] = "n"
        filters.append(draw(property_filter("n", NUMBERS + NOT_NUMBERS, False)))
    filters.append(draw(property_filter("r", REGIONS, grouped)))
    if grouped:
        filters.append({"name": "k", "exists": True})
        fields["group_keys"] = [["r"], ["r", "k"]]
    fields["property_filters"] = filters
    etf = draw(st.sampled_from([None, "in", "not_in"]))
    if etf is not None:
        fields["event_type_filter"] = {f"{etf}_values": [draw(st.sampled_from(KINDS))]}
    return fields


@st.composite
def streams(draw: st.DrawFn) -> list[list[dict[str, Any]]]:
    """Batches of raw events; transaction ids from a small pool, so duplicates happen."""
    batches = []
    for _ in range(draw(st.integers(1, 4))):
        batch = []
        for _ in range(draw(st.integers(1, 15))):
            props: dict[str, Any] = {}
            for name, pool in (("n", NUMBERS + NOT_NUMBERS), ("r", REGIONS), ("k", ["x", "y"])):
                value = draw(st.sampled_from(pool))
                if value is not ABSENT:
                    props[name] = value
            # Two-hour steps: ties on timestamp, events at midnight and at the range's end.
            minutes = draw(st.integers(-1, 24)) * 120 + draw(st.sampled_from([0, 0, 0, 59]))
            raw = {
                "transaction_id": f"t{draw(st.integers(0, 25))}",
                "customer_id": draw(st.sampled_from(["c1", "alias-1", "c2", "stranger"])),
                "event_type": draw(st.sampled_from(KINDS)),
                "timestamp": (START + timedelta(minutes=minutes)).isoformat(),
                "properties": props,
            }
            if batch and draw(st.booleans()):
                # Same customer and instant as the previous event: LATEST ties.
                raw |= {k: batch[-1][k] for k in ("customer_id", "event_type", "timestamp")}
            batch.append(raw)
        batches.append(batch)
    return batches


# -- the comparison -----------------------------------------------------------------------


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    fields=metric_fields(),
    batches=streams(),
    size=st.sampled_from(["HOUR", "DAY", "NONE"]),
    bounds=st.one_of(st.just((0, 0)), st.tuples(st.integers(0, 4), st.integers(0, 5))),
    listed=st.one_of(
        st.none(),
        st.lists(st.sampled_from(["us", "eu", "5", "zz"]), min_size=1, max_size=3, unique=True),
    ),
    compound=st.booleans(),
)
def test_engine_agrees_with_the_naive_reference(
    fields: dict[str, Any],
    batches: list[list[dict[str, Any]]],
    size: str,
    bounds: tuple[int, int],
    listed: list[str] | None,
    compound: bool,
) -> None:
    ingest_times = [FIRST_INGEST + timedelta(minutes=i) for i in range(len(batches))]
    created = FIRST_INGEST + timedelta(minutes=bounds[0]) if bounds[0] else None
    archived = created + timedelta(minutes=bounds[1]) if created and bounds[1] else None
    m = MeteredMetric("m", "m", parse_metric_spec(fields), created, archived)

    sent: list[Sent] = []
    engine = MeteringEngine(None)
    try:
        for batch, when in zip(batches, ingest_times, strict=True):
            events = [Event.model_validate(e) for e in batch]
            engine.ingest(events, ingested_at=when)
            for raw in batch:
                sent.append(
                    Sent(
                        raw["transaction_id"],
                        raw["customer_id"],
                        raw["event_type"],
                        datetime.fromisoformat(raw["timestamp"]),
                        raw["properties"],
                        when,
                        len(sent),
                    )
                )
        grouped = "group_keys" in fields
        group_by = {"m": GroupBy("r", tuple(listed) if listed else None)} if grouped else {}
        rows = engine.usage(UsageQuery((m,), CUSTOMERS, START, END, size, group_by))  # type: ignore[arg-type]
        key: tuple[str, ...] = ("k", "r") if compound else ("r",)
        group_rows = (
            engine.usage_groups(GroupsQuery(CUSTOMERS[0], m, size, START, END, key))  # type: ignore[arg-type]
            if grouped
            else []
        )
    finally:
        engine.close()

    kept = [e for e in stored(sent) if matches(fields, m, e)]
    kind = fields["aggregation_type"]
    expected = []
    for c in CUSTOMERS:
        mine = [e for e in kept if owner(e) == c.id and START <= e.ts < END]
        seen = sorted({text(e.props.get("r", ABSENT)) for e in mine} - {None})  # type: ignore[type-var]
        names = listed if listed else seen[:200]
        for lo, hi in windows(size):
            inside = [e for e in mine if lo <= e.ts < hi]
            value = aggregate(kind, inside)
            if kind in ("COUNT", "SUM", "UNIQUE") and value is None:
                value = Decimal(0)
            groups = None
            if grouped:
                groups = {}
                for name in names:
                    part = [e for e in inside if text(e.props.get("r", ABSENT)) == name]
                    groups[name] = aggregate(kind, part) if part else None
            expected.append((c.id, lo, hi, value, groups))
    got = [(r.customer_id, r.start, r.end, r.value, r.groups) for r in rows]
    assert got == expected

    if grouped:
        mine = [e for e in kept if owner(e) == "c1" and START <= e.ts < END]
        expected_groups = []
        for lo, hi in windows(size):
            inside = [e for e in mine if lo <= e.ts < hi]
            tuples = sorted({tuple(text(e.props[k]) for k in key) for e in inside})  # type: ignore[type-var]
            for values in tuples:
                part = [e for e in inside if tuple(text(e.props[k]) for k in key) == values]
                expected_groups.append(
                    (lo, hi, dict(zip(key, values, strict=True)), aggregate(kind, part))
                )
        assert [(g.start, g.end, g.group, g.value) for g in group_rows] == expected_groups
