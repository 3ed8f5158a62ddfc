"""ScheduleError: a schedule's definition is wrong (exit 2, nothing started)."""

from __future__ import annotations

from assetflow.errors import UsageError


class ScheduleError(UsageError):
    """A schedule's settings are wrong: its cron line, timezone, interval or calendar."""
