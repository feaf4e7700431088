"""The impact as Markdown for a pull-request comment, and as JSON for other tools.

Markdown: tables (code-review sites render them) and a Mermaid ``xychart-beta`` per metric
whose daily usage changes (rendered without image hosting). Amounts in USD cents are shown
in dollars; other credit types in their own units.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ..metering.engine import as_decimal
from .analysis import NOW, PROPOSED, Impact
from .charges import Line
from .inputs import resource_name

#: How many per-customer changes the Markdown lists.
TOP_CUSTOMERS = 10
MARKER = "<!-- pulumi-metronome-impact -->"
#: The tier rule (charges.py), as the report states it.
TIERS_RULE = (
    "a unit's tier is its cumulative position in the period (per customer and pricing "
    "group), priced at the tiers in effect when it was used: tiers do not restart at a rate "
    "change inside the period"
)


def moment(value: datetime) -> str:
    """A date, with its time of day when it is not midnight (UTC)."""
    if (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0):
        return f"{value:%Y-%m-%d}"
    return f"{value:%Y-%m-%d %H:%M:%S} UTC"


def as_of_lines(impact: Impact) -> list[str]:
    """The report's first lines: which rates price the events, and why."""
    as_of = impact.as_of
    if as_of.date is None:
        return [
            "**Prices: the rates in effect during the events' period** (no proposed rate "
            "change takes effect after it).",
            "",
        ]
    out = [
        f"**Prices as of {moment(as_of.date)}**, {as_of.reason}: the events' usage is priced "
        f"under the rates in effect on {moment(as_of.date)} on both sides (now: today's "
        "schedule at that date; proposed: the planned schedule at that date). Changes to "
        "metrics and products apply as they are.",
    ]
    if as_of.later:
        dates = ", ".join(moment(d) for d in as_of.later)
        out.append(
            f"Other dates a proposed rate change takes effect: {dates} (price each with "
            "`--as-of DATE`)."
        )
    out.append("")
    return out


def _num(value: Decimal | int | None) -> str:
    if value is None:
        return "unknown"
    value = Decimal(value)
    if value == value.to_integral_value():
        return f"{value:,.0f}"
    text = f"{value:,.6f}".rstrip("0").rstrip(".")
    return text


def _delta(a: Decimal | int | None, b: Decimal | int | None) -> str:
    if a is None or b is None:
        return "unknown"
    d = Decimal(b) - Decimal(a)
    sign = "+" if d > 0 else ""
    pct = ""
    if a != 0:
        pct = f" ({sign}{d / Decimal(a) * 100:.1f}%)"
    elif d != 0:
        pct = " (new)"
    return f"{sign}{_num(d)}{pct}"


def _side_cells(status: str, now: Decimal | None, new: Decimal | None) -> str:
    """``now | proposed | change |`` cells; a side where the resource does not exist: —."""
    if status == "added":
        return f"— | {_num(new)} | added |"
    if status == "removed":
        return f"{_num(now)} | — | removed |"
    return f"{_num(now)} | {_num(new)} | {_delta(now, new)} |"


def money(amount: Decimal | None, unit: str) -> str:
    if amount is None:
        return "unknown"
    if unit == "USD (cents)":
        dollars = (amount / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        sign = "-" if dollars < 0 else ""
        return f"{sign}${abs(dollars):,.2f}"
    return f"{_num(amount)} ({unit})"


def _money_delta(a: Decimal, b: Decimal, unit: str) -> str:
    d = b - a
    if d == 0:
        return "0"
    text = money(d, unit)
    if d > 0:
        text = "+" + text
    if a != 0:
        text += f" ({d / a * 100:+.1f}%)"
    elif d != 0:
        text += " (new)"
    return text


def _sums(lines: list[Line], key: Any) -> dict[Any, Decimal]:
    out: dict[Any, Decimal] = defaultdict(Decimal)
    for line in lines:
        out[key(line)] += line.amount
    return out


def customer_changes(impact: Impact) -> list[dict[str, Any]]:
    """Per (card, customer): charges now and proposed, largest absolute change first."""
    now = _sums(impact.charges[NOW].lines, lambda x: (x.card, x.customer))
    new = _sums(impact.charges[PROPOSED].lines, lambda x: (x.card, x.customer))
    rows = []
    for key in set(now) | set(new):
        a, b = now.get(key, Decimal(0)), new.get(key, Decimal(0))
        card = resource_name(key[0])
        rows.append({"card": card, "customer": key[1], NOW: a, PROPOSED: b, "change": b - a})
    rows.sort(key=lambda r: (-abs(r["change"]), r["card"], r["customer"]))
    return rows


def product_charges(impact: Impact) -> list[dict[str, Any]]:
    now = _sums(impact.charges[NOW].lines, lambda x: (x.card, x.product))
    new = _sums(impact.charges[PROPOSED].lines, lambda x: (x.card, x.product))
    rows = []
    for key in sorted(set(now) | set(new)):
        a, b = now.get(key, Decimal(0)), new.get(key, Decimal(0))
        card, product = resource_name(key[0]), resource_name(key[1])
        rows.append({"card": card, "product": product, NOW: a, PROPOSED: b, "change": b - a})
    return rows


def card_unit(impact: Impact, card: str) -> str:
    """The credit type a card's amounts are in (by its resource name)."""
    for urn, unit in impact.units.items():
        if resource_name(urn) == card:
            return unit
    return "USD (cents)"


def changed_without_declaration(impact: Impact) -> list[str]:
    out = []
    for m in impact.metrics:
        a, b = m.usage[NOW], m.usage[PROPOSED]
        if m.status in ("unchanged", "renamed"):
            billed_a = a if m.billed[NOW] else Decimal(0)
            billed_b = b if m.billed[PROPOSED] else Decimal(0)
            if billed_a is not None and billed_b is not None and billed_a != billed_b:
                out.append(
                    f"metric `{resource_name(m.urn)}`: declaration unchanged, billed usage "
                    f"{_num(billed_a)} → {_num(billed_b)} (products moved "
                    f"{'onto' if m.billed[PROPOSED] else 'off'} it)"
                )
    for p in impact.products:
        a, b = p.usage[NOW], p.usage[PROPOSED]
        if p.status == "unchanged" and a is not None and b is not None and a != b:
            out.append(
                f"product `{resource_name(p.urn)}`: declaration unchanged, usage "
                f"{_num(a)} → {_num(b)} (its metric `{resource_name(p.metric[PROPOSED] or '')}` "
                "changed)"
            )
    return out


def _chart(
    title: str, days: list[str], now: list[Decimal | None], new: list[Decimal | None]
) -> list[str]:
    def values(series: list[Decimal | None]) -> str:
        return ", ".join(str(v if v is not None else 0) for v in series)

    return [
        "```mermaid",
        "xychart-beta",
        f'    title "{title}: daily usage, now (first line) vs proposed (second)"',
        f"    x-axis [{', '.join(days)}]",
        '    y-axis "usage"',
        f"    line [{values(now)}]",
        f"    line [{values(new)}]",
        "```",
    ]


def markdown(impact: Impact, *, preface: Sequence[str] = ()) -> str:
    """The report; ``preface``: lines to show first, under the title (guardrail breaches)."""
    p = impact.period
    out = [
        MARKER,
        "## Pricing impact",
        "",
        *preface,
        *as_of_lines(impact),
        f"Events from {p.start:%Y-%m-%d} to {p.end:%Y-%m-%d} (end exclusive): "
        f"{impact.events_used:,} events ({impact.events_read:,} read), "
        f"{len(impact.customers):,} customers. Now: the stack's state; proposed: the plan of "
        "`pulumi preview`.",
        "",
    ]
    if impact.unknowns:
        out += ["### ⚠️ Unknown until apply", ""]
        out += ["| resource | value | consequence |", "|---|---|---|"]
        for u in impact.unknowns:
            out.append(f"| `{u.resource}` | `{u.field}` | {u.consequence} |")
        out.append("")
    if impact.resolutions:
        out += [
            "References to resources this change creates (their ids are unknown until apply) "
            "are followed through the plan's recorded dependency:",
            "",
        ]
        for r in impact.resolutions:
            out.append(f"- `{resource_name(r.urn)}`.`{r.field}` → `{resource_name(r.target)}`")
        out.append("")
    for e in impact.external:
        out.append(f"- `{e.resource}`: {e.consequence}; its usage is not evaluated")
    if impact.external:
        out.append("")

    out += [
        "### Usage per metric",
        "",
        "| metric | declaration | now | proposed | change |",
        "|---|---|---:|---:|---:|",
    ]
    for m in impact.metrics:
        status = m.status + (" (SQL)" if m.sql else "")
        out.append(
            f"| `{resource_name(m.urn)}` | {status} | "
            + _side_cells(m.status, m.usage[NOW], m.usage[PROPOSED])
        )
    out.append("")
    if impact.products:
        out += [
            "### Usage per product",
            "",
            "| product | declaration | metric | now | proposed | change |",
            "|---|---|---|---:|---:|---:|",
        ]
        for pr in impact.products:
            metric_now = resource_name(pr.metric[NOW] or "") or "-"
            metric_new = resource_name(pr.metric[PROPOSED] or "") or "-"
            metric = metric_now if metric_now == metric_new else f"{metric_now} → {metric_new}"
            if pr.type not in ("USAGE", None):
                out.append(f"| `{resource_name(pr.urn)}` | {pr.status} | ({pr.type}) | — | — | — |")
                continue
            out.append(
                f"| `{resource_name(pr.urn)}` | {pr.status} | {metric} | "
                + _side_cells(pr.status, pr.usage[NOW], pr.usage[PROPOSED])
            )
        out.append("")
    rows = product_charges(impact)
    if rows or impact.charges[NOW].notes or impact.charges[PROPOSED].notes:
        who = (
            "customers as the mapping file assigns them"
            if impact.mapping_used
            else "every customer priced on each rate card"
        )
        out += [
            f"### Charges per product ({who})",
            "",
            f"Tiered rates: {TIERS_RULE}.",
            "",
            "| rate card | product | now | proposed | change |",
            "|---|---|---:|---:|---:|",
        ]
        for row in rows:
            unit = card_unit(impact, row["card"])
            out.append(
                f"| `{row['card']}` | `{row['product']}` | {money(row[NOW], unit)} | "
                f"{money(row[PROPOSED], unit)} | {_money_delta(row[NOW], row[PROPOSED], unit)} |"
            )
        totals: dict[str, list[Decimal]] = {}
        for row in rows:
            t = totals.setdefault(row["card"], [Decimal(0), Decimal(0)])
            t[0] += row[NOW]
            t[1] += row[PROPOSED]
        for card, (a, b) in sorted(totals.items()):
            unit = card_unit(impact, card)
            out.append(
                f"| **`{card}`** | **total** | **{money(a, unit)}** | **{money(b, unit)}** | "
                f"**{_money_delta(a, b, unit)}** |"
            )
        out.append("")
        notes = sorted(
            {
                (side, resource_name(n.card), resource_name(n.product), n.message)
                for side in (NOW, PROPOSED)
                for n in impact.charges[side].notes
            }
        )
        if notes:
            out += ["Not priced:", ""]
            for side, card, product, message in notes:
                out.append(
                    f"- {side}: `{card}`{' / `' + product + '`' if product else ''}: {message}"
                )
            out.append("")
        changes = [c for c in customer_changes(impact) if c["change"] != 0]
        out += [
            f"### Largest per-customer changes (top {TOP_CUSTOMERS} of {len(changes)} changed)",
            "",
        ]
        if changes:
            out += [
                "| customer | rate card | now | proposed | change |",
                "|---|---|---:|---:|---:|",
            ]
            for c in changes[:TOP_CUSTOMERS]:
                unit = card_unit(impact, c["card"])
                out.append(
                    f"| `{c['customer']}` | `{c['card']}` | {money(c[NOW], unit)} | "
                    f"{money(c[PROPOSED], unit)} | {_money_delta(c[NOW], c[PROPOSED], unit)} |"
                )
        else:
            out.append("No customer's charges change.")
        out.append("")
    out += [
        "### Unbilled events (no metric matches)",
        "",
        "| now | proposed | change |",
        "|---:|---:|---:|",
        f"| {_num(impact.unbilled[NOW])} | {_num(impact.unbilled[PROPOSED])} | "
        f"{_delta(impact.unbilled[NOW], impact.unbilled[PROPOSED])} |",
        "",
    ]
    for side in (NOW, PROPOSED):
        unsure = impact.unbilled_unknown.get(side, 0)
        if unsure:
            out += [
                f"Unknown for {_num(unsure)} more event(s) {side}: no metric reads them, but a "
                "metric whose definition is unknown until apply might.",
                "",
            ]
    quiet = changed_without_declaration(impact)
    out += ["### Usage changed although the declaration did not", ""]
    out += [f"- {line}" for line in quiet] if quiet else ["None."]
    out.append("")
    changed = [m for m in impact.metrics if m.daily[NOW] != m.daily[PROPOSED]]
    if changed:
        out += ["### Daily usage of the changed metrics", ""]
        labels = [f"{d:%m-%d}" for d in impact.days]
        for m in changed:
            out += _chart(
                resource_name(m.urn),
                labels,
                m.daily[NOW] or [None] * len(labels),
                m.daily[PROPOSED] or [None] * len(labels),
            )
            out.append("")
    return "\n".join(out)


def _j(value: Any) -> Any:
    """Exact decimals as JSON strings, without trailing zeros (``2.50`` -> ``"2.5"``)."""
    if isinstance(value, Decimal):
        return str(as_decimal(value))
    return value


def as_json(impact: Impact) -> dict[str, Any]:
    p = impact.period
    return {
        "period": {"starting_on": p.start.isoformat(), "ending_before": p.end.isoformat()},
        "prices": {
            "as_of": None if impact.as_of.date is None else impact.as_of.date.isoformat(),
            "reason": impact.as_of.reason,
            "later_dates": [d.isoformat() for d in impact.as_of.later],
            "tiers": TIERS_RULE,
        },
        "events": {"read": impact.events_read, "used": impact.events_used},
        "customers": len(impact.customers),
        "unknowns": [
            {"resource": u.resource, "urn": u.urn, "field": u.field, "consequence": u.consequence}
            for u in impact.unknowns
        ],
        "resolved_references": [
            {"urn": r.urn, "field": r.field, "target": r.target} for r in impact.resolutions
        ],
        "metrics": [
            {
                "resource": resource_name(m.urn),
                "urn": m.urn,
                "declaration": m.status,
                "sql": m.sql,
                "usage": {NOW: _j(m.usage[NOW]), PROPOSED: _j(m.usage[PROPOSED])},
                "billed": m.billed,
                "daily": {
                    "days": [d.date().isoformat() for d in impact.days],
                    NOW: [_j(v) for v in m.daily[NOW]],
                    PROPOSED: [_j(v) for v in m.daily[PROPOSED]],
                },
            }
            for m in impact.metrics
        ],
        "products": [
            {
                "resource": resource_name(pr.urn),
                "urn": pr.urn,
                "declaration": pr.status,
                "type": pr.type,
                "metric": {
                    s: pr.metric[s] and resource_name(pr.metric[s] or "") for s in (NOW, PROPOSED)
                },
                "usage": {NOW: _j(pr.usage[NOW]), PROPOSED: _j(pr.usage[PROPOSED])},
            }
            for pr in impact.products
        ],
        "charges": {
            "units": {resource_name(k): v for k, v in impact.units.items()},
            "by_product": [{k: _j(v) for k, v in r.items()} for r in product_charges(impact)],
            "by_customer": [{k: _j(v) for k, v in r.items()} for r in customer_changes(impact)],
            "not_priced": [
                {
                    "side": side,
                    "rate_card": resource_name(n.card),
                    "product": resource_name(n.product) if n.product else None,
                    "reason": n.message,
                }
                for side in (NOW, PROPOSED)
                for n in impact.charges[side].notes
            ],
        },
        "unbilled": {NOW: impact.unbilled[NOW], PROPOSED: impact.unbilled[PROPOSED]},
        "unbilled_unknown": {
            NOW: impact.unbilled_unknown.get(NOW, 0),
            PROPOSED: impact.unbilled_unknown.get(PROPOSED, 0),
        },
        "usagechanged_without_declaration_change": changed_without_declaration(impact),
    }
