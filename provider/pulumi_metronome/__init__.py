"""Pricing as code for Metronome: Pulumi resources for billable metrics and custom fields."""

from .client import MetronomeClient, MetronomeError, MissingCredentialsError
from .models import (
    BillableMetricSpec,
    CustomFieldKeySpec,
    EventTypeFilter,
    PropertyFilter,
    SpecError,
    Violation,
    parse_metric_spec,
)
from .resources import BillableMetric, CustomFieldKey, EventTypeFilterArgs, PropertyFilterArgs

__all__ = [
    "BillableMetric",
    "BillableMetricSpec",
    "CustomFieldKey",
    "CustomFieldKeySpec",
    "EventTypeFilter",
    "EventTypeFilterArgs",
    "MetronomeClient",
    "MetronomeError",
    "MissingCredentialsError",
    "PropertyFilter",
    "PropertyFilterArgs",
    "SpecError",
    "Violation",
    "parse_metric_spec",
]
