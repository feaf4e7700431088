"""The server's batch parser (``parse_event_batch``) accepts exactly what the ``Event``
model accepts, with the same values, and refuses the rest with the same violations.

Its fast path checks the common batch with pydantic-core alone; the reference here is the
plain route: ``json.loads`` and ``parse_events``, one ``Event.model_validate`` per item."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pulumi_metronome.models import SpecError
from pulumi_metronome.models.event import (
    MAX_EVENTS_PER_BATCH,
    _fast_batch,
    event_fields,
    parse_event_batch,
    parse_events,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

texts = st.one_of(
    st.text(max_size=12),
    st.just(""),
    st.just("x" * 128),
    st.just("x" * 129),
    st.integers(),
    st.none(),
)
moments = st.datetimes(min_value=datetime(2026, 9, 1), max_value=datetime(2026, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)
timestamps = st.one_of(
    moments.map(lambda d: d.isoformat().replace("+00:00", "Z")),
    moments.map(lambda d: d.astimezone(UTC).isoformat()),
    moments.map(lambda d: d.isoformat(timespec="milliseconds").replace("+00:00", "+05:30")),
    moments.map(lambda d: d.replace(tzinfo=None).isoformat()),  # no offset
    moments.map(lambda d: d.strftime("%Y-%m-%d %H:%Mz")),
    moments.map(lambda d: d.strftime("%Y-%m-%d")),
    st.sampled_from(["", "yesterday", "2026-13-01T00:00:00Z", "0001-01-01T00:00:00+01:00"]),
    st.integers(min_value=0, max_value=2_000_000_000),
)
values = st.recursive(
    st.one_of(
        st.text(max_size=6),
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.booleans(),
        st.none(),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
properties = st.one_of(
    st.dictionaries(st.text(max_size=6), st.text(max_size=6), max_size=4),  # the common case
    st.dictionaries(st.text(max_size=6), values, max_size=4),
    st.none(),
    st.sampled_from([[], "tokens", 3]),
)


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    event: dict[str, Any] = {
        "transaction_id": draw(st.one_of(st.text(min_size=1, max_size=12), texts)),
        "customer_id": draw(st.one_of(st.text(min_size=1, max_size=8), texts)),
        "event_type": draw(st.one_of(st.sampled_from(["api", "completion"]), texts)),
        "timestamp": draw(timestamps),
    }
    if draw(st.booleans()):
        event["properties"] = draw(properties)
    for name in draw(st.sets(st.sampled_from([*event, "extra"]), max_size=1)):
        if name == "extra":
            event["extra"] = 1
        else:
            del event[name]
    return event


batches = st.one_of(
    st.lists(events(), min_size=1, max_size=4),
    st.just([]),
    st.builds(lambda e: [e] * (MAX_EVENTS_PER_BATCH + 1), events()),
)


def outcome(parse: Any) -> tuple[str, Any]:
    try:
        return "accepted", parse()
    except SpecError as error:
        return "refused", [(v.field, v.message) for v in error.violations]


def reference(raw: bytes) -> tuple[str, Any]:
    return outcome(lambda: [event_fields(e) for e in parse_events(json.loads(raw), now=NOW)])


def normalised(result: tuple[str, Any]) -> tuple[str, Any]:
    """Accepted events with ``properties`` spelled out (the fast path leaves an absent
    one absent) and NaN made comparable."""
    kind, value = result
    if kind != "accepted":
        return result
    return kind, [
        {**e, "properties": json.dumps(e.get("properties"), sort_keys=True)} for e in value
    ]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=batches)
def test_the_batch_parser_agrees_with_the_event_model(batch: list[dict[str, Any]]) -> None:
    raw = json.dumps(batch).encode()  # NaN and Infinity as JavaScript writes them
    expected = normalised(reference(raw))
    assert normalised(outcome(lambda: parse_event_batch(raw, now=NOW))) == expected
    fast = _fast_batch(raw, NOW, timedelta(days=34))
    if fast is not None:  # the fast path took it: the model must accept it, equally
        assert normalised(("accepted", fast)) == expected


def test_the_common_batch_takes_the_fast_path() -> None:
    batch = [
        {
            "transaction_id": f"t{i}",
            "customer_id": "acme",
            "event_type": "completion",
            "timestamp": "2026-11-25T10:15:00.250+01:00",
            "properties": {"tokens": "1200", "model": "atlas"},
        }
        for i in range(MAX_EVENTS_PER_BATCH)
    ]
    raw = json.dumps(batch).encode()
    fast = _fast_batch(raw, NOW, timedelta(days=34))
    assert fast is not None and len(fast) == MAX_EVENTS_PER_BATCH
    # 10:15:00.250 at +01:00 is 09:15:00.250 UTC, worked out by hand.
    assert fast[0]["timestamp"] == datetime(2026, 11, 25, 9, 15, 0, 250_000, tzinfo=UTC)
    assert fast[0]["properties"] == {"tokens": "1200", "model": "atlas"}


def test_numbers_take_the_fast_path_and_non_finite_ones_leave_it_for_the_model() -> None:
    good = {
        "transaction_id": "t1",
        "customer_id": "acme",
        "event_type": "api",
        "timestamp": "2026-11-25T10:00:00Z",
    }
    numbers = json.dumps([{**good, "properties": {"n": 3, "ok": True, "x": [1.5]}}]).encode()
    fast = _fast_batch(numbers, NOW, None)
    assert fast is not None and fast[0]["properties"] == {"n": 3, "ok": True, "x": [1.5]}
    nan = json.dumps([{**good, "properties": {"n": math.nan}}]).encode()
    huge = json.dumps([{**good, "properties": {"n": 1}}]).encode().replace(b'"n": 1', b'"n": 1e400')
    for body in (nan, huge):
        assert _fast_batch(body, NOW, None) is None
        kind, problems = outcome(lambda body=body: parse_event_batch(body, now=NOW))
        assert kind == "refused", body
        assert problems[0][0] == "events[0].properties"
        assert problems[0][1].startswith("numbers must be finite")
