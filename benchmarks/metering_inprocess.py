"""Metering engine benchmark, in-process (no HTTP): prints the figures the README records.

1. In-process evaluation: 1,000,000 events written to Parquet (by DuckDB, in a temp dir),
   then ``pulumi_metronome.evaluate`` of four metrics over the file: events/s, peak RSS.
2. Engine ingest: the same number of events through ``MeteringEngine.ingest`` in batches of
   100 into a DuckDB file, 5% of transaction ids repeated, from 1 client and from 4 threads:
   events/s and the engine's time per batch.
3. ``usage`` latency over those 1,000,000 stored events (100 customers): one customer, one
   metric, DAY windows over 30 days, p50 / p99 for streaming metrics and a SQL metric, with
   the events in arrival order and after ``compact()`` (which the engine runs by itself
   when ingest pauses).

Run: ``.venv/bin/python benchmarks/metering_inprocess.py [--events N]``.
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from pulumi_metronome import evaluate
from pulumi_metronome.metering import CustomerRef, MeteredMetric, MeteringEngine, UsageQuery
from pulumi_metronome.models import parse_metric_spec
from pulumi_metronome.models.event import Event

DAYS = 30
CUSTOMERS = 100
START = datetime(2026, 1, 1, tzinfo=UTC)
END = START + timedelta(days=DAYS)
METRICS: dict[str, dict[str, Any]] = {
    "count": {"aggregation_type": "COUNT", "event_type_filter": {"in_values": ["completion"]}},
    "sum": {
        "aggregation_type": "SUM",
        "aggregation_key": "tokens",
        "property_filters": [
            {"name": "tokens", "exists": True},
            {"name": "region", "in_values": ["us-east", "eu-west"]},
        ],
        "group_keys": [["region"]],
    },
    "unique": {
        "aggregation_type": "UNIQUE",
        "aggregation_key": "user",
        "property_filters": [{"name": "user", "exists": True}],
    },
    "latest": {
        "aggregation_type": "LATEST",
        "aggregation_key": "tokens",
        "property_filters": [{"name": "tokens", "exists": True}],
    },
    "sql": {
        "sql": "SELECT SUM(CAST(properties.tokens AS DECIMAL)) AS value FROM events "
        "WHERE event_type = 'completion'"
    },
}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_parquet(path: Path, n: int) -> None:
    """``n`` events over 30 days and 100 customers, as a producer would export them."""
    db = duckdb.connect()
    db.execute("SET enable_progress_bar = false")
    step = DAYS * 86_400_000_000 // n  # microseconds between events
    db.execute(
        f"""
        COPY (
            SELECT 'tx-' || i AS transaction_id,
                   'cust-' || lpad((i % {CUSTOMERS})::VARCHAR, 3, '0') AS customer_id,
                   CASE WHEN i % 5 = 0 THEN 'embedding' ELSE 'completion' END AS event_type,
                   TIMESTAMP '{START.date()}' + to_microseconds((i * {step})::BIGINT)
                       AS timestamp,
                   json_object(
                       'region', ['us-east', 'eu-west', 'ap-south'][1 + i % 3],
                       'tokens', ((i * 7919) % 2000)::VARCHAR,
                       'user', 'user-' || (i % 5000)
                   ) AS properties
            FROM range({n}) AS t(i)
        ) TO '{path}' (FORMAT parquet)
        """
    )
    db.close()


def bench_evaluate(path: Path, n: int) -> None:
    metrics = {k: {"name": k, **v} for k, v in METRICS.items() if k != "latest"}
    started = time.perf_counter()
    rows = evaluate(metrics, path, starting_on=START, ending_before=END, window_size="DAY")
    elapsed = time.perf_counter() - started
    print(
        f"evaluate: {n:,} events from Parquet, {len(metrics)} metrics, {len(rows):,} rows in "
        f"{elapsed:.1f} s = {n / elapsed:,.0f} events/s; peak RSS {peak_rss_mib():,.0f} MiB"
    )


def batches(n: int, seed: int, share: int, parts: int) -> list[list[Event]]:
    """This client's batches of 100: ids unique but 5% repeat an id sent before."""
    rng = random.Random(seed)
    out: list[list[Event]] = []
    sent: list[str] = []
    per_day = n / DAYS
    for b in range(share, n // 100, parts):
        batch = []
        for j in range(100):
            i = b * 100 + j
            if sent and rng.random() < 0.05:
                tid = rng.choice(sent)
            else:
                tid = f"tx-{i}"
                sent.append(tid)
            batch.append(
                Event.model_construct(
                    transaction_id=tid,
                    customer_id=f"cust-{i % CUSTOMERS:03}",
                    event_type="embedding" if i % 5 == 0 else "completion",
                    timestamp=START + timedelta(days=i / per_day),
                    properties={
                        "region": ("us-east", "eu-west", "ap-south")[i % 3],
                        "tokens": str((i * 7919) % 2000),
                        "user": f"user-{i % 5000}",
                    },
                )
            )
        out.append(batch)
    return out


def bench_ingest(engine: MeteringEngine, n: int, clients: int) -> None:
    work = [batches(n, c, c, clients) for c in range(clients)]
    spent = [0.0] * clients
    stored = [0] * clients

    def run(c: int) -> None:
        for batch in work[c]:
            t = time.perf_counter()
            result = engine.ingest(batch, ingested_at=datetime.now(UTC))
            spent[c] += time.perf_counter() - t
            stored[c] += result.stored

    threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    sent = sum(len(b) for w in work for b in w)
    count = engine.count()
    print(
        f"ingest: {sent:,} events in batches of 100 from {clients} client(s): {elapsed:.1f} s = "
        f"{sent / elapsed:,.0f} events/s; {sum(spent) / (sent / 100) * 1000:.2f} ms per "
        f"batch in ingest(); stored {sum(stored):,} (distinct ids {count:,})"
    )


def bench_usage(engine: MeteringEngine, repeats: int) -> None:
    for name, fields in METRICS.items():
        m = MeteredMetric(name, name, parse_metric_spec({"name": name, **fields}))
        times = []
        for r in range(repeats):
            c = r % CUSTOMERS
            customer = CustomerRef(f"cust-{c:03}", (f"alias-{c}",))
            query = UsageQuery((m,), (customer,), START, END, "DAY")
            t = time.perf_counter()
            rows = engine.usage(query)
            times.append(time.perf_counter() - t)
            assert len(rows) == DAYS
        times.sort()
        p50 = times[len(times) // 2] * 1000
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))] * 1000
        print(f"usage {name:>6}: p50 {p50:5.1f} ms  p99 {p99:5.1f} ms  ({repeats} queries)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    n = args.events
    with tempfile.TemporaryDirectory() as tmp:
        parquet = Path(tmp) / "events.parquet"
        write_parquet(parquet, n)
        bench_evaluate(parquet, n)
        for clients in (1, 4):
            engine = MeteringEngine(Path(tmp) / f"ingest-{clients}.duckdb")
            bench_ingest(engine, n if clients == 4 else min(n, 200_000), clients)
            if clients == 4:
                engine.close()
                # Reopened, with the background compaction off until it is measured.
                engine = MeteringEngine(Path(tmp) / f"ingest-{clients}.duckdb", auto_compact=False)
                print("-- events in arrival order (customers interleaved):")
                bench_usage(engine, args.repeats)
                started = time.perf_counter()
                engine.compact()
                print(f"-- after compact() ({time.perf_counter() - started:.1f} s):")
                bench_usage(engine, args.repeats)
            engine.close()
    print(f"peak RSS of the whole run: {peak_rss_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
