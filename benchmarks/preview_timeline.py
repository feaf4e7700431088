"""Where the time of a no-op `pulumi preview` (and of a `pulumi up`) goes, phase by phase.

    python benchmarks/preview_timeline.py [--metrics 200] [--runs 3] [--up] [--latency-ms 100]

Deploys the same N billable metrics as ``up_vs_sdk.py`` three ways (the plugin from a Python
program, the plugin from a YAML program, the do-nothing dynamic provider), then runs a no-op
`pulumi preview` of each, in turn, ``--runs`` times, with the engine's gRPC log
(``PULUMI_DEBUG_GRPC``: every call between the CLI, the language host, the program and the
provider, with its time). Each run is cut into phases:

- CLI start to ``About()`` answered: the CLI, the language host's start, its ``About()``;
- to the program's start (``Run()`` sent);
- program start to its first registration answered (the stack resource): the program's
  interpreter and imports (a YAML program: the YAML host, and the plugin it starts to read
  the schema);
- to the provider's handshake: the provider's process start (the engine starts it when the
  first resource of its package registers);
- Check and Diff of every resource, one resource after another (the engine's step
  generator), with the median round trip of each as the engine saw it;
- the last Diff to the end of the command.

With ``--up``, also `pulumi up --yes --skip-preview` of the N metrics through the plugin on a
fresh stack, against a server adding ``--latency-ms`` per call, three times: engine defaults,
``PULUMI_SKIP_CHECKPOINTS=true`` alone, ``PULUMI_PARALLEL=64`` alone; each prints when the
creates ran and how many were in flight on average (the engine allows 4 per CPU by default).

Figures are wall seconds on this machine as it is (the load average is printed); compare
phases within one run of the script. Needs the project's test extras and the CLI with the
YAML language host (`EXTRAS=test source scripts/env.sh`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from up_vs_sdk import (
    NATIVE_PROGRAM,
    NOOP_PROGRAM,
    TOKEN,
    YamlStack,
    declaration,
    native_declaration,
)

from metronome_local.process import LocalServer
from pulumi_metronome.testing import PulumiStack

PHASES = (
    "CLI start to About() answered",
    "to the program's start",
    "program start to its first registration",
    "to the provider's handshake",
    "Check + Diff, one resource after another",
    "last Diff to the end",
)


def _when(stamp: str) -> float:
    """An RFC 3339 time of the gRPC log (nanoseconds) as seconds since the epoch."""
    head, _, fraction = stamp.rstrip("Z").partition(".")
    whole = datetime.fromisoformat(head).replace(tzinfo=UTC).timestamp()
    return whole + float("0." + (fraction or "0"))


@dataclass
class Call:
    method: str
    started: float | None  # None: the log gives no start (the engine's own servers)
    ended: float
    ms: float | None


def calls(log: Path) -> list[Call]:
    """Completed calls of a ``PULUMI_DEBUG_GRPC`` log."""
    found = []
    for line in log.read_text().splitlines():
        row = json.loads(line)
        if row.get("progress") != "response_completed" or row["timestamp"].startswith("0001"):
            continue
        ended = _when(row["timestamp"])
        nanos = row.get("duration")
        valid = nanos is not None and nanos < 10**12  # the engine logs max int when unknown
        started = ended - nanos / 1e9 if valid else None
        found.append(
            Call(row["method"].rsplit("/", 1)[-1], started, ended, nanos / 1e6 if valid else None)
        )
    return found


def first(found: list[Call], method: str, last: bool = False) -> Call:
    matching = [c for c in found if c.method == method]
    if not matching:
        raise SystemExit(f"no {method} call in the gRPC log")
    return max(matching, key=lambda c: c.ended) if last else min(matching, key=lambda c: c.ended)


@dataclass
class Timed:
    label: str
    load: float
    wall: float
    phases: list[float]
    check_ms: float
    diff_ms: float


def phases(label: str, start: float, end: float, load: float, found: list[Call]) -> Timed:
    about = first(found, "About")
    run = first(found, "Run")
    registered = first(found, "RegisterResource")
    checks = [c for c in found if c.method == "Check"]
    diffs = [c for c in found if c.method == "Diff"]
    first_check = min(c.started or c.ended for c in checks)
    # The handshake of the provider that served the resources (a YAML host starts one of
    # its own before, to read the schema).
    handshake = max(
        (c for c in found if c.method == "Handshake" and c.ended <= first_check),
        key=lambda c: c.ended,
    )
    last_diff = max(c.ended for c in diffs)
    run_start = run.started if run.started is not None else about.ended
    cuts = [
        about.ended - start,
        run_start - about.ended,
        registered.ended - run_start,
        (handshake.started or handshake.ended) - registered.ended,
        last_diff - first_check,
        end - last_diff,
    ]
    return Timed(
        label,
        load,
        end - start,
        cuts,
        statistics.median(c.ms for c in checks if c.ms is not None),
        statistics.median(c.ms for c in diffs if c.ms is not None),
    )


def traced(
    stack: PulumiStack, log: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[float, float, float]:
    """Run ``pulumi <args>`` with the gRPC log in ``log``: (start, end, load average)."""
    log.unlink(missing_ok=True)
    saved = dict(stack.env)
    stack.env.update({"PULUMI_DEBUG_GRPC": str(log), **(env or {})})
    load = os.getloadavg()[0]
    start = time.time()
    try:
        stack.run(*args)
    finally:
        stack.env.clear()
        stack.env.update(saved)
    return start, time.time(), load


def print_previews(timed: list[Timed]) -> None:
    labels = sorted({t.label for t in timed}, key=[t.label for t in timed].index)
    width = max(len(p) for p in PHASES)
    print()
    print("no-op pulumi preview, seconds per phase (median of the runs; each run in brackets)")
    print(f"{'phase':<{width}}  " + "  ".join(f"{label:>24}" for label in labels))

    def phase(i: int) -> Callable[[Timed], float]:
        return lambda t: t.phases[i]

    rows: list[tuple[str, Callable[[Timed], float], str]] = [
        (p, phase(i), "{:.2f}") for i, p in enumerate(PHASES)
    ]
    rows += [
        ("wall", lambda t: t.wall, "{:.2f}"),
        ("load average at the start", lambda t: t.load, "{:.1f}"),
        ("Check round trip, median ms", lambda t: t.check_ms, "{:.2f}"),
        ("Diff round trip, median ms", lambda t: t.diff_ms, "{:.2f}"),
    ]
    for name, value, fmt in rows:
        cells = []
        for label in labels:
            mine = [value(t) for t in timed if t.label == label]
            runs = ",".join(fmt.format(v) for v in mine)
            cells.append(f"{fmt.format(statistics.median(mine))} [{runs}]")
        print(f"{name:<{width}}  " + "  ".join(f"{c:>24}" for c in cells))


def up_row(label: str, start: float, end: float, load: float, found: list[Call]) -> None:
    creates = [c for c in found if c.method == "Create" and c.started is not None]
    begin = min(c.started for c in creates if c.started is not None)
    finish = max(c.ended for c in creates)
    busy = sum(c.ended - (c.started or c.ended) for c in creates)
    median = statistics.median(c.ms for c in creates if c.ms is not None)
    print(
        f"{label:<44} wall {end - start:5.2f} s (load {load:.1f}); {len(creates)} creates from "
        f"{begin - start:.2f} s to {finish - start:.2f} s, median {median:.0f} ms each, "
        f"{busy / (finish - begin):.1f} in flight on average"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--metrics", type=int, default=200, help="metrics to declare (200)")
    parser.add_argument("--runs", type=int, default=3, help="previews of each (3)")
    parser.add_argument("--up", action="store_true", help="also time `pulumi up` three ways")
    parser.add_argument("--latency-ms", type=float, default=100, help="added per call, --up")
    options = parser.parse_args()
    n = options.metrics
    metrics = declaration(n)
    native = native_declaration(metrics)
    print(f"{n} metrics; load average {os.getloadavg()[0]:.1f}", flush=True)
    with (
        tempfile.TemporaryDirectory(prefix="bench-timeline-") as tmp,
        LocalServer(tokens=[TOKEN]) as srv,
    ):
        root = Path(tmp)

        def made(where: str, program: str, cls: type[PulumiStack] = PulumiStack) -> PulumiStack:
            return cls(root / where, base_url=srv.url, token=srv.token, program=program)

        plugin = made("plugin", NATIVE_PROGRAM)
        plugin.declare(metrics=native)
        noop = made("noop", NOOP_PROGRAM)
        noop.declare(metrics=metrics)
        yaml_stack = made("yaml", NATIVE_PROGRAM, YamlStack)
        assert isinstance(yaml_stack, YamlStack)
        yaml_stack.declare_yaml(native)
        stacks = {
            "plugin, Python program": plugin,
            "do-nothing dynamic": noop,
            "plugin, YAML program": yaml_stack,
        }
        for stack in stacks.values():
            stack.run("up", "--yes", "--skip-preview")
        timed = []
        for i in range(options.runs):
            for label, stack in stacks.items():
                log = root / "grpc.json"
                start, end, load = traced(stack, log, "preview")
                timed.append(phases(label, start, end, load, calls(log)))
                print(f"  run {i + 1}, {label}: {end - start:.2f} s (load {load:.1f})", flush=True)
        print_previews(timed)

    if options.up:
        print()
        print(
            f"pulumi up --yes --skip-preview, {n} metrics through the plugin, "
            f"{options.latency_ms:g} ms per call"
        )
        for label, env in (
            ("engine defaults", {}),
            ("PULUMI_SKIP_CHECKPOINTS=true", {"PULUMI_SKIP_CHECKPOINTS": "true"}),
            ("PULUMI_PARALLEL=64", {"PULUMI_PARALLEL": "64"}),
        ):
            with (
                tempfile.TemporaryDirectory(prefix="bench-timeline-up-") as tmp,
                LocalServer(latency_ms=options.latency_ms, tokens=[TOKEN]) as srv,
            ):
                stack = PulumiStack(
                    Path(tmp), base_url=srv.url, token=srv.token, program=NATIVE_PROGRAM
                )
                stack.declare(metrics=native)
                log = Path(tmp) / "grpc.json"
                start, end, load = traced(stack, log, "up", "--yes", "--skip-preview", env=env)
                up_row(label, start, end, load, calls(log))
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
