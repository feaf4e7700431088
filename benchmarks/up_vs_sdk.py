"""How long pricing as code takes against a slow API: `pulumi up` vs the official SDK.

    python benchmarks/up_vs_sdk.py [--metrics 200] [--latency-ms 100] [--parallel 64] \
        [--pairs 2]

Starts local Metronome-compatible servers with added latency on every API call, then
measures, each against the same kind of server:

(a) `pulumi up --yes --skip-preview` of a stack declaring N billable metrics with the
    dynamic provider (new stack);
(b) the same N creates, one after another, with the official `metronome-sdk` on a fresh
    server (what a hand-written setup script does);
(c) a no-op `pulumi preview` of the N metrics deployed in (a);
(d) `pulumi refresh --yes` of them (as typed: a refresh preview, then the refresh);
(e) `pulumi refresh --yes --skip-preview` (the refresh alone);
(f) `pulumi up --yes --skip-preview` of the same N metrics through the native plugin
    (``pulumi-resource-metronome`` on PATH) from a Python program declaring
    ``metronome:index:BillableMetric`` resources, on a fresh server, engine defaults;
(f') the same with two engine settings a user may choose: ``--parallel P`` (the engine's
    default is 4 per CPU: 8 steps at once on a 2-core machine) and
    ``PULUMI_SKIP_CHECKPOINTS=true`` (the file backend otherwise rewrites the whole state
    after every step; skipped, a crash mid-way loses the record of what was created);
(g) a no-op `pulumi preview` of the N metrics deployed in (f);
(h) a no-op `pulumi preview` of N resources of a do-nothing dynamic provider (check echoes,
    diff says "no change"): the floor of any dynamic provider, for comparison with (g);
(i), (i'), (j): (f), (f') and (g) with a YAML program (``runtime: yaml``: resources
    registered without a Python interpreter), which shows the plugin's own cost.

First, the plugin's own cost per resource of a no-op preview: the Check and the Diff the
engine sends for each resource, answered in this process by the plugin's gRPC servicer
(request messages in and out, no socket), in ms, one figure per round of the N.

(g) and (h) run alternately, ``--pairs`` times each (g h g h ...), so that both see the same
machine load; each pair's ratio is printed, and the ratio of the medians. Every row prints
the load average when it started (this machine is shared), its wall time and the API calls
the server saw, by kind: a refresh reads the metrics with shared list pages (100 per call),
not one GET each. The ratios the issue's targets speak of are printed at the end:
(f)/(b) <= 0.2 and (g)/(h) <= 0.7.

API calls come from the server's request log. The Pulumi runs use the end-to-end test
harness (``pulumi_metronome.testing``: a temp project, a file backend, credentials in stack
config only); the dynamic provider serves 4 requests at once, the plugin as many as the
engine sends. Needs the project's test extras and the CLI with the YAML language host
(`EXTRAS=test source scripts/env.sh`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from metronome import Metronome

from metronome_local.process import LocalServer
from pulumi_metronome.native.schema import from_core
from pulumi_metronome.testing import PROGRAM, PulumiStack, metric

TOKEN = "bench-token"
METRIC_TOKEN = "metronome:index:BillableMetric"


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


#: The same declaration through the native plugin, as a program in any language would make
#: it: the schema's (camelCase) properties, written into the JSON by ``native_declaration``,
#: so that the program imports nothing but ``pulumi`` (not this package's models).
NATIVE_PROGRAM = """\
import json
import pathlib

import pulumi

TOKEN = "metronome:index:BillableMetric"
declaration = json.loads((pathlib.Path(__file__).parent / "declaration.json").read_text())
for item in declaration.get("metrics", []):
    pulumi.CustomResource(TOKEN, item["resource"], item.get("args", {}))
"""


def native_declaration(metrics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``metrics`` with the plugin's property names (``aggregationType``, ...)."""
    return [metric(item["resource"], **from_core(METRIC_TOKEN, item["args"])) for item in metrics]


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


def yaml_program(project: str, metrics: list[dict[str, Any]]) -> str:
    """``Pulumi.yaml`` of a YAML program declaring ``metrics`` (camelCase properties)."""
    body = {
        "name": project,
        "runtime": "yaml",
        "resources": {
            item["resource"]: {"type": METRIC_TOKEN, "properties": item["args"]} for item in metrics
        },
    }
    return str(yaml.safe_dump(body, sort_keys=False))


class YamlStack(PulumiStack):
    """A ``PulumiStack`` whose program is ``Pulumi.yaml`` alone (``runtime: yaml``)."""

    def declare_yaml(self, metrics: list[dict[str, Any]]) -> None:
        for name in ("__main__.py", "declaration.json"):
            (self.dir / name).unlink(missing_ok=True)
        (self.dir / "Pulumi.yaml").write_text(yaml_program(self.project, metrics))


def load() -> float:
    """The 1-minute load average (2 cores here: above 2, runs wait for a CPU)."""
    return os.getloadavg()[0]


@dataclass
class Run:
    seconds: float
    load: float
    requests: list[dict[str, Any]]


class Rows:
    """Runs by row label; a label run several times keeps every run."""

    def __init__(self) -> None:
        self.runs: dict[str, list[Run]] = {}

    def timed(self, server: LocalServer, what: str, action: Any) -> float:
        server.clear_requests()
        before = load()
        start = time.monotonic()
        action()
        seconds = time.monotonic() - start
        self.runs.setdefault(what, []).append(Run(seconds, before, server.requests()))
        print(f"  {what}: {seconds:.1f} s (load {before:.1f})", flush=True)
        return seconds

    def median(self, tag: str) -> float:
        (found,) = [runs for what, runs in self.runs.items() if what.startswith(tag)]
        return statistics.median(r.seconds for r in found)

    def print(self, n: int) -> None:
        width = max(len(w) for w in self.runs)
        print()
        print(
            f"{'run':<{width}}  {'wall (s)':>8}  {'load':>4}  {'API calls':>9}  "
            f"{'s/metric':>8}  calls by kind"
        )
        print(f"{'-' * width}  {'-' * 8}  {'-' * 4}  {'-' * 9}  {'-' * 8}  {'-' * 13}")
        for what in sorted(self.runs):
            for run in self.runs[what]:
                counts = Counter(f"{r['method']} {_route(r['path'])}" for r in run.requests)
                kinds = ", ".join(f"{c} {kind}" for kind, c in counts.most_common()) or "-"
                print(
                    f"{what:<{width}}  {run.seconds:>8.1f}  {run.load:>4.1f}  "
                    f"{len(run.requests):>9}  {run.seconds / n:>8.3f}  {kinds}"
                )


def sdk_creates(server: LocalServer, metrics: list[dict[str, Any]]) -> None:
    with Metronome(bearer_token=server.token, base_url=server.url) as client:
        for item in metrics:
            client.v1.billable_metrics.create(**item["args"])


def live_count(server: LocalServer) -> int:
    with Metronome(bearer_token=server.token, base_url=server.url) as client:
        return sum(1 for _ in client.v1.billable_metrics.list(limit=100))


def expect(server: LocalServer, n: int, what: str) -> None:
    created = live_count(server)
    if created != n:
        raise SystemExit(f"{what} left {created} metrics, expected {n}")


def plugin_call_cost(metrics: list[dict[str, Any]], rounds: int = 5) -> list[float]:
    """The plugin's own cost per resource of a no-op preview, in ms: the ``Check`` and the
    ``Diff`` the engine sends for each resource (one resource after another), answered by
    the plugin's gRPC servicer in this process, request messages in and out, without the
    socket. One figure per round of all ``metrics``."""
    from pulumi.runtime import rpc
    from pulumi.runtime.proto import provider_pb2

    from pulumi_metronome.native.__main__ import Servicer, version
    from pulumi_metronome.native.provider import MetronomeNativeProvider

    class Context:
        async def abort(self, code: Any, details: str) -> None:
            raise SystemExit(f"the plugin refused a benchmark request: {details}")

    async def measure() -> list[float]:
        provider = MetronomeNativeProvider(version())
        servicer = Servicer([], provider.version, provider, engine_address="")
        config = {"metronome:baseUrl": "http://127.0.0.1:1"}
        await servicer.Configure(provider_pb2.ConfigureRequest(variables=config), Context())
        urns = [f"urn:pulumi:bench::bench::{METRIC_TOKEN}::{m['resource']}" for m in metrics]
        news = [await rpc.serialize_properties(m["args"], {}) for m in native_declaration(metrics)]
        checked = []
        for urn, new in zip(urns, news, strict=True):
            request = provider_pb2.CheckRequest(urn=urn, news=new)
            checked.append((await servicer.Check(request, Context())).inputs)
        figures = []
        for _ in range(rounds):
            start = time.perf_counter()
            for i, (urn, new, old) in enumerate(zip(urns, news, checked, strict=True)):
                check = provider_pb2.CheckRequest(urn=urn, news=new, olds=old)
                await servicer.Check(check, Context())
                diff = provider_pb2.DiffRequest(urn=urn, id=f"id-{i}", olds=old, news=old)
                await servicer.Diff(diff, Context())
            figures.append((time.perf_counter() - start) / len(metrics) * 1000)
        return figures

    return asyncio.run(measure())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--metrics", type=int, default=200, help="metrics to create (200)")
    parser.add_argument("--latency-ms", type=float, default=100, help="added per call (100)")
    parser.add_argument("--parallel", type=int, default=64, help="--parallel of (f'), (i')")
    parser.add_argument("--pairs", type=int, default=2, help="runs of (g) and of (h), paired")
    options = parser.parse_args()
    metrics = declaration(options.metrics)
    native = native_declaration(metrics)
    n, latency, parallel = options.metrics, options.latency_ms, options.parallel
    tuned = ("--parallel", str(parallel))
    skip = {"PULUMI_SKIP_CHECKPOINTS": "true"}
    tuned_label = "tuned"
    rows = Rows()
    print(f"{latency:g} ms added per call; {n} metrics; load average {load():.1f}", flush=True)
    print(f"tuned: pulumi up --parallel {parallel} with PULUMI_SKIP_CHECKPOINTS=true", flush=True)
    calls = plugin_call_cost(metrics)
    own = (
        "the plugin's own Check + Diff per resource (in-process, through its servicer): "
        + ", ".join(f"{ms:.2f}" for ms in calls)
        + f" ms; median {statistics.median(calls):.2f} ms"
    )
    print(own, flush=True)

    def server() -> LocalServer:
        return servers.enter_context(LocalServer(latency_ms=latency, tokens=[TOKEN]))

    def stack(
        where: str,
        srv: LocalServer,
        program: str,
        cls: type[PulumiStack] = PulumiStack,
        env: dict[str, str] | None = None,
    ) -> PulumiStack:
        made = cls(Path(tmp) / where, base_url=srv.url, token=srv.token, program=program)
        made.env.update(env or {})
        return made

    def up(s: PulumiStack, *extra: str) -> Any:
        return lambda: s.run("up", "--yes", "--skip-preview", *extra)

    with (
        tempfile.TemporaryDirectory(prefix="bench-up-vs-sdk-") as tmp,
        contextlib.ExitStack() as servers,
    ):
        srv = server()
        dynamic = stack("dynamic", srv, PROGRAM)
        dynamic.declare(metrics=metrics)
        rows.timed(srv, f"(a) dynamic pulumi up: create {n}", up(dynamic))
        expect(srv, n, "the dynamic provider's up")
        rows.timed(srv, f"(c) dynamic pulumi preview: no-op, {n}", lambda: dynamic.run("preview"))
        rows.timed(
            srv, f"(d) dynamic pulumi refresh --yes: {n}", lambda: dynamic.run("refresh", "--yes")
        )
        rows.timed(
            srv,
            f"(e) dynamic pulumi refresh --yes --skip-preview: {n}",
            lambda: dynamic.run("refresh", "--yes", "--skip-preview"),
        )

        srv = server()
        rows.timed(
            srv, f"(b) metronome-sdk: {n} creates in sequence", lambda: sdk_creates(srv, metrics)
        )
        expect(srv, n, "the SDK run")

        srv = server()
        plugin = stack("plugin", srv, NATIVE_PROGRAM)
        plugin.declare(metrics=native)
        rows.timed(srv, f"(f) plugin pulumi up, Python program: create {n}", up(plugin))
        expect(srv, n, "the plugin's up")
        plugin_srv = srv

        srv = server()
        tuned_plugin = stack("plugin-tuned", srv, NATIVE_PROGRAM, env=skip)
        tuned_plugin.declare(metrics=native)
        rows.timed(
            srv,
            f"(f') plugin pulumi up, Python program, {tuned_label}: create {n}",
            up(tuned_plugin, *tuned),
        )
        expect(srv, n, "the plugin's tuned up")

        srv = server()
        yaml_stack = stack("yaml", srv, NATIVE_PROGRAM, YamlStack)
        assert isinstance(yaml_stack, YamlStack)
        yaml_stack.declare_yaml(native)
        rows.timed(srv, f"(i) plugin pulumi up, YAML program: create {n}", up(yaml_stack))
        expect(srv, n, "the YAML program's up")
        yaml_srv = srv

        srv = server()
        tuned_yaml = stack("yaml-tuned", srv, NATIVE_PROGRAM, YamlStack, env=skip)
        assert isinstance(tuned_yaml, YamlStack)
        tuned_yaml.declare_yaml(native)
        rows.timed(
            srv,
            f"(i') plugin pulumi up, YAML program, {tuned_label}: create {n}",
            up(tuned_yaml, *tuned),
        )
        expect(srv, n, "the YAML program's tuned up")

        noop_srv = server()
        noop = stack("noop", noop_srv, NOOP_PROGRAM)
        noop.declare(metrics=metrics)
        noop.run("up", "--yes", "--skip-preview")

        pairs: list[float] = []
        for _ in range(options.pairs):
            g = rows.timed(
                plugin_srv,
                f"(g) plugin pulumi preview, Python program: no-op, {n}",
                lambda: plugin.run("preview"),
            )
            h = rows.timed(
                noop_srv,
                f"(h) do-nothing dynamic provider pulumi preview: no-op, {n}",
                lambda: noop.run("preview"),
            )
            pairs.append(g / h)
        rows.timed(
            yaml_srv,
            f"(j) plugin pulumi preview, YAML program: no-op, {n}",
            lambda: yaml_stack.run("preview"),
        )

    rows.print(n)
    print()
    for label, top, bottom, target in (
        ("plugin up / SDK creates in sequence", "(f)", "(b)", 0.2),
        (f"plugin up ({tuned_label}) / SDK", "(f')", "(b)", 0.2),
        ("plugin up, YAML program / SDK", "(i)", "(b)", 0.2),
        (f"plugin up, YAML program ({tuned_label}) / SDK", "(i')", "(b)", 0.2),
        ("dynamic up / SDK creates in sequence", "(a)", "(b)", None),
        ("plugin no-op preview / do-nothing dynamic preview", "(g)", "(h)", 0.7),
        ("plugin no-op preview, YAML program / do-nothing dynamic", "(j)", "(h)", 0.7),
        ("dynamic no-op preview / do-nothing dynamic preview", "(c)", "(h)", None),
    ):
        ratio = rows.median(top) / rows.median(bottom)
        verdict = (
            ""
            if target is None
            else f" (target <= {target:g}: {'met' if ratio <= target else 'NOT met'})"
        )
        print(f"{label:<72} {top}/{bottom} = {ratio:.2f}{verdict}")
    print(
        "(g)/(h) pair by pair, each pair run back to back: " + ", ".join(f"{r:.2f}" for r in pairs)
    )
    print(own)
    print(f"load average at the end {load():.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
