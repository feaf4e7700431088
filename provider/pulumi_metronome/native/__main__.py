"""``pulumi-resource-metronome``: the native provider plugin, served over gRPC.

The engine starts it with its own address as the argument; it binds ``127.0.0.1:0`` and
prints the port on its first stdout line. Served with ``pulumi.provider.experimental``'s
servicer, with one change: an error of this package (``errors.py``: Metronome's answer, the
network, or our refusal) reaches the user as its own message, never with a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import grpc  # type: ignore[import-untyped]
import grpc.aio  # type: ignore[import-untyped]
from pulumi.provider.experimental.server import ProviderServicer
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
from pulumi.runtime.proto import provider_pb2_grpc

from ..errors import MetronomeError
from ..version import version
from .provider import MetronomeNativeProvider

Handler = Callable[[Any, Any, Any], Awaitable[Any]]
#: The servicer methods that reach the resource core.
_CORE_METHODS = ("Configure", "Check", "Diff", "Create", "Read", "Update", "Delete")


def _plain_errors(base: Handler) -> Handler:
    """``base``, with this package's errors answered as their message alone (the SDK's
    servicer re-raises every error with its traceback appended)."""

    async def method(self: Any, request: Any, context: Any) -> Any:
        try:
            return await base(self, request, context)
        except Exception as error:
            cause = error if isinstance(error, MetronomeError) else error.__context__
            if isinstance(cause, MetronomeError):
                await context.abort(grpc.StatusCode.UNKNOWN, str(cause))
            raise

    return method


class Servicer(ProviderServicer):
    """The SDK's servicer with this package's errors as plain messages."""


for _name in _CORE_METHODS:
    setattr(Servicer, _name, _plain_errors(getattr(ProviderServicer, _name)))


async def serve(args: list[str], provider: MetronomeNativeProvider) -> None:
    parser = argparse.ArgumentParser(prog="pulumi-resource-metronome")
    parser.add_argument("engine", nargs="?", default="", help="the Pulumi engine's address")
    known, _ = parser.parse_known_args(args)
    server = grpc.aio.server(options=_GRPC_CHANNEL_OPTIONS)
    servicer = Servicer(args, provider.version, provider, engine_address=known.engine)
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    await server.wait_for_termination()


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args, MetronomeNativeProvider(version())))


if __name__ == "__main__":
    main()
