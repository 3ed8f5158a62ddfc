"""Tests for assetflow.automation.cadence: cron and interval ticks, DST rules, bad input."""

from __future__ import annotations

import itertools
import time as clock
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from assetflow.automation.cadence import (
    cron_cadence,
    format_duration,
    interval_cadence,
    parse_duration,
    zone,
)
from assetflow.automation.errors import ScheduleError
from assetflow.errors import EXIT_USAGE, UsageError

ZONES = ("Europe/Berlin", "America/New_York", "Australia/Sydney")
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC) - timedelta(days=1)
YEAR_END = datetime(2027, 1, 1, tzinfo=UTC) + timedelta(days=1)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def dst_days(name: str) -> tuple[date, date]:
    """The 2026 spring-forward and fall-back days of a zone, found from its offsets."""
    tz = ZoneInfo(name)
    spring = fall = None
    day = date(2026, 1, 1)
    while day.year == 2026:
        today = datetime.combine(day, datetime.min.time(), tzinfo=tz).utcoffset()
        tomorrow = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz)
        change = tomorrow.utcoffset()
        assert today is not None
        assert change is not None
        if change > today:
            spring = day
        elif change < today:
            fall = day
        day += timedelta(days=1)
    assert spring is not None
    assert fall is not None
    return spring, fall


def per_day(expression: str, name: str) -> Counter[date]:
    """Ticks per local day of 2026 over a whole simulated year."""
    cadence = cron_cadence(expression, name)
    ticks = list(cadence.ticks(YEAR_START, YEAR_END))
    assert ticks == sorted(set(ticks)), "ticks are strictly ascending"
    assert all(t.tzinfo is UTC for t in ticks)
    counts = Counter(t.astimezone(cadence.zone).date() for t in ticks)
    return Counter({d: n for d, n in counts.items() if d.year == 2026})


DAYS_2026 = [date(2026, 1, 1) + timedelta(days=i) for i in range(365)]


@pytest.mark.parametrize("name", ZONES)
@pytest.mark.parametrize(
    ("expression", "normal", "spring", "fall"),
    [
        ("30 2 * * *", 1, 1, 1),
        ("@daily", 1, 1, 1),
        ("@midnight", 1, 1, 1),
        ("0 * * * *", 24, 23, 25),
        ("@hourly", 24, 23, 25),
        ("*/15 * * * *", 96, 92, 100),
    ],
)
def test_a_year_of_ticks_has_the_expected_count_each_day(
    name: str, expression: str, normal: int, spring: int, fall: int
) -> None:
    counts = per_day(expression, name)
    spring_day, fall_day = dst_days(name)
    expected = {d: normal for d in DAYS_2026} | {spring_day: spring, fall_day: fall}
    assert dict(counts) == expected


@pytest.mark.parametrize("name", ZONES)
def test_weekday_mornings_run_once_each_weekday_and_never_at_weekends(name: str) -> None:
    counts = per_day("0 3 * * 1-5", name)
    assert dict(counts) == {d: 1 for d in DAYS_2026 if d.weekday() < 5}


@pytest.mark.parametrize(
    ("name", "expression", "day", "instants"),
    [
        # Berlin: 02:00 CET -> 03:00 CEST on 29 March, 03:00 CEST -> 02:00 CET on 25 October.
        ("Europe/Berlin", "30 2 * * *", date(2026, 3, 29), ["2026-03-29T01:00Z"]),
        ("Europe/Berlin", "30 2 * * *", date(2026, 10, 25), ["2026-10-25T00:30Z"]),
        ("Europe/Berlin", "0 3 * * 1-5", date(2026, 3, 30), ["2026-03-30T01:00Z"]),
        (
            "Europe/Berlin",
            "0 * * * *",
            date(2026, 3, 29),
            ["2026-03-28T23:00Z", "2026-03-29T00:00Z", "2026-03-29T01:00Z", "2026-03-29T02:00Z"],
        ),
        (
            "Europe/Berlin",
            "0 * * * *",
            date(2026, 10, 25),
            [
                "2026-10-24T22:00Z",
                "2026-10-24T23:00Z",
                "2026-10-25T00:00Z",  # 02:00 CEST
                "2026-10-25T01:00Z",  # 02:00 CET
                "2026-10-25T02:00Z",
            ],
        ),
        # New York: 02:00 EST -> 03:00 EDT on 8 March, 02:00 EDT -> 01:00 EST on 1 November.
        ("America/New_York", "30 2 * * *", date(2026, 3, 8), ["2026-03-08T07:00Z"]),
        ("America/New_York", "30 1 * * *", date(2026, 11, 1), ["2026-11-01T05:30Z"]),
        (
            "America/New_York",
            "0 * * * *",
            date(2026, 11, 1),
            ["2026-11-01T04:00Z", "2026-11-01T05:00Z", "2026-11-01T06:00Z", "2026-11-01T07:00Z"],
        ),
        # Sydney: 03:00 AEDT -> 02:00 AEST on 5 April, 02:00 AEST -> 03:00 AEDT on 4 October.
        ("Australia/Sydney", "30 2 * * *", date(2026, 4, 5), ["2026-04-04T15:30Z"]),
        ("Australia/Sydney", "30 2 * * *", date(2026, 10, 4), ["2026-10-03T16:00Z"]),
        (
            "Australia/Sydney",
            "0 * * * *",
            date(2026, 4, 5),
            ["2026-04-04T14:00Z", "2026-04-04T15:00Z", "2026-04-04T16:00Z", "2026-04-04T17:00Z"],
        ),
    ],
)
def test_the_exact_instants_on_dst_days(
    name: str, expression: str, day: date, instants: list[str]
) -> None:
    cadence = cron_cadence(expression, name)
    ticks = [
        t for t in cadence.ticks(YEAR_START, YEAR_END) if t.astimezone(cadence.zone).date() == day
    ]
    expected = [utc(text) for text in instants]
    if len(ticks) > len(expected):  # hourly lines: the hours around the change
        first = ticks.index(expected[0])
        ticks = ticks[first : first + len(expected)]
    assert ticks == expected


def test_the_documented_berlin_cases() -> None:
    """docs/automation.md's table, the cases not pinned above."""
    three = cron_cadence("0 3 * * *", "Europe/Berlin")
    assert list(three.ticks(utc("2026-10-24T12:00Z"), utc("2026-10-25T12:00Z"))) == [
        utc("2026-10-25T02:00Z")
    ]
    daily = cron_cadence("@daily", "Europe/Berlin")
    assert list(daily.ticks(utc("2026-03-28T12:00Z"), utc("2026-03-29T12:00Z"))) == [
        utc("2026-03-28T23:00Z")
    ]
    assert list(daily.ticks(utc("2026-10-24T12:00Z"), utc("2026-10-25T12:00Z"))) == [
        utc("2026-10-24T22:00Z")
    ]
    one_day = interval_cadence("1d", utc("2026-03-28T01:30Z"), "Europe/Berlin")
    assert one_day.next_tick(utc("2026-03-28T01:30Z")) == utc("2026-03-29T01:30Z")
    assert one_day.next_tick(utc("2026-10-25T00:00Z")) == utc("2026-10-25T01:30Z")
    hourly = interval_cadence("1h", utc("2026-01-01T00:00Z"), "Europe/Berlin")
    berlin = ZoneInfo("Europe/Berlin")
    for day, count in ((date(2026, 3, 29), 23), (date(2026, 10, 25), 25)):
        ticks = hourly.ticks(utc("2026-03-01T00:00Z"), utc("2026-11-01T00:00Z"))
        assert sum(t.astimezone(berlin).date() == day for t in ticks) == count


def test_a_fixed_hour_in_the_gap_moves_to_the_gaps_end_and_two_such_times_run_once() -> None:
    cadence = cron_cadence("0,30 2 * * *", "Europe/Berlin")
    ticks = list(cadence.ticks(utc("2026-03-28T22:00Z"), utc("2026-03-29T22:00Z")))
    assert ticks == [utc("2026-03-29T01:00Z")]


def test_croniters_own_dst_handling_runs_a_fixed_hour_twice_on_fall_back_and_ours_once() -> None:
    """croniter 6/7 with a zone-aware start runs 02:30 at both 02:30s; we correct it."""
    tz = ZoneInfo("Europe/Berlin")
    theirs = croniter("30 2 * * *", datetime(2026, 10, 24, 12, tzinfo=tz))
    their_ticks = [theirs.get_next(datetime) for _ in range(3)]
    ours = list(
        cron_cadence("30 2 * * *", "Europe/Berlin").ticks(
            utc("2026-10-24T12:00Z"), utc("2026-10-26T12:00Z")
        )
    )
    assert [t.astimezone(UTC) for t in their_ticks[:2]] == [
        utc("2026-10-25T00:30Z"),
        utc("2026-10-25T01:30Z"),
    ]
    assert ours == [utc("2026-10-25T00:30Z"), utc("2026-10-26T01:30Z")]


@pytest.mark.parametrize("name", ZONES)
@pytest.mark.parametrize("expression", ["30 2 * * *", "0 * * * *", "0 3 * * 1-5", "15 9 1,15 * *"])
def test_on_days_without_a_clock_change_we_agree_with_croniter(name: str, expression: str) -> None:
    tz = ZoneInfo(name)
    spring, fall = dst_days(name)
    theirs = croniter(expression, YEAR_START.astimezone(tz))
    their_ticks = []
    while (tick := theirs.get_next(datetime)) <= YEAR_END:
        their_ticks.append(tick.astimezone(UTC))
    ours = list(cron_cadence(expression, name).ticks(YEAR_START, YEAR_END))

    def ordinary(ticks: list[datetime]) -> list[datetime]:
        return [t for t in ticks if t.astimezone(tz).date() not in (spring, fall)]

    assert ordinary(ours) == ordinary(their_ticks)


def test_a_year_of_hourly_ticks_is_fast_and_a_short_window_is_cheap() -> None:
    cadence = cron_cadence("0 * * * *", "Europe/Berlin")
    started = clock.perf_counter()
    assert len(list(cadence.ticks(utc("2026-01-01T00:00Z"), utc("2027-01-01T00:00Z")))) == 8760
    assert clock.perf_counter() - started < 0.5
    frequent = cron_cadence("*/15 * * * *", "Europe/Berlin")
    started = clock.perf_counter()
    for minute in range(1000):
        after = utc("2026-03-02T00:00Z") + timedelta(minutes=minute)
        list(frequent.ticks(after, after + timedelta(seconds=30)))
    assert clock.perf_counter() - started < 0.5


def test_next_and_previous_tick() -> None:
    cadence = cron_cadence("30 2 * * *", "Europe/Berlin")
    assert cadence.next_tick(utc("2026-03-28T01:30Z")) == utc("2026-03-29T01:00Z")
    assert cadence.previous_tick(utc("2026-03-29T01:00Z")) == utc("2026-03-29T01:00Z")
    assert cadence.previous_tick(utc("2026-03-29T00:59Z")) == utc("2026-03-28T01:30Z")
    yearly = cron_cadence("@yearly", "America/New_York")
    assert yearly.next_tick(utc("2026-01-01T05:00Z")) == utc("2027-01-01T05:00Z")
    assert yearly.previous_tick(utc("2026-12-31T00:00Z")) == utc("2026-01-01T05:00Z")
    leap = cron_cadence("0 0 29 2 *")
    assert leap.next_tick(utc("2024-03-01T00:00Z")) == utc("2028-02-29T00:00Z")


def test_describe() -> None:
    assert cron_cadence("0 3 * * *", "Europe/Berlin").describe() == "0 3 * * * in Europe/Berlin"
    every = interval_cadence("15m", utc("2026-03-01T00:00Z"))
    assert every.describe() == "every 15m from 2026-03-01T00:00:00Z"


EXPRESSIONS = st.builds(
    lambda minute, hour, day, weekday: f"{minute} {hour} {day} * {weekday}",
    st.sampled_from(["0", "30", "*/15", "5,45", "*"]),
    st.sampled_from(["*", "2", "1-3", "*/6", "2,14", "0-23/2"]),
    st.sampled_from(["*", "1", "15,31", "L"]),
    st.sampled_from(["*", "1-5", "0", "sat"]),
)
INSTANTS = st.datetimes(datetime(2025, 1, 1), datetime(2028, 1, 1)).map(
    lambda naive: naive.replace(tzinfo=UTC, second=0, microsecond=0)
)


@settings(max_examples=60, deadline=None)
@given(
    expression=EXPRESSIONS,
    name=st.sampled_from((*ZONES, "UTC", "Asia/Kolkata")),
    start=INSTANTS,
    spans=st.lists(st.integers(1, 60 * 72), min_size=1, max_size=4),
)
def test_windows_split_anywhere_give_the_same_ticks(
    expression: str, name: str, start: datetime, spans: list[int]
) -> None:
    cadence = cron_cadence(expression, name)
    edges = [start]
    for minutes in spans:
        edges.append(edges[-1] + timedelta(minutes=minutes))
    whole = list(cadence.ticks(edges[0], edges[-1]))
    pieces = [t for a, b in itertools.pairwise(edges) for t in cadence.ticks(a, b)]
    assert pieces == whole
    assert whole == sorted(set(whole))
    assert all(edges[0] < t <= edges[-1] for t in whole)
    following = cadence.next_tick(start)
    assert following > start
    if whole:
        assert following == whole[0]
        assert cadence.previous_tick(whole[-1]) == whole[-1]
        if len(whole) > 1:
            assert cadence.previous_tick(whole[-1] - timedelta(seconds=1)) == whole[-2]


@settings(max_examples=100, deadline=None)
@given(
    seconds=st.integers(1, 3 * 86400),
    anchor=INSTANTS,
    after=INSTANTS,
    span=st.integers(0, 10 * 86400),
)
def test_interval_ticks_are_the_anchor_plus_whole_multiples(
    seconds: int, anchor: datetime, after: datetime, span: int
) -> None:
    every = timedelta(seconds=seconds)
    cadence = interval_cadence(every, anchor)
    until = after + timedelta(seconds=span)
    ticks = list(cadence.ticks(after, until))
    assert all(after < t <= until and t >= anchor for t in ticks)
    assert all((t - anchor) % every == timedelta(0) for t in ticks)
    assert all(b - a == every for a, b in itertools.pairwise(ticks))
    nxt = cadence.next_tick(after)
    assert nxt > after
    if nxt <= until:
        assert ticks[0] == nxt
    else:
        assert ticks == []
    previous = cadence.previous_tick(after)
    assert previous is None or (previous <= after < previous + every)


def test_interval_ticks_are_exact_utc_durations_across_dst() -> None:
    cadence = interval_cadence("6h", utc("2026-03-28T22:00Z"), "Europe/Berlin")
    ticks = list(cadence.ticks(utc("2026-03-28T21:00Z"), utc("2026-03-29T23:00Z")))
    assert [t.hour for t in ticks] == [22, 4, 10, 16, 22]
    assert cadence.zone == ZoneInfo("Europe/Berlin")
    assert cadence.previous_tick(utc("2026-03-28T21:59Z")) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", timedelta(minutes=15)),
        ("6h", timedelta(hours=6)),
        ("1d", timedelta(days=1)),
        ("90s", timedelta(seconds=90)),
        ("1h30m", timedelta(minutes=90)),
        (" 2d12h ", timedelta(days=2, hours=12)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@given(st.integers(1, 10**7))
def test_format_duration_round_trips(seconds: int) -> None:
    duration = timedelta(seconds=seconds)
    assert parse_duration(format_duration(duration)) == duration


@pytest.mark.parametrize("text", ["", "15", "m15", "1.5h", "15 minutes", "30m1h", "1w", "-5m"])
def test_a_duration_that_does_not_parse_is_explained(text: str) -> None:
    with pytest.raises(ScheduleError, match="is not a duration") as caught:
        parse_duration(text)
    assert "'15m', '6h', '1d', '90s', '1h30m'" in str(caught.value)
    assert caught.value.exit_code == EXIT_USAGE
    assert isinstance(caught.value, UsageError)


def test_a_zero_duration_is_refused() -> None:
    with pytest.raises(ScheduleError, match=r"the duration '0m' is zero: an interval must be"):
        parse_duration("0m")


@pytest.mark.parametrize(
    ("expression", "phrase"),
    [
        ("61 * * * *", "minute field '61' is out of range 0-59"),
        ("1-70 * * * *", "minute field '1-70' is out of range 0-59"),
        ("0 25 * * *", "hour field '25' is out of range 0-23"),
        ("0 0 32 * *", "day-of-month field '32' is out of range 1-31"),
        ("0 0 0 * *", "day-of-month field '0' is out of range 1-31"),
        ("0 0 * 13 *", "month field '13' is out of range 1-12 (or jan-dec)"),
        ("0 0 * * 8", "day-of-week field '8' is out of range 0-6 (or sun-sat; 0 and 7 are Sunday)"),
        ("abc * * * *", "minute field 'abc' is not a valid value (use 0-59)"),
        ("*/0 * * * *", "minute field '*/0' is not a valid value"),
        ("0 0 * foo *", "month field 'foo' is not a valid value"),
    ],
)
def test_a_bad_field_is_named_with_what_is_allowed(expression: str, phrase: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        cron_cadence(expression, name="nightly")
    message = str(caught.value)
    assert message.startswith(f"the cron expression '{expression}' of schedule 'nightly': {phrase}")
    assert "A cron line has five fields" in message


@pytest.mark.parametrize(
    "expression", ["0 0 30 2 *", "0 0 31 4 *", "0 0 30,31 2 *", "0 0 31 4,6,9,11 *"]
)
def test_a_line_that_can_never_fire_is_refused(expression: str) -> None:
    with pytest.raises(ScheduleError, match="can never fire: no month in its month field"):
        cron_cadence(expression, name="nightly")


@pytest.mark.parametrize("expression", ["0 0 29 2 *", "0 0 31 * *", "0 0 30 2 1", "0 0 L 2 *"])
def test_a_line_that_fires_rarely_is_accepted(expression: str) -> None:
    cadence = cron_cadence(expression)
    assert cadence.next_tick(utc("2026-01-01T00:00Z")) < utc("2031-01-01T00:00Z")


def test_six_fields_are_refused_with_the_reason() -> None:
    with pytest.raises(ScheduleError, match=r"has 6 fields, not 5\. Six fields would add seconds"):
        cron_cadence("0 0 3 * * *", name="nightly")
    with pytest.raises(ScheduleError, match="has 3 fields, not 5"):
        cron_cadence("0 3 *")


def test_an_unknown_macro_is_refused() -> None:
    with pytest.raises(ScheduleError, match="'@fortnightly' of schedule 'n' is not a known macro"):
        cron_cadence("@fortnightly", name="n")


@pytest.mark.parametrize(
    ("expression", "fields"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
    ],
)
def test_macros(expression: str, fields: str) -> None:
    assert cron_cadence(expression).fields == fields


def test_fixed_hours_are_told_from_every_n_hours() -> None:
    assert cron_cadence("30 2 * * *").fixed_hours
    assert cron_cadence("0 1-5 * * *").fixed_hours
    assert not cron_cadence("0 * * * *").fixed_hours
    assert not cron_cadence("0 */2 * * *").fixed_hours
    assert not cron_cadence("0 0-23/3 * * *").fixed_hours


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [("Europe/Berlim", "Did you mean 'Europe/Berlin'?"), ("europe/berlin", "'Europe/Berlin'")],
)
def test_an_unknown_timezone_suggests_the_closest(name: str, suggestion: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        zone(name)
    message = str(caught.value)
    assert f"the timezone '{name}' is not an IANA time zone name" in message
    assert suggestion in message
    assert "'America/New_York'" in message


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd", "/UTC"])
def test_a_timezone_that_is_nothing_like_a_zone_is_refused(name: str) -> None:
    with pytest.raises(ScheduleError, match="is not an IANA time zone name"):
        zone(name)


def test_an_unknown_timezone_of_a_cron_cadence_is_refused() -> None:
    with pytest.raises(ScheduleError, match=r"'Europe/Berlim'.*Did you mean 'Europe/Berlin'"):
        cron_cadence("0 3 * * *", "Europe/Berlim")


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ScheduleError, match="has no UTC offset"):
        interval_cadence("1h", datetime(2026, 3, 1))
    with pytest.raises(ScheduleError, match="has no UTC offset"):
        list(cron_cadence("0 * * * *").ticks(datetime(2026, 3, 1), datetime(2026, 3, 2)))


def test_one_cadence_answers_several_threads_at_once() -> None:
    from concurrent.futures import ThreadPoolExecutor

    cadence = cron_cadence("0 3 * * 1-5", "Europe/Berlin")
    starts = [utc("2026-01-01T00:00Z") + timedelta(days=37 * i) for i in range(8)]

    def window(start: datetime) -> list[datetime]:
        return list(cadence.ticks(start, start + timedelta(days=60)))

    expected = [window(start) for start in starts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(5):
            assert list(pool.map(window, starts)) == expected
