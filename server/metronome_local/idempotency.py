"""``Idempotency-Key`` on ``/v1`` POSTs.

The first response to a key (per bearer token) is stored in SQLite with a fingerprint of
the request (method, path, query, JSON body with keys sorted) and kept for
``idempotency_ttl_seconds`` (24 h by default). A request with the same key and fingerprint
gets that response again (status and body, errors included; header
``Idempotent-Replayed: true``) without running; the same key with another request is a 409.
Requests with the same key are serialized, so two concurrent ones never both run: the
second waits and replays. 5xx answers are not stored (the request may be retried).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.concurrency import run_in_threadpool

from .asgi import (
    ASGIApp,
    Receive,
    ResponseRecorder,
    Scope,
    Send,
    header,
    is_api_request,
    notes,
    read_body,
    replaying,
    send_json,
)
from .store import Store, StoredResponse

IDEMPOTENCY_KEY_MAX_LENGTH = 255
_KEPT_HEADERS = {"content-type", "content-length"}


def fingerprint(scope: Scope, body: bytes) -> str:
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, RecursionError):
        canonical = body
    digest = hashlib.sha256()
    for part in (scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1")):
        digest.update(part.encode() + b"\0")
    digest.update(canonical)
    return digest.hexdigest()


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, store: Store, ttl_seconds: float) -> None:
        self.app = app
        self.store = store
        self.ttl = ttl_seconds
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, list[int]]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = header(scope, b"idempotency-key")
        if key is None or not is_api_request(scope) or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        if not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX_LENGTH:
            message = f"Idempotency-Key: must be 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} characters"
            await send_json(send, 400, {"message": message})
            return
        principal = notes(scope).get("principal", "")
        body = await read_body(receive)
        print_ = fingerprint(scope, body)
        async with self._serialized((principal, key)):
            stored = await run_in_threadpool(self.store.get_response, principal, key, ttl=self.ttl)
            if stored is not None and stored.fingerprint != print_:
                message = (
                    f"Idempotency-Key '{key}' was already used with a different request "
                    "(method, path or body); use a new key for a new request"
                )
                await send_json(send, 409, {"message": message})
                return
            if stored is not None:
                notes(scope)["replayed"] = True
                headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in stored.headers]
                headers.append((b"idempotent-replayed", b"true"))
                replay = ResponseRecorder()
                replay.status, replay.headers, replay.body = stored.status, headers, stored.body
                await replay.replay(send)
                return
            recorder = ResponseRecorder()
            await self.app(scope, replaying(body, receive), recorder)
            if recorder.started and recorder.status < 500:
                kept = [
                    (k.decode("latin-1"), v.decode("latin-1"))
                    for k, v in recorder.headers
                    if k.decode("latin-1").lower() in _KEPT_HEADERS
                ]
                response = StoredResponse(print_, recorder.status, kept, recorder.body)
                await run_in_threadpool(
                    self.store.save_response, principal, key, response, ttl=self.ttl
                )
        await recorder.replay(send)

    @asynccontextmanager
    async def _serialized(self, lock_key: tuple[str, str]) -> AsyncIterator[None]:
        """One request at a time per key (all on the event loop, so no thread races)."""
        lock, users = self._locks.setdefault(lock_key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._locks[lock_key]
