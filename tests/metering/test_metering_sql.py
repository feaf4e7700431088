"""SQL metrics: evaluated for real against hand-computed values, and refused with a reason."""

from __future__ import annotations

from datetime import timedelta

import pytest
from metering_harness import INGESTED, T0, D, Harness, at, event, metric

from pulumi_metronome.metering import CustomerRef, GroupBy, GroupsQuery, MeteringEngine
from pulumi_metronome.metering.sql import check_sql
from pulumi_metronome.models import SpecError, parse_metric_spec


def sql(metric_id: str, text: str, **kw: object) -> object:
    return metric(metric_id, sql=text, **kw)


def _events(h: Harness) -> None:
    h.ingest(
        event("1", type="call", ts=at(1), region="us", tokens="10", user="a"),
        event("2", type="call", ts=at(2), region="us", tokens=5, user="b"),
        event("3", type="call", ts=at(3), region="eu", tokens="2.5", user="a"),
        event("4", type="call", ts=at(25), region="eu", tokens="7", user="c"),
        event("5", type="ping", ts=at(4), region="us", tokens="1000"),
        event("6", type="call", ts=at(5), tokens="1"),  # no region
    )


def test_sum_with_a_where_clause(h: Harness) -> None:
    _events(h)
    m = sql(
        "s",
        "SELECT SUM(CAST(properties.tokens AS DECIMAL)) AS value FROM events "
        "WHERE event_type = 'call'",
    )
    rows = h.rows([m], window="DAY", end=at(days=2))
    assert [r.value for r in rows] == [D("18.5"), D("7")]  # 10 + 5 + 2.5 + 1; 7


def test_count_distinct_min_avg_and_functions(h: Harness) -> None:
    _events(h)
    tokens = "CAST(properties.tokens AS DECIMAL)"
    cases = {
        "COUNT(DISTINCT properties.user) FROM events": D("3"),
        f"MIN({tokens}) FROM events WHERE properties.region IS NULL": D("1"),
        # us: events 1, 2 and 5: (10 + 5 + 1000) / 3
        f"AVG({tokens}) FROM events WHERE properties.region IN ('us')": D("338.3333333333"),
        # not ping: 10, 5, 2.5, 7, 1 -> 25.5 / 5
        f"ROUND(AVG({tokens}), 1) FROM events WHERE event_type NOT IN ('ping')": D("5.1"),
        f"CEIL(SUM({tokens})) FROM events WHERE properties.region = 'eu'": D("10"),
        "FLOOR(MAX(GREATEST(CAST(properties.tokens AS DOUBLE), 3.7))) FROM events "
        "WHERE event_type = 'call' AND properties.region = 'eu'": D("7"),
        "SUM(CASE WHEN properties.region = 'us' THEN 1 ELSE 0 END) FROM events": D("3"),
        "COUNT(*) FROM events "
        "WHERE DATE_TRUNC('hour', timestamp) = DATE_TRUNC('day', timestamp)": D("0"),
    }
    for text, expected in cases.items():
        value = h.value(sql("q", f"SELECT {text}"), end=at(days=2))
        assert value is not None and round(value, 10) == expected, text


def test_earliest_and_latest(h: Harness) -> None:
    _events(h)
    latest = sql(
        "l",
        "SELECT LATEST(CAST(properties.tokens AS DECIMAL)) FROM events WHERE event_type = 'call'",
    )
    earliest = sql(
        "e",
        "SELECT EARLIEST(CAST(properties.tokens AS DECIMAL)) FROM events WHERE event_type = 'call'",
    )
    assert h.value(latest, end=at(days=2)) == D("7")  # event 4 at hour 25
    assert h.value(earliest, end=at(days=2)) == D("10")  # event 1 at hour 1


def test_earliest_and_latest_break_timestamp_ties_by_ingestion_order(h: Harness) -> None:
    """The rule for streaming LATEST carried to SQL: LATEST takes the value of the event with
    the greatest timestamp, a tie going to the event ingested last; EARLIEST, its mirror,
    takes the smallest timestamp, a tie going to the event ingested first. The values are
    chosen so that neither the largest nor the smallest value is the right answer."""
    h.ingest(
        event("a", ts=at(5), n=7),
        event("b", ts=at(5), n=9),
        event("d", ts=at(1), n=5),
        event("g", ts=at(30), n=2),  # the second day: a tie within one batch
        event("i", ts=at(30), n=1),
    )
    h.ingest(
        event("c", ts=at(5), n=8),  # ingested after a and b, at the same instant
        event("e", ts=at(1), n=4),  # ingested after d, at the same instant
        event("f", ts=at(1), n=3),
        event("j", ts=at(40), n=6, skip="yes"),  # later, but left out by the WHERE
        at=INGESTED + timedelta(hours=1),
    )
    where = "FROM events WHERE properties.skip IS NULL"
    latest = sql("l", f"SELECT LATEST(CAST(properties.n AS DECIMAL)) {where}")
    earliest = sql("e", f"SELECT EARLIEST(CAST(properties.n AS DECIMAL)) {where}")
    rows = h.rows([latest, earliest], window="DAY", end=at(days=2))
    assert [(r.metric_id, r.start, r.value) for r in rows] == [
        ("e", at(0), D("5")),  # d: hour 1, ingested before e and f
        ("e", at(24), D("2")),  # g: hour 30, before i in the same batch
        ("l", at(0), D("8")),  # c: hour 5, ingested after a and b
        ("l", at(24), D("1")),  # i: hour 30, after g in the same batch
    ]


def test_group_column_with_usage_groups_and_group_by(engine: MeteringEngine, h: Harness) -> None:
    _events(h)
    m = sql(
        "g",
        "SELECT properties.region AS region, SUM(CAST(properties.tokens AS DECIMAL)) AS value "
        "FROM events WHERE event_type = 'call' GROUP BY region",
    )
    groups = engine.usage_groups(GroupsQuery(CustomerRef("c1"), m, "NONE", T0, at(days=2)))  # type: ignore[arg-type]
    assert [(g.group, g.value) for g in groups] == [
        ({"region": "eu"}, D("9.5")),  # 2.5 + 7
        ({"region": "us"}, D("15")),  # 10 + 5
        ({"region": None}, D("1")),  # event 6 has no region
    ]
    rows = h.rows([m], window="DAY", end=at(days=2), group_by={"g": GroupBy("region")})  # type: ignore[list-item]
    assert [(r.value, r.groups) for r in rows] == [
        (D("18.5"), {"eu": D("2.5"), "us": D("15")}),  # the total is the query without groups
        (D("7"), {"eu": D("7"), "us": None}),
    ]


def test_a_value_that_does_not_cast_counts_as_null(h: Harness) -> None:
    h.ingest(event("1", tokens="10"), event("2", tokens="abc"), event("3", tokens="2.5"))
    total = sql("s", "SELECT SUM(CAST(properties.tokens AS DECIMAL)) FROM events")
    counted = sql("c", "SELECT COUNT(CAST(properties.tokens AS DECIMAL)) FROM events")
    assert h.value(total) == D("12.5")
    assert h.value(counted) == 2  # COUNT(x) skips the null of "abc"


def test_sql_metrics_see_events_ingested_before_they_existed(h: Harness) -> None:
    h.ingest(event("old"), at=INGESTED)
    m = sql("s", "SELECT COUNT(*) FROM events", created_at=INGESTED + timedelta(days=1))
    assert h.value(m) == 1


def test_sql_metrics_resolve_aliases_and_skip_duplicates(h: Harness) -> None:
    h.ingest(event("1", customer="alias"), event("2"), event("2"))
    assert (
        h.value(sql("s", "SELECT COUNT(*) AS value FROM events"), CustomerRef("c1", ("alias",)))
        == 2
    )


def test_empty_window_gives_what_sql_gives_over_no_rows(h: Harness) -> None:
    assert h.value(sql("c", "SELECT COUNT(*) FROM events")) == 0
    assert h.value(sql("s", "SELECT SUM(CAST(properties.n AS DECIMAL)) FROM events")) is None


def test_search_matches_sql_metrics_by_their_where(engine: MeteringEngine, h: Harness) -> None:
    _events(h)
    m = sql(
        "calls",
        "SELECT COUNT(*) FROM events WHERE event_type = 'call' AND properties.region = 'us'",
    )
    found = engine.search(["1", "3", "5"], [m])  # type: ignore[list-item]
    assert [(e.transaction_id, e.matched_metric_ids) for e in found] == [
        ("1", ("calls",)),
        ("3", ()),
        ("5", ()),
    ]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("DELETE FROM events", "must be a SELECT"),
        ("SELEC COUNT(*) FROM events", "cannot be parsed at line 1"),
        ("SELECT COUNT(* FROM events", "cannot be parsed"),
        ("SELECT COUNT(*) FROM users", "must select FROM events, not users"),
        ("SELECT COUNT(*) FROM events; SELECT 1", "exactly one SELECT"),
        ("SELECT SUM(properties.n) FROM events", "sum(VARCHAR)"),
        ("SELECT user_id, COUNT(*) FROM events GROUP BY user_id", "unknown column user_id"),
        ("SELECT properties.n FROM events", "must aggregate"),
        ("SELECT properties.r, COUNT(*) AS value FROM events", "must be in GROUP BY"),
        ("SELECT COUNT(*) FROM events e JOIN events f ON TRUE", "cannot be aliased"),
        ("SELECT COUNT(*) FROM events WHERE properties.n IN (SELECT 1)", "not supported"),
        (
            "SELECT regexp_matches('a', 'b'), COUNT(*) FROM events",
            "regexp_matches is not supported",
        ),
        ("SELECT COUNT(*) FROM events ORDER BY 1", "ORDER is not supported"),
        ('SELECT COUNT(*) FROM events WHERE "unterminated', "an invalid token"),
        ("SELECT LATEST(properties.user) FROM events", "must be a number, not VARCHAR"),
        (
            "SELECT DATE_TRUNC('month', timestamp) AS m, COUNT(*) AS value FROM events GROUP BY m",
            "'hour' and 'day'",
        ),
    ],
)
def test_bad_sql_is_refused_with_the_reason(text: str, reason: str) -> None:
    found = check_sql(text)
    assert found is not None and reason in found, found
    with pytest.raises(SpecError) as caught:
        parse_metric_spec({"name": "bad", "sql": text})
    assert [v.field for v in caught.value.violations] == ["sql"]
