"""``POST /v1/ingest``: a bare JSON array of 1 to 100 usage events.

The whole batch is validated first (``parse_event_batch``: every problem named as
``events[i].field``) and refused whole with a 400, so nothing of a bad batch is stored. A
good batch is stored in one engine transaction, stamped with one ingestion time; events
whose ``transaction_id`` is already stored (from this batch or any other) are ignored, so a
client may retry a batch whose answer it never got. The answer is 200 with an empty body.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from pulumi_metronome.models import SpecError
from pulumi_metronome.models.event import MAX_EVENT_AGE, parse_event_batch

from .. import wire
from ..errors import BadRequest
from ..metering import EngineSlot
from ..openapi import idempotent, request_body, responses
from ..settings import Settings

router = APIRouter(prefix="/v1", tags=["usage"])
INGEST_EXAMPLES = {
    "completion": [
        {
            "transaction_id": "2026-11-25-req-0001",
            "customer_id": "acme-prod",
            "event_type": "completion",
            "timestamp": "2026-11-25T10:15:00Z",
            "properties": {"model": "atlas-mini", "region": "us-east", "tokens": "1200"},
        }
    ]
}


@router.post(
    "/ingest",
    summary="Ingest 1 to 100 usage events (duplicates of a transaction_id are ignored)",
    operation_id="ingestEvents",
    response_class=Response,
    responses=responses(None, 400, 409),
    openapi_extra=idempotent(request_body(wire.EventBatch, examples=INGEST_EXAMPLES)),
)
async def ingest(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    engines: EngineSlot = request.app.state.engines
    raw = await request.body()
    now = datetime.now(UTC)
    max_age = MAX_EVENT_AGE if settings.event_age_limit else None
    try:
        events = parse_event_batch(raw, now=now, max_age=max_age)
    except SpecError as error:
        raise BadRequest(error.violations) from None
    except (ValueError, RecursionError) as error:
        raise BadRequest(f"the body is not valid JSON: {error}") from None
    # Stored and logged now, on the event loop; answered once the log is on disk.
    await asyncio.wrap_future(engines.get().submit(events, ingested_at=now))
    return Response(status_code=200)
