"""Tests for assetflow.automation.schedules: the Schedule model, both ways of declaring it,
and every bad setting's message."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from assetflow.automation.calendars import Calendar
from assetflow.automation.errors import ScheduleError
from assetflow.automation.schedules import (
    CalendarSettings,
    Schedule,
    check_unique,
    schedule,
    schedules_from_table,
)
from assetflow.errors import EXIT_USAGE

CONFIG = """
[tool.assetflow.schedules.nightly]
cron = "0 3 * * *"
timezone = "Europe/Berlin"
select = "+daily_report"
partition = "previous"
catchup = "latest"

[tool.assetflow.schedules.quarter_hourly]
every = "15m"
start = 2026-03-01T00:00:00Z
select = "raw_events"
catchup = "all"
max_catchup = 4
calendar = { business_days = true, holidays = [2026-04-03], country = "DE", subdivision = "BY" }
overlap = "skip"
tags = { team = "data" }
"""


def table(text: str) -> dict[str, Any]:
    parsed: dict[str, Any] = tomllib.loads(text)["tool"]["assetflow"]["schedules"]
    return parsed


def problems_of(settings: dict[str, Any], name: str = "nightly") -> str:
    with pytest.raises(ScheduleError) as caught:
        schedules_from_table({name: settings}, "pyproject.toml")
    assert caught.value.exit_code == EXIT_USAGE
    message = str(caught.value)
    assert "pydantic" not in message
    assert "validation error" not in message.lower()
    assert "Input should be" not in message
    return message


def test_a_config_table_gives_schedules_with_their_settings() -> None:
    nightly, quarter = schedules_from_table(table(CONFIG), "pyproject.toml")
    assert nightly == Schedule(
        name="nightly",
        cron="0 3 * * *",
        timezone="Europe/Berlin",
        select="+daily_report",
        partition="previous",
    )
    assert nightly.origin == "schedule:nightly"
    assert nightly.catchup == "latest"
    assert nightly.max_catchup == 10
    assert nightly.enabled
    assert nightly.overlap == "queue"
    assert nightly.max_concurrent_runs == 1
    assert nightly.declared_in == "[tool.assetflow.schedules.nightly] in pyproject.toml"
    assert quarter.every == "15m"
    assert quarter.start == datetime(2026, 3, 1, tzinfo=UTC)
    assert quarter.calendar == CalendarSettings(
        business_days=True, holidays=(date(2026, 4, 3),), country="DE", subdivision="BY"
    )
    assert quarter.tags == {"team": "data"}


def test_the_python_api_builds_the_same_model() -> None:
    from_config = schedules_from_table(table(CONFIG), "pyproject.toml")[0]
    declared = schedule(
        "nightly",
        cron="0 3 * * *",
        timezone="Europe/Berlin",
        select="+daily_report",
        partition="previous",
        catchup="latest",
    )
    assert declared == from_config
    assert declared.declared_in.startswith("assetflow.schedule('nightly', ...) in ")
    # The module's path from the directory it was imported from, not the machine's.
    place = declared.declared_in.removeprefix("assetflow.schedule('nightly', ...) in ")
    assert place.split("/", 1)[1].startswith("tests/automation/test_schedules.py:")
    assert not place.startswith("/")


def test_a_cron_schedules_cadence_is_in_its_zone() -> None:
    nightly = schedule("nightly", cron="0 3 * * *", timezone="Europe/Berlin")
    cadence = nightly.cadence(first_seen=datetime(2026, 3, 1, tzinfo=UTC))
    assert cadence.describe() == "0 3 * * * in Europe/Berlin"
    assert cadence.next_tick(datetime(2026, 3, 28, 12, tzinfo=UTC)) == datetime(
        2026, 3, 29, 1, tzinfo=UTC
    )


def test_an_interval_is_anchored_at_start_or_when_first_seen() -> None:
    seen = datetime(2026, 3, 1, 0, 7, tzinfo=UTC)
    unanchored = schedule("poll", every="15m")
    assert unanchored.cadence(seen).next_tick(seen) == seen + timedelta(minutes=15)
    anchored = schedule("poll", every="15m", start="2026-03-01T00:00:00+01:00")
    assert anchored.cadence(seen).next_tick(seen) == datetime(2026, 3, 1, 0, 15, tzinfo=UTC)


def test_the_calendar_is_checked_on_the_ticks_local_date() -> None:
    weekdays = schedule(
        "nightly",
        cron="30 0 * * *",
        timezone="Europe/Berlin",
        calendar={"business_days": True, "holidays": ["2026-04-03"]},
    )
    assert weekdays.calendar_rules == Calendar(
        business_days=True, holidays=frozenset({date(2026, 4, 3)})
    )
    # Friday 23:30 UTC is Saturday 00:30 in Berlin.
    assert weekdays.excluded(datetime(2026, 3, 6, 23, 30, tzinfo=UTC)) == (
        "Saturday 2026-03-07 is not a business day"
    )
    assert weekdays.excluded(datetime(2026, 3, 5, 23, 30, tzinfo=UTC)) is None
    assert weekdays.excluded(datetime(2026, 4, 2, 22, 30, tzinfo=UTC)) == (
        "2026-04-03 is listed in holidays"
    )
    assert schedule("plain", cron="@daily").excluded(datetime(2026, 3, 7, tzinfo=UTC)) is None


def test_the_fingerprint_changes_with_what_decides_the_ticks_only() -> None:
    base = schedule("nightly", cron="0 3 * * *", timezone="Europe/Berlin")
    assert (
        base.fingerprint
        == schedule(
            "nightly", cron="0 3 * * *", timezone="Europe/Berlin", select="other", catchup="all"
        ).fingerprint
    )
    assert (
        base.fingerprint
        != schedule("nightly", cron="0 4 * * *", timezone="Europe/Berlin").fingerprint
    )
    assert base.fingerprint != schedule("nightly", cron="0 3 * * *").fingerprint
    interval = schedule("poll", every="15m")
    assert interval.fingerprint != schedule("poll", every="30m").fingerprint
    assert (
        interval.fingerprint
        != schedule("poll", every="15m", start="2026-03-01T00:00:00Z").fingerprint
    )


def test_the_schedule_is_frozen() -> None:
    nightly = schedule("nightly", cron="@daily")
    with pytest.raises(Exception, match="frozen"):
        nightly.cron = "@hourly"  # type: ignore[misc]


# -- bad input: each message pinned ----------------------------------------------------------


def test_an_invalid_cron_names_the_schedule_the_field_and_the_range() -> None:
    message = problems_of({"cron": "61 * * * *"})
    assert message.startswith(
        "[tool.assetflow.schedules.nightly] in pyproject.toml: the cron expression "
        "'61 * * * *' of schedule 'nightly': minute field '61' is out of range 0-59."
    )


def test_a_cron_that_can_never_fire_is_refused() -> None:
    message = problems_of({"cron": "0 0 30 2 *"})
    assert "the cron expression '0 0 30 2 *' of schedule 'nightly' can never fire" in message


def test_an_unknown_timezone_suggests_the_closest() -> None:
    message = problems_of({"cron": "0 3 * * *", "timezone": "Europe/Berlim"})
    assert message.startswith(
        "[tool.assetflow.schedules.nightly] in pyproject.toml: the timezone 'Europe/Berlim' "
        "is not an IANA time zone name. Did you mean 'Europe/Berlin'?"
    )


def test_every_that_is_not_a_duration() -> None:
    message = problems_of({"every": "15 minutes"})
    assert message.startswith(
        "[tool.assetflow.schedules.nightly] in pyproject.toml: "
        'every = "15 minutes" is not a duration.'
    )
    assert "'15m', '6h', '1d', '90s', '1h30m'" in message


def test_an_unknown_country_suggests_its_code() -> None:
    message = problems_of({"cron": "@daily", "calendar": {"country": "Germany"}})
    assert (
        "the calendar names the country 'Germany', which the holidays package does not know. "
        "Did you mean 'DE'?"
    ) in message


def test_a_naive_start_is_refused() -> None:
    message = problems_of({"every": "1h", "start": "2026-03-02T03:00:00"})
    assert (
        "start '2026-03-02T03:00:00' has no UTC offset: write the instant with its offset, "
        'e.g. start = "2026-03-02T03:00:00+01:00"'
    ) in message
    with pytest.raises(ScheduleError, match="has no UTC offset"):
        schedule("poll", every="1h", start=datetime(2026, 3, 2, 3))


def test_both_cron_and_every_or_neither() -> None:
    assert "has both cron and every" in problems_of({"cron": "@daily", "every": "1h"})
    assert "has neither cron nor every, so it never ticks" in problems_of({"select": "a"})


def test_an_unknown_setting_suggests_the_closest() -> None:
    message = problems_of({"cron": "@daily", "timezon": "UTC"})
    assert message.startswith(
        "[tool.assetflow.schedules.nightly] in pyproject.toml: unknown setting 'timezon'. "
        "Did you mean 'timezone'? The settings are: calendar, catchup, cron,"
    )
    calendar = problems_of({"cron": "@daily", "calendar": {"busines_days": True}})
    assert "unknown setting 'calendar.busines_days'. Did you mean 'business_days'?" in calendar


@pytest.mark.parametrize(
    ("settings", "phrase"),
    [
        ({"catchup": "some"}, "catchup = \"some\" is not allowed: use 'all', 'latest' or 'none'"),
        ({"partition": "last"}, "partition = \"last\" is not allowed: use 'previous' or 'latest'"),
        ({"overlap": "wait"}, "overlap = \"wait\" is not allowed: use 'queue' or 'skip'"),
        ({"max_catchup": 0}, "max_catchup = 0 is too small: it must be at least 1"),
        ({"max_concurrent_runs": "2"}, 'max_concurrent_runs = "2" is not a whole number'),
        ({"enabled": "yes"}, 'enabled = "yes" is not true or false'),
        ({"tags": {"team": 1}}, "tags.team = 1 is not a string: put it in quotes"),
        ({"select": 3}, "select = 3 is not a string"),
        (
            {"calendar": {"holidays": ["Christmas"]}},
            'calendar.holidays.0 = "Christmas" is not a date',
        ),
        ({"start": "tomorrow"}, 'start = "tomorrow" is not an instant'),
        ({"calendar": "DE"}, 'calendar = "DE" is not a table of settings'),
    ],
)
def test_each_bad_setting_is_explained(settings: dict[str, Any], phrase: str) -> None:
    message = problems_of({"cron": "@daily", **settings})
    assert message.startswith(f"[tool.assetflow.schedules.nightly] in pyproject.toml: {phrase}")


def test_every_problem_of_every_schedule_is_reported_at_once() -> None:
    with pytest.raises(ScheduleError) as caught:
        schedules_from_table(
            {
                "nightly": {"cron": "0 25 * * *", "timezone": "Mars/Base", "catchup": "x"},
                "poll": {"every": "soon"},
                "fine": {"cron": "@daily"},
                "loose": "0 3 * * *",
            },
            "pyproject.toml",
        )
    message = str(caught.value)
    assert message.startswith("pyproject.toml has 5 schedule problems:")
    assert "hour field '25'" in message
    assert "the timezone 'Mars/Base'" in message
    assert 'catchup = "x"' in message
    assert 'every = "soon" is not a duration' in message
    assert (
        "[tool.assetflow.schedules.loose] in pyproject.toml: a schedule is a table of "
        "settings, not a string"
    ) in message
    assert "schedules.fine" not in message


def test_a_name_setting_in_a_table_is_refused() -> None:
    message = problems_of({"cron": "@daily", "name": "other"})
    assert "has a 'name' setting, but the table's own name is the schedule's name" in message


def test_a_name_that_cannot_name_a_schedule() -> None:
    message = problems_of({"cron": "@daily"}, name="night ly")
    assert "the name 'night ly' cannot name a schedule" in message


def test_the_python_api_reports_all_problems_too() -> None:
    with pytest.raises(ScheduleError) as caught:
        schedule("nightly", cron="61 * * * *", timezon="UTC")
    message = str(caught.value)
    assert message.startswith("assetflow.schedule('nightly', ...) has 2 schedule problems:")
    assert "minute field '61' is out of range 0-59" in message
    assert "unknown setting 'timezon'. Did you mean 'timezone'?" in message


def test_two_schedules_with_the_same_name_name_both_places() -> None:
    from_config = schedules_from_table({"nightly": {"cron": "@daily"}}, "pyproject.toml")
    from_module = schedule("nightly", cron="0 3 * * *")
    with pytest.raises(ScheduleError) as caught:
        check_unique([*from_config, from_module, schedule("other", cron="@daily")])
    message = str(caught.value)
    assert message.startswith(
        "two schedules are named 'nightly': [tool.assetflow.schedules.nightly] in "
        "pyproject.toml and assetflow.schedule('nightly', ...) in "
    )
    assert "must be unique: rename one of them." in message
    assert caught.value.exit_code == EXIT_USAGE


def test_unique_names_pass_and_where_names_undeclared_schedules() -> None:
    check_unique([schedule("a", cron="@daily"), schedule("b", cron="@daily")])
    bare = [Schedule(name="a", cron="@daily"), Schedule(name="a", every="1h")]
    with pytest.raises(ScheduleError, match=r"named 'a': jobs\.py and jobs\.py"):
        check_unique(bare, where={"a": "jobs.py"})


def test_every_that_is_zero_names_the_setting() -> None:
    message = problems_of({"every": "0m"})
    assert message.startswith(
        '[tool.assetflow.schedules.nightly] in pyproject.toml: every = "0m" is zero: an '
        "interval must be at least one second"
    )
