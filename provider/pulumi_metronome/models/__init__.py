"""One module per Metronome object kind, each the single definition of its fields and rules.

Import from here (``pulumi_metronome.models``): the provider, the local server and the client
all do, so where a model lives inside this package can change without touching them.
"""

from .billable_metric import (
    AGGREGATION_TYPES,
    IMMUTABLE_FIELDS,
    KEYED_AGGREGATIONS,
    MUTABLE_FIELDS,
    AggregationType,
    BillableMetric,
    BillableMetricSpec,
    EventTypeFilter,
    PropertyFilter,
    parse_metric_spec,
)
from .common import (
    NonEmptyStr,
    Returned,
    SpecError,
    Violation,
    Wire,
    describe,
    parse_model,
    violations_from,
)
from .custom_field import (
    CUSTOM_FIELD_ENTITIES,
    CUSTOM_FIELD_KEY_MAX_LENGTH,
    CUSTOM_FIELD_VALUE_MAX_LENGTH,
    CustomFieldEntity,
    CustomFieldKeySpec,
    CustomFields,
    CustomFieldValue,
)

__all__ = [
    "AGGREGATION_TYPES",
    "CUSTOM_FIELD_ENTITIES",
    "CUSTOM_FIELD_KEY_MAX_LENGTH",
    "CUSTOM_FIELD_VALUE_MAX_LENGTH",
    "IMMUTABLE_FIELDS",
    "KEYED_AGGREGATIONS",
    "MUTABLE_FIELDS",
    "AggregationType",
    "BillableMetric",
    "BillableMetricSpec",
    "CustomFieldEntity",
    "CustomFieldKeySpec",
    "CustomFieldValue",
    "CustomFields",
    "EventTypeFilter",
    "NonEmptyStr",
    "PropertyFilter",
    "Returned",
    "SpecError",
    "Violation",
    "Wire",
    "describe",
    "parse_metric_spec",
    "parse_model",
    "violations_from",
]
