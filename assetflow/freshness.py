"""Freshness and deadlines: when an asset is late, as pure functions of the store's newest
materializations and an instant.

An asset declares a policy with `@asset(freshness="6h")`, `@asset(deadline="06:00",
timezone="Europe/Berlin")`, or both. What each means:

- `freshness`: some materialization of the asset (of any of its partitions) finished
  within the duration before now. Late from the newest one's finish plus the duration;
  an asset never materialized is late as soon as it is looked at.
- `deadline` on an asset with daily or hourly partitions: by HH:MM local time on day D
  (in `timezone`, UTC by default), every partition that closed during day D-1 (the
  partitions whose window ends after local midnight of D-1 and by local midnight of D)
  is materialized. For daily partitions in the deadline's timezone that is the day
  D-1, the one a `partition = "previous"` schedule builds at midnight; for hourly
  partitions the 23, 24 or 25 hours of D-1. Give the deadline the partitions' timezone,
  else "the day" is another calendar's. Each missing partition is late on its own.
- `deadline` on any other asset (unpartitioned, weekly, monthly, static or dynamic
  partitions; allowed only when a schedule or an automation policy runs it): by HH:MM
  local on day D, some materialization of the asset finished since local midnight of D.

Only the last deadline that has passed is checked: from 06:00 on day D until 06:00 on
D+1, the partitions of D-1. A deadline in the hour the clocks skip in spring falls an
hour later by the wall clock; one in the hour they repeat in autumn is the first of the
two.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from assetflow.errors import DefinitionError
from assetflow.timetext import parse_duration, parse_zone

if TYPE_CHECKING:
    from assetflow.keys import AssetPartition
    from assetflow.partitions.base import PartitionsDefinition

#: The zone of a deadline that names none.
DEFAULT_ZONE = "UTC"


class Materialized(Protocol):
    """What the evaluation reads of a newest materialization (a `MaterializationState`)."""

    @property
    def finished_at(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class FreshnessPolicy:
    """When an asset must have materialized: within `freshness`, and/or by `deadline`
    (a local time of day in `zone`); see the module docstring."""

    freshness: timedelta | None
    deadline: time | None
    zone: ZoneInfo

    @property
    def freshness_rule(self) -> str:
        """`freshness 6h`: the rule as shown beside a late asset."""
        return f"freshness {duration_text(self.freshness)}" if self.freshness else ""

    @property
    def deadline_rule(self) -> str:
        """`deadline 06:00 Europe/Berlin`."""
        if self.deadline is None:
            return ""
        return f"deadline {self.deadline.strftime('%H:%M')} {self.zone.key}"

    def last_deadline(self, now: datetime) -> tuple[date, datetime] | None:
        """The local day D and the instant (UTC) of the last deadline at or before `now`."""
        if self.deadline is None:
            return None
        day = now.astimezone(self.zone).date()
        due = _local_instant(day, self.deadline, self.zone)
        if due > now:
            day -= timedelta(days=1)
            due = _local_instant(day, self.deadline, self.zone)
        return day, due


@dataclass(frozen=True, slots=True)
class Overdue:
    """An asset (or one partition of it) that is late by one rule of its policy."""

    asset: str
    #: "" when not about one partition
    partition: str
    #: "freshness 6h" | "deadline 06:00 Europe/Berlin"
    rule: str
    #: UTC: when it became late (for an asset never materialized under `freshness`, the
    #: instant it was evaluated)
    due_at: datetime
    last_materialized_at: datetime | None

    def overdue_by(self, now: datetime) -> timedelta:
        """How late it is at `now` (never negative)."""
        return max(now - self.due_at, timedelta(0))

    def describe(self, now: datetime) -> str:
        """`overdue by 2 h 14 min (freshness 6h)`, or `never materialized (freshness 6h)`."""
        if self.last_materialized_at is None and self.rule.startswith("freshness"):
            return f"never materialized ({self.rule})"
        return f"{describe_overdue(self.overdue_by(now))} ({self.rule})"


def policy_of(
    freshness: str | timedelta | None,
    deadline: str | None,
    timezone: str | None,
    where: str,
) -> FreshnessPolicy | None:
    """The policy `@asset(freshness=, deadline=, timezone=)` declares, or None for none.

    Args:
        freshness: A duration ("6h", "1h30m") or a timedelta, or None.
        deadline: A local time of day "HH:MM" (00:00-23:59), or None.
        timezone: The deadline's IANA time zone (default UTC).
        where: `asset 'x' (file:line)`, which every message starts with.

    Raises:
        DefinitionError: `freshness` is not a positive duration, `deadline` not a time of
            day, `timezone` not a zone, or `timezone` without a deadline.
    """
    if freshness is None and deadline is None:
        if timezone is not None:
            raise DefinitionError(
                f"{where} sets timezone={timezone!r} but no deadline: the timezone is the one "
                'a deadline is read in. To fix this, add deadline="HH:MM", or remove timezone.'
            )
        return None
    span = _freshness(freshness, where) if freshness is not None else None
    at = parse_deadline(deadline, where) if deadline is not None else None
    zone = _zone(DEFAULT_ZONE if timezone is None else timezone, where)
    return FreshnessPolicy(span, at, zone)


def _freshness(value: str | timedelta, where: str) -> timedelta:
    if isinstance(value, timedelta):
        if value > timedelta(0):
            return value
        raise DefinitionError(
            f"{where} has freshness={value!r}, which is not a positive duration. "
            "To fix this, write how recent its newest materialization must be, e.g. "
            'freshness="6h" or freshness="1d".'
        )
    if not isinstance(value, str):
        value = repr(value)
    try:
        return parse_duration(value, "freshness", error=DefinitionError)
    except DefinitionError as error:
        raise DefinitionError(f"{where}: {error.message}") from None


def _zone(name: str, where: str) -> ZoneInfo:
    try:
        return parse_zone(name if isinstance(name, str) else repr(name), error=DefinitionError)
    except DefinitionError as error:
        raise DefinitionError(f"{where}: {error.message}") from None


def parse_deadline(text: str, where: str) -> time:
    """A local time of day written "HH:MM", 00:00 to 23:59.

    Raises:
        DefinitionError: anything else, naming `where`.
    """
    if isinstance(text, str) and len(text) == 5 and text[2] == ":":
        hours, minutes = text[:2], text[3:]
        if hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60:
            return time(int(hours), int(minutes))
    raise DefinitionError(
        f'{where} has deadline = "{text}", which is not a time of day. Write it as HH:MM '
        'on a 24-hour clock, from 00:00 to 23:59 (e.g. deadline="06:00"), and the zone '
        'it is read in as timezone= (e.g. timezone="Europe/Berlin"; UTC by default).'
    )


def is_daily_or_finer(partitions: PartitionsDefinition | None) -> bool:
    """Whether a deadline checks an asset's partitions one by one: daily or hourly
    time partitions (weekly, monthly, static and dynamic ones are checked as a whole)."""
    from assetflow.partitions.calendars import DailyPartitions, HourlyPartitions

    return isinstance(partitions, DailyPartitions | HourlyPartitions)


@functools.lru_cache(maxsize=256)
def due_partitions(partitions: PartitionsDefinition, day: date, zone: ZoneInfo) -> tuple[str, ...]:
    """The partitions due by a deadline on local `day`: those whose window ends after
    local midnight of the day before and by local midnight of `day` (in `zone`).

    `partitions` must be daily or finer (`is_daily_or_finer`). Remembered: the assets
    of a project mostly share a few definitions."""
    from assetflow.partitions.temporal import TimePartitions

    assert isinstance(partitions, TimePartitions)
    begin = _local_instant(day - timedelta(days=1), time(0), zone)
    end = _local_instant(day, time(0), zone)
    first = max(partitions.position_at(begin), 0)
    stop = min(partitions.position_at(end), partitions.count(end))
    return tuple(partitions.key_at(index) for index in range(first, stop))


def needed_reads(
    policies: Iterable[tuple[str, FreshnessPolicy, PartitionsDefinition | None]],
    now: datetime,
) -> tuple[list[str], list[AssetPartition]]:
    """What `evaluate` needs of the store at `now`: the assets whose newest
    materialization (over all their partitions) counts, and the asset-partitions due
    by a deadline on daily or hourly partitions (only those are read of such assets).
    """
    whole: list[str] = []
    keys: list[AssetPartition] = []
    for name, policy, partitions in policies:
        by_partition = partitions is not None and is_daily_or_finer(partitions)
        if policy.freshness is not None or not by_partition:
            whole.append(name)
            continue
        passed = policy.last_deadline(now)
        if passed is not None and partitions is not None:
            keys.extend((name, key) for key in due_partitions(partitions, passed[0], policy.zone))
    return whole, keys


def evaluate(
    policies: Iterable[tuple[str, FreshnessPolicy, PartitionsDefinition | None]],
    latest: Mapping[AssetPartition, Materialized],
    now: datetime,
) -> list[Overdue]:
    """What is late at `now`: one Overdue per asset and rule (per partition for a
    deadline on daily or hourly partitions), in the order of `policies`.

    Args:
        policies: (asset, its policy, its partitions) for each asset to look at.
        latest: The newest materialization of each asset-partition of those assets
            (`MetadataStore.latest_states`); others may be there too.
        now: The instant of the evaluation (aware).
    """
    wanted = {}
    for name, policy, partitions in policies:
        wanted[name] = (policy, partitions)
    newest: dict[str, datetime] = {}
    for (asset, _), state in latest.items():
        if asset in wanted:
            finished = state.finished_at
            if asset not in newest or finished > newest[asset]:
                newest[asset] = finished
    found: list[Overdue] = []
    for name, (policy, partitions) in wanted.items():
        last = newest.get(name)
        if policy.freshness is not None:
            due = last + policy.freshness if last is not None else now
            if last is None or now > due:
                found.append(Overdue(name, "", policy.freshness_rule, due, last))
        passed = policy.last_deadline(now)
        if passed is None:
            continue
        day, due = passed
        if partitions is not None and is_daily_or_finer(partitions):
            for key in due_partitions(partitions, day, policy.zone):
                if (name, key) not in latest:
                    found.append(Overdue(name, key, policy.deadline_rule, due, None))
        elif last is None or last < _local_instant(day, time(0), policy.zone):
            found.append(Overdue(name, "", policy.deadline_rule, due, last))
    return found


def describe_overdue(delta: timedelta) -> str:
    """`overdue by 2 h 14 min`, `overdue by 3 d 2 h`, `overdue by 45 s`: the two largest
    units, down to minutes (seconds only under a minute)."""
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 60:
        return f"overdue by {seconds} s"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    units = [(days, "d"), (hours, "h"), (minutes, "min")]
    while units[0][0] == 0:
        units.pop(0)
    shown = [f"{value} {unit}" for value, unit in units[:2] if value]
    return "overdue by " + " ".join(shown)


def duration_text(span: timedelta | None) -> str:
    """A duration as `parse_duration` reads it: `6h`, `1h30m`, `1d`, `90s` -> `1m30s`."""
    if span is None:
        return ""
    seconds = int(span.total_seconds())
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")]
    return "".join(f"{value}{unit}" for value, unit in parts if value) or "0s"


def _local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of the local time `at` on `day` in `zone` (fold 0 for an
    ambiguous or skipped local time)."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
