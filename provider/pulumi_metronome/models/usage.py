"""Usage queries as Metronome takes them (``/v1/usage``, ``/v1/usage/groups``,
``/v1/events/search``) and the rows they answer, shaped like the official SDK's
``usage_*`` types.

Requests are strict (``Wire``): unknown fields are an error. The rules that involve only the
request itself (UTC midnights, a window of at least a day, a group key listed once) are
checked here; the rules that need the metric (``group_by`` is one of its group-key
properties, ``group_key`` is one of its keys) are ``group_by_violations`` and
``group_key_violations``, given the metric's ``group_keys``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    RootModel,
    StrictBool,
    StrictStr,
    field_validator,
)

from .common import LITERAL_HINTS, NonEmptyStr, Returned, SpecError, Violation, Wire, parse_model
from .event import parse_timestamp

WindowSize = Literal["HOUR", "DAY", "NONE"]
WINDOW_LENGTHS: dict[str, timedelta | None] = {
    "HOUR": timedelta(hours=1),
    "DAY": timedelta(days=1),
    "NONE": None,
}
LITERAL_HINTS["window_size"] = " (any case)"
#: ``group_by.values`` / ``group_filters``: at most this many values (official SDK docs).
MAX_GROUP_VALUES = 200
#: ``/v1/events/search``: transaction ids per request (*decision*; Metronome documents none).
MAX_SEARCH_IDS = 100
#: The shortest period a usage query covers (official SDK docs).
MIN_PERIOD = timedelta(days=1)
#: Windows per query at most (*decision*; Metronome documents none): 10,000 hours is
#: over a year of HOUR windows, 10,000 days over 27 years of DAY windows.
MAX_WINDOWS = 10_000


def parse_midnight(value: Any) -> datetime:
    """An RFC 3339 timestamp that is a UTC midnight (``2024-01-01T00:00:00Z``)."""
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 timestamp string, e.g. 2024-01-01T00:00:00Z")
    moment = parse_timestamp(value)
    if moment.timetz() != time(0, tzinfo=UTC):
        raise ValueError("must be aligned to UTC midnight, e.g. 2024-01-01T00:00:00Z")
    return moment


Midnight = Annotated[datetime, Field(json_schema_extra={"format": "date-time"})]


def _any_case(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


class UsageGroupBy(Wire):
    """``group_by`` of a metric in ``/v1/usage`` (and the deprecated one of ``/groups``)."""

    key: NonEmptyStr
    values: Annotated[list[StrictStr], Field(max_length=MAX_GROUP_VALUES)] | None = None


class UsageMetricRef(Wire):
    id: NonEmptyStr
    group_by: UsageGroupBy | None = None


class UsageQueryBody(Wire):
    """``POST /v1/usage``."""

    starting_on: Midnight
    ending_before: Midnight
    window_size: WindowSize
    customer_ids: list[NonEmptyStr] | None = None
    billable_metrics: list[UsageMetricRef] | None = None

    @field_validator("starting_on", "ending_before", mode="before")
    @classmethod
    def _midnight(cls, value: Any) -> datetime:
        return parse_midnight(value)

    @field_validator("window_size", mode="before")
    @classmethod
    def _window_any_case(cls, value: Any) -> Any:
        return _any_case(value)


class UsageGroupsBody(Wire):
    """``POST /v1/usage/groups`` (``limit`` and ``next_page`` are query parameters)."""

    customer_id: NonEmptyStr
    billable_metric_id: NonEmptyStr
    window_size: WindowSize
    starting_on: Midnight | None = None
    ending_before: Midnight | None = None
    group_key: Annotated[list[NonEmptyStr], Field(min_length=1)] | None = None
    group_filters: dict[NonEmptyStr, list[StrictStr]] | None = None
    #: Deprecated by Metronome in favour of ``group_key`` + ``group_filters``.
    group_by: UsageGroupBy | None = None
    current_period: StrictBool | None = None

    @field_validator("starting_on", "ending_before", mode="before")
    @classmethod
    def _midnight(cls, value: Any) -> datetime | None:
        return None if value is None else parse_midnight(value)

    @field_validator("window_size", mode="before")
    @classmethod
    def _window_any_case(cls, value: Any) -> Any:
        return _any_case(value)


class SearchEventsBody(Wire):
    """``POST /v1/events/search``: the SDK sends ``transactionIds``."""

    transaction_ids: Annotated[
        list[Annotated[NonEmptyStr, Field(max_length=128)]],
        Field(
            min_length=1,
            max_length=MAX_SEARCH_IDS,
            validation_alias=AliasChoices("transactionIds", "transaction_ids"),
            serialization_alias="transactionIds",
        ),
    ]


def _period_violations(
    starting_on: datetime | None, ending_before: datetime | None, window_size: str
) -> list[Violation]:
    if starting_on is None or ending_before is None:
        return []
    if ending_before - starting_on < MIN_PERIOD:
        return [
            Violation(
                "ending_before",
                f"must be at least one day after starting_on ({rfc3339(starting_on)})",
            )
        ]
    if window_count(starting_on, ending_before, window_size) > MAX_WINDOWS:
        return [
            Violation(
                "ending_before",
                f"the period holds more than {MAX_WINDOWS} {window_size} windows; "
                "query a shorter period or larger windows",
            )
        ]
    return []


def window_count(start: datetime, end: datetime, window_size: str) -> int:
    """How many windows ``[start, end)`` splits into (NONE: one)."""
    step = WINDOW_LENGTHS[window_size]
    return 1 if step is None else -((start - end) // step)


def parse_usage_query(data: Any) -> UsageQueryBody:
    """A ``/v1/usage`` body; ``SpecError`` naming every problem."""
    query = parse_model(UsageQueryBody, data)
    violations = _period_violations(query.starting_on, query.ending_before, query.window_size)
    for index, ref in enumerate(query.billable_metrics or []):
        if ref.group_by and ref.group_by.values is not None:
            violations += _distinct_violations(
                ref.group_by.values, f"billable_metrics[{index}].group_by.values"
            )
    if violations:
        raise SpecError(violations)
    return query


def parse_groups_query(data: Any) -> UsageGroupsBody:
    """A ``/v1/usage/groups`` body; ``SpecError`` naming every problem."""
    query = parse_model(UsageGroupsBody, data)
    violations = _period_violations(query.starting_on, query.ending_before, query.window_size)
    if (query.starting_on is None) != (query.ending_before is None):
        missing = "starting_on" if query.starting_on is None else "ending_before"
        violations.append(
            Violation(missing, "is required when the other end of the period is given")
        )
    if query.current_period:
        violations.append(
            Violation(
                "current_period",
                "the local server has no billing periods (no plans or contracts); "
                "give starting_on and ending_before",
            )
        )
    if query.group_by is not None and query.group_key is not None:
        violations.append(Violation("group_by", "cannot be used together with group_key"))
    if query.group_key is not None:
        violations += _distinct_violations(query.group_key, "group_key")
    filters = query.group_filters or {}
    if filters:
        if query.group_key is None:
            violations.append(
                Violation("group_filters", "needs group_key: filter keys must be in it")
            )
        else:
            for key in filters:
                if key not in query.group_key:
                    violations.append(
                        Violation(f"group_filters[{key!r}]", "is not a key of group_key")
                    )
        total = sum(len(v) for v in filters.values())
        if total > MAX_GROUP_VALUES:
            violations.append(
                Violation(
                    "group_filters", f"holds {total} values; at most {MAX_GROUP_VALUES} in all"
                )
            )
    if violations:
        raise SpecError(violations)
    return query


def _distinct_violations(values: Sequence[str], field: str) -> list[Violation]:
    twice = sorted(v for v, n in Counter(values).items() if n > 1)
    if twice:
        return [Violation(field, f"lists {', '.join(repr(v) for v in twice)} more than once")]
    return []


def group_by_violations(
    key: str, group_keys: Sequence[Sequence[str]] | None, field: str
) -> list[Violation]:
    """``/v1/usage`` ``group_by.key``: a property of one of the metric's group keys."""
    properties = sorted({name for group_key in group_keys or () for name in group_key})
    if key in properties:
        return []
    known = ", ".join(repr(p) for p in properties) or "none: the metric has no group keys"
    return [Violation(field, f"'{key}' is not a property of the metric's group keys ({known})")]


def group_key_violations(
    group_key: Sequence[str], group_keys: Sequence[Sequence[str]] | None, field: str
) -> list[Violation]:
    """``/v1/usage/groups`` ``group_key``: one of the metric's group keys, as a set (a
    compound key is given whole)."""
    if any(set(group_key) == set(k) and len(k) == len(group_key) for k in group_keys or ()):
        return []
    known = (
        "; ".join(str(list(k)) for k in group_keys or ()) or "none: the metric has no group keys"
    )
    return [
        Violation(
            field,
            f"{list(group_key)} is not one of the metric's group keys ({known}); "
            "a compound key must be given whole",
        )
    ]


def window_bounds(
    start: datetime, end: datetime, window_size: str
) -> list[tuple[datetime, datetime]]:
    """The windows ``[start, end)`` splits into; NONE is one window."""
    step = WINDOW_LENGTHS[window_size]
    if step is None:
        return [(start, end)]
    out = []
    at = start
    while at < end:
        out.append((at, min(at + step, end)))
        at += step
    return out


def rfc3339(moment: datetime) -> str:
    """``2024-01-01T00:00:00Z`` (UTC, ``Z``; fractions only when there are any)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def decimal_text(value: Decimal) -> str:
    """A decimal as a JSON number without exponent or trailing zeros (``2.50`` -> ``2.5``)."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


# --- answers (tolerant, for clients and the OpenAPI document) ---------------------------


class UsageRow(Returned):
    """A ``/v1/usage`` row (the SDK's ``UsageListResponse``)."""

    customer_id: str
    billable_metric_id: str
    billable_metric_name: str
    start_timestamp: datetime
    end_timestamp: datetime
    value: float | None = None
    groups: dict[str, float | None] | None = None


class UsagePage(Returned):
    data: list[UsageRow]
    next_page: str | None = None


class UsageGroupRow(Returned):
    """A ``/v1/usage/groups`` row (the SDK's ``UsageListWithGroupsResponse``)."""

    starting_on: datetime
    ending_before: datetime
    group: dict[str, str] | None = None
    group_key: str | None = None
    group_value: str | None = None
    value: float | None = None


class UsageGroupsPage(Returned):
    data: list[UsageGroupRow]
    next_page: str | None = None


class MatchedCustomer(Returned):
    id: str | None = None
    name: str | None = None


class MatchedMetric(Returned):
    """A metric an event matched, as ``/v1/events/search`` lists it; ``aggregation_type``
    is ``custom_sql`` for SQL metrics."""

    id: str
    name: str
    aggregation_type: str | None = None
    aggregation_key: str | None = None
    event_type_filter: dict[str, Any] | None = None
    property_filters: list[dict[str, Any]] | None = None
    group_keys: list[list[str]] | None = None
    sql: str | None = None
    custom_fields: dict[str, str] | None = None
    archived_at: datetime | None = None


class SearchedEvent(Returned):
    """An event found by ``/v1/events/search`` (the SDK's ``UsageSearchResponseItem``)."""

    id: str
    transaction_id: str
    customer_id: str
    event_type: str
    timestamp: datetime
    properties: dict[str, Any] | None = None
    processed_at: datetime | None = None
    is_duplicate: bool | None = None
    matched_billable_metrics: list[MatchedMetric] | None = None
    matched_customer: MatchedCustomer | None = None


class SearchedEvents(RootModel[list[SearchedEvent]]):
    """The bare JSON array ``/v1/events/search`` answers."""
