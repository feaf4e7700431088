"""Fixtures of the onboarding tests: a fresh local server per test, the generated SDK."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from metronome_local.process import LocalServer

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as server:
        yield server
