"""Fixtures for the plugin tests: one local Metronome server per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from metronome_local.process import LocalServer


@pytest.fixture(scope="module")
def metronome() -> Iterator[LocalServer]:
    with LocalServer() as server:
        yield server


@pytest.fixture
def server(metronome: LocalServer) -> LocalServer:
    metronome.clear_requests()
    return metronome
