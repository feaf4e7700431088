"""Custom fields: the allow list of keys per entity kind, and the limits on values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, StrictBool, StrictStr, TypeAdapter

from .common import NonEmptyStr, Returned, Wire, parse_model

#: Entity kinds Metronome accepts for custom fields (from the official SDK's types).
CustomFieldEntity = Literal[
    "alert", "billable_metric", "charge", "commit", "contract_credit", "contract_product",
    "contract", "credit_grant", "customer_plan", "customer", "discount", "invoice", "plan",
    "professional_service", "product", "rate_card", "scheduled_charge", "subscription",
    "package_commit", "package_credit", "package_subscription", "package_scheduled_charge",
]  # fmt: skip
CUSTOM_FIELD_ENTITIES: tuple[str, ...] = get_args(CustomFieldEntity)
#: The entity kind of billable metrics, the one the provider and the local server hold.
BILLABLE_METRIC_ENTITY: CustomFieldEntity = "billable_metric"

CUSTOM_FIELD_KEY_MAX_LENGTH = 100
CUSTOM_FIELD_VALUE_MAX_LENGTH = 200

#: A custom field's value, as Metronome limits it.
CustomFieldValue = Annotated[StrictStr, Field(max_length=CUSTOM_FIELD_VALUE_MAX_LENGTH)]
#: A custom field's key on an object (the allow list is checked by Metronome, not here).
CustomFieldKeyName = Annotated[NonEmptyStr, Field(max_length=CUSTOM_FIELD_KEY_MAX_LENGTH)]
#: The ``custom_fields`` map of an object: key -> value.
CustomFields = dict[NonEmptyStr, CustomFieldValue]


#: The ``custom_fields`` map on its own, to validate one without the object around it.
CUSTOM_FIELDS = TypeAdapter(CustomFields)


class CustomFieldKeySpec(Wire):
    """A custom field key on an entity kind's allow list (``/v1/customFields/addKey``)."""

    entity: CustomFieldEntity
    """The kind of object the key is for."""
    key: CustomFieldKeyName
    """The custom field key (at most 100 characters)."""
    enforce_uniqueness: StrictBool
    """True: two objects of the kind cannot have the same value for this key."""

    @property
    def id(self) -> str:
        """The Pulumi resource id: ``<entity>/<key>`` (the pair is unique in Metronome)."""
        return f"{self.entity}/{self.key}"

    # --- Pulumi state -------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_state(cls, props: Mapping[str, Any]) -> CustomFieldKeySpec:
        """The key held in Pulumi inputs or state; unset arguments take their defaults."""
        data = {k: props[k] for k in cls.model_fields if props.get(k) is not None}
        data.setdefault("entity", BILLABLE_METRIC_ENTITY)
        data.setdefault("enforce_uniqueness", False)
        return parse_model(cls, data)


class CustomFieldKey(Returned):
    """A key as Metronome lists it, read tolerantly (an entity kind this version does not
    know yet still lists)."""

    entity: str
    key: str
    enforce_uniqueness: bool = False

    def matches(self, spec: CustomFieldKeySpec) -> bool:
        return (self.entity, self.key, self.enforce_uniqueness) == (
            spec.entity,
            spec.key,
            spec.enforce_uniqueness,
        )
