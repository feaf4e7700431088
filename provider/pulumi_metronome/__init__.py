"""Pricing as code for Metronome: Pulumi resources for billable metrics and custom fields.

The resources (and with them the ``pulumi`` SDK) are imported on first use, so that the
local server, which shares only the models, starts without loading Pulumi.
"""

from typing import TYPE_CHECKING, Any

from .client import MetronomeClient, RetryPolicy
from .errors import (
    AdoptionConflict,
    ConfigurationError,
    MetronomeAPIError,
    MetronomeError,
    MissingCredentialsError,
    OwnershipConflict,
    ProviderRefusal,
    TransportError,
)
from .models import (
    BillableMetricSpec,
    CustomFieldKeySpec,
    EventTypeFilter,
    PropertyFilter,
    SpecError,
    Violation,
    parse_metric_spec,
)

if TYPE_CHECKING:
    from .resources import BillableMetric, CustomFieldKey, EventTypeFilterArgs, PropertyFilterArgs

_RESOURCES = {"BillableMetric", "CustomFieldKey", "EventTypeFilterArgs", "PropertyFilterArgs"}


def __getattr__(name: str) -> Any:
    if name in _RESOURCES:
        from . import resources

        return getattr(resources, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AdoptionConflict",
    "BillableMetric",
    "BillableMetricSpec",
    "ConfigurationError",
    "CustomFieldKey",
    "CustomFieldKeySpec",
    "EventTypeFilter",
    "EventTypeFilterArgs",
    "MetronomeAPIError",
    "MetronomeClient",
    "MetronomeError",
    "MissingCredentialsError",
    "OwnershipConflict",
    "PropertyFilter",
    "PropertyFilterArgs",
    "ProviderRefusal",
    "RetryPolicy",
    "SpecError",
    "TransportError",
    "Violation",
    "parse_metric_spec",
]
