"""Time partitions: the hours, days, weeks or months of one timezone's local calendar.

A time partition is one cell of the local calendar: its key is the cell's local
start written with ``key_format``, and its window runs from that start to the
next cell's start, half-open, as instants. So a Europe/Paris day is 23 or 25
hours long on the days the clocks change. For hourly partitions, the hour the
clocks skip in spring is no partition at all (``02:00`` does not exist there),
and the hour they repeat in autumn is one partition two hours long: keys stay
unique and read back to their partition. Windows are returned in UTC, because
arithmetic between two datetimes that share a ``ZoneInfo`` ignores the offset.

Two corners of real timezones follow from the rule: a start of day that the
clocks skip (Sao Paulo until 2019 sprang forward at midnight) makes that day
start when the clocks jump, and a day a zone skipped entirely (Pacific/Apia,
2011-12-30) is a partition with an empty window.

A partition is *complete* once its window has ended; ``keys(now)`` lists only
complete partitions, because only they can be materialized. Every position is
an integer index (0 for the first partition), which makes ranges, offsets and
windows arithmetic; keys are enumerated once and remembered in the definition
(no module state), so repeated questions about the same definition are cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from threading import RLock
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from assetflow.errors import DefinitionError
from assetflow.partitions.arguments import (
    KeyWriter,
    check_round_trip,
    key_writer,
    load_zone,
    local_time,
    shown,
)
from assetflow.partitions.base import PartitionsDefinition, require_aware
from assetflow.partitions.diagnosis import (
    KeyProblem,
    key_error,
    locate,
    no_complete_partition,
    not_complete,
)

#: At most this many keys are enumerated and remembered per definition (28 years of hours).
CACHED_KEYS_LIMIT = 250_000
#: Beyond the remembered keys, a lookup enumerates ahead only when this close (else parses).
ENUMERATE_AHEAD = 1_024
#: Partition offsets from the start whose keys must read back to themselves: they cover
#: two-digit hours, days and months, week and month boundaries, and a leap day.
ROUND_TRIP_OFFSETS = (0, 1, 2, 6, 7, 11, 12, 13, 23, 24, 25, 30, 31, 59, 365, 366, 1_000, 1_500)
#: Zones whose offset never changes, so no local hour is skipped or repeated.
FIXED_ZONES = frozenset({"UTC", "GMT", "UCT", "Universal", "Zulu", "Greenwich"})
#: The last instant of a half-open window [start, end): datetime's resolution before the end.
RESOLUTION = timedelta(microseconds=1)


class _Cache:
    """What a definition remembers about itself: keys enumerated so far, the last `now`."""

    __slots__ = ("counted", "gap_year", "gaps", "index_by_key", "keys", "lock", "size", "write")

    def __init__(self, write: KeyWriter) -> None:
        self.write = write  # local starts -> keys
        # Only appended to, under the lock; a key in the dict is always in the list.
        self.lock = RLock()
        self.keys: list[str] = []
        self.index_by_key: dict[str, int] = {}
        #: (now, complete partitions at now) of the last count(), as one value for threads
        self.counted: tuple[datetime, int] | None = None
        self.size: int | None = -1  # -1: not computed yet; None: no end
        self.gaps: list[int] = []  # skipped local hours (hourly cells), sorted
        self.gap_year = 0  # the last year scanned for skipped hours


@dataclass(frozen=True, slots=True, init=False, repr=False)
class TimePartitions(PartitionsDefinition):
    """Partitions that are cells of a local calendar; see the module docstring.

    Attributes:
        start: The first partition's local start (timezone-aware, in ``timezone``).
        end: Where partitions stop (exclusive; aware, on a partition boundary), or None.
        timezone: The IANA name of the calendar's timezone.
        key_format: How a partition's local start is written as its key (strftime).
    """

    start: datetime
    end: datetime | None
    timezone: str
    key_format: str
    # Derived from the fields above, so not compared, hashed or passed to __init__
    # (dataclasses.replace() works): the zone, the first and stop cell, remembered keys.
    _zone: ZoneInfo = field(init=False, compare=False, hash=False)
    _first: int = field(init=False, compare=False, hash=False)
    _stop: int | None = field(init=False, compare=False, hash=False)
    _cache: _Cache = field(init=False, compare=False, hash=False)

    #: "hourly", "daily", ...: the word describe() starts with.
    unit: ClassVar[str] = ""
    #: What one partition is called in messages: "hour", "day", ...
    noun: ClassVar[str] = ""
    default_format: ClassVar[str] = ""
    #: How describe() writes the start and the end.
    _point_format: ClassVar[str] = "%Y-%m-%d"
    #: The length of every cell, for units whose cells all have the same local length.
    _step: ClassVar[timedelta | None] = None

    def __init__(
        self,
        start: str | date,
        end: str | date | None = None,
        timezone: str = "UTC",
        key_format: str | None = None,
    ) -> None:
        """Define partitions from ``start`` (until ``end``, exclusive) in ``timezone``.

        A date, a naive datetime or an ISO string is a local time in ``timezone``;
        an aware datetime is an instant. A ``start`` inside a partition moves on to
        the next partition's start, and an ``end`` inside one moves back to its
        start, so every partition is whole.

        Args:
            start: When the first partition starts, e.g. "2026-01-01".
            end: Where partitions stop (exclusive), or None for no end.
            timezone: An IANA timezone name, e.g. "Europe/Paris".
            key_format: A strftime format for keys; it must read back to the partition.

        Raises:
            DefinitionError: When an argument is not valid, with how to fix it.
        """
        self._setup(start, end, timezone, key_format)

    # -- construction -------------------------------------------------------------

    def _setup(
        self, start: str | date, end: str | date | None, timezone: str, key_format: str | None
    ) -> None:
        zone = load_zone(timezone)
        key_format = self.default_format if key_format is None else key_format
        if not isinstance(key_format, str) or not key_format:
            raise DefinitionError(
                f"{type(self).__name__} key_format {key_format!r} is not a strftime format.",
                hint=f"Leave it out for the default, or write one like {self.default_format!r}.",
            )
        setattr_ = object.__setattr__
        setattr_(self, "_zone", zone)
        setattr_(self, "timezone", timezone)
        setattr_(self, "key_format", key_format)
        setattr_(self, "_cache", _Cache(key_writer(key_format)))
        start_local = local_time(start, zone, "start", type(self).__name__)
        first = self._cell_of(start_local)
        if self._cell_start(first) < start_local:
            first += 1
        while self._is_gap(first):
            first += 1
        setattr_(self, "_first", first)
        setattr_(self, "start", self._cell_start(first).replace(tzinfo=zone))
        setattr_(self, "_stop", None)
        setattr_(self, "end", None)
        if end is not None:
            end_local = local_time(end, zone, "end", type(self).__name__)
            self._check_end(start, start_local, end, end_local)
            stop = self._cell_of(end_local)
            setattr_(self, "_stop", stop)
            setattr_(self, "end", self._cell_start(stop).replace(tzinfo=zone))
        self._check_round_trip()

    def _check_end(
        self, start: str | date, start_local: datetime, end: str | date, end_local: datetime
    ) -> None:
        name = type(self).__name__
        if end_local <= start_local:
            raise DefinitionError(
                f"{name} end {shown(end)} is not after start {shown(start)}.",
                hint="The end is exclusive: give an end after the start, or leave it out.",
            )
        if self._cell_of(end_local) <= self._first:
            first = self._cell_start(self._first).strftime(self._point_format)
            raise DefinitionError(
                f"{name} from {shown(start)} to {shown(end)} has no whole {self.noun}: "
                f"the first {self.noun} starts at {first}.",
                hint=f"Move the end to after the first whole {self.noun} ends, or leave it out.",
            )

    def _check_round_trip(self) -> None:
        starts = []
        for offset in ROUND_TRIP_OFFSETS:
            try:
                starts.append(self._cell_start(self._first + offset))
            except (ValueError, OverflowError):  # past year 9999
                break
        check_round_trip(
            type(self).__name__, self.noun, self.key_format, self.default_format, starts
        )

    def __repr__(self) -> str:
        args = [f"start={self._iso(self.start)!r}"]
        if self.end is not None:
            args.append(f"end={self._iso(self.end)!r}")
        if self.timezone != "UTC":
            args.append(f"timezone={self.timezone!r}")
        if self.key_format != self.default_format:
            args.append(f"key_format={self.key_format!r}")
        args.extend(self._extra_repr())
        return f"{type(self).__name__}({', '.join(args)})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild from the arguments, so that a pickle does not carry the cache.
        return (type(self), (self.start, self.end, self.timezone, self.key_format))

    def _iso(self, moment: datetime) -> str:
        local = moment.replace(tzinfo=None)
        return (
            local.isoformat(timespec="minutes") if "%H" in self._point_format else str(local.date())
        )

    def _extra_repr(self) -> list[str]:
        return []

    # -- calendar cells: overridden per unit --------------------------------------

    def _cell_of(self, local: datetime) -> int:
        """The number of the cell that contains the naive local time ``local``."""
        raise NotImplementedError

    def _cell_start(self, cell: int) -> datetime:
        """The naive local start of cell number ``cell``."""
        raise NotImplementedError

    def _is_gap(self, cell: int) -> bool:
        """Whether the cell's start does not exist locally (only hours can be skipped)."""
        return False

    def _index_of_cell(self, cell: int) -> int:
        """How many partitions start before cell ``cell`` (negative before the first)."""
        return cell - self._first

    def _cell_of_index(self, index: int) -> int:
        return self._first + index

    def _next_cell(self, cell: int) -> int:
        return cell + 1

    def _starts(self, index: int, count: int) -> list[datetime]:
        """The naive local starts of ``count`` partitions from position ``index``."""
        first = self._cell_of_index(index)
        if self._step is None:
            return [self._cell_start(cell) for cell in range(first, first + count)]
        begin, step = self._cell_start(first), self._step
        return [begin + step * offset for offset in range(count)]

    # -- positions, keys and instants ---------------------------------------------

    def _size(self) -> int | None:
        """How many partitions the definition has in all: None without an end."""
        cache = self._cache
        if cache.size == -1:
            cache.size = None if self._stop is None else self._index_of_cell(self._stop)
        return cache.size

    def _instant(self, cell: int) -> datetime:
        """The UTC instant at which cell ``cell`` starts."""
        return self._cell_start(cell).replace(tzinfo=self._zone).astimezone(UTC)

    def _cell_at(self, instant: datetime) -> int:
        """The cell whose local span contains ``instant`` (it may be a skipped hour)."""
        return self._cell_of(instant.astimezone(self._zone).replace(tzinfo=None))

    def _position_of(self, cell: int) -> int:
        """The position of the partition that holds the local times of ``cell``.

        A skipped hour's cell can still hold times, when the clocks skip less than an
        hour (Australia/Lord_Howe skips 02:00-02:30): they belong to the partition before.
        """
        position = self._index_of_cell(cell)
        return position - 1 if self._is_gap(cell) else position

    def _extend(self, stop: int) -> None:
        """Remember the keys of every position before ``stop`` (within the cache limit)."""
        cache = self._cache
        stop = min(stop, CACHED_KEYS_LIMIT)
        size = self._size()
        if size is not None:
            stop = min(stop, size)
        with cache.lock:
            have = len(cache.keys)
            if stop <= have:
                return
            written = cache.write(self._starts(have, stop - have))
            cache.keys.extend(written)
            cache.index_by_key.update(zip(written, range(have, stop), strict=True))

    def count(self, now: datetime) -> int:
        """How many partitions are complete at ``now``, i.e. have a window that ended.

        Args:
            now: A timezone-aware datetime.

        Returns:
            The number of complete partitions (``len(keys(now))``).
        """
        counted = self._cache.counted
        if counted is not None and counted[0] == now:
            return counted[1]
        require_aware(now)
        complete = max(self._position_of(self._cell_at(now)), 0)
        size = self._size()
        if size is not None:
            complete = min(complete, size)
        self._cache.counted = (now, complete)
        return complete

    def keys(self, now: datetime) -> list[str]:
        """Every key of a complete partition at ``now`` (before ``end``), oldest first.

        Args:
            now: A timezone-aware datetime; a partition is complete once its window ended.

        Returns:
            A new list of keys, in time order.
        """
        return self.keys_between(0, self.count(now))

    def keys_between(self, start: int, stop: int) -> list[str]:
        """The keys at positions ``start`` up to ``stop`` (excluded), complete or not.

        Args:
            start: The first position; positions before 0 are left out.
            stop: The position after the last; positions at or after ``end`` are left out.

        Returns:
            The keys, in time order.
        """
        start = max(start, 0)
        size = self._size()
        if size is not None:
            stop = min(stop, size)
        if stop <= start:
            return []
        self._extend(stop)
        cache = self._cache
        if stop <= len(cache.keys):
            return cache.keys[start:stop]
        middle = max(start, len(cache.keys))
        rest = cache.write(self._starts(middle, stop - middle))
        return cache.keys[start:middle] + rest

    def key_at(self, index: int) -> str:
        """The key at position ``index`` (0 is the first partition).

        Args:
            index: A position, as :meth:`index` counts.

        Returns:
            The key, complete or not.

        Raises:
            IndexError: When ``index`` is negative or at or after ``end``.
        """
        size = self._size()
        if index < 0 or (size is not None and index >= size):
            raise IndexError(f"{self.describe()} has no partition at position {index}")
        cache = self._cache
        if index >= len(cache.keys) and index < 2 * len(cache.keys) + ENUMERATE_AHEAD:
            self._extend(max(index + 1, 2 * len(cache.keys)))
        if index < len(cache.keys):
            return cache.keys[index]
        return self._cell_start(self._cell_of_index(index)).strftime(self.key_format)

    def position_at(self, instant: datetime) -> int:
        """The position of the partition whose window contains ``instant``.

        Not clipped: negative before the first partition, and at least the number
        of partitions at or after ``end``; ``count(now)`` says which are complete.

        Args:
            instant: A timezone-aware datetime.

        Returns:
            The position, as :meth:`index` counts.
        """
        require_aware(instant)
        return self._position_of(self._cell_at(instant))

    def latest(self, now: datetime) -> str:
        """The newest complete partition at ``now``.

        Args:
            now: A timezone-aware datetime.

        Returns:
            The key of the last partition whose window ended by ``now``.

        Raises:
            PartitionError: When no partition is complete yet, saying when the first is.
        """
        complete = self.count(now)
        if complete == 0:
            raise no_complete_partition(self, now)
        return self.key_at(complete - 1)

    def index(self, key: str) -> int:
        """The position of ``key``: 0 for the first partition, counting every partition.

        Args:
            key: A key of this definition, complete or not.

        Returns:
            Its position; keys sort in time order by it.

        Raises:
            PartitionError: When ``key`` is not a key of this definition (badly
                written, not a partition's start, before the start or at/after the end).
        """
        cache = self._cache
        found = cache.index_by_key.get(key)
        if found is not None:
            return found
        cell = locate(self, key, None)
        if isinstance(cell, KeyProblem):
            raise key_error(self, key, cell, None)
        position = self._index_of_cell(cell)
        if position < 2 * len(cache.keys) + ENUMERATE_AHEAD:
            # Keys are usually asked for in bulk: enumerating ahead makes the rest lookups.
            self._extend(max(position + 1, 2 * len(cache.keys)))
        return position

    def window(self, key: str) -> tuple[datetime, datetime]:
        """The half-open window ``[start, end)`` of ``key``, as UTC datetimes.

        UTC, because subtracting two datetimes that share a ``ZoneInfo`` ignores a
        change of offset between them; ``.astimezone(ZoneInfo(timezone))`` for local.

        Args:
            key: A key of this definition, complete or not.

        Returns:
            The start and the end (excluded) of the partition.

        Raises:
            PartitionError: When ``key`` is not a key of this definition.
        """
        cell = self._cell_of_key(key)
        return self._instant(cell), self._instant(self._next_cell(cell))

    def overlapping(self, key: str, other: TimePartitions) -> list[str]:
        """The keys of ``other`` whose windows overlap the window of ``key``, oldest first.

        Args:
            key: A key of this definition.
            other: Any time definition.

        Returns:
            The overlapping keys that ``other`` has (complete or not).

        Raises:
            PartitionError: When ``key`` is not a key of this definition.
        """
        cell = self._cell_of_key(key)
        after = self._next_cell(cell)
        if self.timezone == other.timezone and self.has_fixed_offset():
            # Local time is UTC plus a constant here: compare local times, three times faster.
            first = other._index_of_cell(other._cell_of(self._cell_start(cell)))
            last = other._index_of_cell(other._cell_of(self._cell_start(after) - RESOLUTION))
        else:
            first = other.position_at(self._instant(cell))
            last = other.position_at(self._instant(after) - RESOLUTION)
        return other.keys_between(first, last + 1)

    def has_fixed_offset(self) -> bool:
        """Whether the timezone's offset from UTC never changes (UTC, Etc/GMT+5, ...)."""
        name = self.timezone.removeprefix("Etc/")
        return name in FIXED_ZONES or name.startswith(("GMT+", "GMT-"))

    def _cell_of_key(self, key: str) -> int:
        return self._cell_of_index(self.index(key))

    def validate(self, key: str, now: datetime) -> None:
        """Raise :class:`PartitionError` unless ``key`` is a complete partition at ``now``.

        The error says why (badly written, not a partition's start, before the start,
        at or after the end, not complete yet), the valid range at ``now``, and the
        nearest valid key.

        Args:
            key: The key to check.
            now: A timezone-aware datetime; the key's window must have ended by then.

        Raises:
            PartitionError: When ``key`` is not a complete partition at ``now``.
        """
        require_aware(now)
        found = self._cache.index_by_key.get(key)
        if found is not None:
            if found < self.count(now):
                return
            cell: int | KeyProblem = self._cell_of_index(found)
        else:
            cell = locate(self, key, now)
        if isinstance(cell, KeyProblem):
            raise key_error(self, key, cell, now)
        # Cells first: a key far in the future needs no position (nor a scan of its years).
        if cell >= self._cell_at(now) or self._index_of_cell(cell) >= self.count(now):
            raise key_error(self, key, not_complete(self, cell, now), now)

    def describe(self) -> str:
        """A stable one-line text, e.g. ``daily from 2026-01-01 until 2026-07-01 Europe/Paris``."""
        text = f"{self.unit} from {self._start_text()}"
        if self.end is not None:
            text += f" until {self.end.replace(tzinfo=None).strftime(self._point_format)}"
        text += f" {self.timezone}"
        if self.key_format != self.default_format:
            text += f", keys {self.key_format}"
        return text

    def _start_text(self) -> str:
        return self.start.replace(tzinfo=None).strftime(self._point_format)
