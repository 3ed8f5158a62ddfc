"""The calendar units: hourly, daily, weekly and monthly cells, numbered from year 1.

Each unit numbers its cells (hour, day, week, month) with integers, so that a
position is a subtraction. Only hours can be skipped by the clocks; the hours a
timezone skips are found one year at a time and remembered in the definition.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from assetflow.errors import DefinitionError, did_you_mean, suggest
from assetflow.partitions.temporal import TimePartitions

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WEEK = timedelta(days=7)
HOURS_PER_DAY = 24
MONTHS_PER_YEAR = 12


@dataclass(frozen=True, slots=True, init=False, repr=False)
class HourlyPartitions(TimePartitions):
    """One partition per local hour; keys like ``2026-03-01-05:00``.

    In a timezone with daylight saving time, the skipped spring hour has no
    partition and the repeated autumn hour is one partition, two hours long.
    """

    unit: ClassVar[str] = "hourly"
    noun: ClassVar[str] = "hour"
    default_format: ClassVar[str] = "%Y-%m-%d-%H:00"
    _point_format: ClassVar[str] = "%Y-%m-%d %H:%M"
    _step: ClassVar[timedelta | None] = HOUR

    def _cell_of(self, local: datetime) -> int:
        return local.toordinal() * HOURS_PER_DAY + local.hour

    def _cell_start(self, cell: int) -> datetime:
        day, hour = divmod(cell, HOURS_PER_DAY)
        return datetime.fromordinal(day).replace(hour=hour)

    def _has_gaps(self) -> bool:
        return not self.has_fixed_offset()

    def _is_gap(self, cell: int) -> bool:
        if not self._has_gaps():
            return False
        local = self._cell_start(cell)
        back = local.replace(tzinfo=self._zone).astimezone(UTC).astimezone(self._zone)
        return back.replace(tzinfo=None) != local

    def _gaps_until(self, cell: int) -> list[int]:
        """Every skipped hour from the start's year to ``cell``'s year, sorted."""
        cache = self._cache
        year = date.fromordinal(cell // HOURS_PER_DAY).year
        if cache.gap_year < year:
            with cache.lock:
                if cache.gap_year == 0:
                    cache.gap_year = date.fromordinal(self._first // HOURS_PER_DAY).year - 1
                while cache.gap_year < year:
                    cache.gaps.extend(_skipped_hours(self._zone, cache.gap_year + 1))
                    cache.gap_year += 1
        return cache.gaps

    def _index_of_cell(self, cell: int) -> int:
        if cell <= self._first or not self._has_gaps():
            return cell - self._first
        gaps = self._gaps_until(cell)
        return cell - self._first - (bisect_left(gaps, cell) - bisect_left(gaps, self._first))

    def _cell_of_index(self, index: int) -> int:
        cell = self._first + index
        if index <= 0 or not self._has_gaps():
            return cell
        at = bisect_left(self._gaps_until(cell), self._first)
        while True:  # step over every skipped hour up to the cell, scanning years as needed
            gaps = self._gaps_until(cell)
            if at < len(gaps) and gaps[at] <= cell:
                cell, at = cell + 1, at + 1
            else:
                return cell

    def _next_cell(self, cell: int) -> int:
        cell += 1
        while self._is_gap(cell):
            cell += 1
        return cell

    def _starts(self, index: int, count: int) -> list[datetime]:
        if not self._has_gaps() or count == 0:
            return TimePartitions._starts(self, index, count)
        first, last = self._cell_of_index(index), self._cell_of_index(index + count - 1)
        gaps = self._gaps_until(last)
        skipped = set(gaps[bisect_left(gaps, first) : bisect_left(gaps, last)])
        begin = self._cell_start(first)
        return [
            begin + HOUR * offset
            for offset in range(last - first + 1)
            if first + offset not in skipped
        ]


@dataclass(frozen=True, slots=True, init=False, repr=False)
class DailyPartitions(TimePartitions):
    """One partition per local day; keys like ``2026-03-01``."""

    unit: ClassVar[str] = "daily"
    noun: ClassVar[str] = "day"
    default_format: ClassVar[str] = "%Y-%m-%d"
    _step: ClassVar[timedelta | None] = DAY

    def _cell_of(self, local: datetime) -> int:
        return local.toordinal()

    def _cell_start(self, cell: int) -> datetime:
        return datetime.fromordinal(cell)


@dataclass(frozen=True, slots=True, init=False, repr=False)
class WeeklyPartitions(TimePartitions):
    """One partition per local week, starting on ``week_start``; keys are its first day.

    ``week_start`` is a weekday name ("monday", the default, ... "sunday") or its
    number as ``date.weekday()`` counts (0 is Monday).
    """

    week_start: int

    unit: ClassVar[str] = "weekly"
    noun: ClassVar[str] = "week"
    default_format: ClassVar[str] = "%Y-%m-%d"
    _step: ClassVar[timedelta | None] = WEEK

    def __init__(
        self,
        start: str | date,
        end: str | date | None = None,
        timezone: str = "UTC",
        key_format: str | None = None,
        week_start: str | int = "monday",
    ) -> None:
        """Define weekly partitions; see :class:`TimePartitions` for the common arguments.

        Args:
            start: When the first week starts; a day inside a week moves on to the next week.
            end: Where weeks stop (exclusive), or None.
            timezone: An IANA timezone name.
            key_format: A strftime format for the week's first day.
            week_start: The weekday weeks start on: a name or 0 (Monday) to 6 (Sunday).

        Raises:
            DefinitionError: When an argument is not valid.
        """
        object.__setattr__(self, "week_start", _weekday(week_start))
        self._setup(start, end, timezone, key_format)

    def __reduce__(self) -> tuple[Any, ...]:
        args = (self.start, self.end, self.timezone, self.key_format, self.week_start)
        return (type(self), args)

    def _extra_repr(self) -> list[str]:
        return [] if self.week_start == 0 else [f"week_start={WEEKDAYS[self.week_start]!r}"]

    def _start_text(self) -> str:
        return f"{WEEKDAYS[self.week_start].capitalize()} {self.start:%Y-%m-%d}"

    def _cell_of(self, local: datetime) -> int:
        # Ordinal 1 (0001-01-01) is a Monday.
        return (local.toordinal() - 1 - self.week_start) // 7

    def _cell_start(self, cell: int) -> datetime:
        return datetime.fromordinal(cell * 7 + 1 + self.week_start)


@dataclass(frozen=True, slots=True, init=False, repr=False)
class MonthlyPartitions(TimePartitions):
    """One partition per local calendar month; keys like ``2026-03``."""

    unit: ClassVar[str] = "monthly"
    noun: ClassVar[str] = "month"
    default_format: ClassVar[str] = "%Y-%m"
    _point_format: ClassVar[str] = "%Y-%m"

    def _cell_of(self, local: datetime) -> int:
        return local.year * MONTHS_PER_YEAR + local.month - 1

    def _cell_start(self, cell: int) -> datetime:
        year, month = divmod(cell, MONTHS_PER_YEAR)
        return datetime(year, month + 1, 1)


def _skipped_hours(zone: ZoneInfo, year: int) -> list[int]:
    """The hourly cells of ``year`` whose local start does not exist in ``zone``."""
    skipped = []
    first, stop = date(year, 1, 1).toordinal(), date(year + 1, 1, 1).toordinal()
    offset = datetime.fromordinal(first).replace(tzinfo=zone).utcoffset()
    for ordinal in range(first, stop):
        next_offset = datetime.fromordinal(ordinal + 1).replace(tzinfo=zone).utcoffset()
        if next_offset != offset:  # the clocks change this day: find the hours they skip
            for hour in range(HOURS_PER_DAY):
                local = datetime.fromordinal(ordinal).replace(hour=hour)
                back = local.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)
                if back.replace(tzinfo=None) != local:
                    skipped.append(ordinal * HOURS_PER_DAY + hour)
        offset = next_offset
    return skipped


def _weekday(value: str | int) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(WEEKDAYS):
        return value
    if isinstance(value, str):
        folded = value.strip().lower()
        for number, name in enumerate(WEEKDAYS):
            if folded in (name, name[:3]):
                return number
    meant = suggest(str(value).lower(), WEEKDAYS)
    raise DefinitionError(
        f"WeeklyPartitions week_start {value!r} is not a weekday.\n\n    "
        + (did_you_mean(meant) or "Weekdays are 'monday' .. 'sunday', or 0 (Monday) .. 6."),
        hint="Name the day weeks start on, e.g. week_start='sunday'.",
    )
