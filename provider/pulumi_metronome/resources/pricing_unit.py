"""``PricingUnit``: its provider (check, diff, create, read, delete, side by side) and the
resource class a program declares.

A custom pricing unit (Metronome's custom credit type, e.g. "compute credits"). Metronome
can create, list and archive a unit, never change one, so any change replaces it: a new
id, while rate cards and rates priced in the old unit keep it. That is refused at preview
unless ``allow_replace=True``. Destroy archives the unit. Refresh finds it in the list of
live units; an archived unit is no longer listed and reads as gone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult

from ..errors import AdoptionConflict
from ..models import PRICING_UNIT_FIELDS, PricingUnitSpec
from ._base import (
    ADOPT,
    ALLOW_REPLACE,
    RESOURCE_KEY,
    MetronomeProvider,
    parse_declaration,
    resource_of,
    stored,
    validate_declaration,
)
from .diffs import DiffPlan, plan
from .ownership import Ownership

UNITS = Ownership("pricing unit")


class PricingUnitProvider(MetronomeProvider):
    """A custom pricing unit: every change replaces it (with opt-in)."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        spec, failures = parse_declaration(
            "PricingUnit", news, PRICING_UNIT_FIELDS, PricingUnitSpec.from_state
        )
        if spec is None:
            return CheckResult(news, failures)
        old_name = olds.get("name")
        if isinstance(old_name, str) and old_name != spec.name and not news.get(ALLOW_REPLACE):
            failures.append(
                CheckFailure(
                    "name",
                    f"renaming pricing unit {old_name!r} to {spec.name!r} replaces it: "
                    "Metronome cannot change a pricing unit, so a new unit gets a new id, "
                    "while rate cards and rates priced in the old one keep it, and the old "
                    "one is archived. To do it safely, declare a new PricingUnit next to "
                    "this one, move the conversions and rates to it, then remove this one; "
                    "or set allow_replace=True to replace it.",
                )
            )
        if failures:
            return CheckResult(news, failures)
        return CheckResult(self._outs(spec, news), [])

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return self.plan(id_, olds, news).result()

    def plan(self, id_: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> DiffPlan:
        """Every changed field replaces the unit (both front ends)."""
        UNITS.see(id_, resource_of(news), "diff", str(news.get("name") or ""))
        replaces = sorted(f for f in PRICING_UNIT_FIELDS if olds.get(f) != news.get(f))
        return plan(olds, news, replaces=replaces, updates=())

    def create(self, props: dict[str, Any]) -> CreateResult:
        spec = PricingUnitSpec.from_state(props)
        resource = resource_of(props)
        unit_id = self._adopt(spec, resource) if props.get(ADOPT) else None
        if unit_id is None:
            unit_id = self.client.create_pricing_unit(spec)
            UNITS.see(unit_id, resource, "create")
        return CreateResult(unit_id, self._outs(spec, props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        UNITS.see(id_, resource_of(props), "read", str(props.get("name") or ""))
        found = next((u for u in self.client.list_pricing_units() if u.id == id_), None)
        if found is None or found.is_currency or found.name is None:
            # Archived (no longer listed), never there, or a fiat currency: not ours.
            return ReadResult(None, {})
        outs = self._outs(PricingUnitSpec(name=found.name), props)
        return ReadResult(id_, outs, inputs=dict(outs))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Archive (Metronome has no delete); already archived or gone counts as deleted."""
        self.end(UNITS, id_, props, self.client.archive_pricing_unit)

    @staticmethod
    def _outs(spec: PricingUnitSpec, props: Mapping[str, Any]) -> dict[str, Any]:
        return stored(spec.to_state(), props, ADOPT, ALLOW_REPLACE)

    def _adopt(self, spec: PricingUnitSpec, resource: str | None) -> str | None:
        """The live custom unit of this name, if there is one (a name is all a unit has,
        so a namesake is always the same definition)."""
        candidates = [
            (u.id, True)
            for u in self.client.list_pricing_units()
            if not u.is_currency and u.name == spec.name
        ]

        def conflict(unit_id: str) -> AdoptionConflict:
            return AdoptionConflict(f"cannot adopt pricing unit {spec.name!r} ({unit_id})")

        return UNITS.adopt(resource, candidates, spec.name, conflict)


def _validate(known: dict[str, Any], unknown: frozenset[str]) -> None:
    if "name" not in unknown:
        PricingUnitSpec.from_state(known)


class PricingUnit(pulumi.dynamic.Resource, module="metronome", name="PricingUnit"):
    """A custom pricing unit (a custom credit type, e.g. "compute credits") in which rates
    can be priced: a ``RateCard`` converts it to fiat with ``credit_type_conversions``
    (``custom_credit_type_id`` takes this unit's ``id``) and a rate priced in it sets
    ``credit_type_id`` to the unit's ``id``.

    Metronome cannot change a unit: any change replaces it (a new id) and is refused at
    preview unless ``allow_replace=True``. Destroying archives the unit.
    """

    name: pulumi.Output[str]
    allow_replace: pulumi.Output[bool]
    adopt_existing: pulumi.Output[bool]

    def __init__(
        self,
        resource_name: str,
        *,
        name: pulumi.Input[str] | None = None,
        allow_replace: bool = False,
        adopt_existing: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props: dict[str, Any] = {"name": resource_name if name is None else name}
        invalid = validate_declaration("PricingUnit", resource_name, props, _validate)
        props[ADOPT] = adopt_existing
        props[ALLOW_REPLACE] = allow_replace
        props[RESOURCE_KEY] = resource_name if invalid is None else invalid
        super().__init__(PricingUnitProvider(), resource_name, props, opts)
