"""Cadences: when a schedule's ticks fall, as UTC instants, with exact DST rules.

A cron cadence asks croniter for the days its line matches and for the times of
day it matches (croniter does all field matching), then turns each local wall
time into an instant in the schedule's zone:

- a time that exists once is that instant;
- a time in a spring-forward gap: a cron with fixed hours runs at the first valid
  instant after the gap (02:30 Berlin -> 03:00 CEST); an hourly (or every-N-hours)
  cron skips it, so a 23-hour day has 23 hourly ticks;
- a time in a fall-back overlap: a cron with fixed hours runs at the first
  occurrence only; an hourly cron runs at both (a 25-hour day has 25 hourly ticks).

An interval cadence is an exact UTC duration from an anchor.
"""

from __future__ import annotations

import bisect
import functools
import heapq
import re
import threading
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from assetflow import timetext
from assetflow.automation.errors import ScheduleError
from assetflow.timetext import parse_zone

#: The macros a cron line may be, and the five fields each stands for.
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
#: The five fields of a cron line: name, lowest and highest value, and the words allowed.
FIELDS = (
    ("minute", 0, 59, ""),
    ("hour", 0, 23, ""),
    ("day-of-month", 1, 31, ""),
    ("month", 1, 12, " (or jan-dec)"),
    ("day-of-week", 0, 6, " (or sun-sat; 0 and 7 are Sunday)"),
)
_CRON_HELP = (
    "A cron line has five fields: minute (0-59), hour (0-23), day-of-month (1-31), "
    "month (1-12 or jan-dec) and day-of-week (0-6 or sun-sat, 0 = Sunday); each is `*`, "
    "a number, a range `a-b`, a list `a,b` or a step `*/n`, or the whole line is one of "
    + ", ".join(MACROS)
    + "."
)
#: Days in each month at most (February of a leap year), to find lines that never fire.
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
#: Instants of later days are never earlier than a day's start minus this (zone offsets
#: stay within a day), so a tick buffered that far back is final.
_SETTLED = timedelta(days=2)
#: The windows next_tick looks in before it looks without end.
_WINDOWS = (timedelta(hours=1), timedelta(days=1), timedelta(days=32))


class Cadence(Protocol):
    """When a schedule's ticks fall: UTC-aware instants, ascending."""

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The schedule's time zone (UTC for an interval unless one was given)."""
        ...

    def ticks(self, after: datetime, until: datetime) -> Iterator[datetime]:
        """Every tick t with after < t <= until, ascending, as UTC-aware datetimes."""
        ...

    def next_tick(self, after: datetime) -> datetime:
        """The first tick strictly after `after`."""
        ...

    def previous_tick(self, at_or_before: datetime) -> datetime | None:
        """The last tick at or before `at_or_before`, or None if there is none."""
        ...

    def describe(self) -> str:
        """The cadence in one line: "0 3 * * * in Europe/Berlin", "every 15m from ...Z"."""
        ...


# -- time zones and durations ------------------------------------------------------------


def zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA time zone called `name` (`assetflow.timetext.parse_zone`).

    Raises:
        ScheduleError: no such zone (with the closest names).
    """
    return parse_zone(name, error=ScheduleError)


def parse_duration(text: str, setting: str | None = None) -> timedelta:
    """A duration such as "15m", "6h", "1d", "90s" or "1h30m" (`assetflow.timetext`).

    Raises:
        ScheduleError: not such a duration, or zero.
    """
    return timetext.parse_duration(text, setting, error=ScheduleError)


def format_duration(duration: timedelta) -> str:
    """A duration as parse_duration reads it: 5400 s -> "1h30m"."""
    total = int(duration.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def _utc(instant: datetime, what: str) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ScheduleError(
            f"{what} '{instant.isoformat()}' has no UTC offset: give an instant with its "
            "offset, e.g. '2026-03-02T03:00:00+01:00' or '2026-03-02T02:00:00Z'."
        )
    return instant.astimezone(UTC)


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


# -- interval cadences ---------------------------------------------------------------------


@dataclass(frozen=True)
class IntervalCadence:
    """Ticks at anchor + k * every (k >= 0): exact durations in UTC, whatever the zone."""

    every: timedelta
    anchor: datetime
    zone: zoneinfo.ZoneInfo = field(default_factory=lambda: zoneinfo.ZoneInfo("UTC"))

    def ticks(self, after: datetime, until: datetime) -> Iterator[datetime]:
        after, until = _utc(after, "the instant"), _utc(until, "the instant")
        current = self.next_tick(after)
        while current <= until:
            yield current
            current += self.every

    def next_tick(self, after: datetime) -> datetime:
        after = _utc(after, "the instant")
        if after < self.anchor:
            return self.anchor
        return self.anchor + (after - self.anchor) // self.every * self.every + self.every

    def previous_tick(self, at_or_before: datetime) -> datetime | None:
        at = _utc(at_or_before, "the instant")
        if at < self.anchor:
            return None
        return self.anchor + (at - self.anchor) // self.every * self.every

    def describe(self) -> str:
        return f"every {format_duration(self.every)} from {_iso(self.anchor)}"


def interval_cadence(
    every: str | timedelta, anchor: datetime, timezone: str = "UTC"
) -> IntervalCadence:
    """An interval cadence: `every` ("15m" or a timedelta) from `anchor` (an aware instant).

    Raises:
        ScheduleError: `every` is not a positive duration, or `anchor` has no offset.
    """
    duration = parse_duration(every) if isinstance(every, str) else every
    if duration <= timedelta(0):
        raise ScheduleError(f"the interval {duration} is not positive: use e.g. '15m'.")
    return IntervalCadence(duration, _utc(anchor, "the start"), zone(timezone))


# -- cron cadences --------------------------------------------------------------------------


@dataclass(frozen=True)
class CronCadence:
    """A five-field cron line in an IANA zone, with the DST rules of the module docstring."""

    expression: str
    zone: zoneinfo.ZoneInfo
    fields: str  # the five fields (a macro expanded)
    fixed_hours: bool  # the hour field names hours (not `*` nor `*/n`)
    times_of_day: tuple[timedelta, ...]  # the wall times of a matching day, from midnight
    _iterator: Any = field(repr=False, compare=False, hash=False)
    _lock: threading.Lock = field(
        default_factory=threading.Lock, repr=False, compare=False, hash=False
    )

    def ticks(self, after: datetime, until: datetime) -> Iterator[datetime]:
        after, until = _utc(after, "the instant"), _utc(until, "the instant")
        return self._between(after, until)

    def next_tick(self, after: datetime) -> datetime:
        after = _utc(after, "the instant")
        for window in _WINDOWS:  # a short window first: a frequent line is cheap
            for instant in self._between(after, after + window):
                return instant
        return next(self._between(after, None))

    def previous_tick(self, at_or_before: datetime) -> datetime | None:
        at = _utc(at_or_before, "the instant")
        day = at.astimezone(self.zone).date() + timedelta(days=2)
        for _ in range(5 * 366):
            day = self._previous_day(day)
            start = datetime.combine(day - timedelta(days=2), time(0, 0), tzinfo=UTC)
            found = None
            for instant in self._between(start, at):
                found = instant
            if found is not None:
                return found
        return None

    def describe(self) -> str:
        return f"{self.expression} in {self.zone.key}"

    # The days the line matches, from croniter; the day's instants from the wall times.

    def _next_day(self, after: date) -> date:
        """The first day after `after` that the line matches (croniter's day fields)."""
        with self._lock:  # one croniter object, moved by every caller
            self._iterator.set_current(datetime.combine(after, time(23, 59)), force=True)
            found: datetime = self._iterator.get_next(datetime)
        return found.date()

    def _previous_day(self, before: date) -> date:
        """The last day before `before` that the line matches."""
        with self._lock:
            self._iterator.set_current(datetime.combine(before, time(0, 0)), force=True)
            found: datetime = self._iterator.get_prev(datetime)
        return found.date()

    def _between(self, after: datetime, until: datetime | None) -> Iterator[datetime]:
        """Every tick t with after < t <= until (no end for None), ascending.

        The days come from croniter; within a day, only the wall times whose instants
        can fall in the window are turned into instants, so a short window is cheap.
        """
        pending: list[datetime] = []  # a heap: overlaps can put instants out of order
        last: datetime | None = None  # two wall times in a gap can move to one instant
        day = after.astimezone(self.zone).date() - timedelta(days=2)
        after_wall = after.replace(tzinfo=None)
        while True:
            day = self._next_day(day)
            midnight = datetime.combine(day, time(0, 0))
            low, high = _offsets(self.zone, midnight)
            while pending and pending[0] < midnight.replace(tzinfo=UTC) - high:
                instant = heapq.heappop(pending)
                if instant != last:
                    yield instant
                last = instant
            if until is not None and midnight - high > until.replace(tzinfo=None):
                break
            # A wall time's instants lie between wall - high and wall - low.
            first = bisect.bisect_right(self.times_of_day, after_wall + low - midnight)
            for moment in self.times_of_day[first:]:
                wall = midnight + moment
                if until is not None and wall - high > until.replace(tzinfo=None):
                    break
                for instant in self._instants(wall):
                    if instant > after and (until is None or instant <= until):
                        heapq.heappush(pending, instant)
        while pending:
            instant = heapq.heappop(pending)
            if instant != last:
                yield instant
            last = instant

    def _instants(self, wall: datetime) -> list[datetime]:
        """The instants of a local wall time under this cadence's DST rules."""
        first = wall.replace(tzinfo=self.zone)
        offset = first.utcoffset()
        later_offset = first.replace(fold=1).utcoffset()
        assert offset is not None
        assert later_offset is not None
        if offset == later_offset:
            return [(wall - offset).replace(tzinfo=UTC)]
        early = (wall - offset).replace(tzinfo=UTC)
        late = (wall - later_offset).replace(tzinfo=UTC)
        if early < late:  # the wall time happens twice (fall-back overlap)
            return [early] if self.fixed_hours else [early, late]
        # The wall time does not exist (spring-forward gap).
        return [_transition(self.zone, late, early)] if self.fixed_hours else []


def _offsets(tz: zoneinfo.ZoneInfo, midnight: datetime) -> tuple[timedelta, timedelta]:
    """The lowest and highest UTC offset of a local day (at most one change a day)."""
    offsets = [
        (wall.replace(tzinfo=tz, fold=fold).utcoffset() or timedelta(0))
        for wall in (midnight, midnight + timedelta(days=1))
        for fold in (0, 1)
    ]
    return min(offsets), max(offsets)


def _transition(tz: zoneinfo.ZoneInfo, before: datetime, after: datetime) -> datetime:
    """The instant a zone's offset changes, between two UTC instants that straddle it."""
    old = before.astimezone(tz).utcoffset()
    low, high = 0, int((after - before).total_seconds())
    while low < high:  # the first second at which the offset is no longer `old`
        middle = (low + high) // 2
        if (before + timedelta(seconds=middle)).astimezone(tz).utcoffset() == old:
            low = middle + 1
        else:
            high = middle
    return before + timedelta(seconds=low)


def cron_cadence(expression: str, timezone: str = "UTC", *, name: str = "") -> CronCadence:
    """A cron cadence: a five-field line or a macro such as "@daily", in an IANA zone.

    `name` is the schedule's, for messages.

    Raises:
        ScheduleError: the line does not parse, a field is out of range, it has six fields,
            it can never fire, or the zone is unknown.
    """
    tz = zone(timezone)
    return _cron(expression.strip(), tz, name)


@functools.lru_cache(maxsize=4096)
def _cron(expression: str, tz: zoneinfo.ZoneInfo, name: str) -> CronCadence:
    from croniter import croniter  # imported on first use: the package stays light

    where = f"the cron expression '{expression}'" + (f" of schedule '{name}'" if name else "")
    fields = MACROS.get(expression.lower(), expression)
    parts = fields.split()
    if expression.startswith("@") and expression.lower() not in MACROS:
        raise ScheduleError(f"{where} is not a known macro. {_CRON_HELP}")
    if len(parts) != 5:
        extra = (
            " Six fields would add seconds, which schedules do not have: the finest "
            "cron tick is one minute (for finer ticks use `every`, e.g. every = '30s')."
            if len(parts) == 6
            else ""
        )
        raise ScheduleError(f"{where} has {len(parts)} fields, not 5.{extra} {_CRON_HELP}")
    for index, part in enumerate(parts):
        _check_field(croniter, where, index, part)
    try:
        iterator = croniter(" ".join(parts), datetime(2000, 1, 1))
    except Exception as error:  # croniter's errors have no common public base
        raise ScheduleError(f"{where} is not valid ({error}). {_CRON_HELP}") from error
    _check_fires(croniter, where, parts)
    hour = parts[1]
    fixed_hours = not re.fullmatch(r"(\*|0-23)(/\d+)?", hour)
    minutes, hours = iterator.expanded[0], iterator.expanded[1]
    all_minutes = range(60) if minutes == ["*"] else minutes
    all_hours = range(24) if hours == ["*"] else hours
    times = tuple(
        timedelta(hours=int(h), minutes=int(m))
        for h in sorted(all_hours)
        for m in sorted(all_minutes)
    )
    return CronCadence(expression, tz, " ".join(parts), fixed_hours, times, iterator)


def _check_field(croniter: Any, where: str, index: int, part: str) -> None:
    """Raise a ScheduleError naming the field if croniter refuses it on its own."""
    probe = ["*"] * 5
    probe[index] = part
    try:
        croniter(" ".join(probe), datetime(2000, 1, 1))
        return
    except Exception:  # croniter's errors have no common public base
        pass
    label, low, high, words = FIELDS[index]
    numbers = [int(n) for n in re.findall(r"\d+", part.split("/")[0])]
    high_ok = 7 if index == 4 else high  # croniter reads 7 as Sunday too
    if numbers and any(n < low or n > high_ok for n in numbers):
        problem = f"{label} field '{part}' is out of range {low}-{high}{words}"
    else:
        problem = f"{label} field '{part}' is not a valid value (use {low}-{high}{words})"
    raise ScheduleError(f"{where}: {problem}. {_CRON_HELP}")


def _check_fires(croniter: Any, where: str, parts: list[str]) -> None:
    """Raise a ScheduleError if the line's days can never occur (`0 0 30 2 *`)."""
    days_field, month_field, weekday_field = parts[2], parts[3], parts[4]
    if days_field == "*" or weekday_field != "*":
        return  # any day of some month, or croniter's day-of-month OR day-of-week
    expanded = croniter(" ".join(parts), datetime(2000, 1, 1)).expanded
    days, months = expanded[2], expanded[3]
    if not all(isinstance(d, int) for d in days):
        return  # `L` (last day) always exists
    month_numbers = range(1, 13) if months == ["*"] else [int(m) for m in months]
    if any(day <= _MONTH_DAYS[m - 1] for m in month_numbers for day in days):
        return
    raise ScheduleError(
        f"{where} can never fire: no month in its month field ('{month_field}') has the "
        f"day '{days_field}' of its day-of-month field. Check the day and the month "
        "(e.g. '0 0 28 2 *' for February 28th, or 'L' for the last day of the month)."
    )
