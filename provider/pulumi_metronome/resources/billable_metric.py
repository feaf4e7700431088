"""``BillableMetric``: its argument classes, its provider (check, diff, create, read, update,
delete, side by side) and the resource class a program declares.

Rename and custom fields change in place; every other field is fixed by Metronome at
creation, so changing it creates a new metric, then archives the old one. Destroy archives.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, UpdateResult

from ..client import MetronomeClient
from ..errors import AdoptionConflict
from ..models import BILLABLE_METRIC_ENTITY as ENTITY
from ..models import (
    IMMUTABLE_FIELDS,
    MUTABLE_FIELDS,
    SPEC_FIELDS,
    BillableMetricSpec,
    SpecError,
    parse_metric_spec,
    state_fields,
)
from ..models import BillableMetric as LiveMetric
from ._base import (
    ADOPT,
    RESOURCE_KEY,
    MetronomeProvider,
    check_failures,
    found_or_none,
    is_unknown,
    plain,
    resource_of,
    stored,
    text_of,
    unexpected_arguments,
    validate_declaration,
)
from .diffs import DiffPlan, plan
from .ownership import Ownership

#: Which resource of this process's operation holds which metric id.
METRICS = Ownership("billable metric")
#: Metrics a refresh reads per list call (Metronome's maximum).
READ_PAGE_SIZE = 100


# --- arguments ----------------------------------------------------------------------------


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


# --- provider -----------------------------------------------------------------------------


def _check(news: Mapping[str, Any]) -> tuple[dict[str, Any], frozenset[str]]:
    """Validate a declaration (raises ``SpecError``); the stored inputs and unknown fields."""
    data = state_fields(news)
    unknown = frozenset(k for k, v in data.items() if is_unknown(v))
    spec = parse_metric_spec(data, unknown=unknown)
    inputs = spec.to_state()
    inputs.update({k: data[k] for k in unknown})
    return inputs, unknown


def _empty_as_none(value: Any) -> Any:
    return None if value in ({}, []) else value


class _Snapshot:
    """Every metric (archived ones too), listed once and shared by all the reads of one
    refresh: 200 metrics cost two list calls instead of 200 GETs."""

    def __init__(self, client: MetronomeClient) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._by_id: dict[str, LiveMetric] | None = None

    def get(self, metric_id: str) -> LiveMetric | None:
        with self._lock:
            if self._by_id is None:
                listed = self._client.list_billable_metrics(
                    include_archived=True, page_size=READ_PAGE_SIZE
                )
                self._by_id = {m.id: m for m in listed}
            found = self._by_id.get(metric_id)
        if found is not None:
            return found
        # Created after the listing, or an id the listing leaves out: ask for it alone.
        return found_or_none(self._client.get_billable_metric, metric_id)


class BillableMetricProvider(MetronomeProvider):
    """A Metronome billable metric: rename and custom fields in place, the rest replaces."""

    _snapshot: _Snapshot | None = None

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        extra = unexpected_arguments(news, SPEC_FIELDS)
        failures = [
            pulumi.dynamic.CheckFailure(key, "is not an argument of BillableMetric")
            for key in extra
        ]
        try:
            inputs, _ = _check(news)
        except SpecError as error:
            return CheckResult(news, failures + check_failures(error.violations))
        if failures:
            return CheckResult(news, failures)
        inputs[ADOPT] = bool(news.get(ADOPT) or False)
        if resource_of(news) is not None:
            inputs[RESOURCE_KEY] = news[RESOURCE_KEY]
        return CheckResult(inputs, [])

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return self.plan(id_, olds, news).result()

    def plan(self, id_: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> DiffPlan:
        """The diff, per field and per custom field (both front ends)."""
        METRICS.see(id_, resource_of(news), "diff", text_of(news, "name"))

        def differs(field: str) -> bool:
            return bool(_empty_as_none(olds.get(field)) != _empty_as_none(news.get(field)))

        return plan(
            olds,
            news,
            replaces=sorted(f for f in IMMUTABLE_FIELDS if differs(f)),
            updates=sorted(f for f in MUTABLE_FIELDS if differs(f)),
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        spec = BillableMetricSpec.from_state(props)
        resource = resource_of(props)
        metric_id = self._adopt(spec, resource) if props.get(ADOPT) else None
        if metric_id is None:
            metric_id = self.client.create_billable_metric(spec)
            METRICS.see(metric_id, resource, "create")
        return CreateResult(metric_id, self._outs(spec.to_state(), props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        METRICS.see(id_, resource_of(props), "read", text_of(props, "name"))
        metric = self._metrics().get(id_)
        if metric is None or metric.archived_at is not None:
            # Gone, or archived outside Pulumi: report it gone so the next `up` recreates it.
            return ReadResult(None, {})
        outs = self._outs(metric.to_state(), props)
        return ReadResult(id_, outs, inputs=dict(outs))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        spec = BillableMetricSpec.from_state(news)
        if olds.get("name") != spec.name:
            self.client.rename_billable_metric(id_, spec.name)
        self.sync_custom_fields(
            ENTITY, id_, olds.get("custom_fields") or {}, spec.custom_fields or {}
        )
        return UpdateResult(self._outs(spec.to_state(), news))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Archive: Metronome has no delete. Already archived or gone counts as deleted; a
        metric another resource took over in this run (a rename) is left to it."""
        self.end(METRICS, id_, props, self.client.archive_billable_metric)

    # ------------------------------------------------------------------------ helpers

    @staticmethod
    def _outs(state: dict[str, Any], props: Mapping[str, Any]) -> dict[str, Any]:
        return stored(state, props, ADOPT)

    def _metrics(self) -> _Snapshot:
        return self.once("_snapshot", lambda: _Snapshot(self.client))

    def _adopt(self, spec: BillableMetricSpec, resource: str | None) -> str | None:
        """The id of the live metric this declaration describes, if there is one.

        Same name and same definition: adopt it (and bring its custom fields in line).
        Same name, other definition: refuse, rather than create a look-alike duplicate.
        A metric another resource of this stack holds is never adopted (see ``ownership``).
        """
        namesakes = {m.id: m for m in self.client.list_billable_metrics() if m.name == spec.name}
        ours = spec.definition

        def mismatch(metric_id: str) -> AdoptionConflict:
            theirs = namesakes[metric_id].definition
            fields = sorted(f for f in theirs.keys() | ours.keys() if theirs.get(f) != ours.get(f))
            return AdoptionConflict(
                f"cannot adopt billable metric {spec.name!r} ({metric_id}): it exists with a "
                f"different definition ({', '.join(fields)} differ: live {theirs} vs declared "
                f"{ours}); declare it as it is, or give the new metric another name"
            )

        candidates = [(m.id, m.definition == ours) for m in namesakes.values()]
        metric_id = METRICS.adopt(resource, candidates, spec.name, mismatch)
        if metric_id is None:
            return None
        found = namesakes[metric_id]
        self.sync_custom_fields(
            ENTITY, metric_id, found.custom_fields or {}, spec.custom_fields or {}
        )
        return metric_id


# --- resource -----------------------------------------------------------------------------


def _validate(known: dict[str, Any], unknown: frozenset[str]) -> None:
    parse_metric_spec(state_fields(known), unknown=unknown)


class BillableMetric(pulumi.dynamic.Resource, module="metronome", name="BillableMetric"):
    """A Metronome billable metric.

    ``name`` (the display name, default: the resource name) and ``custom_fields`` change in
    place; every other field is fixed by Metronome at creation, so changing it creates a
    new metric and then archives the old one. Destroying archives the metric.

    ``adopt_existing=True`` makes creation take over a live metric with the same name and
    definition instead of creating a duplicate (``pulumi import`` cannot work for dynamic
    resources); a namesake with another definition is an error, and so is a metric another
    resource of the stack already holds.
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
        props: dict[str, Any] = {
            "name": resource_name if name is None else name,
            "aggregation_type": aggregation_type,
            "aggregation_key": aggregation_key,
            "event_type_filter": plain(event_type_filter),
            "property_filters": plain(property_filters),
            "group_keys": plain(group_keys),
            "sql": sql,
            "custom_fields": plain(custom_fields),
        }
        invalid = validate_declaration("BillableMetric", resource_name, props, _validate)
        props[ADOPT] = adopt_existing
        # An invalid declaration passes the failing Output instead: never registered.
        props[RESOURCE_KEY] = resource_name if invalid is None else invalid
        super().__init__(BillableMetricProvider(), resource_name, props, opts)
