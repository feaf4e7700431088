"""``POST /v1/usage`` and ``POST /v1/usage/groups``: usage per customer, metric, window
(and group), computed by the metering engine over the stored events.

Requests are checked with ``pulumi_metronome.models.usage`` (UTC midnights, a period of at
least a day, ``window_size`` in any case), then against the stored metric (``group_by`` /
``group_key`` must come from its group keys) and customers (unknown ids: 404). Values are
exact decimals written as JSON numbers.

Paging (*decisions*; Metronome documents the cursors, not their sizes):

- ``/v1/usage`` takes no ``limit``: a page holds ``usage_page_size`` rows (100 by
  default). The engine is asked only for the customers a page needs.
- ``/v1/usage/groups``: ``limit`` 1 to 100 rows, 100 by default.
- Without ``starting_on``/``ending_before``, ``/v1/usage/groups`` covers every moment the
  server accepts events for by default: from 34 days before today's UTC midnight to two
  days after it.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from pulumi_metronome.metering import (
    CustomerRef,
    GroupBy,
    GroupRow,
    GroupsQuery,
    MeteredMetric,
    UsageQuery,
    UsageRow,
)
from pulumi_metronome.models import SpecError, Violation
from pulumi_metronome.models import usage as usage_models
from pulumi_metronome.models.event import MAX_EVENT_AGE
from pulumi_metronome.models.usage import (
    group_by_violations,
    group_key_violations,
    parse_groups_query,
    parse_usage_query,
    rfc3339,
    window_count,
)

from ..cursors import decode_cursor, encode_cursor
from ..customer_store import CustomerStore
from ..deps import BodyDep, SettingsDep, StoreDep
from ..errors import BadRequest
from ..metering import EngineSlot, dumps_exact, metered_metrics
from ..openapi import idempotent, request_body, responses
from ..store import Store

router = APIRouter(prefix="/v1", tags=["usage"])
MAX_GROUPS_PAGE = 100
_USAGE_CURSOR = "usage"
_GROUPS_CURSOR = "usage_groups"
USAGE_EXAMPLES = {
    "daily": {
        "starting_on": "2026-11-01T00:00:00Z",
        "ending_before": "2026-11-02T00:00:00Z",
        "window_size": "day",
    }
}


def _json(data: Any) -> Response:
    return Response(dumps_exact(data), media_type="application/json")


def _customers(request: Request) -> CustomerStore:
    customers: CustomerStore = request.app.state.customers
    return customers


def _engines(request: Request) -> EngineSlot:
    engines: EngineSlot = request.app.state.engines
    return engines


def _duplicates(values: list[str], field: str) -> list[Violation]:
    twice = sorted(v for v, n in Counter(values).items() if n > 1)
    if twice:
        return [Violation(field, f"lists {', '.join(repr(v) for v in twice)} more than once")]
    return []


def _usage_row(row: UsageRow) -> dict[str, Any]:
    out: dict[str, Any] = {
        "customer_id": row.customer_id,
        "billable_metric_id": row.metric_id,
        "billable_metric_name": row.metric_name,
        "start_timestamp": rfc3339(row.start),
        "end_timestamp": rfc3339(row.end),
        "value": row.value,
    }
    if row.groups is not None:
        out["groups"] = dict(row.groups)
    return out


def _group_row(row: GroupRow) -> dict[str, Any]:
    out: dict[str, Any] = {
        "starting_on": rfc3339(row.start),
        "ending_before": rfc3339(row.end),
        "value": row.value,
    }
    if row.group:
        out["group"] = dict(row.group)
        if len(row.group) == 1:
            ((key, value),) = row.group.items()
            out["group_key"], out["group_value"] = key, value
    return out


@router.post(
    "/usage",
    summary="Usage per customer, billable metric and window (empty windows included)",
    operation_id="listUsage",
    responses=responses(usage_models.UsagePage, 400, 404, 409),
    openapi_extra=idempotent(request_body(usage_models.UsageQueryBody, examples=USAGE_EXAMPLES)),
)
async def list_usage(
    request: Request,
    settings: SettingsDep,
    store: StoreDep,
    body: BodyDep,
    next_page: Annotated[str | None, Query(description="Cursor from the previous page")] = None,
) -> Response:
    offset = decode_cursor(_USAGE_CURSOR, next_page)
    try:
        query = parse_usage_query(body)
    except SpecError as error:
        raise BadRequest(error.violations) from None
    refs = query.billable_metrics
    violations: list[Violation] = []
    if query.customer_ids is not None:
        violations += _duplicates(query.customer_ids, "customer_ids")
    if refs is not None:
        violations += _duplicates([r.id for r in refs], "billable_metrics")
    if violations:
        raise BadRequest(violations)
    metrics, customers = await run_in_threadpool(
        _usage_subjects, request, store, query.customer_ids, [r.id for r in refs or []], refs
    )
    group_by: dict[str, GroupBy] = {}
    for index, (ref, metric) in enumerate(zip(refs or [], metrics, strict=False)):
        if ref.group_by is None:
            continue
        violations += group_by_violations(
            ref.group_by.key,
            metric.spec.group_keys,
            f"billable_metrics[{index}].group_by.key",
        )
        values = None if ref.group_by.values is None else tuple(ref.group_by.values)
        group_by[metric.id] = GroupBy(key=ref.group_by.key, values=values)
    if violations:
        raise BadRequest(violations)

    windows = window_count(query.starting_on, query.ending_before, query.window_size)
    per_customer = len(metrics) * windows
    size = settings.usage_page_size
    total = len(customers) * per_customer
    rows: list[UsageRow] = []
    if per_customer and offset < total:
        first = offset // per_customer
        last = min(len(customers), math.ceil((offset + size) / per_customer))
        usage = UsageQuery(
            metrics=tuple(metrics),
            customers=tuple(customers[first:last]),
            starting_on=query.starting_on,
            ending_before=query.ending_before,
            window_size=query.window_size,
            group_by=group_by,
        )
        engine = _engines(request).get()
        try:
            computed = await run_in_threadpool(engine.usage, usage)
        except SpecError as error:
            raise BadRequest(error.violations) from None
        skip = offset - first * per_customer
        rows = computed[skip : skip + size]
    following = offset + size
    cursor = encode_cursor(_USAGE_CURSOR, following) if following < total else None
    return _json({"data": [_usage_row(r) for r in rows], "next_page": cursor})


def _usage_subjects(
    request: Request,
    store: Store,
    customer_ids: list[str] | None,
    metric_ids: list[str],
    refs: list[Any] | None,
) -> tuple[list[MeteredMetric], list[CustomerRef]]:
    metrics = metered_metrics(
        store, None if refs is None else metric_ids, field="billable_metrics[{i}].id"
    )
    customers = _customers(request).refs(customer_ids, field="customer_ids[{i}]")
    return metrics, customers


def _default_period() -> tuple[datetime, datetime]:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=MAX_EVENT_AGE.days), today + timedelta(days=2)


@router.post(
    "/usage/groups",
    summary="Usage of one customer and metric per window and group",
    operation_id="listUsageGroups",
    responses=responses(usage_models.UsageGroupsPage, 400, 404, 409),
    openapi_extra=idempotent(request_body(usage_models.UsageGroupsBody)),
)
async def list_usage_groups(
    request: Request,
    store: StoreDep,
    body: BodyDep,
    limit: Annotated[
        int | None, Query(ge=1, le=MAX_GROUPS_PAGE, description="Page size, 1 to 100")
    ] = None,
    next_page: Annotated[str | None, Query(description="Cursor from the previous page")] = None,
) -> Response:
    offset = decode_cursor(_GROUPS_CURSOR, next_page)
    try:
        query = parse_groups_query(body)
    except SpecError as error:
        raise BadRequest(error.violations) from None

    def subjects() -> tuple[MeteredMetric, CustomerRef]:
        (metric,) = metered_metrics(store, [query.billable_metric_id], field="billable_metric_id")
        (customer,) = _customers(request).refs([query.customer_id], field="customer_id")
        return metric, customer

    metric, customer = await run_in_threadpool(subjects)
    group_key = query.group_key
    filters = {k: tuple(v) for k, v in (query.group_filters or {}).items() if v}
    violations: list[Violation] = []
    if query.group_by is not None:
        group_key = [query.group_by.key]
        if query.group_by.values:
            filters = {query.group_by.key: tuple(query.group_by.values)}
        field = "group_by.key"
    else:
        field = "group_key"
    if group_key is not None and metric.spec.sql is None:
        violations += group_key_violations(group_key, metric.spec.group_keys, field)
    if violations:
        raise BadRequest(violations)
    if query.starting_on is not None and query.ending_before is not None:
        start, end = query.starting_on, query.ending_before
    else:
        start, end = _default_period()
    groups = GroupsQuery(
        customer=customer,
        metric=metric,
        window_size=query.window_size,
        starting_on=start,
        ending_before=end,
        group_key=None if group_key is None else tuple(group_key),
        group_filters=filters,
    )
    engine = _engines(request).get()
    try:
        computed = await run_in_threadpool(engine.usage_groups, groups)
    except SpecError as error:
        raise BadRequest(error.violations) from None
    size = limit or MAX_GROUPS_PAGE
    rows = computed[offset : offset + size]
    following = offset + size
    cursor = encode_cursor(_GROUPS_CURSOR, following) if following < len(computed) else None
    return _json({"data": [_group_row(r) for r in rows], "next_page": cursor})
