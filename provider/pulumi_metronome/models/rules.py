"""Validating a body against a model and its cross-field rules, reporting every problem once.

``parse_with_rules`` is the general form of ``parse_metric_spec``: malformed fields are
reported first-hand, then each rule that relates several fields runs only when none of the
fields it reads was malformed (or unknown at preview), so one mistake is never reported
twice in different words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ValidationError

from .common import SpecError, Violation, violations_from

M = TypeVar("M", bound=BaseModel)
#: A rule across fields: the parsed model and the names of the fields given -> problems.
Rule = Callable[[M, set[str]], list[Violation]]


def parse_with_rules(
    model: type[M],
    data: Any,
    rules: Sequence[tuple[frozenset[str], Rule[M]]],
    *,
    unknown: frozenset[str] = frozenset(),
    placeholders: Mapping[str, Any] | None = None,
) -> M:
    """Validate ``data`` as ``model`` and its ``rules``; raise ``SpecError`` listing all.

    ``placeholders`` give a stand-in value for required fields that are malformed or
    unknown, so that the rules on the other fields still run.
    """
    if not isinstance(data, Mapping):
        raise SpecError([Violation("", "the body must be a JSON object")])
    placeholders = placeholders or {}
    violations: list[Violation] = []
    bad: set[str] = set(unknown)
    given = {k: v for k, v in data.items() if k not in unknown}
    try:
        parsed = model.model_validate({**_required(placeholders, unknown), **given})
    except ValidationError as error:
        violations = violations_from(error.errors(include_url=False))
        bad |= {str(e["loc"][0]) for e in error.errors() if e["loc"]}
        salvage = {k: v for k, v in given.items() if k in model.model_fields and k not in bad}
        parsed = _salvage(model, placeholders, salvage, bad)
    present = {k for k, v in given.items() if v is not None}
    for fields, rule in rules:
        if not fields & bad:
            violations.extend(rule(parsed, present))
    if violations:
        raise SpecError(violations)
    return parsed


def _salvage(
    model: type[M], placeholders: Mapping[str, Any], salvage: dict[str, Any], bad: set[str]
) -> M:
    """The well-formed fields with placeholders for the rest. A field that was valid
    alone may fail next to a placeholder (``ending_before`` before a stand-in
    ``starting_at``): it is left out too, and counted as bad so its rules do not run."""
    while True:
        try:
            return model.model_validate({**placeholders, **salvage})
        except ValidationError as error:
            failed = {str(e["loc"][0]) for e in error.errors() if e["loc"]} & set(salvage)
            if not failed:
                raise
            bad |= failed
            for name in failed:
                salvage.pop(name)


def _required(placeholders: Mapping[str, Any], unknown: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in placeholders.items() if k in unknown}


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None


#: A point in time with its zone (RFC 3339), kept in UTC; a naive one is refused.
Timestamp = Annotated[AwareDatetime, AfterValidator(_in_utc)]


def aware(value: datetime) -> datetime:
    """A timestamp in UTC (inputs carry their zone; naive ones are refused by the type)."""
    return value.astimezone(UTC)


def rfc3339(value: datetime) -> str:
    """``2026-01-01T00:00:00.000Z``: how Metronome writes timestamps."""
    return aware(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def on_hour(value: datetime) -> bool:
    utc = aware(value)
    return utc.minute == 0 and utc.second == 0 and utc.microsecond == 0
