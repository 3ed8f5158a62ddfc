"""Timeouts and cancel requests raise only inside the user's code, never mid-write."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from assetflow.execution.interrupts import (
    CancelToken,
    StepCancelled,
    StepTimedOut,
    bound,
    current_token,
    interrupt_here,
    interruptible,
)


@pytest.fixture
def token():
    with bound(CancelToken()) as bound_token:
        yield bound_token


def test_a_block_past_its_timeout_raises_a_timeout_error():
    started = time.monotonic()
    with pytest.raises(StepTimedOut) as caught, interruptible(0.2):
        time.sleep(5)
    assert time.monotonic() - started < 2
    assert isinstance(caught.value, TimeoutError)  # so retry_on=TimeoutError retries it
    assert str(caught.value) == "timed out after 0.2 s (the asset's timeout)"


def test_the_timer_is_disarmed_after_the_block():
    with interruptible(0.2):
        pass
    time.sleep(0.4)  # nothing raises here
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL


def test_without_a_timeout_nothing_is_armed():
    with interruptible():
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def cancel_inside(token):
    """What the run's signal handler does while the user's code runs."""
    token.cancel()
    interrupt_here(token)
    pytest.fail("interrupt_here must raise inside the block")


def test_a_cancel_request_raises_inside_the_block(token):
    with pytest.raises(StepCancelled), interruptible():
        cancel_inside(token)
    assert token.is_cancelled


def test_a_cancel_request_outside_is_remembered_and_stops_the_next_block(token):
    token.cancel()
    interrupt_here(token)  # e.g. while the output is written: nothing raises now
    assert token.is_cancelled
    with pytest.raises(StepCancelled), interruptible():
        pytest.fail("the block must not start")


def test_a_cancel_during_a_block_that_was_not_interrupted_raises_as_it_ends(token):
    # A step on another thread than the main one: no signal reaches its code, but it
    # still stops before anything after the block (the write) happens.
    ran = []

    def block():
        with interruptible():
            token.cancel()
            ran.append(True)

    with pytest.raises(StepCancelled):
        block()
    assert ran == [True]


def test_another_runs_token_does_not_interrupt_this_one(token):
    other = CancelToken()
    other.cancel()
    with interruptible():
        interrupt_here(other)  # a signal for another run's step: not this thread's
    assert not token.is_cancelled


def test_tokens_are_bound_per_thread_and_restored():
    outer, inner = CancelToken(), CancelToken()
    seen = []
    with bound(outer):
        with bound(inner):
            assert current_token() is inner
            thread = threading.Thread(target=lambda: seen.append(current_token()))
            thread.start()
            thread.join()
        assert current_token() is outer
    assert seen == [None]
    assert current_token() is None


def test_a_cancelled_block_is_not_a_plain_exception():
    # run_step catches Exception (a failing asset); cancellation must pass through it.
    assert not issubclass(StepCancelled, Exception)
    assert issubclass(StepCancelled, KeyboardInterrupt)


def test_timeouts_apply_only_on_the_main_thread():
    finished = []

    def work():
        with interruptible(0.05):
            time.sleep(0.2)
        finished.append(True)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert finished == [True]
