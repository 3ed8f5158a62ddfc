"""Ctrl-C and SIGTERM during a run: the first cancels the run's control, a second exits."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from assetflow.execution.interrupts import interrupt_here

if TYPE_CHECKING:
    from assetflow.execution.control import RunControl
    from assetflow.execution.executor import Executor

#: The signals that cancel a run.
_CANCELLING = (signal.SIGINT, signal.SIGTERM)


class RunSignals:
    """Binds Ctrl-C and SIGTERM to one run's control while the run goes on.

    The first cancels the run (`control.cancel`); a second kills the executor's
    workers and exits at once. Only the main thread can take signals: a run on
    another thread leaves them to that thread's owner, and is cancelled through
    its control.
    """

    def __init__(self, control: RunControl, executor: Executor) -> None:
        self._control = control
        self._executor = executor
        self._signum = 0
        #: interrupts this process sent itself to stop a step on the main thread
        self._wakeups = 0
        self._lock = threading.RLock()  # a second signal may come inside the handler

    @contextmanager
    def installed(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # only the main thread can take signals; its owner handles them
            return
        previous = {number: signal.signal(number, self._handle) for number in _CANCELLING}
        try:
            with self._control.interrupting_main(self._interrupt_main):
                yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def _interrupt_main(self) -> None:
        """Stop the step on the main thread (a cancel from another thread): a signal wakes
        a blocking call there, which a flag alone would not."""
        with self._lock:
            self._wakeups += 1
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    def _handle(self, signum: int, frame: object) -> None:
        with self._lock:
            woken = self._wakeups > 0 and signum == signal.SIGINT
            if woken:
                self._wakeups -= 1
        if woken:
            interrupt_here(self._control.token)  # the control was cancelled already
            return
        if self._signum:
            self._executor.kill()
            _say("\nStopped at once; the run will be marked crashed by the next command.\n")
            os._exit(128 + signum)
        self._signum = signum
        _say(
            "\nCancelling: stopping the running steps; nothing half-written is kept "
            "(press Ctrl-C again to exit at once).\n"
        )
        self._control.cancel(signum)
        interrupt_here(self._control.token)  # raises in an in-process step's own code


def _say(text: str) -> None:
    """Write to the real stderr: during a run, sys.stderr captures the steps' output."""
    stream = sys.__stderr__
    if stream is not None:
        stream.write(text)
        stream.flush()
