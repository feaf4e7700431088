"""The two pricings the impact compares, read from what Pulumi already produces.

- **now**: ``pulumi stack export`` (the stack's state: each resource's stored outputs);
- **proposed**: ``pulumi preview --json`` (each step's planned inputs).

Only this provider's ``BillableMetric``, ``Product`` and ``RateCard`` resources are read,
and each one becomes its model through the model's own state conversion (the rules and field
lists live in ``pulumi_metronome.models``, never here). Resources are keyed by their URN,
which stays the same across a replacement, while Metronome ids change.

Values a preview cannot know yet (the id of a metric that this change creates, a price
computed from another resource's output) arrive as Pulumi's unknown sentinel. They are never
guessed: a reference to an id is resolved only when the plan records that the property
depends on exactly one resource of the expected kind whose id is itself unknown (a resource
this change creates or replaces), and every other unknown is reported as such.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ..models import (
    BillableMetricSpec,
    EventTypeFilter,
    ProductSpec,
    RateCardSpec,
    RateEntry,
    SpecError,
    parse_model,
)
from ..models.package import PACKAGE_FIELDS, PackageSpec, parse_package_spec
from ..models.rate_card import card_fields, parse_rate
from ..native.schema import TOKENS, core_name, to_core

#: How Pulumi marks a value that is not known until apply.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
#: The type tokens of this provider's resources: ``pulumi-python:dynamic/metronome:<Kind>``.
TYPE_PREFIX = "pulumi-python:dynamic/metronome:"
METRIC, PRODUCT, RATE_CARD = "BillableMetric", "Product", "RateCard"
PACKAGE = "Package"
KINDS = (METRIC, PRODUCT, RATE_CARD, PACKAGE)
#: The rate card input that holds its schedule of rates.
RATES = "rates"
T = TypeVar("T")
#: Plan steps after which a resource no longer exists.
_GONE_OPS = frozenset({"delete", "delete-replaced", "discard", "discard-replaced", "read-discard"})
#: Plan steps that give a resource a new id.
_NEW_ID_OPS = frozenset({"create", "replace", "create-replacement"})


class InputError(ValueError):
    """A state export or plan file that cannot be read; the message names the file and why."""


@dataclass(frozen=True)
class Unknown:
    """A value of the proposed pricing that is not known until ``pulumi up``."""

    urn: str
    field: str
    consequence: str

    @property
    def resource(self) -> str:
        return resource_name(self.urn)


@dataclass(frozen=True)
class Resolution:
    """An unknown id reference resolved through the plan's recorded dependency."""

    urn: str
    field: str
    target: str


@dataclass(frozen=True)
class Metric:
    urn: str
    id: str | None
    spec: BillableMetricSpec | None  # None: not evaluable (unknown fields)
    #: When ``spec`` is None: its event type filter, if that part is known (the events it
    #: might read are among those it lets through).
    event_types: EventTypeFilter | None = None

    @property
    def resource(self) -> str:
        return resource_name(self.urn)


@dataclass(frozen=True)
class Product:
    urn: str
    id: str | None
    spec: ProductSpec | None
    metric_urn: str | None  # the BillableMetric resource of a USAGE product, when known

    @property
    def resource(self) -> str:
        return resource_name(self.urn)


@dataclass(frozen=True)
class Rate:
    entry: RateEntry
    product_urn: str | None


@dataclass(frozen=True)
class RateCard:
    urn: str
    id: str | None
    spec: RateCardSpec | None
    rates: tuple[Rate, ...]
    #: Rates whose values are unknown: their products are not priced on this card.
    unknown_products: frozenset[str] = frozenset()
    #: A package's card (its rates with the package's overrides): the package's name, and
    #: what of the package is not priced.
    package_name: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def resource(self) -> str:
        return resource_name(self.urn)


@dataclass(frozen=True)
class Package:
    """A package: customers mapped to it are priced by its card with its overrides."""

    urn: str
    id: str | None
    spec: PackageSpec | None  # None: not evaluable (unknown fields)
    card_urn: str | None  # the RateCard resource it names (by id or alias), when known

    @property
    def resource(self) -> str:
        return resource_name(self.urn)


@dataclass
class Pricing:
    """One side of the comparison: every metric, product and rate card, by URN."""

    metrics: dict[str, Metric] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)
    rate_cards: dict[str, RateCard] = field(default_factory=dict)
    packages: dict[str, Package] = field(default_factory=dict)
    unknowns: list[Unknown] = field(default_factory=list)
    resolutions: list[Resolution] = field(default_factory=list)
    #: Products whose metric is not a resource of this stack (id -> note).
    external: list[Unknown] = field(default_factory=list)
    #: Each resource as read (a plan starts from the state: it lists only what changes).
    sources: dict[str, _Raw] = field(default_factory=dict)


def resource_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def kind_of(type_token: str) -> str | None:
    if not type_token.startswith(TYPE_PREFIX):
        return native_kind(type_token)
    kind = type_token[len(TYPE_PREFIX) :]
    return kind if kind in KINDS else None


def native_kind(type_token: str) -> str | None:
    """The kind of a native provider's resource (``metronome:index:RateCard``), else None."""
    kind = TOKENS.get(type_token)
    return kind if kind in KINDS else None


def core_form(type_token: str, props: Any, deps: Any) -> tuple[Any, Any]:
    """A resource's properties and property dependencies in the core's names: a native
    resource's (camelCase, as its schema names them) converted by the schema's own
    ``to_core``; a dynamic resource's (and anything malformed) as they are."""
    if native_kind(type_token) is None or not isinstance(props, Mapping):
        return props, deps
    if isinstance(deps, Mapping):
        deps = {core_name(type_token, k): v for k, v in deps.items()}
    return to_core(type_token, props), deps


def is_unknown(value: Any) -> bool:
    """True if ``value`` is, or holds, Pulumi's unknown sentinel."""
    if isinstance(value, str):
        return value == UNKNOWN
    if isinstance(value, Mapping):
        return any(is_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(is_unknown(v) for v in value)
    return False


def rate_card_from_state(props: Mapping[str, Any]) -> RateCardSpec:
    """A rate card's own fields held in Pulumi inputs or state (its ``rates`` apart)."""
    return parse_model(RateCardSpec, card_fields(props))


def read_json(path: str | Path, what: str) -> Any:
    """The JSON document of file ``path`` (``what`` names it in errors)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"{what} {path}: cannot read it ({error.strerror or error})") from None
    except UnicodeDecodeError:
        raise InputError(f"{what} {path}: not a JSON text file (not UTF-8)") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise InputError(f"{what} {path}: nested too deeply to read") from None
    except json.JSONDecodeError as error:
        # `pulumi preview --json` may print diagnostics before the document.
        start = text.find("{")
        if start > 0:
            try:
                return json.loads(text[start:])
            except (json.JSONDecodeError, RecursionError):
                pass
        raise InputError(f"{what} {path}: not valid JSON ({error})") from None


@dataclass(frozen=True)
class _Raw:
    urn: str
    kind: str
    id: str | None
    props: dict[str, Any]
    deps: dict[str, list[str]]


def _shape(where: str, field: str, problem: str) -> InputError:
    return InputError(f"{where}: {field} {problem}")


def _object(value: Any, where: str, field: str) -> dict[str, Any]:
    """``value`` when it is a JSON object (absent or null: empty)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _shape(where, field, "must be an object")
    return value


def _text(value: Any, where: str, field: str, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise _shape(where, field, "must be a non-empty string")
    return value


def _deps(value: Any, where: str, field: str) -> dict[str, list[str]]:
    """``propertyDependencies``: property name -> list of URNs."""
    deps = _object(value, where, field)
    for name, urns in deps.items():
        if not isinstance(urns, list) or not all(isinstance(u, str) for u in urns):
            raise _shape(where, f"{field}.{name}", "must be a list of URN strings")
    return deps


def load_state(export: Any, source: str = "the state export") -> Pricing:
    """The pricing a stack has now, from ``pulumi stack export`` JSON (``source`` names the
    file in errors)."""
    deployment = export.get("deployment") if isinstance(export, Mapping) else None
    resources = deployment.get("resources") if isinstance(deployment, Mapping) else None
    if not isinstance(resources, list):
        raise InputError(
            f"{source}: no deployment.resources list; pass the output of `pulumi stack export`"
        )
    raws: dict[str, _Raw] = {}
    for index, item in enumerate(resources):
        field = f"deployment.resources[{index}]"
        if not isinstance(item, Mapping):
            raise _shape(source, field, "must be an object")
        type_ = item.get("type")
        kind = kind_of(type_) if isinstance(type_, str) else None
        if kind is None or item.get("delete") or item.get("pendingReplacement"):
            continue
        urn = _text(item.get("urn"), source, f"{field}.urn")
        assert urn is not None
        props = _object(item.get("outputs"), source, f"{field}.outputs") or _object(
            item.get("inputs"), source, f"{field}.inputs"
        )
        id_ = _text(item.get("id"), source, f"{field}.id", required=False) or None
        deps = _deps(item.get("propertyDependencies"), source, f"{field}.propertyDependencies")
        props, deps = core_form(str(type_), props, deps)
        raws[urn] = _Raw(urn, kind, id_, props, deps)
    return _build(raws.values(), source)


def load_plan(preview: Any, now: Pricing, source: str = "the plan") -> Pricing:
    """The pricing a change proposes, from ``pulumi preview --json`` output (its ``steps``).

    ``now`` supplies the ids of resources the plan keeps (a preview does not repeat them);
    ``source`` names the file in errors.
    """
    steps = preview.get("steps") if isinstance(preview, Mapping) else None
    if not isinstance(steps, list):
        raise InputError(f"{source}: no steps list; pass the output of `pulumi preview --json`")
    # `pulumi preview --json` lists no step for a resource that stays the same (unless
    # --show-sames): those keep their state.
    raws: dict[str, _Raw] = dict(now.sources)
    for index, step in enumerate(steps):
        field = f"steps[{index}]"
        if not isinstance(step, Mapping):
            raise _shape(source, field, "must be an object")
        new = _object(step.get("newState"), source, f"{field}.newState")
        old = _object(step.get("oldState"), source, f"{field}.oldState")
        type_ = (new or old).get("type")
        kind = kind_of(type_) if isinstance(type_, str) else None
        if kind is None:
            continue
        op = _text(step.get("op"), source, f"{field}.op")
        urn = _text(step.get("urn"), source, f"{field}.urn")
        assert op is not None and urn is not None
        if op in _GONE_OPS or not new:
            if op in ("delete", "discard", "read-discard"):
                raws.pop(urn, None)
            continue  # delete-replaced: the replacement has its own step
        kept = now.sources.get(urn)
        if op in _NEW_ID_OPS:
            id_: str | None = None
        else:
            id_ = (
                _text(new.get("id"), source, f"{field}.newState.id", required=False)
                or _text(old.get("id"), source, f"{field}.oldState.id", required=False)
                or (kept.id if kept else None)
            )
        props = _object(new.get("inputs"), source, f"{field}.newState.inputs")
        deps = _deps(
            new.get("propertyDependencies"), source, f"{field}.newState.propertyDependencies"
        )
        props, deps = core_form(str(type_), props, deps)
        raws[urn] = _Raw(urn, kind, id_, props, deps)
    return _build(raws.values(), source)


def _build(raws: Iterable[_Raw], source: str) -> Pricing:
    raws = list(raws)
    pricing = Pricing(sources={r.urn: r for r in raws})
    ids = {r.id: r.urn for r in raws if r.id}
    new_ids = {r.urn for r in raws if r.id is None}
    kinds = {r.urn: r.kind for r in raws}

    def resolve(raw: _Raw, field: str, value: Any, kind: str) -> tuple[str | None, bool]:
        """(URN the id reference names, resolved-through-dependency)."""
        if not is_unknown(value):
            return ids.get(value) if isinstance(value, str) else None, False
        candidates = [u for u in raw.deps.get(field, []) if kinds.get(u) == kind and u in new_ids]
        if len(candidates) == 1:
            return candidates[0], True
        return None, False

    for raw in raws:
        if raw.kind != METRIC:
            continue
        unknown = sorted(k for k, v in raw.props.items() if is_unknown(v) and k != "name")
        spec: BillableMetricSpec | None = None
        event_types: EventTypeFilter | None = None
        if unknown:
            pricing.unknowns.append(
                Unknown(raw.urn, ", ".join(unknown), "usage of this metric cannot be computed")
            )
            event_types = _known_event_types(raw.props)
        else:
            props = {k: v for k, v in raw.props.items() if not is_unknown(v)}
            props.setdefault("name", resource_name(raw.urn))
            spec = _convert(BillableMetricSpec.from_state, props, raw.urn, source)
        pricing.metrics[raw.urn] = Metric(raw.urn, raw.id, spec, event_types)
    for raw in raws:
        if raw.kind != PRODUCT:
            continue
        metric_ref = raw.props.get("billable_metric_id")
        metric_urn, via_dep = resolve(raw, "billable_metric_id", metric_ref, METRIC)
        if via_dep and metric_urn is not None:
            pricing.resolutions.append(Resolution(raw.urn, "billable_metric_id", metric_urn))
        elif is_unknown(metric_ref):
            pricing.unknowns.append(
                Unknown(raw.urn, "billable_metric_id", "usage and charges of this product unknown")
            )
        elif metric_ref is not None and metric_urn is None:
            pricing.external.append(
                Unknown(
                    raw.urn,
                    "billable_metric_id",
                    f"metric {metric_ref} is not a BillableMetric of this stack",
                )
            )
        other_unknown = sorted(
            k for k, v in raw.props.items() if is_unknown(v) and k not in ("billable_metric_id",)
        )
        props = {k: v for k, v in raw.props.items() if not is_unknown(v)}
        if metric_ref is not None:
            props["billable_metric_id"] = metric_ref if not is_unknown(metric_ref) else "(unknown)"
        pspec: ProductSpec | None = None
        if other_unknown:
            pricing.unknowns.append(
                Unknown(raw.urn, ", ".join(other_unknown), "charges of this product unknown")
            )
        else:
            props.setdefault("name", resource_name(raw.urn))
            pspec = _convert(ProductSpec.from_state, props, raw.urn, source)
        pricing.products[raw.urn] = Product(raw.urn, raw.id, pspec, metric_urn)
    for raw in raws:
        if raw.kind != RATE_CARD:
            continue
        card_props = {k: v for k, v in raw.props.items() if k != RATES}
        card_unknown = sorted(k for k, v in card_props.items() if is_unknown(v) and k != "name")
        card_spec: RateCardSpec | None = None
        if card_unknown:
            pricing.unknowns.append(
                Unknown(raw.urn, ", ".join(card_unknown), "charges on this rate card unknown")
            )
        else:
            card_props = {k: v for k, v in card_props.items() if not is_unknown(v)}
            card_props.setdefault("name", resource_name(raw.urn))
            card_spec = _convert(rate_card_from_state, card_props, raw.urn, source)
        rates, unknown_products = _rates(raw, resolve, pricing, source)
        pricing.rate_cards[raw.urn] = RateCard(
            raw.urn, raw.id, card_spec, tuple(rates), frozenset(unknown_products)
        )
    for raw in raws:
        if raw.kind == PACKAGE:
            pricing.packages[raw.urn] = _package(raw, resolve, pricing, source)
    return pricing


def _package(raw: _Raw, resolve: Any, pricing: Pricing, source: str) -> Package:
    """A package and the card it names: by ``rate_card_id`` (an id of this stack, or a
    card created by the plan through the recorded dependency), or by ``rate_card_alias``
    (the card of this stack declaring that alias, whatever its dates)."""
    props = {k: v for k, v in raw.props.items() if k in PACKAGE_FIELDS}
    card_ref = props.get("rate_card_id")
    card_urn, via_dep = resolve(raw, "rate_card_id", card_ref, RATE_CARD)
    if via_dep and card_urn is not None:
        pricing.resolutions.append(Resolution(raw.urn, "rate_card_id", card_urn))
    alias = props.get("rate_card_alias")
    if isinstance(alias, str) and not is_unknown(alias):
        named = sorted(
            urn
            for urn, card in pricing.rate_cards.items()
            if card.spec is not None and alias in [a.name for a in card.spec.aliases or []]
        )
        card_urn = named[0] if named else None
    unknown = sorted(k for k, v in props.items() if is_unknown(v) and k != "rate_card_id")
    if card_urn is None and is_unknown(card_ref):
        unknown.insert(0, "rate_card_id")
    if unknown:
        pricing.unknowns.append(
            Unknown(raw.urn, ", ".join(unknown), "charges of customers on this package unknown")
        )
        return Package(raw.urn, raw.id, None, card_urn)
    data = dict(props)
    if is_unknown(card_ref):
        data["rate_card_id"] = "(unknown)"
    data.setdefault("name", resource_name(raw.urn))
    spec = _convert(parse_package_spec, data, raw.urn, source)
    if card_urn is None:
        ref = card_ref if card_ref is not None else f"alias {alias}"
        pricing.external.append(
            Unknown(raw.urn, "rate_card_id", f"rate card {ref} is not a RateCard of this stack")
        )
    return Package(raw.urn, raw.id, spec, card_urn)


def _known_event_types(props: Mapping[str, Any]) -> EventTypeFilter | None:
    """The event type filter of a metric with unknown fields, when it is known and the
    metric is a streaming one (a SQL metric reads what its query says)."""
    if props.get("sql") is not None:
        return None
    value = props.get("event_type_filter")
    if value is None or is_unknown(value):
        return None
    try:
        return parse_model(EventTypeFilter, value)
    except SpecError:
        return None


def _rates(raw: _Raw, resolve: Any, pricing: Pricing, source: str) -> tuple[list[Rate], set[str]]:
    items = raw.props.get(RATES)
    out: list[Rate] = []
    unknown_products: set[str] = set()
    if is_unknown(items) and not isinstance(items, list):
        pricing.unknowns.append(Unknown(raw.urn, RATES, "every charge on this rate card unknown"))
        unknown_products.add("*")
        return out, unknown_products
    if isinstance(items, Mapping):  # the stored form: readable key -> rate
        items = list(items.values())
    if items is not None and not isinstance(items, list):
        raise InputError(
            f"{source}: {raw.urn}: {RATES} must be a list of rates (or the stored object)"
        )
    for index, item in enumerate(items or []):
        if not isinstance(item, Mapping):
            raise InputError(f"{source}: {raw.urn}: {RATES}[{index}] is not an object")
        # The declared form (a plan whose schedule holds unknowns) may leave out
        # ``entitled``, which ``RateArgs`` defaults to True.
        item = {"entitled": True, **item}
        product_ref = item.get("product_id")
        product_urn, via_dep = resolve(raw, RATES, product_ref, PRODUCT)
        if via_dep and product_urn is not None:
            pricing.resolutions.append(
                Resolution(raw.urn, f"{RATES}[{index}].product_id", product_urn)
            )
        unknown = sorted(k for k, v in item.items() if is_unknown(v) and k != "product_id")
        if product_urn is None and is_unknown(product_ref):
            pricing.unknowns.append(
                Unknown(raw.urn, f"{RATES}[{index}].product_id", "this rate's product unknown")
            )
            continue
        if unknown:
            pricing.unknowns.append(
                Unknown(
                    raw.urn,
                    ", ".join(f"{RATES}[{index}].{k}" for k in unknown),
                    "this product's charges on this rate card unknown",
                )
            )
            if product_urn is not None:
                unknown_products.add(product_urn)
            continue
        data = dict(item)
        if is_unknown(product_ref):
            data["product_id"] = "(unknown)"
        try:
            entry = parse_rate(data, prefix=f"{RATES}[{index}]")
        except SpecError as error:
            raise InputError(f"{source}: {raw.urn}: {error}") from None
        out.append(Rate(entry, product_urn))
    return out, unknown_products


def _convert(
    convert: Callable[[Mapping[str, Any]], T], props: Mapping[str, Any], urn: str, source: str
) -> T:
    try:
        return convert(props)
    except SpecError as error:
        raise InputError(f"{source}: {urn}: {error}") from None
