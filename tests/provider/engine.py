"""Drive the real dynamic-provider process exactly as the Pulumi engine does.

The engine starts ``pulumi-resource-pulumi-python``, which runs ``python -u -m pulumi.dynamic``;
that process binds ``127.0.0.1:0``, prints the port on its first stdout line and serves the
``ResourceProvider`` gRPC service. :class:`EngineProcess` does the same without the CLI and
sends the same requests (with ``urn``, ``type`` and ``name``), building property ``Struct``s
with ``pulumi.runtime.rpc.serialize_properties`` so that unknowns (``rpc.UNKNOWN``) and
secrets travel as the engine sends them. Results come back as plain Python values.

    with EngineProcess() as engine:
        engine.configure({"metronome:bearerToken": token, "metronome:baseUrl": url})
        checked = engine.check({}, inputs)
        created = engine.create(checked.inputs)

Errors raised by the provider come back as ``grpc.RpcError`` (code ``UNKNOWN``, with the
provider's traceback as ``details()``), as the engine sees them.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
from google.protobuf import struct_pb2
from pulumi.output import Unknown
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2
from pulumi.runtime.proto.provider_pb2_grpc import ResourceProviderStub

REPO_ROOT = Path(__file__).resolve().parents[2]
METRIC_TYPE = "pulumi-python:dynamic/metronome:BillableMetric"
KEY_TYPE = "pulumi-python:dynamic/metronome:CustomFieldKey"
PROJECT = "pricing"
STACK = "test"
#: Seconds to wait for the process to print its port, and for any one call.
START_TIMEOUT = 30.0
CALL_TIMEOUT = 60.0

T = TypeVar("T")


def urn_of(type_: str, name: str, *, project: str = PROJECT, stack: str = STACK) -> str:
    return f"urn:pulumi:{stack}::{project}::{type_}::{name}"


@dataclass(frozen=True)
class Failure:
    property: str
    reason: str


@dataclass(frozen=True)
class Checked:
    """A ``CheckResponse``: the inputs the engine will store, and the failures it will show."""

    inputs: dict[str, Any]
    failures: list[Failure]


@dataclass(frozen=True)
class Diffed:
    """A ``DiffResponse``; ``changes`` is ``"DIFF_UNKNOWN"``, ``"DIFF_NONE"`` or ``"DIFF_SOME"``."""

    changes: str
    replaces: list[str]
    stables: list[str]
    delete_before_replace: bool
    diffs: list[str]
    has_detailed_diff: bool


@dataclass(frozen=True)
class Created:
    id: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class Read:
    """A ``ReadResponse``: ``id == ""`` means the resource is gone; ``inputs`` is None when the
    provider returned none (the engine then keeps the old inputs)."""

    id: str
    properties: dict[str, Any]
    inputs: dict[str, Any] | None


def _run(coro: Coroutine[Any, Any, T]) -> T:
    # A fresh loop per call, as the provider's own servicer does: safe whatever loop state
    # other tests (pulumi mocks) left behind.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def to_struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    """Properties as the engine sends them (``rpc.UNKNOWN`` stays the unknown sentinel)."""
    return _run(rpc.serialize_properties(dict(props), {}))


def _known(value: Any) -> Any:
    """``Unknown()`` (what deserialization yields for the sentinel) back to ``rpc.UNKNOWN``."""
    if isinstance(value, Unknown):
        return rpc.UNKNOWN
    if isinstance(value, dict):
        return {k: _known(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_known(v) for v in value]
    return value


def from_struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    return _known(rpc.deserialize_properties(struct, keep_unknowns=True))


class EngineProcess:
    """One ``python -u -m pulumi.dynamic`` process and a gRPC stub to it.

    ``env``: the process environment (default: this process's); ``unset_env`` names
    variables to remove from it (for instance ``METRONOME_BEARER_TOKEN``).
    ``name``/``type_`` are the defaults for each request's ``urn``, ``name`` and ``type``.
    """

    def __init__(
        self,
        *,
        name: str = "metric",
        type_: str = METRIC_TYPE,
        env: Mapping[str, str] | None = None,
        unset_env: Iterable[str] = (),
        cwd: Path | str = REPO_ROOT,
    ) -> None:
        self.name = name
        self.type = type_
        environment = dict(os.environ if env is None else env)
        for key in unset_env:
            environment.pop(key, None)
        self._env = environment
        self._cwd = str(cwd)
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._channel: grpc.Channel | None = None
        self._stub: ResourceProviderStub | None = None
        self.port: int | None = None

    # ----------------------------------------------------------------------- process

    def start(self) -> EngineProcess:
        self._dir = tempfile.TemporaryDirectory(prefix="engine-")
        out_path = Path(self._dir.name, "stdout")
        err_path = Path(self._dir.name, "stderr")
        with open(out_path, "ab") as out, open(err_path, "ab") as err:
            self._process = subprocess.Popen(
                [sys.executable, "-u", "-m", "pulumi.dynamic"],
                cwd=self._cwd,
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            first, newline, _ = out_path.read_bytes().partition(b"\n")
            if newline:
                self.port = int(first.decode().strip())
                break
            if self._process.poll() is not None:
                self.close()
                raise RuntimeError(f"provider process exited at start:\n{self._stderr()}")
            if time.monotonic() > deadline:
                self.close()
                raise TimeoutError(f"provider process printed no port:\n{self._stderr()}")
            time.sleep(0.02)
        self._channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        grpc.channel_ready_future(self._channel).result(timeout=START_TIMEOUT)
        self._stub = ResourceProviderStub(self._channel)
        return self

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self._process is not None:
            if self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait(timeout=10)
            self._process = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> EngineProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _read(self, stream: str) -> str:
        if self._dir is None:
            return ""
        path = Path(self._dir.name, stream)
        return path.read_text(errors="replace") if path.exists() else ""

    def _stderr(self) -> str:
        return self._read("stderr")

    def output(self) -> tuple[str, str]:
        """Everything the process wrote so far: (stdout, stderr); the user sees both."""
        return self._read("stdout"), self._read("stderr")

    @property
    def stub(self) -> ResourceProviderStub:
        if self._stub is None:
            raise RuntimeError("the provider process is not started")
        return self._stub

    def _target(self, name: str | None, type_: str | None) -> dict[str, str]:
        name = name or self.name
        type_ = type_ or self.type
        return {"urn": urn_of(type_, name), "name": name, "type": type_}

    # ----------------------------------------------------------------------- methods

    def configure(self, config: Mapping[str, Any], *, secrets: Iterable[str] = ()) -> bool:
        """Send the stack config (namespaced keys) as the engine does: as ``variables`` and
        ``args``; keys in ``secrets`` go in ``args`` as secret values, like config set with
        ``--secret``. Returns the provider's ``acceptSecrets``."""
        secret_keys = set(secrets)
        args = {k: rpc.wrap_rpc_secret(v) if k in secret_keys else v for k, v in config.items()}
        request = provider_pb2.ConfigureRequest(
            variables={k: str(v) for k, v in config.items()},
            args=to_struct(args),
            acceptSecrets=True,
            acceptResources=True,
            sends_old_inputs=True,
            sends_old_inputs_to_delete=True,
        )
        response = self.stub.Configure(request, timeout=CALL_TIMEOUT)
        return response.acceptSecrets

    def check(
        self,
        olds: Mapping[str, Any] | None,
        news: Mapping[str, Any],
        *,
        name: str | None = None,
        type_: str | None = None,
    ) -> Checked:
        request = provider_pb2.CheckRequest(
            olds=to_struct(olds or {}),
            news=to_struct(news),
            randomSeed=b"\0" * 32,
            **self._target(name, type_),
        )
        response = self.stub.Check(request, timeout=CALL_TIMEOUT)
        return Checked(
            inputs=from_struct(response.inputs),
            failures=[Failure(f.property, f.reason) for f in response.failures],
        )

    def diff(
        self,
        id_: str,
        olds: Mapping[str, Any],
        news: Mapping[str, Any],
        *,
        old_inputs: Mapping[str, Any] | None = None,
        ignore_changes: Iterable[str] = (),
        name: str | None = None,
        type_: str | None = None,
    ) -> Diffed:
        """``olds`` are the stored outputs, ``news`` the checked new inputs."""
        request = provider_pb2.DiffRequest(
            id=id_,
            olds=to_struct(olds),
            news=to_struct(news),
            old_inputs=to_struct(old_inputs if old_inputs is not None else olds),
            ignoreChanges=list(ignore_changes),
            **self._target(name, type_),
        )
        response = self.stub.Diff(request, timeout=CALL_TIMEOUT)
        return Diffed(
            changes=provider_pb2.DiffResponse.DiffChanges.Name(response.changes),
            replaces=list(response.replaces),
            stables=list(response.stables),
            delete_before_replace=response.deleteBeforeReplace,
            diffs=list(response.diffs),
            has_detailed_diff=response.hasDetailedDiff,
        )

    def create(
        self,
        props: Mapping[str, Any],
        *,
        preview: bool = False,
        name: str | None = None,
        type_: str | None = None,
    ) -> Created:
        request = provider_pb2.CreateRequest(
            properties=to_struct(props),
            timeout=CALL_TIMEOUT,
            preview=preview,
            **self._target(name, type_),
        )
        response = self.stub.Create(request, timeout=CALL_TIMEOUT)
        return Created(id=response.id, properties=from_struct(response.properties))

    def read(
        self,
        id_: str,
        props: Mapping[str, Any],
        inputs: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
        type_: str | None = None,
    ) -> Read:
        """A refresh: ``props`` are the stored outputs, ``inputs`` the stored inputs."""
        request = provider_pb2.ReadRequest(
            id=id_,
            properties=to_struct(props),
            inputs=to_struct(inputs) if inputs is not None else None,
            timeout=CALL_TIMEOUT,
            **self._target(name, type_),
        )
        response = self.stub.Read(request, timeout=CALL_TIMEOUT)
        return Read(
            id=response.id,
            properties=from_struct(response.properties),
            inputs=from_struct(response.inputs) if response.HasField("inputs") else None,
        )

    def update(
        self,
        id_: str,
        olds: Mapping[str, Any],
        news: Mapping[str, Any],
        *,
        old_inputs: Mapping[str, Any] | None = None,
        name: str | None = None,
        type_: str | None = None,
    ) -> dict[str, Any]:
        """``olds`` are the stored outputs, ``news`` the checked new inputs; returns new outputs."""
        request = provider_pb2.UpdateRequest(
            id=id_,
            olds=to_struct(olds),
            news=to_struct(news),
            old_inputs=to_struct(old_inputs if old_inputs is not None else olds),
            timeout=CALL_TIMEOUT,
            **self._target(name, type_),
        )
        response = self.stub.Update(request, timeout=CALL_TIMEOUT)
        return from_struct(response.properties)

    def delete(
        self,
        id_: str,
        props: Mapping[str, Any],
        *,
        old_inputs: Mapping[str, Any] | None = None,
        name: str | None = None,
        type_: str | None = None,
    ) -> None:
        """``props`` are the stored outputs."""
        request = provider_pb2.DeleteRequest(
            id=id_,
            properties=to_struct(props),
            old_inputs=to_struct(old_inputs if old_inputs is not None else props),
            timeout=CALL_TIMEOUT,
            **self._target(name, type_),
        )
        self.stub.Delete(request, timeout=CALL_TIMEOUT)
