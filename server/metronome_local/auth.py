"""Bearer-token auth for ``/v1`` routes: a missing or unknown token is a 401."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from .asgi import ASGIApp, Receive, Scope, Send, header, is_api_request, notes, send_json


def principal_of(token: str) -> str:
    """A stable, non-secret name for a token (idempotency keys are scoped by it)."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


class BearerAuthMiddleware:
    def __init__(self, app: ASGIApp, tokens: Iterable[str]) -> None:
        self.app = app
        self.tokens = [t.encode() for t in tokens]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not is_api_request(scope):
            await self.app(scope, receive, send)
            return
        value = header(scope, b"authorization") or ""
        scheme, _, token = value.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            await self._deny(send, "Missing bearer token: send 'Authorization: Bearer <token>'")
            return
        presented = token.encode("latin-1")
        # Compare with every token so the time taken does not tell which one nearly matched.
        matches = [hmac.compare_digest(presented, known) for known in self.tokens]
        if not any(matches):
            await self._deny(send, "Unauthorized: unknown bearer token")
            return
        notes(scope)["principal"] = principal_of(token)
        await self.app(scope, receive, send)

    @staticmethod
    async def _deny(send: Send, message: str) -> None:
        await send_json(send, 401, {"message": message}, [(b"www-authenticate", b"Bearer")])
