"""``CustomFieldKey``: its provider (check, diff, create, read, delete, side by side) and the
resource class a program declares. A key on an entity kind's custom-field allow list;
every change replaces it (Metronome has no update for keys).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult

from ..errors import AdoptionConflict, MetronomeError
from ..models import BILLABLE_METRIC_ENTITY, CustomFieldKeySpec, SpecError
from ..models import CustomFieldKey as LiveKey
from ._base import (
    ADOPT,
    RESOURCE_KEY,
    MetronomeProvider,
    check_failures,
    is_unknown,
    resource_of,
    stored,
    unexpected_arguments,
    validate_declaration,
)
from .diffs import DiffPlan, plan
from .ownership import Ownership

FIELDS: tuple[str, ...] = tuple(CustomFieldKeySpec.model_fields)
#: Which resource of this process's operation holds which key (``entity/key``).
KEYS = Ownership("custom field key")


class CustomFieldKeyProvider(MetronomeProvider):
    """A key on an entity kind's custom-field allow list. Every change replaces it."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = [
            CheckFailure(key, "is not an argument of CustomFieldKey")
            for key in unexpected_arguments(news, FIELDS)
        ]
        if any(is_unknown(news.get(k)) for k in FIELDS):
            return CheckResult(news, failures)
        try:
            spec = CustomFieldKeySpec.from_state(news)
        except SpecError as error:
            return CheckResult(news, failures + check_failures(error.violations))
        if failures:
            return CheckResult(news, failures)
        return CheckResult(self._outs(spec, news), [])

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return self.plan(id_, olds, news).result()

    def plan(self, id_: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> DiffPlan:
        """Every changed field replaces the key (both front ends)."""
        KEYS.see(id_, resource_of(news), "diff")
        replaces = sorted(f for f in FIELDS if olds.get(f) != news.get(f))
        # The same key cannot be on the list twice: remove the old one first.
        return plan(olds, news, replaces=replaces, updates=(), delete_before_replace=True)

    def create(self, props: dict[str, Any]) -> CreateResult:
        spec = CustomFieldKeySpec.from_state(props)
        resource = resource_of(props)
        # Adopting looks first: taking over a key as it is writes nothing (and works with a
        # read-only token, which addKey would refuse with a 403 rather than a duplicate 400).
        found = self._find(spec.entity, spec.key) if props.get(ADOPT) else None
        if found is not None and found.matches(spec):
            KEYS.adopt(resource, [(spec.id, True)], spec.id, AdoptionConflict)
            return CreateResult(spec.id, self._outs(spec, props))
        try:
            self.client.add_custom_field_key(spec)
        except MetronomeError as error:
            existing = self._find(spec.entity, spec.key) if error.status == 400 else None
            if existing is None:
                raise
            if not props.get(ADOPT) or not existing.matches(spec):
                raise AdoptionConflict(
                    f"custom field key {spec.key!r} already exists for {spec.entity} "
                    f"(enforce_uniqueness={existing.enforce_uniqueness}); set "
                    "adopt_existing=True with the same enforce_uniqueness to manage it"
                ) from None
            # A key held by another resource of this stack is refused, not shared. (Its own
            # earlier key is removed before a replacement is added: delete_before_replace.)
            KEYS.adopt(resource, [(spec.id, True)], spec.id, AdoptionConflict)
        else:
            KEYS.see(spec.id, resource, "create")
        return CreateResult(spec.id, self._outs(spec, props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        KEYS.see(id_, resource_of(props), "read")
        entity, key = _entity_and_key(id_, props)
        found = self._find(entity, key)
        if found is None:
            return ReadResult(None, {})
        spec = CustomFieldKeySpec.model_validate(found.model_dump())
        outs = self._outs(spec, props)
        return ReadResult(id_, outs, inputs=dict(outs))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        entity, key = _entity_and_key(id_, props)
        self.end(
            KEYS,
            id_,
            props,
            lambda _: self.client.remove_custom_field_key(entity, key),
            left="not removed",
        )

    @staticmethod
    def _outs(spec: CustomFieldKeySpec, props: dict[str, Any]) -> dict[str, Any]:
        return stored(spec.to_state(), props, ADOPT)

    def _find(self, entity: str, key: str) -> LiveKey | None:
        for item in self.client.list_custom_field_keys([entity]):
            if item.entity == entity and item.key == key:
                return item
        return None


def _entity_and_key(id_: str, props: Mapping[str, Any]) -> tuple[str, str]:
    """The key's entity and name: from the stored properties, else from the id
    (``<entity>/<key>``), as when ``pulumi import`` reads a key by its id alone."""
    entity, key = props.get("entity"), props.get("key")
    if isinstance(entity, str) and isinstance(key, str):
        return entity, key
    entity_part, _, key_part = id_.partition("/")
    return entity_part, key_part


def _validate(known: dict[str, Any], unknown: frozenset[str]) -> None:
    if not unknown:
        CustomFieldKeySpec.from_state(known)


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
        entity: pulumi.Input[str] = BILLABLE_METRIC_ENTITY,
        enforce_uniqueness: pulumi.Input[bool] = False,
        adopt_existing: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props: dict[str, Any] = {
            "entity": entity,
            "key": resource_name if key is None else key,
            "enforce_uniqueness": enforce_uniqueness,
        }
        invalid = validate_declaration("CustomFieldKey", resource_name, props, _validate)
        props[ADOPT] = adopt_existing
        # An invalid declaration passes the failing Output instead: never registered.
        props[RESOURCE_KEY] = resource_name if invalid is None else invalid
        super().__init__(CustomFieldKeyProvider(), resource_name, props, opts)
