"""The resources a Pulumi program declares, one module per Metronome object kind.

Each module (``billable_metric.py``, ``custom_field_key.py``, ``product.py``,
``rate_card.py``, ``package.py``) holds, side by side, the
kind's typed ``*Args`` classes, its dynamic provider (check, diff, create, read, update,
delete) and its ``pulumi.dynamic.Resource`` class. Shared plumbing lives once: ``_base``
(credentials, the client, unknowns, check helpers) and ``ownership`` (one object, one
resource; adoption).
"""

from .billable_metric import (
    BillableMetric,
    BillableMetricProvider,
    EventTypeFilterArgs,
    PropertyFilterArgs,
)
from .custom_field_key import CustomFieldKey, CustomFieldKeyProvider
from .package import Package, PackageProvider
from .product import Product, ProductProvider, QuantityConversionArgs, QuantityRoundingArgs
from .rate_card import AliasArgs, RateArgs, RateCard, RateCardProvider, TierArgs

__all__ = [
    "AliasArgs",
    "BillableMetric",
    "BillableMetricProvider",
    "CustomFieldKey",
    "CustomFieldKeyProvider",
    "EventTypeFilterArgs",
    "Package",
    "PackageProvider",
    "Product",
    "ProductProvider",
    "PropertyFilterArgs",
    "QuantityConversionArgs",
    "QuantityRoundingArgs",
    "RateArgs",
    "RateCard",
    "RateCardProvider",
    "TierArgs",
]
