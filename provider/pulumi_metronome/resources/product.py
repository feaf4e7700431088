"""``Product``: its argument classes, its provider (check, diff, create, read, update,
delete, side by side) and the resource class a program declares.

Metronome fixes a product's ``type`` at creation; every other field changes through an
update that takes effect at a ``starting_at`` on an hour boundary, and custom fields
change through their own endpoints. So:

- ``type`` changes replace the product (a new id: contracts and rate cards keep pointing
  at the old one). That fails at preview unless ``allow_replace=True``.
- Any other field changes in place, from ``update_starting_at`` when given, else from the
  **next whole hour (UTC)**: never retroactive by default, so what was already metered
  and billed under the old definition stays as it was. A ``update_starting_at`` in the
  past is an explicit request to rewrite history, and Metronome applies it so.
- A field that was set cannot be unset in place (Metronome keeps the last value of an
  omitted field); list fields (``tags``, ``composite_*``) are cleared by an empty list.
- Destroy archives the product (Metronome has no delete). Refresh reads ``current`` plus
  the updates already scheduled for later, so a change waiting for its hour is not drift.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pulumi
import pulumi.dynamic
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    UpdateResult,
)

from ..errors import AdoptionConflict
from ..models import (
    UPDATABLE_FIELDS,
    ProductSpec,
    ProductUpdate,
    SpecError,
    on_hour,
    parse_product_spec,
    product_fields,
)
from ..models.product import SPEC_FIELDS
from ._base import (
    ADOPT,
    ALLOW_REPLACE,
    RESOURCE_KEY,
    MetronomeProvider,
    check_failures,
    found_or_none,
    is_unknown,
    plain,
    resource_of,
    stored,
    unexpected_arguments,
    validate_declaration,
)
from .diffs import DiffPlan, plan
from .ownership import Ownership

#: Custom fields of contract products live under this entity kind.
ENTITY = "contract_product"
PRODUCTS = Ownership("product")
STARTING_AT = "update_starting_at"
#: Arguments that steer the provider; never sent to Metronome, never a reason to update.
CONTROLS = (ALLOW_REPLACE, STARTING_AT)
#: Fields whose value Metronome can set back to "nothing" with an empty list.
CLEARABLE = frozenset({"tags", "composite_product_ids", "composite_tags"})


@dataclasses.dataclass(frozen=True)
class QuantityConversionArgs:
    """Converts the metric's quantity before pricing (e.g. MB sent, GB priced)."""

    conversion_factor: pulumi.Input[float]
    operation: pulumi.Input[str]
    name: pulumi.Input[str] | None = None


@dataclasses.dataclass(frozen=True)
class QuantityRoundingArgs:
    """Rounds the quantity before pricing: ROUND_UP, ROUND_DOWN or ROUND_HALF_UP."""

    decimal_places: pulumi.Input[int]
    rounding_method: pulumi.Input[str]


def next_hour(now: datetime | None = None) -> datetime:
    """The default ``starting_at`` of a product update: the next whole hour (UTC), or now
    when now is exactly on the hour."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    floor = now.replace(minute=0, second=0, microsecond=0)
    return floor if floor == now else floor + timedelta(hours=1)


def _check(news: Mapping[str, Any]) -> tuple[dict[str, Any], frozenset[str]]:
    data = product_fields(news)
    unknown = frozenset(k for k, v in data.items() if is_unknown(v))
    spec = parse_product_spec(data, unknown=unknown)
    inputs = spec.to_state()
    inputs.update({k: data[k] for k in unknown})
    return inputs, unknown


def _starting_at(value: Any) -> list[CheckFailure]:
    if value is None or is_unknown(value):
        return []
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return [CheckFailure(STARTING_AT, f"{value!r} is not an RFC 3339 timestamp")]
    if parsed.tzinfo is None:
        return [CheckFailure(STARTING_AT, "needs a time zone, e.g. 2027-01-01T00:00:00Z")]
    if not on_hour(parsed):
        return [
            CheckFailure(
                STARTING_AT, "must be on an hour boundary (Metronome's rule for product updates)"
            )
        ]
    return []


def _differs(olds: Mapping[str, Any], news: Mapping[str, Any], field: str) -> bool:
    def norm(value: Any) -> Any:
        return None if value in ({}, []) else value

    return bool(norm(olds.get(field)) != norm(news.get(field)))


class ProductProvider(MetronomeProvider):
    """A Metronome product: ``type`` replaces (with opt-in); the rest changes in place."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        extra = unexpected_arguments(news, (*SPEC_FIELDS, *CONTROLS))
        failures = [CheckFailure(k, "is not an argument of Product") for k in extra]
        failures += _starting_at(news.get(STARTING_AT))
        try:
            inputs, unknown = _check(news)
        except SpecError as error:
            return CheckResult(news, failures + check_failures(error.violations))
        if olds and product_fields(olds):
            failures += self._safety(olds, inputs, news, unknown)
        if failures:
            return CheckResult(news, failures)
        inputs[ADOPT] = bool(news.get(ADOPT) or False)
        inputs[ALLOW_REPLACE] = bool(news.get(ALLOW_REPLACE) or False)
        inputs[STARTING_AT] = news.get(STARTING_AT)
        if resource_of(news) is not None:
            inputs[RESOURCE_KEY] = news[RESOURCE_KEY]
        return CheckResult(inputs, [])

    @staticmethod
    def _safety(
        olds: Mapping[str, Any],
        inputs: Mapping[str, Any],
        news: Mapping[str, Any],
        unknown: frozenset[str],
    ) -> list[CheckFailure]:
        """The changes that cannot happen silently: a replacement, an unset field."""
        failures = []
        retyped = "type" not in unknown and olds.get("type") != inputs.get("type")
        if retyped and not news.get(ALLOW_REPLACE):
            failures.append(
                CheckFailure(
                    "type",
                    f"changing type from {olds.get('type')} to {inputs.get('type')} "
                    "replaces the product: a new product id, and contracts and rate "
                    "cards keep pointing at the old one, which is archived. To do it "
                    "safely, declare a new Product next to this one, move rates to it, "
                    "then remove this one; or set allow_replace=True to replace it.",
                )
            )
        for field in sorted(UPDATABLE_FIELDS - CLEARABLE - unknown):
            if olds.get(field) not in (None, [], {}) and inputs.get(field) is None:
                failures.append(
                    CheckFailure(
                        field,
                        "cannot be unset in place: Metronome keeps a product field's last "
                        "value when an update omits it; declare the value to keep, or a new "
                        "one",
                    )
                )
        return failures

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return self.plan(id_, olds, news).result()

    def plan(self, id_: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> DiffPlan:
        """The diff, per field and per custom field (both front ends)."""
        PRODUCTS.see(id_, resource_of(news), "diff", str(news.get("name") or ""))
        replaces = ["type"] if _differs(olds, news, "type") else []
        updates = sorted(f for f in (*UPDATABLE_FIELDS, "custom_fields") if _differs(olds, news, f))
        return plan(olds, news, replaces=replaces, updates=updates)

    def create(self, props: dict[str, Any]) -> CreateResult:
        spec = ProductSpec.from_state(props)
        resource = resource_of(props)
        product_id = self._adopt(spec, resource) if props.get(ADOPT) else None
        if product_id is None:
            product_id = self.client.create_product(spec)
            PRODUCTS.see(product_id, resource, "create")
        return CreateResult(product_id, self._outs(spec.to_state(), props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        PRODUCTS.see(id_, resource_of(props), "read", str(props.get("name") or ""))
        product = found_or_none(self.client.get_product, id_)
        if product is None or product.archived_at is not None:
            return ReadResult(None, {})
        outs = self._outs(product.to_state(), props)
        return ReadResult(id_, outs, inputs=dict(outs))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        spec = ProductSpec.from_state(news)
        state = spec.to_state()
        changed = {
            f: state[f] if state[f] is not None else []
            for f in sorted(UPDATABLE_FIELDS)
            if _differs(olds, state, f)
        }
        if changed:
            starting_at = news.get(STARTING_AT) or next_hour().isoformat()
            self.client.update_product(
                ProductUpdate.model_validate(
                    {"product_id": id_, "starting_at": starting_at, **changed}
                )
            )
        self.sync_custom_fields(
            ENTITY, id_, olds.get("custom_fields") or {}, spec.custom_fields or {}
        )
        return UpdateResult(self._outs(state, news))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Archive (Metronome has no delete); already archived or gone counts as deleted."""
        self.end(PRODUCTS, id_, props, self.client.archive_product)

    # ------------------------------------------------------------------------ helpers

    @staticmethod
    def _outs(state: dict[str, Any], props: Mapping[str, Any]) -> dict[str, Any]:
        return stored({**state, STARTING_AT: props.get(STARTING_AT)}, props, ADOPT, ALLOW_REPLACE)

    def _adopt(self, spec: ProductSpec, resource: str | None) -> str | None:
        """The live product with this name, type and fields, if there is one."""
        ours = {k: v for k, v in spec.to_state().items() if k != "custom_fields"}
        namesakes = {
            p.id: {k: v for k, v in p.to_state().items() if k != "custom_fields"}
            for p in self.client.list_products()
            if p.current.name == spec.name
        }

        def mismatch(product_id: str) -> AdoptionConflict:
            theirs = namesakes[product_id]
            fields = sorted(f for f in theirs.keys() | ours.keys() if theirs.get(f) != ours.get(f))
            return AdoptionConflict(
                f"cannot adopt product {spec.name!r} ({product_id}): it exists with other "
                f"values ({', '.join(fields)} differ: live "
                f"{ {f: theirs.get(f) for f in fields} } vs declared "
                f"{ {f: ours.get(f) for f in fields} }); declare it as it is, or give the new "
                "product another name"
            )

        candidates = [(pid, fields == ours) for pid, fields in namesakes.items()]
        product_id = PRODUCTS.adopt(resource, candidates, spec.name, mismatch)
        if product_id is None:
            return None
        live = self.client.get_product(product_id)
        self.sync_custom_fields(
            ENTITY, product_id, live.custom_fields or {}, spec.custom_fields or {}
        )
        return product_id


# --- resource -----------------------------------------------------------------------------


def _validate(known: dict[str, Any], unknown: frozenset[str]) -> None:
    parse_product_spec(product_fields(known), unknown=unknown)


class Product(pulumi.dynamic.Resource, module="metronome", name="Product"):
    """A Metronome product: what appears on an invoice.

    ``type`` is fixed at creation: changing it replaces the product and is refused at
    preview unless ``allow_replace=True``. Every other field changes in place through a
    product update effective at ``update_starting_at`` (on an hour boundary), by default
    the next whole hour (UTC), so a change never rewrites the past unless asked to.
    ``custom_fields`` change in place. Destroying archives the product.
    ``billable_metric_id`` takes a ``BillableMetric``'s ``id``.
    """

    name: pulumi.Output[str]
    type: pulumi.Output[str]
    billable_metric_id: pulumi.Output[str | None]
    pricing_group_key: pulumi.Output[list[str] | None]
    presentation_group_key: pulumi.Output[list[str] | None]
    tags: pulumi.Output[list[str] | None]
    custom_fields: pulumi.Output[dict[str, str] | None]

    def __init__(
        self,
        resource_name: str,
        *,
        type: pulumi.Input[str],
        name: pulumi.Input[str] | None = None,
        billable_metric_id: pulumi.Input[str] | None = None,
        composite_product_ids: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None,
        composite_tags: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None,
        exclude_free_usage: pulumi.Input[bool] | None = None,
        include_composite_spend: pulumi.Input[bool] | None = None,
        is_refundable: pulumi.Input[bool] | None = None,
        netsuite_internal_item_id: pulumi.Input[str] | None = None,
        netsuite_overage_item_id: pulumi.Input[str] | None = None,
        presentation_group_key: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None,
        pricing_group_key: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None,
        quantity_conversion: pulumi.Input[QuantityConversionArgs | Mapping[str, Any]] | None = None,
        quantity_rounding: pulumi.Input[QuantityRoundingArgs | Mapping[str, Any]] | None = None,
        sql_breakdown_granularity: pulumi.Input[str] | None = None,
        tags: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None,
        custom_fields: pulumi.Input[Mapping[str, pulumi.Input[str]]] | None = None,
        update_starting_at: str | None = None,
        allow_replace: bool = False,
        adopt_existing: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props: dict[str, Any] = {
            "name": resource_name if name is None else name,
            "type": type,
            "billable_metric_id": billable_metric_id,
            "composite_product_ids": plain(composite_product_ids),
            "composite_tags": plain(composite_tags),
            "exclude_free_usage": exclude_free_usage,
            "include_composite_spend": include_composite_spend,
            "is_refundable": is_refundable,
            "netsuite_internal_item_id": netsuite_internal_item_id,
            "netsuite_overage_item_id": netsuite_overage_item_id,
            "presentation_group_key": plain(presentation_group_key),
            "pricing_group_key": plain(pricing_group_key),
            "quantity_conversion": plain(quantity_conversion),
            "quantity_rounding": plain(quantity_rounding),
            "sql_breakdown_granularity": sql_breakdown_granularity,
            "tags": plain(tags),
            "custom_fields": plain(custom_fields),
        }
        invalid = validate_declaration("Product", resource_name, props, _validate)
        props[ADOPT] = adopt_existing
        props[ALLOW_REPLACE] = allow_replace
        props[STARTING_AT] = update_starting_at
        props[RESOURCE_KEY] = resource_name if invalid is None else invalid
        super().__init__(ProductProvider(), resource_name, props, opts)
