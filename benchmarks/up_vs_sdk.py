"""How long pricing as code takes against a slow API: `pulumi up` vs the official SDK.

    python benchmarks/up_vs_sdk.py [--metrics 200] [--latency-ms 100]

Starts a local Metronome-compatible server with added latency on every API call, then
measures, each against the same kind of server:

(a) `pulumi up --yes --skip-preview` of a stack declaring N billable metrics (new stack);
(b) the same N creates, one after another, with the official `metronome-sdk` on a fresh
    server (what a hand-written setup script does);
(c) a no-op `pulumi preview` of the N metrics deployed in (a);
(d) `pulumi refresh --yes` of them (as typed: a refresh preview, then the refresh);
(e) `pulumi refresh --yes --skip-preview` (the refresh alone);
(f) `pulumi up --yes --skip-preview` of the same N metrics through the native plugin
    (``pulumi-resource-metronome`` on PATH; a program declaring
    ``metronome:index:BillableMetric`` resources), on a fresh server;
(g) a no-op `pulumi preview` of the N metrics deployed in (f);
(h) a no-op `pulumi preview` of N resources of a do-nothing dynamic provider (check echoes,
    diff says "no change"): the floor of any dynamic provider, for comparison with (g).

Each row prints the wall time and the API calls the server saw, by kind: a refresh reads
the metrics with shared list pages (100 per call), not one GET each. The ratios the
issue's targets speak of are printed at the end: (f)/(b) and (g)/(h).

API calls come from the server's request log. The Pulumi runs use the end-to-end test
harness (``pulumi_metronome.testing``: a temp project, a file backend, credentials in stack config
only); the engine runs steps in parallel; the dynamic provider serves 4 requests at once, the
plugin as many as the engine sends.
Needs the project's test extras (`EXTRAS=test source scripts/env.sh`).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metronome import Metronome

from metronome_local.process import LocalServer
from pulumi_metronome.testing import PulumiStack, metric

TOKEN = "bench-token"


@dataclass
class Row:
    what: str
    seconds: float
    requests: list[dict[str, Any]]

    @property
    def calls(self) -> int:
        return len(self.requests)

    def by_kind(self) -> str:
        counts = Counter(f"{r['method']} {_route(r['path'])}" for r in self.requests)
        return ", ".join(f"{n} {kind}" for kind, n in counts.most_common()) or "-"


def _route(path: str) -> str:
    """``/v1/billable-metrics/<id>`` -> ``/v1/billable-metrics/{id}``."""
    parts = path.split("/")
    if len(parts) == 4 and parts[2] == "billable-metrics" and parts[3] not in ("create", "archive"):
        parts[3] = "{id}"
    return "/".join(parts)


def declaration(count: int) -> list[dict[str, Any]]:
    return [
        metric(
            f"metric-{i:04d}",
            name=f"Benchmark metric {i:04d}",
            aggregation_type="SUM",
            aggregation_key="tokens",
            event_type_filter={"in_values": ["completion"]},
            property_filters=[
                {"name": "tokens", "exists": True},
                {"name": "region", "in_values": ["eu", "us"]},
            ],
            group_keys=[["region"]],
        )
        for i in range(count)
    ]


#: The same declaration through the native plugin: camelCase properties (the schema's).
NATIVE_PROGRAM = """\
import json
import pathlib

import pulumi

from pulumi_metronome.native.schema import from_core

TOKEN = "metronome:index:BillableMetric"
declaration = json.loads((pathlib.Path(__file__).parent / "declaration.json").read_text())
for item in declaration.get("metrics", []):
    pulumi.CustomResource(TOKEN, item["resource"], from_core(TOKEN, item.get("args", {})))
"""

#: N resources of a dynamic provider that does nothing: the cost of the dynamic machinery.
NOOP_PROGRAM = """\
import json
import pathlib

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, Resource, ResourceProvider


class Nothing(ResourceProvider):
    def check(self, olds, news):
        return CheckResult(news, [])

    def diff(self, id_, olds, news):
        return DiffResult(changes=False)

    def create(self, props):
        return CreateResult(props["__name"], props)


class Noop(Resource):
    def __init__(self, name, args):
        super().__init__(Nothing(), name, {"__name": name, **args})


declaration = json.loads((pathlib.Path(__file__).parent / "declaration.json").read_text())
for item in declaration.get("metrics", []):
    Noop(item["resource"], item.get("args", {}))
"""


def timed(server: LocalServer, what: str, action: Any) -> Row:
    server.clear_requests()
    start = time.monotonic()
    action()
    seconds = time.monotonic() - start
    return Row(what, seconds, server.requests())


def sdk_creates(server: LocalServer, metrics: list[dict[str, Any]]) -> None:
    with Metronome(bearer_token=server.token, base_url=server.url) as client:
        for item in metrics:
            client.v1.billable_metrics.create(**item["args"])


def live_count(server: LocalServer) -> int:
    with Metronome(bearer_token=server.token, base_url=server.url) as client:
        return sum(1 for _ in client.v1.billable_metrics.list(limit=100))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--metrics", type=int, default=200, help="metrics to create (200)")
    parser.add_argument("--latency-ms", type=float, default=100, help="added per call (100)")
    options = parser.parse_args()
    metrics = declaration(options.metrics)
    n, latency = options.metrics, options.latency_ms
    rows: list[Row] = []

    with tempfile.TemporaryDirectory(prefix="bench-up-vs-sdk-") as tmp:
        with LocalServer(latency_ms=latency, tokens=[TOKEN]) as server:
            print(f"server {server.url}, {latency:g} ms added per call; {n} metrics", flush=True)
            stack = PulumiStack(Path(tmp), base_url=server.url, token=server.token)
            stack.declare(metrics=metrics)
            rows.append(timed(server, f"(a) pulumi up: create {n}", stack.up))
            created = live_count(server)
            if created != n:
                raise SystemExit(f"pulumi up left {created} metrics, expected {n}")
            rows.append(
                timed(server, f"(c) pulumi preview: no-op, {n}", lambda: stack.run("preview"))
            )
            rows.append(
                timed(
                    server,
                    f"(d) pulumi refresh --yes: {n}",
                    lambda: stack.run("refresh", "--yes"),
                )
            )
            rows.append(
                timed(
                    server,
                    f"(e) pulumi refresh --yes --skip-preview: {n}",
                    lambda: stack.run("refresh", "--yes", "--skip-preview"),
                )
            )
        with LocalServer(latency_ms=latency, tokens=[TOKEN]) as server:
            rows.append(
                timed(
                    server,
                    f"(b) metronome-sdk: {n} creates in sequence",
                    lambda: sdk_creates(server, metrics),
                )
            )
            created = live_count(server)
            if created != n:
                raise SystemExit(f"the SDK run left {created} metrics, expected {n}")

        with LocalServer(latency_ms=latency, tokens=[TOKEN]) as server:
            native = PulumiStack(
                Path(tmp) / "native",
                base_url=server.url,
                token=server.token,
                program=NATIVE_PROGRAM,
            )
            native.declare(metrics=metrics)
            rows.append(
                timed(
                    server,
                    f"(f) plugin pulumi up: create {n}",
                    lambda: native.run("up", "--yes", "--skip-preview"),
                )
            )
            created = live_count(server)
            if created != n:
                raise SystemExit(f"the plugin's up left {created} metrics, expected {n}")
            rows.append(
                timed(
                    server, f"(g) plugin pulumi preview: no-op, {n}", lambda: native.run("preview")
                )
            )
        with LocalServer(latency_ms=latency, tokens=[TOKEN]) as server:
            noop = PulumiStack(
                Path(tmp) / "noop", base_url=server.url, token=server.token, program=NOOP_PROGRAM
            )
            noop.declare(metrics=metrics)
            noop.run("up", "--yes", "--skip-preview")
            rows.append(
                timed(
                    server,
                    f"(h) do-nothing dynamic provider pulumi preview: no-op, {n}",
                    lambda: noop.run("preview"),
                )
            )

    rows.sort(key=lambda r: r.what)
    width = max(len(r.what) for r in rows)
    print()
    print(f"{'run':<{width}}  {'wall (s)':>8}  {'API calls':>9}  {'s/metric':>8}  calls by kind")
    print(f"{'-' * width}  {'-' * 8}  {'-' * 9}  {'-' * 8}  {'-' * 13}")
    for row in rows:
        print(
            f"{row.what:<{width}}  {row.seconds:>8.1f}  {row.calls:>9}  "
            f"{row.seconds / n:>8.3f}  {row.by_kind()}"
        )
    seconds = {row.what[:3]: row.seconds for row in rows}
    print()
    for label, top, bottom in (
        ("plugin up / SDK creates in sequence", "(f)", "(b)"),
        ("dynamic up / SDK creates in sequence", "(a)", "(b)"),
        ("plugin no-op preview / do-nothing dynamic preview", "(g)", "(h)"),
        ("dynamic no-op preview / do-nothing dynamic preview", "(c)", "(h)"),
    ):
        print(f"{label:<52} {top}/{bottom} = {seconds[top] / seconds[bottom]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
