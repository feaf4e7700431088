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
    AfterValidator,
    BeforeValidator,
    Field,
    StrictBool,
    StrictStr,
    ValidationError,
)

from .common import (
    LITERAL_HINTS,
    NonEmptyStr,
    Returned,
    SpecError,
    ValueList,
    Violation,
    Wire,
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

    in_values: ValueList | None = None
    """Event types that match (at least one when set)."""
    not_in_values: ValueList | None = None
    """Event types that never match (at least one when set)."""


class PropertyFilter(Wire):
    """A rule on one event property; all of a metric's filters must pass for an event to match."""

    name: NonEmptyStr
    """The event property the filter is about."""
    exists: StrictBool | None = None
    """True: the property must be present; false: it must be absent."""
    in_values: ValueList | None = None
    """Values of which the property must have one."""
    not_in_values: ValueList | None = None
    """Values the property must not have."""


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _sql_not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty when present")
    return value


def _upper(value: Any) -> Any:
    # Metronome accepts count, Count and COUNT alike and always answers in upper case.
    return value.upper() if isinstance(value, str) else value


#: A metric's display name: not empty, not only blanks (create and rename alike).
MetricName = Annotated[NonEmptyStr, AfterValidator(_not_blank)]
#: An aggregation type in any case, stored in upper case.
AggregationTypeAnyCase = Annotated[AggregationType, BeforeValidator(_upper)]
#: A SQL query: not empty, not only blanks.
SqlText = Annotated[NonEmptyStr, AfterValidator(_sql_not_blank)]
#: A group key: one property, or several for a compound key.
GroupKey = Annotated[list[NonEmptyStr], Field(min_length=1)]


class MetricDefinition(Wire):
    """What Metronome fixes when a metric is created: every field but name and custom fields.

    The cross-field rules read only these, so they run on a definition even when the name
    is unknown or malformed.
    """

    aggregation_type: AggregationTypeAnyCase | None = None
    """How matching events become usage: COUNT, LATEST, MAX, SUM or UNIQUE (any case, stored in
    upper case). Required unless ``sql`` is set."""
    aggregation_key: NonEmptyStr | None = None
    """The event property whose values are aggregated: required by LATEST, MAX, SUM and UNIQUE, not
    used by COUNT, and one of the property filters' names."""
    event_type_filter: EventTypeFilter | None = None
    """Which event types the metric counts."""
    property_filters: list[PropertyFilter] | None = None
    """Rules on event properties: an event must pass all of them to count."""
    group_keys: list[GroupKey] | None = None
    """Keys that split usage, each a list of property names (several for a compound key); each
    property needs a filter with ``exists: true`` or ``in_values``."""
    sql: SqlText | None = None
    """A SQL query defining the metric instead of an aggregation; set alone, without the other
    definition fields."""


class BillableMetricSpec(MetricDefinition):
    """A billable metric as declared: the body of ``POST /v1/billable-metrics/create``."""

    name: MetricName
    """The metric's display name; changes in place."""
    custom_fields: CustomFields | None = None
    """Custom field values by key (each key on the allow list of billable metrics: see
    ``CustomFieldKey``); change in place."""

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
        return self.canonical().model_dump(
            mode="json", exclude_none=True, include=set(IMMUTABLE_FIELDS)
        )

    # --- Pulumi state -------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """The stored form (inputs and outputs): canonical, every field present (None when
        unset), so that equivalent declarations store the same thing."""
        return self.canonical().model_dump(mode="json")

    @classmethod
    def from_state(cls, props: Mapping[str, Any]) -> BillableMetricSpec:
        """The spec held in Pulumi inputs or state (extra keys, such as Pulumi's own, ignored)."""
        return parse_metric_spec(state_fields(props))


#: Fields that can only be set at creation; a change to any of them needs a new metric.
IMMUTABLE_FIELDS: frozenset[str] = frozenset(MetricDefinition.model_fields)
#: Fields with their own API for in-place change.
MUTABLE_FIELDS: frozenset[str] = frozenset({"name", "custom_fields"})
SPEC_FIELDS: tuple[str, ...] = tuple(BillableMetricSpec.model_fields)
assert set(SPEC_FIELDS) == IMMUTABLE_FIELDS | MUTABLE_FIELDS


def _as_text(value: Any) -> Any:
    """A number where Metronome wants a string: ``200`` (or ``200.0``, as Pulumi sends
    integers) becomes ``"200"``, so ``in_values=[200]`` and ``["200"]`` never diff."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    return value


def state_fields(props: Mapping[str, Any]) -> dict[str, Any]:
    """The metric's fields out of Pulumi inputs or state: unset ones left out, and numbers
    (Pulumi sends every number as a float) turned into the strings Metronome wants."""
    out = {k: props[k] for k in SPEC_FIELDS if props.get(k) is not None}

    def texts(values: Any) -> Any:
        return [_as_text(v) for v in values] if isinstance(values, list) else values

    def filter_(item: Any) -> Any:
        if not isinstance(item, Mapping):
            return item
        fixed = dict(item)
        for key in ("in_values", "not_in_values"):
            if key in fixed:
                fixed[key] = texts(fixed[key])
        return fixed

    if "event_type_filter" in out:
        out["event_type_filter"] = filter_(out["event_type_filter"])
    if isinstance(out.get("property_filters"), list):
        out["property_filters"] = [filter_(f) for f in out["property_filters"]]
    if isinstance(out.get("custom_fields"), Mapping):
        out["custom_fields"] = {k: _as_text(v) for k, v in out["custom_fields"].items()}
    return out


class BillableMetric(Returned):
    """A billable metric as Metronome returns it, read tolerantly: unknown fields are
    ignored and the definition is kept as sent, so a metric of a shape this version does
    not know (a new aggregation type, say) still lists, adopts (as "different") and
    refreshes. ``spec`` applies the strict rules when they are needed."""

    id: StrictStr
    name: str
    aggregation_type: str | None = None
    aggregation_key: str | None = None
    event_type_filter: dict[str, Any] | None = None
    property_filters: list[Any] | None = None
    group_keys: list[Any] | None = None
    sql: str | None = None
    custom_fields: dict[str, Any] | None = None
    archived_at: datetime | None = None

    @property
    def spec(self) -> BillableMetricSpec | None:
        """The metric under this version's rules; None when it has a shape they do not know."""
        try:
            return parse_metric_spec(state_fields(self.raw_fields()))
        except SpecError:
            return None

    def raw_fields(self) -> dict[str, Any]:
        """The declared fields as Metronome sent them (every field present, None if unset)."""
        return self.model_dump(mode="json", include=set(SPEC_FIELDS))

    def to_state(self) -> dict[str, Any]:
        """What ``read`` stores: the canonical form when the rules accept the metric, else
        the fields as sent (a later diff then shows what differs from the declaration)."""
        spec = self.spec
        return spec.to_state() if spec is not None else self.raw_fields()

    @property
    def definition(self) -> dict[str, Any]:
        spec = self.spec
        if spec is not None:
            return spec.definition
        raw = self.raw_fields()
        return {k: raw[k] for k in sorted(IMMUTABLE_FIELDS) if raw[k] is not None}


def _sql_exclusive(spec: MetricDefinition, present: set[str]) -> list[Violation]:
    if spec.sql is None:
        return []
    clash = sorted(present & (IMMUTABLE_FIELDS - {"sql"}))
    return [
        Violation(f, "cannot be set together with sql; sql is mutually exclusive with it")
        for f in clash
    ]


def _aggregation_type_required(spec: MetricDefinition, present: set[str]) -> list[Violation]:
    if spec.sql is None and spec.aggregation_type is None:
        return [Violation("aggregation_type", "is required when sql is not provided")]
    return []


def _aggregation_key_fits_type(spec: MetricDefinition, present: set[str]) -> list[Violation]:
    kind = spec.aggregation_type
    if spec.sql is not None:
        return []  # reported by _sql_exclusive
    if kind in KEYED_AGGREGATIONS and spec.aggregation_key is None:
        return [Violation("aggregation_key", f"is required for aggregation type {kind}")]
    if kind == "COUNT" and spec.aggregation_key is not None:
        return [Violation("aggregation_key", "is not applicable to aggregation type COUNT")]
    return []


def _aggregation_key_is_filtered(spec: MetricDefinition, present: set[str]) -> list[Violation]:
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


def _group_keys_are_filtered(spec: MetricDefinition, present: set[str]) -> list[Violation]:
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


def _property_filter_names_unique(spec: MetricDefinition, present: set[str]) -> list[Violation]:
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


def _sql_is_supported(spec: MetricDefinition, present: set[str]) -> list[Violation]:
    """A SQL metric the metering engine cannot parse or evaluate fails here, at preview."""
    if spec.sql is None:
        return []
    from ..metering.sql import check_sql  # the engine's SQL checker (sqlglot + DuckDB)

    reason = check_sql(spec.sql)
    return [] if reason is None else [Violation("sql", reason)]


#: Rules across fields, each with the fields it reads.
_Rule = Callable[[MetricDefinition, set[str]], list[Violation]]
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
    named in ``unknown`` (values not known yet, as in a ``pulumi preview``) are checked by
    no rule; the returned spec is then only a placeholder (``SpecError`` is what counts).
    """
    if not isinstance(data, Mapping):
        raise SpecError([Violation("", "the body must be a JSON object")])
    violations: list[Violation] = []
    bad_fields: set[str] = set(unknown)
    known = {k: v for k, v in data.items() if k not in unknown}
    try:
        spec: BillableMetricSpec | None = BillableMetricSpec.model_validate(
            known if "name" not in unknown else {**known, "name": "unknown"}
        )
    except ValidationError as error:
        spec = None
        found = [e for e in error.errors(include_url=False) if e["loc"][:1] != ("name",)]
        if "name" not in unknown:
            found = error.errors(include_url=False)
        # The name first, as in the create body (pydantic lists a base model's fields first).
        found.sort(key=lambda e: e["loc"][:1] != ("name",))
        violations = violations_from(found)
        bad_fields |= {str(e["loc"][0]) for e in error.errors() if e["loc"]}
    if spec is not None:
        definition: MetricDefinition = spec
    else:
        definition = MetricDefinition.model_validate(
            {k: v for k, v in known.items() if k in IMMUTABLE_FIELDS and k not in bad_fields}
        )
    present = {k for k, v in known.items() if v is not None}
    for fields, rule in _CROSS_FIELD_RULES:
        if not fields & bad_fields:
            violations.extend(rule(definition, present))
    if violations or spec is None:
        raise SpecError(violations)
    return spec
