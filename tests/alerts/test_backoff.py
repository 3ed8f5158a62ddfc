"""Backoff: 10 s doubling, capped at 10 minutes, a fixed small jitter, giving up after retry_for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from assetflow.alerts.backoff import MAX_DELAY, delay_after, next_attempt_at

FIRST = datetime(2026, 2, 3, 3, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)

firsts = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)


def test_delays_double_from_ten_seconds_up_to_ten_minutes() -> None:
    exact = FIRST.replace(second=0, microsecond=0)  # its jitter is zero
    seconds = [delay_after(n, exact).total_seconds() for n in range(0, 10)]
    assert seconds == [0, 10, 20, 40, 80, 160, 320, 600, 600, 600]


def test_jitter_is_small_and_fixed_per_alert() -> None:
    first = FIRST.replace(second=17, microsecond=123_456)
    delay = delay_after(1, first)
    assert timedelta(seconds=9) <= delay <= timedelta(seconds=10)
    assert delay_after(1, first) == delay


def test_next_attempt_and_giving_up() -> None:
    now = FIRST.replace(microsecond=0) + timedelta(seconds=30)
    assert next_attempt_at(1, FIRST, now, HOUR) == now + timedelta(seconds=10)
    late = FIRST + timedelta(minutes=55)
    assert next_attempt_at(8, FIRST, late, HOUR) is None
    assert next_attempt_at(1, FIRST, late, HOUR) == late + timedelta(seconds=10)


def test_the_attempts_within_an_hour_of_a_receiver_that_is_down() -> None:
    """Attempting at each next_attempt_at until it says give up: eleven attempts, not more."""
    now, attempts = FIRST, 1
    while (at := next_attempt_at(attempts, FIRST, now, HOUR)) is not None:
        now, attempts = at, attempts + 1
    # 10+20+40+80+160+320 s, then 600 s four times: 3,030 s; a fifth 600 s passes the hour.
    assert attempts == 11
    assert now <= FIRST + HOUR


@given(firsts, st.integers(0, 100), st.integers(0, 7200), st.integers(1, 86400))
def test_monotonic_in_attempts_and_capped(
    first: datetime, attempts: int, elapsed: int, retry_for: int
) -> None:
    now = first + timedelta(seconds=elapsed)
    period = timedelta(seconds=retry_for)
    this = next_attempt_at(attempts, first, now, period)
    following = next_attempt_at(attempts + 1, first, now, period)
    if this is None:
        assert following is None  # once given up, more attempts never come back
    else:
        assert now <= this <= now + MAX_DELAY
        assert this <= first + period
        assert following is None or following >= this


@given(firsts, st.integers(1, 100), st.integers(0, 7200), st.integers(0, 7200))
def test_monotonic_in_now(first: datetime, attempts: int, a: int, b: int) -> None:
    earlier, later = sorted((a, b))
    at_earlier = next_attempt_at(attempts, first, first + timedelta(seconds=earlier), HOUR)
    at_later = next_attempt_at(attempts, first, first + timedelta(seconds=later), HOUR)
    if at_earlier is None:
        assert at_later is None
    elif at_later is not None:
        assert at_later >= at_earlier
