"""An in-memory log of ``/v1`` requests, for tests and demos (``GET /_local/requests``)."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from .asgi import ASGIApp, Message, Receive, Scope, Send, is_api_request, notes

#: Flags other middlewares note on a request that the log reports when true.
FLAGS = ("injected", "dropped", "replayed")
#: The delay fault injection added to a request, reported when there was one.
LATENCY = "latency_ms"


class RequestLog:
    """The last ``maxlen`` requests: ``{"method", "path", "status"}`` plus any true FLAGS,
    and ``latency_ms`` when fault injection delayed the request."""

    def __init__(self, maxlen: int = 10_000) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def append(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._entries]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp, log: RequestLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not is_api_request(scope):
            await self.app(scope, receive, send)
            return
        status: int | None = None

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            entry: dict[str, Any] = {
                "method": scope["method"],
                "path": scope["path"],
                "status": status if status is not None else 500,
            }
            request_notes = notes(scope)
            entry.update({flag: True for flag in FLAGS if request_notes.get(flag)})
            if request_notes.get(LATENCY):
                entry[LATENCY] = request_notes[LATENCY]
            self.log.append(entry)
