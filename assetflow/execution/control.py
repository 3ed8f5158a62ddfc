"""RunControl: one run's cancel token and heartbeat, so a run is stopped on its own.

Every run has one. Ctrl-C and SIGTERM (signals.py), a caller in another thread
(`control.cancel()`), and a cancel asked for from another process (seen by the
heartbeat hook) all stop the run the same way: running steps stop in their own
code, nothing half-written is kept, and the run is recorded as cancelled.

The heartbeat: with a hook, the control calls it about every `HEARTBEAT_S`
with the clock's "now"; the hook records that the run is alive (the store's
`heartbeat(run_id, at)`) and returns True when another process asked for the
run to be cancelled. Where steps run on the coordinator's own thread, a thread
of the control's own beats, since a long step holds the coordinator; it then
interrupts that step (if it runs on the main thread) within about a second.
Otherwise the coordinator's loop beats between its waits.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

from assetflow.execution.interrupts import CancelToken, bound

if TYPE_CHECKING:
    from assetflow.clock import Clock

logger = logging.getLogger(__name__)

#: How often the heartbeat hook is called while a run goes on, in seconds.
HEARTBEAT_S = 1.0
#: The signal a cancel from elsewhere is reported as (`RunCancelled.exit_code` 143):
#: the run was asked to terminate, as by SIGTERM.
REQUESTED = signal.SIGTERM

#: Records the run's heartbeat at a time; True when a cancel was asked from elsewhere.
Heartbeat = Callable[[datetime], bool]


class RunControl:
    """One run's control: its cancel token, why it was cancelled, and its heartbeat."""

    def __init__(self, heartbeat: Heartbeat | None = None, *, interval: float = HEARTBEAT_S):
        """A control for one run.

        Args:
            heartbeat: Called with the clock's "now" about every `interval` seconds
                while the run goes on; returns True to cancel the run.
            interval: Seconds between heartbeats.
        """
        self.token = CancelToken()
        #: the signal the run was cancelled by (REQUESTED when not by a signal); 0: not
        self.signum = 0
        self._heartbeat = heartbeat
        self._interval = interval
        self._clock: Clock | None = None
        self._last_beat: float | None = None
        # reentrant: a signal handler on the main thread may cancel while it holds the lock
        self._lock = threading.RLock()
        #: interrupts the main thread's step, while the run's signal handlers are installed
        self._interrupter: Callable[[], None] | None = None

    @property
    def is_cancelled(self) -> bool:
        return self.token.is_cancelled

    def cancel(self, signum: int = REQUESTED) -> None:
        """Cancel the run, from any thread: running steps stop, no new step starts.

        Args:
            signum: The signal that asked for it (kept when the run was already cancelled).
        """
        with self._lock:
            if not self.signum:
                self.signum = signum
            self.token.cancel()
            on_main = threading.current_thread() is threading.main_thread()
            if self._interrupter is not None and not on_main:
                # Under the lock: the run's signal handlers are still there to take it.
                self._interrupter()  # the step on the main thread stops now, not at its end

    @contextmanager
    def running(self, clock: Clock, *, beat_from_thread: bool) -> Iterator[RunControl]:
        """Bind the token to this thread's steps and keep the heartbeat while the block runs.

        Args:
            clock: The source of the heartbeat's "now".
            beat_from_thread: Beat from a thread of the control's own (the steps hold the
                caller's thread); otherwise the caller calls `beat()` between its waits.
        """
        self._clock = clock
        with bound(self.token), self._beating(beat_from_thread):
            self.beat()
            yield self

    def beat(self) -> None:
        """Call the heartbeat hook if `HEARTBEAT_S` passed since the last call; cancel the
        run if it says so. A hook that raises is logged; the run goes on."""
        if self._heartbeat is None or self._clock is None:
            return
        now = time.monotonic()
        if self._last_beat is not None and now - self._last_beat < self._interval:
            return
        self._beat_now()

    def _beat_now(self) -> None:
        heartbeat, clock = self._heartbeat, self._clock
        if heartbeat is None or clock is None:
            return
        self._last_beat = time.monotonic()
        try:
            cancel = heartbeat(clock.now())
        except Exception:  # the next beat tries again; the run goes on
            logger.warning("could not record the run's heartbeat", exc_info=True)
            return
        if cancel and not self.is_cancelled:
            logger.warning("the run was cancelled from another process")
            self.cancel(REQUESTED)

    @contextmanager
    def interrupting_main(self, interrupt: Callable[[], None]) -> Iterator[None]:
        """While the block runs, a cancel from another thread calls `interrupt` (which
        stops the step running on the main thread): the run's signal handlers set it."""
        self._interrupter = interrupt
        try:
            yield
        finally:
            with self._lock:
                self._interrupter = None

    @contextmanager
    def _beating(self, from_thread: bool) -> Iterator[None]:
        if self._heartbeat is None or not from_thread:
            yield
            return
        stop = threading.Event()

        def keep() -> None:
            while not stop.wait(self._interval):
                self._beat_now()

        keeper = threading.Thread(target=keep, name="assetflow-heartbeat", daemon=True)
        keeper.start()
        try:
            yield
        finally:
            stop.set()
            keeper.join()
