"""``RateCard`` and its rates: argument classes, provider (check, diff, create, read,
update, delete, side by side) and the resource class a program declares.

A rate card is a price list; its rates are declared on it as a schedule of entries
(product, pricing group values, ``starting_at``, ``ending_before``, rate type, price or
tiers, ...). Metronome changes a card's ``name``, ``description`` and ``aliases`` in place
and fixes its credit types at creation. Rates have no id, no update and no delete: adding
a rate with the key of a stored one (product, pricing group values, billing frequency,
``starting_at``) replaces it, and a price change is a new entry with a later
``starting_at``. So:

- an **added** entry is added; a **changed** entry is added again (Metronome replaces it);
- what would rewrite what was already billed fails at preview, with how to do it safely,
  unless the declaration opts in:
  * ``allow_replace``: a change of ``fiat_credit_type_id`` or ``credit_type_conversions``
    replaces the card (a new id; contracts keep pointing at the old one, archived);
  * ``allow_retroactive_rates``: an added or changed entry that takes effect before now;
  * ``allow_rate_removal``: removing an entry Metronome cannot delete; the rate stays in
    Metronome, unmanaged (listed in the ``unmanaged_rates`` output).
- in state the schedule is a map from a readable key (``<product id> model=large from
  2027-01-01T00:00:00.000Z``) to the entry, so ``pulumi preview --diff`` names each added,
  changed or removed entry.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
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

from ..errors import AdoptionConflict, MetronomeError
from ..models import (
    PRODUCT_ORDER,
    USD_CENTS_ID,
    RateCardSpec,
    RateCardUpdate,
    RateEntry,
    ScheduledRate,
    SpecError,
    Violation,
    parse_model,
    parse_rates,
    parse_value,
)
from ..models.rate_card import (
    CARD_FIELDS,
    IMMUTABLE_FIELDS,
    MUTABLE_FIELDS,
    card_fields,
    card_state,
    duplicate_keys,
    live_card_state,
    schedule_state,
)
from ..models.rules import parse_with_rules
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
    unexpected_arguments,
    validate_declaration,
)
from .diffs import DiffPlan, plan
from .ownership import Ownership

ENTITY = "rate_card"
CARDS = Ownership("rate card")
RATES = "rates"
UNMANAGED = "unmanaged_rates"
#: The order of the card's products on invoices, set after the card and its rates.
ORDER = "product_order"
ALLOW_RETROACTIVE = "allow_retroactive_rates"
ALLOW_REMOVAL = "allow_rate_removal"
CONTROLS = (ALLOW_REPLACE, ALLOW_RETROACTIVE, ALLOW_REMOVAL)
#: A failure about the whole resource: the engine prints "RateCard resource 'x' has a
#: problem: <reason>" instead of the whole (long) value of ``rates``.
WHOLE = ""


@dataclasses.dataclass(frozen=True)
class TierArgs:
    """One tier of a TIERED price: ``size`` units at ``price`` (the last tier: the rest)."""

    price: pulumi.Input[float]
    size: pulumi.Input[float] | None = None


@dataclasses.dataclass(frozen=True)
class RateArgs:
    """One entry of a rate card's schedule: a price for a product from ``starting_at``
    (inclusive) until ``ending_before`` (exclusive) or the next entry of the same product
    and pricing group values. ``entitled`` defaults to True."""

    product_id: pulumi.Input[str]
    rate_type: pulumi.Input[str]
    starting_at: pulumi.Input[str]
    price: pulumi.Input[float] | None = None
    tiers: pulumi.Input[Sequence[pulumi.Input[TierArgs | Mapping[str, Any]]]] | None = None
    ending_before: pulumi.Input[str] | None = None
    entitled: pulumi.Input[bool] = True
    billing_frequency: pulumi.Input[str] | None = None
    is_prorated: pulumi.Input[bool] | None = None
    quantity: pulumi.Input[float] | None = None
    pricing_group_values: pulumi.Input[Mapping[str, pulumi.Input[str]]] | None = None
    credit_type_id: pulumi.Input[str] | None = None
    commit_rate: pulumi.Input[Mapping[str, Any]] | None = None
    custom_rate: pulumi.Input[Mapping[str, Any]] | None = None


@dataclasses.dataclass(frozen=True)
class AliasArgs:
    """A name contracts can use for the card, optionally for a period."""

    name: pulumi.Input[str]
    starting_at: pulumi.Input[str] | None = None
    ending_before: pulumi.Input[str] | None = None


# --- validation and state -------------------------------------------------------------------


def _entries(raw: Any) -> list[RateEntry]:
    """The declared ``rates`` list as entries (``entitled`` defaults to True)."""
    if isinstance(raw, Mapping):  # already in the stored form (a map by key)
        raw = list(raw.values())
    items = [
        {"entitled": True, **item} if isinstance(item, Mapping) else item for item in raw or []
    ]
    entries = parse_rates(items)
    problems = duplicate_keys(entries)
    if problems:
        raise SpecError(problems)
    return entries


def _parse(
    data: Mapping[str, Any], unknown: frozenset[str]
) -> tuple[RateCardSpec, list[RateEntry] | None]:
    """The card and its entries (None when the entries are not known yet); ``SpecError``
    names every problem of both."""
    problems: list[Violation] = []
    spec: RateCardSpec | None = None
    try:
        spec = parse_with_rules(
            RateCardSpec, card_fields(data), [], unknown=unknown, placeholders={"name": "-"}
        )
    except SpecError as error:
        problems += error.violations
    if ORDER not in unknown:
        try:
            parse_value(PRODUCT_ORDER, data.get(ORDER), ORDER)
        except SpecError as error:
            problems += error.violations
    entries: list[RateEntry] | None = None
    if RATES not in unknown:
        try:
            entries = _entries(data.get(RATES))
        except SpecError as error:
            problems += error.violations
    if problems or spec is None:
        raise SpecError(problems)
    return spec, entries


def _check(news: Mapping[str, Any]) -> tuple[dict[str, Any], frozenset[str]]:
    data = {k: news[k] for k in (*CARD_FIELDS, RATES, ORDER) if news.get(k) is not None}
    unknown = frozenset(k for k, v in data.items() if is_unknown(v))
    spec, entries = _parse(data, unknown)
    inputs = card_state(spec)
    inputs[ORDER] = data.get(ORDER) or None
    inputs.update({k: data[k] for k in unknown if k != RATES})
    inputs[RATES] = data[RATES] if entries is None else schedule_state(entries)
    return inputs, unknown


def schedule_by_key(rates: Any) -> Any:
    """A schedule given as a list of entries (the native plugin's form) in its stored form,
    a map by readable key; anything else (a map already, unknown or invalid entries) as is."""
    if not isinstance(rates, list) or is_unknown(rates):
        return rates
    try:
        return schedule_state(_entries(rates))
    except SpecError:
        return rates


def _starts(body: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(body["starting_at"]).replace("Z", "+00:00"))


def _affects_from(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> datetime | None:
    """From when a change of one entry changes prices (None: never). A change of
    ``ending_before`` alone changes them from the earlier of the two ends."""
    if old is None or new is None:
        return _starts(new or old or {})
    if dict(old) == dict(new):
        return None
    rest_old = {k: v for k, v in old.items() if k != "ending_before"}
    rest_new = {k: v for k, v in new.items() if k != "ending_before"}
    if rest_old != rest_new:
        return _starts(new)
    ends = [e for e in (old.get("ending_before"), new.get("ending_before")) if e is not None]
    return min(_starts({"starting_at": e}) for e in ends)


def rate_changes(
    olds: Mapping[str, Any], news: Mapping[str, Any]
) -> tuple[list[str], list[str], list[str]]:
    """Keys of the entries added, changed and removed from ``olds`` to ``news``."""
    added = sorted(k for k in news if k not in olds)
    changed = sorted(k for k in news if k in olds and dict(olds[k]) != dict(news[k]))
    removed = sorted(k for k in olds if k not in news)
    return added, changed, removed


def _split_pending(items: list[Any]) -> tuple[list[RateEntry], list[tuple[int, Mapping[str, Any]]]]:
    """Declared entries that are fully known (parsed), and those that are not yet."""
    known: list[Any] = []
    pending: list[tuple[int, Mapping[str, Any]]] = []
    for index, item in enumerate(items):
        if is_unknown(item):
            if isinstance(item, Mapping):
                pending.append((index, item))
        else:
            known.append(item)
    try:
        return _entries(known), pending
    except SpecError:
        return [], pending


def safety_failures(
    olds: Mapping[str, Any], inputs: Mapping[str, Any], now: datetime | None = None
) -> list[CheckFailure]:
    """What a change would do that Metronome cannot undo, unless opted in."""
    now = now or datetime.now(UTC)
    failures = []
    fixed = sorted(f for f in IMMUTABLE_FIELDS if olds.get(f) != inputs.get(f))
    if fixed and not inputs.get(ALLOW_REPLACE):
        failures.append(
            CheckFailure(
                fixed[0],
                f"changing {' and '.join(fixed)} replaces the rate card: a new id, and "
                "contracts keep pointing at the old card, which is archived. To do it safely, "
                "declare a new RateCard, move contracts to it, then remove this one; or set "
                "allow_replace=True.",
            )
        )
    old_rates, new_rates = olds.get(RATES), inputs.get(RATES)
    if fixed or not isinstance(old_rates, Mapping):
        return failures
    pending: list[tuple[int, Mapping[str, Any]]] = []
    if isinstance(new_rates, list):
        # Some entries name a product not created yet (new, or replaced: a new id). Check
        # the known ones as usual, the others by their starting_at. An old entry that no
        # known entry keeps is removed: an id not known yet is never an existing one.
        known, pending = _split_pending(new_rates)
        new_rates = schedule_state(known)
    if not isinstance(new_rates, Mapping):
        return failures
    unmanaged = set(olds.get(UNMANAGED) or [])
    added, changed, removed = rate_changes(old_rates, new_rates)
    if not inputs.get(ALLOW_RETROACTIVE):
        for index, item in pending:
            start = item.get("starting_at")
            if isinstance(start, str) and not is_unknown(start) and _starts(item) < now:
                failures.append(
                    CheckFailure(
                        WHOLE,
                        f"rates: rates[{index}] (for a product not created yet) starts at "
                        f"{start}, which is past: on an existing card it would change prices "
                        "from then on. Give it a later starting_at, or set "
                        "allow_retroactive_rates=True.",
                    )
                )
    if not inputs.get(ALLOW_RETROACTIVE):
        for key in added + changed:
            since = _affects_from(old_rates.get(key), new_rates[key])
            if since is not None and since < now and key not in unmanaged:
                what = "adding" if key in added else "changing"
                failures.append(
                    CheckFailure(
                        WHOLE,
                        f"rates: {what} the rate {key} changes prices from {since.isoformat()}, "
                        "which is past: it would rewrite what was already billed. Add an "
                        "entry with a later starting_at instead (the price changes from "
                        "then on), or set allow_retroactive_rates=True.",
                    )
                )
    if removed and not inputs.get(ALLOW_REMOVAL):
        for key in removed:
            failures.append(
                CheckFailure(
                    WHOLE,
                    f"rates: removing the rate {key}: Metronome cannot delete a rate, so it would "
                    "stay in effect. To stop it, set its ending_before; to change it, add an "
                    "entry with a later starting_at; or set allow_rate_removal=True to leave "
                    "it in Metronome, unmanaged.",
                )
            )
    return failures


# --- provider -------------------------------------------------------------------------------


class RateCardProvider(MetronomeProvider):
    """A Metronome rate card with its schedule of rates."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        extra = unexpected_arguments(news, (*CARD_FIELDS, RATES, ORDER, UNMANAGED, *CONTROLS))
        failures = [CheckFailure(k, "is not an argument of RateCard") for k in extra]
        try:
            inputs, _ = _check(news)
        except SpecError as error:
            return CheckResult(news, failures + check_failures(error.violations))
        for key in (ADOPT, *CONTROLS):
            inputs[key] = bool(news.get(key) or False)
        if resource_of(news) is not None:
            inputs[RESOURCE_KEY] = news[RESOURCE_KEY]
        if olds and card_fields(olds):
            failures += safety_failures(olds, inputs)
        if failures:
            return CheckResult(news, failures)
        return CheckResult(inputs, [])

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return self.plan(id_, olds, news).result()

    def plan(self, id_: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> DiffPlan:
        """The diff, per field, per custom field and per rate (both front ends)."""
        CARDS.see(id_, resource_of(news), "diff", str(news.get("name") or ""))

        def differs(field: str) -> bool:
            def norm(value: Any) -> Any:
                return None if value in ({}, []) else value

            return bool(norm(olds.get(field)) != norm(news.get(field)))

        replaces = sorted(f for f in IMMUTABLE_FIELDS if differs(f))
        updates = [
            f for f in (*sorted(MUTABLE_FIELDS), "custom_fields", RATES, ORDER) if differs(f)
        ]
        entries: dict[str, tuple[Mapping[str, Any], Mapping[str, Any]]] = {}
        if RATES in updates and isinstance(news.get(RATES), Mapping):
            unmanaged = set(olds.get(UNMANAGED) or [])
            old_rates = {k: v for k, v in (olds.get(RATES) or {}).items() if k not in unmanaged}
            entries[RATES] = (old_rates, news[RATES])
            if not any(rate_changes(old_rates, news[RATES])):
                updates.remove(RATES)
        return plan(
            olds,
            news,
            replaces=replaces,
            updates=updates,
            keyed=("custom_fields", RATES),
            entries=entries,
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        spec = RateCardSpec.model_validate(card_fields(props))
        entries = _entries(props.get(RATES))
        resource = resource_of(props)
        card_id = self._adopt(spec, entries, resource) if props.get(ADOPT) else None
        if card_id is None:
            card_id = self.client.create_rate_card(spec)
            CARDS.see(card_id, resource, "create")
            try:
                self.client.add_rates(card_id, entries)
                if props.get(ORDER):
                    self.client.set_product_order(card_id, list(props[ORDER]))
            except MetronomeError:
                # Never leave a card without its rates: archive it, then report the error.
                self._archive_quietly(card_id)
                raise
        return CreateResult(card_id, self._outs(card_state(spec), entries, props, []))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        CARDS.see(id_, resource_of(props), "read", str(props.get("name") or ""))
        card = found_or_none(self.client.get_rate_card, id_)
        if card is None or card.archived_at is not None:
            return ReadResult(None, {})
        unmanaged = list(props.get(UNMANAGED) or [])
        entries = self._live_entries(
            id_, card.fiat_credit_type.id if card.fiat_credit_type else None
        )
        schedule = {k: v for k, v in schedule_state(entries).items() if k not in unmanaged}
        outs = {**live_card_state(card), RATES: schedule, UNMANAGED: unmanaged}
        # Metronome cannot read the product order back: the stack keeps the one it set.
        outs[ORDER] = props.get(ORDER) or None
        for key in (ADOPT, *CONTROLS):
            outs[key] = bool(props.get(key) or False)
        if resource_of(props) is not None:
            outs[RESOURCE_KEY] = props[RESOURCE_KEY]
        return ReadResult(id_, outs, inputs={k: v for k, v in outs.items() if k != UNMANAGED})

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        spec = RateCardSpec.model_validate(card_fields(news))
        state = card_state(spec)
        entries = _entries(news.get(RATES))
        changes = {f: state[f] for f in MUTABLE_FIELDS if olds.get(f) != state.get(f)}
        if changes:
            body = {
                k: (v if v is not None else ([] if k == "aliases" else ""))
                for k, v in changes.items()
            }
            self.client.update_rate_card(parse_model(RateCardUpdate, {"rate_card_id": id_, **body}))
        self.sync_custom_fields(
            ENTITY, id_, olds.get("custom_fields") or {}, spec.custom_fields or {}
        )
        new_rates = schedule_state(entries)
        old_rates = olds.get(RATES) or {}
        added, changed, removed = rate_changes(old_rates, new_rates)
        wanted = set(added) | set(changed)
        self.client.add_rates(id_, [e for e in entries if _key_of(e) in wanted])
        if news.get(ORDER) and news.get(ORDER) != olds.get(ORDER):
            self.client.set_product_order(id_, list(news[ORDER]))
        unmanaged = sorted({*(olds.get(UNMANAGED) or []), *removed} - set(new_rates))
        for key in removed:
            print(
                f"pulumi-metronome: rate {key} of rate card {id_} stays in Metronome "
                "(it cannot be deleted); it is no longer managed by this stack",
                file=sys.stderr,
            )
        return UpdateResult(self._outs(state, entries, news, unmanaged))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Archive (Metronome has no delete); already archived or gone counts as deleted."""
        self.end(CARDS, id_, props, self.client.archive_rate_card)

    # ------------------------------------------------------------------------ helpers

    @staticmethod
    def _outs(
        state: dict[str, Any],
        entries: Sequence[RateEntry],
        props: Mapping[str, Any],
        unmanaged: list[str],
    ) -> dict[str, Any]:
        outs = {**state, RATES: schedule_state(entries), UNMANAGED: unmanaged}
        outs[ORDER] = props.get(ORDER) or None
        for key in (ADOPT, *CONTROLS):
            outs[key] = bool(props.get(key) or False)
        if resource_of(props) is not None:
            outs[RESOURCE_KEY] = props[RESOURCE_KEY]
        return outs

    def _live_entries(self, card_id: str, fiat: str | None) -> list[RateEntry]:
        return live_entries(self.client.rate_schedule(card_id), fiat)

    def _archive_quietly(self, card_id: str) -> None:
        try:
            self.client.archive_rate_card(card_id)
        except MetronomeError as error:
            print(
                f"pulumi-metronome: rate card {card_id} was created but its rates were "
                f"refused, and archiving it failed too ({error}); archive it by hand",
                file=sys.stderr,
            )

    def _adopt(
        self, spec: RateCardSpec, entries: Sequence[RateEntry], resource: str | None
    ) -> str | None:
        """The live card with this name, credit types and schedule (or no rates yet)."""
        ours = {k: v for k, v in card_state(spec).items() if k in IMMUTABLE_FIELDS}
        declared = schedule_state(entries)
        namesakes: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        for card in self.client.list_rate_cards():
            if card.name != spec.name:
                continue
            fiat = card.fiat_credit_type.id if card.fiat_credit_type else None
            fixed = {k: v for k, v in live_card_state(card).items() if k in IMMUTABLE_FIELDS}
            namesakes[card.id] = (fixed, schedule_state(self._live_entries(card.id, fiat)))

        def same(card_id: str) -> bool:
            fixed, live = namesakes[card_id]
            return fixed == ours and (live == declared or not live)

        def mismatch(card_id: str) -> AdoptionConflict:
            fixed, live = namesakes[card_id]
            added, changed, removed = rate_changes(live, declared)
            problems = [f"{f} differs" for f in sorted(ours) if fixed.get(f) != ours.get(f)]
            problems += [f"rate {k} is not live" for k in added]
            problems += [f"rate {k} differs" for k in changed]
            problems += [f"live rate {k} is not declared" for k in removed]
            return AdoptionConflict(
                f"cannot adopt rate card {spec.name!r} ({card_id}): {'; '.join(problems)}. "
                "Declare it as it is, or give the new card another name"
            )

        candidates = [(card_id, same(card_id)) for card_id in namesakes]
        card_id = CARDS.adopt(resource, candidates, spec.name, mismatch)
        if card_id is None:
            return None
        live_card = self.client.get_rate_card(card_id)
        live_fields = live_card_state(live_card)
        changes = {  # only what differs: adopting a card as it is writes nothing
            f: v
            for f, v in card_state(spec).items()
            if f in MUTABLE_FIELDS and v is not None and v != live_fields.get(f)
        }
        if changes:
            self.client.update_rate_card(
                parse_model(RateCardUpdate, {"rate_card_id": card_id, **changes})
            )
        self.sync_custom_fields(
            ENTITY, card_id, live_card.custom_fields or {}, spec.custom_fields or {}
        )
        if not namesakes[card_id][1]:
            self.client.add_rates(card_id, list(entries))
        return card_id


def live_entries(segments: Iterable[ScheduledRate], fiat: str | None) -> list[RateEntry]:
    """A card's schedule as read, as declared entries (the card's own credit type left
    implicit, as a declaration leaves it)."""
    entries = []
    for segment in segments:
        entry = segment.entry()
        if entry.credit_type_id is not None and entry.credit_type_id in (fiat, USD_CENTS_ID):
            entry = entry.model_copy(update={"credit_type_id": None})
        entries.append(entry)
    return entries


def _key_of(entry: RateEntry) -> str:
    return next(iter(schedule_state([entry])))


# --- resource -------------------------------------------------------------------------------


def _with_placeholders(rates: Any) -> Any:
    """The declared entries with a stand-in for each ``product_id`` not known yet (usually
    a ``Product``'s id), so that the rest of every entry is checked when it is declared.
    Entries with any other unknown field leave the list to the provider's check."""
    if not isinstance(rates, list):
        return rates
    out = []
    for index, entry in enumerate(rates):
        if not isinstance(entry, Mapping):
            return rates
        product = entry.get("product_id")
        if isinstance(product, pulumi.Output) or hasattr(product, "__await__"):
            entry = {**entry, "product_id": f"(the product of rates[{index}])"}
        out.append(entry)
    return out


def _validate(known: dict[str, Any], unknown: frozenset[str]) -> None:
    _parse(known, unknown)


class RateCard(pulumi.dynamic.Resource, module="metronome", name="RateCard"):
    """A Metronome rate card with its rates, declared as a schedule of entries.

    ``name``, ``description``, ``aliases`` and ``custom_fields`` change in place; an added
    or changed entry is added to the card (Metronome replaces a rate with the same product,
    pricing group values, billing frequency and ``starting_at``). Changing the credit
    types replaces the card (``allow_replace``); changing prices before now needs
    ``allow_retroactive_rates``; removing an entry needs ``allow_rate_removal`` (the rate
    stays in Metronome). ``product_order`` (product ids) sets the order of the card's
    products on invoices after its rates, in place. Destroying archives the card.
    """

    name: pulumi.Output[str]
    description: pulumi.Output[str | None]
    #: The schedule by readable key (the program declares a list; state keeps a map).
    rates: pulumi.Output[Any]
    unmanaged_rates: pulumi.Output[list[str]]

    def __init__(
        self,
        resource_name: str,
        *,
        name: pulumi.Input[str] | None = None,
        description: pulumi.Input[str] | None = None,
        aliases: pulumi.Input[Sequence[pulumi.Input[AliasArgs | Mapping[str, Any]]]] | None = None,
        rates: pulumi.Input[Sequence[pulumi.Input[RateArgs | Mapping[str, Any]]]] | None = None,
        credit_type_conversions: pulumi.Input[Sequence[Mapping[str, Any]]] | None = None,
        fiat_credit_type_id: pulumi.Input[str] | None = None,
        custom_fields: pulumi.Input[Mapping[str, pulumi.Input[str]]] | None = None,
        product_order: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None,
        allow_replace: bool = False,
        allow_retroactive_rates: bool = False,
        allow_rate_removal: bool = False,
        adopt_existing: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props: dict[str, Any] = {
            "name": resource_name if name is None else name,
            "description": description,
            "aliases": plain(aliases),
            "credit_type_conversions": plain(credit_type_conversions),
            "fiat_credit_type_id": fiat_credit_type_id,
            "custom_fields": plain(custom_fields),
            ORDER: plain(product_order),
            RATES: plain(rates) or [],
        }
        checkable = {**props, RATES: _with_placeholders(props[RATES])}
        invalid = validate_declaration("RateCard", resource_name, checkable, _validate)
        props[ADOPT] = adopt_existing
        props[ALLOW_REPLACE] = allow_replace
        props[ALLOW_RETROACTIVE] = allow_retroactive_rates
        props[ALLOW_REMOVAL] = allow_rate_removal
        props[UNMANAGED] = None  # an output: the rates left in Metronome, unmanaged
        props[RESOURCE_KEY] = resource_name if invalid is None else invalid
        super().__init__(RateCardProvider(), resource_name, props, opts)
