"""Stopping a step from outside: timeouts and cancellation, never in the middle of a write.

A step attempt runs the user's code inside `interruptible()`. A timeout (an
interval timer) or a cancel request raises inside that code, where nothing of
assetflow's is half-done. Outside it (type check, write, recording), the
request is only remembered: the write finishes, and whoever runs the steps
looks at the run's `CancelToken` before starting the next.

Each run has its own token (see control.py), bound to the threads that run its
steps: a worker process binds its task's token. So several runs in one process
are cancelled one at a time.

Signals are only delivered to the main thread, so timeouts are enforced, and a
cancel request interrupts the user's code at once, where steps run on the main
thread: in every worker process, and in the in-process executor run from the
main thread. On another thread, a cancelled step stops as its user code ends
(the block raises on its way out, before anything is written).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime


class StepTimedOut(TimeoutError):
    """An attempt ran longer than its asset's `timeout`; retried like any other error."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"timed out after {_seconds(seconds)} (the asset's timeout)")
        self.seconds = seconds


class StepCancelled(KeyboardInterrupt):
    """The run is being cancelled: the step stops where it is, writing nothing."""

    #: what each attempt of the step wrote before it was stopped
    logs: tuple[str, ...] = ()
    #: when the attempt that was stopped started, when known
    started_at: datetime | None = None


class CancelToken:
    """One run's cancel request: set once, from any thread, and seen by all of its steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    @property
    def is_cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        """Ask the run's running and future steps to stop (safe from any thread)."""
        self._event.set()

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for a cancel request; whether one came."""
        return self._event.wait(timeout)


_state = threading.local()


@dataclass
class _Region:
    """This thread's run token, whether it runs the user's code now, and its timeout."""

    token: CancelToken | None = None
    inside: bool = False
    timeout: float = 0.0


def _region() -> _Region:
    region: _Region | None = getattr(_state, "region", None)
    if region is None:
        region = _state.region = _Region()
    return region


@contextmanager
def bound(token: CancelToken) -> Iterator[CancelToken]:
    """Make `token` the cancel token of the steps this thread runs, inside the block."""
    region = _region()
    outer = region.token
    region.token = token
    try:
        yield token
    finally:
        region.token = outer


def current_token() -> CancelToken | None:
    """The cancel token bound to this thread, if any."""
    return _region().token


@contextmanager
def interruptible(timeout: float | None = None) -> Iterator[None]:
    """Run the block where a timeout or cancel request may raise (the user's code).

    Raises:
        StepTimedOut: The block ran longer than `timeout` seconds (main thread only).
        StepCancelled: This thread's run was cancelled before or during the block.
    """
    region = _region()
    token = region.token
    if token is not None and token.is_cancelled:
        raise StepCancelled()
    timed = timeout is not None and threading.current_thread() is threading.main_thread()
    previous = None
    if timeout is not None and timed:
        region.timeout = timeout
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
    region.inside = True
    try:
        yield
    finally:
        region.inside = False
        if timed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous or signal.SIG_DFL)
    # A cancel that came while the block ran without raising (another thread's step):
    # nothing is written yet, so the step still stops here.
    if token is not None and token.is_cancelled:
        raise StepCancelled()


def _on_alarm(signum: int, frame: object) -> None:
    region = _region()
    if region.inside:
        region.inside = False  # raise once, not again while unwinding
        raise StepTimedOut(region.timeout)


def interrupt_here(token: CancelToken) -> None:
    """Raise `StepCancelled` if this thread runs the user's code of a step of `token`'s
    run (call it from a signal handler, after `token.cancel()`); otherwise do nothing:
    the request is remembered by the token."""
    region = _region()
    if region.inside and region.token is token:
        region.inside = False  # raise once, not again while unwinding
        raise StepCancelled()


def _seconds(value: float) -> str:
    return f"{value:g} s"
