"""One module per Metronome object kind, each the single definition of its fields and rules.

Import from here (``pulumi_metronome.models``): the provider, the local server and the client
all do, so where a model lives inside this package can change without touching them.
Per kind: a strict ``*Spec`` (what we send, with ``to_state``/``from_state`` for Pulumi state)
and a tolerant model of what Metronome returns.
"""

from .billable_metric import (
    AGGREGATION_TYPES,
    IMMUTABLE_FIELDS,
    KEYED_AGGREGATIONS,
    MUTABLE_FIELDS,
    SPEC_FIELDS,
    AggregationType,
    BillableMetric,
    BillableMetricSpec,
    EventTypeFilter,
    MetricDefinition,
    MetricName,
    PropertyFilter,
    parse_metric_spec,
    state_fields,
)
from .common import (
    NonEmptyStr,
    Returned,
    SpecError,
    ValueList,
    Violation,
    Wire,
    describe,
    parse_model,
    parse_value,
    violations_from,
)
from .custom_field import (
    BILLABLE_METRIC_ENTITY,
    CUSTOM_FIELD_ENTITIES,
    CUSTOM_FIELD_KEY_MAX_LENGTH,
    CUSTOM_FIELD_VALUE_MAX_LENGTH,
    CUSTOM_FIELDS,
    CustomFieldEntity,
    CustomFieldKey,
    CustomFieldKeySpec,
    CustomFields,
    CustomFieldValue,
)

__all__ = [
    "AGGREGATION_TYPES",
    "BILLABLE_METRIC_ENTITY",
    "CUSTOM_FIELDS",
    "CUSTOM_FIELD_ENTITIES",
    "CUSTOM_FIELD_KEY_MAX_LENGTH",
    "CUSTOM_FIELD_VALUE_MAX_LENGTH",
    "IMMUTABLE_FIELDS",
    "KEYED_AGGREGATIONS",
    "MUTABLE_FIELDS",
    "SPEC_FIELDS",
    "AggregationType",
    "BillableMetric",
    "BillableMetricSpec",
    "CustomFieldEntity",
    "CustomFieldKey",
    "CustomFieldKeySpec",
    "CustomFieldValue",
    "CustomFields",
    "EventTypeFilter",
    "MetricDefinition",
    "MetricName",
    "NonEmptyStr",
    "PropertyFilter",
    "Returned",
    "SpecError",
    "ValueList",
    "Violation",
    "Wire",
    "describe",
    "parse_metric_spec",
    "parse_model",
    "parse_value",
    "state_fields",
    "violations_from",
]
