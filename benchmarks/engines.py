"""Benchmark: the same pricing-impact report on each engine (DuckDB, Spark, ClickHouse).

    python benchmarks/engines.py [--events 10000000] [--customers 2000] [--engines ...]
        [--memory-limit 1500MB] [--keep DIR]

The events, stack export, plan and mapping of ``benchmarks/impact.py`` (20 metrics, 2 rate
cards), one Parquet file read by every engine. For each engine it runs the real command,
``pulumi-metronome impact --engine <engine> --format json``, as a child process and prints
its wall time, CPU time, the peak resident memory of its whole process tree (sampled every 0.1 s:
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


def tree(root: int) -> dict[int, tuple[int, float]]:
    """``{pid: (resident bytes, CPU seconds)}`` of ``root`` and all its descendants, from
    /proc."""
    children: dict[int, list[int]] = {}
    found: dict[int, tuple[int, float]] = {}
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
            cpu = (int(fields[11]) + int(fields[12])) / ticks
            found[int(entry)] = (int(fields[21]) * os.sysconf("SC_PAGE_SIZE"), cpu)
        except (OSError, IndexError, ValueError):
            continue
    out, stack = {}, [root]
    while stack:
        pid = stack.pop()
        if pid in found:
            out[pid] = found[pid]
        stack.extend(children.get(pid, []))
    return out


def measure(command: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Wall time (s), CPU time (s) and peak RSS (bytes) of ``command`` and its descendants
    (sampled every 0.1 s; the CPU time is also read from the child's own accounting, which
    counts the descendants it waited for, and the larger of the two kept)."""
    started = time.monotonic()
    child = subprocess.Popen(command, env=env)
    peak = 0
    cpu: dict[int, float] = {}
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            now = tree(child.pid)
            peak = max(peak, sum(rss for rss, _ in now.values()))
            cpu.update({pid: seconds for pid, (_, seconds) in now.items()})
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - started
    done.set()
    sampler.join()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{command[0]} exited {code}")
    return wall, max(usage.ru_utime + usage.ru_stime, sum(cpu.values())), peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--spark-driver-memory", default="4g")
    parser.add_argument("--keep", help="generate into this directory and keep the files")
    parser.add_argument(
        "--memory-limit", help="DuckDB's memory limit (impact --memory-limit), e.g. 1500MB"
    )
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
        figures: dict[str, tuple[float, float, int]] = {}
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
                *(
                    ["--memory-limit", args.memory_limit]
                    if args.memory_limit and engine == "duckdb"
                    else []
                ),
                "--output",
                str(out),
            ]
            print(f"-- {engine}", flush=True)
            figures[engine] = measure(command, env)
            reports[engine] = out.read_text()
        if "duckdb" not in reports and (work / "impact-duckdb.json").exists():
            # An earlier run's DuckDB report in --keep's directory (one engine per run).
            reports["duckdb"] = (work / "impact-duckdb.json").read_text()
        print()
        print(f"events {args.events:,}, customers {args.customers:,}, 20 metrics, 2 rate cards")
        print(
            f"{'engine':<12}{'wall (s)':>10}{'CPU (s)':>10}{'x DuckDB':>10}"
            f"{'peak RSS (MiB)':>16}  report"
        )
        base = figures.get("duckdb", (0.0, 0.0, 0))[0]
        for engine, (wall, cpu, peak) in figures.items():
            ratio = f"{wall / base:.1f}" if base else "-"
            same = "identical" if reports[engine] == reports.get("duckdb") else "DIFFERS"
            if "duckdb" not in reports:
                same = "-"
            elif engine == "duckdb":
                same = "reference"
            print(f"{engine:<12}{wall:>10.1f}{cpu:>10.1f}{ratio:>10}{peak / 2**20:>16.0f}  {same}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
