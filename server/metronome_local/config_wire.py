"""Wire shapes of the pricing unit, alert and notification endpoints beyond the shared
models, shaped like the official SDK's types (``metronome.types.v1.pricing_unit_*``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, StrictBool

from pulumi_metronome.models import (
    AlertSpec,
    NonEmptyStr,
    NotificationEdit,
    NotificationSpec,
    PricingUnitSpec,
    ProductOrderBody,
    Wire,
)


class PricingUnitItem(BaseModel):
    """One unit as listed (``PricingUnitListResponse``)."""

    id: str
    name: str
    is_currency: bool


class PricingUnitPage(BaseModel):
    data: list[PricingUnitItem]
    next_page: str | None


class ArchiveAlertBody(Wire):
    """``AlertArchiveParams``."""

    id: NonEmptyStr
    release_uniqueness_key: StrictBool | None = None


class CustomerAlertBody(Wire):
    """``AlertRetrieveParams`` (the filters it also takes are accepted, not applied)."""

    alert_id: NonEmptyStr
    customer_id: NonEmptyStr
    alert_specifiers: list[dict[str, Any]] | None = None
    group_values: list[dict[str, Any]] | None = None
    plans_or_contracts: Literal["PLANS", "CONTRACTS"] | None = None
    seat_filter: dict[str, Any] | None = None


class CreditTypeData(BaseModel):
    id: str
    name: str


class CustomerAlertItem(BaseModel):
    """``CustomerAlert.alert``: the fields every alert has (the rest as created)."""

    id: str
    name: str
    status: Literal["enabled", "archived", "disabled"]
    threshold: float
    type: str
    updated_at: str
    credit_type: CreditTypeData | None = None
    uniqueness_key: str | None = None


class CustomerAlertData(BaseModel):
    alert: CustomerAlertItem
    customer_status: Literal["ok", "in_alarm", "evaluating"] | None


class CustomerAlertEnvelope(BaseModel):
    data: CustomerAlertData


class ListNotificationsBody(Wire):
    """``OffsetListParams``."""

    archive_filter: Literal["ARCHIVED", "NOT_ARCHIVED", "ALL"] | None = None
    cursor: str | None = None
    limit: float | None = Field(default=None, ge=1, le=400)


class NotificationPolicyOut(BaseModel):
    offset: str
    type: str


class NotificationConfig(BaseModel):
    """``LifecycleEventOffsetNotificationConfig``."""

    id: str
    name: str
    policy: NotificationPolicyOut
    type: str
    environment_type: str
    created_at: str
    created_by: str
    archived_at: str | None = None


class NotificationEnvelope(BaseModel):
    data: NotificationConfig


class NotificationPage(BaseModel):
    data: list[NotificationConfig]
    cursor: str | None


REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    PricingUnitSpec,
    AlertSpec,
    ArchiveAlertBody,
    CustomerAlertBody,
    NotificationSpec,
    NotificationEdit,
    ListNotificationsBody,
    ProductOrderBody,
)
RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    PricingUnitPage,
    CustomerAlertEnvelope,
    NotificationEnvelope,
    NotificationPage,
)
