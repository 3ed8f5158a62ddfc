"""Tests for assetflow.automation.calendars: excluded days and their reasons, bad input."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from assetflow.automation.calendars import Calendar, make_calendar
from assetflow.automation.errors import ScheduleError


def test_an_empty_calendar_excludes_nothing() -> None:
    calendar = Calendar()
    assert all(calendar.excluded(date(2026, 1, 1) + timedelta(days=i)) is None for i in range(366))


def test_business_days_exclude_weekends_with_the_weekday() -> None:
    calendar = make_calendar(business_days=True)
    assert calendar.excluded(date(2026, 3, 7)) == "Saturday 2026-03-07 is not a business day"
    assert calendar.excluded(date(2026, 3, 8)) == "Sunday 2026-03-08 is not a business day"
    assert calendar.excluded(date(2026, 3, 9)) is None
    year = [date(2026, 1, 1) + timedelta(days=i) for i in range(365)]
    assert sum(calendar.excluded(day) is None for day in year) == 261


def test_listed_holidays_are_excluded() -> None:
    calendar = make_calendar(holidays=[date(2026, 4, 3)])
    assert calendar.excluded(date(2026, 4, 3)) == "2026-04-03 is listed in holidays"
    assert calendar.excluded(date(2026, 4, 4)) is None


def test_a_countrys_holidays_are_excluded_with_their_name() -> None:
    calendar = make_calendar(country="DE")
    assert calendar.excluded(date(2026, 12, 25)) == "2026-12-25 is a holiday in DE (Christmas Day)"
    assert calendar.excluded(date(2026, 1, 6)) is None  # Epiphany is not national
    bavaria = make_calendar(country="de", subdivision="by")
    assert bavaria == Calendar(country="DE", subdivision="BY")
    assert bavaria.excluded(date(2026, 1, 6)) == "2026-01-06 is a holiday in DE-BY (Epiphany)"


def test_a_weekend_is_reported_before_a_holiday_that_falls_on_it() -> None:
    calendar = make_calendar(business_days=True, country="US")
    assert calendar.excluded(date(2026, 7, 4)) == "Saturday 2026-07-04 is not a business day"
    assert calendar.excluded(date(2026, 7, 3)) == (
        "2026-07-03 is a holiday in US (Independence Day (observed))"
    )


def test_an_unknown_country_suggests_codes_and_the_way_out() -> None:
    with pytest.raises(ScheduleError) as caught:
        make_calendar(country="Germany", where="the calendar of schedule 'nightly'")
    message = str(caught.value)
    assert message.startswith(
        "the calendar of schedule 'nightly' names the country 'Germany', which the holidays "
        "package does not know."
    )
    assert "Did you mean 'DE'?" in message
    assert "holidays = [...]" in message


@pytest.mark.parametrize(("country", "code"), [("germny", "DE"), ("United States", "US")])
def test_a_misspelled_country_name_suggests_its_code(country: str, code: str) -> None:
    with pytest.raises(ScheduleError, match=f"Did you mean '{code}'"):
        make_calendar(country=country)


def test_a_country_nothing_like_a_code_is_refused() -> None:
    with pytest.raises(ScheduleError, match="names the country 'Narnia', which the holidays"):
        make_calendar(country="Narnia")


def test_an_unknown_subdivision_lists_the_known_ones() -> None:
    with pytest.raises(ScheduleError) as caught:
        make_calendar(country="DE", subdivision="BX")
    message = str(caught.value)
    assert "names the subdivision 'BX' of 'DE', which the holidays package does not know" in message
    assert "The subdivisions of 'DE' it knows are: BB, BE, BW, BY, HB" in message


def test_a_subdivision_needs_a_country() -> None:
    with pytest.raises(ScheduleError, match="names the subdivision 'BY' but no country"):
        make_calendar(subdivision="BY")
