"""Validating a body against a model and its cross-field rules, reporting every problem once.

``parse_with_rules`` is the general form of ``parse_metric_spec``: malformed fields are
reported first-hand, then each rule that relates several fields runs only when none of the
fields it reads was malformed (or unknown at preview), so one mistake is never reported
twice in different words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

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
        parsed = model.model_validate({**placeholders, **salvage})
    present = {k for k, v in given.items() if v is not None}
    for fields, rule in rules:
        if not fields & bad:
            violations.extend(rule(parsed, present))
    if violations:
        raise SpecError(violations)
    return parsed


def _required(placeholders: Mapping[str, Any], unknown: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in placeholders.items() if k in unknown}


def aware(value: datetime) -> datetime:
    """A timestamp in UTC (inputs carry their zone; naive ones are refused by the type)."""
    return value.astimezone(UTC)


def rfc3339(value: datetime) -> str:
    """``2026-01-01T00:00:00.000Z``: how Metronome writes timestamps."""
    return aware(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def on_hour(value: datetime) -> bool:
    utc = aware(value)
    return utc.minute == 0 and utc.second == 0 and utc.microsecond == 0
