"""Calendars: the days a schedule does not run (weekends, listed dates, public holidays).

A tick is checked on its local date in the schedule's zone; an excluded day gives the
reason as text, which the tick records as its skip reason. Public holidays come from
the `holidays` package, looked up once per country, subdivision and year.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from assetflow.automation.errors import ScheduleError
from assetflow.errors import did_you_mean, suggest

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Calendar:
    """The days a schedule skips: weekends (business_days), listed dates, a country's holidays."""

    business_days: bool = False
    holidays: frozenset[date] = frozenset()
    country: str | None = None  # the holidays package's country code, e.g. "DE", "US"
    subdivision: str | None = None  # e.g. "BY" (Bavaria) within "DE"

    def excluded(self, day: date) -> str | None:
        """None if the schedule runs on `day`, else why not (one sentence, no full stop)."""
        if self.business_days and day.weekday() >= 5:
            return f"{_WEEKDAYS[day.weekday()]} {day.isoformat()} is not a business day"
        if day in self.holidays:
            return f"{day.isoformat()} is listed in holidays"
        if self.country is not None:
            name = _holidays(self.country, self.subdivision, day.year).get(day)
            if name is not None:
                return f"{day.isoformat()} is a holiday in {self.region} ({name})"
        return None

    @property
    def region(self) -> str:
        """The country and subdivision as one code: "DE", "DE-BY"."""
        if self.country is None:
            return ""
        return self.country + (f"-{self.subdivision}" if self.subdivision else "")


def make_calendar(
    *,
    business_days: bool = False,
    holidays: Iterable[date] = (),
    country: str | None = None,
    subdivision: str | None = None,
    where: str = "the calendar",
) -> Calendar:
    """A Calendar whose country and subdivision the holidays package knows.

    `where` names the calendar in messages ("the calendar of schedule 'nightly'").

    Raises:
        ScheduleError: an unknown country or subdivision, or a subdivision without a country.
    """
    if subdivision is not None and country is None:
        raise ScheduleError(
            f"{where} names the subdivision '{subdivision}' but no country: a subdivision is "
            'part of a country, so add country = "..." (e.g. country = "DE" with '
            'subdivision = "BY"), or remove the subdivision.'
        )
    if country is not None:
        country = _check_country(country, where)
        if subdivision is not None:
            subdivision = _check_subdivision(country, subdivision, where)
    return Calendar(business_days, frozenset(holidays), country, subdivision)


def _check_country(country: str, where: str) -> str:
    supported = _supported()
    if country in supported:
        return country
    if country.upper() in supported:
        return country.upper()
    names = _country_names()
    spelled = country.lower().replace(" ", "_")
    close = suggest(country.upper(), supported) or [names[name] for name in suggest(spelled, names)]
    hint = did_you_mean(close)
    raise ScheduleError(
        f"{where} names the country '{country}', which the holidays package does not know. "
        + (hint + " " if hint else "")
        + "Use an ISO 3166 country code such as 'DE', 'US' or 'GB' (the package's list: "
        "https://holidays.readthedocs.io), or list the dates in holidays = [...] instead."
    )


def _check_subdivision(country: str, subdivision: str, where: str) -> str:
    known = _supported()[country]
    if subdivision in known:
        return subdivision
    if subdivision.upper() in known:
        return subdivision.upper()
    hint = did_you_mean(suggest(subdivision.upper(), known))
    listed = ", ".join(known[:40]) + (", ..." if len(known) > 40 else "")
    raise ScheduleError(
        f"{where} names the subdivision '{subdivision}' of '{country}', which the holidays "
        "package does not know. "
        + (hint + " " if hint else "")
        + (
            f"The subdivisions of '{country}' it knows are: {listed}."
            if known
            else f"It knows no subdivisions of '{country}': remove the subdivision."
        )
    )


@functools.cache
def _supported() -> dict[str, list[str]]:
    import holidays  # imported on first use: the package stays light

    return {
        code: list(subdivisions)
        for code, subdivisions in holidays.list_supported_countries().items()
    }


@functools.cache
def _country_names() -> dict[str, str]:
    """Country codes by the package's module names ("germany" -> "DE"), for did-you-mean."""
    from holidays import registry

    return {name: entry[1] for name, entry in registry.COUNTRIES.items()}


@functools.lru_cache(maxsize=256)
def _holidays(country: str, subdivision: str | None, year: int) -> dict[date, str]:
    """A country's holidays of one year, by date (looked up once)."""
    import holidays  # imported on first use: the package stays light

    found = holidays.country_holidays(country, subdiv=subdivision, years=year)
    return {day: str(name) for day, name in found.items()}
