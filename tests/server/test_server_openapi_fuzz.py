"""Schemathesis fuzzes the running server from its own ``/openapi.json``.

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

from metronome_local.app import create_app
from metronome_local.process import LocalServer

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
#: The document as the code builds it; the test below checks the server serves the same.
DOCUMENT = create_app().openapi()
OPERATIONS = {
    f"{method.upper()} {path}": operation
    for path, operations in DOCUMENT["paths"].items()
    for method, operation in operations.items()
}


def _cases() -> list[Any]:
    """Every operation with valid data, and with invalid data where some can be made (a
    lone string path parameter, for one, cannot be invalid)."""
    cases = []
    for label, operation in OPERATIONS.items():
        cases.append(pytest.param(label, GenerationMode.POSITIVE, id=f"{label} positive"))
        in_query = any(p["in"] == "query" for p in operation.get("parameters", []))
        if "requestBody" in operation or in_query:
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


def test_the_served_document_is_the_built_one(fuzz_server: LocalServer) -> None:
    served = requests.get(f"{fuzz_server.url}/openapi.json", timeout=10).json()
    assert served == json.loads(json.dumps(DOCUMENT))


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
    machine = served_schema.as_state_machine()
    fuzz_server.clear_requests()
    run_state_machine_as_test(
        machine,
        settings=settings(FUZZ, max_examples=60, stateful_step_count=8),
    )
    # The links were followed: ids from create reached get, rename and archive.
    log = fuzz_server.requests()
    ok = {(e["method"], e["path"].count("/")) for e in log if e["status"] == 200}
    assert ("GET", 3) in ok  # GET /v1/billable-metrics/{id}
    assert ("PUT", 3) in ok
    # And from create customer to get it.
    assert any(
        e["method"] == "GET" and e["path"].startswith("/v1/customers/") and e["status"] == 200
        for e in log
    )


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


def test_documented_examples_are_accepted(api: Any) -> None:
    create = DOCUMENT["paths"]["/v1/billable-metrics/create"]["post"]
    examples = create["requestBody"]["content"]["application/json"]["examples"]
    assert examples
    for name, example in examples.items():
        response = api.post("/v1/billable-metrics/create", json=example["value"])
        assert response.status_code == 200, (name, response.text)


def test_document_shape() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    # Request bodies are the shared models' schemas.
    create = DOCUMENT["paths"]["/v1/billable-metrics/create"]["post"]
    body_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body_ref == "#/components/schemas/BillableMetricSpec"
    assert schemas["BillableMetricSpec"]["additionalProperties"] is False
    assert set(schemas["BillableMetricSpec"]["required"]) == {"name"}
    assert "archived_at" in schemas["BillableMetric"]["properties"]
    assert schemas["ErrorBody"]["required"] == ["message"]
    # No FastAPI 422s: bad requests are 400 with the error shape.
    assert "HTTPValidationError" not in schemas
    for label, operation in OPERATIONS.items():
        assert "422" not in operation["responses"], label
        for status in ("400", "401"):
            if status in operation["responses"]:
                content = operation["responses"][status]["content"]["application/json"]
                assert content["schema"]["$ref"] == "#/components/schemas/ErrorBody"
        assert "401" in operation["responses"], label
    # Bearer auth, and the admin routes are not part of the API.
    assert DOCUMENT["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert DOCUMENT["security"] == [{"bearerAuth": []}]
    assert all(path.startswith("/v1/") for path in DOCUMENT["paths"])
    assert len(OPERATIONS) == 19
