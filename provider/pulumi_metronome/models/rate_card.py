"""A Metronome rate card and its rates (``/v1/contract-pricing/rate-cards/*``).

A rate card is a price list: per product (and pricing group values) a schedule of rates,
each in effect from ``starting_at`` (inclusive) until ``ending_before`` (exclusive).
Only the card's ``name``, ``description`` and ``aliases`` change in place. Rates have no
id, no update and no delete: adding a rate for the same product, pricing group values,
billing frequency and ``starting_at`` replaces it, and a price change is a new rate with a
later ``starting_at``. The rules here need no stored state; ``product_rate_violations``
holds the ones that need the product (its type and pricing group key).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AwareDatetime,
    Field,
    StrictBool,
    StrictStr,
    ValidationInfo,
    field_validator,
)

from .common import NonEmptyStr, Returned, SpecError, Violation, Wire, parse_model
from .custom_field import CustomFields
from .product import Number
from .rules import Rule, Timestamp, aware, parse_with_rules, rfc3339

RateType = Literal["FLAT", "PERCENTAGE", "SUBSCRIPTION", "TIERED", "TIERED_PERCENTAGE", "CUSTOM"]
RATE_TYPES: tuple[str, ...] = get_args(RateType)
BillingFrequency = Literal["MONTHLY", "QUARTERLY", "ANNUAL", "WEEKLY"]
BILLING_FREQUENCIES: tuple[str, ...] = get_args(BillingFrequency)
#: Metronome's id of its default fiat credit type, USD in cents.
USD_CENTS_ID = "2714e483-4ff1-48e4-9e25-ac732e8f24f2"
USD_CENTS_NAME = "USD (cents)"

#: Rate types priced by ``price``, by ``tiers``, and as a fraction (0..1).
PRICED_TYPES = frozenset({"FLAT", "PERCENTAGE", "SUBSCRIPTION"})
TIERED_TYPES = frozenset({"TIERED", "TIERED_PERCENTAGE"})
FRACTION_TYPES = frozenset({"PERCENTAGE", "TIERED_PERCENTAGE"})


def _after_start(value: datetime | None, info: ValidationInfo) -> datetime | None:
    start = info.data.get("starting_at")
    if value is not None and start is not None and value <= start:
        raise ValueError("must be after starting_at")
    return value


class Alias(Wire):
    """A name contracts can use for the card, optionally for a period."""

    name: NonEmptyStr
    """The alias."""
    starting_at: Timestamp | None = None
    """When the alias starts to apply (RFC 3339)."""
    ending_before: Timestamp | None = None
    """When the alias stops applying (RFC 3339, exclusive)."""

    _ends_after_start = field_validator("ending_before")(_after_start)


class CreditTypeConversion(Wire):
    """How many fiat units one unit of a custom pricing unit is worth on this card."""

    custom_credit_type_id: NonEmptyStr
    """The id of the custom credit type (pricing unit)."""
    fiat_per_custom_credit: Annotated[Number, Field(gt=0)]
    """How many fiat units one unit of it is worth (more than 0)."""


def _conversions_once(
    items: list[CreditTypeConversion] | None,
) -> list[CreditTypeConversion] | None:
    ids = [c.custom_credit_type_id for c in items or []]
    if len(set(ids)) != len(ids):
        raise ValueError("names a custom credit type more than once")
    return items


class RateCardSpec(Wire):
    """A rate card as declared: the body of ``POST .../rate-cards/create``."""

    name: NonEmptyStr
    """The card's name; changes in place."""
    description: StrictStr | None = None
    """What the card is for; changes in place."""
    aliases: list[Alias] | None = None
    """Other names contracts can use for the card, each optionally for a period; change in place."""
    credit_type_conversions: list[CreditTypeConversion] | None = None
    """The custom pricing units the card's rates may use, each with its worth in fiat units. Fixed
    at creation: a change replaces the card."""
    custom_fields: CustomFields | None = None
    """Custom field values by key (entity ``rate_card``); change in place."""
    fiat_credit_type_id: NonEmptyStr | None = None
    """The fiat credit type of the card's prices (default: USD in cents). Fixed at creation: a
    change replaces the card."""

    _conversions = field_validator("credit_type_conversions")(_conversions_once)

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    def create_body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


#: What ``update`` changes in place; everything else is fixed at creation.
MUTABLE_FIELDS: frozenset[str] = frozenset({"name", "description", "aliases"})
IMMUTABLE_FIELDS: frozenset[str] = frozenset({"credit_type_conversions", "fiat_credit_type_id"})
assert set(RateCardSpec.model_fields) == MUTABLE_FIELDS | IMMUTABLE_FIELDS | {"custom_fields"}


class RateCardUpdate(Wire):
    """The body of ``POST .../rate-cards/update``; omitted fields keep their value."""

    rate_card_id: NonEmptyStr
    name: NonEmptyStr | None = None
    description: StrictStr | None = None
    aliases: list[Alias] | None = None
    add_credit_type_conversions: list[CreditTypeConversion] | None = None

    _conversions = field_validator("add_credit_type_conversions")(_conversions_once)

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty")
        return value


class Tier(Wire):
    """One tier of a TIERED price: ``size`` units (the last tier: all the rest) at ``price``."""

    price: Annotated[Number, Field(ge=0)]
    """The price per unit in this tier (a fraction, 0 to 1, for TIERED_PERCENTAGE)."""
    size: Annotated[Number, Field(gt=0)] | None = None
    """How many units the tier holds; every tier but the last needs it."""


class CommitRate(Wire):
    """A distinct price used when usage draws down a commit or credit."""

    rate_type: RateType
    """How the commit price applies."""
    price: Annotated[Number, Field(ge=0)] | None = None
    """The price (FLAT, PERCENTAGE and SUBSCRIPTION rate types)."""
    tiers: Annotated[list[Tier], Field(min_length=1)] | None = None
    """The tiers, in order (TIERED and TIERED_PERCENTAGE rate types)."""


class RateEntry(Wire):
    """One rate: a price for a product on a card from ``starting_at`` until
    ``ending_before``. Also the declaration of one entry of a ``RateCard``'s schedule."""

    product_id: NonEmptyStr
    """The product priced (a ``Product``'s id)."""
    entitled: StrictBool
    """Whether customers on the card are entitled to the product."""
    rate_type: RateType
    """How the price applies: FLAT, PERCENTAGE, SUBSCRIPTION, TIERED, TIERED_PERCENTAGE or
    CUSTOM."""
    starting_at: Timestamp
    """When the rate takes effect (RFC 3339, inclusive)."""
    ending_before: Timestamp | None = None
    """When the rate stops (RFC 3339, exclusive); default: at the next entry of the same product,
    pricing group values and billing frequency."""
    price: Annotated[Number, Field(ge=0)] | None = None
    """FLAT, PERCENTAGE and SUBSCRIPTION rates: the price per unit in the card's fiat credit type
    (cents for USD); a fraction, 0 to 1, for PERCENTAGE."""
    tiers: Annotated[list[Tier], Field(min_length=1)] | None = None
    """TIERED and TIERED_PERCENTAGE rates: the tiers, in order."""
    billing_frequency: BillingFrequency | None = None
    """SUBSCRIPTION products: how often the rate is billed (required for a FLAT rate)."""
    is_prorated: StrictBool | None = None
    """SUBSCRIPTION rates: bill partial periods pro rata (true when set)."""
    quantity: Annotated[Number, Field(ge=0)] | None = None
    """SUBSCRIPTION rates: the default quantity."""
    pricing_group_values: dict[NonEmptyStr, StrictStr] | None = None
    """The values of the product's pricing group key this rate is for (each key a property of the
    product's ``pricing_group_key``)."""
    credit_type_id: NonEmptyStr | None = None
    """The credit type of the price when it is not the card's fiat one (a custom pricing unit)."""
    commit_rate: CommitRate | None = None
    """A distinct price used when usage draws down a commit or credit."""
    custom_rate: dict[NonEmptyStr, Any] | None = None
    """CUSTOM rates: the rate's parameters, as Metronome takes them."""

    _ends_after_start = field_validator("ending_before")(_after_start)

    def body(self) -> dict[str, Any]:
        """The JSON of this rate for addRate/addRates (without ``rate_card_id``)."""
        out = self.model_dump(mode="json", exclude_none=True)
        out["starting_at"] = rfc3339(self.starting_at)
        if self.ending_before is not None:
            out["ending_before"] = rfc3339(self.ending_before)
        return out

    def key(self) -> RateKey:
        """What identifies a rate on a card: adding one with the same key replaces it."""
        return rate_key(
            self.product_id, self.pricing_group_values, self.billing_frequency, self.starting_at
        )


#: (product_id, sorted pricing group values, billing frequency or "", starting_at in RFC 3339)
RateKey = tuple[str, tuple[tuple[str, str], ...], str, str]


def rate_key(
    product_id: str,
    pricing_group_values: Mapping[str, str] | None,
    billing_frequency: str | None,
    starting_at: datetime,
) -> RateKey:
    values = tuple(sorted((pricing_group_values or {}).items()))
    return (product_id, values, billing_frequency or "", rfc3339(aware(starting_at)))


def _price_rules(
    rate_type: str,
    price: float | None,
    tiers: Sequence[Tier] | None,
    prefix: str = "",
) -> list[Violation]:
    """What price a rate type takes: ``price`` or ``tiers``, and fractions for percentages."""
    out = []
    if rate_type in PRICED_TYPES and price is None:
        out.append(Violation(f"{prefix}price", f"is required for rate_type {rate_type}"))
    if rate_type not in PRICED_TYPES and price is not None:
        out.append(
            Violation(
                f"{prefix}price",
                f"is not used by rate_type {rate_type}; use tiers"
                if rate_type in TIERED_TYPES
                else f"is not used by rate_type {rate_type}",
            )
        )
    if rate_type in TIERED_TYPES and not tiers:
        out.append(Violation(f"{prefix}tiers", f"is required for rate_type {rate_type}"))
    if rate_type not in TIERED_TYPES and tiers is not None:
        out.append(
            Violation(f"{prefix}tiers", "is only used by TIERED and TIERED_PERCENTAGE rates")
        )
    if rate_type in FRACTION_TYPES:
        if price is not None and price > 1:
            out.append(
                Violation(
                    f"{prefix}price", "is a fraction for PERCENTAGE rates: 0 to 1 (0.1 is 10%)"
                )
            )
        for index, tier in enumerate(tiers or []):
            if tier.price > 1:
                out.append(
                    Violation(
                        f"{prefix}tiers[{index}].price",
                        "is a fraction for TIERED_PERCENTAGE rates: 0 to 1 (0.1 is 10%)",
                    )
                )
    if rate_type in TIERED_TYPES:
        for index, tier in enumerate((tiers or [])[:-1]):
            if tier.size is None:
                out.append(
                    Violation(
                        f"{prefix}tiers[{index}].size",
                        "is required on every tier but the last",
                    )
                )
    return out


def _rate_price(entry: RateEntry, present: set[str]) -> list[Violation]:
    return _price_rules(entry.rate_type, entry.price, entry.tiers)


def _rate_extras(entry: RateEntry, present: set[str]) -> list[Violation]:
    out = []
    kind = entry.rate_type
    if kind == "CUSTOM" and entry.custom_rate is None:
        out.append(Violation("custom_rate", "is required for rate_type CUSTOM"))
    if kind != "CUSTOM" and entry.custom_rate is not None:
        out.append(Violation("custom_rate", "is only used by CUSTOM rates"))
    if entry.is_prorated is not None and kind != "SUBSCRIPTION":
        out.append(Violation("is_prorated", "is only valid for rate_type SUBSCRIPTION"))
    elif entry.is_prorated is False:
        out.append(Violation("is_prorated", "must be true when set"))
    if kind == "PERCENTAGE" and entry.credit_type_id is not None:
        out.append(
            Violation(
                "credit_type_id",
                "is not used by PERCENTAGE rates (they use the credit type of the rates they "
                "apply to)",
            )
        )
    return out


def _rate_commit(entry: RateEntry, present: set[str]) -> list[Violation]:
    commit = entry.commit_rate
    if commit is None:
        return []
    return _price_rules(commit.rate_type, commit.price, commit.tiers, prefix="commit_rate.")


_RATE_RULES: list[tuple[frozenset[str], Rule[RateEntry]]] = [
    (frozenset({"rate_type", "price", "tiers"}), _rate_price),
    (frozenset({"rate_type", "custom_rate", "is_prorated", "credit_type_id"}), _rate_extras),
    (frozenset({"commit_rate"}), _rate_commit),
]


def parse_rate(data: Any, *, prefix: str = "", unknown: frozenset[str] = frozenset()) -> RateEntry:
    """Validate one rate; ``SpecError`` names every problem (paths start with ``prefix``)."""
    try:
        return parse_with_rules(
            RateEntry,
            data,
            _RATE_RULES,
            unknown=unknown,
            placeholders={
                "product_id": "-",
                "entitled": True,
                "rate_type": "CUSTOM",
                "starting_at": "2000-01-01T00:00:00Z",
            },
        )
    except SpecError as error:
        raise SpecError([_prefixed(prefix, v) for v in error.violations]) from None


def parse_rates(items: Any, *, field: str = "rates") -> list[RateEntry]:
    """Validate a list of rates; ``SpecError`` names every problem of every entry."""
    if not isinstance(items, list):
        raise SpecError([Violation(field, "must be a list of rates")])
    out: list[RateEntry] = []
    problems: list[Violation] = []
    for index, item in enumerate(items):
        try:
            out.append(parse_rate(item, prefix=f"{field}[{index}]"))
        except SpecError as error:
            problems.extend(error.violations)
    if problems:
        raise SpecError(problems)
    return out


def _prefixed(prefix: str, violation: Violation) -> Violation:
    if not prefix:
        return violation
    field = f"{prefix}.{violation.field}" if violation.field else prefix
    return Violation(field, violation.message)


def product_rate_violations(
    entry: RateEntry,
    *,
    product_type: str,
    pricing_group_key: Sequence[str] | None,
    prefix: str = "",
) -> list[Violation]:
    """The rules of a rate that read its product (type and pricing group key)."""
    out = []
    subscription = product_type == "SUBSCRIPTION"
    if subscription and entry.rate_type == "FLAT" and entry.billing_frequency is None:
        out.append(
            Violation("billing_frequency", "is required for a FLAT rate of a SUBSCRIPTION product")
        )
    if not subscription and entry.billing_frequency is not None:
        out.append(
            Violation(
                "billing_frequency",
                f"is only valid for SUBSCRIPTION products; product {entry.product_id} is "
                f"{product_type}",
            )
        )
    if entry.rate_type == "SUBSCRIPTION" and not subscription:
        out.append(
            Violation(
                "rate_type",
                f"SUBSCRIPTION rates are only valid for SUBSCRIPTION products; product "
                f"{entry.product_id} is {product_type}",
            )
        )
    allowed = list(pricing_group_key or [])
    for key in sorted(entry.pricing_group_values or {}):
        if key not in allowed:
            out.append(
                Violation(
                    f"pricing_group_values[{key!r}]",
                    f"'{key}' is not in the pricing_group_key of product {entry.product_id} "
                    f"({allowed})",
                )
            )
    return [_prefixed(prefix, v) for v in out]


# --- request bodies around rates -------------------------------------------------------------


class RateSelector(Wire):
    """Which rates getRates / getRateSchedule return (any selector may match)."""

    product_id: NonEmptyStr | None = None
    product_tags: list[NonEmptyStr] | None = None
    pricing_group_values: dict[NonEmptyStr, StrictStr] | None = None
    partial_pricing_group_values: dict[NonEmptyStr, StrictStr] | None = None
    billing_frequency: BillingFrequency | None = None


class GetRatesBody(Wire):
    """``POST .../rate-cards/getRates``: the rates in effect at ``at``."""

    rate_card_id: NonEmptyStr
    at: Timestamp
    selectors: list[RateSelector] | None = None


class GetRateScheduleBody(Wire):
    """``POST .../rate-cards/getRateSchedule``: the schedule from ``starting_at`` on."""

    rate_card_id: NonEmptyStr
    starting_at: Timestamp
    ending_before: Timestamp | None = None
    selectors: list[RateSelector] | None = None

    _ends_after_start = field_validator("ending_before")(_after_start)


# --- what Metronome answers -----------------------------------------------------------------


class CreditType(Returned):
    id: str
    name: str


class ReturnedAlias(Returned):
    name: str
    starting_at: AwareDatetime | None = None
    ending_before: AwareDatetime | None = None


class ReturnedConversion(Returned):
    custom_credit_type: CreditType
    fiat_per_custom_credit: str


class RateCard(Returned):
    """A rate card as Metronome returns it (get, list); rates are read separately."""

    id: str
    name: str
    created_at: AwareDatetime
    created_by: str
    description: str | None = None
    aliases: list[ReturnedAlias] | None = None
    credit_type_conversions: list[ReturnedConversion] | None = None
    custom_fields: dict[str, str] | None = None
    fiat_credit_type: CreditType | None = None
    #: Not in the SDK's types; the local server answers it for archived cards.
    archived_at: AwareDatetime | None = None


class ReturnedTier(Returned):
    price: float
    size: float | None = None


class ReturnedPrice(Returned):
    """The ``rate`` of a scheduled rate, and the answer of addRate."""

    rate_type: str
    price: float | None = None
    tiers: list[ReturnedTier] | None = None
    credit_type: CreditType | None = None
    is_prorated: bool | None = None
    quantity: float | None = None
    pricing_group_values: dict[str, str] | None = None
    custom_rate: dict[str, Any] | None = None


class ReturnedCommitRate(Returned):
    rate_type: str
    price: float | None = None
    tiers: list[ReturnedTier] | None = None


class ScheduledRate(Returned):
    """One segment of a card's schedule (getRates, getRateSchedule)."""

    product_id: str
    product_name: str
    product_tags: list[str] = Field(default_factory=list)
    product_custom_fields: dict[str, str] = Field(default_factory=dict)
    entitled: bool
    rate: ReturnedPrice
    starting_at: AwareDatetime
    ending_before: AwareDatetime | None = None
    billing_frequency: str | None = None
    commit_rate: ReturnedCommitRate | None = None
    pricing_group_values: dict[str, str] | None = None

    def entry(self) -> RateEntry:
        """This segment as a declared rate entry (for drift and adoption)."""
        rate = self.rate
        data: dict[str, Any] = {
            "product_id": self.product_id,
            "entitled": self.entitled,
            "rate_type": rate.rate_type,
            "starting_at": self.starting_at,
            "ending_before": self.ending_before,
            "price": rate.price,
            "tiers": None
            if rate.tiers is None
            else [t.model_dump(exclude_none=True) for t in rate.tiers],
            "billing_frequency": self.billing_frequency,
            "is_prorated": rate.is_prorated,
            "quantity": rate.quantity,
            "pricing_group_values": self.pricing_group_values or None,
            "credit_type_id": None
            if rate.credit_type is None or rate.credit_type.id == USD_CENTS_ID
            else rate.credit_type.id,
            "custom_rate": rate.custom_rate,
            "commit_rate": None
            if self.commit_rate is None
            else self.commit_rate.model_dump(exclude_none=True),
        }
        return parse_model(RateEntry, {k: v for k, v in data.items() if v is not None})


# --- Pulumi state: the card's fields and its schedule, keyed readably -------------------------

CARD_FIELDS: tuple[str, ...] = tuple(RateCardSpec.model_fields)


def card_fields(props: Mapping[str, Any]) -> dict[str, Any]:
    """The card's own fields out of Pulumi inputs or state (``rates`` apart)."""
    return {k: props[k] for k in CARD_FIELDS if props.get(k) is not None}


def card_state(spec: RateCardSpec) -> dict[str, Any]:
    """The stored form of a card's fields: timestamps in RFC 3339, the default credit type
    as None, empty collections as None, so that equivalent declarations store the same."""
    out = spec.model_dump(mode="json")
    out["aliases"] = (
        [
            {
                "name": a.name,
                **({"starting_at": rfc3339(a.starting_at)} if a.starting_at else {}),
                **({"ending_before": rfc3339(a.ending_before)} if a.ending_before else {}),
            }
            for a in spec.aliases
        ]
        if spec.aliases
        else None
    )
    out["credit_type_conversions"] = out["credit_type_conversions"] or None
    out["custom_fields"] = spec.custom_fields or None
    if spec.fiat_credit_type_id == USD_CENTS_ID:
        out["fiat_credit_type_id"] = None
    return out


def live_card_state(card: RateCard) -> dict[str, Any]:
    """A card as read from Metronome, in the stored form of ``card_state``."""
    data: dict[str, Any] = {
        "name": card.name,
        "description": card.description,
        "aliases": [a.model_dump(exclude_none=True) for a in card.aliases or []],
        "credit_type_conversions": [
            {
                "custom_credit_type_id": c.custom_credit_type.id,
                "fiat_per_custom_credit": float(c.fiat_per_custom_credit),
            }
            for c in card.credit_type_conversions or []
        ],
        "custom_fields": card.custom_fields,
        "fiat_credit_type_id": card.fiat_credit_type.id if card.fiat_credit_type else None,
    }
    return card_state(parse_model(RateCardSpec, {k: v for k, v in data.items() if v is not None}))


def describe_key(key: RateKey) -> str:
    """A rate's key as people read it: ``<product> model=large MONTHLY from <start>``."""
    product_id, values, frequency, starting_at = key
    parts = [product_id, *(f"{k}={v}" for k, v in values)]
    if frequency:
        parts.append(frequency)
    return " ".join([*parts, "from", starting_at])


def schedule_state(entries: Sequence[RateEntry]) -> dict[str, dict[str, Any]]:
    """Rate entries as stored: a map from each rate's readable key to the rate, so that a
    diff names each added, changed or removed entry. An ``ending_before`` that a later
    entry of the same series makes moot (it ends there anyway) is dropped, so that the
    schedule as declared and as Metronome answers it compare equal."""
    by_key: dict[RateKey, RateEntry] = {}
    for entry in entries:
        by_key[entry.key()] = entry
    ordered = sorted(by_key.items())
    out: dict[str, dict[str, Any]] = {}
    for index, (key, entry) in enumerate(ordered):
        body = entry.body()
        following = ordered[index + 1][0] if index + 1 < len(ordered) else None
        same_series = following is not None and following[:3] == key[:3]
        moot = same_series and following is not None and "ending_before" in body
        if moot and following is not None and body["ending_before"] >= following[3]:
            del body["ending_before"]
        out[describe_key(key)] = body
    return out


def duplicate_keys(entries: Sequence[RateEntry]) -> list[Violation]:
    """Two entries with one key would be one rate in Metronome (the second replaces the
    first): refuse, naming both."""
    seen: dict[RateKey, int] = {}
    out = []
    for index, entry in enumerate(entries):
        key = entry.key()
        if key in seen:
            out.append(
                Violation(
                    f"rates[{index}]",
                    f"has the same product, pricing group values, billing frequency and "
                    f"starting_at as rates[{seen[key]}]; Metronome keeps one rate per key",
                )
            )
        seen.setdefault(key, index)
    return out
