"""Fixtures for provider tests: configured providers talking to a real local server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from metronome_local.process import LocalServer
from pulumi_metronome.resources import BillableMetricProvider, CustomFieldKeyProvider

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
P = TypeVar("P", BillableMetricProvider, CustomFieldKeyProvider)


@pytest.fixture(scope="module")
def metronome() -> Iterator[LocalServer]:
    """One local server per test module (in memory), its request log cleared per test."""
    with LocalServer() as server:
        yield server


@pytest.fixture
def server(metronome: LocalServer) -> LocalServer:
    metronome.clear_requests()
    return metronome


def configure(provider: P, config: dict[str, str]) -> P:
    """Configure a provider exactly as the engine does, with the stack's namespaced config."""
    provider.configure(ConfigureRequest(Config(raw_config=config, project_name="test")))
    return provider


@pytest.fixture
def stack_config(server: LocalServer) -> dict[str, str]:
    return {"metronome:bearerToken": server.token, "metronome:baseUrl": server.url}


@pytest.fixture
def metrics(stack_config: dict[str, str]) -> BillableMetricProvider:
    return configure(BillableMetricProvider(), stack_config)


@pytest.fixture
def keys(stack_config: dict[str, str]) -> CustomFieldKeyProvider:
    return configure(CustomFieldKeyProvider(), stack_config)


@pytest.fixture
def writes(server: LocalServer) -> Callable[[], list[dict]]:
    """The write calls the server has seen since the test started."""
    return lambda: [r for r in server.requests() if r["method"] in WRITE_METHODS]
