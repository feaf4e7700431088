"""Benchmark: the whole pricing-impact report over a month of events, this code vs a baseline.

    python benchmarks/impact.py [--events 10000000] [--customers 2000] [--rounds 2]
        [--baseline REF] [--memory-limit SIZE] [--keep DIR]

Generates (with DuckDB, into a temporary directory) a Parquet file of ``--events`` events
over October 2026 for ``--customers`` customers, a stack export with 20 billable metrics,
20 USAGE products (two priced by model and region) and 2 rate cards (FLAT and TIERED
rates and a subscription; half of the customers on each, by a mapping file), and a plan
that changes three metric filters and a tier price and moves one product to another
metric. Then it runs the real command, ``pulumi-metronome impact``, as a child process,
alternately with the code of this tree and with the code of git ref ``--baseline``
(``git archive`` into a temporary directory; ``none`` skips it): old, new, old, new, ...
(``--rounds`` pairs, so both see the same load on a shared machine). Per run it prints
the wall time, the CPU time (user + system) and the peak RSS of the child
(``os.wait4``), then the medians, and whether both codes wrote the same report.
Targets (10 million events, 2 cores): at most 15 s and 1.5 GiB peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from pulumi_metronome.impact.synthetic import (
    UNKNOWN,
    depends,
    export,
    metric,
    plan,
    product,
    rate_card,
    step,
)

START = "2026-10-01T00:00:00Z"
MODELS = ["atlas-large", "atlas-mini", "orion", "vega", "lyra"]
REGIONS = ["us-east", "eu-west", "ap-south"]


def generate(path: Path, events: int, customers: int) -> float:
    """Events as a warehouse would export them: properties as a JSON text column."""
    started = time.monotonic()
    db = duckdb.connect()
    models = ", ".join(f"'{m}'" for m in MODELS)
    regions = ", ".join(f"'{r}'" for r in REGIONS)
    db.execute(
        f"""
        COPY (
          SELECT 'tx-' || i AS transaction_id,
                 'cust-' || (hash(i) % {customers}) AS customer_id,
                 CASE WHEN hash(i + 1) % 10 < 7 THEN 'completion'
                      WHEN hash(i + 1) % 10 < 9 THEN 'embedding' ELSE 'page_view' END
                   AS event_type,
                 TIMESTAMPTZ '2026-10-01 00:00:00+00' + to_microseconds(
                   CAST(hash(i + 2) % (31 * 86400000000) AS BIGINT)) AS timestamp,
                 json_object(
                   'tokens', CAST(hash(i + 3) % 4000 AS INTEGER),
                   'model', [{models}][1 + CAST(hash(i + 4) % 5 AS INTEGER)],
                   'region', [{regions}][1 + CAST(hash(i + 5) % 3 AS INTEGER)],
                   'internal', CASE WHEN hash(i + 6) % 20 = 0 THEN 'true' ELSE 'false' END,
                   'user_id', 'u-' || (hash(i + 7) % 50000),
                   'latency_ms', round((hash(i + 8) % 100000) / 37.0, 2)
                 )::VARCHAR AS properties
          FROM range({events}) AS t(i)
        ) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 262144)
        """
    )
    db.close()
    return time.monotonic() - started


def metrics() -> dict[str, dict[str, Any]]:
    """20 metric declarations by resource name."""
    out: dict[str, dict[str, Any]] = {}
    for model in MODELS:
        out[f"tokens-{model}"] = {
            "aggregation_type": "SUM",
            "aggregation_key": "tokens",
            "event_type_filter": {"in_values": ["completion"]},
            "property_filters": [
                {"name": "tokens", "exists": True},
                {"name": "model", "in_values": [model]},
                {"name": "region", "in_values": REGIONS},
            ],
            "group_keys": [["model", "region"]],
        }
    for region in REGIONS:
        out[f"embeddings-{region}"] = {
            "aggregation_type": "SUM",
            "aggregation_key": "tokens",
            "event_type_filter": {"in_values": ["embedding"]},
            "property_filters": [
                {"name": "tokens", "exists": True},
                {"name": "region", "in_values": [region]},
            ],
        }
    for kind in ("completion", "embedding", "page_view"):
        out[f"requests-{kind}"] = {
            "aggregation_type": "COUNT",
            "event_type_filter": {"in_values": [kind]},
        }
    out["active-users"] = {
        "aggregation_type": "UNIQUE",
        "aggregation_key": "user_id",
        "property_filters": [{"name": "user_id", "exists": True}],
    }
    out["peak-latency"] = {
        "aggregation_type": "MAX",
        "aggregation_key": "latency_ms",
        "property_filters": [{"name": "latency_ms", "exists": True}],
    }
    out["last-latency"] = {
        "aggregation_type": "LATEST",
        "aggregation_key": "latency_ms",
        "property_filters": [{"name": "latency_ms", "exists": True}],
    }
    for model in MODELS[:3]:
        out[f"large-requests-{model}"] = {
            "aggregation_type": "COUNT",
            "event_type_filter": {"in_values": ["completion"]},
            "property_filters": [{"name": "model", "in_values": [model]}],
        }
    out["all-tokens"] = {
        "aggregation_type": "SUM",
        "aggregation_key": "tokens",
        "property_filters": [{"name": "tokens", "exists": True}],
    }
    out["regions"] = {
        "aggregation_type": "UNIQUE",
        "aggregation_key": "region",
        "property_filters": [{"name": "region", "exists": True}],
    }
    out["internal-requests"] = {
        "aggregation_type": "COUNT",
        "property_filters": [{"name": "internal", "in_values": ["true"]}],
    }
    assert len(out) == 20, len(out)
    return out


def documents() -> tuple[dict[str, Any], dict[str, Any]]:
    """(stack export, preview plan) for the pricing above and its change."""
    declared = metrics()
    now_metrics = {n: metric(n, f"m-{i}", **d) for i, (n, d) in enumerate(declared.items())}
    products = {}
    for i, name in enumerate(declared):
        extra: dict[str, Any] = {}
        if name in ("tokens-atlas-large", "tokens-atlas-mini"):
            extra["pricing_group_key"] = ["model", "region"]
        if name.startswith(("tokens-", "embeddings-", "all-tokens")):
            extra["quantity_conversion"] = {"conversion_factor": 1000, "operation": "DIVIDE"}
            extra["quantity_rounding"] = {"decimal_places": 2, "rounding_method": "ROUND_UP"}
        products[name] = product(name, f"p-{i}", type="USAGE", billable_metric_id=f"m-{i}", **extra)
    seat = product("seat", "p-seat", type="SUBSCRIPTION")

    def rates(tier_price: float) -> list[dict[str, Any]]:
        out = []
        for i, name in enumerate(declared):
            base = {"product_id": f"p-{i}", "entitled": True, "starting_at": START}
            if name == "tokens-atlas-large":
                for model_region in [(m, r) for m in ["atlas-large"] for r in REGIONS]:
                    out.append(
                        {
                            **base,
                            "rate_type": "TIERED",
                            "pricing_group_values": dict(
                                zip(("model", "region"), model_region, strict=True)
                            ),
                            "tiers": [{"price": 200, "size": 100}, {"price": tier_price}],
                        }
                    )
            elif name.startswith("tokens-"):
                out.append({**base, "rate_type": "FLAT", "price": 150})
            else:
                out.append({**base, "rate_type": "FLAT", "price": 1})
        out.append(
            {
                "product_id": "p-seat",
                "entitled": True,
                "starting_at": START,
                "rate_type": "SUBSCRIPTION",
                "price": 50000,
                "is_prorated": True,
            }
        )
        return out

    standard = rate_card("standard", "rc-1", rates=rates(150))
    enterprise = rate_card("enterprise", "rc-2", rates=rates(120))
    state = export(*now_metrics.values(), *products.values(), seat, standard, enterprise)

    steps = []
    changed = {"tokens-atlas-large", "embeddings-us-east", "all-tokens"}
    for name, decl in declared.items():
        old = now_metrics[name]
        if name in changed:
            filters = [
                *decl.get("property_filters", []),
                {"name": "internal", "not_in_values": ["true"]},
            ]
            new = metric(name, **{**decl, "property_filters": filters})
            steps.append(step("replace", new, old))
            prod = products[name]
            moved = depends(
                product(
                    name,
                    **{
                        k: v
                        for k, v in prod["props"].items()
                        if k not in ("name", "billable_metric_id")
                    },
                    billable_metric_id=UNKNOWN,
                ),
                "billable_metric_id",
                new,
            )
            steps.append(step("update", moved, prod))
        else:
            steps.append(step("same", old, old))
            if name != "requests-page_view":
                steps.append(step("same", products[name], products[name]))
    # The page-view product moves to the metric that counts every completion (kept, so its
    # id is known in the plan).
    moved = product(
        "requests-page_view",
        type="USAGE",
        billable_metric_id=now_metrics["requests-completion"]["id"],
    )
    steps.append(step("update", moved, products["requests-page_view"]))
    steps.append(step("same", seat, seat))
    steps.append(step("update", rate_card("standard", "rc-1", rates=rates(140)), standard))
    steps.append(step("same", enterprise, enterprise))
    return state, plan(*steps)


#: The code before the reductions recorded in benchmarks/notes/impact.md (duplicates
#: counted by grouping, decimals cast from plain JSON numerals, UNIQUE by its own query,
#: exists-only properties as booleans); it writes the same report. (``60ee1c4``, the code
#: before the narrower in-memory table, is the one docs/benchmarks-impact.md compares to.)
DEFAULT_BASELINE = "b20eb2d"
#: Runs ``pulumi_metronome.impact.cli`` from the package folder given as first argument.
RUNNER = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); "
    "from pulumi_metronome.impact.cli import main; sys.exit(main(sys.argv[1:]))"
)


@dataclass(frozen=True)
class Run:
    """One run of the command: wall and CPU seconds, peak RSS in MiB."""

    wall: float
    cpu: float
    rss: float


def baseline_tree(ref: str, into: Path) -> Path:
    """The ``provider`` folder of git ref ``ref``, extracted into ``into``."""
    root = Path(__file__).resolve().parents[1]
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", ref, "provider"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "provider"


def run(provider: Path, args: list[str], log: Path) -> Run:
    """Run the command with the package in ``provider``; its own rusage from ``wait4``.
    Its output (progress lines with their times, DuckDB's progress bars) goes to ``log``."""
    with log.open("wb") as stderr:
        started = time.monotonic()
        child = subprocess.Popen(
            [sys.executable, "-c", RUNNER, str(provider), "impact", *args],
            stdout=stderr,
            stderr=stderr,
        )
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.monotonic() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:]
        raise SystemExit(f"impact exited with status {child.returncode} ({provider}):\n{tail}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2, help="old/new pairs (default 2)")
    parser.add_argument(
        "--baseline",
        default=DEFAULT_BASELINE,
        help=f"git ref of the code to compare with (default {DEFAULT_BASELINE}); none: skip",
    )
    parser.add_argument(
        "--memory-limit", help="DuckDB memory limit for both (default: each code's own)"
    )
    parser.add_argument("--keep", help="generate into this directory and keep the files")
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="impact-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="impact-bench-code-"))
    try:
        events = work / "events.parquet"
        if not events.exists():
            took = generate(events, args.events, args.customers)
            print(
                f"generated {args.events:,} events in {took:.1f} s "
                f"({events.stat().st_size / 1e6:,.0f} MB Parquet)",
                flush=True,
            )
        state, preview = documents()
        (work / "state.json").write_text(json.dumps(state))
        (work / "plan.json").write_text(json.dumps(preview))
        # Half of the customers on each card.
        cards = {f"cust-{i}": ("standard", "enterprise")[i % 2] for i in range(args.customers)}
        (work / "rate-cards.json").write_text(json.dumps(cards))
        codes = {"new": Path(__file__).resolve().parents[1] / "provider"}
        if args.baseline != "none":
            codes = {"old": baseline_tree(args.baseline, scratch), **codes}
        runs: dict[str, list[Run]] = {name: [] for name in codes}
        for round_ in range(args.rounds):
            for name, provider in codes.items():
                command = [
                    "--state",
                    str(work / "state.json"),
                    "--plan",
                    str(work / "plan.json"),
                    "--events",
                    str(events),
                    "--output",
                    str(work / f"impact-{name}.md"),
                    "--rate-cards",
                    str(work / "rate-cards.json"),
                ]
                if args.memory_limit:
                    command += ["--memory-limit", args.memory_limit]
                done = run(provider, command, work / f"impact-{name}.log")
                runs[name].append(done)
                print(
                    f"round {round_ + 1} {name}: wall {done.wall:6.1f} s   cpu {done.cpu:6.1f} s   "
                    f"peak RSS {done.rss:6,.0f} MiB",
                    flush=True,
                )
        report = (work / "impact-new.md").read_text()
        print()
        print(f"events               {args.events:>12,}")
        print(f"customers            {args.customers:>12,}")
        print("metrics / rate cards           20 / 2")
        print(f"report               {len(report.splitlines()):>12,} lines")
        limit = args.memory_limit or "each code's default"
        print(f"DuckDB memory limit  {limit:>12}   cores: {os.cpu_count()}")
        print(f"medians of {args.rounds} run(s)     wall (s)   cpu (s)   peak RSS (MiB)")
        for name, each in runs.items():
            label = f"{name} ({args.baseline})" if name == "old" else name
            print(
                f"  {label:18s} {statistics.median(r.wall for r in each):9.1f} "
                f"{statistics.median(r.cpu for r in each):9.1f} "
                f"{statistics.median(r.rss for r in each):13,.0f}"
            )
        print("  target (new)            15.0                    1,536")
        if "old" in runs:
            same = (work / "impact-old.md").read_text() == report
            print(f"same report old/new  {'yes' if same else 'NO':>12}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
