"""Real ``pulumi`` CLI runs against a throwaway project, for end-to-end tests and benchmarks.

Imported by ``tests/e2e`` and ``benchmarks/`` (``from pulumi_metronome.testing import
PulumiStack``); it needs a checkout of this repository (the CLI comes from its
``scripts/install-pulumi-cli.sh``), not pytest.

    stack = PulumiStack(tmp_path, base_url=server.url, token=server.token)
    stack.declare(metrics=[metric("tokens", aggregation_type="COUNT")])
    stack.up()
    ids = stack.outputs()["metric_ids"]

What a ``PulumiStack`` sets up in its directory:

- ``Pulumi.yaml`` (``runtime: python``) and ``__main__.py``: a generic program that reads
  ``declaration.json`` next to it and declares one ``CustomFieldKey`` per entry of ``keys``
  and one ``BillableMetric`` per entry of ``metrics`` (metrics ``depends_on`` every key), and
  exports ``metric_ids`` and ``key_ids`` (resource name -> id). ``declare`` rewrites the
  JSON, so a test changes the declaration between runs without touching the program.
- ``state/`` (the file backend, ``PULUMI_BACKEND_URL``) and ``home/`` (``PULUMI_HOME``).
- a stack (default ``e2e``) whose config carries the credentials: ``metronome:baseUrl`` and
  the secret ``metronome:bearerToken``. No ``METRONOME_*`` variable reaches the CLI, the
  program or the provider, so the tests prove that stack config alone is enough.

The CLI comes from ``scripts/install-pulumi-cli.sh`` (a cached build takes well under a
second), whatever PATH pytest was started with; if that script fails, so does the test, with
its output. The running interpreter's virtualenv comes first on PATH, because the Pulumi
language host runs the program and the dynamic provider with the ``python3`` it finds there.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_CLI = REPO_ROOT / "scripts" / "install-pulumi-cli.sh"
DECLARATION = "declaration.json"
DEFAULT_STACK = "e2e"
PASSPHRASE = "e2e-passphrase"
#: Seconds any one CLI command may take before the test fails.
COMMAND_TIMEOUT = 600.0

PULUMI_YAML = """\
name: {project}
description: Throwaway project of the pulumi-metronome end-to-end tests.
runtime:
  name: python
"""

PROGRAM = '''\
"""Declares what declaration.json (written by the test) lists."""

import json
import pathlib

import pulumi

from pulumi_metronome import BillableMetric, CustomFieldKey

declaration = json.loads((pathlib.Path(__file__).parent / "declaration.json").read_text())

keys = {
    item["resource"]: CustomFieldKey(item["resource"], **item.get("args", {}))
    for item in declaration.get("keys", [])
}
opts = pulumi.ResourceOptions(depends_on=list(keys.values())) if keys else None
metrics = {
    item["resource"]: BillableMetric(item["resource"], opts=opts, **item.get("args", {}))
    for item in declaration.get("metrics", [])
}

pulumi.export("metric_ids", {name: metric.id for name, metric in metrics.items()})
pulumi.export("key_ids", {name: key.id for name, key in keys.items()})
'''


class PulumiCommandError(AssertionError):
    """A ``pulumi`` command ended otherwise than the test expected (message: its output)."""


def metric(resource: str, **args: Any) -> dict[str, Any]:
    """One entry of ``metrics``: the resource name and the ``BillableMetric`` arguments."""
    return {"resource": resource, "args": args}


def key(resource: str, **args: Any) -> dict[str, Any]:
    """One entry of ``keys``: the resource name and the ``CustomFieldKey`` arguments."""
    return {"resource": resource, "args": args}


@functools.cache
def pulumi_bin_dir() -> Path:
    """The directory with ``pulumi`` and its Python plugins (built or cached by the script)."""
    try:
        done = subprocess.run(
            [str(INSTALL_CLI)],
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise RuntimeError(f"{INSTALL_CLI} could not be run: {error}") from error
    lines = done.stdout.strip().splitlines()
    where = Path(lines[-1]) if lines else None
    if done.returncode != 0 or where is None or not (where / "pulumi").is_file():
        raise RuntimeError(
            f"{INSTALL_CLI} did not provide the Pulumi CLI (exit status {done.returncode}).\n"
            f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        )
    return where


def python_bin_dir() -> Path:
    """The bin directory of the virtualenv running these tests (it has pulumi_metronome),
    else the project's ``.venv``."""
    if sys.prefix != sys.base_prefix:
        return Path(sys.prefix) / "bin"
    return REPO_ROOT / ".venv" / "bin"


def pulumi_env(state_dir: Path, home_dir: Path, *, passphrase: str = PASSPHRASE) -> dict[str, str]:
    """os.environ without any ``PULUMI_*`` or ``METRONOME_*`` variable, plus what an offline
    run on a file backend needs."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PULUMI_", "METRONOME_")) and k != "VIRTUAL_ENV"
    }
    venv_bin = python_bin_dir()
    env["PATH"] = os.pathsep.join([str(venv_bin), str(pulumi_bin_dir()), env.get("PATH", "")])
    env["VIRTUAL_ENV"] = str(venv_bin.parent)
    env["PULUMI_BACKEND_URL"] = state_dir.resolve().as_uri()
    env["PULUMI_HOME"] = str(home_dir.resolve())
    env["PULUMI_CONFIG_PASSPHRASE"] = passphrase
    env["PULUMI_SKIP_UPDATE_CHECK"] = "true"
    env["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] = "true"
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass(frozen=True)
class Result:
    """One finished ``pulumi`` command."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def describe(self) -> str:
        return (
            f"`pulumi {shlex.join(self.args)}` exited with status {self.returncode} "
            f"after {self.seconds:.1f} s\n--- stdout ---\n{self.stdout}\n--- stderr ---\n"
            f"{self.stderr}"
        )


class PulumiStack:
    """A temp Pulumi project with one stack, configured for ``base_url`` and ``token``.

    ``program`` replaces the generic program (``__main__.py``); ``files`` are written next
    to it (name -> text).
    """

    def __init__(
        self,
        workdir: Path,
        *,
        base_url: str,
        token: str,
        stack: str = DEFAULT_STACK,
        project: str = "metronome-e2e",
        program: str = PROGRAM,
        files: Mapping[str, str] | None = None,
    ) -> None:
        self.dir = Path(workdir)
        self.stack = stack
        self.project = project
        self.state_dir = self.dir / "state"
        self.home_dir = self.dir / "home"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.home_dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "Pulumi.yaml").write_text(PULUMI_YAML.format(project=project))
        (self.dir / "__main__.py").write_text(program)
        for name, text in (files or {}).items():
            (self.dir / name).write_text(text)
        if not (self.dir / DECLARATION).exists():
            self.declare()
        self.env = pulumi_env(self.state_dir, self.home_dir)
        self.results: list[Result] = []  # every command run, oldest first
        self.run("stack", "init", stack)
        self.set_config(base_url=base_url, token=token)

    # --- declaration and config -----------------------------------------------------------

    def declare(
        self,
        metrics: Sequence[Mapping[str, Any]] = (),
        keys: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """Write the declaration the program reads (see ``metric`` and ``key``)."""
        text = json.dumps({"metrics": list(metrics), "keys": list(keys)}, indent=2)
        (self.dir / DECLARATION).write_text(text)

    def set_config(self, *, base_url: str | None = None, token: str | None = None) -> None:
        if base_url is not None:
            self.run("config", "set", "metronome:baseUrl", base_url)
        if token is not None:
            # From stdin, so that the token is not on a command line either.
            self.run("config", "set", "--secret", "metronome:bearerToken", stdin=token)

    # --- commands -----------------------------------------------------------------------

    def run(
        self, *args: str, check: bool = True, stdin: str | None = None, timeout: float = 0
    ) -> Result:
        """``pulumi <args> --stack <stack>`` in the project; ``check``: fail unless status 0."""
        full = (*args, "--stack", self.stack, "--non-interactive")
        if args[:2] == ("stack", "init"):
            full = (*args, "--non-interactive")
        start = time.monotonic()
        try:
            done = subprocess.run(
                ["pulumi", *full],
                cwd=self.dir,
                env=self.env,
                input=stdin,
                capture_output=True,
                text=True,
                timeout=timeout or COMMAND_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise PulumiCommandError(
                f"`pulumi {shlex.join(full)}` did not finish within {error.timeout:g} s\n"
                f"--- stdout ---\n{_text(error.stdout)}\n--- stderr ---\n{_text(error.stderr)}"
            ) from None
        result = Result(full, done.returncode, done.stdout, done.stderr, time.monotonic() - start)
        self.results.append(result)
        if check and not result.ok:
            raise PulumiCommandError(result.describe())
        return result

    def up(self, *extra: str, check: bool = True) -> Result:
        """``pulumi up --yes --skip-preview`` (plus ``extra``)."""
        return self.run("up", "--yes", "--skip-preview", *extra, check=check)

    def preview(self, *extra: str, expect_failure: bool = False) -> Result:
        """``pulumi preview --diff``; with ``expect_failure`` it must fail (and is returned)."""
        result = self.run("preview", "--diff", *extra, check=not expect_failure)
        if expect_failure and result.ok:
            raise PulumiCommandError(
                "expected the preview to fail, but it passed:\n" + (result.describe())
            )
        return result

    def preview_json(self, *extra: str) -> dict[str, Any]:
        """``pulumi preview --json``: ``steps`` (``op``, ``urn``, ...) and ``changeSummary``."""
        result = self.run("preview", "--json", *extra)
        found: dict[str, Any] = _json(result)
        return found

    def refresh(self, *extra: str, check: bool = True) -> Result:
        """``pulumi refresh --yes --skip-preview``."""
        return self.run("refresh", "--yes", "--skip-preview", *extra, check=check)

    def destroy(self, *extra: str, check: bool = True) -> Result:
        """``pulumi destroy --yes --skip-preview``."""
        return self.run("destroy", "--yes", "--skip-preview", *extra, check=check)

    # --- what the stack holds -----------------------------------------------------------

    def outputs(self) -> dict[str, Any]:
        """``pulumi stack output --json`` (secrets stay masked)."""
        found: dict[str, Any] = _json(self.run("stack", "output", "--json"))
        return found

    def metric_ids(self) -> dict[str, str]:
        return self.outputs().get("metric_ids") or {}

    def export_state(self) -> dict[str, Any]:
        """``pulumi stack export``: the deployment as the CLI exports it (secrets encrypted)."""
        found: dict[str, Any] = _json(self.run("stack", "export"))
        return found

    def resources(self, type_suffix: str = "") -> dict[str, dict[str, Any]]:
        """Resources of the exported state by name (``urn``'s last part), optionally only
        those whose type ends with ``type_suffix`` (e.g. ``:BillableMetric``)."""
        found = {}
        for resource in self.export_state()["deployment"].get("resources") or []:
            if resource["type"].endswith(type_suffix) and "::" in resource["urn"]:
                found[resource["urn"].rsplit("::", 1)[1]] = resource
        return found

    def last_update(self) -> dict[str, Any]:
        """The newest entry of ``pulumi stack history``: ``kind``, ``result`` and
        ``resourceChanges`` (e.g. ``{"same": 3, "update": 1}``)."""
        entries: list[dict[str, Any]] = _json(
            self.run("stack", "history", "--json", "--show-secrets=false")
        )
        if not entries:
            raise PulumiCommandError("the stack has no history")
        return entries[0]

    def state_text(self) -> str:
        """Every file of the backend directory (current state, backups, history), as text:
        what a secret scan must cover."""
        return "\n".join(
            path.read_text(errors="replace")
            for path in sorted(self.state_dir.rglob("*"))
            if path.is_file()
        )

    def stack_config_text(self) -> str:
        """``Pulumi.<stack>.yaml``, where ``pulumi config set`` keeps the stack's config."""
        return (self.dir / f"Pulumi.{self.stack}.yaml").read_text()


def _json(result: Result) -> Any:
    try:
        return json.loads(result.stdout)
    except ValueError as error:
        raise PulumiCommandError(f"not JSON ({error}):\n{result.describe()}") from None


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data
