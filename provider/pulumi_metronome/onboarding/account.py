"""A live Metronome account read into the declared form of its objects.

Reads are list pages only (metrics, custom field keys, products, rate cards, pricing units,
packages, notifications: 100 a page), plus one paged schedule read per rate card: never one
call per metric or product. Alerts are not read: Metronome lists none (see NOT_EXPORTED). Each
object is kept as a declaration would write it (the same ``to_state`` the providers' ``read``
uses), so a program or an import made from it shows no change at the next preview.

Resource names come from the objects' names: lower case, runs of other characters as one
``_``, never starting with a digit. Two objects of one kind whose names give the same
identifier both get a suffix from their id, so a name never depends on which other objects
exist or on the order Metronome lists them in: the same account exports the same names.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..client import MetronomeClient
from ..errors import MetronomeError
from ..models import CustomFieldKeySpec
from ..models.rate_card import live_card_state, schedule_state
from ..resources.rate_card import RATES, live_entries

#: The kinds in the order a program declares them (each refers only to earlier ones).
KINDS: tuple[str, ...] = (
    "CustomFieldKey",
    "BillableMetric",
    "Product",
    "RateCard",
    "PricingUnit",
    "Package",
    "Notification",
)
#: The kinds the generated program declares: those the dynamic provider can adopt
#: (``adopt_existing``). The others go into the import file only (the native provider).
ADOPTABLE: tuple[str, ...] = (
    "CustomFieldKey",
    "BillableMetric",
    "Product",
    "RateCard",
    "PricingUnit",
)
#: What export leaves out, and why (printed with the export's progress).
NOT_EXPORTED: tuple[str, ...] = (
    "alerts: Metronome lists none and reads an alert only through one customer, and an alert "
    "for every customer not at all; import a customer's alert by its id with "
    "`pulumi import metronome:index:Alert <name> <id>`, or declare it",
)
#: The prefix of each kind's variables in a generated program.
PREFIXES: dict[str, str] = {
    "CustomFieldKey": "key",
    "BillableMetric": "metric",
    "Product": "product",
    "RateCard": "card",
    "PricingUnit": "unit",
    "Package": "package",
    "Notification": "notification",
}
#: The custom-field entity kind of each kind's objects (their ``custom_fields``).
ENTITIES: dict[str, str] = {
    "BillableMetric": "billable_metric",
    "Product": "contract_product",
    "RateCard": "rate_card",
}

Progress = Callable[[str], None]


class ExportError(Exception):
    """The account could not be read whole; names every part that failed."""


@dataclass(frozen=True)
class Exported:
    """One live object in its declared form."""

    kind: str
    #: The Metronome id (for a custom field key: ``<entity>/<key>``, the provider's id).
    id: str
    #: The object's own name in Metronome, for messages.
    label: str
    #: The declared fields, snake_case, unset ones left out (a rate card: ``rates`` a list).
    props: dict[str, Any]
    #: The resource name (a valid identifier, unique within the kind); set by ``Account``.
    name: str = ""

    @property
    def variable(self) -> str:
        """The program's variable for this object (unique across kinds)."""
        return f"{PREFIXES[self.kind]}_{self.name}"


@dataclass
class Account:
    """What an account holds, by kind, each with its resource name."""

    base_url: str
    objects: dict[str, list[Exported]] = field(default_factory=dict)
    #: API calls the read made (list pages and schedule pages).
    calls: int = 0

    def all(self) -> Iterator[Exported]:
        """Every object, in declaration order: keys, metrics, products, rate cards, pricing
        units, packages, notifications."""
        for kind in KINDS:
            yield from self.objects.get(kind, [])

    def by_id(self) -> dict[str, Exported]:
        return {o.id: o for o in self.all()}

    def count(self) -> int:
        return sum(len(v) for v in self.objects.values())


def identifier(text: str) -> str:
    """``text`` as a Python identifier and Pulumi resource name: lower case letters, digits
    and single underscores; ``n_`` before a leading digit; ``_`` after a keyword."""
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "unnamed"
    if slug[0].isdigit():
        slug = f"n_{slug}"
    if keyword.iskeyword(slug) or keyword.issoftkeyword(slug):
        slug = f"{slug}_"
    return slug


def assign_names(items: list[Exported]) -> list[Exported]:
    """Each item with a resource name from its label; namesakes (same identifier) each get
    the shortest suffix of their id that sets them apart. Sorted by name."""
    groups: dict[str, list[Exported]] = {}
    for item in items:
        groups.setdefault(identifier(item.label), []).append(item)
    taken = set(groups)
    out: list[Exported] = []
    for slug, group in groups.items():
        if len(group) == 1:
            out.append(_named(group[0], slug))
            continue
        ids = [re.sub(r"[^a-z0-9]", "", i.id.lower()) or "x" for i in group]
        width = 8
        while width < max(len(i) for i in ids) and len({i[:width] for i in ids}) < len(ids):
            width += 4
        for item, short in zip(group, ids, strict=True):
            name = f"{slug}_{short[:width]}"
            while name in taken:  # an unlucky clash with another object's plain name
                name += "_"
            taken.add(name)
            out.append(_named(item, name))
    return sorted(out, key=lambda o: (o.name, o.id))


def _named(item: Exported, name: str) -> Exported:
    return Exported(item.kind, item.id, item.label, item.props, name)


def _declared(state: dict[str, Any]) -> dict[str, Any]:
    """The stored form without unset fields (what a declaration spells out)."""
    return {k: v for k, v in state.items() if v is not None}


def read_account(client: MetronomeClient, progress: Progress | None = None) -> Account:
    """Every live (not archived) object of the account, named. Raises ``ExportError``
    naming each listing or rate card that could not be read (nothing is returned half)."""
    say = progress or (lambda _: None)
    account = Account(base_url=client.base_url)
    failures: list[str] = []
    pages = _PageCounter(client)

    def listing(kind: str, what: str, read: Callable[[], list[Exported]]) -> None:
        try:
            items = read()
        except MetronomeError as error:
            failures.append(f"{what}: {error}")
            return
        account.objects[kind] = assign_names(items)
        say(f"read {len(items)} {what} ({pages.calls} API calls so far)")

    listing(
        "CustomFieldKey",
        "custom field keys",
        lambda: [
            Exported("CustomFieldKey", spec.id, spec.key, spec.to_state())
            for k in client.list_custom_field_keys()
            for spec in [CustomFieldKeySpec.from_state(k.model_dump())]
        ],
    )
    listing(
        "BillableMetric",
        "billable metrics",
        lambda: [
            Exported("BillableMetric", m.id, m.name, _declared(m.to_state()))
            for m in client.list_billable_metrics()
            if m.archived_at is None
        ],
    )
    listing(
        "Product",
        "products",
        lambda: [
            Exported("Product", p.id, p.current.name, _declared(p.to_state()))
            for p in client.list_products()
            if p.archived_at is None
        ],
    )
    try:
        cards = [c for c in client.list_rate_cards() if c.archived_at is None]
    except MetronomeError as error:
        failures.append(f"rate cards: {error}")
        cards = []
    items = []
    for index, card in enumerate(cards, 1):
        fiat = card.fiat_credit_type.id if card.fiat_credit_type else None
        try:
            entries = live_entries(client.rate_schedule(card.id), fiat)
        except MetronomeError as error:
            failures.append(f"rate card {card.name!r} ({card.id}): its rate schedule: {error}")
            continue
        props = _declared(live_card_state(card))
        props[RATES] = list(schedule_state(entries).values())
        items.append(Exported("RateCard", card.id, card.name, props))
        if index % 10 == 0 or index == len(cards):
            say(f"read {index}/{len(cards)} rate cards with their schedules")
    account.objects["RateCard"] = assign_names(items)
    listing(
        "PricingUnit",
        "pricing units",
        lambda: [
            Exported("PricingUnit", u.id, u.name, {"name": u.name})
            for u in client.list_pricing_units()
            if not u.is_currency and u.name is not None
        ],
    )
    # Packages and notifications: for the import file (the native provider reads each
    # whole by its id), so only what names them here.
    listing(
        "Package",
        "packages",
        lambda: [
            Exported("Package", p.id, p.name or p.id, {"name": p.name})
            for p in client.list_packages()
            if p.archived_at is None
        ],
    )
    listing(
        "Notification",
        "notifications",
        lambda: [
            Exported("Notification", n.id, n.name, {"name": n.name})
            for n in client.list_notifications()
            if n.archived_at is None
        ],
    )
    account.calls = pages.calls
    if failures:
        raise ExportError(
            f"{len(failures)} part(s) of the account could not be read, nothing was written: "
            + "; ".join(failures)
        )
    return account


class _PageCounter:
    """Counts the client's API calls (each page is one), by wrapping its ``_call``."""

    def __init__(self, client: MetronomeClient) -> None:
        self.calls = 0
        inner = client._call

        def counted(*args: Any, **kwargs: Any) -> dict[str, Any]:
            self.calls += 1
            return inner(*args, **kwargs)

        client._call = counted  # type: ignore[method-assign]
