"""``/_local/*``: the test harness's view into a running server. No auth, no faults, and
not in the OpenAPI document (it is not part of Metronome's API).

- ``GET /_local/requests``: ``{"data": [{"method", "path", "status", "injected"?,
  "dropped"?, "replayed"?}, ...]}``, oldest first; ``DELETE`` clears it.
- ``GET /_local/faults``: the fault settings; ``PUT`` changes the fields given (and
  reseeds the RNG when ``seed`` is given), answering the new settings.
- ``POST /_local/reset``: forget all data (metrics, custom fields, customers, events,
  idempotent responses),
  clear the request log, and put the fault settings and RNG back as the server started.
- ``GET /_local/health``: ``{"status": "ok"}``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StrictInt, ValidationError

from pulumi_metronome.models import SpecError, parse_model

from .. import wire
from ..errors import BadRequest
from ..faults import FaultInjector
from ..request_log import RequestLog

router = APIRouter(prefix="/_local", include_in_schema=False)


class FaultUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latency_ms: float | None = None
    error_rate: float | None = None
    drop_rate: float | None = None
    retry_after_ms: StrictInt | None = None
    seed: StrictInt | None = None


def _log(request: Request) -> RequestLog:
    log: RequestLog = request.app.state.request_log
    return log


def _faults(request: Request) -> FaultInjector:
    faults: FaultInjector = request.app.state.faults
    return faults


@router.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.post("/reset")
def reset(request: Request) -> JSONResponse:
    request.app.state.store.reset()
    request.app.state.customers.reset()
    request.app.state.engines.reset()
    _log(request).clear()
    return JSONResponse({"faults": _faults(request).reset().as_dict()})


@router.get("/requests")
def list_requests(request: Request) -> JSONResponse:
    return JSONResponse({"data": _log(request).entries()})


@router.delete("/requests")
def clear_requests(request: Request) -> JSONResponse:
    _log(request).clear()
    return JSONResponse({"data": []})


@router.get("/faults")
def get_faults(request: Request) -> JSONResponse:
    return JSONResponse(_faults(request).settings.as_dict())


@router.put("/faults")
async def put_faults(request: Request) -> JSONResponse:
    data: Any = await wire.json_body(request)
    try:
        update = parse_model(FaultUpdate, wire.require_object(data))
        settings = _faults(request).update(**update.model_dump())
    except SpecError as error:
        raise BadRequest(error.violations) from None
    except (ValueError, ValidationError) as error:
        raise BadRequest(str(error)) from None
    return JSONResponse(settings.as_dict())
