"""`--since` and `--until`: the moments a user may give, read the one way both the
CLI and the Python API read them.

A date (``2026-03-03``) is a whole day; a date and time (``2026-03-03T09:30``,
``2026-03-03 09:30:15``) is that instant. Both are UTC, the time every table of
runs shows, unless the text carries an offset (``Z``, ``+01:00``). ``--since``
includes its moment; ``--until`` includes its moment too, and for a date the
whole of that day: ``--since 2026-03-03 --until 2026-03-03`` is that one day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from assetflow.errors import UsageError

#: What `--since` and `--until` accept, as error messages and docs say it.
ACCEPTED_FORMS = (
    "a date (2026-03-03, a whole day) or a date and time (2026-03-03T09:30, "
    "'2026-03-03 09:30:15'), in UTC unless it ends with an offset such as Z or +01:00"
)

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$"
)


@dataclass(frozen=True, slots=True)
class TimeRange:
    """Runs started at or after ``since`` and before ``until`` (either may be open)."""

    since: datetime | None = None
    #: excluded: the first moment after the range
    until: datetime | None = None


def moment(value: str | date | datetime, option: str, *, end: bool = False) -> datetime:
    """The UTC instant ``value`` names: for ``end``, the first instant after it.

    Args:
        value: Text in one of the accepted forms, a date, or a datetime (naive: UTC).
        option: The option's name for messages (``--since``).
        end: Read ``value`` as the end of a range: a date is its whole day, an
            instant is included.

    Raises:
        UsageError: The text is not in an accepted form, or not a real date.
    """
    if isinstance(value, str):
        value = _parse(value.strip(), option)
    if isinstance(value, datetime):
        instant = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        instant = instant.astimezone(UTC)
        return instant + timedelta(microseconds=1) if end else instant
    start = datetime(value.year, value.month, value.day, tzinfo=UTC)
    return start + timedelta(days=1) if end else start


def _parse(text: str, option: str) -> date | datetime:
    try:
        if _DATE.match(text):
            return date.fromisoformat(text)
        if _DATETIME.match(text):
            return datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError as error:
        raise UsageError(
            f"{option} {text!r} is not a real date or time: {error}.",
            hint=f"{option} takes {ACCEPTED_FORMS}.",
        ) from None
    raise UsageError(
        f"{option} {text!r} is not a date or a time.",
        hint=f"{option} takes {ACCEPTED_FORMS}.",
    )


def time_range(
    since: str | date | datetime | None, until: str | date | datetime | None
) -> TimeRange:
    """The range ``--since`` and ``--until`` give.

    Raises:
        UsageError: Either is not a date or time, or ``until`` comes before ``since``.
    """
    start = None if since is None else moment(since, "--since")
    end = None if until is None else moment(until, "--until", end=True)
    if start is not None and end is not None and end <= start:
        raise UsageError(
            f"--until {_shown(until)} is before --since {_shown(since)}: no run can match.",
            hint="Give the earlier moment to --since and the later one to --until "
            "(a date is a whole day: --since 2026-03-03 --until 2026-03-03 is that day).",
        )
    return TimeRange(start, end)


def _shown(value: str | date | datetime | None) -> str:
    return value if isinstance(value, str) else str(value)
