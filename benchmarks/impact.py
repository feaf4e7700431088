"""Benchmark: the whole pricing-impact report over a month of events.

    python benchmarks/impact.py [--events 10000000] [--customers 2000] [--keep DIR]

Generates (with DuckDB, into a temporary directory) a Parquet file of ``--events`` events
over October 2026 for ``--customers`` customers, a stack export with 20 billable metrics,
20 USAGE products (two priced by model and region) and 2 rate cards (FLAT and TIERED
rates and a subscription; half of the customers on each, by a mapping file), and a plan
that changes three metric filters and a tier price and moves one product to another
metric. Then it runs the real command,
``pulumi-metronome impact``, as a child process and prints its wall time and peak RSS
(the target: at most 60 s on a 2-core machine, memory bounded).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--memory-limit", default="4GB")
    parser.add_argument("--keep", help="generate into this directory and keep the files")
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="impact-bench-"))
    work.mkdir(parents=True, exist_ok=True)
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
        command = [
            str(Path(sys.executable).with_name("pulumi-metronome")),
            "impact",
            "--state",
            str(work / "state.json"),
            "--plan",
            str(work / "plan.json"),
            "--events",
            str(events),
            "--output",
            str(work / "impact.md"),
            "--memory-limit",
            args.memory_limit,
            "--rate-cards",
            str(work / "rate-cards.json"),
        ]
        started = time.monotonic()
        subprocess.run(command, check=True)
        wall = time.monotonic() - started
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        report = (work / "impact.md").read_text()
        print()
        print(f"events               {args.events:>12,}")
        print(f"customers            {args.customers:>12,}")
        print("metrics / rate cards           20 / 2")
        print(f"wall time (s)        {wall:>12.1f}   target <= 60")
        limit = args.memory_limit
        print(f"peak RSS (MiB)       {peak_kib / 1024:>12.0f}   (DuckDB memory limit {limit})")
        print(f"report               {len(report.splitlines()):>12,} lines ({work / 'impact.md'})")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
