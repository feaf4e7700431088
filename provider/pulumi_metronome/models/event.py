"""A usage event as ``POST /v1/ingest`` takes it, and the rules on a batch of them.

The server validates ingest bodies with ``parse_events``; the in-process evaluator reads
events from lists, JSON-lines or Parquet through the metering engine, which applies the same
field rules in bulk (see ``pulumi_metronome.metering``).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, NotRequired, cast

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StrictStr,
    TypeAdapter,
    ValidationError,
)
from typing_extensions import TypedDict

from .common import NonEmptyStr, SpecError, Violation, Wire, violations_from

TRANSACTION_ID_MAX_LENGTH = 128
MAX_EVENTS_PER_BATCH = 100
#: Metronome drops duplicates of a transaction id for this long, and refuses older events.
MAX_EVENT_AGE = timedelta(days=34)
#: Metronome refuses events stamped further ahead than this.
MAX_EVENT_LEAD = timedelta(hours=24)


def parse_timestamp(value: str) -> datetime:
    """An RFC 3339 timestamp with an offset (``Z`` or ``+hh:mm``), as an aware UTC datetime."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be an RFC 3339 timestamp, e.g. 2026-01-31T12:00:00Z") from None
    if moment.tzinfo is None:
        raise ValueError("must carry a UTC offset (Z or +hh:mm), e.g. 2026-01-31T12:00:00Z")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise ValueError("is out of range: in UTC it falls outside years 1 to 9999") from None


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def _finite_properties(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """NaN, Infinity and numbers beyond a double's range (1e400) parse, but are no JSON
    numbers: they could be neither computed with nor sent back.

    Called once per ingested event, so it is a plain function (a classmethod validator
    costs twice as much) that looks no further than the values when they are all strings,
    as they nearly always are."""
    if value is not None:
        for item in value.values():
            if type(item) is not str:
                if not _finite(value):
                    raise ValueError(
                        "numbers must be finite: NaN, Infinity and numbers beyond 1.8e308 "
                        "are refused"
                    )
                break
    return value


def _timestamp(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 timestamp string, e.g. 2026-01-31T12:00:00Z")
    return parse_timestamp(value)


class Event(Wire):
    """One usage event. ``timestamp`` is kept as the aware UTC datetime it denotes."""

    transaction_id: Annotated[NonEmptyStr, Field(max_length=TRANSACTION_ID_MAX_LENGTH)]
    customer_id: NonEmptyStr
    event_type: NonEmptyStr
    timestamp: Annotated[datetime, PlainValidator(_timestamp, json_schema_input_type=datetime)]
    properties: Annotated[dict[StrictStr, Any] | None, AfterValidator(_finite_properties)] = None


def parse_events(
    data: Any, *, now: datetime | None = None, max_age: timedelta | None = MAX_EVENT_AGE
) -> list[Event]:
    """Validate a whole ingest batch; raise ``SpecError`` naming ``events[i].field`` for every
    problem, so a bad batch is refused whole and nothing of it is stored.

    ``max_age=None`` lifts the age limit (replaying history); the 24 h lead always applies.
    """
    if not isinstance(data, list):
        raise SpecError([Violation("", "the body must be a JSON array of events")])
    if not 1 <= len(data) <= MAX_EVENTS_PER_BATCH:
        raise SpecError(
            [Violation("", f"a batch holds 1 to {MAX_EVENTS_PER_BATCH} events, not {len(data)}")]
        )
    now = now or datetime.now(UTC)
    events: list[Event] = []
    violations: list[Violation] = []
    for index, item in enumerate(data):
        try:
            event = Event.model_validate(item)
        except ValidationError as error:
            for v in violations_from(error.errors(include_url=False)):
                field = f"events[{index}].{v.field}" if v.field else f"events[{index}]"
                violations.append(Violation(field, v.message))
            continue
        if event.timestamp > now + MAX_EVENT_LEAD:
            violations.append(
                Violation(
                    f"events[{index}].timestamp",
                    "is more than 24 hours in the future",
                )
            )
        elif max_age is not None and event.timestamp < now - max_age:
            violations.append(
                Violation(
                    f"events[{index}].timestamp",
                    f"is more than {max_age.days} days in the past",
                )
            )
        events.append(event)
    if violations:
        raise SpecError(violations)
    return events


class EventFields(TypedDict):
    """A validated event as plain data: what ``parse_event_batch`` returns and what
    ``event_fields`` makes of an ``Event`` (the metering engine takes either)."""

    transaction_id: str
    customer_id: str
    event_type: str
    timestamp: datetime
    properties: NotRequired[dict[str, Any] | None]


def event_fields(event: Event) -> EventFields:
    return {
        "transaction_id": event.transaction_id,
        "customer_id": event.customer_id,
        "event_type": event.event_type,
        "timestamp": event.timestamp,
        "properties": event.properties,
    }


def _fast_batch_type() -> Any:
    """A batch of events as ``Event`` declares them, checked by pydantic-core alone: the
    model's own fields and constraints (taken from it, so no rule is written twice) without
    its two Python validators, which ``_fast_batch`` then calls in one loop (``_timestamp``
    parses the timestamp, ``_finite_properties`` checks the numbers of the properties)."""
    fields: dict[str, Any] = {
        name: Annotated[tuple([info.annotation, *info.metadata])]
        for name, info in Event.model_fields.items()
        if name not in ("timestamp", "properties")
    }
    fields["timestamp"] = Any
    fields["properties"] = NotRequired[Event.model_fields["properties"].annotation]
    make: Any = TypedDict  # the functional form, with fields computed at run time
    event: Any = make("FastEvent", fields)
    event.__pydantic_config__ = ConfigDict(extra=Event.model_config.get("extra"))
    batch: Any = Annotated[list[event], Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH)]
    return batch


_FAST_BATCH: TypeAdapter[list[dict[str, Any]]] = TypeAdapter(_fast_batch_type())


def _window(now: datetime, max_age: timedelta | None) -> tuple[datetime | None, datetime]:
    """The earliest (None: no age limit) and latest timestamps a batch may carry."""
    return (None if max_age is None else now - max_age), now + MAX_EVENT_LEAD


def _fast_batch(raw: bytes, now: datetime, max_age: timedelta | None) -> list[EventFields] | None:
    """The batch, if ``Event`` accepts every event of it and each is in the time range;
    else None (``parse_events`` then names every problem)."""
    try:
        items = _FAST_BATCH.validate_json(raw)
    except ValidationError:
        return None
    earliest, latest = _window(now, max_age)
    for item in items:
        try:  # Event's two validators
            moment = _timestamp(item["timestamp"])
            _finite_properties(item.get("properties"))
        except ValueError:
            return None
        if moment > latest or (earliest is not None and moment < earliest):
            return None
        item["timestamp"] = moment
    return cast(list[EventFields], items)


def parse_event_batch(
    raw: bytes, *, now: datetime | None = None, max_age: timedelta | None = MAX_EVENT_AGE
) -> list[EventFields]:
    """``parse_events`` of a raw JSON body (the server's ingest), as plain data, several
    times faster for a good batch.

    A good batch is parsed and checked by pydantic-core in one pass over the bytes (no
    ``json.loads``, no model instance), then ``Event``'s two validators run over it in one
    Python loop. Anything else, and any body with an escaped surrogate (which
    ``json.loads`` and pydantic's parser may treat differently), goes through ``json.loads``
    and ``parse_events``, which decide and name every problem; so no path accepts what
    ``Event`` refuses. Raises ``SpecError``, or ``ValueError`` / ``RecursionError`` when the
    body is not JSON.
    """
    now = now or datetime.now(UTC)
    if not raw.strip():  # no JSON at all: "the body must be a JSON array of events"
        return [event_fields(e) for e in parse_events(None, now=now, max_age=max_age)]
    if b"\\ud" not in raw and b"\\uD" not in raw:
        fast = _fast_batch(raw, now, max_age)
        if fast is not None:
            return fast
    data = json.loads(raw)
    # Lone surrogates ("\\ud800") decode but cannot be stored or sent back as UTF-8.
    json.dumps(data, ensure_ascii=False).encode("utf-8")
    return [event_fields(e) for e in parse_events(data, now=now, max_age=max_age)]
