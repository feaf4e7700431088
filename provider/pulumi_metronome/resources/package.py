"""``Package``: a contract template (a rate card with overrides, commits, credits,
subscriptions, scheduled charges, a duration), its provider and the resource class.

Metronome cannot edit a package (there is no update endpoint), and contracts are
provisioned from a package by its alias. So a change of any field is a **replacement**
that keeps provisioning safe:

1. the new package is created first, with each alias that has no ``starting_at`` of its
   own starting at ``alias_cutover``: Metronome moves an alias to the package it was most
   recently given, so contracts created by alias before the cutover still land on the old
   package, and those from the cutover on land on the new one;
2. the old package is archived only when ``listContractsOnPackage`` finds no contract on
   it; otherwise it is left in Metronome, and the provider says so.

``alias_cutover`` is part of the declaration: set it when a change is made (a first
package declared with one takes its aliases from that date too, e.g. from a package
outside the stack). A replacement never happens silently: it fails at preview unless
the declaration sets ``allow_replace=True``, and a package with aliases also needs an
``alias_cutover`` in the future. The aliases with the cutover are part of the inputs, so
``pulumi preview --diff`` shows the cutover date in the aliases that force the
replacement.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult

from ..models import SpecError, Violation, rfc3339
from ..models.package import PACKAGE_FIELDS, PackageSpec, parse_package_spec
from ._base import (
    ALLOW_REPLACE,
    RESOURCE_KEY,
    MetronomeProvider,
    check_failures,
    found_or_none,
    is_unknown,
    plain,
    resource_of,
    stored,
    unexpected_arguments,
    validate_declaration,
)
from .diffs import DiffPlan, plan
from .ownership import Ownership

PACKAGES = Ownership("package")
ALIAS_CUTOVER = "alias_cutover"
CONTROLS = (ALLOW_REPLACE,)


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def cutover_problems(value: Any) -> list[Violation]:
    """``alias_cutover`` is an RFC 3339 time with its zone."""
    if value is None or is_unknown(value):
        return []
    try:
        parsed = _parse_time(str(value)) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        return [Violation(ALIAS_CUTOVER, "must be an RFC 3339 time with its zone")]
    return []


def package_state(spec: PackageSpec, cutover: str | None) -> dict[str, Any]:
    """The stored form: the create body, aliases' times in RFC 3339 with milliseconds, each
    alias without a start of its own starting at ``cutover`` (when given)."""
    out = spec.create_body()
    aliases = []
    for alias in spec.aliases or []:
        item: dict[str, Any] = {"name": alias.name}
        start = alias.starting_at or (_parse_time(cutover) if cutover else None)
        if start is not None:
            item["starting_at"] = rfc3339(start)
        if alias.ending_before is not None:
            item["ending_before"] = rfc3339(alias.ending_before)
        aliases.append(item)
    if aliases:
        out["aliases"] = aliases
    return out


def _fields(props: Mapping[str, Any]) -> dict[str, Any]:
    return {k: props[k] for k in PACKAGE_FIELDS if props.get(k) is not None}


def replacement_failures(
    olds: Mapping[str, Any], inputs: Mapping[str, Any], now: datetime | None = None
) -> list[CheckFailure]:
    """A change replaces the package: refused without ``allow_replace``, and without a
    future ``alias_cutover`` when aliases move to the new package."""
    changed = [f for f in PACKAGE_FIELDS if olds.get(f) != inputs.get(f)]
    if not changed:
        return []
    now = now or datetime.now(UTC)
    if not inputs.get(ALLOW_REPLACE):
        return [
            CheckFailure(
                changed[0],
                f"changing {', '.join(changed)} replaces the package: Metronome cannot edit "
                "a package. The new package takes over the aliases from alias_cutover, and "
                "the old one is archived once no contract is on it. Set allow_replace=True "
                "and alias_cutover to a future time (RFC 3339).",
            )
        ]
    cutover = inputs.get(ALIAS_CUTOVER)
    if not inputs.get("aliases") or is_unknown(cutover):
        return []
    if cutover is None:
        return [
            CheckFailure(
                ALIAS_CUTOVER,
                "is required to replace a package with aliases: the time from which the "
                "new package takes them over (contracts created by alias before it stay "
                "on the old package)",
            )
        ]
    if _parse_time(str(cutover)) <= now:
        return [
            CheckFailure(
                ALIAS_CUTOVER,
                f"{cutover} is past: the new package would take the aliases over before "
                "now. Set a future time.",
            )
        ]
    return []


class PackageProvider(MetronomeProvider):
    """A Metronome package. It never changes: a change is a new package (see the module)."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        extra = unexpected_arguments(news, (*PACKAGE_FIELDS, ALIAS_CUTOVER, *CONTROLS))
        failures = [CheckFailure(k, "is not an argument of Package") for k in extra]
        data = _fields(news)
        unknown = frozenset(k for k, v in data.items() if is_unknown(v))
        cutover = news.get(ALIAS_CUTOVER)
        problems = cutover_problems(cutover)
        try:
            spec = parse_package_spec(data, unknown=unknown)
        except SpecError as error:
            problems = error.violations + problems
            spec = None
        if problems or spec is None:
            return CheckResult(news, failures + check_failures(problems))
        stamp = None if is_unknown(cutover) else cutover
        inputs = {**data} if unknown else package_state(spec, stamp)
        inputs[ALIAS_CUTOVER] = cutover
        inputs[ALLOW_REPLACE] = bool(news.get(ALLOW_REPLACE) or False)
        if resource_of(news) is not None:
            inputs[RESOURCE_KEY] = news[RESOURCE_KEY]
        if olds and _fields(olds):
            failures += self._replacement(olds, inputs, unknown)
        if failures:
            return CheckResult(news, failures)
        return CheckResult(inputs, [])

    @staticmethod
    def _replacement(
        olds: Mapping[str, Any], inputs: dict[str, Any], unknown: frozenset[str]
    ) -> list[CheckFailure]:
        """Compare with the stored package: a change (or a field that may change) is refused
        unless opted in."""
        if unknown:
            if inputs.get(ALLOW_REPLACE):
                return []
            return [
                CheckFailure(
                    sorted(unknown)[0],
                    "is not known until apply (the resource it comes from is created or "
                    "replaced): if it changes, the package is replaced. Set "
                    "allow_replace=True and alias_cutover to a future time (RFC 3339).",
                )
            ]
        return replacement_failures(olds, inputs)

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return self.plan(id_, olds, news).result()

    def plan(self, id_: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> DiffPlan:
        """Every changed field replaces the package (create the new one, then retire the
        old one); ``alias_cutover`` and ``allow_replace`` alone change nothing in Metronome."""
        PACKAGES.see(id_, resource_of(news), "diff", str(news.get("name") or ""))
        replaces = [f for f in PACKAGE_FIELDS if olds.get(f) != news.get(f)]
        updates = [k for k in (ALIAS_CUTOVER, ALLOW_REPLACE) if olds.get(k) != news.get(k)]
        return plan(olds, news, replaces=replaces, updates=updates if replaces else ())

    def create(self, props: dict[str, Any]) -> CreateResult:
        spec = PackageSpec.model_validate(_fields(props))
        package_id = self.client.create_package(spec)
        PACKAGES.see(package_id, resource_of(props), "create")
        return CreateResult(package_id, self._outs(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """A package never changes: the stored declaration stands while it is live; read
        by id alone (``pulumi import``), the declaration is rebuilt from Metronome's answer."""
        PACKAGES.see(id_, resource_of(props), "read", str(props.get("name") or ""))
        live = found_or_none(self.client.get_package, id_)
        if live is None or live.archived_at is not None:
            return ReadResult(None, {})
        if _fields(props):
            outs = self._outs(props)
        else:
            spec = PackageSpec.model_validate(live.declaration())
            outs = self._outs({**package_state(spec, None), **props})
        return ReadResult(id_, outs, inputs=dict(outs))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Archive, unless contracts were created on the package: then it stays in
        Metronome (archiving would not move them) and the provider says so."""

        def retire(package_id: str) -> None:
            contracts = list(self.client.contracts_on_package(package_id))
            if contracts:
                print(
                    f"pulumi-metronome: package {package_id} ({props.get('name')}) is not "
                    f"archived: {len(contracts)} contract(s) were created on it "
                    f"(e.g. {contracts[0].contract_id}). Archive it once they have ended; "
                    "it is no longer managed by this stack.",
                    file=sys.stderr,
                )
                return
            self.client.archive_package(package_id)

        self.end(PACKAGES, id_, props, retire)

    @staticmethod
    def _outs(props: Mapping[str, Any]) -> dict[str, Any]:
        state = {**_fields(props), ALIAS_CUTOVER: props.get(ALIAS_CUTOVER)}
        return stored(state, props, ALLOW_REPLACE)


def _validate(known: dict[str, Any], unknown: frozenset[str]) -> None:
    problems = cutover_problems(known.pop(ALIAS_CUTOVER, None))
    try:
        parse_package_spec(known, unknown=unknown)
    except SpecError as error:
        problems = error.violations + problems
    if problems:
        raise SpecError(problems)


class Package(pulumi.dynamic.Resource, module="metronome", name="Package"):
    """A Metronome package: a contract template that contracts are provisioned from,
    usually by alias.

    Metronome cannot edit a package: any change creates a new package that takes the
    aliases over from ``alias_cutover``, and archives the old one once no contract is on it
    (else leaves it, and says so). Such a change fails at preview unless
    ``allow_replace=True``. Destroying archives the package under the same condition.
    """

    name: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        name: pulumi.Input[str] | None = None,
        rate_card_id: pulumi.Input[str] | None = None,
        rate_card_alias: pulumi.Input[str] | None = None,
        aliases: pulumi.Input[Sequence[pulumi.Input[Mapping[str, Any]]]] | None = None,
        duration: pulumi.Input[Mapping[str, Any]] | None = None,
        overrides: pulumi.Input[Sequence[pulumi.Input[Mapping[str, Any]]]] | None = None,
        multiplier_override_prioritization: pulumi.Input[str] | None = None,
        commits: pulumi.Input[Sequence[pulumi.Input[Mapping[str, Any]]]] | None = None,
        credits: pulumi.Input[Sequence[pulumi.Input[Mapping[str, Any]]]] | None = None,
        subscriptions: pulumi.Input[Sequence[pulumi.Input[Mapping[str, Any]]]] | None = None,
        scheduled_charges: pulumi.Input[Sequence[pulumi.Input[Mapping[str, Any]]]] | None = None,
        usage_statement_schedule: pulumi.Input[Mapping[str, Any]] | None = None,
        net_payment_terms_days: pulumi.Input[float] | None = None,
        contract_name: pulumi.Input[str] | None = None,
        alias_cutover: str | None = None,
        allow_replace: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props: dict[str, Any] = {
            "name": resource_name if name is None else name,
            "rate_card_id": rate_card_id,
            "rate_card_alias": rate_card_alias,
            "aliases": plain(aliases),
            "duration": plain(duration),
            "overrides": plain(overrides),
            "multiplier_override_prioritization": multiplier_override_prioritization,
            "commits": plain(commits),
            "credits": plain(credits),
            "subscriptions": plain(subscriptions),
            "scheduled_charges": plain(scheduled_charges),
            "usage_statement_schedule": plain(usage_statement_schedule),
            "net_payment_terms_days": net_payment_terms_days,
            "contract_name": contract_name,
            ALIAS_CUTOVER: alias_cutover,
        }
        invalid = validate_declaration("Package", resource_name, props, _validate)
        props[ALLOW_REPLACE] = allow_replace
        props[RESOURCE_KEY] = resource_name if invalid is None else invalid
        super().__init__(PackageProvider(), resource_name, props, opts)
