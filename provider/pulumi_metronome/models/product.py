"""A Metronome product (``/v1/contract-pricing/products/*``): its fields and every rule.

A product is what appears on an invoice; a USAGE product prices one billable metric. Its
``type`` is fixed at creation; every other field changes through an update that takes
effect at ``starting_at`` (on an hour boundary), and Metronome keeps the history:
``initial``, ``updates[]`` and ``current`` (the latest update in effect now). The rules
that need no stored state are here, used by the provider's check and the local server;
the ones that need state (the metric exists, is live and carries the group keys) are
``metric_violations``, which the server runs with what it stored and the provider skips.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import AwareDatetime, Field, StrictBool, StrictStr, field_validator

from .common import NonEmptyStr, Returned, SpecError, Violation, Wire
from .custom_field import CustomFields
from .rules import Rule, Timestamp, on_hour, parse_with_rules

ProductType = Literal[
    "FIXED", "USAGE", "COMPOSITE", "SUBSCRIPTION", "PROFESSIONAL_SERVICE", "PRO_SERVICE"
]
PRODUCT_TYPES: tuple[str, ...] = get_args(ProductType)
#: ``PROFESSIONAL_SERVICE`` is accepted as another name of ``PRO_SERVICE``, the name
#: Metronome answers with (the SDK's response types know only ``PRO_SERVICE``).
TYPE_ALIASES: dict[str, str] = {"PROFESSIONAL_SERVICE": "PRO_SERVICE"}
HOUR_BOUNDARY_MESSAGE = "Product update effective at is required to be on an hour boundary"

#: A finite number (no NaN, no infinity), integers accepted; never a string or a bool.
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
#: A group key: property names, each once.
GroupKey = Annotated[list[NonEmptyStr], Field(min_length=1)]


class QuantityConversion(Wire):
    """Converts the metric's quantity before pricing (e.g. MB sent, GB priced)."""

    conversion_factor: Annotated[Number, Field(gt=0)]
    """The factor the quantity is multiplied or divided by (more than 0)."""
    operation: Literal["MULTIPLY", "DIVIDE"]
    """Whether the quantity is multiplied or divided by the factor."""
    name: StrictStr | None = None
    """A name for the conversion."""


class QuantityRounding(Wire):
    """Rounds the (converted) quantity before pricing."""

    decimal_places: Annotated[Number, Field(ge=0)]
    """How many decimal places to keep (a whole number, 0 or more)."""
    rounding_method: Literal["ROUND_UP", "ROUND_DOWN", "ROUND_HALF_UP"]
    """How to round: ROUND_UP, ROUND_DOWN or ROUND_HALF_UP."""

    @field_validator("decimal_places")
    @classmethod
    def _whole(cls, value: float) -> float:
        if value != int(value):
            raise ValueError("must be a whole number")
        return value


class _ProductFields(Wire):
    """The fields an update can change: all but ``type`` and ``custom_fields``."""

    billable_metric_id: NonEmptyStr | None = None
    """The billable metric a USAGE product prices (a ``BillableMetric``'s id)."""
    composite_product_ids: list[NonEmptyStr] | None = None
    """COMPOSITE products: the products whose charges the charge is computed from."""
    composite_tags: list[NonEmptyStr] | None = None
    """COMPOSITE products: tags selecting the products whose charges the charge is computed from."""
    exclude_free_usage: StrictBool | None = None
    """COMPOSITE products: leave free usage out of the computed charge."""
    include_composite_spend: StrictBool | None = None
    """COMPOSITE products: include the spend of other composite products."""
    is_refundable: StrictBool | None = None
    """Whether the product's charges can be refunded."""
    netsuite_internal_item_id: StrictStr | None = None
    """The product's item id in NetSuite."""
    netsuite_overage_item_id: StrictStr | None = None
    """USAGE and COMPOSITE products: the NetSuite item id of overage charges."""
    presentation_group_key: GroupKey | None = None
    """USAGE products: event properties whose values split the product's invoice lines; with
    ``pricing_group_key``, one compound group key of the metric."""
    pricing_group_key: GroupKey | None = None
    """USAGE products: event properties whose values select the price (a rate's
    ``pricing_group_values``); with ``presentation_group_key``, one compound group key of the
    metric."""
    quantity_conversion: QuantityConversion | None = None
    """USAGE products: converts the metric's quantity before pricing."""
    quantity_rounding: QuantityRounding | None = None
    """USAGE products: rounds the (converted) quantity before pricing."""
    sql_breakdown_granularity: Literal["HOUR", "SERVICE_PERIOD"] | None = None
    """USAGE products of a SQL metric: usage computed per HOUR or per SERVICE_PERIOD."""
    tags: list[NonEmptyStr] | None = None
    """Labels of the product (composite products select products by tag)."""

    @field_validator("presentation_group_key", "pricing_group_key")
    @classmethod
    def _each_once(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("names a property more than once")
        return value

    def group_key_union(self) -> list[str]:
        """The properties of the pricing and presentation group keys, pricing first."""
        out: list[str] = []
        for name in [*(self.pricing_group_key or []), *(self.presentation_group_key or [])]:
            if name not in out:
                out.append(name)
        return out


class ProductSpec(_ProductFields):
    """A product as declared: the body of ``POST /v1/contract-pricing/products/create``."""

    name: NonEmptyStr
    """The product's name, as invoices show it; changes in place."""
    type: ProductType
    """What the product charges for: FIXED, USAGE, COMPOSITE, SUBSCRIPTION or PRO_SERVICE
    (PROFESSIONAL_SERVICE is another name of it). Fixed at creation: a change replaces the
    product."""
    custom_fields: CustomFields | None = None
    """Custom field values by key (entity ``contract_product``); change in place."""

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("type")
    @classmethod
    def _one_name_per_type(cls, value: str) -> str:
        return TYPE_ALIASES.get(value, value)

    def create_body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    def state(self) -> dict[str, Any]:
        """The fields an update can change, as set (``name`` included)."""
        return self.model_dump(mode="json", exclude_none=True, include=set(UPDATABLE_FIELDS))

    def to_state(self) -> dict[str, Any]:
        """The stored form (Pulumi inputs and outputs): every field present, None when
        unset, no empty custom fields, so that equivalent declarations store the same."""
        out = self.model_dump(mode="json")
        out["custom_fields"] = self.custom_fields or None
        return out

    @classmethod
    def from_state(cls, props: Mapping[str, Any]) -> ProductSpec:
        return parse_product_spec(product_fields(props))


class ProductUpdate(_ProductFields):
    """The body of ``POST /v1/contract-pricing/products/update``: omitted fields keep
    their value; ``starting_at`` in the past applies retroactively."""

    product_id: NonEmptyStr
    starting_at: Timestamp
    name: NonEmptyStr | None = None

    @field_validator("starting_at")
    @classmethod
    def _on_the_hour(cls, value: Any) -> Any:
        if not on_hour(value):
            raise ValueError(HOUR_BOUNDARY_MESSAGE)
        return value

    def changes(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True, include=set(UPDATABLE_FIELDS))


#: Fields only some product types take (from the SDK's field documentation).
TYPE_SPECIFIC_FIELDS: dict[str, frozenset[str]] = {
    "billable_metric_id": frozenset({"USAGE"}),
    "presentation_group_key": frozenset({"USAGE"}),
    "pricing_group_key": frozenset({"USAGE"}),
    "quantity_conversion": frozenset({"USAGE"}),
    "quantity_rounding": frozenset({"USAGE"}),
    "sql_breakdown_granularity": frozenset({"USAGE"}),
    "composite_product_ids": frozenset({"COMPOSITE"}),
    "composite_tags": frozenset({"COMPOSITE"}),
    "exclude_free_usage": frozenset({"COMPOSITE"}),
    "include_composite_spend": frozenset({"COMPOSITE"}),
    "netsuite_overage_item_id": frozenset({"USAGE", "COMPOSITE"}),
}
#: Fields an update changes in place (``type`` never changes; custom fields have their
#: own endpoints).
UPDATABLE_FIELDS: frozenset[str] = frozenset(_ProductFields.model_fields) | {"name"}
IMMUTABLE_FIELDS: frozenset[str] = frozenset({"type"})
assert set(ProductSpec.model_fields) == UPDATABLE_FIELDS | IMMUTABLE_FIELDS | {"custom_fields"}


SPEC_FIELDS: tuple[str, ...] = tuple(ProductSpec.model_fields)


def product_fields(props: Mapping[str, Any]) -> dict[str, Any]:
    """The product's fields out of Pulumi inputs or state (unset ones and Pulumi's own keys
    left out)."""
    return {k: props[k] for k in SPEC_FIELDS if props.get(k) is not None}


def type_violations(product_type: str, present: Iterable[str]) -> list[Violation]:
    """Fields given that ``product_type`` does not take."""
    kind = TYPE_ALIASES.get(product_type, product_type)
    out = []
    for field in sorted(set(present) & set(TYPE_SPECIFIC_FIELDS)):
        allowed = TYPE_SPECIFIC_FIELDS[field]
        if kind not in allowed:
            which = " and ".join(sorted(allowed))
            out.append(Violation(field, f"is only valid for {which} products, not {kind}"))
    return out


def required_violations(product_type: str, state: Mapping[str, Any]) -> list[Violation]:
    """What a product of ``product_type`` must have (``state``: its fields as set)."""
    kind = TYPE_ALIASES.get(product_type, product_type)
    if kind == "USAGE" and not state.get("billable_metric_id"):
        return [Violation("billable_metric_id", "is required for USAGE products")]
    if kind == "COMPOSITE" and not (
        state.get("composite_product_ids") or state.get("composite_tags")
    ):
        return [
            Violation(
                "composite_product_ids",
                "composite_product_ids or composite_tags is required for COMPOSITE products",
            )
        ]
    return []


def metric_violations(
    state: Mapping[str, Any], metric: Mapping[str, Any] | None, *, metric_id: str
) -> list[Violation]:
    """A USAGE product's metric must exist, be live, and carry the union of its pricing and
    presentation group keys as one compound group key (any order)."""
    if metric is None:
        return [Violation("billable_metric_id", f"billable metric {metric_id} not found")]
    if metric.get("archived_at"):
        return [Violation("billable_metric_id", f"billable metric {metric_id} is archived")]
    union = _union(state)
    if not union:
        return []
    keys = [set(key) for key in metric.get("group_keys") or []]
    if set(union) in keys:
        return []
    field = "pricing_group_key" if state.get("pricing_group_key") else "presentation_group_key"
    return [
        Violation(
            field,
            f"the union of pricing_group_key and presentation_group_key {union} must be "
            f"one compound group key of billable metric {metric_id} (its group keys: "
            f"{metric.get('group_keys') or []})",
        )
    ]


def _union(state: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for name in [
        *(state.get("pricing_group_key") or []),
        *(state.get("presentation_group_key") or []),
    ]:
        if name not in out:
            out.append(name)
    return out


def _type_fields(spec: ProductSpec, present: set[str]) -> list[Violation]:
    return type_violations(spec.type, present)


def _type_requirements(spec: ProductSpec, present: set[str]) -> list[Violation]:
    return required_violations(spec.type, spec.state())


_PRODUCT_RULES: list[tuple[frozenset[str], Rule[ProductSpec]]] = [
    (frozenset({"type"}), _type_fields),
    (
        frozenset({"type", "billable_metric_id", "composite_product_ids", "composite_tags"}),
        _type_requirements,
    ),
]


def parse_product_spec(
    data: Mapping[str, Any], *, unknown: frozenset[str] = frozenset()
) -> ProductSpec:
    """Validate a create body or declaration; raise ``SpecError`` listing every problem.

    Fields named in ``unknown`` (not known yet at preview) are left out and the rules that
    read them are skipped.
    """
    return parse_with_rules(
        ProductSpec,
        data,
        _PRODUCT_RULES,
        unknown=unknown,
        placeholders={"name": "-", "type": "FIXED"},
    )


def parse_product_update(data: Mapping[str, Any]) -> ProductUpdate:
    """Validate an update body (the type rules need the stored product: the server's)."""
    return parse_with_rules(
        ProductUpdate,
        data,
        [],
        placeholders={"product_id": "-", "starting_at": "2000-01-01T00:00:00Z"},
    )


# --- what Metronome answers ----------------------------------------------------------------


class _ReturnedFields(Returned):
    billable_metric_id: str | None = None
    composite_product_ids: list[str] | None = None
    composite_tags: list[str] | None = None
    exclude_free_usage: bool | None = None
    include_composite_spend: bool | None = None
    is_refundable: bool | None = None
    netsuite_internal_item_id: str | None = None
    netsuite_overage_item_id: str | None = None
    presentation_group_key: list[str] | None = None
    pricing_group_key: list[str] | None = None
    quantity_conversion: dict[str, Any] | None = None
    quantity_rounding: dict[str, Any] | None = None
    sql_breakdown_granularity: str | None = None
    tags: list[str] | None = None
    created_at: AwareDatetime
    created_by: str
    starting_at: AwareDatetime | None = None


class ProductState(_ReturnedFields):
    """``initial`` / ``current``: the product's fields at a point of its history."""

    name: str

    def fields(self) -> dict[str, Any]:
        """The declared fields this state has (those an update can change)."""
        return self.model_dump(mode="json", exclude_none=True, include=set(UPDATABLE_FIELDS))


class ProductStateUpdate(_ReturnedFields):
    """One entry of ``updates[]``: the fields that update set."""

    name: str | None = None


class Product(Returned):
    """A product as Metronome returns it (get, list).

    ``scheduled()`` is what the product will be once every update already sent has taken
    effect: ``current`` plus the updates that start later. A change the provider sent
    for the next hour is then not mistaken for drift while it waits for its hour.
    """

    id: str
    type: str
    initial: ProductState
    current: ProductState
    updates: list[ProductStateUpdate] = Field(default_factory=list)
    archived_at: AwareDatetime | None = None
    custom_fields: dict[str, str] | None = None

    def scheduled(self) -> dict[str, Any]:
        """The updatable fields as they will be once every pending update took effect."""
        fields = self.current.fields()
        now = datetime.now(UTC)
        pending = [u for u in self.updates if u.starting_at is not None and u.starting_at > now]
        for update in sorted(pending, key=lambda u: u.starting_at or now):
            fields.update(
                update.model_dump(mode="json", exclude_none=True, include=set(UPDATABLE_FIELDS))
            )
        return fields

    def to_state(self) -> dict[str, Any]:
        """The product as Pulumi stores it (the declared form; see ``ProductSpec.to_state``)."""
        data = {**self.scheduled(), "type": self.type, "custom_fields": self.custom_fields}
        try:
            return ProductSpec.from_state(data).to_state()
        except SpecError:
            # A shape this version's rules refuse: keep it as read, the diff shows it.
            return {k: data.get(k) for k in SPEC_FIELDS}
