"""Starting the runs of ticks: queues, caps, and the link from a tick to its run.

Each run goes through the same running service as `assetflow materialize`, on a
thread of its own with its own `RunControl` (the service gives every run one),
so the scheduler cancels or waits for one run without touching the others. Run
threads never touch the scheduler's store handle: they post what happened
(`started`, `finished`) to a queue that the scheduler's own thread reads and
records (`Launcher.settle`).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from assetflow.errors import AssetflowError
from assetflow.request import RunRequest

if TYPE_CHECKING:
    from datetime import datetime

    from assetflow.clock import Clock
    from assetflow.execution.listeners import RunListener
    from assetflow.planner import Plan
    from assetflow.project import Project
    from assetflow.store.automation import TickRecord
    from assetflow.store.base import MetadataStore

#: A structured log line: an event name and its fields.
Log = Callable[..., None]


@dataclass(frozen=True, slots=True)
class RunNews:
    """What a run thread tells the scheduler's thread."""

    tick: TickRecord
    kind: Literal["started", "finished", "refused"]
    #: the run's status when finished ("success", "failed", "cancelled"), or the
    #: error that kept the run from starting
    detail: str = ""


class _Linker:
    """A run listener that says when the run is recorded (so its tick can link to it)."""

    def __init__(self, tick: TickRecord, news: queue.Queue[RunNews], wake: threading.Event) -> None:
        self._tick = tick
        self._news = news
        self._wake = wake

    def run_started(self, run_id: str, plan: Plan) -> None:
        self._news.put(RunNews(self._tick, "started"))
        self._wake.set()

    def step_started(self, step: Any) -> None:
        pass

    def step_waiting(self, step: Any, message: str) -> None:
        pass

    def step_finished(self, result: Any) -> None:
        pass

    def run_finished(self, result: Any) -> None:
        pass


class Launcher:
    """Queues ticks' runs and starts them within the caps: one schedule's own
    `max_concurrent_runs`, and the scheduler's global one."""

    def __init__(
        self,
        project: Project,
        *,
        run_clock: Clock,
        global_cap: int,
        caps: Mapping[str, int],
        log: Log,
        wake: threading.Event,
        listeners: Callable[[], Sequence[RunListener]] | None = None,
    ) -> None:
        self._project = project
        #: more listeners for each run (the alerts' incident recorder), made per run
        self._listeners = listeners
        self._run_clock = run_clock
        self._global_cap = global_cap
        self._caps = caps
        self._log = log
        self._wake = wake
        self._queue: deque[TickRecord] = deque()
        #: run id -> (origin, thread) of each run in flight
        self._active: dict[str, tuple[str, threading.Thread]] = {}
        self._news: queue.Queue[RunNews] = queue.Queue()

    def submit(self, tick: TickRecord) -> None:
        """Queue a claimed tick's run; `pump` starts it when the caps allow."""
        self._queue.append(tick)

    @property
    def busy(self) -> bool:
        """Whether a run is queued or in flight."""
        return bool(self._queue or self._active)

    def running(self, origin: str) -> list[str]:
        """The ids of the runs in flight for `origin`."""
        return [run_id for run_id, (owner, _) in self._active.items() if owner == origin]

    def queued(self, origin: str) -> int:
        """How many runs of `origin` wait in the queue."""
        return sum(1 for tick in self._queue if tick.origin == origin)

    def cap(self, origin: str) -> int:
        """How many runs of `origin` may go at once (its `max_concurrent_runs`)."""
        return self._caps.get(origin, 1)

    def pump(self) -> None:
        """Start queued runs, oldest tick first, while the caps allow."""
        waiting: deque[TickRecord] = deque()
        while self._queue:
            tick = self._queue.popleft()
            if len(self._active) >= self._global_cap or len(self.running(tick.origin)) >= self.cap(
                tick.origin
            ):
                waiting.append(tick)
                continue
            self._start(tick)
        self._queue = waiting

    def _start(self, tick: TickRecord) -> None:
        assert tick.run_id is not None
        assert tick.request is not None
        thread = threading.Thread(
            target=self._run, args=(tick,), name=f"assetflow-run-{tick.run_id[:8]}", daemon=True
        )
        self._active[tick.run_id] = (tick.origin, thread)
        thread.start()

    def _run(self, tick: TickRecord) -> None:
        from assetflow.execution.results import RunCancelled
        from assetflow.services.running import materialize

        assert tick.request is not None
        try:
            request = RunRequest.from_json(tick.request)
            if request.executor is None:
                # The project's executor, as `assetflow materialize` uses it.
                request = request.with_changes(executor=self._project.location.config.executor)
            result = materialize(
                self._project,
                request,
                clock=self._run_clock,
                listeners=[
                    _Linker(tick, self._news, self._wake),
                    *(self._listeners() if self._listeners is not None else ()),
                ],
                run_id=tick.run_id,
            )
            news = RunNews(tick, "finished", result.status.value)
        except RunCancelled:  # recorded cancelled by the run itself
            news = RunNews(tick, "finished", "cancelled")
        except AssetflowError as error:
            news = RunNews(tick, "refused", error.message)
        except BaseException as error:  # the thread must always report back
            news = RunNews(tick, "refused", f"{type(error).__name__}: {error}")
        self._news.put(news)
        self._wake.set()

    def settle(self, store: MetadataStore, now: datetime) -> list[RunNews]:
        """Record what the run threads reported: link started runs to their ticks,
        fail the ticks whose run could not start, and free finished runs' slots."""
        told: list[RunNews] = []
        while True:
            try:
                news = self._news.get_nowait()
            except queue.Empty:
                break
            told.append(news)
            tick = news.tick
            run_id = tick.run_id
            if news.kind == "started":
                store.update_tick(
                    tick.origin,
                    tick.scheduled_at,
                    status="started",
                    evaluated_at=now,
                    run_id=run_id,
                    reason=tick.reason,
                )
                self._log("run_started", origin=tick.origin, run=run_id, tick=tick.scheduled_at)
                continue
            entry = self._active.pop(run_id or "", None)
            if entry is not None:
                entry[1].join(timeout=5)
            if news.kind == "refused" and store.get_run(run_id or "") is None:
                store.update_tick(
                    tick.origin,
                    tick.scheduled_at,
                    status="failed",
                    evaluated_at=now,
                    run_id=None,
                    reason=f"the run could not start: {news.detail}",
                )
                self._log(
                    "run_refused", origin=tick.origin, tick=tick.scheduled_at, error=news.detail
                )
            else:
                self._log("run_finished", origin=tick.origin, run=run_id, status=news.detail)
        return told

    def cancel_all(self, store: MetadataStore, now: datetime) -> list[TickRecord]:
        """Ask every run in flight to cancel (as `assetflow runs cancel` does) and
        drop the queued ones, which stay claimed for the next scheduler to start;
        the dropped ones are returned."""
        dropped = list(self._queue)
        self._queue.clear()
        for run_id in list(self._active):
            # Not recorded yet, or already finished: nothing to cancel (yet).
            with contextlib.suppress(AssetflowError):
                store.request_cancel(run_id, now)
        return dropped

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the runs in flight; whether they all finished."""
        for _, thread in list(self._active.values()):
            thread.join(timeout)
        return not any(thread.is_alive() for _, thread in self._active.values())
