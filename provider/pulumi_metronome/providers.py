"""Where the providers lived before ``resources/`` (kept for state written then).

A stack's state names the provider class it was created with (``__provider`` pickles it by
reference, e.g. ``pulumi_metronome.providers.BillableMetricProvider``), and the engine
uses that to delete or refresh the resource; this module keeps those names importable.
New code imports from ``pulumi_metronome.resources``.
"""

from .resources.billable_metric import BillableMetricProvider
from .resources.custom_field_key import CustomFieldKeyProvider

__all__ = ["BillableMetricProvider", "CustomFieldKeyProvider"]
