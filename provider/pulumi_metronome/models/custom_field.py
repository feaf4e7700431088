"""Custom fields: the allow list of keys per entity kind, and the limits on values."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field, StrictBool, StrictStr

from .common import NonEmptyStr, Wire

#: Entity kinds Metronome accepts for custom fields (from the official SDK's types).
CustomFieldEntity = Literal[
    "alert", "billable_metric", "charge", "commit", "contract_credit", "contract_product",
    "contract", "credit_grant", "customer_plan", "customer", "discount", "invoice", "plan",
    "professional_service", "product", "rate_card", "scheduled_charge", "subscription",
    "package_commit", "package_credit", "package_subscription", "package_scheduled_charge",
]  # fmt: skip
CUSTOM_FIELD_ENTITIES: tuple[str, ...] = get_args(CustomFieldEntity)

CUSTOM_FIELD_KEY_MAX_LENGTH = 100
CUSTOM_FIELD_VALUE_MAX_LENGTH = 200

#: A custom field's value, as Metronome limits it.
CustomFieldValue = Annotated[StrictStr, Field(max_length=CUSTOM_FIELD_VALUE_MAX_LENGTH)]
#: A custom field's key on an object (the allow list is checked by Metronome, not here).
CustomFieldKeyName = Annotated[NonEmptyStr, Field(max_length=CUSTOM_FIELD_KEY_MAX_LENGTH)]
#: The ``custom_fields`` map of an object: key -> value.
CustomFields = dict[NonEmptyStr, CustomFieldValue]


class CustomFieldKeySpec(Wire):
    """A custom field key on an entity kind's allow list (``/v1/customFields/addKey``)."""

    entity: CustomFieldEntity
    key: CustomFieldKeyName
    enforce_uniqueness: StrictBool
