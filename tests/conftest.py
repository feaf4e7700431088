"""Shared fixtures: local Metronome servers on loopback, and HTTP clients for them.

- ``local_server``: one in-memory server for the whole session (state is shared between
  tests, so use unique names and do not assume an empty server).
- ``fresh_server``: an in-memory server reset to empty (no data, no faults, empty request
  log) for the test that asks for it; it may change faults with ``set_faults``.
- ``local_server_factory``: start new servers (a SQLite file under ``tmp_path`` unless
  told otherwise) for tests that need their own process: options, tokens, a restart.
- ``api``: an authorized ``ApiClient`` for ``local_server``; ``api_for(server)`` makes one
  for another server.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from metronome_local.process import LocalServer


class ApiClient:
    """``requests`` with the server's base URL and bearer token, and a few shortcuts."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url
        self.session = requests.Session()
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, f"{self.url}{path}", **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def create_metric(self, **fields: Any) -> str:
        """Create a metric (default: a COUNT with a unique name); returns its id."""
        body = {"name": unique_name(), **fields}
        if body.get("sql") is None:
            body.setdefault("aggregation_type", "COUNT")
        response = self.post("/v1/billable-metrics/create", json=body)
        assert response.status_code == 200, response.text
        return response.json()["data"]["id"]

    def metric(self, metric_id: str) -> dict[str, Any]:
        response = self.get(f"/v1/billable-metrics/{metric_id}")
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def list_all(self, path: str = "/v1/billable-metrics", **params: Any) -> list[dict]:
        """Every item of a GET listing, following ``next_page``."""
        items: list[dict] = []
        while True:
            response = self.get(path, params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            items += page["data"]
            if not page["next_page"]:
                return items
            params["next_page"] = page["next_page"]

    def add_key(self, key: str, entity: str = "billable_metric", unique: bool = False) -> None:
        body = {"entity": entity, "key": key, "enforce_uniqueness": unique}
        response = self.post("/v1/customFields/addKey", json=body)
        assert response.status_code == 200, response.text

    def close(self) -> None:
        self.session.close()


def unique_name(prefix: str = "metric") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def local_server() -> Iterator[LocalServer]:
    """One in-memory server for the session, shared by every test that asks for it."""
    with LocalServer() as server:
        yield server


@pytest.fixture(scope="session")
def _scratch_server() -> Iterator[LocalServer]:
    with LocalServer() as server:
        yield server


@pytest.fixture
def fresh_server(_scratch_server: LocalServer) -> LocalServer:
    """An in-memory server as new: no data, empty request log, no faults. (One process
    reset before each test that asks for it: much faster than starting a new one.)"""
    _scratch_server.reset()
    return _scratch_server


@pytest.fixture
def api_for() -> Iterator[Callable[..., ApiClient]]:
    """``api_for(server, token=None, auth=True)``: an ``ApiClient`` sending ``token``
    (default: the server's first token), or no ``Authorization`` at all with ``auth=False``."""
    clients: list[ApiClient] = []

    def make(server: LocalServer, token: str | None = None, *, auth: bool = True) -> ApiClient:
        client = ApiClient(server.url, (token or server.token) if auth else None)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def api(local_server: LocalServer, api_for: Callable[..., ApiClient]) -> ApiClient:
    """An authorized client of the session server."""
    return api_for(local_server)


@pytest.fixture
def local_server_factory(tmp_path: Path) -> Iterator[Callable[..., LocalServer]]:
    """``local_server_factory(**LocalServer options)``: a started server, stopped after
    the test. Unless ``db`` is given, each gets its own SQLite file under ``tmp_path``."""
    servers: list[LocalServer] = []

    def make(**options: Any) -> LocalServer:
        options.setdefault("db", tmp_path / f"metronome-{len(servers)}.db")
        server = LocalServer(**options)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.__exit__(None, None, None)


@pytest.fixture(scope="session")
def python_sdk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for PYTHONPATH with the checked-in generated Python SDK (``sdk/python``)
    installed in it: what code generated by ``pulumi import`` imports."""
    work = tmp_path_factory.mktemp("sdk")
    site = work / "site"
    # Built from a copy: pip leaves build/ and *.egg-info beside the sources it builds, and the
    # committed sdk/ must stay exactly what the generator writes.
    source = shutil.copytree(
        Path(__file__).resolve().parents[1] / "sdk" / "python", work / "source"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--target",
            str(site),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return site
