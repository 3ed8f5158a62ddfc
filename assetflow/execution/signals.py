"""Ctrl-C and SIGTERM during a run: the first cancels it, a second exits at once."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from assetflow.execution.interrupts import request_cancel

if TYPE_CHECKING:
    from assetflow.execution.inprocess import InProcess
    from assetflow.execution.workers import WorkerPool


class RunSignals:
    """Ctrl-C and SIGTERM during a run: the first cancels it, a second exits at once."""

    def __init__(self, backend: InProcess | WorkerPool) -> None:
        self._backend = backend
        self.signum = 0

    @contextmanager
    def installed(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # only the main thread can take signals; its owner handles them
            return
        previous = {
            number: signal.signal(number, self._handle)
            for number in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def _handle(self, signum: int, frame: object) -> None:
        if self.signum:
            self._backend.kill()
            _say("\nStopped at once; the run will be marked crashed by the next command.\n")
            os._exit(128 + signum)
        self.signum = signum
        _say(
            "\nCancelling: stopping the running steps; nothing half-written is kept "
            "(press Ctrl-C again to exit at once).\n"
        )
        request_cancel()  # raises in an in-process step's own code, if one is running


def _say(text: str) -> None:
    """Write to the real stderr: during a run, sys.stderr captures the steps' output."""
    stream = sys.__stderr__
    if stream is not None:
        stream.write(text)
        stream.flush()
