"""``/_local/*``: the test harness's view into a running server. No auth, no faults, and
not in the OpenAPI document (it is not part of Metronome's API).

- ``GET /_local/requests``: ``{"data": [{"method", "path", "status", "injected"?,
  "dropped"?, "replayed"?, "latency_ms"?}, ...]}``, oldest first; ``DELETE`` clears it.
- ``GET /_local/faults``: the fault settings; ``PUT`` changes the fields given (and
  reseeds the RNG when ``seed`` is given), answering the new settings.
- ``POST /_local/reset``: forget all data (metrics, custom fields, customers, events,
  idempotent responses),
  clear the request log, and put the fault settings and RNG back as the server started.
- ``GET /_local/health``: ``{"status": "ok"}``.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StrictInt, ValidationError

from pulumi_metronome.models import SpecError, parse_model

from .. import wire
from ..deps import BodyDep, EnginesDep, FaultsDep, RequestLogDep, StoreDep
from ..errors import BadRequest

router = APIRouter(prefix="/_local", include_in_schema=False)


class FaultUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latency_ms: float | None = None
    error_rate: float | None = None
    drop_rate: float | None = None
    retry_after_ms: StrictInt | None = None
    seed: StrictInt | None = None


@router.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.post("/reset")
def reset(
    store: StoreDep,
    engines: EnginesDep,
    log: RequestLogDep,
    faults: FaultsDep,
) -> JSONResponse:
    store.reset()
    engines.reset()
    log.clear()
    return JSONResponse({"faults": faults.reset().as_dict()})


@router.get("/requests")
def list_requests(log: RequestLogDep) -> JSONResponse:
    return JSONResponse({"data": log.entries()})


@router.delete("/requests")
def clear_requests(log: RequestLogDep) -> JSONResponse:
    log.clear()
    return JSONResponse({"data": []})


@router.get("/faults")
def get_faults(faults: FaultsDep) -> JSONResponse:
    return JSONResponse(faults.settings.as_dict())


@router.put("/faults")
def put_faults(faults: FaultsDep, body: BodyDep) -> JSONResponse:
    try:
        update = parse_model(FaultUpdate, wire.require_object(body))
        settings = faults.update(**update.model_dump())
    except SpecError as error:
        raise BadRequest(error.violations) from None
    except (ValueError, ValidationError) as error:
        raise BadRequest(str(error)) from None
    return JSONResponse(settings.as_dict())
