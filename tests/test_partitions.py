"""Partitions: definitions, keys at a fixed now, validation messages, mappings and ranges."""

from __future__ import annotations

import itertools
import pickle
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assetflow.errors import EXIT_USAGE, DefinitionError, SelectionError
from assetflow.partitions import (
    AllPartitions,
    DailyPartitions,
    HourlyPartitions,
    Identity,
    KeyRange,
    MonthlyPartitions,
    Offset,
    PartitionError,
    PartitionsDefinition,
    StaticPartitions,
    TimeOverlap,
    TimePartitions,
    Unpartitioned,
    WeeklyPartitions,
    Window,
    compact,
    downstream_keys,
    expand,
    resolve_mapping,
    upstream_keys,
)

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
LATER = datetime(2030, 1, 1, tzinfo=UTC)
DAILY = DailyPartitions(start="2026-01-01")
MONTHLY = MonthlyPartitions(start="2026-01-01")
REGIONS = StaticPartitions(["eu", "us", "apac"])


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- time definitions: keys, latest, windows ------------------------------------------


def test_daily_keys_are_the_complete_days_oldest_first():
    keys = DAILY.keys(NOW)
    assert keys[:2] == ["2026-01-01", "2026-01-02"]
    assert keys[-1] == "2026-11-25"  # 2026-11-26 is still running at 10:00
    assert len(keys) == DAILY.count(NOW) == 329
    assert DAILY.latest(NOW) == "2026-11-25"


def test_a_partition_is_complete_exactly_when_its_window_ends():
    assert DAILY.latest(utc(2026, 3, 2)) == "2026-03-01"
    assert DAILY.latest(utc(2026, 3, 2) - timedelta(microseconds=1)) == "2026-02-28"


def test_windows_are_half_open_and_in_utc():
    assert DAILY.window("2026-03-01") == (utc(2026, 3, 1), utc(2026, 3, 2))
    assert MONTHLY.window("2026-02") == (utc(2026, 2, 1), utc(2026, 3, 1))
    start, end = WeeklyPartitions("2026-01-05").window("2026-03-02")
    assert (start, end - start) == (utc(2026, 3, 2), timedelta(days=7))


def test_paris_days_are_23_and_25_hours_long_when_the_clocks_change():
    paris = DailyPartitions("2026-01-01", timezone="Europe/Paris")

    def length(key: str) -> timedelta:
        start, end = paris.window(key)
        return end - start

    assert length("2026-03-28") == timedelta(hours=24)
    assert length("2026-03-29") == timedelta(hours=23)
    assert length("2026-10-25") == timedelta(hours=25)
    assert paris.window("2026-07-01")[0] == utc(2026, 6, 30, 22)  # local midnight, CEST


def test_paris_days_complete_at_local_midnight():
    paris = DailyPartitions("2026-01-01", timezone="Europe/Paris")
    assert paris.latest(utc(2026, 3, 1, 23)) == "2026-03-01"  # 00:00 in Paris
    assert paris.latest(utc(2026, 3, 1, 22, 59)) == "2026-02-28"


def test_end_is_exclusive():
    short = DailyPartitions("2026-01-01", end="2026-01-04")
    assert short.keys(LATER) == ["2026-01-01", "2026-01-02", "2026-01-03"]
    assert short.latest(LATER) == "2026-01-03"
    with pytest.raises(PartitionError, match="at or after the end"):
        short.validate("2026-01-04", LATER)


def test_an_end_inside_a_partition_keeps_only_whole_partitions():
    assert DailyPartitions("2026-01-01", end="2026-01-03T12:00").keys(LATER) == [
        "2026-01-01",
        "2026-01-02",
    ]


def test_hourly_keys_and_latest():
    hourly = HourlyPartitions("2026-01-01")
    keys = hourly.keys(NOW)
    assert keys[:2] == ["2026-01-01-00:00", "2026-01-01-01:00"]
    assert len(keys) == 329 * 24 + 10
    assert hourly.latest(NOW) == "2026-11-26-09:00"
    assert hourly.window("2026-11-26-09:00") == (utc(2026, 11, 26, 9), utc(2026, 11, 26, 10))


def test_hourly_in_paris_has_no_skipped_hour_and_one_long_repeated_hour():
    spring = HourlyPartitions("2026-03-29", end="2026-03-30", timezone="Europe/Paris")
    keys = spring.keys(LATER)
    assert len(keys) == 23
    assert keys[1:3] == ["2026-03-29-01:00", "2026-03-29-03:00"]
    assert spring.window("2026-03-29-01:00") == (utc(2026, 3, 29, 0), utc(2026, 3, 29, 1))

    autumn = HourlyPartitions("2026-10-25", end="2026-10-26", timezone="Europe/Paris")
    keys = autumn.keys(LATER)
    assert len(keys) == len(set(keys)) == 24
    start, end = autumn.window("2026-10-25-02:00")  # 02:00 CEST, then 02:00 CET again
    assert (start, end) == (utc(2026, 10, 25, 0), utc(2026, 10, 25, 2))
    assert autumn.latest(utc(2026, 10, 25, 1, 30)) == "2026-10-25-01:00"
    assert autumn.latest(utc(2026, 10, 25, 2)) == "2026-10-25-02:00"


def test_an_hour_the_clocks_skip_only_in_part_belongs_to_the_hour_before():
    # Lord Howe Island springs forward half an hour, from 02:00 to 02:30.
    zone = "Australia/Lord_Howe"
    hourly = HourlyPartitions("2026-10-04", end="2026-10-05", timezone=zone)
    assert hourly.keys(LATER)[:3] == ["2026-10-04-00:00", "2026-10-04-01:00", "2026-10-04-03:00"]
    start, end = hourly.window("2026-10-04-01:00")
    assert end - start == timedelta(minutes=90)
    quarter_to_three = datetime(2026, 10, 4, 2, 45, tzinfo=ZoneInfo(zone))
    assert hourly.position_at(quarter_to_three) == hourly.index("2026-10-04-01:00")
    assert hourly.latest(quarter_to_three) == "2026-10-04-00:00"


def test_a_weekly_start_in_mid_week_moves_on_to_the_next_week_start():
    weekly = WeeklyPartitions("2026-01-07")  # a Wednesday
    assert weekly.start.date() == date(2026, 1, 12)
    assert weekly.keys(utc(2026, 1, 27)) == ["2026-01-12", "2026-01-19"]
    assert weekly == WeeklyPartitions("2026-01-12")


def test_weeks_can_start_on_another_day():
    weekly = WeeklyPartitions("2026-01-01", week_start="sunday")
    assert weekly.keys(utc(2026, 1, 18)) == ["2026-01-04", "2026-01-11"]
    assert WeeklyPartitions("2026-01-01", week_start=6) == weekly
    assert weekly.describe() == "weekly from Sunday 2026-01-04 UTC"


def test_monthly_keys():
    assert MONTHLY.keys(NOW) == [f"2026-{month:02d}" for month in range(1, 11)]
    assert MONTHLY.latest(utc(2026, 12, 1)) == "2026-11"


def test_a_custom_key_format_writes_and_reads_keys():
    compact_days = DailyPartitions("2026-01-01", key_format="%Y%m%d")
    assert compact_days.keys(utc(2026, 1, 3)) == ["20260101", "20260102"]
    assert compact_days.window("20260102") == (utc(2026, 1, 2), utc(2026, 1, 3))
    with pytest.raises(PartitionError, match="Did you mean '20260102'"):
        compact_days.validate("2026-01-02", NOW)


def test_key_range_includes_both_ends():
    assert DAILY.key_range("2026-02-27", "2026-03-02", NOW) == [
        "2026-02-27",
        "2026-02-28",
        "2026-03-01",
        "2026-03-02",
    ]
    assert DAILY.key_range("2026-03-01", "2026-03-01", NOW) == ["2026-03-01"]
    assert REGIONS.key_range("us", "apac", NOW) == ["us", "apac"]


def test_key_range_refuses_reversed_and_unknown_keys():
    with pytest.raises(PartitionError, match=r"(?s)is reversed.*Write the older key first"):
        DAILY.key_range("2026-03-02", "2026-03-01", NOW)
    with pytest.raises(PartitionError, match="not complete yet"):
        DAILY.key_range("2026-11-01", "2026-11-30", NOW)


def test_latest_before_the_first_partition_says_when_it_completes():
    with pytest.raises(
        PartitionError,
        match=r"(?s)no complete partition at 2025-12-31 12:00 UTC.*"
        r"the first, '2026-01-01', completes at 2026-01-02 00:00 UTC",
    ):
        DAILY.latest(utc(2025, 12, 31, 12))
    assert DAILY.keys(utc(2025, 12, 31)) == []


def test_index_and_key_at_are_inverse():
    assert DAILY.index("2026-01-01") == 0
    assert DAILY.index("2026-03-01") == 59
    assert DAILY.key_at(59) == "2026-03-01"
    assert DAILY.index("2030-01-01") == DAILY.index("2029-12-31") + 1  # future keys have places
    assert sorted(["2026-03-02", "2026-01-05"], key=DAILY.index) == ["2026-01-05", "2026-03-02"]
    with pytest.raises(IndexError):
        DailyPartitions("2026-01-01", end="2026-01-03").key_at(2)


def test_definitions_are_values():
    assert DailyPartitions("2026-01-01") == DailyPartitions(date(2026, 1, 1))
    assert DailyPartitions("2026-01-01") == DailyPartitions(datetime(2026, 1, 1))
    assert hash(DailyPartitions("2026-01-01")) == hash(DailyPartitions(date(2026, 1, 1)))
    assert DailyPartitions("2026-01-01") != DailyPartitions("2026-01-01", timezone="Europe/Paris")
    assert DailyPartitions("2026-01-01") != WeeklyPartitions("2026-01-05")
    assert StaticPartitions(["a", "b"]) == StaticPartitions(("a", "b"))
    assert StaticPartitions(["a", "b"]) != StaticPartitions(["b", "a"])
    assert len({DAILY, DailyPartitions("2026-01-01"), MONTHLY}) == 2


@pytest.mark.parametrize(
    "definition",
    [
        DAILY,
        HourlyPartitions("2026-01-01", timezone="Europe/Paris"),
        WeeklyPartitions("2026-01-01", end="2026-06-01", week_start="sunday"),
        MonthlyPartitions("2026-01-01", key_format="%Y/%m"),
        REGIONS,
    ],
)
def test_definitions_pickle_and_repr_round_trip(definition):
    definition.keys(NOW)  # fill the cache: it is not pickled
    assert pickle.loads(pickle.dumps(definition)) == definition
    assert eval(repr(definition)) == definition


@pytest.mark.parametrize(
    ("definition", "text"),
    [
        (DAILY, "daily from 2026-01-01 UTC"),
        (HourlyPartitions("2026-01-01T06:00"), "hourly from 2026-01-01 06:00 UTC"),
        (WeeklyPartitions("2026-01-05"), "weekly from Monday 2026-01-05 UTC"),
        (
            DailyPartitions("2026-01-01", end="2026-07-01", timezone="Europe/Paris"),
            "daily from 2026-01-01 until 2026-07-01 Europe/Paris",
        ),
        (
            MonthlyPartitions("2026-01-01", key_format="%Y/%m"),
            "monthly from 2026-01 UTC, keys %Y/%m",
        ),
        (REGIONS, "static: eu, us, apac"),
    ],
)
def test_describe_is_one_stable_line(definition, text):
    assert definition.describe() == text


def test_a_long_static_list_is_described_short_and_by_digest():
    text = StaticPartitions([f"k{i}" for i in range(50)]).describe()
    assert text.startswith("static, 50 keys: k0, k1, k2, ..., k49 (sha256 ")
    assert text != StaticPartitions([f"k{i}" for i in range(51)]).describe()


@given(
    keys=st.lists(st.text(min_size=1, max_size=3), min_size=1, max_size=8, unique=True),
    start=st.integers(-10, 12),
    stop=st.integers(-10, 12),
)
def test_static_keys_between_agrees_with_the_base_implementation(keys, start, stop):
    definition = StaticPartitions(keys)
    expected = [key for index, key in enumerate(keys) if start <= index < stop]
    assert definition.keys_between(start, stop) == expected
    assert PartitionsDefinition.keys_between(definition, start, stop) == expected


def test_static_partitions_override_keys_between():
    # The override once had a misspelled name, so the base class's loop ran instead.
    assert "keys_between" in vars(StaticPartitions)
    assert StaticPartitions.keys_between is not PartitionsDefinition.keys_between


def test_a_window_downstream_of_the_last_static_key_stops_at_the_last_key():
    assert downstream_keys(Window(2), REGIONS, "us", REGIONS, NOW) == ["us", "apac"]
    assert downstream_keys(Window(2), REGIONS, "apac", REGIONS, NOW) == ["apac"]


def test_a_naive_now_is_refused():
    with pytest.raises(TypeError, match="timezone-aware"):
        DAILY.keys(datetime(2026, 3, 1))


def test_keys_for_a_year_are_fast():
    now = utc(2027, 1, 1)
    begin = time.perf_counter()
    daily = DailyPartitions("2026-01-01").keys(now)
    daily_seconds = time.perf_counter() - begin
    begin = time.perf_counter()
    hourly = HourlyPartitions("2026-01-01").keys(now)
    hourly_seconds = time.perf_counter() - begin
    assert (len(daily), len(hourly)) == (365, 8760)
    assert daily_seconds < 0.010
    assert hourly_seconds < 0.100


# -- static definitions ---------------------------------------------------------------


def test_static_keys_keep_their_order_and_ignore_now():
    assert REGIONS.keys(NOW) == ["eu", "us", "apac"]
    assert REGIONS.keys(utc(1990, 1, 1)) == ["eu", "us", "apac"]
    assert REGIONS.latest(NOW) == "apac"
    assert REGIONS.index("us") == 1
    assert REGIONS.window("us") is None


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ([], r"has no keys"),
        ("eu", r"got one string.*Pass a list of keys, e.g. StaticPartitions\(\['eu'\]\)"),
        (["eu", "us", "eu"], r"lists 'eu' more than once"),
        (["eu", ""], r"key '' is not a non-empty string"),
        (["eu", 3], r"key 3 is not a non-empty string.*e.g. '3'"),
    ],
)
def test_static_keys_are_checked(keys, message):
    with pytest.raises(DefinitionError, match=f"(?s){message}"):
        StaticPartitions(keys)


# -- constructing time definitions: errors --------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: DailyPartitions("2026-13-01"),
            r"DailyPartitions start '2026-13-01' is not a date.*YYYY-MM-DD",
        ),
        (lambda: DailyPartitions(20260101), r"start 20260101 is not a date: it is of type int"),
        (
            lambda: DailyPartitions("2026-03-01", end="2026-03-01"),
            r"end '2026-03-01' is not after start '2026-03-01'.*The end is exclusive",
        ),
        (
            lambda: WeeklyPartitions("2026-01-07", end="2026-01-10"),
            r"has no whole week: the first week starts at 2026-01-12",
        ),
        (
            lambda: DailyPartitions("2026-01-01", timezone="Europe/Pariss"),
            r"timezone 'Europe/Pariss' is not a timezone name.*Did you mean 'Europe/Paris'",
        ),
        (
            lambda: DailyPartitions("2026-01-01", timezone="paris"),
            r"Did you mean 'Europe/Paris'",
        ),
        (
            lambda: DailyPartitions("2026-01-01", key_format="%Y-%m"),
            r"key_format '%Y-%m' does not round-trip: the day starting 2026-01-02 00:00 "
            r"is written '2026-01', which reads back as 2026-01-01 00:00",
        ),
        (
            lambda: HourlyPartitions("2026-01-01", key_format="%Y-%m-%d"),
            r"key_format '%Y-%m-%d' does not round-trip.*e.g. '%Y-%m-%d-%H:00'",
        ),
        (lambda: DailyPartitions("2026-01-01", key_format="%Q"), r"does not round-trip"),
        (
            lambda: WeeklyPartitions("2026-01-01", week_start="sundy"),
            r"week_start 'sundy' is not a weekday.*Did you mean 'sunday'",
        ),
    ],
)
def test_bad_arguments_are_definition_errors(make, message):
    with pytest.raises(DefinitionError, match=f"(?s){message}"):
        make()


# -- validating keys ------------------------------------------------------------------


def test_a_key_in_the_wrong_format_says_the_expected_format_and_the_key_meant():
    with pytest.raises(PartitionError) as caught:
        DAILY.validate("2026/03/01", NOW)
    error = caught.value
    assert str(error) == (
        "partition '2026/03/01' is not a key of daily from 2026-01-01 UTC: "
        "expected a key like 2026-11-25 (%Y-%m-%d).\n\n"
        "    Did you mean '2026-03-01'?\n\n"
        "Valid keys at 2026-11-26 10:00 UTC: '2026-01-01' .. '2026-11-25' "
        "(329 daily partitions)."
    )
    assert (error.key, error.nearest) == ("2026/03/01", "2026-03-01")
    assert isinstance(error, SelectionError)
    assert error.exit_code == EXIT_USAGE


@pytest.mark.parametrize(
    ("definition", "key", "message"),
    [
        (DAILY, "yesterday", r"expected a key like 2026-11-25 \(%Y-%m-%d\)"),
        (DAILY, "2026-3-1", r"not written like the keys.*that day is '2026-03-01'"),
        (
            DAILY,
            "2025-12-31",
            r"is before the start of daily from 2026-01-01 UTC: the first key is '2026-01-01'"
            r".*Did you mean '2026-01-01'",
        ),
        (
            DAILY,
            "2026-11-26",
            r"of daily from 2026-01-01 UTC is not complete yet: its window ends at "
            r"2026-11-27 00:00 UTC, and now is 2026-11-26 10:00 UTC.*Did you mean '2026-11-25'",
        ),
        (DAILY, "2031-01-01", r"not complete yet"),
        (
            DailyPartitions("2026-01-01", end="2026-06-01"),
            "2026-06-01",
            r"at or after the end of daily from 2026-01-01 until 2026-06-01 UTC "
            r"\(the end is exclusive\): the last key is '2026-05-31'",
        ),
        (
            WeeklyPartitions("2026-01-05"),
            "2026-01-07",
            r"does not start a partition of weekly from Monday 2026-01-05 UTC: "
            r"it falls in the week '2026-01-05'.*Did you mean '2026-01-05'",
        ),
        (
            HourlyPartitions("2026-03-01", timezone="Europe/Paris"),
            "2026-03-29-02:00",
            r"does not exist in Europe/Paris: the clocks skip that hour"
            r".*Did you mean '2026-03-29-03:00'",
        ),
        (MONTHLY, "2026-03-01", r"expected a key like 2026-10 \(%Y-%m\)"),
        (
            REGIONS,
            "euu",
            r"partition 'euu' is not a key of static: eu, us, apac.*Did you mean 'eu'",
        ),
    ],
)
def test_invalid_keys_say_why_and_what_is_valid(definition, key, message):
    with pytest.raises(PartitionError, match=f"(?s){message}"):
        definition.validate(key, NOW)


def test_valid_keys_pass():
    DAILY.validate("2026-11-25", NOW)
    REGIONS.validate("apac", NOW)
    HourlyPartitions("2026-03-01", timezone="Europe/Paris").validate("2026-03-29-03:00", NOW)


def test_window_and_index_refuse_keys_of_other_definitions():
    with pytest.raises(PartitionError, match="before the start"):
        DAILY.window("2025-01-01")
    with pytest.raises(PartitionError, match=r"Did you mean 'us'"):
        REGIONS.index("uss")


# -- mappings: which one -------------------------------------------------------------


@pytest.mark.parametrize(
    ("down", "up", "expected"),
    [
        (None, None, Unpartitioned()),
        (None, DAILY, AllPartitions()),
        (DAILY, None, Unpartitioned()),
        (DAILY, DailyPartitions(date(2026, 1, 1)), Identity()),
        (REGIONS, StaticPartitions(["eu", "us", "apac"]), Identity()),
        (MONTHLY, DAILY, TimeOverlap()),
        (DAILY, MONTHLY, TimeOverlap()),
        (DAILY, DailyPartitions("2026-03-01"), TimeOverlap()),
    ],
)
def test_resolve_mapping_decides_from_the_definitions(down, up, expected):
    assert resolve_mapping(down, up, None, asset="a", param="b") == expected


def test_a_declared_mapping_wins():
    assert resolve_mapping(DAILY, DAILY, Window(7), asset="a", param="b") == Window(7)
    assert resolve_mapping(DAILY, REGIONS, AllPartitions(), asset="a", param="b") == AllPartitions()
    shared = StaticPartitions(["eu", "us"])
    assert resolve_mapping(shared, REGIONS, Identity(), asset="a", param="b") == Identity()


def test_static_against_time_needs_a_declared_mapping():
    with pytest.raises(DefinitionError) as caught:
        resolve_mapping(
            REGIONS, DAILY, None, asset="by_region", param="raw_records", file="assets.py", line=7
        )
    text = str(caught.value)
    assert text.startswith(
        "asset 'by_region' (assets.py:7) reads 'raw_records', but their partitions do not line "
        "up: 'by_region' is static: eu, us, apac and 'raw_records' is daily from 2026-01-01 UTC,"
        " and one is static and the other time-based."
    )
    assert '@asset(partitions=..., mappings={"raw_records": AllPartitions()})' in text
    assert caught.value.problems[0].file == "assets.py"


@pytest.mark.parametrize(
    ("down", "up", "declared", "message"),
    [
        (REGIONS, StaticPartitions(["x", "y"]), None, r"their static keys differ"),
        (
            DailyPartitions("2026-01-01", timezone="Europe/Paris"),
            DAILY,
            None,
            r"their timezones differ \(Europe/Paris and UTC\).*AllPartitions\(\)",
        ),
        (
            DAILY,
            MONTHLY,
            Window(7),
            r"declares Window\(size=7\), which needs both to have the same partitions.*"
            r"drop the mapping.*TimeOverlap",
        ),
        (REGIONS, DAILY, Offset(-1), r"same partitions.*AllPartitions\(\)"),
        (None, DAILY, Window(7), r"'a' has no partitions to map from.*drop 'b' from `mappings`"),
        (DAILY, None, Offset(-1), r"'b' has no partitions to map.*read whole"),
        (DAILY, DAILY, Unpartitioned(), r"'b' is partitioned.*AllPartitions\(\)"),
        (DAILY, MONTHLY, Identity(), r"keys differ"),
        (DAILY, REGIONS, TimeOverlap(), r"needs time partitions in one timezone"),
        (DAILY, DAILY, "Window(7)", r"is not a partition mapping"),
    ],
)
def test_mappings_that_do_not_fit_are_definition_errors(down, up, declared, message):
    with pytest.raises(DefinitionError, match=f"(?s)asset 'a' reads 'b', but .*{message}"):
        resolve_mapping(down, up, declared, asset="a", param="b")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Window(0), r"Window\(0\) needs a size of at least 1"),
        (lambda: Window(2.5), r"Window\(2.5\)"),
        (lambda: Offset("1"), r"Offset\('1'\) needs a whole number"),
    ],
)
def test_mapping_arguments_are_checked(make, message):
    with pytest.raises(DefinitionError, match=message):
        make()


# -- mappings: keys -------------------------------------------------------------------


def test_identity_reads_the_same_key():
    assert upstream_keys(Identity(), DAILY, "2026-03-01", DAILY, NOW) == ["2026-03-01"]
    assert downstream_keys(Identity(), DAILY, "2026-03-01", DAILY, NOW) == ["2026-03-01"]
    subset = StaticPartitions(["eu", "us"])
    assert upstream_keys(Identity(), REGIONS, "apac", subset, NOW) == []
    assert upstream_keys(Identity(), REGIONS, "us", subset, NOW) == ["us"]


def test_all_partitions_reads_every_complete_partition():
    assert upstream_keys(AllPartitions(), None, None, DAILY, NOW) == DAILY.keys(NOW)
    assert downstream_keys(AllPartitions(), DAILY, "2026-03-01", None, NOW) == [None]
    assert upstream_keys(AllPartitions(), DAILY, "2026-03-01", REGIONS, NOW) == REGIONS.keys(NOW)
    assert downstream_keys(AllPartitions(), REGIONS, "eu", MONTHLY, NOW) == MONTHLY.keys(NOW)


def test_an_unpartitioned_input_is_read_whole():
    assert upstream_keys(Unpartitioned(), DAILY, "2026-03-01", None, NOW) == [None]
    assert upstream_keys(Unpartitioned(), None, None, None, NOW) == [None]
    assert downstream_keys(Unpartitioned(), None, None, MONTHLY, NOW) == MONTHLY.keys(NOW)


def test_window_reads_the_days_up_to_this_one_and_clips_at_the_start():
    week = Window(7)
    assert upstream_keys(week, DAILY, "2026-01-01", DAILY, NOW) == ["2026-01-01"]
    assert upstream_keys(week, DAILY, "2026-01-03", DAILY, NOW) == [
        "2026-01-01",
        "2026-01-02",
        "2026-01-03",
    ]
    assert upstream_keys(week, DAILY, "2026-03-10", DAILY, NOW) == [
        f"2026-03-{day:02d}" for day in range(4, 11)
    ]
    assert downstream_keys(week, DAILY, "2026-03-04", DAILY, NOW) == [
        f"2026-03-{day:02d}" for day in range(4, 11)
    ]


def test_window_stops_at_the_end_downstream():
    short = DailyPartitions("2026-01-01", end="2026-01-05")
    assert downstream_keys(Window(7), short, "2026-01-03", short, NOW) == [
        "2026-01-03",
        "2026-01-04",
    ]


def test_offset_reads_the_partition_n_steps_away():
    previous = Offset(-1)
    assert upstream_keys(previous, DAILY, "2026-03-01", DAILY, NOW) == ["2026-02-28"]
    assert upstream_keys(previous, DAILY, "2026-01-01", DAILY, NOW) == []  # nothing before
    assert downstream_keys(previous, DAILY, "2026-02-28", DAILY, NOW) == ["2026-03-01"]
    # The next day exists in the definition even if it is not complete yet at `now`.
    assert upstream_keys(Offset(1), DAILY, "2026-11-25", DAILY, NOW) == ["2026-11-26"]
    assert upstream_keys(Offset(-1), REGIONS, "us", REGIONS, NOW) == ["eu"]


def test_a_monthly_asset_reads_the_days_of_its_month():
    days = upstream_keys(TimeOverlap(), MONTHLY, "2026-03", DAILY, NOW)
    assert days == [f"2026-03-{day:02d}" for day in range(1, 32)]
    assert downstream_keys(TimeOverlap(), DAILY, "2026-03-17", MONTHLY, NOW) == ["2026-03"]


def test_a_daily_asset_reads_the_month_that_contains_the_day():
    assert upstream_keys(TimeOverlap(), DAILY, "2026-03-17", MONTHLY, NOW) == ["2026-03"]
    days = downstream_keys(TimeOverlap(), MONTHLY, "2026-02", DAILY, NOW)
    assert (days[0], days[-1], len(days)) == ("2026-02-01", "2026-02-28", 28)


def test_overlap_reads_both_months_of_a_week_that_spans_them():
    weekly = WeeklyPartitions("2026-01-05")
    assert upstream_keys(TimeOverlap(), weekly, "2026-03-30", MONTHLY, NOW) == [
        "2026-03",
        "2026-04",
    ]


def test_overlap_is_clipped_to_the_input_s_start():
    from_tenth = DailyPartitions("2026-03-10")
    days = upstream_keys(TimeOverlap(), MONTHLY, "2026-03", from_tenth, NOW)
    assert (days[0], days[-1], len(days)) == ("2026-03-10", "2026-03-31", 22)
    assert upstream_keys(TimeOverlap(), MONTHLY, "2026-02", from_tenth, NOW) == []


def test_mapping_a_bad_key_is_an_error():
    with pytest.raises(PartitionError, match="before the start"):
        upstream_keys(Window(7), DAILY, "2025-01-01", DAILY, NOW)


# -- ranges ---------------------------------------------------------------------------


def test_compact_groups_consecutive_keys():
    keys = [*DAILY.key_range("2026-01-01", "2026-03-14", NOW), "2026-03-16"]
    ranges = compact(reversed(keys), DAILY)
    assert ranges == [
        KeyRange("2026-01-01", "2026-03-14", 73),
        KeyRange("2026-03-16", "2026-03-16", 1),
    ]
    assert [r.render() for r in ranges] == ["2026-01-01..2026-03-14 (73)", "2026-03-16"]
    assert expand(ranges, DAILY) == keys


def test_compact_follows_the_definition_s_order_and_drops_repeats():
    assert compact(["apac", "eu", "eu", "us"], REGIONS) == [KeyRange("eu", "apac", 3)]
    assert compact([], DAILY) == []


def test_compact_refuses_keys_of_another_definition():
    with pytest.raises(PartitionError, match="Did you mean 'us'"):
        compact(["eu", "uss"], REGIONS)


def test_expand_refuses_a_range_that_does_not_fit():
    with pytest.raises(
        PartitionError,
        match=r"(?s)range 2026-01-01..2026-01-05 \(7\) does not fit daily from 2026-01-01 UTC: "
        r"7 keys from '2026-01-01' end at '2026-01-07'.*definition changed",
    ):
        expand([KeyRange("2026-01-01", "2026-01-05", 7)], DAILY)


# -- properties -----------------------------------------------------------------------

#: Fixed offsets, DST at 02:00 and 03:00, a half-hour offset, a half-hour DST (Lord Howe),
#: and clocks that change at midnight (Sao Paulo until 2019, Santiago).
TIMEZONES = [
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "America/Sao_Paulo",
    "America/Santiago",
]
UNIT_CLASSES = [HourlyPartitions, DailyPartitions, WeeklyPartitions, MonthlyPartitions]
#: How far `now` runs past the start, in days, to keep example sizes small.
MAX_DAYS = 90


@st.composite
def time_definitions(draw, classes=(HourlyPartitions, DailyPartitions), timezones=TIMEZONES):
    cls = draw(st.sampled_from(classes))
    start = draw(st.datetimes(datetime(2000, 1, 1), datetime(2035, 12, 31)))
    timezone = draw(st.sampled_from(timezones))
    end = None
    if draw(st.booleans()):
        # at least two months, so that even a monthly definition has a whole partition
        end = start + timedelta(days=draw(st.integers(62, 2 * MAX_DAYS)))
    return cls(start, end=end, timezone=timezone)


@st.composite
def definitions_and_now(draw, **kwargs):
    definition = draw(time_definitions(**kwargs))
    offset = draw(st.timedeltas(timedelta(days=-3), timedelta(days=MAX_DAYS)))
    return definition, definition.start.astimezone(UTC) + offset


@settings(deadline=None, max_examples=60)
@given(definitions_and_now())
def test_keys_are_sorted_unique_valid_and_their_windows_tile_time(case):
    definition, now = case
    keys = definition.keys(now)
    assert len(set(keys)) == len(keys) == definition.count(now)
    assert [definition.index(key) for key in keys] == list(range(len(keys)))
    windows = [definition.window(key) for key in keys]
    for (start, end), (next_start, _) in itertools.pairwise(windows):
        assert start < end == next_start
    if keys:
        assert windows[-1][1] <= now
        assert definition.latest(now) == keys[-1]
    for key in keys[:: max(len(keys) // 20, 1)]:
        definition.validate(key, now)
    upcoming = definition.keys_between(len(keys), len(keys) + 1)
    for key in upcoming:  # the partition after the last complete one has not ended
        assert definition.window(key)[1] > now
        with pytest.raises(PartitionError):
            definition.validate(key, now)


@settings(deadline=None, max_examples=60)
@given(definitions_and_now(), st.data())
def test_compact_round_trips(case, data):
    definition, now = case
    keys = definition.keys(now)
    chosen = data.draw(st.lists(st.sampled_from(keys), max_size=60)) if keys else []
    ranges = compact(chosen, definition)
    assert expand(ranges, definition) == sorted(set(chosen), key=definition.index)
    assert sum(r.count for r in ranges) == len(set(chosen))
    for earlier, later in itertools.pairwise(ranges):  # runs are maximal
        assert definition.index(later.first) > definition.index(earlier.last) + 1


@settings(deadline=None, max_examples=40)
@given(definitions_and_now(), st.data())
def test_identity_reads_the_key_itself(case, data):
    definition, now = case
    keys = definition.keys(now)
    if keys:
        key = data.draw(st.sampled_from(keys))
        assert upstream_keys(Identity(), definition, key, definition, now) == [key]
        assert downstream_keys(Identity(), definition, key, definition, now) == [key]


def assert_inverse(mapping, down, up, now):
    """u is read by d exactly when d is among the readers of u, over complete keys."""
    down_keys, up_keys = down.keys(now), up.keys(now)
    down_set, up_set = set(down_keys), set(up_keys)
    reads = {
        (d, u) for d in down_keys for u in upstream_keys(mapping, down, d, up, now) if u in up_set
    }
    read_by = {
        (d, u) for u in up_keys for d in downstream_keys(mapping, up, u, down, now) if d in down_set
    }
    assert reads == read_by
    return reads


@settings(deadline=None, max_examples=60)
@given(
    definitions_and_now(),
    st.one_of(st.builds(Window, st.integers(1, 10)), st.builds(Offset, st.integers(-5, 5))),
)
def test_downstream_keys_invert_window_and_offset(case, mapping):
    definition, now = case
    assert_inverse(mapping, definition, definition, now)


@settings(deadline=None, max_examples=60)
@given(definitions_and_now(), st.integers(-3, 3))
def test_offset_relates_positions_n_apart(case, steps):
    definition, now = case
    for d, u in assert_inverse(Offset(steps), definition, definition, now):
        assert definition.index(u) - definition.index(d) == steps


@settings(deadline=None, max_examples=80)
@given(st.data())
def test_overlap_reads_exactly_the_partitions_whose_windows_overlap(data):
    timezone = data.draw(st.sampled_from(TIMEZONES))
    base = data.draw(st.datetimes(datetime(2000, 1, 1), datetime(2035, 12, 31)))
    down, up = (
        data.draw(st.sampled_from(UNIT_CLASSES))(
            base + timedelta(days=data.draw(st.integers(0, 40))), timezone=timezone
        )
        for _ in range(2)
    )
    now = base.replace(tzinfo=UTC) + timedelta(days=data.draw(st.integers(0, MAX_DAYS)))
    reads = assert_inverse(TimeOverlap(), down, up, now)

    # Checked by instants against every input partition, for a sample of the asset's keys.
    windows_by_up = {u: up.window(u) for u in up.keys(now)}
    down_keys = down.keys(now)
    for d in down_keys[:: max(len(down_keys) // 20, 1)]:
        start, end = down.window(d)
        expected = {
            u for u, (u_start, u_end) in windows_by_up.items() if u_start < end and start < u_end
        }
        assert {u for d_read, u in reads if d_read == d} == expected


@settings(deadline=None, max_examples=40)
@given(definitions_and_now(classes=tuple(UNIT_CLASSES)))
def test_every_definition_describes_and_pickles_itself(case):
    definition, _ = case
    assert isinstance(definition, TimePartitions)
    assert pickle.loads(pickle.dumps(definition)) == definition
    assert definition.describe() == pickle.loads(pickle.dumps(definition)).describe()
