"""Clock protocol, SystemClock and FixedClock: the one source of "now"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Tells the time, always timezone-aware in UTC."""

    def now(self) -> datetime: ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock that says what it is told; `advance()` moves it. For tests."""

    current: datetime

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current = self.current + timedelta(seconds=seconds)


class ShiftedClock:
    """The machine's clock moved to start at `start`: it then advances in real time.

    `assetflow scheduler --now` runs on one, so that the scheduler behaves as if it
    were that instant, ticks and sleeps included.
    """

    def __init__(self, start: datetime) -> None:
        import time

        self._monotonic = time.monotonic
        self._start = start.astimezone(UTC)
        self._began = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._monotonic() - self._began)
