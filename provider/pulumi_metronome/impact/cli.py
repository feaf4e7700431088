"""``pulumi-metronome impact``: what a pricing change does to usage and charges.

    pulumi stack export > state.json
    pulumi preview --json > plan.json
    pulumi-metronome impact --state state.json --plan plan.json --events events.parquet \
        [--rate-cards customers.json] [--format markdown|json] [--output impact.md] \
        [--as-of DATE] [--guardrails guardrails.toml]

No Metronome call and no credentials: the inputs are the state, the plan and the events.
Progress goes to stderr; the report to stdout (or ``--output``). Exit status: 0, the report;
2, bad input (one line on stderr); 3, a guardrail is breached (the report is still written).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import duckdb

from ..metering.backends import ENGINES, EngineError
from ..onboarding import export
from ..version import version
from . import guardrails
from .analysis import Impact, analyse
from .charges import customers_by_card
from .inputs import InputError, Pricing, load_plan, load_state, read_json
from .report import as_json, markdown
from .usage import EventsError, Progress, first_line

#: Every error line starts with this (exit status 2: bad input).
ERROR_PREFIX = "pulumi-metronome impact: error: "
#: A memory limit DuckDB understands: a positive size with its unit.
_MEMORY = re.compile(r"\s*(\d+(\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*", re.IGNORECASE)


class UsageError(ValueError):
    """A command line that does not parse (argparse's own message)."""


class _Parser(argparse.ArgumentParser):
    """argparse, reporting a bad command line as one error line (``main``) instead of
    printing the usage and exiting from inside the parser."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _day(text: str) -> datetime:
    try:
        day = datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None
    return day.replace(tzinfo=UTC)


def _instant(text: str) -> datetime:
    """``--as-of``: a day (``2027-01-01``, midnight UTC) or an RFC 3339 instant."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date (YYYY-MM-DD) or a time (YYYY-MM-DDTHH:MM:SSZ)"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _pricing_options(cmd: argparse.ArgumentParser) -> None:
    """Which rates price the events, and the guardrails."""
    cmd.add_argument(
        "--as-of",
        type=_instant,
        metavar="DATE",
        help="price the events at the rates in effect on DATE on both sides (default: the "
        "first date a proposed rate change takes effect after the events, if any)",
    )
    guardrails.add_options(cmd)


def _render(impact: Impact, fmt: str, checked: guardrails.Checked | None) -> str:
    """The report, the guardrail breaches first."""
    if fmt == "markdown":
        return markdown(impact, preface=guardrails.markdown_lines(checked) if checked else ())
    data = as_json(impact)
    if checked is not None:
        data = {"guardrails": guardrails.as_json(checked), **data}
    return json.dumps(data, indent=2)


def _status(checked: guardrails.Checked | None) -> int:
    """0, or ``guardrails.EXIT_BREACH`` when a guardrail is breached."""
    return guardrails.EXIT_BREACH if checked is not None and checked.breaches else 0


def check_mapping(mapping: dict[str, str], path: str, *sides: Pricing) -> None:
    """Every customer of the mapping must land on a rate card of the state or the plan (a
    misspelt card would silently price the customer on nothing)."""
    placed = {
        c
        for pricing in sides
        for cs in customers_by_card(pricing, [], mapping).values()
        for c in cs
    }
    lost = [c for c in mapping if c not in placed]
    if lost:
        raise InputError(
            f"rate card mapping {path}: {lost[0]!r} -> {mapping[lost[0]]!r} names no rate card "
            "of the state or the plan (use its resource name, card name or id)"
            + (f"; {len(lost) - 1} more like it" if len(lost) > 1 else "")
        )


def _mapping(path: str) -> dict[str, str]:
    data = read_json(path, "rate card mapping")
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise InputError(
            f"rate card mapping {path}: must be a JSON object of customer id -> rate card "
            '(resource name, card name or id), e.g. {"acme": "standard"}'
        )
    return data


def parser() -> argparse.ArgumentParser:
    top = _Parser(prog="pulumi-metronome", description=__doc__.split("\n")[0])
    top.add_argument(
        "--version", action="version", version=f"%(prog)s {version()}", help="print the version"
    )
    commands = top.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser(
        "impact",
        help="usage and charges now vs proposed, over an events file",
        description="Compare the pricing a stack has now (pulumi stack export) with the "
        "pricing a change proposes (pulumi preview --json) over usage events.",
    )
    cmd.add_argument("--state", required=True, help="`pulumi stack export` output (JSON)")
    cmd.add_argument("--plan", required=True, help="`pulumi preview --json` output")
    cmd.add_argument(
        "--events", required=True, help="events: *.parquet or *.jsonl (one ingest event a line)"
    )
    cmd.add_argument(
        "--rate-cards",
        help="JSON object customer id -> rate card (resource name, card name or id); "
        "without it every customer is priced on each rate card",
    )
    cmd.add_argument("--format", choices=("markdown", "json"), default="markdown")
    cmd.add_argument("--output", help="write the report here instead of stdout")
    cmd.add_argument("--start", type=_day, help="first day (UTC) of the period; default: events'")
    cmd.add_argument("--end", type=_day, help="day after the period (exclusive)")
    cmd.add_argument("--memory-limit", default=None, help="DuckDB memory limit, e.g. 2GB")
    cmd.add_argument(
        "--engine",
        choices=ENGINES,
        default="duckdb",
        help="where the usage queries run: embedded DuckDB (default), Spark or ClickHouse "
        "(these read --events as Parquet; docs/engines.md)",
    )
    cmd.add_argument("--quiet", action="store_true", help="no progress on stderr")
    _pricing_options(cmd)
    export.add_parser(commands)
    return top


def validate(args: argparse.Namespace) -> None:
    """The options' own rules, before any file is read (files are checked as they are read:
    ``read_json``, ``Events``); raises ``InputError`` naming the option."""
    if args.start is not None and args.end is not None and args.start >= args.end:
        raise InputError(
            f"--start {args.start:%Y-%m-%d} must be before --end {args.end:%Y-%m-%d} "
            "(the end is exclusive: the day after the period)"
        )
    if args.memory_limit is not None:
        size = _MEMORY.fullmatch(args.memory_limit)
        if size is None or float(size.group(1)) <= 0:
            raise InputError(
                f"--memory-limit {args.memory_limit!r}: must be a positive size with its unit, "
                "e.g. 2GB or 512MB"
            )
    if args.output:
        out = Path(args.output)
        if out.is_dir():
            raise InputError(f"--output {out}: is a directory; name the report's file")
        if not out.parent.is_dir():
            raise InputError(f"--output {out}: its folder {out.parent} does not exist")


def error_line(error: BaseException) -> str:
    """The one line a bad input gets (messages naming several problems are joined)."""
    parts = [line.strip() for line in str(error).splitlines() if line.strip()]
    return ERROR_PREFIX + ("; ".join(parts) or type(error).__name__)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
    except UsageError as error:
        print(error_line(error), file=sys.stderr)
        return 2
    except SystemExit as done:  # --help or --version: printed, nothing else to do
        return done.code if isinstance(done.code, int) else 0
    if args.command == "export":
        return export.run(args)
    progress = Progress(None if args.quiet else sys.stderr)
    try:
        validate(args)
        rules = guardrails.from_args(args)
        now = load_state(read_json(args.state, "state export"), f"state export {args.state}")
        proposed = load_plan(read_json(args.plan, "plan"), now, f"plan {args.plan}")
        mapping = _mapping(args.rate_cards) if args.rate_cards else None
        if mapping is not None:
            check_mapping(mapping, args.rate_cards, now, proposed)
        try:
            impact = analyse(
                now,
                proposed,
                args.events,
                mapping=mapping,
                progress=progress,
                memory_limit=args.memory_limit,
                start=args.start,
                end=args.end,
                as_of=args.as_of,
                engine=args.engine,
            )
        except duckdb.OutOfMemoryException as error:
            raise EventsError(
                f"events file {args.events}: does not fit the memory limit "
                f"({first_line(error)}); raise --memory-limit"
            ) from None
        except duckdb.Error as error:
            raise EventsError(
                f"events file {args.events}: cannot be evaluated ({first_line(error)})"
            ) from None
    except (InputError, EventsError, EngineError) as error:
        print(error_line(error), file=sys.stderr)
        return 2
    checked = guardrails.check(impact, rules) if rules.active else None
    text = _render(impact, args.format, checked)
    if args.output:
        try:
            Path(args.output).write_text(text + "\n", encoding="utf-8")
        except OSError as error:
            why = f"--output {args.output}: cannot write it ({error.strerror or error})"
            print(error_line(InputError(why)), file=sys.stderr)
            return 2
        progress(f"report written to {args.output}")
    else:
        sys.stdout.write(text + "\n")
    progress("done")
    return _status(checked)


if __name__ == "__main__":
    sys.exit(main())
