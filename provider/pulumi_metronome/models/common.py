"""What every Metronome object's model shares: the strict base for what we send, the
tolerant base for what we read back, and validation that reports every problem at once.

Each object kind has its own module beside this one (``billable_metric``, ``custom_field``,
...) holding its fields and rules; the provider's ``check``, the local server's request
validation and the client's response parsing all use those modules, so a rule lives once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    TypeAdapter,
    ValidationError,
)

#: Names and keys: a string with at least one character.
NonEmptyStr = Annotated[StrictStr, Field(min_length=1)]
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class Wire(BaseModel):
    """Base for what we send (request bodies, declarations): unknown fields are an error,
    so a typo never passes silently. A field's docstring is its description (in the
    provider's schema and the SDKs generated from it)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Returned(BaseModel):
    """Base for what Metronome sends back: fields this version does not know are ignored,
    so a field Metronome adds tomorrow breaks nothing."""

    model_config = ConfigDict(extra="ignore", frozen=True)


def _non_empty(values: list[str]) -> list[str]:
    if not values:
        raise ValueError("must be non-empty when present")
    return values


#: A value list (``in_values``, ``not_in_values``): strings, at least one when present.
ValueList = Annotated[list[StrictStr], AfterValidator(_non_empty)]


@dataclass(frozen=True)
class Violation:
    """One broken rule: ``field`` is a dotted path such as ``property_filters[1].in_values``."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def describe(problems: Iterable[Violation | str]) -> str:
    """Several problems as one message, the way Metronome reports them: ``a: ...; b: ...``."""
    texts = [str(p) for p in problems]
    return "; ".join([t.removesuffix(".") for t in texts[:-1]] + texts[-1:])


class SpecError(ValueError):
    """A declaration or request breaks one or more rules; ``violations`` lists them all."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        super().__init__(describe(violations))


#: Fields whose keys are data (``custom_fields['team']``), not nested field names.
_MAPPING_FIELDS = (
    "custom_fields",
    "group_filters",
    "properties",
    "pricing_group_values",
    "partial_pricing_group_values",
    "custom_rate",
)
#: Extra words after "must be one of ..." for a field that accepts its values in any case.
LITERAL_HINTS: dict[str, str] = {}


def _path(loc: Iterable[int | str]) -> str:
    """``("property_filters", 1, "in_values")`` -> ``property_filters[1].in_values``."""
    out = ""
    for part in loc:
        if part == "[key]":
            out += " key"
        elif isinstance(part, int):
            out += f"[{part}]"
        elif out.split("[")[0].split(".")[-1] in _MAPPING_FIELDS:
            out += f"[{part!r}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def violations_from(errors: Iterable[Mapping[str, Any]]) -> list[Violation]:
    """pydantic's error details (also FastAPI's) in our field paths and wording."""
    violations = []
    for item in errors:
        message = str(item.get("msg", "is invalid")).removeprefix("Value error, ")
        ctx = item.get("ctx") or {}
        if item["type"] in ("string_too_short", "too_short") and ctx.get("min_length") == 1:
            message = "must not be empty"
        elif item["type"] == "extra_forbidden":
            message = "is not a known field"
        elif item["type"] == "missing":
            message = "is required"
        elif item["type"] == "string_too_long" and "max_length" in ctx:
            message = f"is longer than {ctx['max_length']} characters"
        elif item["type"] == "literal_error" and "expected" in ctx:
            choices = ", ".join(re.findall(r"'([^']*)'", str(ctx["expected"])))
            field = str(tuple(item["loc"])[-1]) if item["loc"] else ""
            message = f"must be one of {choices}{LITERAL_HINTS.get(field, '')}"
        violations.append(Violation(_path(item["loc"]), message))
    return violations


def parse_model(model: type[M], data: Any) -> M:
    """Validate ``data`` as ``model``; raise ``SpecError`` naming each bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise SpecError(violations_from(error.errors(include_url=False))) from None


def parse_value(adapter: TypeAdapter[T], data: Any, field: str) -> T:
    """Validate ``data`` as one field's type (``adapter``); ``SpecError`` paths start at
    ``field``. For rules on a lone value (a rename's name, a ``setValues`` map) without
    building a whole object around it."""
    try:
        return adapter.validate_python(data)
    except ValidationError as error:
        errors = [{**e, "loc": (field, *e["loc"])} for e in error.errors(include_url=False)]
        raise SpecError(violations_from(errors)) from None
