"""The ``metronome-local`` command and the ``LocalServer`` launcher."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from metronome_local.process import LocalServer, LocalServerError


def launch(*args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "metronome_local", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_prints_one_line_serves_and_stops_cleanly(sig: signal.Signals, tmp_path: Path) -> None:
    process, line = launch("--db", str(tmp_path / "cli.db"), "--token", "t1", "--token", "t2")
    try:
        match = re.fullmatch(r"metronome-local listening on (http://127\.0\.0\.1:(\d+))\n", line)
        assert match, line
        url = match.group(1)
        assert int(match.group(2)) > 0
        for token in ("t1", "t2"):
            response = requests.get(
                f"{url}/v1/billable-metrics", headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 200
    finally:
        process.send_signal(sig)
        stdout, stderr = process.communicate(timeout=15)
    assert process.returncode == 0, stderr
    assert stdout == ""  # exactly one line, and no access log by default
    assert "Traceback" not in stderr


def test_default_token(tmp_path: Path) -> None:
    process, line = launch()
    try:
        url = line.rsplit(" ", 1)[1].strip()
        headers = {"Authorization": "Bearer local-dev-token"}
        assert requests.get(f"{url}/v1/billable-metrics", headers=headers).status_code == 200
    finally:
        process.terminate()
        process.communicate(timeout=15)


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--error-rate", "1.5"], "error_rate: must be between 0 and 1"),
        (["--error-rate", "0.7", "--drop-rate", "0.7"], "error_rate + drop_rate"),
        (["--port", "notaport"], "--port"),
        (["--token", ""], "tokens"),
    ],
)
def test_bad_options_are_reported(args: list[str], complaint: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "metronome_local", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert complaint in result.stderr


def test_a_port_already_taken_is_one_line_naming_it() -> None:
    """Another process holds the port: status 1 and one line naming the port and what to do,
    not a traceback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "metronome_local", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"--port {port}" in lines[0]
    assert "Address already in use" in lines[0]
    assert "--port 0" in lines[0]


def test_local_server_lifecycle(tmp_path: Path) -> None:
    server = LocalServer(db=tmp_path / "life.db", tokens=["abc"])
    with pytest.raises(LocalServerError, match="not running"):
        server.url  # noqa: B018
    with server:
        assert server.running
        assert server.token == "abc"
        assert server.headers == {"Authorization": "Bearer abc"}
        assert server.url.startswith("http://127.0.0.1:")
        assert "--db" in server.command()
        pid = server.pid
        assert pid is not None
        first_url = server.url
        server.restart()
        assert server.running
        assert server.pid != pid
        assert requests.get(f"{server.url}/_local/health").json() == {"status": "ok"}
        assert first_url.startswith("http://")
    assert not server.running
    with pytest.raises(OSError):
        os.kill(pid, 0)  # the first process is gone too
    server.stop()  # stopping twice is harmless


def test_a_server_that_cannot_start_reports_its_stderr(tmp_path: Path) -> None:
    # A start timeout no busy machine reaches: the failure must come from seeing the process
    # exit (the message says so), not from waiting out the timeout ("did not listen").
    server = LocalServer(db=tmp_path / "missing-dir" / "x.db", startup_timeout=120)
    with pytest.raises(LocalServerError) as raised:
        server.start()
    message = str(raised.value)
    assert message.startswith("metronome-local exited with status "), message
    assert "did not listen" not in message
    assert "unable to open database file" in message
    assert not server.running


def test_set_faults_carries_over_a_restart(tmp_path: Path, api_for: Any) -> None:
    with LocalServer(db=tmp_path / "f.db") as server:
        server.set_faults(latency_ms=5, retry_after_ms=250)
        server.restart()
        assert server.faults()["latency_ms"] == 5
        assert server.faults()["retry_after_ms"] == 250
