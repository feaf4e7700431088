"""The resources a Pulumi program declares, one module per Metronome object kind.

Each module (``billable_metric.py``, ``custom_field_key.py``, ``product.py``,
``rate_card.py``, ``package.py``) holds, side by side, the
kind's typed ``*Args`` classes, its dynamic provider (check, diff, create, read, update,
delete) and its ``pulumi.dynamic.Resource`` class. Shared plumbing lives once: ``_base``
(credentials, the client, unknowns, check helpers) and ``ownership`` (one object, one
resource; adoption).
"""

from .alert import Alert, AlertProvider
from .billable_metric import (
    BillableMetric,
    BillableMetricProvider,
    EventTypeFilterArgs,
    PropertyFilterArgs,
)
from .custom_field_key import CustomFieldKey, CustomFieldKeyProvider
from .notification import Notification, NotificationProvider
from .package import Package, PackageProvider
from .pricing_unit import PricingUnit, PricingUnitProvider
from .product import Product, ProductProvider, QuantityConversionArgs, QuantityRoundingArgs
from .rate_card import AliasArgs, RateArgs, RateCard, RateCardProvider, TierArgs

__all__ = [
    "Alert",
    "AlertProvider",
    "AliasArgs",
    "BillableMetric",
    "BillableMetricProvider",
    "CustomFieldKey",
    "CustomFieldKeyProvider",
    "EventTypeFilterArgs",
    "Notification",
    "NotificationProvider",
    "Package",
    "PackageProvider",
    "PricingUnit",
    "PricingUnitProvider",
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
