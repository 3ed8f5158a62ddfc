"""Times written as text in settings: durations ("6h", "1h30m") and IANA time zones.

Schedules, sensors, freshness policies and alert destinations all read these; each
caller passes the error class its users expect (a schedule's error, an asset
definition's error), so the message is the same wherever the text was written.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from datetime import timedelta

from assetflow.errors import AssetflowError, UsageError, did_you_mean, suggest

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_zone(name: str, *, error: type[AssetflowError] = UsageError) -> zoneinfo.ZoneInfo:
    """The IANA time zone called `name`.

    Raises:
        error: no such zone (with the closest names).
    """
    try:
        if name and name.strip() == name and not name.startswith(("/", ".")):
            return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        pass
    known = _zone_names()
    by_lower = {n.lower(): n for n in known}
    close = [by_lower[name.lower()]] if name.lower() in by_lower else suggest(name, known)
    hint = did_you_mean(close)
    raise error(
        f"the timezone '{name}' is not an IANA time zone name. "
        + (hint + " " if hint else "")
        + "Use a name such as 'Europe/Berlin', 'America/New_York' or 'UTC' "
        "(the tz database's list is at https://en.wikipedia.org/wiki/List_of_tz_database_time_zones)."
    )


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def parse_duration(
    text: str, setting: str | None = None, *, error: type[AssetflowError] = UsageError
) -> timedelta:
    """A duration such as "15m", "6h", "1d", "90s" or "1h30m" (units in that order).

    `setting` names where it was written ("every"), so that the message says
    `every = "15 minutes" is not a duration` rather than only the value.

    Raises:
        error: not such a duration, or zero.
    """
    shown = f"'{text}'" if setting is None else f'{setting} = "{text}"'
    match = _DURATION.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None or not any(match.groups()):
        raise error(
            f"{shown} is not a duration. Write a whole number followed by a unit, "
            "d (days), h (hours), m (minutes) or s (seconds), several in that order for a "
            "sum: '15m', '6h', '1d', '90s', '1h30m'."
        )
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    duration = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if duration <= timedelta(0):
        what = f"the duration '{text}'" if setting is None else shown
        raise error(f"{what} is zero: an interval must be at least one second, e.g. '15m' or '1h'.")
    return duration
