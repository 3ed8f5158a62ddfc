"""Clocks: SystemClock tells UTC time; FixedClock says what it is told and moves when asked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from assetflow.clock import Clock, FixedClock, SystemClock

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_fixed_clock_says_what_it_is_told():
    clock = FixedClock(T0)
    assert clock.now() == T0
    assert clock.now() == T0


def test_advance_moves_by_seconds_and_accumulates():
    clock = FixedClock(T0)
    clock.advance(1.5)
    assert clock.now() == T0 + timedelta(seconds=1.5)
    clock.advance(3600)
    assert clock.now() == T0 + timedelta(hours=1, seconds=1.5)


def test_advance_backwards_and_by_zero():
    clock = FixedClock(T0)
    clock.advance(0)
    assert clock.now() == T0
    clock.advance(-60)
    assert clock.now() == T0 - timedelta(minutes=1)


def test_system_clock_is_timezone_aware_utc():
    before = datetime.now(UTC)
    now = SystemClock().now()
    after = datetime.now(UTC)
    assert now.tzinfo is UTC
    assert before <= now <= after


def test_both_clocks_satisfy_the_protocol():
    def read(clock: Clock) -> datetime:
        return clock.now()

    assert read(FixedClock(T0)) == T0
    assert read(SystemClock()).tzinfo is UTC
