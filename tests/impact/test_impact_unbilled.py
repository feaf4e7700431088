"""Unbilled events: the events no metric reads, counted once each, every expected count
worked out by hand from the events listed in the test.

The trap these guard: a filter on a property the event lacks is NULL in SQL, and
``NOT (NULL)`` is NULL too, so such an event used to fall out of both "matched" and "not
matched". And with a SQL metric in the stack the count used to be unknown: a SQL metric of
the documented form reads the events its WHERE holds for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from pulumi_metronome.impact.synthetic import (
    UNKNOWN,
    event,
    export,
    metric,
    plan,
    run,
    step,
)
from pulumi_metronome.metering.queries import match_condition
from pulumi_metronome.models import BillableMetricSpec

T = "2026-10-01T10:00:00Z"

#: Completions of model "a" (a property the event may lack).
MODEL_A: dict[str, Any] = {
    "aggregation_type": "COUNT",
    "event_type_filter": {"in_values": ["completion"]},
    "property_filters": [{"name": "model", "in_values": ["a"]}],
}
#: Page views.
PAGES: dict[str, Any] = {"aggregation_type": "COUNT", "event_type_filter": {"in_values": ["page"]}}
#: Searches, except internal ones (an absent region passes a not_in_values filter).
SEARCHES: dict[str, Any] = {
    "aggregation_type": "COUNT",
    "event_type_filter": {"in_values": ["search"]},
    "property_filters": [{"name": "region", "not_in_values": ["internal"]}],
}


def mixed_events() -> list[dict[str, Any]]:
    return [
        event("e1", "acme", T, "completion", model="a"),  # MODEL_A
        event("e2", "acme", T, "page"),  # PAGES
        event("e3", "acme", T, "completion", model="b"),  # none
        event("e4", "beta", T, "completion"),  # none: lacks `model`
        event("e5", "beta", T, "signup"),  # none
        event("e6", "beta", T, "search"),  # SEARCHES: lacks `region`, passes not_in
        event("e7", "beta", T, "search", region="internal"),  # none
        event("e8", "beta", T, "completion", model=None),  # none: null reads as absent
    ]


def unchanged(*metrics: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    return export(*metrics), plan(*(step("same", m, m) for m in metrics))


def test_an_event_lacking_a_filtered_property_is_unbilled(tmp_path: Path) -> None:
    state, preview = unchanged(
        metric("model_a", "m-1", **MODEL_A),
        metric("pages", "m-2", **PAGES),
        metric("searches", "m-3", **SEARCHES),
    )
    impact, md, data = run(tmp_path, state, preview, mixed_events())
    # By hand: e1, e2, e6 are read (each by exactly one metric); e3, e4, e5, e7, e8 are not.
    # Were the metrics' matches joined with AND, all 8 would count; with NOT (NULL), e4
    # and e8 would drop out (3).
    assert data["unbilled"] == {"now": 5, "proposed": 5}
    assert data["unbilled_unknown"] == {"now": 0, "proposed": 0}
    assert "| 5 | 5 | 0 (0.0%) |" in md
    # The metrics' usage agrees with the same reading: one event each.
    assert {m["resource"]: m["usage"]["now"] for m in data["metrics"]} == {
        "model_a": "1",
        "pages": "1",
        "searches": "1",
    }
    assert impact.events_used == 8


def test_a_change_that_lets_an_event_through_lowers_the_proposed_count(tmp_path: Path) -> None:
    old = metric("model_a", "m-1", **MODEL_A)
    pages = metric("pages", "m-2", **PAGES)
    # Proposed: completions of any model except "b" (an absent model passes not_in_values).
    new = metric(
        "model_a",
        **{**MODEL_A, "property_filters": [{"name": "model", "not_in_values": ["b"]}]},
    )
    state = export(old, pages)
    preview = plan(step("replace", new, old), step("same", pages, pages))
    _, _, data = run(tmp_path, state, preview, mixed_events())
    # Now: e3 e4 e5 e6 e7 e8 unbilled (no search metric in this stack) = 6.
    # Proposed: e4 and e8 (no model) now pass; e3 (model b) still not: e3 e5 e6 e7 = 4.
    assert data["unbilled"] == {"now": 6, "proposed": 4}


SQL_PAGES_EU = (
    "SELECT COUNT(*) AS value FROM events "
    "WHERE event_type = 'page' AND properties.region IN ('eu', 'us') "
    "AND NOT (properties.region = 'us')"
)


def test_a_sql_metric_reads_the_events_its_where_holds_for(tmp_path: Path) -> None:
    state, preview = unchanged(
        metric("model_a", "m-1", **MODEL_A),
        metric("pages_eu", "m-2", sql=SQL_PAGES_EU),
    )
    events = [
        event("s1", "acme", T, "page", region="eu"),  # SQL metric
        event("s2", "acme", T, "page", region="us"),  # none (NOT (region = 'us') is false)
        event("s3", "acme", T, "page"),  # none: the WHERE is NULL without region
        event("s4", "beta", T, "completion", model="a"),  # MODEL_A
        event("s5", "beta", T, "completion", region="eu"),  # none: not a page, no model
    ]
    _, md, data = run(tmp_path, state, preview, events)
    # By hand: s1 and s4 are read; s2, s3, s5 are unbilled, none is unknown.
    assert data["unbilled"] == {"now": 3, "proposed": 3}
    assert data["unbilled_unknown"] == {"now": 0, "proposed": 0}
    # The SQL metric's own usage counts exactly the event it reads.
    usage = {m["resource"]: m["usage"]["now"] for m in data["metrics"]}
    assert usage == {"model_a": "1", "pages_eu": "1"}
    assert "Unknown for" not in md


def test_a_sql_metric_without_where_reads_every_event(tmp_path: Path) -> None:
    state, preview = unchanged(
        metric("all", "m-1", sql="SELECT SUM(CAST(properties.n AS DECIMAL)) AS value FROM events")
    )
    events = [event("a", "acme", T, "x", n=2), event("b", "acme", T, "y"), event("c", "b", T)]
    _, _, data = run(tmp_path, state, preview, events)
    # Every event is read (b and c add nothing to the sum but are read, as a streaming SUM
    # still matches an event lacking its key).
    assert data["unbilled"] == {"now": 0, "proposed": 0}
    assert {m["resource"]: m["usage"]["now"] for m in data["metrics"]} == {"all": "2"}


def test_a_metric_unknown_until_apply_leaves_only_the_events_it_might_read_unknown(
    tmp_path: Path,
) -> None:
    pages = metric("pages", "m-2", **PAGES)
    old = metric("model_a", "m-1", **MODEL_A)
    # The filter's value is not known until apply; the event type filter is.
    new = metric(
        "model_a",
        **{**MODEL_A, "property_filters": [{"name": "model", "in_values": [UNKNOWN]}]},
    )
    state = export(old, pages)
    preview = plan(step("replace", new, old), step("same", pages, pages))
    _, md, data = run(tmp_path, state, preview, mixed_events())
    # Now: e3 e4 e5 e6 e7 e8 = 6 unbilled.
    # Proposed: only completions may be read by the unknown metric: e1 e3 e4 e8 unknown (4);
    # e5 e6 e7 (signup, searches) no metric reads for certain (3); e2 is a page.
    assert data["unbilled"] == {"now": 6, "proposed": 3}
    assert data["unbilled_unknown"] == {"now": 0, "proposed": 4}
    assert (
        "Unknown for 4 more event(s) proposed: no metric reads them, but a metric whose "
        "definition is unknown until apply might." in md
    )


def test_a_metric_whose_event_types_are_unknown_might_read_any_unread_event(
    tmp_path: Path,
) -> None:
    pages = metric("pages", "m-2", **PAGES)
    old = metric("model_a", "m-1", **MODEL_A)
    new = metric("model_a", **{**MODEL_A, "event_type_filter": {"in_values": [UNKNOWN]}})
    state = export(old, pages)
    preview = plan(step("replace", new, old), step("same", pages, pages))
    _, _, data = run(tmp_path, state, preview, mixed_events())
    # Proposed: every event but the page (e2) might be read: 7 unknown, 0 certain.
    assert data["unbilled"] == {"now": 6, "proposed": 0}
    assert data["unbilled_unknown"] == {"now": 0, "proposed": 7}


def test_the_engines_match_condition_is_two_valued() -> None:
    """Negating a match keeps every event: the engine's condition is never NULL."""
    spec = BillableMetricSpec(
        name="m",
        aggregation_type="COUNT",
        property_filters=[{"name": "model", "in_values": ["a"]}],  # type: ignore[list-item]
    )
    db = duckdb.connect()
    db.execute(
        'CREATE TABLE events AS SELECT * FROM (VALUES (\'{"model": "a"}\'), '
        "('{\"model\": \"b\"}'), ('{}')) AS t(props)"
    )
    condition = match_condition(spec, None, None)
    row = db.execute(
        f"SELECT count(*) FILTER (WHERE {condition}), count(*) FILTER (WHERE NOT ({condition})) "
        "FROM events AS e"
    ).fetchone()
    # By hand: one event has model a; two do not (one has b, one has no model).
    assert row == (1, 2)


def test_a_sql_metric_reading_by_timestamp_and_one_unknown_until_apply(tmp_path: Path) -> None:
    late = metric(
        "late",
        "m-1",
        sql="SELECT COUNT(*) AS value FROM events "
        "WHERE timestamp >= CAST('2026-10-02 00:00:00' AS TIMESTAMP);",
    )
    pages = metric("pages", "m-2", sql=SQL_PAGES_EU)
    state = export(late, pages)
    # Proposed: the page metric's query is computed from another resource's output.
    preview = plan(step("same", late, late), step("replace", metric("pages", sql=UNKNOWN), pages))
    events = [
        event("u1", "acme", "2026-10-01T23:59:59Z", "page", region="eu"),  # pages (now)
        event("u2", "acme", "2026-10-02T00:00:00Z", "page"),  # late
        event("u3", "beta", "2026-10-01T08:00:00Z", "signup"),  # none
        event("u4", "beta", "2026-10-01T09:00:00Z", "page", region="us"),  # none
    ]
    _, md, data = run(tmp_path, state, preview, events)
    # Now: u2 read by `late` (on the boundary), u1 by `pages`: u3 and u4 unbilled.
    # Proposed: `pages` might read any event `late` does not: u1, u3, u4 are unknown.
    assert data["unbilled"] == {"now": 2, "proposed": 0}
    assert data["unbilled_unknown"] == {"now": 0, "proposed": 3}
    assert "Unknown for 3 more event(s) proposed" in md
    assert {m["resource"]: m["usage"]["now"] for m in data["metrics"]} == {
        "late": "1",
        "pages": "1",
    }
