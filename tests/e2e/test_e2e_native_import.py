"""End to end: ``pulumi import`` of objects made by hand, into Python and YAML projects.

On the local server, by hand (the API, no Pulumi): a metric, a USAGE product pricing it per
model, a FIXED product and a rate card of 21 rates (tiered rates per model, at two dates,
and a flat one). Then, with the real CLI and the native plugin:

- single: ``pulumi import metronome:index:BillableMetric tokens <id>``;
- bulk: ``pulumi import --file resources.json`` of the metric, both products and the card;

into a ``runtime: python`` project (code from the project's own Python language host, i.e.
Pulumi's Python generator, using the generated Python SDK) and a ``runtime: yaml`` project
(the YAML host's generator). The code the CLI writes is then used as is as the program,
and a preview of it shows no change and makes no write: nothing was lost on the way,
tiers included.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from metronome_local.process import LocalServer
from pulumi_metronome.testing import PulumiStack

TOKEN = f"tok-e2e-native-import-{uuid.uuid4().hex}"
PAST = "2026-01-01T00:00:00Z"
LATER = "2031-01-01T00:00:00Z"
MODELS = [f"model-{i}" for i in range(10)]
#: POSTs that only read.
READS = {
    "/v1/customFields/listKeys",
    "/v1/contract-pricing/products/get",
    "/v1/contract-pricing/products/list",
    "/v1/contract-pricing/rate-cards/get",
    "/v1/contract-pricing/rate-cards/list",
    "/v1/contract-pricing/rate-cards/getRates",
    "/v1/contract-pricing/rate-cards/getRateSchedule",
}


@pytest.fixture(scope="module")
def _server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    db = tmp_path_factory.mktemp("metronome") / "metronome.db"
    with LocalServer(db=db, tokens=[TOKEN]) as server:
        yield server


@pytest.fixture
def server(_server: LocalServer) -> LocalServer:
    _server.reset()
    return _server


def writes(server: LocalServer) -> list[tuple[str, str]]:
    """(method, path) of every request that may change something, oldest first."""
    return [
        (r["method"], r["path"])
        for r in server.requests()
        if r["method"] in ("POST", "PUT", "PATCH", "DELETE") and r["path"] not in READS
    ]


def post(server: LocalServer, path: str, body: dict[str, Any]) -> Any:
    response = requests.post(server.url + path, json=body, headers=server.headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def made_by_hand(server: LocalServer) -> dict[str, str]:
    """Metronome objects made with the API alone; returns their ids by resource name."""
    metric = post(
        server,
        "/v1/billable-metrics/create",
        {
            "name": "Tokens",
            "aggregation_type": "SUM",
            "aggregation_key": "tokens",
            "event_type_filter": {"in_values": ["completion"]},
            "property_filters": [
                {"name": "tokens", "exists": True},
                {"name": "model", "in_values": MODELS},
            ],
            "group_keys": [["model"]],
        },
    )
    tokens = post(
        server,
        "/v1/contract-pricing/products/create",
        {
            "name": "Tokens",
            "type": "USAGE",
            "billable_metric_id": metric["id"],
            "pricing_group_key": ["model"],
        },
    )
    seat = post(server, "/v1/contract-pricing/products/create", {"name": "Seat", "type": "FIXED"})
    card = post(server, "/v1/contract-pricing/rate-cards/create", {"name": "List prices"})
    rates: list[dict[str, Any]] = []
    for i, model in enumerate(MODELS):
        for start, factor in ((PAST, 1.0), (LATER, 0.5)):
            rates.append(
                {
                    "product_id": tokens["id"],
                    "starting_at": start,
                    "entitled": True,
                    "rate_type": "TIERED",
                    "pricing_group_values": {"model": model},
                    "tiers": [
                        {"price": (20 + i) * factor, "size": 1_000_000},
                        {"price": (10 + i) * factor},
                    ],
                }
            )
    rates.append(
        {
            "product_id": seat["id"],
            "starting_at": PAST,
            "entitled": True,
            "rate_type": "FLAT",
            "price": 4900,
        }
    )
    post(
        server,
        "/v1/contract-pricing/rate-cards/addRates",
        {"rate_card_id": card["id"], "rates": rates},
    )
    schedule = post(
        server,
        "/v1/contract-pricing/rate-cards/getRateSchedule",
        {"rate_card_id": card["id"], "starting_at": "2000-01-01T00:00:00Z"},
    )
    assert len(schedule) == 21
    return {
        "tokens": metric["id"],
        "tokensProduct": tokens["id"],
        "seat": seat["id"],
        "card": card["id"],
    }


def project(
    tmp_path: Path, server: LocalServer, runtime: str, python_sdk: Path | None
) -> PulumiStack:
    """An empty project of ``runtime`` with a stack configured for ``server``."""
    stack = PulumiStack(
        tmp_path, base_url=server.url, token=server.token, program="import pulumi\n"
    )
    (tmp_path / "declaration.json").unlink()
    if runtime == "yaml":
        (tmp_path / "__main__.py").unlink()
        (tmp_path / "Pulumi.yaml").write_text(f"name: {stack.project}\nruntime: yaml\n")
    else:
        assert python_sdk is not None
        stack.env["PYTHONPATH"] = str(python_sdk)
    return stack


def use_generated_code(stack: PulumiStack, runtime: str, code: str) -> None:
    """Make the code the import wrote the program, as is."""
    if runtime == "yaml":
        with (stack.dir / "Pulumi.yaml").open("a") as f:
            f.write(code)
    else:
        (stack.dir / "__main__.py").write_text(code)


@pytest.fixture(params=["python", "yaml"])
def runtime(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def sdk_if_python(runtime: str, request: pytest.FixtureRequest) -> Path | None:
    if runtime != "python":
        return None
    site: Path = request.getfixturevalue("python_sdk")
    return site


def test_single_import_of_a_metric_then_the_printed_code_previews_no_change(
    tmp_path: Path, server: LocalServer, runtime: str, sdk_if_python: Path | None
) -> None:
    ids = made_by_hand(server)
    stack = project(tmp_path, server, runtime, sdk_if_python)
    out = tmp_path / "imported.code"
    server.clear_requests()
    stack.run(
        "import",
        "metronome:index:BillableMetric",
        "tokens",
        ids["tokens"],
        "--yes",
        "--out",
        str(out),
    )
    assert writes(server) == []
    code = out.read_text()
    if runtime == "yaml":
        assert "type: metronome:BillableMetric" in code, code
        assert "aggregationKey: tokens" in code, code
    else:
        assert "import pulumi_metronome_sdk as metronome" in code, code
        assert 'metronome.BillableMetric("tokens"' in code, code
        assert 'aggregation_key="tokens"' in code, code
    assert "protect" in code, code
    use_generated_code(stack, runtime, code)
    stack.preview("--expect-no-changes")
    assert writes(server) == []


def test_bulk_import_of_metric_products_and_a_21_rate_card_then_the_code_previews_no_change(
    tmp_path: Path, server: LocalServer, runtime: str, sdk_if_python: Path | None
) -> None:
    ids = made_by_hand(server)
    stack = project(tmp_path, server, runtime, sdk_if_python)
    types = {
        "tokens": "BillableMetric",
        "tokensProduct": "Product",
        "seat": "Product",
        "card": "RateCard",
    }
    spec = {
        "resources": [
            {"type": f"metronome:index:{kind}", "name": name, "id": ids[name]}
            for name, kind in types.items()
        ]
    }
    (tmp_path / "resources.json").write_text(json.dumps(spec))
    out = tmp_path / "imported.code"
    server.clear_requests()
    stack.run("import", "--file", str(tmp_path / "resources.json"), "--yes", "--out", str(out))
    assert writes(server) == []
    code = out.read_text()
    # Every tier of every rate is in the code (the lower tiers' prices are unique).
    for i in range(len(MODELS)):
        for price in (20 + i, (20 + i) * 0.5):
            assert str(price) in code or f"{price:g}" in code, (price, code)
    use_generated_code(stack, runtime, code)
    stack.preview("--expect-no-changes")
    assert writes(server) == []
    state = stack.resources(":RateCard")["card"]
    assert state["id"] == ids["card"]
    assert state.get("protect") is True
