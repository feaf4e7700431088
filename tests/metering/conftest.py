"""Fixtures for the in-process metering tests: a real ``MeteringEngine`` (DuckDB in memory)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from metering_harness import Harness

from pulumi_metronome.metering import MeteringEngine


@pytest.fixture
def engine() -> Iterator[MeteringEngine]:
    e = MeteringEngine(None)
    yield e
    e.close()


@pytest.fixture
def h(engine: MeteringEngine) -> Harness:
    return Harness(engine)
