"""Benchmark: ``pulumi-metronome export`` of a large account.

    python benchmarks/export.py [--metrics 1000] [--products 990] [--cards 7] [--rates 100]
        [--seed 16]

Starts the local server (in memory), makes a random account through the official
``metronome`` SDK (``tests/onboarding/seed.py``: 3 custom field keys, metrics of every kind,
products of every type, rate cards of ``--rates`` rates each; by default 2,000 live
objects), then runs the real command as a child process and prints its wall time, the API
calls the server logged during the export (reads are list pages: 100 objects a page, plus
the schedule pages of each rate card) and the size of what it wrote.

``--round-trip`` then takes the exported account over with the real ``pulumi`` CLI, both
ways, and prints each step's time and the writes the server logged (the target: 0):
``pulumi up`` of the generated program (dynamic provider) and the next ``pulumi preview``;
``pulumi import --file`` (native provider) and a preview of the code it generated. The
issue's size for it: ``--metrics 50 --products 30 --cards 3 --rates 110``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from metronome import Metronome

from metronome_local.process import LocalServer
from pulumi_metronome.testing import PulumiStack

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "onboarding"))
from seed import Size, seed

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--metrics", type=int, default=1000)
    parser.add_argument("--products", type=int, default=990)
    parser.add_argument("--cards", type=int, default=7)
    parser.add_argument("--rates", type=int, default=100)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--round-trip", action="store_true", help="then pulumi up / import")
    args = parser.parse_args()
    size = Size(args.metrics, args.products, args.cards, args.rates)
    with LocalServer() as server, tempfile.TemporaryDirectory() as out:
        started = time.monotonic()
        with Metronome(bearer_token=server.token, base_url=server.url, max_retries=0) as sdk:
            made = seed(sdk, random.Random(args.seed), size)
        live = sum(len(v) for v in made.values())
        rates = args.cards * args.rates
        print(
            f"account: {live} live objects ({len(made['metrics'])} metrics, "
            f"{len(made['products'])} products, {len(made['cards'])} rate cards with "
            f"{rates} rates, {len(made['keys'])} custom field keys), made through the SDK in "
            f"{time.monotonic() - started:.1f} s"
        )
        server.clear_requests()
        env = {**os.environ, "METRONOME_BEARER_TOKEN": server.token}
        command = ["pulumi-metronome", "export", "--base-url", server.url, "--out-dir", out]
        started = time.monotonic()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        seconds = time.monotonic() - started
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 1
        calls = server.requests()
        by_path: dict[str, int] = {}
        for call in calls:
            by_path[call["path"]] = by_path.get(call["path"], 0) + 1
        exported = json.loads((Path(out) / "import.json").read_text())["resources"]
        program = (Path(out) / "__main__.py").read_text()
        print(f"export: {len(exported)} objects in {seconds:.2f} s, {len(calls)} API calls")
        for path, count in sorted(by_path.items()):
            print(f"  {count:5d}  {path}")
        print(f"program: {len(program.splitlines())} lines; import file: {len(exported)} entries")
        if args.round_trip:
            round_trip(server, Path(out), program)
    return 0


READ_ONLY_POSTS = ("/list", "/get", "/listKeys", "/getRateSchedule", "/getRates")


def writes(server: LocalServer) -> int:
    return sum(
        1
        for r in server.requests()
        if r["method"] != "GET" and not r["path"].endswith(READ_ONLY_POSTS)
    )


def step(server: LocalServer, what: str, action: Callable[[], object]) -> None:
    server.clear_requests()
    started = time.monotonic()
    action()
    seconds = time.monotonic() - started
    print(f"{what}: {seconds:.1f} s, {writes(server)} writes, {len(server.requests())} API calls")


def round_trip(server: LocalServer, out: Path, program: str) -> None:
    """The account taken over by the dynamic program, then imported by the native plugin."""
    dynamic = PulumiStack(out / "dynamic", base_url=server.url, token=server.token, program=program)
    step(server, "dynamic: pulumi up (adopt)", dynamic.up)
    step(server, "dynamic: pulumi preview", lambda: dynamic.preview("--expect-no-changes"))

    site = out / "sdk"
    # From a copy: pip leaves build files beside the sources, and sdk/ is generated output.
    source = shutil.copytree(REPO / "sdk" / "python", out / "sdk-source")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
         str(source)],
        check=True,
    )  # fmt: skip
    native = PulumiStack(
        out / "native", base_url=server.url, token=server.token, program="import pulumi\n"
    )
    native.env["PYTHONPATH"] = str(site)
    code = out / "imported.py"
    step(
        server,
        "native: pulumi import --file",
        lambda: native.run(
            "import", "--file", str(out / "import.json"), "--yes", "--out", str(code)
        ),
    )
    (native.dir / "__main__.py").write_text(code.read_text())
    step(server, "native: pulumi preview", lambda: native.preview("--expect-no-changes"))


if __name__ == "__main__":
    sys.exit(main())
