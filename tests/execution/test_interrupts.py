"""Timeouts and cancel requests raise only inside the user's code, never mid-write."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from assetflow.execution.interrupts import (
    StepCancelled,
    StepTimedOut,
    cancel_requested,
    clear_cancel,
    interruptible,
    request_cancel,
)


@pytest.fixture(autouse=True)
def no_cancel_left():
    clear_cancel()
    yield
    clear_cancel()


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


def test_a_cancel_request_raises_inside_the_block():
    with pytest.raises(StepCancelled), interruptible():
        request_cancel()  # as a signal handler would, while the user's code runs
    assert cancel_requested()


def test_a_cancel_request_outside_is_remembered_and_stops_the_next_block():
    request_cancel()  # e.g. while the output is written: nothing raises now
    assert cancel_requested()
    with pytest.raises(StepCancelled), interruptible():
        pytest.fail("the block must not start")


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
