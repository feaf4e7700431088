"""The generated SDKs in sdk/: current with the schema, and usable: the Python SDK takes
snake_case arguments and registers the schema's camelCase properties, the TypeScript SDK
compiles with ``tsc``, the Go SDK builds with ``go build``."""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pulumi_metronome.native import schema

ROOT = Path(__file__).resolve().parents[2]
SDK = ROOT / "sdk"
GEN_SDK = ROOT / "scripts" / "gen-sdk.sh"
#: Files in sdk/ that are kept by hand (or installed), not generated.
KEPT = {"go.mod", "go.sum", "node_modules"}


def generated_files(root: Path) -> set[str]:
    out = set()
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if path.is_file() and not KEPT & set(relative.parts):
            out.add(str(relative))
    return out


def test_the_committed_sdks_are_what_the_schema_generates(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON": sys.executable}
    subprocess.run(["bash", str(GEN_SDK), str(tmp_path)], check=True, env=env, timeout=900)
    fresh, committed = generated_files(tmp_path), generated_files(SDK)
    assert fresh == committed, "run scripts/gen-sdk.sh: files differ"
    stale = [f for f in sorted(fresh) if not filecmp.cmp(tmp_path / f, SDK / f, shallow=False)]
    assert stale == [], f"run scripts/gen-sdk.sh: stale {stale}"
    version = json.loads((SDK / "schema.json").read_text())["version"]
    assert version == json.loads((SDK / "nodejs" / "package.json").read_text())["version"]
    assert f'version = "{version}"' in (SDK / "python" / "pyproject.toml").read_text()


PYTHON_PROGRAM = textwrap.dedent(
    """
    import json, sys
    import pulumi

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args):
            registered[args.name] = (args.typ, args.inputs)
            return args.name + "-id", args.inputs

        def call(self, args):
            return {}

    registered = {}
    pulumi.runtime.set_mocks(Mocks(), preview=False)
    import pulumi_metronome_sdk as metronome

    from pulumi.runtime.sync_await import _sync_await

    metric = metronome.BillableMetric(
        "tokens",
        aggregation_type=metronome.AggregationType.SUM,
        aggregation_key="tokens",
        property_filters=[metronome.PropertyFilterArgs(name="tokens", exists=True,
                                                       in_values=["a"])],
        custom_fields={"team_name": "ml"},
        adopt_existing=True,
    )
    product = metronome.Product("gpu", type="USAGE", billable_metric_id="m-1",
                      pricing_group_key=["gpu_type"],
                      quantity_rounding={"decimal_places": 2, "rounding_method": "ROUND_UP"})
    card = metronome.RateCard("card", rates=[metronome.RateArgs(
        product_id="p-1", rate_type="TIERED", starting_at="2027-01-01T00:00:00Z",
        pricing_group_values={"gpu_type": "h100"},
        tiers=[metronome.TierArgs(price=3, size=10), metronome.TierArgs(price=1)])])
    key = metronome.CustomFieldKey("team", key="team_name", enforce_uniqueness=True)
    _sync_await(pulumi.Output.all(*[r.id for r in (metric, product, card, key)]).future())
    print(json.dumps(registered, sort_keys=True))
    """
)


def test_the_python_sdk_takes_snake_case_and_registers_the_schema_names(tmp_path: Path) -> None:
    # Installed as users install it (its version is read from the installed metadata).
    site = tmp_path / "site"
    source = shutil.copytree(SDK / "python", tmp_path / "python")  # the build writes beside it
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--disable-pip-version-check",
            "--target",
            str(site),
            str(source),
        ],
        check=True,
        timeout=600,
    )
    script = tmp_path / "program.py"
    script.write_text(PYTHON_PROGRAM)
    env = {**os.environ, "PYTHONPATH": str(site)}
    run = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120
    )
    assert run.returncode == 0, run.stderr
    registered = json.loads(run.stdout.strip().splitlines()[-1])
    token, metric = registered["tokens"]
    assert token == "metronome:index:BillableMetric"
    assert metric == {
        "aggregationType": "SUM",
        "aggregationKey": "tokens",
        "propertyFilters": [{"name": "tokens", "exists": True, "inValues": ["a"]}],
        "customFields": {"team_name": "ml"},
        "adoptExisting": True,
    }
    assert schema.to_core(token, metric)["property_filters"] == [
        {"name": "tokens", "exists": True, "in_values": ["a"]}
    ]
    assert registered["gpu"][1]["quantityRounding"] == {
        "decimalPlaces": 2,
        "roundingMethod": "ROUND_UP",
    }
    rate = registered["card"][1]["rates"][0]
    assert rate["pricingGroupValues"] == {"gpu_type": "h100"}
    assert rate["tiers"] == [{"price": 3, "size": 10}, {"price": 1}]
    assert rate["entitled"] is True  # the schema's default, as RateArgs has it
    assert registered["team"] == [
        "metronome:index:CustomFieldKey",
        {
            "key": "team_name",
            "enforceUniqueness": True,
            "entity": "billable_metric",
            "adoptExisting": False,
        },
    ]


def test_the_typescript_sdk_compiles(tmp_path: Path) -> None:
    modules = subprocess.run(
        ["bash", str(GEN_SDK), "--node-modules"],
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    ).stdout.strip()
    work = tmp_path / "nodejs"
    shutil.copytree(SDK / "nodejs", work)
    (work / "node_modules").symlink_to(modules)
    run = subprocess.run(
        [str(Path(modules) / ".bin" / "tsc"), "-p", "."],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert (work / "bin" / "rateCard.js").exists()
    assert (work / "bin" / "types" / "input.d.ts").exists()


def test_the_go_sdk_builds(tmp_path: Path) -> None:
    go = shutil.which("go") or "/usr/local/go/bin/go"
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly -buildvcs=false"}
    run = subprocess.run(
        [go, "build", "./..."],
        cwd=SDK / "go",
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    vet = subprocess.run(
        [go, "vet", "./..."], cwd=SDK / "go", capture_output=True, text=True, env=env, timeout=600
    )
    assert vet.returncode == 0, vet.stdout + vet.stderr


@pytest.mark.parametrize("language", ["python", "nodejs", "go"])
def test_each_sdk_names_the_plugin_and_its_version(language: str) -> None:
    version = json.loads((SDK / "schema.json").read_text())["version"]
    manifests = list((SDK / language).rglob("pulumi-plugin.json")) or [
        SDK / language / "package.json"
    ]
    for manifest in manifests:
        data = json.loads(manifest.read_text())
        plugin = data.get("pulumi", data)
        assert (plugin["name"], plugin["version"], plugin["resource"]) == (
            "metronome",
            version,
            True,
        )
