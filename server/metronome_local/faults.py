"""Fault injection on ``/v1`` requests: latency, failed answers, and lost responses.

For each request, in this order: wait ``latency_ms``; then, with the seeded RNG, either
answer an injected error without doing anything (``error_rate``: 429 with ``Retry-After``
in whole seconds rounded up and ``retry-after-ms``, or 500/502/503), or carry the request
out and drop its response (``drop_rate``), or pass it on.

A dropped response: the request runs to completion (its change is committed and, with an
``Idempotency-Key``, recorded for replay); then only the response head is sent, with a
``Content-Length`` larger than the body that never follows, and the app returns. uvicorn
then closes the connection ("returned without completing response"), so a client sees the
connection break mid-response (``requests``: ``ChunkedEncodingError``/``ConnectionError``;
``httpx``: ``RemoteProtocolError``), never a complete answer. It is the case that makes a
client retry a request that had in fact succeeded.
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
from dataclasses import dataclass
from typing import Any, Literal

from .asgi import ASGIApp, Receive, ResponseRecorder, Scope, Send, is_api_request, notes, send_json
from .settings import FaultSettings

INJECTED_STATUSES = (429, 500, 502, 503)


@dataclass(frozen=True)
class Decision:
    latency_s: float
    action: Literal["pass", "error", "drop"]
    status: int = 0


class FaultInjector:
    """The current fault settings (changeable at runtime) and the seeded RNG."""

    def __init__(self, settings: FaultSettings, seed: int | None = None) -> None:
        self._initial = (settings, seed)
        self._settings = settings
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def reset(self) -> FaultSettings:
        """Back to the settings and seed the server started with."""
        with self._lock:
            self._settings, seed = self._initial
            self._rng.seed(seed)
            return self._settings

    @property
    def settings(self) -> FaultSettings:
        return self._settings

    def update(self, seed: int | None = None, **changes: Any) -> FaultSettings:
        """Apply ``changes`` (raises ``ValueError`` when invalid); reseed when ``seed`` given."""
        with self._lock:
            self._settings = self._settings.updated(**changes)
            if seed is not None:
                self._rng.seed(seed)
            return self._settings

    def decide(self) -> Decision:
        with self._lock:
            s = self._settings
            latency = s.latency_ms / 1000
            if s.error_rate == 0 and s.drop_rate == 0:
                return Decision(latency, "pass")
            roll = self._rng.random()
            if roll < s.error_rate:
                return Decision(latency, "error", self._rng.choice(INJECTED_STATUSES))
            if roll < s.error_rate + s.drop_rate:
                return Decision(latency, "drop")
            return Decision(latency, "pass")


class FaultMiddleware:
    def __init__(self, app: ASGIApp, injector: FaultInjector) -> None:
        self.app = app
        self.injector = injector

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not is_api_request(scope):
            await self.app(scope, receive, send)
            return
        decision = self.injector.decide()
        if decision.latency_s > 0:
            # Noted for the request log, so a test can see the delay without timing it.
            notes(scope)["latency_ms"] = decision.latency_s * 1000
            await asyncio.sleep(decision.latency_s)
        if decision.action == "error":
            notes(scope)["injected"] = True
            await self._inject(send, decision.status)
        elif decision.action == "drop":
            notes(scope)["dropped"] = True
            await self._drop(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _inject(self, send: Send, status: int) -> None:
        headers: list[tuple[bytes, bytes]] = []
        if status == 429:
            retry_ms = self.injector.settings.retry_after_ms
            headers = [
                (b"retry-after", str(math.ceil(retry_ms / 1000)).encode()),
                (b"retry-after-ms", str(retry_ms).encode()),
            ]
            message = "Too many requests (injected by metronome-local)"
        else:
            message = f"Injected server error {status} (metronome-local fault injection)"
        await send_json(send, status, {"message": message}, headers)

    async def _drop(self, scope: Scope, receive: Receive, send: Send) -> None:
        recorder = ResponseRecorder()
        await self.app(scope, receive, recorder)
        headers = [(k, v) for k, v in recorder.headers if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(recorder.body) + 1).encode()))
        await send({"type": "http.response.start", "status": recorder.status, "headers": headers})
        # No body follows: returning now makes uvicorn close the connection mid-response.
