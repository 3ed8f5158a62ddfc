"""`--since` and `--until`: the accepted forms, UTC by default, and the pinned errors."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assetflow.errors import UsageError
from assetflow.services.moments import ACCEPTED_FORMS, moment, time_range

instants = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(9998, 12, 31), timezones=st.just(UTC)
)


@given(day=st.dates(min_value=date(1971, 1, 1), max_value=date(9998, 12, 30)))
def test_a_date_is_its_whole_utc_day(day: date) -> None:
    start = moment(day.isoformat(), "--since")
    assert start == datetime(day.year, day.month, day.day, tzinfo=UTC)
    assert moment(day.isoformat(), "--until", end=True) == start + timedelta(days=1)
    assert moment(day, "--since") == start


@given(instant=instants)
def test_a_datetime_in_iso_text_reads_back_as_that_instant(instant: datetime) -> None:
    text = instant.replace(tzinfo=None).isoformat()
    assert moment(text, "--since") == instant
    assert moment(text.replace("T", " "), "--since") == instant
    assert moment(text + "Z", "--since") == instant
    assert moment(text, "--until", end=True) == instant + timedelta(microseconds=1)


def test_an_offset_is_honoured_and_naive_datetimes_are_utc() -> None:
    assert moment("2026-03-03T09:30+01:00", "--since") == datetime(2026, 3, 3, 8, 30, tzinfo=UTC)
    assert moment(datetime(2026, 3, 3, 9, 30), "--since") == datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
    paris = timezone(timedelta(hours=1))
    assert moment(datetime(2026, 3, 3, 9, 30, tzinfo=paris), "--since").hour == 8


def test_text_that_is_not_a_date_says_the_accepted_forms() -> None:
    with pytest.raises(UsageError) as caught:
        moment("last tuesday", "--since")
    assert caught.value.message == "--since 'last tuesday' is not a date or a time."
    assert caught.value.hint == f"--since takes {ACCEPTED_FORMS}."
    assert "2026-03-03T09:30" in caught.value.hint
    assert "UTC" in caught.value.hint


def test_a_date_that_does_not_exist_is_named() -> None:
    with pytest.raises(UsageError, match=r"--until '2026-02-30' is not a real date or time"):
        moment("2026-02-30", "--until")


@given(text=st.text(max_size=30))
def test_any_text_is_a_moment_or_a_usage_error(text: str) -> None:
    found: datetime | UsageError
    try:
        found = moment(text, "--since")
    except UsageError as error:
        found = error
    if isinstance(found, UsageError):
        assert found.message.startswith("--since ")
    else:
        assert found.tzinfo is UTC


def test_one_day_is_since_and_until_that_day() -> None:
    window = time_range("2026-03-03", "2026-03-03")
    assert window.since == datetime(2026, 3, 3, tzinfo=UTC)
    assert window.until == datetime(2026, 3, 4, tzinfo=UTC)
    assert time_range(None, None).since is None


def test_until_before_since_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as caught:
        time_range("2026-03-05", "2026-03-01")
    assert caught.value.message == (
        "--until 2026-03-01 is before --since 2026-03-05: no run can match."
    )
    assert "Give the earlier moment to --since" in caught.value.hint
