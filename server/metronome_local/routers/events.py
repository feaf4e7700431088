"""``POST /v1/events/search``: stored events by transaction id, with the metrics each one
matched and the customer it resolves to now.

The answer is a bare JSON array, as the official SDK expects. ``id`` is derived from the
transaction id and the ingestion time (stable across calls). A metric is listed as matched
by the engine's rules (streaming metrics: not retroactive; SQL metrics: ``custom_sql``).
Ids that match no stored event are left out (*decision*).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response

from pulumi_metronome.metering import StoredEvent
from pulumi_metronome.models import SpecError, parse_model
from pulumi_metronome.models import usage as usage_models
from pulumi_metronome.models.usage import rfc3339

from .. import wire
from ..customer_store import CustomerStore
from ..deps import BodyDep, StoreDep
from ..errors import BadRequest
from ..metering import EngineSlot, dumps_exact, metered_metrics
from ..openapi import idempotent, request_body, responses

router = APIRouter(prefix="/v1/events", tags=["usage"])
_EVENT_IDS = uuid.UUID("6f1c2a52-5d0e-4c55-9a61-3f7f1b0e8e11")


def event_id(event: StoredEvent) -> str:
    return str(uuid.uuid5(_EVENT_IDS, f"{event.transaction_id}\n{event.processed_at.isoformat()}"))


@router.post(
    "/search",
    summary="Find stored events by transaction id",
    operation_id="searchEvents",
    responses=responses(usage_models.SearchedEvents, 400, 409),
    openapi_extra=idempotent(request_body(usage_models.SearchEventsBody)),
)
def search_events(request: Request, store: StoreDep, body: BodyDep) -> Response:
    try:
        query = parse_model(usage_models.SearchEventsBody, wire.require_object(body))
    except SpecError as error:
        raise BadRequest(error.violations) from None
    engines: EngineSlot = request.app.state.engines
    customers: CustomerStore = request.app.state.customers

    def run() -> list[dict[str, Any]]:
        metrics = metered_metrics(store, include_archived=True)
        found = engines.get().search(query.transaction_ids, metrics)
        resolved = customers.resolve([e.customer_id for e in found])
        described = {
            m["id"]: m
            for m in (
                store.get_metric(i)
                for i in sorted({i for e in found for i in e.matched_metric_ids})
            )
        }
        return [_event(e, resolved.get(e.customer_id), described) for e in found]

    return Response(dumps_exact(run()), media_type="application/json")


def _event(
    event: StoredEvent,
    customer: tuple[str, str] | None,
    metrics: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    matched = []
    for metric_id in event.matched_metric_ids:
        metric = dict(metrics[metric_id])
        if metric.get("sql") is not None:
            metric["aggregation_type"] = "custom_sql"
        matched.append(metric)
    out: dict[str, Any] = {
        "id": event_id(event),
        "transaction_id": event.transaction_id,
        "customer_id": event.customer_id,
        "event_type": event.event_type,
        "timestamp": rfc3339(event.timestamp),
        "properties": event.properties,
        "processed_at": rfc3339(event.processed_at),
        "is_duplicate": event.is_duplicate,
        "matched_billable_metrics": matched,
    }
    if customer is not None:
        out["matched_customer"] = {"id": customer[0], "name": customer[1]}
    return out
