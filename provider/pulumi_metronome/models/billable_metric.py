"""A Metronome billable metric: its fields and every documented rule.

The provider's ``check``, the local server's request validation and the client's response
parsing all use this module, so a rule lives here once. Field-level rules are pydantic
validators; the rules that relate several fields are listed in ``_CROSS_FIELD_RULES`` with
the fields they read, so that a field already reported as malformed does not produce a
second, misleading error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    ValidationError,
    field_validator,
)

from .common import (
    LITERAL_HINTS,
    NonEmptyStr,
    SpecError,
    Violation,
    Wire,
    non_empty,
    violations_from,
)
from .custom_field import CustomFields

AggregationType = Literal["COUNT", "LATEST", "MAX", "SUM", "UNIQUE"]
AGGREGATION_TYPES: tuple[str, ...] = get_args(AggregationType)
#: Aggregations that read a property's value and so need ``aggregation_key``.
KEYED_AGGREGATIONS: frozenset[str] = frozenset({"LATEST", "MAX", "SUM", "UNIQUE"})
LITERAL_HINTS["aggregation_type"] = " (any case)"


class EventTypeFilter(Wire):
    """Which ``event_type`` values an event may have to match."""

    in_values: list[StrictStr] | None = None
    not_in_values: list[StrictStr] | None = None

    _lists_non_empty = field_validator("in_values", "not_in_values")(non_empty)


class PropertyFilter(Wire):
    """A rule on one event property; all of a metric's filters must pass for an event to match."""

    name: NonEmptyStr
    exists: StrictBool | None = None
    in_values: list[StrictStr] | None = None
    not_in_values: list[StrictStr] | None = None

    _lists_non_empty = field_validator("in_values", "not_in_values")(non_empty)


class BillableMetricSpec(Wire):
    """A billable metric as declared: the body of ``POST /v1/billable-metrics/create``."""

    name: NonEmptyStr
    aggregation_type: AggregationType | None = None
    aggregation_key: NonEmptyStr | None = None
    event_type_filter: EventTypeFilter | None = None
    property_filters: list[PropertyFilter] | None = None
    group_keys: list[Annotated[list[NonEmptyStr], Field(min_length=1)]] | None = None
    sql: NonEmptyStr | None = None
    custom_fields: CustomFields | None = None

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("aggregation_type", mode="before")
    @classmethod
    def _aggregation_type_any_case(cls, value: Any) -> Any:
        # Metronome accepts count, Count and COUNT alike and always answers in upper case.
        return value.upper() if isinstance(value, str) else value

    @field_validator("sql")
    @classmethod
    def _sql_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty when present")
        return value

    def create_body(self) -> dict[str, Any]:
        """The JSON body for the create call: unset fields are left out, as Metronome expects."""
        return self.model_dump(mode="json", exclude_none=True)

    def canonical(self) -> BillableMetricSpec:
        """An equivalent spec in one canonical form, so equivalent declarations never diff.

        Value lists and property filters are order-free in Metronome's matching, so they are
        sorted and de-duplicated; group keys keep their order (it is how usage is sliced).
        """

        def values(items: list[str] | None) -> list[str] | None:
            return None if items is None else sorted(set(items))

        event_filter = self.event_type_filter
        if event_filter is not None:
            event_filter = EventTypeFilter(
                in_values=values(event_filter.in_values),
                not_in_values=values(event_filter.not_in_values),
            )
        filters = self.property_filters
        if filters is not None:
            filters = sorted(
                (
                    PropertyFilter(
                        name=f.name,
                        exists=f.exists,
                        in_values=values(f.in_values),
                        not_in_values=values(f.not_in_values),
                    )
                    for f in filters
                ),
                key=lambda f: f.name,
            )
        return self.model_copy(
            update={
                "event_type_filter": event_filter,
                "property_filters": filters,
                "custom_fields": self.custom_fields or None,
            }
        )

    @property
    def definition(self) -> dict[str, Any]:
        """Every field Metronome fixes at creation (all but name and custom fields)."""
        return self.canonical().model_dump(mode="json", exclude_none=True, include=IMMUTABLE_FIELDS)


#: Fields that can only be set at creation; a change to any of them needs a new metric.
IMMUTABLE_FIELDS: frozenset[str] = frozenset(
    {
        "aggregation_type",
        "aggregation_key",
        "event_type_filter",
        "property_filters",
        "group_keys",
        "sql",
    }
)
#: Fields with their own API for in-place change.
MUTABLE_FIELDS: frozenset[str] = frozenset({"name", "custom_fields"})
assert set(BillableMetricSpec.model_fields) == IMMUTABLE_FIELDS | MUTABLE_FIELDS


class BillableMetric(BillableMetricSpec):
    """A billable metric as Metronome returns it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: StrictStr
    archived_at: datetime | None = None

    @property
    def spec(self) -> BillableMetricSpec:
        return BillableMetricSpec.model_validate(
            self.model_dump(exclude={"id", "archived_at"}, exclude_none=True)
        )


def _sql_exclusive(spec: BillableMetricSpec, present: set[str]) -> list[Violation]:
    if spec.sql is None:
        return []
    clash = sorted(present & (IMMUTABLE_FIELDS - {"sql"}))
    return [
        Violation(f, "cannot be set together with sql; sql is mutually exclusive with it")
        for f in clash
    ]


def _aggregation_type_required(spec: BillableMetricSpec, present: set[str]) -> list[Violation]:
    if spec.sql is None and spec.aggregation_type is None:
        return [Violation("aggregation_type", "is required when sql is not provided")]
    return []


def _aggregation_key_fits_type(spec: BillableMetricSpec, present: set[str]) -> list[Violation]:
    kind = spec.aggregation_type
    if spec.sql is not None:
        return []  # reported by _sql_exclusive
    if kind in KEYED_AGGREGATIONS and spec.aggregation_key is None:
        return [Violation("aggregation_key", f"is required for aggregation type {kind}")]
    if kind == "COUNT" and spec.aggregation_key is not None:
        return [Violation("aggregation_key", "is not applicable to aggregation type COUNT")]
    return []


def _aggregation_key_is_filtered(spec: BillableMetricSpec, present: set[str]) -> list[Violation]:
    if spec.aggregation_key is None or spec.sql is not None:
        return []
    names = {f.name for f in spec.property_filters or []}
    if spec.aggregation_key not in names:
        return [
            Violation(
                "aggregation_key",
                "The specified aggregation key must be one of the property filter names.",
            )
        ]
    return []


def _group_keys_are_filtered(spec: BillableMetricSpec, present: set[str]) -> list[Violation]:
    if spec.sql is not None:
        return []  # reported by _sql_exclusive
    filters = {f.name: f for f in spec.property_filters or []}
    violations = []
    for index, group_key in enumerate(spec.group_keys or []):
        for name in group_key:
            found = filters.get(name)
            if found is None:
                violations.append(
                    Violation(
                        f"group_keys[{index}]",
                        f"Group key '{name}' does not match one of the property filter names.",
                    )
                )
            elif found.exists is not True and not found.in_values:
                violations.append(
                    Violation(
                        f"group_keys[{index}]",
                        f"Group key '{name}' must have a property filter with exists: true "
                        "or in_values.",
                    )
                )
    return violations


def _property_filter_names_unique(spec: BillableMetricSpec, present: set[str]) -> list[Violation]:
    seen: set[str] = set()
    violations = []
    for index, item in enumerate(spec.property_filters or []):
        if item.name in seen:
            violations.append(
                Violation(
                    f"property_filters[{index}].name",
                    f"'{item.name}' is filtered twice; give each property one filter",
                )
            )
        seen.add(item.name)
    return violations


def _sql_is_supported(spec: BillableMetricSpec, present: set[str]) -> list[Violation]:
    """A SQL metric the metering engine cannot parse or evaluate fails here, at preview."""
    if spec.sql is None:
        return []
    from ..metering.sql import check_sql  # the engine's SQL checker (sqlglot + DuckDB)

    reason = check_sql(spec.sql)
    return [] if reason is None else [Violation("sql", reason)]


#: Rules across fields, each with the fields it reads.
_Rule = Callable[[BillableMetricSpec, set[str]], list[Violation]]
_CROSS_FIELD_RULES: list[tuple[frozenset[str], _Rule]] = [
    (frozenset({"sql"}), _sql_exclusive),
    (frozenset({"sql", "aggregation_type"}), _aggregation_type_required),
    (frozenset({"sql", "aggregation_type", "aggregation_key"}), _aggregation_key_fits_type),
    (frozenset({"sql", "aggregation_key", "property_filters"}), _aggregation_key_is_filtered),
    (frozenset({"sql", "group_keys", "property_filters"}), _group_keys_are_filtered),
    (frozenset({"property_filters"}), _property_filter_names_unique),
    (frozenset({"sql"}), _sql_is_supported),
]


def parse_metric_spec(
    data: Mapping[str, Any], *, unknown: frozenset[str] = frozenset()
) -> BillableMetricSpec:
    """Validate a create body or declaration; raise ``SpecError`` listing every problem.

    Malformed fields are reported first-hand; cross-field rules then run on the fields that
    were well formed, so one mistake is never reported twice in different words. Fields
    named in ``unknown`` (values not known yet, as in a ``pulumi preview``) are left out of
    the returned spec and every rule that reads them is skipped.
    """
    if not isinstance(data, Mapping):
        raise SpecError([Violation("", "the body must be a JSON object")])
    violations: list[Violation] = []
    bad_fields: set[str] = set(unknown)
    data = {k: v for k, v in data.items() if k not in unknown}
    if "name" in unknown:
        data["name"] = "-"
    try:
        spec = BillableMetricSpec.model_validate(data)
    except ValidationError as error:
        violations = violations_from(error.errors(include_url=False))
        bad_fields |= {str(e["loc"][0]) for e in error.errors() if e["loc"]}
        salvage = {
            k: v
            for k, v in data.items()
            if k in BillableMetricSpec.model_fields and k not in bad_fields
        }
        salvage.setdefault("name", "-")
        spec = BillableMetricSpec.model_validate(salvage)
    present = {k for k, v in data.items() if v is not None}
    for fields, rule in _CROSS_FIELD_RULES:
        if not fields & bad_fields:
            violations.extend(rule(spec, present))
    if violations:
        raise SpecError(violations)
    return spec
