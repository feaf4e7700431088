"""Benchmark: the same pricing-impact report on each engine (DuckDB, Spark, ClickHouse).

    python benchmarks/engines.py [--events 10000000] [--customers 2000] [--engines ...]

The events, stack export, plan and mapping of ``benchmarks/impact.py`` (20 metrics, 2 rate
cards), one Parquet file read by every engine. For each engine it runs the real command,
``pulumi-metronome impact --engine <engine> --format json``, as a child process and prints
its wall time, the peak resident memory of its whole process tree (sampled every 0.1 s:
Spark's JVM is a child of the command), the ratio to DuckDB, and whether the report is
identical to DuckDB's. On one machine the point is the ratio and the memory: Spark and
ClickHouse earn their keep on a cluster, where the events already are.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from impact import documents, generate  # the sibling benchmark's inputs

ENGINES = ("duckdb", "spark", "clickhouse")


def tree_rss(root: int) -> int:
    """Resident memory (bytes) of ``root`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def measure(command: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall time (s) and peak tree RSS (bytes) of ``command``."""
    started = time.monotonic()
    child = subprocess.Popen(command, env=env)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(child.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = child.wait()
    wall = time.monotonic() - started
    done.set()
    sampler.join()
    if code != 0:
        raise SystemExit(f"{command[0]} exited {code}")
    return wall, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--spark-driver-memory", default="4g")
    parser.add_argument("--keep", help="generate into this directory and keep the files")
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="engines-bench-"))
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
        cards = {f"cust-{i}": ("standard", "enterprise")[i % 2] for i in range(args.customers)}
        (work / "rate-cards.json").write_text(json.dumps(cards))
        env = {**os.environ, "PULUMI_METRONOME_SPARK_DRIVER_MEMORY": args.spark_driver_memory}
        figures: dict[str, tuple[float, int]] = {}
        reports: dict[str, str] = {}
        for engine in args.engines:
            out = work / f"impact-{engine}.json"
            command = [
                str(Path(sys.executable).with_name("pulumi-metronome")),
                "impact",
                "--state",
                str(work / "state.json"),
                "--plan",
                str(work / "plan.json"),
                "--events",
                str(events),
                "--rate-cards",
                str(work / "rate-cards.json"),
                "--engine",
                engine,
                "--format",
                "json",
                "--output",
                str(out),
            ]
            print(f"-- {engine}", flush=True)
            figures[engine] = measure(command, env)
            reports[engine] = out.read_text()
        print()
        print(f"events {args.events:,}, customers {args.customers:,}, 20 metrics, 2 rate cards")
        print(f"{'engine':<12}{'wall (s)':>10}{'x DuckDB':>10}{'peak RSS (MiB)':>16}  report")
        base = figures.get("duckdb", (0.0, 0))[0]
        for engine, (wall, peak) in figures.items():
            ratio = f"{wall / base:.1f}" if base else "-"
            same = "identical" if reports[engine] == reports.get("duckdb") else "DIFFERS"
            if engine == "duckdb":
                same = "reference"
            print(f"{engine:<12}{wall:>10.1f}{ratio:>10}{peak / 2**20:>16.0f}  {same}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
