"""Live progress on a terminal: finished steps scroll by above one status line that keeps count.

`LiveReporter` prints the same lines as `ConsoleReporter` (it uses one), and
keeps a status line under them:

    [ 34/87] 2 running · 51 queued · 1 failed · 12.3 s elapsed · ETA 18.0 s · raw_records[...]

Before a line is printed the status line is cleared (carriage return, then
"erase to end of line"), the line is printed, and the status line is drawn
again, so it always sits at the bottom and nothing of it stays in the
scrollback. Only for terminals: the CLI picks it when stdout is a TTY.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

from assetflow.textwidth import cut, display_width
from assetflow.views.listeners import ConsoleReporter
from assetflow.views.text import duration

if TYPE_CHECKING:
    from assetflow.execution import RunResult, StepResult
    from assetflow.graph import AssetGraph
    from assetflow.keys import AssetPartition
    from assetflow.planner.plan import Plan, Step

#: Moves to the start of the line and erases it: how the status line is taken away.
CLEAR_LINE = "\r\x1b[K"
#: The status line stays one column short of the terminal's width: a line that
#: fills the last column makes some terminals wrap, and the next clear then
#: erases only the wrapped part.
_RIGHT_MARGIN = 1
#: The running steps' names are shown only if this many columns are left for them:
#: a stub such as "raw_r…" says nothing.
_MIN_NAMES_ROOM = 12
#: States of steps that ran (and so took a meaningful time): the ETA's basis.
_RAN_STATES = frozenset({"materialized", "failed", "check failed"})
#: States counted as "failed" on the status line.
_FAILED_STATES = frozenset({"failed", "check failed"})


class LiveReporter:
    """A Reporter for terminals: ConsoleReporter's lines, with a status line kept below them.

    Every method may be called from any thread; one lock keeps writes whole.
    """

    def __init__(
        self,
        stream: TextIO,
        graph: AssetGraph | None = None,
        *,
        workers: int = 1,
        clock: Callable[[], float] = time.monotonic,
        min_interval: float = 0.1,
    ) -> None:
        """Report to a terminal.

        Args:
            stream: The terminal to write to (the CLI passes sys.stdout when it is a TTY).
            graph: The project's graph, for ConsoleReporter's failed-partitions line.
            workers: How many steps run at once (the run's max_parallel), for the ETA.
            clock: Seconds from some fixed point, for elapsed time, ETA and throttling.
            min_interval: The least time between two redraws caused by step_started or tick().
        """
        self._stream = stream
        self._console = ConsoleReporter(self._print_line, graph)
        self._workers = max(1, workers)
        self._clock = clock
        self._min_interval = min_interval
        # A stream without an encoding (StringIO) takes any text.
        is_fancy = (getattr(stream, "encoding", None) or "utf-8").lower().startswith("utf")
        self._separator = " · " if is_fancy else " | "
        self._ellipsis = "…" if is_fancy else ""
        self._lock = threading.Lock()
        self._total = 0
        self._done = 0
        self._failed = 0
        #: what is running now, oldest first, as the labels the status line shows
        self._running: dict[AssetPartition, str] = {}
        self._ran_count = 0
        self._ran_seconds = 0.0
        self._started_at = 0.0
        self._drawn_at = float("-inf")
        #: whether a status line should be kept on screen (between run_started and run_finished)
        self._is_active = False
        #: whether a status line is on screen now, to be cleared before anything else is written
        self._is_drawn = False

    def run_started(self, run_id: str, plan: Plan) -> None:
        """Print the run's header, then the first status line (none for an empty plan)."""
        with self._lock:
            self._console.run_started(run_id, plan)
            if plan.is_empty:
                return
            self._total = len(plan.steps)
            self._started_at = self._clock()
            self._is_active = True
            self._draw(self._started_at)

    def step_started(self, step: Step) -> None:
        """Count a step as running; redraw if the last redraw is `min_interval` old."""
        with self._lock:
            self._running[step.key] = _label(step.asset, step.partition)
            self._draw_if_due()

    def step_waiting(self, step: Step, message: str) -> None:
        """Print that a step waits for another run's lease, above the status line."""
        with self._lock:
            self._console.step_waiting(step, message)

    def step_finished(self, result: StepResult) -> None:
        """Count a step as done, and print its line with the status line redrawn below it."""
        with self._lock:
            self._running.pop(result.key, None)
            self._done += 1
            state = result.state.value
            if state in _FAILED_STATES:
                self._failed += 1
            if state in _RAN_STATES:
                self._ran_count += 1
                self._ran_seconds += result.duration_s
            self._console.step_finished(result)

    def run_finished(self, result: RunResult) -> None:
        """Take the status line away for good, then print the run's summary."""
        with self._lock:
            self._stop()
            self._console.run_finished(result)

    def tick(self) -> None:
        """Redraw if the last redraw is `min_interval` old, so elapsed time moves while waiting."""
        with self._lock:
            self._draw_if_due()

    def stop(self) -> None:
        """Take the status line away and draw no more: for a run ended by an exception."""
        with self._lock:
            self._stop()

    def __enter__(self) -> LiveReporter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _status_line(self, now: float) -> str:
        """The status line as it would be drawn at `now`, cut to the terminal's width."""
        running = len(self._running)
        queued = self._total - self._done - running
        parts = [
            f"[{self._done:>{len(str(self._total))}}/{self._total}] {running} running",
            f"{queued} queued",
            f"{self._failed} failed",
            f"{duration(now - self._started_at)} elapsed",
            f"ETA {self._eta(queued + running)}",
        ]
        text = self._separator.join(parts)
        columns = shutil.get_terminal_size().columns - _RIGHT_MARGIN
        room = columns - display_width(text) - display_width(self._separator)
        if self._running and room >= _MIN_NAMES_ROOM:
            names = ", ".join(self._running.values())
            text += self._separator + _cut(names, room, self._ellipsis)
        return _cut(text, columns, self._ellipsis)

    def _eta(self, remaining: int) -> str:
        """Mean time of the steps that ran × the steps left, shared among the workers."""
        if not self._ran_count:
            return "-"
        return duration(self._ran_seconds / self._ran_count * remaining / self._workers)

    def _print_line(self, text: str) -> None:
        """ConsoleReporter's echo: clear the status line, print, draw the status line again."""
        out = (CLEAR_LINE if self._is_drawn else "") + text + "\n"
        self._is_drawn = False
        if self._is_active:
            now = self._clock()
            out += self._status_line(now)
            self._is_drawn = True
            self._drawn_at = now
        self._write(out)

    def _draw_if_due(self) -> None:
        now = self._clock()
        if self._is_active and now - self._drawn_at >= self._min_interval:
            self._draw(now)

    def _draw(self, now: float) -> None:
        self._write((CLEAR_LINE if self._is_drawn else "") + self._status_line(now))
        self._is_drawn = True
        self._drawn_at = now

    def _stop(self) -> None:
        self._is_active = False
        if self._is_drawn:
            self._write(CLEAR_LINE)
            self._is_drawn = False

    def _write(self, text: str) -> None:
        # One write and a flush per change: the terminal shows whole states only.
        self._stream.write(text)
        self._stream.flush()


def _label(asset: str, partition: str | None) -> str:
    return asset if partition is None else f"{asset}[{partition}]"


def _cut(text: str, width: int, ellipsis: str) -> str:
    """`text` in at most `width` terminal columns (a CJK character takes two), ending in
    `ellipsis` when it had to be cut: a status line wider than the terminal would wrap,
    and clearing it would then leave its first part on screen."""
    if display_width(text) <= width:
        return text
    if width <= display_width(ellipsis):
        return cut(text, max(width, 0), "")
    return cut(text, width, ellipsis)
