"""Metering over real HTTP: one test per rule of ``metering-semantics.md``.

Every expected value is computed by hand from the events the test sends (never read back
from the engine). The module's server accepts events of any age (``--no-event-age-limit``)
so that the tests can use fixed dates; each test makes its own customers (unique aliases)
and metrics and names them explicitly in its queries, so tests do not see each other's
data. Values are parsed as exact decimals.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from metronome_local.process import LocalServer

if TYPE_CHECKING:
    # Only for annotations: importing the name "conftest" at run time picks whichever
    # conftest.py pytest loaded last (tests/provider's in a whole-suite run).
    from conftest import ApiClient


def unique_name(prefix: str = "metric") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


DAY0 = datetime(2026, 1, 5, tzinfo=UTC)


def at(days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> str:
    moment = DAY0 + timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    return moment.isoformat().replace("+00:00", "Z")


def tid() -> str:
    return f"tx-{uuid.uuid4().hex}"


class Meter:
    """Shortcuts over an ``ApiClient`` for metering tests."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    def customer(self, *aliases: str, **fields: Any) -> tuple[str, str]:
        """A new customer with a unique alias (plus ``aliases``); returns (id, alias)."""
        alias = f"cust-{uuid.uuid4().hex[:12]}"
        body = {"name": unique_name("customer"), "ingest_aliases": [alias, *aliases], **fields}
        response = self.api.post("/v1/customers", json=body)
        assert response.status_code == 200, response.text
        return response.json()["data"]["id"], alias

    def metric(self, **spec: Any) -> str:
        return self.api.create_metric(**spec)

    def ingest(self, *events: dict[str, Any]) -> None:
        response = self.api.post("/v1/ingest", json=list(events))
        assert response.status_code == 200, response.text
        assert response.content == b""

    def usage(self, body: dict[str, Any], **params: Any) -> dict[str, Any]:
        response = self.api.post("/v1/usage", json=body, params=params)
        assert response.status_code == 200, response.text
        page: dict[str, Any] = json.loads(response.text, parse_float=Decimal)
        return page

    def rows(
        self,
        metric: str,
        customer: str,
        *,
        days: int = 1,
        window: str = "NONE",
        start: datetime = DAY0,
        group_by: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        ref: dict[str, Any] = {"id": metric}
        if group_by is not None:
            ref["group_by"] = group_by
        page = self.usage(
            {
                "starting_on": start.isoformat().replace("+00:00", "Z"),
                "ending_before": (start + timedelta(days=days)).isoformat().replace("+00:00", "Z"),
                "window_size": window,
                "customer_ids": [customer],
                "billable_metrics": [ref],
            }
        )
        assert page["next_page"] is None
        rows: list[dict[str, Any]] = page["data"]
        return rows

    def value(self, metric: str, customer: str, days: int = 1) -> Any:
        (row,) = self.rows(metric, customer, days=days)
        return row["value"]

    def groups(self, body: dict[str, Any], **params: Any) -> dict[str, Any]:
        response = self.api.post("/v1/usage/groups", json=body, params=params)
        assert response.status_code == 200, response.text
        page: dict[str, Any] = json.loads(response.text, parse_float=Decimal)
        return page

    def search(self, *ids: str) -> list[dict[str, Any]]:
        response = self.api.post("/v1/events/search", json={"transactionIds": list(ids)})
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()
        return found


def event(
    customer: str,
    when: str | None = None,
    event_type: str = "call",
    transaction_id: str | None = None,
    **properties: Any,
) -> dict[str, Any]:
    return {
        "transaction_id": transaction_id or tid(),
        "customer_id": customer,
        "event_type": event_type,
        "timestamp": when or at(hours=1),
        "properties": properties,
    }


@pytest.fixture(scope="module")
def history_server() -> Iterator[LocalServer]:
    with LocalServer(event_age_limit=False) as server:
        yield server


@pytest.fixture
def meter(history_server: LocalServer, api_for: Callable[..., ApiClient]) -> Meter:
    return Meter(api_for(history_server))


def sum_metric(meter: Meter, kind: str = "SUM", **extra: Any) -> str:
    filters = [{"name": "amount", "exists": True}, *extra.pop("property_filters", [])]
    return meter.metric(
        aggregation_type=kind, aggregation_key="amount", property_filters=filters, **extra
    )


# --- events: batch validation --------------------------------------------------------------

GOOD = {"transaction_id": "t", "customer_id": "c", "event_type": "e", "timestamp": at()}
BAD_BATCHES: list[tuple[Any, str]] = [
    ([{**GOOD, "transaction_id": ""}], "events[0].transaction_id: must not be empty"),
    ([{**GOOD, "transaction_id": "x" * 129}], "events[0].transaction_id: is longer than 128"),
    ([{k: v for k, v in GOOD.items() if k != "customer_id"}], "events[0].customer_id: is required"),
    ([{**GOOD, "customer_id": ""}], "events[0].customer_id: must not be empty"),
    ([{**GOOD, "event_type": ""}], "events[0].event_type: must not be empty"),
    ([{**GOOD, "event_type": 5}], "events[0].event_type"),
    (
        [{**GOOD, "timestamp": "2026-01-05T10:00:00"}],
        "events[0].timestamp: must carry a UTC offset",
    ),
    ([{**GOOD, "timestamp": "yesterday"}], "events[0].timestamp: must be an RFC 3339"),
    ([{**GOOD, "timestamp": 1767571200}], "events[0].timestamp: must be an RFC 3339"),
    ([{**GOOD, "timestamp": "0001-01-01T00:00:00+01:00"}], "events[0].timestamp: is out of range"),
    ([{**GOOD, "properties": ["a"]}], "events[0].properties"),
    ([GOOD, "event"], "events[1]"),
    ([], "a batch holds 1 to 100 events, not 0"),
    ([{**GOOD, "transaction_id": f"t{i}"} for i in range(101)], "1 to 100 events, not 101"),
    ({"events": [GOOD]}, "the body must be a JSON array of events"),
]


@pytest.mark.parametrize(("batch", "expected"), BAD_BATCHES)
def test_a_malformed_event_refuses_the_whole_batch(meter: Meter, batch: Any, expected: str) -> None:
    _customer, alias = meter.customer()
    good = event(alias)  # a valid event in the same batch, which must not be stored
    if isinstance(batch, list) and 1 <= len(batch) < 100:
        batch = [*batch, good]
    response = meter.api.post("/v1/ingest", json=batch)
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"message"}
    assert expected in response.json()["message"]
    assert meter.search(good["transaction_id"]) == []


def test_every_problem_of_a_batch_is_named(meter: Meter) -> None:
    batch = [
        {**GOOD, "transaction_id": ""},
        GOOD,
        {**GOOD, "timestamp": "noon", "event_type": ""},
    ]
    message = meter.api.post("/v1/ingest", json=batch).json()["message"]
    assert "events[0].transaction_id: must not be empty" in message
    assert "events[2].event_type: must not be empty" in message
    assert "events[2].timestamp: must be an RFC 3339" in message
    assert "events[1]" not in message


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-1e400", b'{"deep": [1e999]}'])
def test_numbers_that_are_not_finite_are_refused(meter: Meter, number: bytes) -> None:
    body = b'[{"transaction_id": "t", "customer_id": "c", "event_type": "e",'
    body += b' "timestamp": "2026-01-05T00:00:00Z", "properties": {"n": ' + number + b"}}]"
    response = meter.api.post("/v1/ingest", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["message"].startswith("events[0].properties: numbers must be finite")


@pytest.mark.parametrize(
    "raw",
    [b"[{", b"", b'[{"transaction_id": "\\ud800"}]', b"\xff\xfe"],
    ids=["truncated", "empty", "lone surrogate", "not utf-8"],
)
def test_a_body_that_is_not_json_is_400(meter: Meter, raw: bytes) -> None:
    response = meter.api.post("/v1/ingest", data=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["message"]


def test_timestamps_more_than_24_hours_ahead_are_refused(meter: Meter) -> None:
    now = datetime.now(UTC)
    soon = event("c", (now + timedelta(hours=23)).isoformat())
    late = event("c", (now + timedelta(hours=25)).isoformat())
    response = meter.api.post("/v1/ingest", json=[soon, late])
    assert response.status_code == 400
    assert response.json()["message"] == "events[1].timestamp: is more than 24 hours in the future"
    assert meter.search(soon["transaction_id"]) == []
    meter.ingest(soon)
    assert len(meter.search(soon["transaction_id"])) == 1


def test_events_older_than_34_days_are_refused_by_default(
    local_server: LocalServer, api_for: Callable[..., ApiClient]
) -> None:
    api = api_for(local_server)
    now = datetime.now(UTC)
    old = event("c", (now - timedelta(days=35)).isoformat())
    recent = event("c", (now - timedelta(days=33)).isoformat())
    response = api.post("/v1/ingest", json=[recent, old])
    assert response.status_code == 400
    assert response.json()["message"] == "events[1].timestamp: is more than 34 days in the past"
    assert api.post("/v1/ingest", json=[recent]).status_code == 200


def test_the_age_limit_option_accepts_history(meter: Meter) -> None:
    customer, alias = meter.customer()
    metric = meter.metric(aggregation_type="COUNT")
    meter.ingest(event(alias, "2020-02-29T12:00:00Z"))
    rows = meter.rows(metric, customer, start=datetime(2020, 2, 29, tzinfo=UTC))
    assert rows[0]["value"] == 1


# --- events: dedupe and customers ---------------------------------------------------------


def test_dedupe_the_first_event_wins_within_a_batch(meter: Meter) -> None:
    customer, alias = meter.customer()
    metric = sum_metric(meter)
    same = tid()
    meter.ingest(
        event(alias, transaction_id=same, amount="10"),
        event(alias, transaction_id=same, amount="99"),
        event(alias, amount="1"),
    )
    assert meter.value(metric, customer) == 11


def test_dedupe_across_batches_and_a_replayed_batch_adds_nothing(meter: Meter) -> None:
    customer, alias = meter.customer()
    metric = sum_metric(meter)
    batch = [event(alias, amount="2"), event(alias, amount="3")]
    meter.ingest(*batch)
    meter.ingest(*batch)  # the same batch again
    meter.ingest({**batch[0], "properties": {"amount": "1000"}}, event(alias, amount="5"))
    assert meter.value(metric, customer) == 2 + 3 + 5
    found = meter.search(batch[0]["transaction_id"])
    assert [e["is_duplicate"] for e in found] == [False, True, True]
    assert found[0]["properties"] == {"amount": "2"}


def test_concurrent_overlapping_batches_count_each_event_once(
    meter: Meter, history_server: LocalServer, api_for: Callable[..., ApiClient]
) -> None:
    """Eight clients at once send batches that share half their transaction ids."""
    customer, alias = meter.customer()
    metric = meter.metric(aggregation_type="COUNT")
    ids = [tid() for _ in range(400)]

    def send(client: int) -> int:
        api = api_for(history_server)  # one session per client thread
        start = client * 50  # clients k and k+1 share 50 ids
        batch = [event(alias, transaction_id=i) for i in ids[start : start + 100]]
        return api.post("/v1/ingest", json=batch).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(send, range(7)))
    assert statuses == [200] * 7
    assert meter.value(metric, customer) == 400  # the union: ids[0:400]


def test_events_resolve_to_customers_at_query_time(meter: Meter) -> None:
    customer, alias = meter.customer()
    metric = meter.metric(aggregation_type="COUNT")
    later = f"later-{uuid.uuid4().hex[:8]}"
    meter.ingest(event(later), event(later), event(alias))
    assert meter.value(metric, customer) == 1  # the unknown alias is kept, not counted
    response = meter.api.post(
        f"/v1/customers/{customer}/setIngestAliases", json={"ingest_aliases": [alias, later]}
    )
    assert response.status_code == 200
    assert meter.value(metric, customer) == 3


def test_events_may_name_a_customer_by_id_alias_or_external_id(meter: Meter) -> None:
    external = f"ext-{uuid.uuid4().hex[:8]}"
    customer, alias = meter.customer(external_id=external)
    metric = meter.metric(aggregation_type="COUNT")
    meter.ingest(event(customer), event(alias), event(external))
    assert meter.value(metric, customer) == 3


def test_usage_of_many_customers_resolves_every_id_and_alias(meter: Meter) -> None:
    """Nine customers, each with an id and an alias: 18 ids an event may carry in one
    query, more than the engine reads one by one (it joins them to the events instead)."""
    customers = [meter.customer() for _ in range(9)]
    metric = sum_metric(meter)
    ids = [c for c, _ in customers]
    aliases = [a for _, a in customers]
    repeated = event(aliases[7], amount=128)
    meter.ingest(
        event(aliases[0], amount=1),
        event(ids[0], amount=2),
        event(aliases[1], amount=4),
        event(ids[3], amount=8),
        event(aliases[4], amount=16),
        event(aliases[5], amount=32),
        event(ids[6], amount=64),
        repeated,
        event(f"stranger-{uuid.uuid4().hex[:8]}", amount=256),  # nobody's id or alias
    )
    # The same transaction id under another customer's alias: a duplicate, ignored.
    meter.ingest({**repeated, "customer_id": aliases[8], "properties": {"amount": 512}})
    page = meter.usage(
        {
            "starting_on": at(),
            "ending_before": at(days=1),
            "window_size": "NONE",
            "customer_ids": ids,
            "billable_metrics": [{"id": metric}],
        }
    )
    assert page["next_page"] is None
    found = {row["customer_id"]: row["value"] for row in page["data"]}
    expected = [3, 4, 0, 8, 16, 32, 64, 128, 0]  # customer 0: 1 by alias + 2 by id
    assert found == dict(zip(ids, expected, strict=True))


def test_an_archived_customers_alias_moves_to_the_customer_that_takes_it(meter: Meter) -> None:
    first, alias = meter.customer()
    metric = meter.metric(aggregation_type="COUNT")
    meter.ingest(event(alias), event(alias))
    assert meter.api.post("/v1/customers/archive", json={"id": first}).status_code == 200
    assert meter.value(metric, first) == 2  # still readable once archived
    response = meter.api.post("/v1/customers", json={"name": "heir", "ingest_aliases": [alias]})
    assert response.status_code == 200, response.text
    heir = response.json()["data"]["id"]
    assert meter.value(metric, heir) == 2  # resolved at query time, to the live holder
    assert meter.value(metric, first) == 0


# --- matching -------------------------------------------------------------------------------


def test_event_type_filter_is_exact_and_case_sensitive(meter: Meter) -> None:
    customer, alias = meter.customer()
    only = meter.metric(aggregation_type="COUNT", event_type_filter={"in_values": ["call", "job"]})
    not_in = meter.metric(aggregation_type="COUNT", event_type_filter={"not_in_values": ["call"]})
    meter.ingest(
        event(alias, event_type="call"),
        event(alias, event_type="job"),
        event(alias, event_type="Call"),
        event(alias, event_type="call "),
        event(alias, event_type="other"),
    )
    assert meter.value(only, customer) == 2  # call, job
    assert meter.value(not_in, customer) == 4  # job, Call, "call ", other


def test_property_filter_exists(meter: Meter) -> None:
    customer, alias = meter.customer()
    present = meter.metric(
        aggregation_type="COUNT", property_filters=[{"name": "region", "exists": True}]
    )
    absent = meter.metric(
        aggregation_type="COUNT", property_filters=[{"name": "region", "exists": False}]
    )
    meter.ingest(
        event(alias, region="us"),
        event(alias, region=""),  # present: an empty string is not null
        event(alias, region=None),  # null counts as absent
        event(alias),
        event(alias, other="x"),
    )
    assert meter.value(present, customer) == 2
    assert meter.value(absent, customer) == 3


def test_property_filter_values_compare_texts(meter: Meter) -> None:
    customer, alias = meter.customer()
    five = meter.metric(
        aggregation_type="COUNT", property_filters=[{"name": "n", "in_values": ["5", "2.5"]}]
    )
    flag = meter.metric(
        aggregation_type="COUNT", property_filters=[{"name": "on", "in_values": ["true"]}]
    )
    meter.ingest(
        event(alias, n=5),  # 5
        event(alias, n=5.0),  # 5
        event(alias, n="5"),  # 5
        event(alias, n=2.50),  # 2.5
        event(alias, n="5.0"),  # a string is its own text: "5.0" is not listed
        event(alias, n=6),
        event(alias),  # absent: in_values needs it present
        event(alias, on=True),
        event(alias, on="true"),
        event(alias, on=False),
    )
    assert meter.value(five, customer) == 4
    assert meter.value(flag, customer) == 2


def test_property_filter_not_in_values_passes_absent_properties(meter: Meter) -> None:
    customer, alias = meter.customer()
    metric = meter.metric(
        aggregation_type="COUNT",
        property_filters=[{"name": "status", "not_in_values": ["4xx", "5xx"]}],
    )
    meter.ingest(
        event(alias, status="2xx"),
        event(alias, status="4xx"),
        event(alias, status="5xx"),
        event(alias),  # absent: passes (decision)
        event(alias, status=None),  # null: absent, passes
    )
    assert meter.value(metric, customer) == 3


def test_streaming_metrics_are_not_retroactive(meter: Meter) -> None:
    customer, alias = meter.customer()
    before = event(alias, at(hours=1))
    meter.ingest(before)
    metric = meter.metric(aggregation_type="COUNT")
    meter.ingest(event(alias, at(hours=1)), event(alias, at(hours=2)))
    assert meter.value(metric, customer) == 2  # the event ingested before creation is not seen
    archive = meter.api.post("/v1/billable-metrics/archive", json={"id": metric})
    assert archive.status_code == 200
    meter.ingest(event(alias, at(hours=3)))
    assert meter.value(metric, customer) == 2  # nor one ingested after archiving
    matched = meter.search(before["transaction_id"])[0]["matched_billable_metrics"]
    assert metric not in [m["id"] for m in matched]


# --- aggregations ---------------------------------------------------------------------------


def test_count_sum_max_over_exact_decimals(meter: Meter) -> None:
    customer, alias = meter.customer()
    count = meter.metric(aggregation_type="COUNT")
    total = sum_metric(meter)
    peak = sum_metric(meter, "MAX")
    meter.ingest(
        event(alias, amount="0.1"),
        event(alias, amount=0.2),
        event(alias, amount="12345678901234567890.05"),
        event(alias, amount=-3),
        event(alias, amount="abc"),  # matches, adds nothing
        event(alias, amount=True),  # not a number: adds nothing
    )
    assert meter.value(count, customer) == 6
    assert meter.value(total, customer) == Decimal("12345678901234567887.35")
    assert meter.value(peak, customer) == Decimal("12345678901234567890.05")


def test_latest_is_the_value_with_the_greatest_timestamp(meter: Meter) -> None:
    customer, alias = meter.customer()
    latest = sum_metric(meter, "LATEST")
    meter.ingest(event(alias, at(hours=5), amount="3"), event(alias, at(hours=2), amount="9"))
    meter.ingest(event(alias, at(hours=4), amount="7"))  # ingested last, but earlier
    assert meter.value(latest, customer) == 3


def test_latest_ties_go_to_the_event_ingested_last(meter: Meter) -> None:
    customer, alias = meter.customer()
    latest = sum_metric(meter, "LATEST")
    meter.ingest(event(alias, at(hours=5), amount="3"))
    meter.ingest(event(alias, at(hours=5), amount="8"))
    meter.ingest(event(alias, at(hours=1), amount="1"))
    assert meter.value(latest, customer) == 8


def test_unique_counts_distinct_texts(meter: Meter) -> None:
    customer, alias = meter.customer()
    unique = sum_metric(meter, "UNIQUE")
    meter.ingest(
        event(alias, amount="u1"),
        event(alias, amount="u1"),
        event(alias, amount=5),
        event(alias, amount="5"),  # same text as 5
        event(alias, amount=5.0),  # same text as 5
        event(alias, amount="u2"),
    )
    meter.ingest(event(alias))  # no amount: does not match (exists filter), not counted
    assert meter.value(unique, customer) == 3  # u1, 5, u2


def test_empty_windows_are_zero_or_null_by_aggregation(meter: Meter) -> None:
    customer, _alias = meter.customer()
    expected = {"COUNT": 0, "SUM": 0, "UNIQUE": 0, "MAX": None, "LATEST": None}
    for kind, value in expected.items():
        metric = (
            meter.metric(aggregation_type="COUNT") if kind == "COUNT" else sum_metric(meter, kind)
        )
        assert meter.value(metric, customer) == value, kind


# --- windows and rows -----------------------------------------------------------------------


def test_hour_windows_hold_start_and_exclude_end(meter: Meter) -> None:
    customer, alias = meter.customer()
    metric = meter.metric(aggregation_type="COUNT")
    meter.ingest(
        event(alias, at(hours=0)),  # window 0
        event(alias, at(hours=0, minutes=59, seconds=59.999)),  # window 0
        event(alias, at(hours=1)),  # window 1
        event(alias, at(hours=23, minutes=30)),  # window 23
        event(alias, at(days=1)),  # the next day: outside the period
        event(alias, at(seconds=-1)),  # the day before: outside
    )
    rows = meter.rows(metric, customer, window="hour")
    assert len(rows) == 24
    assert [r["value"] for r in rows] == [2, 1, *[0] * 21, 1]
    assert rows[0]["start_timestamp"] == "2026-01-05T00:00:00Z"
    assert rows[0]["end_timestamp"] == "2026-01-05T01:00:00Z"
    assert rows[-1]["end_timestamp"] == "2026-01-06T00:00:00Z"


def test_day_and_none_windows(meter: Meter) -> None:
    customer, alias = meter.customer()
    metric = sum_metric(meter)
    meter.ingest(
        event(alias, at(days=0, hours=3), amount=1),
        event(alias, at(days=2, hours=23), amount=2),
        event(alias, at(days=2, hours=1), amount=4),
    )
    days = meter.rows(metric, customer, days=3, window="Day")
    assert [(r["start_timestamp"], r["value"]) for r in days] == [
        ("2026-01-05T00:00:00Z", 1),
        ("2026-01-06T00:00:00Z", 0),  # empty windows are rows too
        ("2026-01-07T00:00:00Z", 6),
    ]
    (whole,) = meter.rows(metric, customer, days=3, window="none")
    assert (whole["start_timestamp"], whole["end_timestamp"], whole["value"]) == (
        "2026-01-05T00:00:00Z",
        "2026-01-08T00:00:00Z",
        7,
    )


def test_timestamps_with_offsets_are_placed_in_utc(meter: Meter) -> None:
    customer, alias = meter.customer()
    metric = meter.metric(aggregation_type="COUNT")
    # 2026-01-06T01:30+02:00 is 2026-01-05T23:30Z: the first day.
    meter.ingest(event(alias, "2026-01-06T01:30:00+02:00"))
    rows = meter.rows(metric, customer, days=2, window="DAY")
    assert [r["value"] for r in rows] == [1, 0]


BAD_PERIODS: list[tuple[dict[str, Any], str]] = [
    ({"starting_on": "2026-01-05T01:00:00Z"}, "starting_on: must be aligned to UTC midnight"),
    ({"ending_before": "2026-01-05T12:00:00Z"}, "ending_before: must be aligned to UTC midnight"),
    ({"ending_before": "2026-01-05T00:00:00Z"}, "ending_before: must be at least one day after"),
    ({"ending_before": "2026-01-04T00:00:00Z"}, "ending_before: must be at least one day after"),
    ({"starting_on": "2026-01-05"}, "starting_on: must"),
    ({"starting_on": "2026-01-05T00:00:00"}, "starting_on: must carry a UTC offset"),
    ({"window_size": "week"}, "window_size: must be one of HOUR, DAY, NONE"),
    ({"window_size": None}, "window_size"),
    ({"customer_ids": "abc"}, "customer_ids"),
    ({"billable_metrics": [{"id": ""}]}, "billable_metrics[0].id: must not be empty"),
    ({"billable_metrics": [{"id": "x", "group_by": {}}]}, "billable_metrics[0].group_by.key"),
    ({"extra": 1}, "extra: is not a known field"),
    ({"starting_on": "0001-01-01T00:00:00+00:01"}, "starting_on: is out of range"),
    (
        {"starting_on": "2024-01-01T00:00:00Z", "window_size": "hour"},
        "ending_before: the period holds more than 10000 HOUR windows",
    ),
]


@pytest.mark.parametrize(("change", "expected"), BAD_PERIODS)
def test_bad_usage_queries_are_400(meter: Meter, change: dict[str, Any], expected: str) -> None:
    body = {
        "starting_on": "2026-01-05T00:00:00Z",
        "ending_before": "2026-01-06T00:00:00Z",
        "window_size": "DAY",
        **change,
    }
    response = meter.api.post("/v1/usage", json=body)
    assert response.status_code == 400, response.text
    assert expected in response.json()["message"]


def test_a_utc_midnight_may_be_written_with_an_offset(meter: Meter) -> None:
    customer, alias = meter.customer()
    metric = meter.metric(aggregation_type="COUNT")
    meter.ingest(event(alias))
    page = meter.usage(
        {
            "starting_on": "2026-01-05T02:00:00+02:00",  # 2026-01-05T00:00Z
            "ending_before": "2026-01-06T00:00:00Z",
            "window_size": "NONE",
            "customer_ids": [customer],
            "billable_metrics": [{"id": metric}],
        }
    )
    assert page["data"][0]["value"] == 1
    assert page["data"][0]["start_timestamp"] == "2026-01-05T00:00:00Z"


def test_unknown_customers_and_metrics_are_404(meter: Meter) -> None:
    customer, _ = meter.customer()
    metric = meter.metric(aggregation_type="COUNT")
    base = {"starting_on": at(), "ending_before": at(days=1), "window_size": "DAY"}
    ghost = str(uuid.uuid4())
    response = meter.api.post("/v1/usage", json={**base, "customer_ids": [customer, ghost]})
    assert response.status_code == 404
    assert response.json()["message"] == f"customer_ids[1]: customer {ghost} not found"
    response = meter.api.post(
        "/v1/usage", json={**base, "customer_ids": [customer], "billable_metrics": [{"id": ghost}]}
    )
    assert response.status_code == 404
    assert (
        response.json()["message"] == f"billable_metrics[0].id: billable metric {ghost} not found"
    )
    for body in (
        {"customer_id": ghost, "billable_metric_id": metric},
        {"customer_id": customer, "billable_metric_id": ghost},
    ):
        response = meter.api.post("/v1/usage/groups", json={**body, "window_size": "DAY"})
        assert response.status_code == 404, response.text
        assert ghost in response.json()["message"]


def test_rows_cover_every_customer_and_metric_in_order(
    fresh_server: LocalServer, api_for: Callable[..., ApiClient]
) -> None:
    """Without customer_ids / billable_metrics: every live customer and every live metric,
    ordered by customer id, metric id, window start, empty windows included."""
    meter = Meter(api_for(fresh_server))
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=1)
    customers = [meter.customer() for _ in range(3)]
    archived_customer, _ = meter.customer()
    meter.api.post("/v1/customers/archive", json={"id": archived_customer})
    metrics = [meter.metric(aggregation_type="COUNT") for _ in range(2)]
    archived_metric = meter.metric(aggregation_type="COUNT")
    meter.api.post("/v1/billable-metrics/archive", json={"id": archived_metric})
    iso = start.isoformat().replace("+00:00", "Z")
    meter.ingest(event(customers[1][1], iso), event(customers[1][1], iso))
    body = {
        "starting_on": iso,
        "ending_before": (today + timedelta(days=1)).isoformat().replace("+00:00", "Z"),
        "window_size": "DAY",
    }
    rows = meter.usage(body)["data"]
    expected = [
        (c, m, s)
        for c in sorted(c for c, _ in customers)
        for m in sorted(metrics)
        for s in (iso, today.isoformat().replace("+00:00", "Z"))
    ]
    assert [(r["customer_id"], r["billable_metric_id"], r["start_timestamp"]) for r in rows] == (
        expected
    )
    values = {(r["customer_id"], r["start_timestamp"]): r["value"] for r in rows}
    assert values[(customers[1][0], iso)] == 2
    assert sum(values.values()) == 2
    names = {r["billable_metric_id"]: r["billable_metric_name"] for r in rows}
    assert names == {m: meter.api.metric(m)["name"] for m in metrics}


def test_usage_pages(fresh_server: LocalServer, api_for: Callable[..., ApiClient]) -> None:
    """100 rows a page; every row once, in order, across pages."""
    meter = Meter(api_for(fresh_server))
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    customers = sorted(meter.customer()[0] for _ in range(3))
    metric = meter.metric(aggregation_type="COUNT")
    body = {
        "starting_on": (today - timedelta(days=2)).isoformat().replace("+00:00", "Z"),
        "ending_before": (today + timedelta(days=1)).isoformat().replace("+00:00", "Z"),
        "window_size": "HOUR",  # 72 rows per customer, 216 in all
        "billable_metrics": [{"id": metric}],
    }
    rows: list[dict[str, Any]] = []
    page = meter.usage(body)
    pages = 1
    rows += page["data"]
    while page["next_page"]:
        page = meter.usage(body, next_page=page["next_page"])
        rows += page["data"]
        pages += 1
    assert pages == 3
    assert len(rows) == 216
    assert [r["customer_id"] for r in rows] == [c for c in customers for _ in range(72)]
    assert len({(r["customer_id"], r["start_timestamp"]) for r in rows}) == 216
    bad = meter.api.post("/v1/usage", json=body, params={"next_page": "nope"})
    assert bad.status_code == 400
    assert bad.json()["message"] == "next_page: is not a valid cursor"


# --- group_by ---------------------------------------------------------------------------------


def region_metric(meter: Meter) -> str:
    return meter.metric(
        aggregation_type="SUM",
        aggregation_key="amount",
        property_filters=[
            {"name": "amount", "exists": True},
            {"name": "region", "exists": True},
            {"name": "tier", "in_values": ["free", "pro"]},
        ],
        group_keys=[["region"], ["region", "tier"]],
    )


def test_group_by_splits_the_value(meter: Meter) -> None:
    customer, alias = meter.customer()
    metric = region_metric(meter)
    meter.ingest(
        event(alias, at(hours=1), amount=1, region="us", tier="free"),
        event(alias, at(hours=2), amount=2, region="us", tier="pro"),
        event(alias, at(hours=3), amount=4, region="eu", tier="pro"),
        event(alias, at(days=1, hours=1), amount=8, region="eu", tier="free"),
    )
    rows = meter.rows(metric, customer, days=2, window="DAY", group_by={"key": "region"})
    assert [(r["value"], r["groups"]) for r in rows] == [
        (7, {"us": 3, "eu": 4}),
        (8, {"us": None, "eu": 8}),  # every value seen in the period; null: nothing matched
    ]
    listed = meter.rows(
        metric, customer, days=2, window="NONE", group_by={"key": "tier", "values": ["pro", "x"]}
    )
    assert [(r["value"], r["groups"]) for r in listed] == [(15, {"pro": 6, "x": None})]
    plain = meter.rows(metric, customer, days=2, window="NONE")
    assert "groups" not in plain[0]


def test_group_by_key_must_be_a_group_key_property(meter: Meter) -> None:
    customer, _ = meter.customer()
    metric = region_metric(meter)
    count = meter.metric(aggregation_type="COUNT")
    base = {"starting_on": at(), "ending_before": at(days=1), "window_size": "DAY"}
    for ref, expected in [
        ({"id": metric, "group_by": {"key": "amount"}}, "'amount' is not a property"),
        ({"id": count, "group_by": {"key": "region"}}, "the metric has no group keys"),
    ]:
        response = meter.api.post(
            "/v1/usage", json={**base, "customer_ids": [customer], "billable_metrics": [ref]}
        )
        assert response.status_code == 400, response.text
        message = response.json()["message"]
        assert message.startswith("billable_metrics[0].group_by.key:"), message
        assert expected in message


# --- /v1/usage/groups ---------------------------------------------------------------------------


def test_usage_groups_simple_and_compound_keys(meter: Meter) -> None:
    customer, alias = meter.customer()
    metric = region_metric(meter)
    meter.ingest(
        event(alias, at(hours=1), amount=1, region="us", tier="free"),
        event(alias, at(hours=2), amount=2, region="us", tier="pro"),
        event(alias, at(hours=3), amount=4, region="us", tier="pro"),
        event(alias, at(days=2, hours=3), amount=8, region="eu", tier="free"),
    )
    base = {
        "customer_id": customer,
        "billable_metric_id": metric,
        "starting_on": at(),
        "ending_before": at(days=3),
    }
    simple = meter.groups({**base, "window_size": "day", "group_key": ["region"]})
    got = [(r["starting_on"], r["group"], r["value"]) for r in simple["data"]]
    assert sorted(got, key=str) == sorted(
        [
            ("2026-01-05T00:00:00Z", {"region": "us"}, 7),
            ("2026-01-07T00:00:00Z", {"region": "eu"}, 8),  # only windows with events
        ],
        key=str,
    )
    assert all(r["group_key"] == "region" for r in simple["data"])
    compound = meter.groups({**base, "window_size": "NONE", "group_key": ["tier", "region"]})
    got = [(r["group"], r["value"]) for r in compound["data"]]
    assert sorted(got, key=str) == sorted(
        [
            ({"region": "us", "tier": "free"}, 1),
            ({"region": "us", "tier": "pro"}, 6),
            ({"region": "eu", "tier": "free"}, 8),
        ],
        key=str,
    )
    assert all("group_key" not in r for r in compound["data"])
    filtered = meter.groups(
        {
            **base,
            "window_size": "NONE",
            "group_key": ["region", "tier"],
            "group_filters": {"tier": ["free"]},
        }
    )
    got = [(r["group"], r["value"]) for r in filtered["data"]]
    assert sorted(got, key=str) == sorted(
        [({"region": "us", "tier": "free"}, 1), ({"region": "eu", "tier": "free"}, 8)], key=str
    )
    legacy = meter.groups(
        {**base, "window_size": "NONE", "group_by": {"key": "region", "values": ["eu"]}}
    )
    assert [(r["group"], r["value"]) for r in legacy["data"]] == [({"region": "eu"}, 8)]


def test_usage_groups_key_rules(meter: Meter) -> None:
    customer, _ = meter.customer()
    metric = region_metric(meter)
    base = {
        "customer_id": customer,
        "billable_metric_id": metric,
        "window_size": "DAY",
        "starting_on": at(),
        "ending_before": at(days=1),
    }
    cases: list[tuple[dict[str, Any], str]] = [
        ({"group_key": ["tier"]}, "group_key: ['tier'] is not one of the metric's group keys"),
        ({"group_key": ["amount"]}, "group_key:"),
        ({"group_key": ["region", "region"]}, "group_key: lists 'region' more than once"),
        ({"group_key": []}, "group_key"),
        ({"group_key": ["region"], "group_filters": {"tier": ["x"]}}, "group_filters['tier']"),
        ({"group_filters": {"region": ["x"]}}, "group_filters: needs group_key"),
        (
            {"group_key": ["region"], "group_filters": {"region": ["v"] * 201}},
            "at most 200",
        ),
        ({"group_key": ["region"], "group_by": {"key": "region"}}, "group_by: cannot be used"),
        ({"starting_on": None}, "starting_on: is required when"),
        ({"current_period": True}, "current_period:"),
        ({"window_size": "month"}, "window_size: must be one of"),
        ({"ending_before": at(hours=12)}, "ending_before: must be aligned to UTC midnight"),
    ]
    for change, expected in cases:
        body = {k: v for k, v in {**base, **change}.items() if v is not None}
        response = meter.api.post("/v1/usage/groups", json=body)
        assert response.status_code == 400, (change, response.text)
        assert expected in response.json()["message"], (change, response.json())


def test_usage_groups_pages(meter: Meter) -> None:
    customer, alias = meter.customer()
    metric = region_metric(meter)
    meter.ingest(
        *(event(alias, at(hours=h), amount=1, region=f"r{h}", tier="pro") for h in range(5))
    )
    body = {
        "customer_id": customer,
        "billable_metric_id": metric,
        "window_size": "NONE",
        "starting_on": at(),
        "ending_before": at(days=1),
        "group_key": ["region"],
    }
    seen: list[str] = []
    page = meter.groups(body, limit=2)
    seen += [r["group_value"] for r in page["data"]]
    while page["next_page"]:
        assert len(page["data"]) == 2
        page = meter.groups(body, limit=2, next_page=page["next_page"])
        seen += [r["group_value"] for r in page["data"]]
    assert sorted(seen) == ["r0", "r1", "r2", "r3", "r4"]
    for limit in (0, 101):
        assert (
            meter.api.post("/v1/usage/groups", json=body, params={"limit": limit}).status_code
            == 400
        )


# --- SQL metrics --------------------------------------------------------------------------------


def test_sql_metric_with_a_group_column(meter: Meter) -> None:
    customer, alias = meter.customer()
    meter.ingest(
        event(alias, at(hours=1), event_type="job", gpu_seconds="3600", team="ml"),
        event(alias, at(hours=2), event_type="job", gpu_seconds="1800", team="ml"),
        event(alias, at(hours=3), event_type="job", gpu_seconds="7200", team="infra"),
        event(alias, at(hours=4), event_type="other", gpu_seconds="9999", team="ml"),
    )
    # SQL metrics see every stored event, also those ingested before their creation.
    total = meter.metric(
        sql="SELECT SUM(CAST(properties.gpu_seconds AS DOUBLE)) / 3600 AS value "
        "FROM events WHERE event_type = 'job'"
    )
    per_team = meter.metric(
        sql="SELECT properties.team AS team, SUM(CAST(properties.gpu_seconds AS DOUBLE)) / 3600 "
        "AS value FROM events WHERE event_type = 'job' GROUP BY properties.team"
    )
    assert meter.value(total, customer) == Decimal("3.5")
    rows = meter.groups(
        {
            "customer_id": customer,
            "billable_metric_id": per_team,
            "window_size": "NONE",
            "starting_on": at(),
            "ending_before": at(days=1),
            "group_key": ["team"],
        }
    )["data"]
    assert sorted((r["group"]["team"], r["value"]) for r in rows) == [
        ("infra", 2),
        ("ml", Decimal("1.5")),
    ]


@pytest.mark.parametrize(
    "sql",
    [
        "SELEC COUNT(*) FROM events",
        "SELECT COUNT(*) FROM customers",
        "DELETE FROM events",
        "SELECT COUNT(*) FROM events; DROP TABLE events",
    ],
)
def test_bad_sql_is_refused_at_creation(meter: Meter, sql: str) -> None:
    response = meter.api.post(
        "/v1/billable-metrics/create", json={"name": unique_name(), "sql": sql}
    )
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith("sql:")


# --- search, faults, idempotency, persistence -------------------------------------------------


def test_search_reports_matches_customers_and_duplicates(meter: Meter) -> None:
    customer, alias = meter.customer()
    count = meter.metric(aggregation_type="COUNT", event_type_filter={"in_values": ["call"]})
    other = meter.metric(aggregation_type="COUNT", event_type_filter={"in_values": ["job"]})
    sent = event(alias, at(hours=1), region="us")
    stranger = event("nobody-" + uuid.uuid4().hex, at(hours=1))
    meter.ingest(sent, stranger)
    meter.ingest(sent)
    found = meter.search(sent["transaction_id"], stranger["transaction_id"], "never-sent")
    mine = [e for e in found if e["transaction_id"] == sent["transaction_id"]]
    assert [e["is_duplicate"] for e in mine] == [False, True]
    first = mine[0]
    assert first["customer_id"] == alias
    assert first["event_type"] == "call"
    assert first["timestamp"] == "2026-01-05T01:00:00Z"
    assert first["properties"] == {"region": "us"}
    assert first["matched_customer"] == {"id": customer, "name": first["matched_customer"]["name"]}
    ids = [m["id"] for m in first["matched_billable_metrics"]]
    assert count in ids and other not in ids
    assert mine[1]["matched_billable_metrics"] == []  # a duplicate counts for nothing
    (lost,) = [e for e in found if e["transaction_id"] == stranger["transaction_id"]]
    assert "matched_customer" not in lost
    for body in ({}, {"transactionIds": []}, {"transactionIds": [""]}, {"transactionIds": "x"}):
        response = meter.api.post("/v1/events/search", json=body)
        assert response.status_code == 400, body
        assert "transaction" in response.json()["message"]


def test_a_retried_dropped_ingest_counts_once(
    local_server_factory: Callable[..., LocalServer], api_for: Callable[..., ApiClient]
) -> None:
    server = local_server_factory(event_age_limit=False)
    meter = Meter(api_for(server))
    customer, alias = meter.customer()
    metric = meter.metric(aggregation_type="COUNT")
    batch = [event(alias) for _ in range(10)]
    server.set_faults(drop_rate=1.0)
    with pytest.raises(requests.exceptions.RequestException):
        meter.api.post("/v1/ingest", json=batch)
    server.set_faults(drop_rate=0)
    meter.ingest(*batch)  # the client retries the batch whose answer it never got
    assert meter.value(metric, customer) == 10
    assert [e.get("dropped", False) for e in server.requests()][-3:-1] == [True, False]


def test_injected_errors_store_nothing(
    local_server_factory: Callable[..., LocalServer], api_for: Callable[..., ApiClient]
) -> None:
    server = local_server_factory(event_age_limit=False)
    meter = Meter(api_for(server))
    customer, alias = meter.customer()
    metric = meter.metric(aggregation_type="COUNT")
    server.set_faults(error_rate=1.0)
    statuses = {meter.api.post("/v1/ingest", json=[event(alias)]).status_code for _ in range(8)}
    assert statuses <= {429, 500, 502, 503}
    server.set_faults(error_rate=0, latency_ms=20)
    meter.ingest(event(alias))
    assert meter.value(metric, customer) == 1


def test_idempotency_keys_on_ingest(meter: Meter) -> None:
    customer, alias = meter.customer()
    metric = meter.metric(aggregation_type="COUNT")
    batch = [event(alias), event(alias)]
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = meter.api.post("/v1/ingest", json=batch, headers=key)
    again = meter.api.post("/v1/ingest", json=batch, headers=key)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = meter.api.post("/v1/ingest", json=[event(alias)], headers=key)
    assert other.status_code == 409
    assert meter.value(metric, customer) == 2


def test_a_restart_loses_nothing(
    local_server_factory: Callable[..., LocalServer], api_for: Callable[..., ApiClient]
) -> None:
    server = local_server_factory(event_age_limit=False)
    meter = Meter(api_for(server))
    customer, alias = meter.customer()
    metric = sum_metric(meter)
    sent = [event(alias, amount=i) for i in range(1, 6)]
    meter.ingest(*sent)
    server.restart()
    meter = Meter(api_for(server))
    assert meter.value(metric, customer) == 15
    meter.ingest(sent[0])  # still a duplicate after the restart
    assert meter.value(metric, customer) == 15
    assert meter.search(sent[0]["transaction_id"])[0]["is_duplicate"] is False


def test_reset_forgets_every_event_of_a_file_database(
    local_server_factory: Callable[..., LocalServer], api_for: Callable[..., ApiClient]
) -> None:
    server = local_server_factory(event_age_limit=False)
    meter = Meter(api_for(server))
    sent = event("someone")
    meter.ingest(sent)
    server.reset()
    assert meter.search(sent["transaction_id"]) == []
    server.restart()  # nothing comes back from the engine's files either
    meter = Meter(api_for(server))
    assert meter.search(sent["transaction_id"]) == []
    meter.ingest(sent)  # not a duplicate any more
    assert [e["is_duplicate"] for e in meter.search(sent["transaction_id"])] == [False]


def test_events_live_in_a_duckdb_file_beside_the_sqlite_file(
    tmp_path: Path,
    local_server_factory: Callable[..., LocalServer],
    api_for: Callable[..., ApiClient],
) -> None:
    server = local_server_factory(db=tmp_path / "pricing.db", event_age_limit=False)
    assert "--no-event-age-limit" in server.command()
    Meter(api_for(server)).ingest(event("someone"))
    server.stop()
    assert (tmp_path / "pricing.db").is_file()
    assert (tmp_path / "pricing.events.duckdb").is_file()
