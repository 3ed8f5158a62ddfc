"""RunListener protocol: who hears what a run does, and a fan-out to several at once.

The CLI's console and JSON lines listen to a run; later, lineage events and
alerts will listen to the same run beside them. A listener that raises is
logged and left out of that one event: it never fails the run, nor silences
the others.

A listener that also has `recorded(batch, store)` hears each batch of records
the coordinator writes (the run's start, a step's events, its materialization
and check results, the run's end) inside the store's unit of work that writes
them: what it writes through `store` (an incident, an alert or a lineage event
in an outbox) commits with the record that caused it, or not at all. A
`recorded` that raises is logged like any other listener's error, and the
batch is still written (each of the listener's own store calls is all or
nothing on its own).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from datetime import datetime

    from assetflow.execution.results import RunResult, StepResult
    from assetflow.planner.plan import Plan, Step
    from assetflow.store import (
        CheckRecord,
        EventRecord,
        LogRecord,
        MaterializationRecord,
        MetadataStore,
        RunRecord,
        RunStatus,
    )

logger = logging.getLogger(__name__)


class RunListener(Protocol):
    """Receives a run's events; the CLI prints them, the Python API ignores them.

    `step_started` comes when a step begins to run; a step that does not run
    (skipped, blocked, cancelled before it started) gets only `step_finished`.
    A listener may also have `tick()`: it is then called about every 0.2 s while
    steps run, so that a live display's clock moves (`assetflow.progress`); and
    `run_ended()`, called when a check run (which has no plan, so no `run_started`
    or `run_finished`) has ended.
    """

    def run_started(self, run_id: str, plan: Plan) -> None: ...

    def step_started(self, step: Step) -> None: ...

    def step_waiting(self, step: Step, message: str) -> None:
        """A ready step waits for another run that holds its lease (said once per step)."""
        ...

    def step_finished(self, result: StepResult) -> None: ...

    def run_finished(self, result: RunResult) -> None: ...


@dataclass(frozen=True, slots=True)
class RunEnded:
    """How a run ended, as its record is finished."""

    status: RunStatus
    at: datetime


@dataclass(frozen=True, slots=True)
class Recorded:
    """One batch of records the coordinator writes in one transaction: the run's
    record when it starts (`started`); a step's events (its retried attempts and how
    it ended), its materialization and the results of its checks; or how the run
    ended (`ended`)."""

    run_id: str
    events: Sequence[EventRecord] = ()
    materializations: Sequence[MaterializationRecord] = ()
    checks: Sequence[CheckRecord] = ()
    #: the record of the run this batch starts (created first)
    started: RunRecord | None = None
    #: how the run ended (its record finished last)
    ended: RunEnded | None = None


class RecordingListener(RunListener, Protocol):
    """A listener that writes its own rows with the records that cause them."""

    def recorded(self, batch: Recorded, store: MetadataStore) -> None:
        """Called inside the unit of work that writes `batch`, after it is written."""
        ...


class NullListener:
    """A listener that hears nothing."""

    def run_started(self, run_id: str, plan: Plan) -> None:
        pass

    def step_started(self, step: Step) -> None:
        pass

    def step_waiting(self, step: Step, message: str) -> None:
        pass

    def step_finished(self, result: StepResult) -> None:
        pass

    def run_finished(self, result: RunResult) -> None:
        pass


class Listeners:
    """Several listeners as one: each event goes to every listener, in order.

    A listener that raises (an `Exception`) is logged at WARNING with its class
    name; the run goes on and the next listeners still hear the event.
    """

    def __init__(self, listeners: Sequence[RunListener] = ()) -> None:
        self._listeners = tuple(listeners)

    def __len__(self) -> int:
        return len(self._listeners)

    def run_started(self, run_id: str, plan: Plan) -> None:
        self._tell("run_started", lambda listener: listener.run_started(run_id, plan))

    def step_started(self, step: Step) -> None:
        self._tell("step_started", lambda listener: listener.step_started(step))

    def step_waiting(self, step: Step, message: str) -> None:
        self._tell("step_waiting", lambda listener: listener.step_waiting(step, message))

    def step_finished(self, result: StepResult) -> None:
        self._tell("step_finished", lambda listener: listener.step_finished(result))

    def run_finished(self, result: RunResult) -> None:
        self._tell("run_finished", lambda listener: listener.run_finished(result))

    def record(self, store: MetadataStore, batch: Recorded, logs: Sequence[LogRecord] = ()) -> None:
        """Write `batch` (and its step logs) to `store` in one transaction, telling the
        listeners that have `recorded()` inside it. Without such a listener this is
        `store.record(...)` alone: no unit of work is opened."""
        writers = [each for each in self._listeners if getattr(each, "recorded", None) is not None]
        if not writers:
            _write(store, batch, logs)
            return
        with store.unit_of_work():
            _write(store, batch, logs)
            for writer in writers:
                self._call(
                    writer,
                    "recorded",
                    lambda each: each.recorded(batch, store),  # type: ignore[attr-defined]
                )

    def run_ended(self) -> None:
        """Tell the listeners that have a `run_ended()` that a run without a plan (a check
        run) has ended, its end recorded, while its store is still open."""
        for listener in self._listeners:
            if getattr(listener, "run_ended", None) is not None:
                self._call(listener, "run_ended", lambda each: each.run_ended())  # type: ignore[attr-defined]

    def tick(self) -> None:
        """Move the listeners' clocks: those that have a `tick()`."""
        for listener in self._listeners:
            if getattr(listener, "tick", None) is not None:
                self._call(listener, "tick", lambda each: each.tick())  # type: ignore[attr-defined]

    def _tell(self, event: str, call: Callable[[RunListener], None]) -> None:
        for listener in self._listeners:
            self._call(listener, event, call)

    @staticmethod
    def _call(listener: RunListener, event: str, call: Callable[[RunListener], None]) -> None:
        try:
            call(listener)
        except Exception:
            # A display or an alert that breaks must not fail the run it reports on.
            logger.warning(
                "run listener %s failed in %s; the run goes on",
                type(listener).__name__,
                event,
                exc_info=True,
            )


def _write(store: MetadataStore, batch: Recorded, logs: Sequence[LogRecord]) -> None:
    if batch.started is not None:
        store.create_run(batch.started)
    if batch.materializations or batch.events or batch.checks or logs:
        store.record(
            materializations=batch.materializations,
            events=batch.events,
            checks=batch.checks,
            logs=logs,
        )
    if batch.ended is not None:
        store.finish_run(batch.run_id, batch.ended.status, batch.ended.at)


def fan_out(listeners: Sequence[RunListener]) -> Listeners:
    """One listener that passes every event to each of `listeners`."""
    return listeners if isinstance(listeners, Listeners) else Listeners(listeners)
