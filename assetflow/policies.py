"""Automation policies and intervals: the values `@asset(automation=...)` and sensors declare.

Pure values, checked when they are declared: `Eager`, `OnCron` and `Missing` say
when the scheduler materializes an asset on its own; `parse_interval` reads the
`"30s"` of a sensor's interval. Nothing here evaluates a policy (the scheduler
does, against the planner's verdicts), so this module imports nothing heavy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from assetflow.errors import DefinitionError, did_you_mean, suggest


@dataclass(frozen=True, slots=True)
class Eager:
    """Materialize an asset-partition as soon as an upstream of it was updated and it is stale."""

    def describe(self) -> str:
        return "eager"


@dataclass(frozen=True, slots=True)
class OnCron:
    """Materialize once per cron interval, after all upstreams were updated since the last tick."""

    cron: str
    timezone: str = "UTC"

    def describe(self) -> str:
        zone = "" if self.timezone == "UTC" else f", timezone={self.timezone!r}"
        return f"on_cron({self.cron!r}{zone})"


@dataclass(frozen=True, slots=True)
class Missing:
    """Materialize the partitions that are due and were never materialized."""

    def describe(self) -> str:
        return "missing"


AutomationPolicy = Eager | OnCron | Missing

#: The policies a string names.
_NAMED: Final[dict[str, AutomationPolicy]] = {"eager": Eager(), "missing": Missing()}

#: The fields of a cron line, in order, with the values each allows.
_CRON_FIELDS: Final = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day of month", "1-31"),
    ("month", "1-12 or jan-dec"),
    ("day of week", "0-6 (0 is Sunday) or sun-sat"),
)
#: The macros croniter accepts in place of five fields.
_CRON_MACROS: Final = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)


def on_cron(cron: str, timezone: str = "UTC") -> OnCron:
    """The policy that materializes an asset once per interval of a cron line.

    Args:
        cron: Five fields (`"0 * * * *"`) or a macro (`"@daily"`).
        timezone: An IANA timezone name the cron line is read in.

    Raises:
        DefinitionError: The cron line or the timezone is not valid.
    """
    where = f"on_cron({cron!r})"
    _check_cron(cron, where)
    _check_timezone(timezone, where)
    return OnCron(cron.strip(), timezone)


def automation_policy(value: str | AutomationPolicy | None, where: str) -> AutomationPolicy | None:
    """The policy a declaration names: "eager", "missing", `on_cron(...)`, or None for none.

    Args:
        value: What the user wrote as `automation=`.
        where: Who declared it, for the message (`asset 'orders' (assets.py:12)`).

    Raises:
        DefinitionError: The value names no policy.
    """
    if value is None or isinstance(value, Eager | OnCron | Missing):
        return value
    if isinstance(value, str):
        named = _NAMED.get(value.strip().lower())
        if named is not None:
            return named
        hint = did_you_mean(suggest(value.strip().lower(), [*_NAMED, "on_cron"]))
        shown = f"{value!r}"
    else:
        hint = ""
        shown = f"<a value of type {type(value).__name__}>"
    message = (
        f"{where} has automation={shown}, which is not an automation policy. "
        + (hint + " " if hint else "")
        + 'It takes "eager" (run when an upstream was updated), "missing" (fill partitions '
        'never materialized) or on_cron("0 * * * *") (from assetflow import on_cron).'
    )
    raise DefinitionError(message)


#: One amount and unit of an interval: `30s`, `1.5h`, `500ms`.
_INTERVAL_PART: Final = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_UNIT_SECONDS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_interval(value: str | float | timedelta, where: str) -> timedelta:
    """A positive duration from `"30s"`, `"15m"`, `"1h30m"`, `"500ms"`, seconds, or a timedelta.

    Args:
        value: The duration as written.
        where: What declared it, for the message (`sensor 'new_files' interval`).

    Raises:
        DefinitionError: The value is not a duration, or not positive.
    """
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        result = timedelta(seconds=value)
    elif isinstance(value, str) and _is_interval(value):
        text = value.strip().lower().replace(" ", "")
        seconds = sum(
            float(amount) * _UNIT_SECONDS[unit] for amount, unit in _INTERVAL_PART.findall(text)
        )
        result = timedelta(seconds=seconds)
    else:
        raise DefinitionError(
            f"{where} is {value!r}, which is not a duration. Write a number with a unit "
            '(ms, s, m, h, d), such as "30s", "15m" or "1h30m", or a number of seconds.'
        )
    if result <= timedelta(0):
        raise DefinitionError(f"{where} is {value!r}; it must be longer than zero.")
    return result


def _is_interval(text: str) -> bool:
    compact = text.strip().lower().replace(" ", "")
    return bool(compact) and _INTERVAL_PART.sub("", compact) == ""


def _check_cron(cron: str, where: str) -> None:
    if not isinstance(cron, str) or not cron.strip():
        raise DefinitionError(
            f"{where}: a cron line is five fields (minute hour day-of-month month "
            'day-of-week), such as "0 * * * *", or a macro such as "@daily".'
        )
    from croniter import croniter

    text = cron.strip()
    if text.startswith("@"):
        if text.lower() not in _CRON_MACROS:
            hint = did_you_mean(suggest(text.lower(), _CRON_MACROS))
            raise DefinitionError(
                f"{where}: {text!r} is not a cron macro. "
                + (hint + " " if hint else "")
                + f"The macros are {', '.join(sorted(_CRON_MACROS))}."
            )
        return
    fields = text.split()
    if len(fields) != len(_CRON_FIELDS):
        raise DefinitionError(
            f"{where}: a cron line has five fields (minute hour day-of-month month "
            f"day-of-week), but {text!r} has {len(fields)}. For example, "
            '"0 * * * *" is every hour on the hour.'
        )
    for index, (name, allowed) in enumerate(_CRON_FIELDS):
        alone = ["*"] * len(_CRON_FIELDS)
        alone[index] = fields[index]
        if not croniter.is_valid(" ".join(alone)):
            raise DefinitionError(
                f"{where}: the {name} field {fields[index]!r} is not valid; it allows "
                f"{allowed}, with *, lists (1,5), ranges (1-5) and steps (*/15)."
            )
    if not croniter.is_valid(text):
        raise DefinitionError(f"{where}: {text!r} is not a valid cron line.")
    _check_cron_occurs(text, where)


def _check_cron_occurs(text: str, where: str) -> None:
    """A day that never comes (`0 0 30 2 *`) passes croniter's syntax check; step once."""
    from datetime import UTC, datetime

    from croniter import CroniterBadDateError, croniter

    try:
        # 8 years hold a February 29th, whatever the start.
        croniter(text, datetime(2000, 3, 1, tzinfo=UTC), max_years_between_matches=8).get_next(
            datetime
        )
    except CroniterBadDateError:
        raise DefinitionError(
            f"{where}: {text!r} can never occur: no date has that day of the month in "
            "that month (February has at most 29 days; April, June, September and "
            "November 30)."
        ) from None


def _check_timezone(timezone: str, where: str) -> None:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(timezone)
        return
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        pass
    hint = did_you_mean(suggest(str(timezone), zoneinfo.available_timezones()))
    raise DefinitionError(
        f"{where}: {timezone!r} is not a timezone. "
        + (hint + " " if hint else "")
        + 'Use an IANA name such as "UTC", "Europe/Berlin" or "America/New_York".'
    )
