"""Metronome's error shape: every 4xx body is ``{"message": "..."}`` (404s add ``"code"``).

Routes raise ``ApiError`` (or a subclass); ``install_error_handlers`` turns it, FastAPI's
request validation errors and Starlette's HTTP errors into that shape, so a client never
sees FastAPI's 422 or ``{"detail": ...}``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pulumi_metronome.models import Violation, describe, violations_from

logger = logging.getLogger("metronome_local")


def error_body(message: str, code: str | None = None) -> dict[str, str]:
    body = {"message": message}
    if code is not None:
        body["code"] = code
    return body


class ApiError(Exception):
    """An error answer: HTTP ``status`` with ``{"message": message[, "code": code]}``."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code

    def response(self) -> JSONResponse:
        return JSONResponse(error_body(self.message, self.code), status_code=self.status)


class BadRequest(ApiError):
    """400 naming every problem, e.g. ``"name: must not be empty; sql: ..."``."""

    def __init__(self, problems: str | Iterable[Violation | str]) -> None:
        self.violations = [problems] if isinstance(problems, str) else list(problems)
        super().__init__(400, describe(self.violations))


class NotFound(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(404, message, code="NotFound")


def _without_source(loc: Sequence[int | str]) -> tuple[int | str, ...]:
    """FastAPI's ``("query", "limit")`` -> ``("limit",)``: the field, not where it came from."""
    parts = tuple(loc)
    if parts and parts[0] in ("query", "path", "body", "header", "cookie"):
        return parts[1:]
    return parts


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    located = ({**item, "loc": _without_source(item.get("loc", ()))} for item in exc.errors())
    return BadRequest(violations_from(located)).response()


def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return exc.response()


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = "NotFound" if exc.status_code == 404 else None
    return JSONResponse(
        error_body(str(exc.detail), code),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unexpected error in %s %s", request.method, request.url.path)
    return JSONResponse(error_body("Internal server error"), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    handlers: dict[Any, Any] = {
        RequestValidationError: _validation_error,
        ApiError: _api_error,
        StarletteHTTPException: _http_error,
        Exception: _unexpected,
    }
    for exc_class, handler in handlers.items():
        app.add_exception_handler(exc_class, handler)
