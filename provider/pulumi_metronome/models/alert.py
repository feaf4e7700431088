"""A threshold notification ("alert", ``/v1/alerts/*``): its fields and every rule the
official SDK's types state (``metronome.types.v1.AlertCreateParams``).

Metronome can create and archive an alert, never change one, so any change replaces it.
``uniqueness_key`` makes a create that is sent again (after a lost answer, a crash) fail
with 409 instead of making a second alert. An alert is read through one customer's view
(``POST /v1/customer-alerts/get``, ``CustomerAlert.alert``), which returns every field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, StrictBool, StrictStr

from .common import NonEmptyStr, Returned, Violation, Wire
from .product import Number
from .rules import Rule, parse_with_rules

AlertType = Literal[
    "low_credit_balance_reached",
    "spend_threshold_reached",
    "monthly_invoice_total_spend_threshold_reached",
    "low_remaining_days_in_plan_reached",
    "low_remaining_credit_percentage_reached",
    "usage_threshold_reached",
    "low_remaining_days_for_commit_segment_reached",
    "low_remaining_commit_balance_reached",
    "low_remaining_commit_percentage_reached",
    "low_remaining_days_for_contract_credit_segment_reached",
    "low_remaining_contract_credit_balance_reached",
    "low_remaining_contract_credit_percentage_reached",
    "low_remaining_contract_credit_and_commit_balance_reached",
    "low_remaining_contract_credit_and_commit_percentage_reached",
    "invoice_total_reached",
    "low_remaining_seat_balance_reached",
]
ALERT_TYPES: tuple[str, ...] = get_args(AlertType)
AlertAccessType = Literal["SPEND", "QUANTITY"]
AlertFilterEntity = Literal["Contract", "Commit", "ContractCredit", "ContractCreditOrCommit"]
#: An alert's ``uniqueness_key``: Metronome documents no limit; 1 to 128 characters here.
UniquenessKey = Annotated[StrictStr, Field(min_length=1, max_length=128)]

#: Which alert types take a field, as the SDK's field documentation states it.
_ACCESS_TYPE_TYPES = frozenset(
    {
        "low_remaining_commit_balance_reached",
        "low_remaining_commit_percentage_reached",
        "low_remaining_contract_credit_and_commit_balance_reached",
        "low_remaining_contract_credit_and_commit_percentage_reached",
        "low_remaining_contract_credit_balance_reached",
        "low_remaining_contract_credit_percentage_reached",
        "low_remaining_seat_balance_reached",
    }
)
TYPE_SPECIFIC_FIELDS: dict[str, frozenset[str]] = {
    "access_type": _ACCESS_TYPE_TYPES,
    "alert_specifiers": frozenset(
        {
            "low_remaining_contract_credit_and_commit_balance_reached",
            "low_remaining_contract_credit_and_commit_percentage_reached",
        }
    ),
    "billable_metric_id": frozenset({"usage_threshold_reached"}),
    "credit_grant_type_filters": frozenset(
        {"low_credit_balance_reached", "low_remaining_credit_percentage_reached"}
    ),
    "group_values": frozenset({"spend_threshold_reached"}),
    "invoice_types_filter": frozenset({"invoice_total_reached"}),
    "seat_filter": frozenset({"low_remaining_seat_balance_reached"}),
}
#: Fields an alert type cannot do without.
REQUIRED_FOR_TYPE: dict[str, str] = {
    "usage_threshold_reached": "billable_metric_id",
    "low_remaining_seat_balance_reached": "seat_filter",
}


class AlertCustomFieldFilter(Wire):
    """Scopes the alert to contracts, commits or credits with a custom field value."""

    entity: AlertFilterEntity
    """The kind of object the custom field is on: Contract, Commit, ContractCredit or
    ContractCreditOrCommit."""
    key: NonEmptyStr
    """The custom field key."""
    value: StrictStr
    """The custom field value."""


class AlertSpecifierFilter(Wire):
    """A custom field filter of an alert specifier (its value may be left out)."""

    entity: AlertFilterEntity
    """The kind of object the custom field is on."""
    key: NonEmptyStr
    """The custom field key."""
    value: StrictStr | None = None
    """The custom field value (any value when left out)."""


class AlertSpecifierExclude(Wire):
    """Balances matching these filters are left out of the specifier."""

    custom_field_filters: list[AlertCustomFieldFilter] | None = None
    """The custom field filters of the balances to leave out."""


class AlertSpecifier(Wire):
    """Which commits and credits count towards the remaining balance or percentage."""

    custom_field_filters: list[AlertSpecifierFilter] | None = None
    """The custom field filters of the commits and credits that count."""
    exclude: list[AlertSpecifierExclude] | None = None
    """Balances matching the filters above that are left out anyway."""


class AlertGroupValue(Wire):
    """Scopes a spend alert to a group key (and value) of individual line items."""

    key: NonEmptyStr
    """The group key."""
    value: StrictStr | None = None
    """The group value (every value when left out)."""


class AlertSeatFilter(Wire):
    """Scopes a seat balance alert to a seat group key (and value)."""

    seat_group_key: NonEmptyStr
    """The seat group key (e.g. "seat_id", "user_id")."""
    seat_group_value: StrictStr | None = None
    """The seat the alert is scoped to (every seat when left out)."""


class AlertSpec(Wire):
    """An alert as declared: the body of ``POST /v1/alerts/create``."""

    alert_type: AlertType
    """What the alert watches (e.g. ``spend_threshold_reached``, ``usage_threshold_reached``,
    ``low_remaining_commit_balance_reached``)."""
    name: NonEmptyStr
    """The alert's name."""
    threshold: Number
    """The threshold: an amount, a number of days or a percentage, by alert type."""
    access_type: AlertAccessType | None = None
    """Commit and credit balance alerts (and seat balance alerts): SPEND or QUANTITY
    commits and credits. QUANTITY takes no ``credit_type_id``."""
    alert_specifiers: list[AlertSpecifier] | None = None
    """Contract credit and commit balance alerts: which commits and credits count."""
    billable_metric_id: NonEmptyStr | None = None
    """``usage_threshold_reached`` alerts (required there): the metric whose usage is
    watched (a ``BillableMetric``'s id)."""
    credit_grant_type_filters: list[NonEmptyStr] | None = None
    """Credit balance and credit percentage alerts: the credit grant types that count."""
    credit_type_id: NonEmptyStr | None = None
    """The pricing unit of the threshold (default USD cents); a ``PricingUnit``'s id."""
    custom_field_filters: list[AlertCustomFieldFilter] | None = None
    """Custom field filters, for the alert types that support them (contract invoices)."""
    customer_id: NonEmptyStr | None = None
    """Only this customer; left out: every customer."""
    evaluate_on_create: StrictBool | None = None
    """Whether customers already past the threshold are alerted at once (Metronome's
    default: true)."""
    group_values: list[AlertGroupValue] | None = None
    """``spend_threshold_reached`` alerts: scope to a group key of line items."""
    invoice_types_filter: list[NonEmptyStr] | None = None
    """``invoice_total_reached`` alerts: the invoice types evaluated."""
    plan_id: NonEmptyStr | None = None
    """Only customers on this plan."""
    seat_filter: AlertSeatFilter | None = None
    """``low_remaining_seat_balance_reached`` alerts (required there): the seat group."""
    uniqueness_key: UniquenessKey | None = None
    """A create with a key already used fails (409) instead of making a second alert.
    Default: one the provider chooses and keeps in state, new for each replacement."""

    def create_body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    def to_state(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_state(cls, props: Mapping[str, Any]) -> AlertSpec:
        data = {k: props[k] for k in cls.model_fields if props.get(k) is not None}
        return parse_alert_spec(data)


ALERT_FIELDS: tuple[str, ...] = tuple(AlertSpec.model_fields)


def _type_fields(spec: AlertSpec, present: set[str]) -> list[Violation]:
    """Fields only some alert types take, and the fields some types require."""
    out = []
    for field, types in TYPE_SPECIFIC_FIELDS.items():
        if field in present and spec.alert_type not in types:
            out.append(
                Violation(
                    field,
                    f"is only for {', '.join(repr(t) for t in sorted(types))} alerts, "
                    f"not {spec.alert_type!r}",
                )
            )
    required = REQUIRED_FOR_TYPE.get(spec.alert_type)
    if required is not None and required not in present:
        out.append(Violation(required, f"is required for {spec.alert_type!r} alerts"))
    return out


def _quantity_credit_type(spec: AlertSpec, present: set[str]) -> list[Violation]:
    if spec.access_type == "QUANTITY" and "credit_type_id" in present:
        return [Violation("credit_type_id", "cannot be set with access_type 'QUANTITY'")]
    return []


_ALERT_RULES: list[tuple[frozenset[str], Rule[AlertSpec]]] = [
    (frozenset({"alert_type", *TYPE_SPECIFIC_FIELDS, *REQUIRED_FOR_TYPE.values()}), _type_fields),
    (frozenset({"access_type", "credit_type_id"}), _quantity_credit_type),
]


def parse_alert_spec(
    data: Mapping[str, Any], *, unknown: frozenset[str] = frozenset()
) -> AlertSpec:
    """Validate a create body or declaration; raise ``SpecError`` listing every problem
    (fields in ``unknown``, not known yet at preview, are left out with their rules)."""
    return parse_with_rules(
        AlertSpec,
        data,
        _ALERT_RULES,
        unknown=unknown,
        placeholders={"alert_type": "spend_threshold_reached", "name": "-", "threshold": 0},
    )


class ReturnedCreditType(Returned):
    id: str
    name: str | None = None


class Alert(Returned):
    """An alert as ``/v1/customer-alerts/get`` returns it (``CustomerAlert.alert``)."""

    id: str
    name: str
    status: str
    threshold: float
    type: str
    access_type: str | None = None
    alert_specifiers: list[dict[str, Any]] | None = None
    credit_grant_type_filters: list[str] | None = None
    credit_type: ReturnedCreditType | None = None
    custom_field_filters: list[dict[str, Any]] | None = None
    group_values: list[dict[str, Any]] | None = None
    invoice_types_filter: list[str] | None = None
    seat_filter: dict[str, Any] | None = None
    uniqueness_key: str | None = None


class CustomerAlert(Returned):
    alert: Alert
    customer_status: str | None = None
