"""Charges of a pricing over an events period: rate cards' rates applied to usage.

Decisions (Metronome prices contracts, which are account data; an impact prices the cards):

- **Which customers a card prices**: the mapping file (customer id -> rate card), else every
  customer of the events on every card, reported per card.
- **Which rate**: a card's schedule for a product is cut into segments where no entry starts
  or ends; in each segment, a pricing group is priced by the entitled entry in effect whose
  ``pricing_group_values`` equal the group's values, else by the entry without pricing group
  values (the latest ``starting_at`` wins). Usage of a group no entry prices is reported as
  unpriced. Entries that are not ``entitled`` price nothing (a contract must enable them).
- **As of which date** (``AsOf``): when the plan adds, changes or removes rate entries that
  start or end at or after the end of the events' period (a future-dated price change, the
  usual kind: the provider refuses retroactive rates unless asked), the rates of the
  events' period would show no change at all. So the whole period's usage is then priced
  under the rates in effect at *one* instant on both sides: now = today's schedule at that
  instant, proposed = the planned schedule at that instant (no segments; the entry picked
  as above, at that instant). The instant is ``--as-of`` if given, else the earliest such
  start or end; the later ones are listed in the report (price each with ``--as-of``).
  Without such entries the period is priced segment by segment as above. Changes to
  metrics and products apply to the events whatever the date (usage is usage).
- **Tiers across a rate change inside the period**: Metronome's documentation says the tier
  "depends on the quantity thus far in the billing period" and says nothing of a rate that
  changes within it; so tiers do not restart at a cut: each unit is priced by the tier its
  cumulative position in the period (per customer and pricing group, over the product's
  converted quantities of the earlier segments) falls in, at the tiers of the entry in
  effect when it was used. A price cut can therefore never raise a bill.
- **Quantity**: the metric's value for the customer (and group) over the segment: exact for
  every aggregation, since the segment is evaluated as one window. Then the product's
  ``quantity_conversion`` (MULTIPLY / DIVIDE by the factor), then ``quantity_rounding``.
- **Rate types**: FLAT quantity x price. TIERED: the customer's quantity over the segment
  through the tiers in order, a tier's minimum exclusive and maximum inclusive (the first
  ``size`` units at the first price, ...; the last tier takes the rest), starting at the
  customer's position in the period (above). SUBSCRIPTION products: a SUBSCRIPTION rate,
  or a FLAT rate with a billing frequency, charges price x quantity (default 1) per
  billing period, prorated by time to the segment
  (MONTHLY: the days of the segment's month; WEEKLY 7 days; QUARTERLY 3 such months;
  ANNUAL 12). PERCENTAGE (on a COMPOSITE product): the fraction of the customer's charges
  on the same card for the products it covers (``composite_product_ids`` or
  ``composite_tags``), by overlap of time where segments differ. TIERED_PERCENTAGE, CUSTOM
  and FIXED products are not priced (reported).
- **Packages**: a customer the mapping puts on a package (by resource name, URN, package
  name or id) is priced by the package's rate card with the package's overrides applied,
  reported under the package. Overrides apply from the contract's start
  (``starting_at_offset`` 0, whatever their ``duration``: the contract is taken to cover
  the period). A rate's override is chosen among those whose specifiers match it (any
  specifier; within one, every given field: ``product_id``, all ``product_tags``,
  ``pricing_group_values`` among the rate's, ``billing_frequency``): an OVERWRITE puts
  its rate in place of the card's (with EXPLICIT prioritization the lowest ``priority``,
  else the last declared), then a MULTIPLIER multiplies its price or tiers' prices
  (LOWEST_MULTIPLIER: the smallest multiplier; EXPLICIT: the lowest ``priority``); an
  ``entitled`` override sets the rate's entitlement. Not priced, and said in the notes:
  overrides starting after the contract's start, TIERED overrides, commit-specific
  overrides (``is_commit_specific``, ``target`` COMMIT_RATE), overrides on presentation
  group values, and the package's commits, credits, subscriptions and scheduled charges.
- **Money**: exact decimals in the card's fiat credit type (USD cents by default); a rate
  in a custom credit type is converted with the card's ``credit_type_conversions``.
"""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from ..models import USD_CENTS_ID, BillableMetricSpec, RateEntry
from ..models.package import Override, PackageSpec
from .inputs import Package, Pricing, Product, Rate, RateCard
from .usage import Period, metric_key

#: (metric key, segment start, segment end, pricing group key) -> quantities
#: {(customer, *group values): value}
Need = tuple[str, datetime, datetime, tuple[str, ...]]
Quantities = Mapping[Need, Mapping[tuple[str | None, ...], Decimal | None]]

_ROUNDING = {"ROUND_UP": ROUND_CEILING, "ROUND_DOWN": ROUND_FLOOR, "ROUND_HALF_UP": ROUND_HALF_UP}


@dataclass(frozen=True)
class Line:
    """One charge: a customer, a product (and pricing group) on a card, over a segment."""

    card: str  # URN
    customer: str
    product: str  # URN
    group: tuple[tuple[str, str | None], ...]
    start: datetime
    end: datetime
    rate_type: str
    quantity: Decimal | None
    amount: Decimal


@dataclass(frozen=True)
class Note:
    """Something a card could not price, and why."""

    card: str
    product: str
    message: str


@dataclass
class Charges:
    lines: list[Line] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    units: dict[str, str] = field(default_factory=dict)  # card URN -> credit type label


def customers_by_card(
    pricing: Pricing, customers: list[str], mapping: Mapping[str, str] | None
) -> dict[str, list[str]]:
    """Card URN -> the customers it prices (the mapping names a card by resource name,
    URN, card name or Metronome id)."""
    cards = all_cards(pricing)
    if mapping is None:
        return {urn: list(customers) for urn in cards}
    out: dict[str, list[str]] = {urn: [] for urn in cards}
    for customer, ref in mapping.items():
        for urn, card in cards.items():
            name = card.package_name if urn in pricing.packages else None
            if urn not in pricing.packages and card.spec is not None:
                name = card.spec.name
            if ref in {urn, card.resource, card.id, name}:
                out[urn].append(customer)
    return out


def all_cards(pricing: Pricing) -> dict[str, RateCard]:
    """The stack's rate cards, and each package as the card it prices by: its rate card's
    rates with its overrides applied (see the module docstring), under the package's URN."""
    out = dict(pricing.rate_cards)
    ids = {p.id: urn for urn, p in pricing.products.items() if p.id}
    for urn, package in pricing.packages.items():
        out[urn] = package_card(pricing, package, ids)
    return out


def package_card(pricing: Pricing, package: Package, ids: Mapping[str, str]) -> RateCard:
    """The card a package prices by (no rates when the package or its card is unknown)."""
    card = pricing.rate_cards.get(package.card_urn or "")
    spec = package.spec
    if spec is None or card is None:
        why = "the package is unknown until apply" if spec is None else "its rate card is unknown"
        return RateCard(
            package.urn, package.id, None, (), frozenset({"*"}), package.resource, (why,)
        )
    applied, notes = _applicable(spec)
    rates = []
    for rate in card.rates:
        product = pricing.products.get(rate.product_urn or "")
        matching = [o for o in applied if _matches(o, rate.entry, product, ids)]
        rates.append(Rate(_overridden(rate.entry, matching, spec), rate.product_urn))
    return RateCard(
        package.urn,
        package.id,
        card.spec,
        tuple(rates),
        card.unknown_products,
        spec.name,
        tuple(notes),
    )


def _applicable(spec: PackageSpec) -> tuple[list[Override], list[str]]:
    """The overrides the impact applies, and a note for each part of the package it does not
    price."""
    applied, notes = [], []
    for index, item in enumerate(spec.overrides or []):
        why = None
        if item.starting_at_offset.value != 0:
            why = "starts after the contract's start"
        elif item.type == "TIERED":
            why = "is a TIERED override"
        elif item.is_commit_specific or item.target == "COMMIT_RATE":
            why = "applies to commit rates"
        elif any(s.presentation_group_values for s in item.override_specifiers):
            why = "targets presentation group values"
        if why is None:
            applied.append(item)
        else:
            notes.append(f"override overrides[{index}] {why}: not applied")
    extras = [
        name
        for name in ("commits", "credits", "subscriptions", "scheduled_charges")
        if getattr(spec, name)
    ]
    if extras:
        notes.append(f"the package's {', '.join(extras)} are not priced")
    return applied, notes


def _matches(
    item: Override, entry: RateEntry, product: Product | None, ids: Mapping[str, str]
) -> bool:
    for spec in item.override_specifiers:
        if spec.product_id is not None and (
            product is None or ids.get(spec.product_id) != product.urn
        ):
            continue
        tags = set(product.spec.tags or []) if product and product.spec else set()
        if spec.product_tags and not set(spec.product_tags) <= tags:
            continue
        values = entry.pricing_group_values or {}
        wanted = spec.pricing_group_values or {}
        if any(values.get(k) != v for k, v in wanted.items()):
            continue
        if spec.billing_frequency is not None and spec.billing_frequency != entry.billing_frequency:
            continue
        return True
    return False


def _times(value: float | None, multiplier: float) -> float | None:
    """``value * multiplier`` computed in decimals (0.8 x 10 is 8, not 8.000000000000002)."""
    return None if value is None else float(_dec(value) * _dec(multiplier))


def _overridden(entry: RateEntry, matching: list[Override], spec: PackageSpec) -> RateEntry:
    explicit = spec.multiplier_override_prioritization == "EXPLICIT"

    def first(items: list[Override]) -> Override:
        if explicit:
            return min(items, key=lambda o: (o.priority is None, o.priority or 0))
        return items[-1]

    overwrites = [o for o in matching if o.type == "OVERWRITE" and o.overwrite_rate]
    multipliers = [o for o in matching if o.type == "MULTIPLIER" and o.multiplier is not None]
    update: dict[str, object] = {}
    if overwrites:
        rate = first(overwrites).overwrite_rate
        assert rate is not None
        update = {
            "rate_type": rate.rate_type,
            "price": rate.price,
            "tiers": rate.tiers,
            "credit_type_id": rate.credit_type_id,
        }
    if multipliers:
        if explicit:
            factor = first(multipliers).multiplier
        else:
            factor = min(o.multiplier for o in multipliers if o.multiplier is not None)
        assert factor is not None
        price = update.get("price", entry.price)
        tiers = update.get("tiers", entry.tiers)
        update["price"] = _times(price if isinstance(price, float | int) else None, factor)
        if isinstance(tiers, list):
            update["tiers"] = [
                t.model_copy(update={"price": _times(t.price, factor)}) for t in tiers
            ]
    entitled = [o.entitled for o in matching if o.entitled is not None]
    if entitled:
        update["entitled"] = entitled[-1]
    return entry.model_copy(update=update) if update else entry


@dataclass(frozen=True)
class AsOf:
    """The instant whose rates price the period (see the module docstring), and why."""

    date: datetime | None  # None: each segment at the rates in effect during it
    reason: str
    later: tuple[datetime, ...] = ()  # other effective dates after the period, not priced

    def at(self, segment_start: datetime) -> datetime:
        """The instant whose rates price a segment starting at ``segment_start``."""
        return segment_start if self.date is None else self.date


DURING = AsOf(None, "the rates in effect during the events' period")


def _entries_by_card(pricing: Pricing) -> dict[str, dict[tuple[str | None, str], RateEntry]]:
    """Card URN -> {(product URN, entry without its product id): entry}: a product replaced
    by the plan has an unknown id, but its URN and its entries are the same."""
    out: dict[str, dict[tuple[str | None, str], RateEntry]] = {}
    for urn, card in pricing.rate_cards.items():
        if "*" in card.unknown_products:
            continue  # rates unknown until apply: nothing to compare
        out[urn] = {
            (r.product_urn, r.entry.model_dump_json(exclude={"product_id"})): r.entry
            for r in card.rates
        }
    return out


def effective_dates(now: Pricing, proposed: Pricing, period: Period) -> list[datetime]:
    """Starts and ends at or after the period's end of the rate entries the plan adds,
    changes or removes, earliest first."""
    a, b = _entries_by_card(now), _entries_by_card(proposed)
    moments: set[datetime] = set()
    for card in set(now.rate_cards) | set(proposed.rate_cards):
        unknown = (card in now.rate_cards and card not in a) or (
            card in proposed.rate_cards and card not in b
        )
        if unknown:
            continue  # one side's rates are unknown until apply: not compared
        old, new = a.get(card, {}), b.get(card, {})
        for key in set(old) ^ set(new):
            entry = old.get(key) or new[key]
            for moment in (entry.starting_at, entry.ending_before):
                if moment is not None and moment >= period.end:
                    moments.add(moment)
    return sorted(moments)


def choose_as_of(
    now: Pricing, proposed: Pricing, period: Period, explicit: datetime | None = None
) -> AsOf:
    """``explicit`` (``--as-of``), else the first date a proposed rate change takes effect
    after the period, else the rates of the period itself."""
    dates = effective_dates(now, proposed, period)
    if explicit is not None:
        return AsOf(explicit, "set by --as-of", tuple(d for d in dates if d != explicit))
    if not dates:
        return DURING
    return AsOf(
        dates[0],
        "the first date a proposed rate change takes effect (after the events' period)",
        tuple(dates[1:]),
    )


def _segments(
    entries: list[RateEntry], period: Period, as_of: AsOf = DURING
) -> list[tuple[datetime, datetime]]:
    if as_of.date is not None:
        return [(period.start, period.end)]  # one instant's rates price the whole period
    cuts = {period.start, period.end}
    for e in entries:
        for moment in (e.starting_at, e.ending_before):
            if moment is not None and period.start < moment < period.end:
                cuts.add(moment)
    ordered = sorted(cuts)
    return list(itertools.pairwise(ordered))


def _active(entry: RateEntry, at: datetime) -> bool:
    return entry.starting_at <= at and (entry.ending_before is None or at < entry.ending_before)


def _pick(
    entries: list[RateEntry], at: datetime, group: Mapping[str, str | None]
) -> RateEntry | None:
    live = [e for e in entries if e.entitled and _active(e, at)]
    exact = [e for e in live if e.pricing_group_values and e.pricing_group_values == group]
    default = [e for e in live if not e.pricing_group_values]
    pool = exact or default
    return max(pool, key=lambda e: e.starting_at) if pool else None


def converter(product: Product) -> Callable[[Decimal], Decimal]:
    """The product's quantity conversion, then its rounding."""
    spec = product.spec
    assert spec is not None
    conversion = spec.quantity_conversion
    rounding = spec.quantity_rounding
    factor = None if conversion is None else Decimal(str(conversion.conversion_factor))
    multiply = conversion is not None and conversion.operation == "MULTIPLY"
    exponent = None if rounding is None else Decimal(1).scaleb(-int(rounding.decimal_places))
    method = None if rounding is None else _ROUNDING[rounding.rounding_method]

    def convert(quantity: Decimal) -> Decimal:
        if factor is not None:
            quantity = quantity * factor if multiply else quantity / factor
        if exponent is not None:
            quantity = quantity.quantize(exponent, rounding=method)
        return quantity

    return convert


def convert_quantity(product: Product, quantity: Decimal) -> Decimal:
    """The product's quantity conversion, then its rounding."""
    return converter(product)(quantity)


def tiered(quantity: Decimal, tiers: list[tuple[Decimal, Decimal | None]]) -> Decimal:
    """Tiers in order: ``(price, size)``; a tier covers (lower, lower + size]."""
    total, lower = Decimal(0), Decimal(0)
    for price, size in tiers:
        if quantity <= lower:
            break
        upper = quantity if size is None else min(quantity, lower + size)
        total += (upper - lower) * price
        if size is None:
            break
        lower += size
    return total


def _dec(value: float | None) -> Decimal:
    return Decimal(0) if value is None else Decimal(str(value))


def _period_length(frequency: str, start: datetime) -> timedelta:
    days_in_month = calendar.monthrange(start.year, start.month)[1]
    months = {"MONTHLY": 1, "QUARTERLY": 3, "ANNUAL": 12}.get(frequency)
    if months is None:
        return timedelta(days=7)
    return timedelta(days=days_in_month * months)


def needs(pricing: Pricing, period: Period, as_of: AsOf = DURING) -> set[Need]:
    """Every quantity the charges of ``pricing`` read."""
    out: set[Need] = set()
    for card in all_cards(pricing).values():
        for product_urn, entries in _by_product(card).items():
            product = pricing.products.get(product_urn)
            spec = usage_metric(pricing, product)
            if product is None or spec is None or product.spec is None:
                continue
            group = tuple(product.spec.pricing_group_key or ())
            for a, b in _segments(entries, period, as_of):
                out.add((metric_key(spec), a, b, group))
    return out


def _by_product(card: RateCard) -> dict[str, list[RateEntry]]:
    out: dict[str, list[RateEntry]] = {}
    for rate in card.rates:
        if rate.product_urn is not None:
            out.setdefault(rate.product_urn, []).append(rate.entry)
    return out


def usage_metric(pricing: Pricing, product: Product | None) -> BillableMetricSpec | None:
    if product is None or product.spec is None or product.spec.type != "USAGE":
        return None
    metric = pricing.metrics.get(product.metric_urn or "")
    if metric is None or metric.spec is None or metric.spec.sql is not None:
        return None
    return metric.spec


def price(
    pricing: Pricing,
    period: Period,
    cards: Mapping[str, list[str]],
    quantities: Quantities,
    as_of: AsOf = DURING,
) -> Charges:
    """Charges of every customer on each card it prices, at the rates ``as_of`` picks."""
    result = Charges()
    for card_urn, card in all_cards(pricing).items():
        customers = cards.get(card_urn, [])
        result.units[card_urn] = _unit(card)
        for note in card.notes:
            result.notes.append(Note(card_urn, "", note))
        if card.spec is None or "*" in card.unknown_products:
            if not card.notes:
                result.notes.append(Note(card_urn, "", "the rate card is unknown until apply"))
            continue
        schedule = _by_product(card)
        composite: list[tuple[Product, list[RateEntry]]] = []
        for product_urn in sorted(card.unknown_products - {"*"}):
            schedule.setdefault(product_urn, [])
        for product_urn, entries in sorted(schedule.items()):
            product = pricing.products.get(product_urn)
            if product_urn in card.unknown_products:
                result.notes.append(Note(card_urn, product_urn, "rates unknown until apply"))
                continue
            if product is None or product.spec is None:
                result.notes.append(
                    Note(card_urn, product_urn, "product unknown or not in this stack: not priced")
                )
                continue
            kind = product.spec.type
            if kind == "USAGE":
                _price_usage(
                    result, pricing, card, product, entries, period, customers, quantities, as_of
                )
            elif kind == "SUBSCRIPTION":
                _price_subscription(result, card, product, entries, period, customers, as_of)
            elif kind == "COMPOSITE":
                composite.append((product, entries))
            else:
                result.notes.append(Note(card_urn, product_urn, f"{kind} products are not priced"))
        for product, entries in composite:
            _price_percentage(result, pricing, card, product, entries, period, customers, as_of)
    return result


def _unit(card: RateCard) -> str:
    fiat = card.spec.fiat_credit_type_id if card.spec else None
    return "USD (cents)" if fiat in (None, USD_CENTS_ID) else f"credit type {fiat}"


def _rate_factor(card: RateCard, entry: RateEntry) -> Decimal | None:
    """Fiat units per unit of the rate's credit type (None: cannot convert)."""
    fiat = (card.spec.fiat_credit_type_id if card.spec else None) or USD_CENTS_ID
    if entry.credit_type_id in (None, fiat):
        return Decimal(1)
    for conversion in (card.spec.credit_type_conversions if card.spec else None) or []:
        if conversion.custom_credit_type_id == entry.credit_type_id:
            return Decimal(str(conversion.fiat_per_custom_credit))
    return None


def _price_usage(
    result: Charges,
    pricing: Pricing,
    card: RateCard,
    product: Product,
    entries: list[RateEntry],
    period: Period,
    customers: list[str],
    quantities: Quantities,
    as_of: AsOf,
) -> None:
    spec = usage_metric(pricing, product)
    assert product.spec is not None
    if spec is None:
        metric = pricing.metrics.get(product.metric_urn or "")
        why = (
            "its metric is a SQL metric, not evaluated by the impact"
            if metric is not None and metric.spec is not None and metric.spec.sql
            else "its metric is unknown or not in this stack"
        )
        result.notes.append(Note(card.urn, product.urn, f"not priced: {why}"))
        return
    keys = tuple(product.spec.pricing_group_key or ())
    wanted = set(customers)
    unpriced: set[str] = set()
    convert = converter(product)
    # Each (customer, *group values)'s cumulative quantity over the earlier segments: tiers
    # carry across a rate change (module docstring).
    position: dict[tuple[str | None, ...], Decimal] = {}
    for a, b in _segments(entries, period, as_of):
        found = quantities.get((metric_key(spec), a, b, keys), {})
        # Few pricing groups, many customers: pick each group's rate once.
        picked: dict[tuple[str | None, ...], tuple[RateEntry | None, Decimal | None]] = {}
        for group_key, value in found.items():
            customer = str(group_key[0])
            if not value or customer not in wanted:
                continue  # no usage: nothing to charge
            values = group_key[1:]
            if values not in picked:
                group = dict(zip(keys, values, strict=True))
                entry = _pick(entries, as_of.at(a), group)
                picked[values] = (entry, None if entry is None else _rate_factor(card, entry))
                if entry is None:
                    unpriced.add(", ".join(f"{k}={v}" for k, v in group.items()) or "no rate")
                elif picked[values][1] is None:
                    result.notes.append(
                        Note(
                            card.urn,
                            product.urn,
                            f"rate in credit type {entry.credit_type_id} has no conversion "
                            "on this card: not priced",
                        )
                    )
                elif entry.rate_type not in ("FLAT", "TIERED"):
                    result.notes.append(
                        Note(card.urn, product.urn, f"{entry.rate_type} rates are not priced")
                    )
            entry, factor = picked[values]
            quantity = convert(value)
            before = position.get(group_key, Decimal(0))
            position[group_key] = before + quantity
            if entry is None or factor is None or entry.rate_type not in ("FLAT", "TIERED"):
                continue
            if entry.rate_type == "FLAT":
                amount = quantity * _dec(entry.price)
            else:
                tiers = [
                    (_dec(t.price), None if t.size is None else _dec(t.size))
                    for t in entry.tiers or []
                ]
                amount = tiered(before + quantity, tiers) - tiered(before, tiers)
            result.lines.append(
                Line(
                    card.urn,
                    customer,
                    product.urn,
                    tuple(zip(keys, values, strict=True)),
                    a,
                    b,
                    entry.rate_type,
                    quantity,
                    amount * factor,
                )
            )
    for what in sorted(unpriced):
        result.notes.append(Note(card.urn, product.urn, f"usage with no rate in effect ({what})"))


def _price_subscription(
    result: Charges,
    card: RateCard,
    product: Product,
    entries: list[RateEntry],
    period: Period,
    customers: list[str],
    as_of: AsOf,
) -> None:
    for a, b in _segments(entries, period, as_of):
        entry = _pick(entries, as_of.at(a), {})
        if entry is None:
            continue
        if entry.rate_type not in ("SUBSCRIPTION", "FLAT"):
            result.notes.append(
                Note(card.urn, product.urn, f"{entry.rate_type} rates are not priced")
            )
            continue
        factor = _rate_factor(card, entry)
        if factor is None:
            result.notes.append(Note(card.urn, product.urn, "rate credit type has no conversion"))
            continue
        length = _period_length(entry.billing_frequency or "MONTHLY", a)
        share = Decimal((b - a) // timedelta(seconds=1)) / Decimal(length // timedelta(seconds=1))
        quantity = _dec(entry.quantity) if entry.quantity is not None else Decimal(1)
        amount = _dec(entry.price) * quantity * share * factor
        for customer in customers:
            result.lines.append(
                Line(card.urn, customer, product.urn, (), a, b, entry.rate_type, quantity, amount)
            )


def _covers(pricing: Pricing, composite: Product, product_urn: str) -> bool:
    spec = composite.spec
    assert spec is not None
    other = pricing.products.get(product_urn)
    if other is None or other.spec is None:
        return False
    if other.id is not None and other.id in (spec.composite_product_ids or []):
        return True
    return bool(set(spec.composite_tags or []) & set(other.spec.tags or []))


def _price_percentage(
    result: Charges,
    pricing: Pricing,
    card: RateCard,
    product: Product,
    entries: list[RateEntry],
    period: Period,
    customers: list[str],
    as_of: AsOf,
) -> None:
    covered = [
        line
        for line in result.lines
        if line.card == card.urn and _covers(pricing, product, line.product)
    ]
    for a, b in _segments(entries, period, as_of):
        entry = _pick(entries, as_of.at(a), {})
        if entry is None:
            continue
        if entry.rate_type != "PERCENTAGE":
            result.notes.append(
                Note(card.urn, product.urn, f"{entry.rate_type} rates are not priced")
            )
            continue
        fraction = _dec(entry.price)
        for customer in customers:
            base = Decimal(0)
            for line in covered:
                if line.customer != customer:
                    continue
                overlap = min(b, line.end) - max(a, line.start)
                if overlap > timedelta(0):
                    base += line.amount * _share(overlap, line.end - line.start)
            result.lines.append(
                Line(card.urn, customer, product.urn, (), a, b, "PERCENTAGE", base, base * fraction)
            )


def _share(part: timedelta, whole: timedelta) -> Decimal:
    if part >= whole:
        return Decimal(1)
    return Decimal(part // timedelta(microseconds=1)) / Decimal(whole // timedelta(microseconds=1))
