"""When a failing delivery is tried again: exponential backoff, capped, given up after a while.

The delay after the n-th failed attempt is 10 s doubled n-1 times (10 s, 20 s, 40 s,
...), never more than 10 minutes, shortened by a small jitter (under 10 %) that is
fixed per alert: it is derived from the alert's first attempt, so that alerts that
failed together spread out, while one alert's delays still only grow. When the next
attempt would fall after `first_attempt_at + retry_for`, there is none: the caller
marks the alert failed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

#: The delay after the first failed attempt.
FIRST_DELAY = timedelta(seconds=10)
#: The longest delay between two attempts.
MAX_DELAY = timedelta(minutes=10)
#: The largest share of a delay the jitter takes off.
JITTER = 0.1


def delay_after(attempts: int, first_attempt_at: datetime) -> timedelta:
    """How long to wait after `attempts` failed attempts (0 for none: send now)."""
    if attempts <= 0:
        return timedelta(0)
    # Past 2**6 * 10 s the cap applies anyway; a bounded exponent keeps the arithmetic small.
    base: timedelta = min(FIRST_DELAY * 2 ** min(attempts - 1, 16), MAX_DELAY)
    return base * (1 - _jitter(first_attempt_at))


def _jitter(first_attempt_at: datetime) -> float:
    """A share in [0, JITTER), the same for every attempt of one alert."""
    micros = first_attempt_at.microsecond + 1_000_000 * first_attempt_at.second
    return (micros * 2_654_435_761 % 1_000_003) / 1_000_003 * JITTER


def next_attempt_at(
    attempts: int, first_attempt_at: datetime, now: datetime, retry_for: timedelta
) -> datetime | None:
    """When to try a failing delivery again, or None to give up.

    Args:
        attempts: How many attempts failed so far.
        first_attempt_at: When the first attempt was made.
        now: The current instant (when the last attempt failed).
        retry_for: How long after the first attempt the alert keeps being retried.

    Returns:
        `now` plus the delay, or None when that passes `first_attempt_at + retry_for`.
    """
    at = now + delay_after(attempts, first_attempt_at)
    if at > first_attempt_at + retry_for:
        return None
    return at
