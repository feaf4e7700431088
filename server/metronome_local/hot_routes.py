"""``HotRoutes``: the few endpoints called thousands of times a second, dispatched directly.

FastAPI's own dispatch (matching the path against every route, the per-route exception and
exit-stack wrappers, dependency solving) costs more server time than validating a whole
100-event ingest batch does. ``HotRoutes`` sits innermost, after the request log, fault
injection, auth and idempotency middlewares, so a hot request gets exactly the treatment of
any other; it only skips the route lookup: an exact ``(method, path)`` match calls the
route's own endpoint function (the one FastAPI registered, so the OpenAPI document and the
behaviour are the same) and renders an ``ApiError`` it raises as the app's handler does.
Anything else, including any other exception, takes the normal path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response

from .asgi import ASGIApp, Receive, Scope, Send
from .errors import ApiError

#: An endpoint that takes the bare request (no dependencies to solve) and returns a response.
Endpoint = Callable[[Request], Awaitable[Response]]


class HotRoutes:
    def __init__(self, app: ASGIApp, routes: Mapping[tuple[str, str], Endpoint]) -> None:
        self.app = app
        self.routes = dict(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = (
            self.routes.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
        )
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await endpoint(request)
        except ApiError as error:
            response = error.response()
        await response(scope, receive, send)
