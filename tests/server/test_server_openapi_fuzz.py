"""Schemathesis fuzzes the running server from the ``/openapi.json`` it serves.

Each operation gets valid data and (where there is something to break) invalid data;
every answer must not be a 5xx, must have a documented status and must match the
documented schema. A stateful run then follows the document's links (create metric -> get,
rename, archive; create customer -> get, set aliases, archive), so operations taking an id
see real ids too. The metering endpoints (ingest, usage, usage groups, event search) are
fuzzed like the rest: whatever the body, never a 5xx.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis import GenerationMode
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

from metronome_local.process import LocalServer

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
#: Metronome's operations this server serves (from Metronome's API reference, written by
#: hand), and whether each takes something a fuzzer can break (a body or query parameters;
#: a lone string path parameter cannot be invalid).
OPERATIONS = {
    "POST /v1/billable-metrics/create": True,
    "GET /v1/billable-metrics/{billable_metric_id}": False,
    "GET /v1/billable-metrics": True,
    "PUT /v1/billable-metrics/{billable_metric_id}": True,
    "POST /v1/billable-metrics/archive": True,
    "POST /v1/customFields/addKey": True,
    "POST /v1/customFields/listKeys": True,
    "POST /v1/customFields/setValues": True,
    "POST /v1/customFields/deleteValues": True,
    "POST /v1/customFields/removeKey": True,
    "POST /v1/contract-pricing/products/create": True,
    "POST /v1/contract-pricing/products/get": True,
    "POST /v1/contract-pricing/products/list": True,
    "POST /v1/contract-pricing/products/update": True,
    "POST /v1/contract-pricing/products/archive": True,
    "POST /v1/contract-pricing/rate-cards/create": True,
    "POST /v1/contract-pricing/rate-cards/get": True,
    "POST /v1/contract-pricing/rate-cards/list": True,
    "POST /v1/contract-pricing/rate-cards/update": True,
    "POST /v1/contract-pricing/rate-cards/archive": True,
    "POST /v1/contract-pricing/rate-cards/addRate": True,
    "POST /v1/contract-pricing/rate-cards/addRates": True,
    "POST /v1/contract-pricing/rate-cards/getRates": True,
    "POST /v1/contract-pricing/rate-cards/getRateSchedule": True,
    "POST /v1/customers": True,
    "GET /v1/customers": True,
    "GET /v1/customers/{customer_id}": False,
    "POST /v1/customers/archive": True,
    "POST /v1/customers/{customer_id}/setIngestAliases": True,
    "POST /v1/ingest": True,
    "POST /v1/usage": True,
    "POST /v1/usage/groups": True,
    "POST /v1/events/search": True,
    "POST /v1/credit-types/create": True,
    "GET /v1/credit-types/list": True,
    "POST /v1/credit-types/archive": True,
    "POST /v1/alerts/create": True,
    "POST /v1/alerts/archive": True,
    "POST /v1/customer-alerts/get": True,
    "POST /v2/notifications/create": True,
    "POST /v2/notifications/get": True,
    "POST /v2/notifications/edit": True,
    "POST /v2/notifications/archive": True,
    "POST /v2/notifications/offset/list": True,
    "POST /v1/contract-pricing/rate-cards/setRateCardProductsOrder": True,
    "POST /v1/packages/create": True,
    "POST /v1/packages/get": True,
    "POST /v1/packages/list": True,
    "POST /v1/packages/archive": True,
    "POST /v1/packages/listContractsOnPackage": True,
    "POST /v1/contracts/create": True,
}


def _cases() -> list[Any]:
    """Every operation with valid data, and with invalid data where some can be made."""
    cases = []
    for label, breakable in OPERATIONS.items():
        cases.append(pytest.param(label, GenerationMode.POSITIVE, id=f"{label} positive"))
        if breakable:
            cases.append(pytest.param(label, GenerationMode.NEGATIVE, id=f"{label} negative"))
    return cases


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[LocalServer]:
    with LocalServer() as server:
        yield server


@pytest.fixture(scope="module")
def served_schema(fuzz_server: LocalServer) -> Any:
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")
    schema.config.update(base_url=fuzz_server.url, headers=fuzz_server.headers)
    schema.config.checks.update(included_check_names=[check.__name__ for check in CHECKS])
    return schema


@pytest.fixture(scope="module")
def document(fuzz_server: LocalServer) -> dict[str, Any]:
    """The OpenAPI document as the running server serves it."""
    response = requests.get(f"{fuzz_server.url}/openapi.json", timeout=10)
    assert response.status_code == 200, response.text
    served: dict[str, Any] = response.json()
    return served


def test_the_document_lists_exactly_metronomes_operations(document: dict[str, Any]) -> None:
    served = {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert served == set(OPERATIONS)


@pytest.mark.parametrize(("label", "mode"), _cases())
def test_operation_conforms(
    label: str, mode: GenerationMode, served_schema: Any, fuzz_server: LocalServer
) -> None:
    operation = served_schema.find_operation_by_label(label)
    assert operation is not None, label

    @given(case=operation.as_strategy(generation_mode=mode))
    @FUZZ
    def run(case: Any) -> None:
        case.call_and_validate(headers=fuzz_server.headers, checks=CHECKS)

    run()


def test_stateful_sequences_conform(served_schema: Any, fuzz_server: LocalServer) -> None:
    log: list[dict[str, Any]] = []

    class FromEmpty(served_schema.as_state_machine()):
        """Each scenario starts from an empty server. Hypothesis replays scenarios and
        expects the same answers; with data left by earlier ones it saw others and failed
        with FlakyStrategyDefinition (2 runs in 8 of this test, on this and older code)."""

        def setup(self) -> None:
            log.extend(fuzz_server.requests())
            fuzz_server.reset()

    fuzz_server.clear_requests()
    run_state_machine_as_test(
        FromEmpty,
        # Derandomized: the link-following check below is about this run's sequences, and
        # with a random seed one of four full runs on 2026-12-06 followed only two links
        # (once the pricing unit, alert, notification and package operations were added).
        settings=settings(FUZZ, max_examples=150, stateful_step_count=8, derandomize=True),
    )
    # The links were followed: ids from create reached get, rename and archive.
    log.extend(fuzz_server.requests())
    # Operations that answer 200 only for an id that exists; with 33 operations a run
    # does not follow every link every time (each link is followed by hand in
    # test_links_of_created_objects_work), but it follows several.
    by_id = {
        "/v1/billable-metrics/archive",
        "/v1/contract-pricing/products/get",
        "/v1/contract-pricing/products/update",
        "/v1/contract-pricing/products/archive",
        "/v1/contract-pricing/rate-cards/get",
        "/v1/contract-pricing/rate-cards/update",
        "/v1/contract-pricing/rate-cards/archive",
        "/v1/contract-pricing/rate-cards/getRateSchedule",
    }
    by_id.add("/v1/customers/archive")

    def template(path: str) -> str:
        """``/v1/customers/abc/setIngestAliases`` -> ``/v1/customers/{id}/setIngestAliases``."""
        parts = path.split("/")
        return "/".join([*parts[:3], "{id}", *parts[4:]]) if len(parts) > 3 else path

    followed = {
        f"{e['method']} {e['path'] if e['path'] in by_id else template(e['path'])}"
        for e in log
        if e["status"] == 200
        and (
            e["path"] in by_id
            or (e["path"].count("/") == 3 and e["method"] in ("GET", "PUT"))
            or e["path"].endswith("/setIngestAliases")
        )
    }
    assert len(followed) >= 3, followed


@pytest.mark.parametrize(
    ("path", "example"),
    [
        ("/v1/contract-pricing/products/create", "fixed"),
        ("/v1/contract-pricing/rate-cards/create", "plain"),
    ],
)
def test_links_of_created_objects_work(
    api: Any, document: dict[str, Any], path: str, example: str
) -> None:
    """Every link from a created product or rate card leads to a 200 (the stateful run
    rarely creates a valid product by chance, so the links are followed here by hand)."""
    create = document["paths"][path]["post"]
    body = create["requestBody"]["content"]["application/json"]["examples"][example]["value"]
    created = api.post(path, json=body)
    assert created.status_code == 200, created.text
    new_id = created.json()["data"]["id"]
    by_id = {
        o["operationId"]: (p, m) for p, ops in document["paths"].items() for m, o in ops.items()
    }
    links = create["responses"]["200"]["links"]
    assert len(links) >= 3
    for name, link in sorted(links.items(), key=lambda item: "Archive" in item[0]):
        target, method = by_id[link["operationId"]]
        filled = {
            k: new_id if v == "$response.body#/data/id" else v
            for k, v in link["requestBody"].items()
        }
        response = api.request(method.upper(), target, json=filled)
        assert response.status_code == 200, (name, response.text)


def test_the_checks_catch_a_wrong_answer(served_schema: Any, fuzz_server: LocalServer) -> None:
    """The harness is not a no-op: a made-up answer that breaks the document fails."""
    operation = served_schema.find_operation_by_label("GET /v1/billable-metrics")
    case = operation.Case(query={"limit": 1})
    real = case.call(headers=fuzz_server.headers)
    case.validate_response(real, checks=CHECKS, headers=fuzz_server.headers)
    for status, body in [(200, {"data": 5}), (422, {"detail": []}), (400, {"error": "x"})]:
        fake = schemathesis.Response(
            status_code=status,
            headers={"content-type": ["application/json"]},
            content=json.dumps(body).encode(),
            request=real.request,
            elapsed=0.0,
            verify=False,
        )
        with pytest.raises(FailureGroup):
            case.validate_response(fake, checks=CHECKS, headers=fuzz_server.headers)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/billable-metrics/create",
        "/v1/contract-pricing/products/create",
        "/v1/contract-pricing/rate-cards/create",
    ],
)
def test_documented_examples_are_accepted(api: Any, document: dict[str, Any], path: str) -> None:
    create = document["paths"][path]["post"]
    examples = create["requestBody"]["content"]["application/json"]["examples"]
    assert examples
    for name, example in examples.items():
        response = api.post(path, json=example["value"])
        assert response.status_code == 200, (name, response.text)


def test_document_shape(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    # Request bodies are the shared models' schemas.
    create = document["paths"]["/v1/billable-metrics/create"]["post"]
    body_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body_ref == "#/components/schemas/BillableMetricSpec"
    assert schemas["BillableMetricSpec"]["additionalProperties"] is False
    assert set(schemas["BillableMetricSpec"]["required"]) == {"name"}
    assert "archived_at" in schemas["BillableMetric"]["properties"]
    assert schemas["ErrorBody"]["required"] == ["message"]
    # No FastAPI 422s: bad requests are 400 with the error shape.
    assert "HTTPValidationError" not in schemas
    operations = [
        (f"{method.upper()} {path}", operation)
        for path, by_method in document["paths"].items()
        for method, operation in by_method.items()
    ]
    for label, operation in operations:
        assert "422" not in operation["responses"], label
        for status in ("400", "401"):
            if status in operation["responses"]:
                content = operation["responses"][status]["content"]["application/json"]
                assert content["schema"]["$ref"] == "#/components/schemas/ErrorBody"
        assert "401" in operation["responses"], label
    # Bearer auth, and the admin routes are not part of the API.
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert document["security"] == [{"bearerAuth": []}]
    assert all(path.startswith(("/v1/", "/v2/")) for path in document["paths"])
    # Products, rate cards and rates: the shared models are the request bodies.
    for path, model in [
        ("/v1/contract-pricing/products/create", "ProductSpec"),
        ("/v1/contract-pricing/products/update", "ProductUpdate"),
        ("/v1/contract-pricing/rate-cards/create", "RateCardSpec"),
        ("/v1/contract-pricing/rate-cards/update", "RateCardUpdate"),
        ("/v1/contract-pricing/rate-cards/addRate", "AddRateBody"),
        ("/v1/contract-pricing/rate-cards/getRates", "GetRatesBody"),
    ]:
        body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        assert body["schema"]["$ref"] == f"#/components/schemas/{model}", path
        assert schemas[model]["additionalProperties"] is False
    assert set(schemas["ProductSpec"]["required"]) == {"name", "type"}
    assert set(schemas["ProductUpdate"]["required"]) == {"product_id", "starting_at"}
    assert set(schemas["AddRateBody"]["required"]) == {
        "rate_card_id",
        "product_id",
        "entitled",
        "rate_type",
        "starting_at",
    }
