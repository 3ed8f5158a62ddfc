"""Stopping a step from outside: timeouts and cancellation, never in the middle of a write.

A step attempt runs the user's code inside `interruptible()`. A timeout (an
interval timer) or a cancel request (Ctrl-C, SIGTERM, or the coordinator
stopping a worker) raises inside that code, where nothing of assetflow's is
half-done. Outside it (type check, write, recording), the request is only
remembered: the write finishes, and whoever runs the steps looks at
`cancel_requested()` before starting the next.

Signals are only delivered to the main thread, so timeouts are enforced where
steps run on the main thread: in every worker process, and in the in-process
executor.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


class StepTimedOut(TimeoutError):
    """An attempt ran longer than its asset's `timeout`; retried like any other error."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"timed out after {_seconds(seconds)} (the asset's timeout)")
        self.seconds = seconds


class StepCancelled(KeyboardInterrupt):
    """The run is being cancelled: the step stops where it is, writing nothing."""

    #: what each attempt of the step wrote before it was stopped
    logs: tuple[str, ...] = ()


_state = threading.local()
#: set by a cancel request; cleared when a new run (or worker task) begins
_cancel = threading.Event()


@dataclass
class _Region:
    """Whether this thread runs the user's code now, and the timeout it runs under."""

    inside: bool = False
    timeout: float = 0.0


def _region() -> _Region:
    region: _Region | None = getattr(_state, "region", None)
    if region is None:
        region = _state.region = _Region()
    return region


@contextmanager
def interruptible(timeout: float | None = None) -> Iterator[None]:
    """Run the block where a timeout or cancel request may raise (the user's code).

    Raises:
        StepTimedOut: The block ran longer than `timeout` seconds (main thread only).
        StepCancelled: A cancel request came in (or had come in before the block).
    """
    if _cancel.is_set():
        raise StepCancelled()
    region = _region()
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


def _on_alarm(signum: int, frame: object) -> None:
    region = _region()
    if region.inside:
        region.inside = False  # raise once, not again while unwinding
        raise StepTimedOut(region.timeout)


def request_cancel() -> None:
    """Ask running and future steps to stop: raises in the user's code if a step is
    inside it on this thread (call it from a signal handler), otherwise only remembered."""
    _cancel.set()
    region = _region()
    if region.inside:
        region.inside = False
        raise StepCancelled()


def cancel_requested() -> bool:
    return _cancel.is_set()


def clear_cancel() -> None:
    """Forget an earlier cancel request (a new run begins)."""
    _cancel.clear()


def _seconds(value: float) -> str:
    return f"{value:g} s"
