"""Drive the real plugin process ``pulumi-resource-metronome`` as the Pulumi engine does.

The same driver as the dynamic provider's (``tests/provider/engine.py``: requests with
``urn``, ``type`` and ``name``, property ``Struct``s built with
``pulumi.runtime.rpc.serialize_properties``, results as plain values), pointed at the
console script the package installs instead of ``python -m pulumi.dynamic``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "provider"))

from engine import (
    CALL_TIMEOUT,
    REPO_ROOT,
    START_TIMEOUT,
    EngineProcess,
    from_struct,
    to_struct,
    urn_of,
)
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2
from pulumi.runtime.proto.provider_pb2_grpc import ResourceProviderStub

PLUGIN = Path(sys.executable).parent / "pulumi-resource-metronome"
METRIC = "metronome:index:BillableMetric"
KEY = "metronome:index:CustomFieldKey"
PRODUCT = "metronome:index:Product"
CARD = "metronome:index:RateCard"

__all__ = [
    "CARD",
    "KEY",
    "METRIC",
    "PLUGIN",
    "PRODUCT",
    "EngineProcess",
    "PluginProcess",
    "from_struct",
    "to_struct",
    "urn_of",
]


class PluginProcess(EngineProcess):
    """One ``pulumi-resource-metronome`` process (started as the engine starts a plugin:
    the executable with the engine's address) and a gRPC stub to it."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("type_", METRIC)
        super().__init__(**kwargs)

    def start(self) -> PluginProcess:
        self._dir = tempfile.TemporaryDirectory(prefix="plugin-")
        out_path = Path(self._dir.name, "stdout")
        err_path = Path(self._dir.name, "stderr")
        with open(out_path, "ab") as out, open(err_path, "ab") as err:
            self._process = subprocess.Popen(
                [str(PLUGIN), "127.0.0.1:1"],
                cwd=str(REPO_ROOT),
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
                raise RuntimeError(f"plugin exited at start:\n{self._stderr()}")
            if time.monotonic() > deadline:
                self.close()
                raise TimeoutError(f"plugin printed no port:\n{self._stderr()}")
            time.sleep(0.02)
        self._channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        grpc.channel_ready_future(self._channel).result(timeout=START_TIMEOUT)
        self._stub = ResourceProviderStub(self._channel)
        return self

    def __enter__(self) -> PluginProcess:
        return self.start()

    def schema(self) -> dict[str, Any]:
        response = self.stub.GetSchema(provider_pb2.GetSchemaRequest(version=0))
        loaded: dict[str, Any] = json.loads(response.schema)
        return loaded

    def plugin_version(self) -> str:
        info = self.stub.GetPluginInfo(empty_pb2.Empty(), timeout=CALL_TIMEOUT)
        return str(info.version)

    def detailed_diff(
        self, id_: str, olds: dict[str, Any], news: dict[str, Any], *, type_: str | None = None
    ) -> tuple[str, list[str], dict[str, str], bool]:
        """A diff with its detailed entries: (changes, replaces, {path: kind}, delete first)."""
        request = provider_pb2.DiffRequest(
            id=id_,
            olds=to_struct(olds),
            news=to_struct(news),
            old_inputs=to_struct(olds),
            **self._target(None, type_),
        )
        response = self.stub.Diff(request, timeout=CALL_TIMEOUT)
        assert response.hasDetailedDiff
        return (
            provider_pb2.DiffResponse.DiffChanges.Name(response.changes),
            list(response.replaces),
            {
                path: provider_pb2.PropertyDiff.Kind.Name(d.kind)
                for path, d in response.detailedDiff.items()
            },
            response.deleteBeforeReplace,
        )

    def configure_plugin(
        self, settings: dict[str, str], *, secret: tuple[str, ...] = ("bearerToken",)
    ) -> provider_pb2.ConfigureResponse:
        """Configure as the engine configures a native provider: ``args`` by the schema's
        names (the token a secret), ``variables`` namespaced (``metronome:bearerToken``)."""
        args = {k: rpc.wrap_rpc_secret(v) if k in secret else v for k, v in settings.items()}
        request = provider_pb2.ConfigureRequest(
            variables={f"metronome:{k}": v for k, v in settings.items()},
            args=to_struct(args),
            acceptSecrets=True,
            acceptResources=True,
        )
        response: provider_pb2.ConfigureResponse = self.stub.Configure(
            request, timeout=CALL_TIMEOUT
        )
        return response
