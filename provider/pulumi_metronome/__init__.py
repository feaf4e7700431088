"""Pricing as code for Metronome: Pulumi resources for billable metrics and custom fields.

The resources (and with them the ``pulumi`` SDK) are imported on first use, so that the
local server, which shares only the models, starts without loading Pulumi. So is
``evaluate`` (``pulumi_metronome.metering``: billable metrics evaluated over events
in-process, with DuckDB), so that the provider does not load the metering engine.
"""

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from .metering import evaluate
    from .resources import BillableMetric, CustomFieldKey, EventTypeFilterArgs, PropertyFilterArgs

_RESOURCES = {"BillableMetric", "CustomFieldKey", "EventTypeFilterArgs", "PropertyFilterArgs"}


def __getattr__(name: str) -> Any:
    if name == "evaluate":
        from .metering import evaluate

        return evaluate
    if name in _RESOURCES:
        from . import resources

        return getattr(resources, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    "evaluate",
    "parse_metric_spec",
]
