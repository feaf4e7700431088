"""Guardrails: thresholds a team commits next to its pricing code, checked on every impact.

A breach is shown first in the report and makes ``pulumi-metronome impact`` exit with its
own status (``EXIT_BREACH``), so a pull-request check fails while its comment is still
posted. The thresholds come from a TOML file (``--guardrails FILE``) and from options of
the same names; an option overrides the file. Each rule is declared once, in
``Guardrails``'s fields: the file's keys, the options and the messages derive from them.

    # guardrails.toml
    customer_increase_percent = 10   # a customer's charges on a card up by more than 10%
    customer_increase_amount = 500   # ... or up by more than $500 (a card's own units if not USD)
    card_change_percent = 5          # a card's total charges moving by more than 5%, either way
    unbilled_increase = true         # any increase in unbilled events
    undeclared_usage_change = true   # any usage change of a metric or product not redeclared

From zero, any increase exceeds a percentage. Figures the impact cannot compute (unbilled
events "unknown") are listed as not checked, never as passed.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from .analysis import NOW, PROPOSED, Impact
from .inputs import InputError
from .report import (
    card_unit,
    changed_without_declaration,
    customer_changes,
    money,
    product_charges,
)

#: Exit status of the command when a guardrail is breached (0: none; 2: bad input).
EXIT_BREACH = 3


class GuardrailError(InputError):
    """A guardrails file or option that cannot be used; names the file, the key and the rule."""


@dataclass(frozen=True)
class Guardrails:
    """The thresholds; ``None`` / ``False``: the rule is off."""

    customer_increase_percent: Decimal | None = field(
        default=None,
        metadata={
            "help": "fail when a customer's charges on a rate card go up by more than N percent"
        },
    )
    customer_increase_amount: Decimal | None = field(
        default=None,
        metadata={
            "help": "fail when a customer's charges on a rate card go up by more than N "
            "(dollars on a USD card, the card's own credit units otherwise)"
        },
    )
    card_change_percent: Decimal | None = field(
        default=None,
        metadata={
            "help": "fail when a rate card's total charges move by more than N percent, up or down"
        },
    )
    unbilled_increase: bool = field(
        default=False, metadata={"help": "fail on any increase in unbilled events"}
    )
    undeclared_usage_change: bool = field(
        default=False,
        metadata={
            "help": "fail on any usage change of a metric or product whose declaration "
            "did not change"
        },
    )

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) not in (None, False) for f in dataclasses.fields(self))


def _is_flag(f: dataclasses.Field[Any]) -> bool:
    return f.default is False


def option(f: dataclasses.Field[Any]) -> str:
    """The command-line option of a rule: ``--customer-increase-percent N``,
    ``--fail-on-unbilled-increase``."""
    name = f.name.replace("_", "-")
    return f"--fail-on-{name}" if _is_flag(f) else f"--{name}"


def _number(label: str, value: object, *, text: bool = False) -> Decimal:
    """``value`` (a TOML number, or with ``text`` an option's text) as a threshold; ``label``
    names where it comes from in the error."""
    number: Decimal | None = None
    kinds = (int, float, str) if text else (int, float)
    if isinstance(value, kinds) and not isinstance(value, bool):
        with contextlib.suppress(InvalidOperation):
            number = Decimal(str(value).strip())
    if number is None or not number.is_finite() or number < 0:
        shown = value if text and isinstance(value, str) else repr(value)
        raise GuardrailError(f"{label}: must be a number >= 0 (got {shown})")
    return number


def _limit(value: Decimal) -> str:
    return f"{value.normalize():f}"


def parse(values: dict[str, Any], where: str) -> Guardrails:
    """Guardrails from a TOML table; ``where`` names its source in errors."""
    known = {f.name: f for f in dataclasses.fields(Guardrails)}
    out: dict[str, Any] = {}
    for key, value in values.items():
        f = known.get(key)
        if f is None:
            raise GuardrailError(
                f"{where}: key {key!r}: unknown; the keys are {', '.join(sorted(known))}"
            )
        if _is_flag(f):
            if not isinstance(value, bool):
                raise GuardrailError(f"{where}: key {key!r}: must be true or false (got {value!r})")
            out[key] = value
        else:
            out[key] = _number(f"{where}: key {key!r}", value)
    return Guardrails(**out)


def load(path: str | Path) -> Guardrails:
    """Guardrails from a TOML file."""
    where = f"guardrails file {path}"
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as error:
        raise GuardrailError(f"{where}: cannot be read ({error.strerror or error})") from None
    except UnicodeDecodeError:
        raise GuardrailError(f"{where}: not UTF-8 text") from None
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise GuardrailError(f"{where}: not valid TOML ({error})") from None
    return parse(values, where)


def add_options(cmd: argparse.ArgumentParser) -> None:
    """``--guardrails FILE`` and one option per rule."""
    group = cmd.add_argument_group(
        "guardrails",
        f"thresholds whose breach makes the command exit with status {EXIT_BREACH} (the "
        "report is still written); an option overrides the file's key of the same name",
    )
    group.add_argument("--guardrails", metavar="FILE", help="a TOML file of the keys below")
    for f in dataclasses.fields(Guardrails):
        help_ = f"{f.metadata['help']} (key {f.name})"
        if _is_flag(f):
            group.add_argument(
                option(f), dest=f.name, action="store_true", default=None, help=help_
            )
        else:
            group.add_argument(option(f), dest=f.name, metavar="N", default=None, help=help_)


def from_args(args: argparse.Namespace) -> Guardrails:
    """The file's guardrails (if any), overridden by the options given."""
    rules = load(args.guardrails) if getattr(args, "guardrails", None) else Guardrails()
    given: dict[str, Any] = {}
    for f in dataclasses.fields(Guardrails):
        value = getattr(args, f.name, None)
        if value is None:
            continue
        if _is_flag(f):
            given[f.name] = bool(value)
        else:
            given[f.name] = _number(f"option {option(f)}", value, text=True)
    return dataclasses.replace(rules, **given)


@dataclass(frozen=True)
class Breach:
    rule: str  # the key
    customer: str | None
    card: str | None
    change: str  # as the report shows it
    threshold: str


@dataclass
class Checked:
    rules: Guardrails
    breaches: list[Breach] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)


def _pct(change: Decimal, base: Decimal) -> Decimal | None:
    """The change in percent of ``base``; ``None``: from zero (more than any percentage)."""
    return None if base == 0 else change / base * 100


def _exceeds(change: Decimal, base: Decimal, limit: Decimal) -> bool:
    if change == 0:
        return False
    pct = _pct(change, base)
    return pct is None or abs(pct) > limit


def _money_change(change: Decimal, base: Decimal, card_unit: str) -> str:
    text = ("+" if change > 0 else "") + money(change, card_unit)
    pct = _pct(change, base)
    return f"{text} ({'new' if pct is None else f'{pct:+.1f}%'})"


def check(impact: Impact, rules: Guardrails) -> Checked:
    """Every breach of ``rules`` in ``impact``."""
    out = Checked(rules)
    if rules.customer_increase_percent is not None or rules.customer_increase_amount is not None:
        for row in customer_changes(impact):
            change, base, card = row["change"], row[NOW], row["card"]
            if change <= 0:
                continue
            currency = card_unit(impact, card)
            shown = _money_change(change, base, currency)
            pct_limit = rules.customer_increase_percent
            if pct_limit is not None and _exceeds(change, base, pct_limit):
                out.breaches.append(
                    Breach(
                        "customer_increase_percent",
                        row["customer"],
                        card,
                        shown,
                        f"{_limit(pct_limit)}%",
                    )
                )
            amount_limit = rules.customer_increase_amount
            if amount_limit is not None:
                scaled = amount_limit * 100 if currency == "USD (cents)" else amount_limit
                if change > scaled:
                    out.breaches.append(
                        Breach(
                            "customer_increase_amount",
                            row["customer"],
                            card,
                            shown,
                            money(scaled, currency),
                        )
                    )
    if rules.card_change_percent is not None:
        totals: dict[str, list[Decimal]] = {}
        for row in product_charges(impact):
            t = totals.setdefault(row["card"], [Decimal(0), Decimal(0)])
            t[0] += row[NOW]
            t[1] += row[PROPOSED]
        for card, (a, b) in sorted(totals.items()):
            if _exceeds(b - a, a, rules.card_change_percent):
                out.breaches.append(
                    Breach(
                        "card_change_percent",
                        None,
                        card,
                        _money_change(b - a, a, card_unit(impact, card)),
                        f"{_limit(rules.card_change_percent)}%",
                    )
                )
    if rules.unbilled_increase:
        # Each side's unbilled count is exact but for the events a metric unknown until apply
        # might read: the true count lies in [count, count + unknown]. Breach only when the
        # increase is certain; "not checked" when the unknowns leave it open.
        a_count, b_count = impact.unbilled[NOW], impact.unbilled[PROPOSED]
        a_open = impact.unbilled_unknown.get(NOW, 0)
        b_open = impact.unbilled_unknown.get(PROPOSED, 0)
        if a_count is None or b_count is None:
            out.not_checked.append("unbilled_increase: the unbilled events are unknown")
        elif b_count > a_count + a_open:
            out.breaches.append(
                Breach("unbilled_increase", None, None, f"{a_count:,} → {b_count:,} events", "any")
            )
        elif b_count + b_open > a_count:
            out.not_checked.append(
                f"unbilled_increase: {b_open + a_open:,} event(s) may or may not be billed (a "
                "metric's definition is unknown until apply)"
            )
    if rules.undeclared_usage_change:
        for line in changed_without_declaration(impact):
            out.breaches.append(Breach("undeclared_usage_change", None, None, line, "any"))
    return out


def markdown_lines(checked: Checked) -> list[str]:
    """The report's first section: the breaches (nothing when every guardrail holds)."""
    if not checked.breaches and not checked.not_checked:
        return []
    out: list[str] = []
    if checked.breaches:
        out += [
            f"### ❌ Guardrails: {len(checked.breaches)} breached",
            "",
            "| guardrail | customer | rate card | change | threshold |",
            "|---|---|---|---|---:|",
        ]
        for b in checked.breaches:
            customer = f"`{b.customer}`" if b.customer else "—"
            card = f"`{b.card}`" if b.card else "—"
            out.append(f"| `{b.rule}` | {customer} | {card} | {b.change} | {b.threshold} |")
        out.append("")
    else:
        out += ["### Guardrails", ""]
    for note in checked.not_checked:
        out.append(f"- not checked: {note}")
    if checked.not_checked:
        out.append("")
    return out


def as_json(checked: Checked) -> dict[str, Any]:
    return {
        "rules": {
            f.name: (str(v) if isinstance(v, Decimal) else v)
            for f in dataclasses.fields(checked.rules)
            if (v := getattr(checked.rules, f.name)) not in (None, False)
        },
        "breaches": [dataclasses.asdict(b) for b in checked.breaches],
        "not_checked": checked.not_checked,
    }
