"""A usage event as ``POST /v1/ingest`` takes it, and the rules on a batch of them.

The server validates ingest bodies with ``parse_events``; the in-process evaluator reads
events from lists, JSON-lines or Parquet through the metering engine, which applies the same
field rules in bulk (see ``pulumi_metronome.metering``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import Field, StrictStr, ValidationError, field_validator

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


class Event(Wire):
    """One usage event. ``timestamp`` is kept as the aware UTC datetime it denotes."""

    transaction_id: Annotated[NonEmptyStr, Field(max_length=TRANSACTION_ID_MAX_LENGTH)]
    customer_id: NonEmptyStr
    event_type: NonEmptyStr
    timestamp: datetime
    properties: dict[StrictStr, Any] | None = None

    @field_validator("timestamp", mode="before")
    @classmethod
    def _rfc3339(cls, value: Any) -> datetime:
        if not isinstance(value, str):
            raise ValueError("must be an RFC 3339 timestamp string, e.g. 2026-01-31T12:00:00Z")
        return parse_timestamp(value)


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
