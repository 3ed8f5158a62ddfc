"""Freshness and deadline policies: declared on @asset, judged by pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assetflow.asset import asset
from assetflow.errors import DefinitionError
from assetflow.freshness import (
    FreshnessPolicy,
    Overdue,
    describe_overdue,
    due_partitions,
    duration_text,
    evaluate,
    is_daily_or_finer,
)
from assetflow.partitions import (
    DailyPartitions,
    HourlyPartitions,
    MonthlyPartitions,
    StaticPartitions,
)
from assetflow.timetext import parse_duration

BERLIN = ZoneInfo("Europe/Berlin")


class State(NamedTuple):
    finished_at: datetime


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- declaring ----------------------------------------------------------------------------


def test_asset_keeps_its_policy() -> None:
    @asset(freshness="6h", deadline="06:00", timezone="Europe/Berlin")
    def report() -> int:
        return 1

    assert report.freshness_policy == FreshnessPolicy(timedelta(hours=6), time(6), BERLIN)
    assert report.freshness_policy.freshness_rule == "freshness 6h"
    assert report.freshness_policy.deadline_rule == "deadline 06:00 Europe/Berlin"


def test_no_policy_by_default_and_utc_deadlines() -> None:
    @asset
    def plain() -> int:
        return 1

    @asset(deadline="23:59")
    def late() -> int:
        return 1

    assert plain.freshness_policy is None
    assert late.freshness_policy == FreshnessPolicy(None, time(23, 59), ZoneInfo("UTC"))


def test_freshness_as_timedelta() -> None:
    @asset(freshness=timedelta(minutes=90))
    def a() -> int:
        return 1

    assert a.freshness_policy is not None
    assert a.freshness_policy.freshness_rule == "freshness 1h30m"


def test_freshness_not_a_duration_names_the_asset() -> None:
    with pytest.raises(
        DefinitionError,
        match=r"asset 'bad' \(.*\): freshness = \"6 hours\" is not a duration.*'6h'",
    ):

        @asset(freshness="6 hours")
        def bad() -> int:
            return 1


def test_freshness_zero_is_refused() -> None:
    with pytest.raises(DefinitionError, match=r"asset 'bad'.*freshness = \"0h\" is zero"):

        @asset(freshness="0h")
        def bad() -> int:
            return 1


@pytest.mark.parametrize("text", ["6:00", "24:00", "06:60", "6am", "06:00:00", "", "0600"])
def test_deadline_not_a_time_names_the_asset(text: str) -> None:
    with pytest.raises(
        DefinitionError,
        match=rf"asset 'bad' \(.*\) has deadline = \"{text}\", which is not a time of day\. "
        r"Write it as HH:MM.*00:00 to 23:59",
    ):

        @asset(deadline=text)
        def bad() -> int:
            return 1


def test_timezone_not_a_zone_names_the_asset() -> None:
    with pytest.raises(DefinitionError, match=r"asset 'bad'.*'Europe/Berlim'.*Europe/Berlin"):

        @asset(deadline="06:00", timezone="Europe/Berlim")
        def bad() -> int:
            return 1


def test_timezone_without_a_deadline() -> None:
    with pytest.raises(DefinitionError, match=r"asset 'bad'.*timezone='UTC' but no deadline"):

        @asset(timezone="UTC")
        def bad() -> int:
            return 1


def test_daily_or_finer() -> None:
    assert is_daily_or_finer(DailyPartitions(start="2026-01-01"))
    assert is_daily_or_finer(HourlyPartitions(start="2026-01-01"))
    assert not is_daily_or_finer(MonthlyPartitions(start="2026-01-01"))
    assert not is_daily_or_finer(StaticPartitions(["a", "b"]))
    assert not is_daily_or_finer(None)


# -- texts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(hours=2, minutes=14, seconds=59), "overdue by 2 h 14 min"),
        (timedelta(days=3, hours=2, minutes=5), "overdue by 3 d 2 h"),
        (timedelta(seconds=45), "overdue by 45 s"),
        (timedelta(0), "overdue by 0 s"),
        (timedelta(minutes=5), "overdue by 5 min"),
        (timedelta(days=1, minutes=3), "overdue by 1 d"),
        (timedelta(hours=1), "overdue by 1 h"),
    ],
)
def test_describe_overdue(delta: timedelta, text: str) -> None:
    assert describe_overdue(delta) == text


@given(st.integers(min_value=0, max_value=10**8))
def test_describe_overdue_shows_at_most_two_units(seconds: int) -> None:
    text = describe_overdue(timedelta(seconds=seconds))
    assert text.startswith("overdue by ")
    numbers = text.removeprefix("overdue by ").split()[::2]
    assert 1 <= len(numbers) <= 2
    assert all(n.isdigit() for n in numbers)


@given(st.integers(min_value=1, max_value=10**8))
def test_duration_text_reads_back(seconds: int) -> None:
    span = timedelta(seconds=seconds)
    assert parse_duration(duration_text(span)) == span


# -- freshness ----------------------------------------------------------------------------

FRESH_6H = FreshnessPolicy(timedelta(hours=6), None, ZoneInfo("UTC"))


def test_freshness_late_after_the_duration() -> None:
    latest = {("a", None): State(utc("2026-03-01 00:00"))}
    rows = [("a", FRESH_6H, None)]
    assert evaluate(rows, latest, utc("2026-03-01 06:00")) == []
    late = evaluate(rows, latest, utc("2026-03-01 08:14"))
    assert late == [
        Overdue("a", "", "freshness 6h", utc("2026-03-01 06:00"), utc("2026-03-01 00:00"))
    ]
    assert late[0].describe(utc("2026-03-01 08:14")) == "overdue by 2 h 14 min (freshness 6h)"


def test_freshness_of_a_partitioned_asset_is_its_newest_partition() -> None:
    latest = {
        ("a", "2026-01-01"): State(utc("2026-03-01 00:00")),
        ("a", "2026-01-02"): State(utc("2026-03-01 05:00")),
        ("other", None): State(utc("2026-03-01 09:00")),
    }
    rows = [("a", FRESH_6H, DailyPartitions(start="2026-01-01"))]
    assert evaluate(rows, latest, utc("2026-03-01 10:00")) == []
    (late,) = evaluate(rows, latest, utc("2026-03-01 11:30"))
    assert late.due_at == utc("2026-03-01 11:00")


def test_freshness_never_materialized() -> None:
    now = utc("2026-03-01 10:00")
    (late,) = evaluate([("a", FRESH_6H, None)], {}, now)
    assert late.last_materialized_at is None
    assert late.due_at == now
    assert late.describe(now) == "never materialized (freshness 6h)"


# -- deadlines ----------------------------------------------------------------------------

DEADLINE_BERLIN = FreshnessPolicy(None, time(6), BERLIN)


def test_daily_deadline_asks_for_the_previous_day() -> None:
    daily = DailyPartitions(start="2026-01-01", timezone="Europe/Berlin")
    rows = [("a", DEADLINE_BERLIN, daily)]
    # 05:59 Berlin on 2026-01-10 (UTC+1): the last deadline was 06:00 on the 9th.
    before = evaluate(
        rows, {("a", "2026-01-08"): State(utc("2026-01-09 01:00"))}, utc("2026-01-10 04:59")
    )
    assert before == []
    (late,) = evaluate(rows, {}, utc("2026-01-10 05:30"))
    assert late == Overdue(
        "a", "2026-01-09", "deadline 06:00 Europe/Berlin", utc("2026-01-10 05:00"), None
    )
    assert (
        late.describe(utc("2026-01-10 07:44"))
        == "overdue by 2 h 44 min (deadline 06:00 Europe/Berlin)"
    )
    done = {("a", "2026-01-09"): State(utc("2026-01-10 06:00"))}
    assert evaluate(rows, done, utc("2026-01-10 07:00")) == []


@pytest.mark.parametrize(
    ("day", "hours", "due"),
    [
        # The clocks spring forward on 2026-03-29: the 28th has 24 hours, the 29th 23.
        ("2026-03-29", 24, "2026-03-29 04:00"),  # 06:00 on the 29th is already CEST
        ("2026-03-30", 23, "2026-03-30 04:00"),
        # They fall back on 2026-10-25: 25 hours, the repeated one a single partition.
        ("2026-10-26", 24, "2026-10-26 05:00"),
    ],
)
def test_hourly_deadline_asks_for_every_hour_of_the_day_across_dst(
    day: str, hours: int, due: str
) -> None:
    hourly = HourlyPartitions(start="2026-01-01", timezone="Europe/Berlin")
    keys = due_partitions(hourly, datetime.fromisoformat(day).date(), BERLIN)
    assert len(keys) == hours
    previous = (datetime.fromisoformat(day) - timedelta(days=1)).date().isoformat()
    assert keys[0] == f"{previous}-00:00"
    assert keys[-1] == f"{previous}-23:00"
    rows = [("a", DEADLINE_BERLIN, hourly)]
    now = utc(due) + timedelta(minutes=1)
    late = evaluate(rows, {}, now)
    assert tuple(o.partition for o in late) == keys


def test_deadline_across_dst_is_local_six() -> None:
    # 06:00 Berlin is 04:00 UTC in summer and 05:00 UTC in winter.
    daily = DailyPartitions(start="2026-01-01", timezone="Europe/Berlin")
    rows = [("a", DEADLINE_BERLIN, daily)]
    assert evaluate(rows, {}, utc("2026-03-30 03:59"))[0].partition == "2026-03-28"
    (late,) = evaluate(rows, {}, utc("2026-03-30 04:00"))
    assert late.partition == "2026-03-29"
    assert late.due_at == utc("2026-03-30 04:00")
    (late,) = evaluate(rows, {}, utc("2026-10-26 05:00"))
    assert late.partition == "2026-10-25"
    assert late.due_at == utc("2026-10-26 05:00")


def test_deadline_before_the_first_partition_asks_nothing() -> None:
    daily = DailyPartitions(start="2026-05-01")
    rows = [("a", FreshnessPolicy(None, time(6), ZoneInfo("UTC")), daily)]
    assert evaluate(rows, {}, utc("2026-04-20 12:00")) == []
    assert due_partitions(daily, datetime(2026, 5, 2).date(), ZoneInfo("UTC")) == ("2026-05-01",)


def test_deadline_of_an_unpartitioned_asset_asks_since_local_midnight() -> None:
    rows = [("a", DEADLINE_BERLIN, None)]
    now = utc("2026-01-10 07:00")  # 08:00 Berlin
    yesterday = {("a", None): State(utc("2026-01-09 22:59"))}  # 23:59 Berlin on the 9th
    today = {("a", None): State(utc("2026-01-09 23:00"))}  # 00:00 Berlin on the 10th
    assert evaluate(rows, today, now) == []
    (late,) = evaluate(rows, yesterday, now)
    assert late.partition == ""
    assert late.due_at == utc("2026-01-10 05:00")
    assert late.last_materialized_at == utc("2026-01-09 22:59")


def test_both_rules_report_on_their_own() -> None:
    policy = FreshnessPolicy(timedelta(hours=1), time(6), ZoneInfo("UTC"))
    late = evaluate([("a", policy, None)], {}, utc("2026-01-10 07:00"))
    assert [o.rule for o in late] == ["freshness 1h", "deadline 06:00 UTC"]


ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata"]


@given(
    st.sampled_from(ZONES),
    st.dates(min_value=datetime(2021, 1, 2).date(), max_value=datetime(2030, 12, 31).date()),
)
def test_a_deadline_asks_for_the_previous_local_day_in_any_zone(zone_name: str, day) -> None:
    zone = ZoneInfo(zone_name)
    previous = (day - timedelta(days=1)).isoformat()
    daily = DailyPartitions(start="2021-01-01", timezone=zone_name)
    assert due_partitions(daily, day, zone) == (previous,)
    hourly = HourlyPartitions(start="2021-01-01", timezone=zone_name)
    hours = due_partitions(hourly, day, zone)
    assert 23 <= len(hours) <= 24
    assert all(key.startswith(previous + "-") for key in hours)
    assert hours[0] == f"{previous}-00:00"
