"""The resources a Pulumi program declares: ``BillableMetric`` and ``CustomFieldKey``.

Arguments may be plain values, ``pulumi.Input``s, plain dicts, or the small typed classes
below; everything is checked by the shared rules in ``models`` at ``pulumi preview``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi.dynamic

from .providers import ADOPT, BillableMetricProvider, CustomFieldKeyProvider


@dataclasses.dataclass(frozen=True)
class EventTypeFilterArgs:
    """Which event types match: listed in ``in_values``, or not in ``not_in_values``."""

    in_values: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None
    not_in_values: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None


@dataclasses.dataclass(frozen=True)
class PropertyFilterArgs:
    """A rule on one event property; ``exists=True`` makes the property required."""

    name: pulumi.Input[str]
    exists: pulumi.Input[bool] | None = None
    in_values: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None
    not_in_values: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None


def _plain(value: Any) -> Any:
    """Typed arg classes to the dicts Pulumi serializes, also inside ``Output``s (Pulumi
    cannot serialize a dataclass that an ``Output`` resolves to)."""
    if isinstance(value, pulumi.Output):
        return value.apply(_plain)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not None
        }
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class BillableMetric(pulumi.dynamic.Resource, module="metronome", name="BillableMetric"):
    """A Metronome billable metric.

    ``name`` (the display name, default: the resource name) and ``custom_fields`` change in
    place; every other field is fixed by Metronome at creation, so changing it creates a
    new metric and then archives the old one. Destroying archives the metric.

    ``adopt_existing=True`` makes creation take over a live metric with the same name and
    definition instead of creating a duplicate (``pulumi import`` cannot work for dynamic
    resources); a namesake with another definition is an error.
    """

    name: pulumi.Output[str]
    aggregation_type: pulumi.Output[str | None]
    aggregation_key: pulumi.Output[str | None]
    event_type_filter: pulumi.Output[dict[str, Any] | None]
    property_filters: pulumi.Output[list[dict[str, Any]] | None]
    group_keys: pulumi.Output[list[list[str]] | None]
    sql: pulumi.Output[str | None]
    custom_fields: pulumi.Output[dict[str, str] | None]
    adopt_existing: pulumi.Output[bool]

    def __init__(
        self,
        resource_name: str,
        *,
        name: pulumi.Input[str] | None = None,
        aggregation_type: pulumi.Input[str] | None = None,
        aggregation_key: pulumi.Input[str] | None = None,
        event_type_filter: pulumi.Input[EventTypeFilterArgs | Mapping[str, Any]] | None = None,
        property_filters: pulumi.Input[
            Sequence[pulumi.Input[PropertyFilterArgs | Mapping[str, Any]]]
        ]
        | None = None,
        group_keys: pulumi.Input[Sequence[Sequence[str]]] | None = None,
        sql: pulumi.Input[str] | None = None,
        custom_fields: pulumi.Input[Mapping[str, pulumi.Input[str]]] | None = None,
        adopt_existing: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "name": resource_name if name is None else name,
            "aggregation_type": aggregation_type,
            "aggregation_key": aggregation_key,
            "event_type_filter": _plain(event_type_filter),
            "property_filters": _plain(property_filters),
            "group_keys": _plain(group_keys),
            "sql": sql,
            "custom_fields": _plain(custom_fields),
            ADOPT: adopt_existing,
        }
        super().__init__(BillableMetricProvider(), resource_name, props, opts)


class CustomFieldKey(pulumi.dynamic.Resource, module="metronome", name="CustomFieldKey"):
    """A key on the custom-field allow list of an entity kind (default ``billable_metric``).

    Metrics whose ``custom_fields`` use the key should ``depends_on`` it, so that the key
    exists before the values are set and is removed only after they are gone.
    """

    entity: pulumi.Output[str]
    key: pulumi.Output[str]
    enforce_uniqueness: pulumi.Output[bool]
    adopt_existing: pulumi.Output[bool]

    def __init__(
        self,
        resource_name: str,
        *,
        key: pulumi.Input[str] | None = None,
        entity: pulumi.Input[str] = "billable_metric",
        enforce_uniqueness: pulumi.Input[bool] = False,
        adopt_existing: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "entity": entity,
            "key": resource_name if key is None else key,
            "enforce_uniqueness": enforce_uniqueness,
            ADOPT: adopt_existing,
        }
        super().__init__(CustomFieldKeyProvider(), resource_name, props, opts)
