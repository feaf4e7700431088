"""A Metronome package (``/v1/packages/*``): a contract template.

A package holds the terms a contract provisioned from it gets: a rate card (by id or by
alias), overrides of its rates (multipliers, overwritten rates, tiered multipliers),
commits, credits, subscriptions, scheduled charges and a duration, all as offsets from the
contract's start. Wire shapes follow the official ``metronome-sdk``
(``metronome.types.v1.package_create_params``; answers: ``package_retrieve_response``).

Metronome cannot edit a package: there is no update endpoint. A package's aliases are how
contracts find it, and "a package alias can only be used by one package at a time. If you
create a new package with an alias that is already in use by another package, the original
package's alias schedule will be updated" (the SDK's docstring of ``packages.create``). So
a change is a new package that takes the alias over from a date, and the old one is
archived once no contract is created on it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AwareDatetime,
    BeforeValidator,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
)

from .common import NonEmptyStr, Returned, Violation, Wire
from .custom_field import CustomFields
from .product import Number
from .rate_card import USD_CENTS_ID, Alias, BillingFrequency, RateType, Tier, _price_rules
from .rules import Rule, Timestamp, parse_with_rules

OffsetUnit = Literal["DAYS", "WEEKS", "MONTHS", "YEARS"]
OverrideType = Literal["OVERWRITE", "MULTIPLIER", "TIERED"]
OVERRIDE_TYPES: tuple[str, ...] = get_args(OverrideType)
Prioritization = Literal["LOWEST_MULTIPLIER", "EXPLICIT"]
CommitType = Literal["PREPAID", "POSTPAID"]
CommitRateType = Literal["COMMIT_RATE", "LIST_RATE"]


def _whole(value: Any) -> Any:
    """1.0 is 1: numbers arrive as floats through Pulumi's engine (protobuf)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


#: A whole number of units, 0 or more (1.5 or "1" is refused).
Count = Annotated[StrictInt, BeforeValidator(_whole), Field(ge=0)]


class Offset(Wire):
    """A length of time relative to the contract's start (or a segment's start)."""

    unit: OffsetUnit
    """DAYS, WEEKS, MONTHS or YEARS."""
    value: Count
    """How many units (0 or more)."""


class OverrideSpecifier(Wire):
    """Which rates an override applies to (each given field must match)."""

    product_id: NonEmptyStr | None = None
    """Only the rates of this product."""
    product_tags: list[NonEmptyStr] | None = None
    """Only the products with all these tags."""
    pricing_group_values: dict[NonEmptyStr, StrictStr] | None = None
    """Only the rates with these pricing group values."""
    presentation_group_values: dict[NonEmptyStr, StrictStr] | None = None
    """Only the line items with these presentation group values."""
    billing_frequency: BillingFrequency | None = None
    """Only the subscription rates billed this often."""


class OverwriteRate(Wire):
    """The rate an OVERWRITE override puts in place of the card's."""

    rate_type: RateType
    """How the price applies (as a rate card's rates)."""
    price: Annotated[Number, Field(ge=0)] | None = None
    """FLAT, PERCENTAGE and SUBSCRIPTION: the price (a fraction 0 to 1 for PERCENTAGE)."""
    tiers: Annotated[list[Tier], Field(min_length=1)] | None = None
    """TIERED and TIERED_PERCENTAGE: the tiers, in order."""
    credit_type_id: NonEmptyStr | None = None
    """The credit type of the price when it is not the card's fiat one."""
    is_prorated: StrictBool | None = None
    """SUBSCRIPTION: bill partial periods pro rata."""
    quantity: Annotated[Number, Field(ge=0)] | None = None
    """SUBSCRIPTION: the default quantity."""
    custom_rate: dict[NonEmptyStr, Any] | None = None
    """CUSTOM: the rate's parameters."""


class OverrideTier(Wire):
    """One tier of a TIERED override: ``size`` units (the last: the rest) at ``multiplier``."""

    multiplier: Annotated[Number, Field(ge=0)]
    """The factor applied to the list price in this tier."""
    size: Annotated[Number, Field(gt=0)] | None = None
    """How many units the tier holds; every tier but the last needs it."""


class Override(Wire):
    """A change to the rate card's rates for contracts on the package."""

    override_specifiers: Annotated[list[OverrideSpecifier], Field(min_length=1)]
    """Which rates the override applies to (at least one)."""
    starting_at_offset: Offset
    """When the override starts, from the contract's start (inclusive)."""
    type: OverrideType
    """MULTIPLIER (``multiplier``), OVERWRITE (``overwrite_rate``) or TIERED (``tiers``)."""
    duration: Offset | None = None
    """How long the override applies from its start (default: to the contract's end)."""
    multiplier: Annotated[Number, Field(ge=0)] | None = None
    """MULTIPLIER: the factor applied to the list price (0.8 is 20% off)."""
    overwrite_rate: OverwriteRate | None = None
    """OVERWRITE: the rate used instead of the card's."""
    tiers: Annotated[list[OverrideTier], Field(min_length=1)] | None = None
    """TIERED: the multiplier per tier of usage."""
    priority: Number | None = None
    """Lower applies first; required with EXPLICIT prioritization and for TIERED overrides."""
    entitled: StrictBool | None = None
    """Overrides the card's entitlement of the products it applies to."""
    target: CommitRateType | None = None
    """Whether the override changes the list rate or the commit rate."""
    is_commit_specific: StrictBool | None = None
    """Applies only when usage draws down a commit or credit."""


class ScheduleItem(Wire):
    """One charge of a schedule: ``quantity`` times ``unit_price`` at ``date_offset``."""

    date_offset: Offset
    """When, from the contract's start."""
    quantity: Annotated[Number, Field(ge=0)]
    """How many units."""
    unit_price: Annotated[Number, Field(ge=0)]
    """The price of one unit (cents for USD)."""


class ChargeSchedule(Wire):
    """When and how much is invoiced."""

    schedule_items: Annotated[list[ScheduleItem], Field(min_length=1)]
    """The charges, at least one."""
    credit_type_id: NonEmptyStr | None = None
    """The credit type (default: USD in cents)."""
    do_not_invoice: StrictBool | None = None
    """Commits: generate no invoice for this schedule."""


class AccessItem(Wire):
    """One segment of a commit's or credit's balance."""

    amount: Annotated[Number, Field(ge=0)]
    """The amount granted."""
    starting_at_offset: Offset
    """When the segment starts, from the contract's start."""
    duration: Offset
    """How long the segment lasts."""


class AccessSchedule(Wire):
    """How a commit's or credit's balance is granted over time."""

    schedule_items: Annotated[list[AccessItem], Field(min_length=1)]
    """The segments, at least one."""
    access_type: Literal["SPEND", "QUANTITY"] | None = None
    """SPEND (default) draws down cost, QUANTITY draws down units."""
    credit_type_id: NonEmptyStr | None = None
    """The credit type (default: USD in cents)."""


class Credit(Wire):
    """A balance granted free of charge (``credits``)."""

    product_id: NonEmptyStr
    """The product the credit appears as on invoices."""
    access_schedule: AccessSchedule
    """How the balance is granted."""
    name: StrictStr | None = None
    """Displayed on invoices."""
    description: StrictStr | None = None
    """Not shown to customers."""
    priority: Number | None = None
    """Lower applies first."""
    applicable_product_ids: list[NonEmptyStr] | None = None
    """The products it pays for (default: all)."""
    applicable_product_tags: list[NonEmptyStr] | None = None
    """The product tags it pays for (default: all)."""
    rate_type: CommitRateType | None = None
    """Draw down at the commit rate or the list rate."""
    custom_fields: CustomFields | None = None
    """Custom field values by key."""


class Commit(Credit):
    """A balance the customer commits to pay for (``commits``)."""

    type: CommitType
    """PREPAID (invoiced up front, or complimentary without ``invoice_schedule``) or POSTPAID
    (a true-up)."""
    invoice_schedule: ChargeSchedule | None = None
    """When it is invoiced; required for POSTPAID."""
    rollover_fraction: Annotated[Number, Field(ge=0, le=1)] | None = None
    """The fraction of an unused segment rolled over (0 to 1)."""


class ScheduledCharge(Wire):
    """A charge at fixed dates (``scheduled_charges``)."""

    product_id: NonEmptyStr
    """The product it is invoiced as."""
    schedule: ChargeSchedule
    """When and how much."""
    name: StrictStr | None = None
    """Displayed on invoices."""
    custom_fields: CustomFields | None = None
    """Custom field values by key."""


class SubscriptionRate(Wire):
    """The subscription product and how often it is billed."""

    product_id: NonEmptyStr
    """A SUBSCRIPTION product priced on the rate card."""
    billing_frequency: BillingFrequency
    """MONTHLY, QUARTERLY, ANNUAL or WEEKLY."""


class Proration(Wire):
    """How partial periods of a subscription are billed."""

    is_prorated: StrictBool | None = None
    """Bill partial periods pro rata."""
    invoice_behavior: Literal["BILL_IMMEDIATELY", "BILL_ON_NEXT_COLLECTION_DATE"] | None = None
    """When a change of quantity is billed."""


class Subscription(Wire):
    """A recurring charge for a SUBSCRIPTION product (``subscriptions``)."""

    collection_schedule: Literal["ADVANCE", "ARREARS"]
    """Bill at the start (ADVANCE) or the end (ARREARS) of each period."""
    proration: Proration
    """How partial periods are billed."""
    subscription_rate: SubscriptionRate
    """The product and billing frequency."""
    initial_quantity: Annotated[Number, Field(ge=0)] | None = None
    """The quantity at the contract's start."""
    starting_at_offset: Offset | None = None
    """When it starts, from the contract's start."""
    duration: Offset | None = None
    """How long it lasts."""
    name: StrictStr | None = None
    """Displayed on invoices."""
    description: StrictStr | None = None
    """Not shown to customers."""


class UsageStatementSchedule(Wire):
    """How often usage is invoiced."""

    frequency: BillingFrequency
    """MONTHLY, QUARTERLY, ANNUAL or WEEKLY."""
    day: Literal["FIRST_OF_MONTH", "CONTRACT_START", "CUSTOM_DATE"] | None = None
    """Which day periods start on."""


class PackageSpec(Wire):
    """A package as declared: the body of ``POST /v1/packages/create``."""

    name: NonEmptyStr
    """The package's name."""
    aliases: list[Alias] | None = None
    """Names contracts are provisioned by, each optionally from/until a date. An alias names one
    package at a time: the package most recently given it."""
    rate_card_id: NonEmptyStr | None = None
    """The rate card (a ``RateCard``'s id); exactly one of this and ``rate_card_alias``."""
    rate_card_alias: NonEmptyStr | None = None
    """The rate card by alias, as of each contract's start."""
    duration: Offset | None = None
    """How long contracts on the package last (default: no end)."""
    overrides: list[Override] | None = None
    """Changes to the card's rates: multipliers, overwritten rates, tiered multipliers."""
    multiplier_override_prioritization: Prioritization | None = None
    """LOWEST_MULTIPLIER (default: the greatest discount wins) or EXPLICIT (by ``priority``)."""
    commits: list[Commit] | None = None
    """Commits each contract gets."""
    credits: list[Credit] | None = None
    """Credits each contract gets."""
    subscriptions: list[Subscription] | None = None
    """Subscriptions each contract gets."""
    scheduled_charges: list[ScheduledCharge] | None = None
    """Charges at fixed dates each contract gets."""
    usage_statement_schedule: UsageStatementSchedule | None = None
    """How often usage is invoiced."""
    net_payment_terms_days: Annotated[Number, Field(ge=0)] | None = None
    """Days customers have to pay an invoice."""
    contract_name: StrictStr | None = None
    """The name contracts on the package get."""

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    def create_body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


#: Every field: Metronome has no update for a package, so any change is a new package.
PACKAGE_FIELDS: tuple[str, ...] = tuple(PackageSpec.model_fields)


def _one_rate_card(spec: PackageSpec, present: set[str]) -> list[Violation]:
    given = [f for f in ("rate_card_id", "rate_card_alias") if f in present]
    if len(given) == 1:
        return []
    if not given:
        return [Violation("rate_card_id", "is required (or rate_card_alias)")]
    return [Violation("rate_card_alias", "cannot be given with rate_card_id; give one")]


def _override_rules(spec: PackageSpec, present: set[str]) -> list[Violation]:
    out: list[Violation] = []
    explicit = spec.multiplier_override_prioritization == "EXPLICIT"
    for index, item in enumerate(spec.overrides or []):
        at = f"overrides[{index}]."
        needs = {"MULTIPLIER": "multiplier", "OVERWRITE": "overwrite_rate", "TIERED": "tiers"}
        for kind, field in needs.items():
            value = getattr(item, field)
            if item.type == kind and value is None:
                out.append(Violation(at + field, f"is required for type {kind}"))
            if item.type != kind and value is not None:
                out.append(Violation(at + field, f"is only used by type {kind}"))
        if item.type == "TIERED":
            if item.priority is None:
                out.append(Violation(at + "priority", "is required for TIERED overrides"))
            if not explicit:
                out.append(
                    Violation(
                        "multiplier_override_prioritization",
                        f"must be EXPLICIT when overrides[{index}] is TIERED",
                    )
                )
            for t, tier in enumerate((item.tiers or [])[:-1]):
                if tier.size is None:
                    out.append(
                        Violation(at + f"tiers[{t}].size", "is required on every tier but the last")
                    )
        if item.type == "MULTIPLIER" and explicit and item.priority is None:
            out.append(Violation(at + "priority", "is required with EXPLICIT prioritization"))
        rate = item.overwrite_rate
        if rate is not None:
            out += _price_rules(
                rate.rate_type, rate.price, rate.tiers, prefix=at + "overwrite_rate."
            )
    return out


def _commit_rules(spec: PackageSpec, present: set[str]) -> list[Violation]:
    out = []
    for index, commit in enumerate(spec.commits or []):
        if commit.type == "POSTPAID":
            at = f"commits[{index}]."
            if commit.invoice_schedule is None:
                out.append(Violation(at + "invoice_schedule", "is required for POSTPAID commits"))
            elif len(commit.invoice_schedule.schedule_items) != 1:
                out.append(
                    Violation(
                        at + "invoice_schedule.schedule_items",
                        "must hold exactly one item for POSTPAID commits",
                    )
                )
            if len(commit.access_schedule.schedule_items) != 1:
                out.append(
                    Violation(
                        at + "access_schedule.schedule_items",
                        "must hold exactly one item for POSTPAID commits",
                    )
                )
    return out


def _alias_names_once(spec: PackageSpec, present: set[str]) -> list[Violation]:
    seen: set[str] = set()
    out = []
    for index, alias in enumerate(spec.aliases or []):
        if alias.name in seen and alias.starting_at is None and alias.ending_before is None:
            out.append(Violation(f"aliases[{index}].name", "is given twice without dates"))
        seen.add(alias.name)
    return out


PACKAGE_RULES: list[tuple[frozenset[str], Rule[PackageSpec]]] = [
    (frozenset({"rate_card_id", "rate_card_alias"}), _one_rate_card),
    (frozenset({"overrides", "multiplier_override_prioritization"}), _override_rules),
    (frozenset({"commits"}), _commit_rules),
    (frozenset({"aliases"}), _alias_names_once),
]


def parse_package_spec(data: Any, *, unknown: frozenset[str] = frozenset()) -> PackageSpec:
    """Validate a package declaration or create body; ``SpecError`` names every problem."""
    return parse_with_rules(
        PackageSpec, data, PACKAGE_RULES, unknown=unknown, placeholders={"name": "-"}
    )


# --- request bodies beyond create -----------------------------------------------------------


class PackageIdBody(Wire):
    """``/v1/packages/get`` and ``/archive``."""

    package_id: NonEmptyStr


class ListPackagesBody(Wire):
    """``/v1/packages/list``."""

    archive_filter: Literal["ARCHIVED", "NOT_ARCHIVED", "ALL"] | None = None


class ListContractsOnPackageBody(Wire):
    """``/v1/packages/listContractsOnPackage``."""

    package_id: NonEmptyStr
    covering_date: Timestamp | None = None
    starting_at: Timestamp | None = None
    include_archived: StrictBool | None = None

    @field_validator("starting_at")
    @classmethod
    def _not_both(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        if value is not None and info.data.get("covering_date") is not None:
            raise ValueError("cannot be given with covering_date")
        return value


class ContractFromPackage(Wire):
    """The subset of ``/v1/contracts/create`` the local server takes: enough to put
    contracts on packages (by id, or by alias as of the contract's start)."""

    customer_id: NonEmptyStr
    starting_at: Timestamp
    package_id: NonEmptyStr | None = None
    package_alias: NonEmptyStr | None = None


#: Request bodies of ``/v1/packages/*`` (the local server's OpenAPI document lists them).
REQUEST_MODELS = (PackageSpec, PackageIdBody, ListPackagesBody, ListContractsOnPackageBody)


# --- what Metronome answers -----------------------------------------------------------------


class ReturnedPackageAlias(Returned):
    name: str
    starting_at: AwareDatetime | None = None
    ending_before: AwareDatetime | None = None


class Package(Returned):
    """A package as Metronome returns it (get, list). Nested terms are kept as dicts: the
    provider compares the declaration it stored, since a package never changes."""

    id: str
    name: str | None = None
    created_at: AwareDatetime
    archived_at: AwareDatetime | None = None
    rate_card_id: str | None = None
    aliases: list[ReturnedPackageAlias] | None = None
    overrides: list[dict[str, Any]] = Field(default_factory=list)
    commits: list[dict[str, Any]] = Field(default_factory=list)
    credits: list[dict[str, Any]] | None = None
    subscriptions: list[dict[str, Any]] | None = None
    scheduled_charges: list[dict[str, Any]] = Field(default_factory=list)
    duration: dict[str, Any] | None = None
    usage_statement_schedule: dict[str, Any] | None = None
    multiplier_override_prioritization: str | None = None
    net_payment_terms_days: float | None = None
    contract_name: str | None = None

    def declaration(self) -> dict[str, Any]:
        """The package as a declaration (``PackageSpec``'s fields), for ``pulumi import``:
        ids Metronome added are dropped, ``product`` and ``credit_type`` objects become
        ``product_id`` and ``credit_type_id`` (none for USD), ``override_tiers`` become
        ``tiers``. Fields this version does not model are left out."""
        data = self.model_dump(mode="json", exclude_none=True)
        out = {k: _declared(v) for k, v in data.items() if k in PackageSpec.model_fields}
        for key in ("overrides", "commits", "scheduled_charges", "credits", "subscriptions"):
            if not out.get(key):
                out.pop(key, None)
        if out.get("usage_statement_schedule") == {"frequency": "MONTHLY"}:
            del out["usage_statement_schedule"]
        return out


def _declared(value: Any) -> Any:
    """One answered value in its declared form (see ``Package.declaration``)."""
    if isinstance(value, list):
        return [_declared(v) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "id" or item is None:
            continue
        if key == "product" and isinstance(item, dict):
            out["product_id"] = item["id"]
        elif key == "credit_type" and isinstance(item, dict):
            if item.get("id") != USD_CENTS_ID:
                out["credit_type_id"] = item["id"]
        elif key == "override_tiers":
            out["tiers"] = _declared(item)
        else:
            out[key] = _declared(item)
    return out


class ContractOnPackage(Returned):
    """One entry of ``listContractsOnPackage``."""

    contract_id: str
    customer_id: str
    starting_at: AwareDatetime
    ending_before: AwareDatetime | None = None
    archived_at: AwareDatetime | None = None
