"""Pricing as code for Metronome: Pulumi resources for billable metrics, custom fields,
products, rate cards and their rates.

The resources (and with them the ``pulumi`` SDK) are imported on first use, so that the
local server, which shares only the models, starts without loading Pulumi. So is
``evaluate`` (``pulumi_metronome.metering``: billable metrics evaluated over events
in-process, with DuckDB), so that the provider does not load the metering engine.
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
    from .metering import evaluate
    from .resources import (
        Alert,
        AliasArgs,
        BillableMetric,
        CustomFieldKey,
        EventTypeFilterArgs,
        Notification,
        Package,
        PricingUnit,
        Product,
        PropertyFilterArgs,
        QuantityConversionArgs,
        QuantityRoundingArgs,
        RateArgs,
        RateCard,
        TierArgs,
    )

_RESOURCES = {
    "Alert",
    "AliasArgs",
    "BillableMetric",
    "CustomFieldKey",
    "EventTypeFilterArgs",
    "Notification",
    "Package",
    "PricingUnit",
    "Product",
    "PropertyFilterArgs",
    "QuantityConversionArgs",
    "QuantityRoundingArgs",
    "RateArgs",
    "RateCard",
    "TierArgs",
}


def __getattr__(name: str) -> Any:
    if name == "evaluate":
        from .metering import evaluate

        return evaluate
    if name in _RESOURCES:
        from . import resources

        return getattr(resources, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AdoptionConflict",
    "Alert",
    "AliasArgs",
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
    "Notification",
    "OwnershipConflict",
    "Package",
    "PricingUnit",
    "Product",
    "PropertyFilter",
    "PropertyFilterArgs",
    "ProviderRefusal",
    "QuantityConversionArgs",
    "QuantityRoundingArgs",
    "RateArgs",
    "RateCard",
    "RetryPolicy",
    "SpecError",
    "TierArgs",
    "TransportError",
    "Violation",
    "evaluate",
    "parse_metric_spec",
]
