"""``HotRoutes`` answers ``POST /v1/ingest`` exactly as FastAPI's own dispatch of the same
route does: the same app is built twice, with and without the shortcut, and driven with the
same requests in process (the real ASGI apps, through httpx's ASGI transport)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from metronome_local.app import create_app
from metronome_local.hot_routes import HotRoutes
from metronome_local.settings import DEFAULT_TOKEN, Settings

AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}


def event(tid: str, **changes: Any) -> dict[str, Any]:
    moment = datetime.now(UTC) - timedelta(hours=1)
    return {
        "transaction_id": tid,
        "customer_id": "acme",
        "event_type": "api",
        "timestamp": moment.isoformat().replace("+00:00", "Z"),
        "properties": {"n": "1"},
        **changes,
    }


ONCE = json.dumps([event("h")]).encode()
REQUESTS: list[tuple[str, dict[str, str], bytes]] = [
    ("good batch", AUTH, json.dumps([event("a"), event("b")]).encode()),
    ("repeated batch", AUTH, json.dumps([event("a"), event("c")]).encode()),
    (
        "bad events",
        AUTH,
        json.dumps(
            [event("d"), event("e", timestamp="2999-01-01T00:00:00Z"), {"transaction_id": ""}]
        ).encode(),
    ),
    ("numbers", AUTH, json.dumps([event("f", properties={"n": 2.5, "ok": None})]).encode()),
    ("not JSON", AUTH, b"[{"),
    ("empty body", AUTH, b""),
    ("not an array", AUTH, b'{"events": []}'),
    ("too many", AUTH, json.dumps([event(f"x{i}") for i in range(101)]).encode()),
    ("no token", {}, json.dumps([event("g")]).encode()),
    ("idempotent", {**AUTH, "Idempotency-Key": "k1"}, ONCE),
    ("idempotent again", {**AUTH, "Idempotency-Key": "k1"}, ONCE),
    (
        "idempotency key reused",
        {**AUTH, "Idempotency-Key": "k1"},
        json.dumps([event("i")]).encode(),
    ),
]


def without_hot_routes(app: FastAPI) -> FastAPI:
    app.user_middleware = [m for m in app.user_middleware if m.cls is not HotRoutes]
    return app


async def drive(app: FastAPI) -> tuple[list[tuple[str, int, str, dict[str, str]]], int]:
    answers = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://local") as client:
        for label, headers, body in REQUESTS:
            response = await client.post("/v1/ingest", content=body, headers=headers)
            kept = {
                k: v
                for k, v in response.headers.items()
                if k in ("content-type", "content-length", "idempotent-replayed")
            }
            answers.append((label, response.status_code, response.text, kept))
    engines = app.state.engines
    stored = engines.get().count()
    engines.close()
    return answers, stored


def test_the_shortcut_answers_as_the_route_does() -> None:
    hot = create_app(Settings())
    assert any(m.cls is HotRoutes for m in hot.user_middleware)
    plain = without_hot_routes(create_app(Settings()))
    hot_answers, hot_stored = asyncio.run(drive(hot))
    plain_answers, plain_stored = asyncio.run(drive(plain))
    assert hot_answers == plain_answers
    # a, b, c, f and h: five distinct events, worked out from REQUESTS by hand.
    assert hot_stored == plain_stored == 5
    statuses = {label: status for label, status, _, _ in hot_answers}
    assert statuses == {
        "good batch": 200,
        "repeated batch": 200,
        "bad events": 400,
        "numbers": 200,
        "not JSON": 400,
        "empty body": 400,
        "not an array": 400,
        "too many": 400,
        "no token": 401,
        "idempotent": 200,
        "idempotent again": 200,
        "idempotency key reused": 409,
    }
    replayed = {label: h.get("idempotent-replayed") for label, _, _, h in hot_answers}
    assert replayed["idempotent again"] == "true"
