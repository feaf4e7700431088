"""Metering over HTTP: ingest throughput and usage-query latency of the local server.

    python benchmarks/metering_http.py [--events 1000000] [--clients 4] [--customers 100]

Starts the real server (``metronome_local.process.LocalServer``, a SQLite file and its
DuckDB events file in a temporary directory), creates customers and three metrics (a COUNT
used to verify the counts, a streaming SUM and an SQL metric), then:

1. Ingest: ``--clients`` processes each send their share of ``--events`` events in batches
   of 100 over one keep-alive connection to 127.0.0.1; ``--repeat`` (5%) of the events repeat
   an earlier event of the same client (a retry). Prints events/s over the whole phase (first
   request sent to last answer), then checks with ``/v1/usage`` that every customer's count
   equals its number of distinct transaction ids (0 lost, 0 double-counted), and the server's
   peak resident memory (``VmHWM``).
2. Usage latency (after ``--settle`` seconds, in which the engine reorders its table):
   ``POST /v1/usage`` for one customer, one metric, DAY windows over 30 days,
   ``--queries`` times each for the streaming and the SQL metric: p50 and p99.

Targets (issue 8): >= 50,000 events/s; p99 <= 50 ms (streaming), <= 100 ms (SQL).
The clients share the machine with the server, as they would on a developer's laptop.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from metronome_local.process import LocalServer

BATCH = 100
MODELS = ("atlas-large", "atlas-mini", "atlas-vision")
REGIONS = ("us-east", "eu-west", "ap-south")


@dataclass(frozen=True)
class Plan:
    url: str
    token: str
    worker: int
    events: int
    customers: int
    repeat: float
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Sent:
    requests: int
    events: int
    unique_by_customer: dict[str, int]
    failures: list[str]
    started: float
    finished: float
    cpu_seconds: float  # the client's own CPU time while it sent (user + system)


def alias(customer: int) -> str:
    return f"bench-customer-{customer:04d}"


def stream(plan: Plan) -> tuple[list[bytes], Counter[str]]:
    """The worker's request bodies and its distinct events per customer."""
    rng = random.Random(plan.worker)
    span = (plan.end - plan.start).total_seconds()
    first: list[dict[str, Any]] = []
    unique: Counter[str] = Counter()
    bodies: list[bytes] = []
    batch: list[dict[str, Any]] = []
    for index in range(plan.events):
        if first and rng.random() < plan.repeat:
            event = rng.choice(first)  # the same event again, as a retrying client sends it
        else:
            moment = plan.start + timedelta(seconds=rng.random() * span)
            event = {
                "transaction_id": f"w{plan.worker}-{index}",
                "customer_id": alias(rng.randrange(plan.customers)),
                "event_type": "completion",
                "timestamp": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "properties": {
                    "tokens": str(rng.randrange(1, 4000)),
                    "model": rng.choice(MODELS),
                    "region": rng.choice(REGIONS),
                },
            }
            first.append(event)
            unique[event["customer_id"]] += 1
        batch.append(event)
        if len(batch) == BATCH:
            bodies.append(json.dumps(batch, separators=(",", ":")).encode())
            batch = []
    if batch:
        bodies.append(json.dumps(batch, separators=(",", ":")).encode())
    return bodies, unique


def send(plan: Plan, barrier: Any) -> Sent:
    bodies, unique = stream(plan)
    where = urlsplit(plan.url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=60)
    headers = {"Authorization": f"Bearer {plan.token}", "Content-Type": "application/json"}
    failures: list[str] = []
    barrier.wait()
    started = time.perf_counter()
    cpu_started = time.process_time()
    for body in bodies:
        connection.request("POST", "/v1/ingest", body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read()
        if response.status != 200 and len(failures) < 5:
            failures.append(f"{response.status} {answer[:200]!r}")
    finished = time.perf_counter()
    cpu = time.process_time() - cpu_started
    connection.close()
    events = sum(body.count(b'"transaction_id"') for body in bodies)
    return Sent(len(bodies), events, dict(unique), failures, started, finished, cpu)


def _send(args: tuple[Plan, Any]) -> Sent:
    return send(*args)


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def usage_totals(
    session: requests.Session, url: str, metric: str, start: datetime, end: datetime
) -> dict[str, float]:
    body = {
        "starting_on": iso(start),
        "ending_before": iso(end),
        "window_size": "NONE",
        "billable_metrics": [{"id": metric}],
    }
    totals: dict[str, float] = {}
    params: dict[str, str] = {}
    while True:
        response = session.post(f"{url}/v1/usage", json=body, params=params, timeout=120)
        response.raise_for_status()
        page = response.json()
        for row in page["data"]:
            totals[row["customer_id"]] = row["value"]
        if not page["next_page"]:
            return totals
        params = {"next_page": page["next_page"]}


def latencies(session: requests.Session, url: str, body: dict[str, Any], count: int) -> list[float]:
    out = []
    for _ in range(count):
        started = time.perf_counter()
        response = session.post(f"{url}/v1/usage", json=body, timeout=60)
        out.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        assert len(response.json()["data"]) == 30
    return out


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--repeat", type=float, default=0.05, help="share of repeated events")
    parser.add_argument("--queries", type=int, default=200, help="usage queries per metric")
    parser.add_argument(
        "--settle",
        type=float,
        default=30.0,
        help="seconds to wait between ingest and the latency phase: the engine reorders its "
        "events in the background once ingest pauses (default %(default)s)",
    )
    args = parser.parse_args(argv)

    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start, end = today - timedelta(days=29), today + timedelta(days=1)
    latest = datetime.now(UTC) - timedelta(minutes=1)
    with tempfile.TemporaryDirectory() as tmp, LocalServer(db=Path(tmp) / "bench.db") as server:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {server.token}"
        customer_ids = {}
        for c in range(args.customers):
            response = session.post(
                f"{server.url}/v1/customers",
                json={"name": f"Bench {c}", "ingest_aliases": [alias(c)]},
                timeout=30,
            )
            response.raise_for_status()
            customer_ids[alias(c)] = response.json()["data"]["id"]

        def metric(body: dict[str, Any]) -> str:
            response = session.post(
                f"{server.url}/v1/billable-metrics/create", json=body, timeout=30
            )
            response.raise_for_status()
            metric_id: str = response.json()["data"]["id"]
            return metric_id

        count = metric({"name": "bench events", "aggregation_type": "COUNT"})
        tokens = metric(
            {
                "name": "bench tokens",
                "aggregation_type": "SUM",
                "aggregation_key": "tokens",
                "event_type_filter": {"in_values": ["completion"]},
                "property_filters": [
                    {"name": "tokens", "exists": True},
                    {"name": "region", "in_values": list(REGIONS)},
                ],
                "group_keys": [["region"]],
            }
        )
        sql = metric(
            {
                "name": "bench sql tokens",
                "sql": "SELECT SUM(CAST(properties.tokens AS DOUBLE)) AS value FROM events "
                "WHERE event_type = 'completion' AND properties.model IN ('atlas-large', "
                "'atlas-mini')",
            }
        )

        shares = [args.events // args.clients] * args.clients
        shares[0] += args.events - sum(shares)
        context = mp.get_context("spawn")
        barrier = context.Manager().Barrier(args.clients + 1)
        plans = [
            Plan(server.url, server.token, w, n, args.customers, args.repeat, start, latest)
            for w, n in enumerate(shares)
        ]
        print(
            f"ingest: {args.events:,} events, batches of {BATCH}, {args.clients} clients, "
            f"{args.repeat:.0%} repeated, {args.customers} customers; load average at the start"
            f" {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        pid = server.pid
        assert pid is not None
        with context.Pool(args.clients) as pool:
            pending = pool.map_async(_send, [(plan, barrier) for plan in plans])
            barrier.wait()  # every client has built its bodies
            wall_started = time.perf_counter()
            server_cpu = cpu_seconds(pid)
            results = pending.get()
            server_cpu = cpu_seconds(pid) - server_cpu
            wall = time.perf_counter() - wall_started
            load = os.getloadavg()
        failures = [f for r in results for f in r.failures]
        if failures:
            print("FAILED requests:", *failures, sep="\n  ", file=sys.stderr)
            return 1
        sent = sum(r.events for r in results)
        elapsed = max(r.finished for r in results) - min(r.started for r in results)
        expected: Counter[str] = Counter()
        for r in results:
            expected.update({customer_ids[a]: n for a, n in r.unique_by_customer.items()})
        unique = sum(expected.values())
        print(
            f"  sent {sent:,} events ({unique:,} distinct) in {sum(r.requests for r in results):,}"
            f" requests: {elapsed:.1f} s, {sent / elapsed:,.0f} events/s"
            f" ({unique / elapsed:,.0f} distinct/s); wall incl. client start-up {wall:.1f} s",
            flush=True,
        )
        clients_cpu = sum(r.cpu_seconds for r in results)
        print(
            f"  CPU during ingest: server {server_cpu:.1f} s ({server_cpu / wall:.2f} cores,"
            f" {server_cpu / sent * 1e6:.0f} us per event), clients {clients_cpu:.1f} s"
            f" ({clients_cpu / wall:.2f} cores); load average at the end"
            f" {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f} ({os.cpu_count()} cores)",
            flush=True,
        )
        totals = usage_totals(session, server.url, count, start, end)
        counted = {c: int(v or 0) for c, v in totals.items()}
        lost = sum(max(0, expected[c] - counted.get(c, 0)) for c in expected)
        extra = sum(max(0, counted.get(c, 0) - expected[c]) for c in counted)
        print(
            f"  verified by /v1/usage (COUNT per customer): {sum(counted.values()):,} counted,"
            f" {lost} lost, {extra} double-counted",
        )
        print(
            f"  server memory: peak RSS {peak_rss_mib(pid):,.0f} MiB (now {rss_mib(pid):,.0f} MiB)"
        )

        time.sleep(args.settle)
        one = customer_ids[alias(0)]
        print(
            f"usage: one customer ({expected[one]:,} of the events), one metric, DAY windows"
            f" over 30 days, {args.queries} queries each",
            flush=True,
        )
        figures = {}
        for label, metric_id in (("streaming SUM", tokens), ("SQL", sql)):
            body = {
                "starting_on": iso(start),
                "ending_before": iso(end),
                "window_size": "DAY",
                "customer_ids": [one],
                "billable_metrics": [{"id": metric_id}],
            }
            latencies(session, server.url, body, 5)  # warm up
            times = latencies(session, server.url, body, args.queries)
            figures[label] = times
            print(
                f"  {label:<14} p50 {percentile(times, 0.5):6.1f} ms   "
                f"p99 {percentile(times, 0.99):6.1f} ms   mean {statistics.fmean(times):6.1f} ms"
            )
        ok = (
            sent / elapsed >= 50_000
            and lost == 0
            and extra == 0
            and percentile(figures["streaming SUM"], 0.99) <= 50
            and percentile(figures["SQL"], 0.99) <= 100
        )
        print(
            "targets (>= 50,000 events/s; p99 <= 50 / 100 ms; 0 lost):", "met" if ok else "NOT met"
        )
        return 0 if lost == 0 and extra == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
