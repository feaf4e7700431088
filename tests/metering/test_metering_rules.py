"""One test per rule of ``shared/reference/metering-semantics.md``, in-process, with expected
values worked out by hand in each test."""

from __future__ import annotations

from datetime import timedelta

import pytest
from metering_harness import INGESTED, T0, D, Harness, at, event, keyed, metric

from pulumi_metronome.metering import (
    CustomerRef,
    GroupBy,
    GroupsQuery,
    MeteredMetric,
    MeteringEngine,
)
from pulumi_metronome.metering.queries import MAX_UNION_ALIASES, Scope
from pulumi_metronome.models import SpecError
from pulumi_metronome.models.event import parse_events

COUNT = metric("count", aggregation_type="COUNT")


def sql(metric_id: str, text: str) -> MeteredMetric:
    return metric(metric_id, sql=text)


# -- dedupe -------------------------------------------------------------------------------


def test_dedupe_first_stored_wins_across_batches(h: Harness) -> None:
    total = metric("sum", **keyed("SUM"))
    assert h.ingest(event("t1", n=5)) == (1, 0)
    # Same id, different content, later batch: ignored.
    assert h.ingest(event("t1", n=100), event("t2", n=1)) == (1, 1)
    assert h.value(total) == D("6")  # 5 + 1, never 100
    assert h.value(COUNT) == 2


def test_dedupe_within_a_batch_keeps_the_first(h: Harness) -> None:
    total = metric("sum", **keyed("SUM"))
    assert h.ingest(event("t1", n=2), event("t1", n=7), event("t1", n=9)) == (1, 2)
    assert h.value(total) == D("2")


def test_ingesting_a_batch_twice_stores_nothing_new(h: Harness) -> None:
    batch = [event(f"t{i}", n=i) for i in range(10)]
    assert h.ingest(*batch) == (10, 0)
    assert h.ingest(*batch) == (0, 10)
    assert h.value(COUNT) == 10
    assert h.value(metric("sum", **keyed("SUM"))) == D("45")  # 0 + 1 + ... + 9


def test_a_bad_batch_is_refused_whole_and_names_the_field(h: Harness) -> None:
    now = T0 + timedelta(days=3)
    good = {"transaction_id": "ok", "customer_id": "c1", "event_type": "api"}
    body = [
        {**good, "timestamp": "2026-01-02T00:00:00Z"},
        {**good, "transaction_id": "x", "timestamp": "2026-01-02T00:00:00"},
        {**good, "transaction_id": "y", "timestamp": "2026-01-05T00:00:01Z"},
    ]
    assert h.ingest(event("before")) == (1, 0)
    with pytest.raises(SpecError) as caught:
        h.ingest(*parse_events(body, now=now))
    fields = [v.field for v in caught.value.violations]
    assert fields == ["events[1].timestamp", "events[2].timestamp"]
    assert "24 hours in the future" in str(caught.value)
    # The bulk path checks the batch in SQL, where its good part could be stored: it is not.
    # (It has no clock, so only the missing offset is refused.)
    with pytest.raises(SpecError) as caught:
        h.engine.load(body, ingested_at=INGESTED)
    assert [v.field for v in caught.value.violations] == ["events[1].timestamp"]
    assert h.value(COUNT, end=at(days=2)) == 1  # "before" only
    # Nor was its good event remembered as seen: sent again alone, it is new, not a duplicate.
    assert h.ingest(*parse_events(body[:1], now=now)) == (1, 0)
    assert h.value(COUNT, end=at(days=2)) == 2  # "before" on day 1, "ok" on day 2


# -- customers ----------------------------------------------------------------------------


def test_customer_resolution_happens_at_query_time(h: Harness) -> None:
    # Sent with an alias nobody has yet: kept, and counted once the alias is set.
    h.ingest(event("t1", customer="acct-42"), event("t2", customer="c1"))
    assert h.value(COUNT, CustomerRef("c1")) == 1
    assert h.value(COUNT, CustomerRef("c1", ("acct-42",))) == 2
    assert h.value(COUNT, CustomerRef("c2")) == 0


def test_more_than_16_ids_and_aliases_resolve_aliases_and_skip_duplicates(h: Harness) -> None:
    """Nine customers with one alias each: 18 ids an event may carry, more than a query
    reads one by one, so the customers are joined to the events as a table instead."""
    customers = [CustomerRef(f"k{i}", (f"k{i}-alias",)) for i in range(1, 10)]
    assert len(Scope(tuple(customers), T0, T0).pairs()) == 18 > MAX_UNION_ALIASES
    h.ingest(
        event("a1", customer="k1", n=1, region="us"),
        event("a2", customer="k1-alias", n=2, region="eu"),
        event("a3", customer="k2-alias", n=4, region="us"),
        event("a4", customer="k2-alias", n=8, region="us", ts=at(30)),  # the second day
        event("a5", customer="k5-alias", n=16, region="eu"),
        event("a6", customer="k9", n=32, region="eu"),
        event("a7", customer="nobody", n=64, region="us"),  # no customer's id or alias
    )
    # The same transaction id again, under another customer's alias: a duplicate, ignored.
    assert h.ingest(event("a2", customer="k3-alias", n=128, region="eu")) == (0, 1)
    region = [{"name": "region", "exists": True}]
    sums = metric("sum", **keyed("SUM", property_filters=region, group_keys=[["region"]]))
    counts = sql("sql-count", "SELECT COUNT(*) AS value FROM events")
    rows = h.rows(
        [sums, counts],
        customers,
        window="DAY",
        end=at(days=2),
        group_by={"sum": GroupBy("region")},
    )
    found = {(r.customer_id, r.metric_id, r.start.day): (r.value, r.groups) for r in rows}
    assert len(found) == len(rows) == 9 * 2 * 2
    expected_sums = {
        # customer: (day 1 total, day 1 groups), (day 2 total, day 2 groups)
        "k1": ((3, {"eu": 2, "us": 1}), (0, {"eu": None, "us": None})),  # 1 by id + 2 by alias
        "k2": ((4, {"us": 4}), (8, {"us": 8})),
        "k5": ((16, {"eu": 16}), (0, {"eu": None})),
        "k9": ((32, {"eu": 32}), (0, {"eu": None})),
    }
    expected_counts = {"k1": (2, 0), "k2": (1, 1), "k5": (1, 0), "k9": (1, 0)}
    for ref in customers:
        day1, day2 = expected_sums.get(ref.id, ((0, {}), (0, {})))
        assert found[(ref.id, "sum", 1)] == day1, ref.id
        assert found[(ref.id, "sum", 2)] == day2, ref.id
        count1, count2 = expected_counts.get(ref.id, (0, 0))
        assert found[(ref.id, "sql-count", 1)] == (count1, None), ref.id
        assert found[(ref.id, "sql-count", 2)] == (count2, None), ref.id


# -- matching -----------------------------------------------------------------------------


def test_event_type_filter_in_and_not_in_exact_and_case_sensitive(h: Harness) -> None:
    h.ingest(event("a", type="api"), event("b", type="API"), event("c", type="batch"))
    only_api = metric("in", aggregation_type="COUNT", event_type_filter={"in_values": ["api"]})
    not_api = metric("out", aggregation_type="COUNT", event_type_filter={"not_in_values": ["api"]})
    assert h.value(only_api) == 1
    assert h.value(not_api) == 2  # API and batch


def test_property_filter_exists(h: Harness) -> None:
    h.ingest(event("a", region="us"), event("b", region=None), event("c"))
    present = metric(
        "p", aggregation_type="COUNT", property_filters=[{"name": "region", "exists": True}]
    )
    absent = metric(
        "a", aggregation_type="COUNT", property_filters=[{"name": "region", "exists": False}]
    )
    assert h.value(present) == 1
    assert h.value(absent) == 2  # null counts as absent


def test_property_filter_in_values_needs_the_property(h: Harness) -> None:
    h.ingest(event("a", region="us"), event("b", region="eu"), event("c"), event("d", region="US"))
    m = metric(
        "m", aggregation_type="COUNT", property_filters=[{"name": "region", "in_values": ["us"]}]
    )
    assert h.value(m) == 1


def test_property_filter_not_in_values_passes_absent(h: Harness) -> None:
    h.ingest(event("a", region="us"), event("b", region="eu"), event("c"), event("d", region=None))
    m = metric(
        "m",
        aggregation_type="COUNT",
        property_filters=[{"name": "region", "not_in_values": ["us"]}],
    )
    assert h.value(m) == 3  # eu, absent, null


def test_property_text_numbers_and_booleans(h: Harness) -> None:
    h.ingest(
        event("a", size=5),
        event("b", size=5.0),
        event("c", size="5"),
        event("d", size="5.0"),  # a string reads as is
        event("e", size=2.50),
        event("f", flag=True),
        event("g", flag=False),
    )
    five = metric(
        "five", aggregation_type="COUNT", property_filters=[{"name": "size", "in_values": ["5"]}]
    )
    half = metric(
        "half", aggregation_type="COUNT", property_filters=[{"name": "size", "in_values": ["2.5"]}]
    )
    yes = metric(
        "yes", aggregation_type="COUNT", property_filters=[{"name": "flag", "in_values": ["true"]}]
    )
    no = metric(
        "no", aggregation_type="COUNT", property_filters=[{"name": "flag", "in_values": ["false"]}]
    )
    assert h.value(five) == 3
    assert h.value(half) == 1
    assert h.value(yes) == 1
    assert h.value(no) == 1


def test_not_retroactive_by_ingestion_time(h: Harness) -> None:
    created = INGESTED + timedelta(hours=1)
    archived = INGESTED + timedelta(hours=3)
    m = metric("m", aggregation_type="COUNT", created_at=created, archived_at=archived)
    # All stamped inside the window; what decides is when each was ingested.
    h.ingest(event("before"), at=INGESTED)
    h.ingest(event("at-creation"), at=created)
    h.ingest(event("during"), at=INGESTED + timedelta(hours=2))
    h.ingest(event("at-archive"), at=archived)
    h.ingest(event("after"), at=INGESTED + timedelta(hours=4))
    assert h.value(m) == 2  # at-creation and during


# -- aggregations -------------------------------------------------------------------------


def test_count(h: Harness) -> None:
    h.ingest(event("a"), event("b"), event("c", customer="c2"))
    assert h.value(COUNT) == 2


def test_sum_is_exact_decimal_and_skips_non_numbers(h: Harness) -> None:
    m = metric("m", **keyed("SUM"))
    h.ingest(event("a", n="0.1"), event("b", n=0.2), event("c", n="abc"), event("d", n="1e2"))
    assert h.value(m) == D("100.3")  # 0.1 + 0.2 exactly, "abc" adds nothing, 1e2 is 100


def test_sum_of_only_non_numbers_is_zero(h: Harness) -> None:
    m = metric("m", **keyed("SUM"))
    h.ingest(event("a", n="abc"), event("b", n=True))
    assert h.value(m) == 0


def test_max(h: Harness) -> None:
    m = metric("m", **keyed("MAX"))
    h.ingest(event("a", n="9.5"), event("b", n=-3), event("c", n="10"), event("d", n="x"))
    assert h.value(m) == D("10")


def test_latest_takes_the_greatest_timestamp(h: Harness) -> None:
    m = metric("m", **keyed("LATEST"))
    h.ingest(event("a", n=1, ts=at(5)), event("b", n=2, ts=at(9)), event("c", n=3, ts=at(7)))
    assert h.value(m) == D("2")


def test_latest_tie_goes_to_the_event_ingested_last(h: Harness) -> None:
    m = metric("m", **keyed("LATEST"))
    h.ingest(event("a", n=1, ts=at(5)), event("b", n=2, ts=at(5)))
    h.ingest(event("c", n=3, ts=at(5)), event("d", n=4, ts=at(4)), at=INGESTED + timedelta(1))
    assert h.value(m) == D("3")


def test_unique_counts_distinct_texts(h: Harness) -> None:
    m = metric("m", **keyed("UNIQUE", "user"))
    h.ingest(
        event("a", user="u1"),
        event("b", user="u1"),
        event("c", user="u2"),
        event("d", user=5),
        event("e", user="5"),  # same text as the number 5
        event("f"),  # no user: does not match (exists filter)
    )
    assert h.value(m) == 3  # u1, u2, 5


def test_unique_without_an_exists_filter_counts_only_events_that_have_the_key(h: Harness) -> None:
    # ``not_in_values`` lets events without the property match (the decision above).
    m = metric(
        "m",
        aggregation_type="UNIQUE",
        aggregation_key="user",
        property_filters=[{"name": "user", "not_in_values": ["banned"]}],
    )
    h.ingest(
        event("a", user="u1"),
        event("b", user="u1"),
        event("c", user="u2"),
        event("d"),  # no user
        event("e", user=None),  # null: the same as absent
        event("f", user=5),
        event("g", user="5"),  # the same text as the number 5
        event("h", user=True),  # the text "true"
        event("i", other="u3"),  # no user
        event("b2", user="banned"),  # filtered out
        event("j", ts=at(26)),  # the second day: only events without the key
        event("k", user=None, ts=at(27)),
    )
    rows = h.rows([m], window="DAY", end=at(days=2))
    assert [r.value for r in rows] == [4, 0]  # u1, u2, 5, true; then none at all


@pytest.mark.parametrize(
    ("kind", "expected"), [("COUNT", 0), ("SUM", 0), ("UNIQUE", 0), ("MAX", None), ("LATEST", None)]
)
def test_empty_window_values(h: Harness, kind: str, expected: object) -> None:
    fields = {"aggregation_type": "COUNT"} if kind == "COUNT" else keyed(kind)
    assert h.value(metric("m", **fields)) == expected


# -- windows and rows ---------------------------------------------------------------------


def test_windows_hour_day_none_with_start_inclusive_end_exclusive(h: Harness) -> None:
    h.ingest(
        event("a", ts=at(0)),  # the first instant of day 1
        event("b", ts=at(0.5)),
        event("c", ts=at(23.99)),
        event("d", ts=at(24)),  # the first instant of day 2
        event("e", ts=at(48)),  # the end of a two-day range: outside
    )
    end = at(days=2)
    assert [r.value for r in h.rows([COUNT], window="DAY", end=end)] == [3, 1]
    assert [r.value for r in h.rows([COUNT], window="NONE", end=end)] == [4]
    hours = h.rows([COUNT], window="hour", end=end)
    assert len(hours) == 48
    assert {i: r.value for i, r in enumerate(hours) if r.value} == {0: 2, 23: 1, 24: 1}
    assert hours[23].start == at(23) and hours[23].end == at(24)


def test_ranges_must_be_midnights_a_day_apart(h: Harness) -> None:
    with pytest.raises(SpecError, match="starting_on: must be aligned to UTC midnight"):
        h.rows([COUNT], start=at(1), end=at(days=2))
    with pytest.raises(SpecError, match="ending_before: must be at least one day after"):
        h.rows([COUNT], start=T0, end=T0)


def test_rows_for_every_customer_and_metric_ordered(h: Harness) -> None:
    sums = metric("a-sum", **keyed("SUM"))
    counts = metric("b-count", aggregation_type="COUNT")
    h.ingest(event("1", customer="zed", n=1, ts=at(30)), event("2", customer="amy", n=2))
    rows = h.rows([counts, sums], ["zed", "amy"], window="DAY", end=at(days=2))
    assert [(r.customer_id, r.metric_id, r.start, r.value) for r in rows] == [
        ("amy", "a-sum", at(0), 2),
        ("amy", "a-sum", at(24), 0),
        ("amy", "b-count", at(0), 1),
        ("amy", "b-count", at(24), 0),
        ("zed", "a-sum", at(0), 0),
        ("zed", "a-sum", at(24), 1),
        ("zed", "b-count", at(0), 0),
        ("zed", "b-count", at(24), 1),
    ]


# -- group_by and usage groups ------------------------------------------------------------

REGIONAL = metric(
    "regional",
    **keyed(
        "SUM",
        property_filters=[
            {"name": "region", "exists": True},
            {"name": "tier", "in_values": ["free", "pro"]},
        ],
        group_keys=[["region"], ["region", "tier"]],
    ),
)


def _regional_events(h: Harness) -> None:
    h.ingest(
        event("1", n=1, region="us", tier="free", ts=at(1)),
        event("2", n=2, region="us", tier="pro", ts=at(2)),
        event("3", n=4, region="eu", tier="pro", ts=at(3)),
        event("4", n=8, region="eu", tier="pro", ts=at(30)),
        event("5", n=16, region="ap", tier="gold", ts=at(4)),  # tier not listed: no match
    )


def test_group_by_every_value_seen_null_where_nothing_matched(h: Harness) -> None:
    _regional_events(h)
    rows = h.rows(
        [REGIONAL], window="DAY", end=at(days=2), group_by={"regional": GroupBy("region")}
    )
    assert [(r.value, r.groups) for r in rows] == [
        (D("7"), {"eu": D("4"), "us": D("3")}),
        (D("8"), {"eu": D("8"), "us": None}),
    ]


def test_group_by_listed_values(h: Harness) -> None:
    _regional_events(h)
    rows = h.rows([REGIONAL], group_by={"regional": GroupBy("region", ("us", "ap"))})
    assert rows[0].value == D("7")  # the total stays the total
    assert rows[0].groups == {"us": D("3"), "ap": None}


def test_group_by_reports_at_most_200_values(h: Harness) -> None:
    m = metric(
        "m",
        **keyed("COUNT", "k") | {"aggregation_type": "COUNT", "aggregation_key": None},
        group_keys=[["k"]],
    )
    h.ingest(*[event(f"t{i}", k=f"v{i:03}") for i in range(205)])
    groups = h.rows([m], group_by={"m": GroupBy("k")})[0].groups
    assert groups is not None and len(groups) == 200
    assert min(groups) == "v000" and max(groups) == "v199"


def test_group_by_key_must_belong_to_a_group_key(h: Harness) -> None:
    with pytest.raises(SpecError, match=r"group_by\.key: 'n' is not a group key property"):
        h.rows([REGIONAL], group_by={"regional": GroupBy("n")})


def test_usage_groups_compound_key_given_in_any_order(engine: MeteringEngine, h: Harness) -> None:
    _regional_events(h)
    query = GroupsQuery(
        customer=CustomerRef("c1"),
        metric=REGIONAL,
        window_size="DAY",
        starting_on=T0,
        ending_before=at(days=2),
        group_key=("tier", "region"),
    )
    rows = [(r.start, r.group, r.value) for r in engine.usage_groups(query)]
    # By window, then by the group values in the order the key was asked for.
    assert rows == [
        (at(0), {"tier": "free", "region": "us"}, D("1")),
        (at(0), {"tier": "pro", "region": "eu"}, D("4")),
        (at(0), {"tier": "pro", "region": "us"}, D("2")),
        (at(24), {"tier": "pro", "region": "eu"}, D("8")),
    ]


def test_usage_groups_filters_and_rejects_part_of_a_compound_key(
    engine: MeteringEngine, h: Harness
) -> None:
    _regional_events(h)
    base = GroupsQuery(CustomerRef("c1"), REGIONAL, "NONE", T0, at(days=2))
    filtered = GroupsQuery(
        **{**base.__dict__, "group_key": ("region",), "group_filters": {"region": ("eu",)}}
    )
    assert [(r.group, r.value) for r in engine.usage_groups(filtered)] == [
        ({"region": "eu"}, D("12"))
    ]
    with pytest.raises(SpecError, match="group_key: \\['tier'\\] is not one of"):
        engine.usage_groups(GroupsQuery(**{**base.__dict__, "group_key": ("tier",)}))


# -- search -------------------------------------------------------------------------------


def test_search_reports_matches_duplicates_and_processing_time(
    engine: MeteringEngine, h: Harness
) -> None:
    us_only = metric(
        "us", aggregation_type="COUNT", property_filters=[{"name": "region", "in_values": ["us"]}]
    )
    h.ingest(event("t1", region="us"), event("t2", region="eu"), at=INGESTED)
    h.ingest(event("t1", region="eu"), at=INGESTED + timedelta(minutes=1))
    found = engine.search(["t1", "t2", "nope"], [COUNT, us_only])
    assert [
        (e.transaction_id, e.is_duplicate, e.matched_metric_ids, e.processed_at) for e in found
    ] == [
        ("t1", False, ("count", "us"), INGESTED),
        ("t2", False, ("count",), INGESTED),
        ("t1", True, (), INGESTED + timedelta(minutes=1)),
    ]
    assert found[2].properties == {"region": "eu"}  # the duplicate as it was sent


def test_text_that_is_not_unicode_is_refused_and_stores_nothing(h: Harness) -> None:
    # "\ud800" is valid JSON but not valid text; it must not reach the store.
    with pytest.raises(SpecError, match=r"events\[1\]: holds text that is not valid Unicode"):
        h.ingest(event("ok"), event("bad", note="\ud800"))
    assert h.ingest(event("ok"), event("odd", note='quote " backslash \\ nul \x00 é')) == (2, 0)
    assert h.value(COUNT) == 2
