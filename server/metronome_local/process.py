"""``LocalServer``: run metronome-local in a subprocess, for tests, demos and benchmarks.

    with LocalServer() as server:                        # in memory, a free port
        requests.get(f"{server.url}/v1/billable-metrics", headers=server.headers)

    with LocalServer(db=tmp_path / "m.db", error_rate=0.2, seed=1) as server:
        ...
        server.set_faults(error_rate=0)                  # change faults while it runs
        server.restart()                                 # same db file, new port
        server.requests()                                # what the server was asked
        server.reset()                                   # no data, faults as started

The server is started as ``sys.executable -m metronome_local --port 0 ...``; ``start``
waits for its "listening on" line and raises ``LocalServerError`` (with the server's
stderr) if it does not come. Only a file database survives ``restart``.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import requests

from .settings import DEFAULT_TOKEN, LISTENING, MEMORY_DB


class LocalServerError(RuntimeError):
    """The server did not start (the message includes its stderr)."""


def _source_paths() -> list[str]:
    """Where this package and the shared models live, so the child imports the same code."""
    paths = [str(Path(__file__).resolve().parents[1])]
    spec = importlib.util.find_spec("pulumi_metronome")
    if spec is not None and spec.origin:
        paths.append(str(Path(spec.origin).resolve().parents[1]))
    return paths


class LocalServer:
    """A metronome-local server process.

    Args:
        db: SQLite file (``str`` or path), or ``":memory:"`` (default; lost on stop).
        tokens: accepted bearer tokens; ``token`` is the first.
        latency_ms, error_rate, drop_rate, retry_after_ms, seed: fault injection, as the
            CLI options of the same names (see ``metronome_local.faults``).
        host, port: where to listen; port 0 (default) picks a free one at each start.
        access_log: let the server log every request to its stderr.
        event_age_limit: ``False`` lets the server accept events of any age (history).
        startup_timeout: seconds to wait for the server to listen.
        env: extra environment variables for the server process.
    """

    def __init__(
        self,
        *,
        db: str | os.PathLike[str] = MEMORY_DB,
        tokens: Sequence[str] = (DEFAULT_TOKEN,),
        latency_ms: float = 0.0,
        error_rate: float = 0.0,
        drop_rate: float = 0.0,
        retry_after_ms: int = 1000,
        seed: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        access_log: bool = False,
        event_age_limit: bool = True,
        startup_timeout: float = 30.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if not tokens:
            raise ValueError("tokens: at least one token is required")
        self.db = str(db)
        self.tokens = tuple(tokens)
        self.host = host
        self.port = port
        self.access_log = access_log
        self.event_age_limit = event_age_limit
        self.startup_timeout = startup_timeout
        self.env = dict(env or {})
        self._faults: dict[str, Any] = {
            "latency_ms": latency_ms,
            "error_rate": error_rate,
            "drop_rate": drop_rate,
            "retry_after_ms": retry_after_ms,
        }
        self.seed = seed
        self._process: subprocess.Popen[str] | None = None
        self._stderr: IO[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._url: str | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def command(self) -> list[str]:
        """The command line that starts the server."""
        cmd = [sys.executable, "-m", "metronome_local", "--host", self.host]
        cmd += ["--port", str(self.port), "--db", self.db]
        for token in self.tokens:
            cmd += ["--token", token]
        for name, value in self._faults.items():
            cmd += [f"--{name.replace('_', '-')}", str(value)]
        if self.seed is not None:
            cmd += ["--seed", str(self.seed)]
        if self.access_log:
            cmd.append("--access-log")
        if not self.event_age_limit:
            cmd.append("--no-event-age-limit")
        return cmd

    def start(self) -> LocalServer:
        """Start the server and wait until it listens; returns ``self``."""
        if self.running:
            raise LocalServerError("the server is already running")
        env = {**os.environ, **self.env}
        env["PYTHONPATH"] = os.pathsep.join(
            [*_source_paths(), *filter(None, [env.get("PYTHONPATH")])]
        )
        env["PYTHONUNBUFFERED"] = "1"
        if self._stderr is not None:
            self._stderr.close()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server
        self._process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        stdout = self._process.stdout
        assert stdout is not None

        def read() -> None:  # keeps draining stdout so the server never blocks on it
            for line in stdout:
                lines.put(line)

        self._reader = threading.Thread(target=read, name="metronome-local-stdout", daemon=True)
        self._reader.start()
        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                line = lines.get(timeout=0.05)
            except queue.Empty:
                if self._process.poll() is not None:
                    self._fail(f"exited with status {self._process.returncode}")
                if time.monotonic() > deadline:
                    self._fail(f"did not listen within {self.startup_timeout:g} s")
                continue
            if line.startswith(LISTENING):
                self._url = line[len(LISTENING) :].strip()
                atexit.register(self.stop)  # never leave a server behind
                return self

    def _fail(self, why: str) -> None:
        stderr = self.stderr()
        self._terminate()
        raise LocalServerError(
            f"metronome-local {why}.\ncommand: {' '.join(self.command())}\nstderr:\n{stderr}"
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout``); safe to call twice."""
        self._terminate(timeout)

    def _terminate(self, timeout: float = 10.0) -> None:
        process, self._process, self._url = self._process, None, None
        atexit.unregister(self.stop)
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if self._reader is not None:
            self._reader.join(timeout=1)
            self._reader = None

    def restart(self) -> LocalServer:
        """Stop and start again with the same database (and current fault settings)."""
        self.stop()
        return self.start()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    # --- facts ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (changes at each start with port 0)."""
        if self._url is None:
            raise LocalServerError("the server is not running")
        return self._url

    @property
    def token(self) -> str:
        return self.tokens[0]

    @property
    def headers(self) -> dict[str, str]:
        """``Authorization`` header with ``token``."""
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def stderr(self) -> str:
        """What the server wrote to stderr so far (its log)."""
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    # --- the /_local admin API -------------------------------------------------------------

    def reset(self) -> None:
        """Make the running server as new: no data, empty request log, and the fault
        settings it was started with."""
        faults = self._admin("POST", "/reset")["faults"]
        self._faults.update({k: faults[k] for k in self._faults})

    def requests(self) -> list[dict[str, Any]]:
        """The ``/v1`` requests served since the last clear: ``{"method", "path", "status"}``
        plus ``"injected"``, ``"dropped"`` or ``"replayed"`` when true and ``"latency_ms"``
        when fault injection delayed the request, oldest first."""
        entries: list[dict[str, Any]] = self._admin("GET", "/requests")["data"]
        return entries

    def clear_requests(self) -> None:
        self._admin("DELETE", "/requests")

    def faults(self) -> dict[str, Any]:
        """The current fault settings."""
        settings: dict[str, Any] = self._admin("GET", "/faults")
        return settings

    def set_faults(
        self,
        *,
        latency_ms: float | None = None,
        error_rate: float | None = None,
        drop_rate: float | None = None,
        retry_after_ms: int | None = None,
        seed: int | None = None,
    ) -> dict[str, Any]:
        """Change the given fault settings now (and on restart); returns all settings."""
        changes = {
            "latency_ms": latency_ms,
            "error_rate": error_rate,
            "drop_rate": drop_rate,
            "retry_after_ms": retry_after_ms,
            "seed": seed,
        }
        changes = {k: v for k, v in changes.items() if v is not None}
        settings: dict[str, Any] = self._admin("PUT", "/faults", json=changes)
        self._faults.update({k: settings[k] for k in self._faults})
        if seed is not None:
            self.seed = seed
        return settings

    def _admin(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = requests.request(method, f"{self.url}/_local{path}", timeout=10, **kwargs)
        if response.status_code != 200:
            raise LocalServerError(
                f"{method} /_local{path}: {response.status_code} {response.text}"
            )
        body = response.json()
        if not isinstance(body, dict):
            raise LocalServerError(f"{method} /_local{path}: not a JSON object: {response.text}")
        return body

    def __repr__(self) -> str:
        where = self._url or "stopped"
        return f"LocalServer({where}, db={self.db!r})"
