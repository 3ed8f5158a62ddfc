"""The coordinator: start steps as their inputs finish, skip or cut off, record everything.

Only the coordinator decides and writes to the metadata store. Steps run on an
executor (executor.py: in-process, one at a time on this thread, which is what
debuggers want; a pool of worker processes; any registered one), each step
starting as soon as its inputs are done (not in waves), within the run's
`workers` and the pools' caps.

Before a step starts, the run takes the step's lease in the store, so two runs
on one project never materialize the same asset-partition at once; a step
whose lease another run holds waits for it, then runs only if that run did
not already produce what this one would.

The run's `RunControl` cancels it: Ctrl-C or SIGTERM, a call from another
thread, or a cancel asked from another process (its heartbeat). Running steps
are stopped (a write that has begun finishes and is recorded), they and the
run are recorded as cancelled, and `RunCancelled` is raised. A second Ctrl-C
exits at once.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections import ChainMap, Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from assetflow.context import RunContext
from assetflow.errors import AssetflowError, WriteError
from assetflow.execution import leasing
from assetflow.execution.attempt import Attempts, Retrying, Work, Worker, failure_message
from assetflow.execution.control import RunControl
from assetflow.execution.executor import (
    DEFAULT_EXECUTOR,
    EXECUTORS,
    Event,
    Executor,
    ExecutorSetup,
    StepLost,
    choose_executor,
)
from assetflow.execution.inputs import collect_inputs
from assetflow.execution.lifecycle import RecordedRun, recorded_run, run_record
from assetflow.execution.listeners import Listeners, Recorded, RunListener, fan_out
from assetflow.execution.logs import capturing_run
from assetflow.execution.ready import ReadyQueue
from assetflow.execution.results import (
    FAILED_STATES,
    NOT_STARTED,
    NOT_STARTED_CANCELLED,
    RunCancelled,
    RunResult,
    StepResult,
    StepState,
)
from assetflow.execution.signals import RunSignals
from assetflow.execution.state import (
    RunState,
    check_summary,
    decide,
    inputs_changed,
    release_inputs,
)
from assetflow.io.atomic import sync_outputs
from assetflow.io.locations import recorded_path
from assetflow.keys import AssetPartition, key_text
from assetflow.planner.staleness import Snapshot
from assetflow.store.records import (
    NOT_STARTED_ATTEMPT,
    CheckRecord,
    Column,
    EventKind,
    EventRecord,
    Lease,
    LogRecord,
    MaterializationRecord,
    MaterializationState,
    RunStatus,
)

if TYPE_CHECKING:
    from pathlib import Path

    from assetflow.clock import Clock
    from assetflow.planner.plan import Plan, Step
    from assetflow.project import Project
    from assetflow.request import RunRequest
    from assetflow.store.base import MetadataStore

__all__ = ["RunResult", "StepResult", "StepState", "execute_plan"]

logger = logging.getLogger(__name__)

#: How long the coordinator waits for workers before it looks around again (signals,
#: leases, the live display).
_TICK_S = 0.2
#: How long running steps get to stop after Ctrl-C before their workers are killed.
CANCEL_GRACE_S = 10.0
#: In process, a group of finished steps is synced and recorded at most this long after
#: it opened, or once it holds this many steps (see `_Runner._open_group`).
GROUP_S = 0.05
GROUP_STEPS = 256


def execute_plan(
    project: Project,
    plan: Plan,
    store: MetadataStore,
    snapshot: Snapshot,
    request: RunRequest,
    *,
    run_id: str,
    clock: Clock,
    sources: Mapping[AssetPartition, Any] | None = None,
    listeners: Sequence[RunListener] = (),
    control: RunControl | None = None,
    pools: Mapping[str, int] | None = None,
    sleep: Callable[[float], None] | None = None,
    rng: random.Random | None = None,
) -> RunResult:
    """Run a plan's steps and record the run.

    A failed step blocks its downstream; independent steps still run. A waiting
    step is skipped when none of its inputs' data versions changed (early cutoff).

    Args:
        project: The loaded project.
        plan: What to run.
        store: Where the run is recorded.
        snapshot: The store's state the plan was made from.
        request: What the run was asked to do; its trigger, executor, workers,
            fail_fast and newest_first apply here (executor and workers resolved by
            `choose_executor`, so a resolved request and a raw one run alike).
        run_id: The new run's id.
        clock: The source of "now".
        sources: The observed values of the source-partitions the steps read.
        listeners: Hear the run's events, each in turn (see `fan_out`).
        control: Cancels the run and keeps its heartbeat (default: one that only
            Ctrl-C, SIGTERM and its `cancel()` stop, without a heartbeat).
        pools: Concurrency caps by pool name (default: the project's configured pools).
        sleep: How to wait between retries, in-process (tests pass one that records).
        rng: The randomness of retry jitter, in-process.

    Raises:
        RunCancelled: The run was cancelled (its control, Ctrl-C or SIGTERM) and
            recorded as cancelled.
        UsageError: The request names an unknown executor, or workers it cannot use.
    """
    executor_name, workers = choose_executor(project, request.executor, request.workers)
    if not plan.steps:
        # Nothing to run (the request was checked all the same): no worker process is
        # forked and no cluster connected to, to record a run that found all fresh.
        executor_name, workers = DEFAULT_EXECUTOR, 1
    # The heartbeat says the run is alive to other hosts sharing the store, and brings
    # back a cancel asked for from another process (`assetflow runs cancel`).
    control = control or RunControl(heartbeat=lambda at: store.heartbeat(run_id, at))
    listener = fan_out(listeners)
    retrying = Retrying(clock, sleep or time.sleep, rng or random.Random())
    executor = EXECUTORS.create(executor_name, ExecutorSetup(project, workers, retrying, plan))
    try:
        with recorded_run(
            store, run_record(request, run_id, clock.now(), plan=plan), clock, listener
        ) as recorded:
            runner = _run(
                project,
                plan,
                store,
                snapshot,
                recorded,
                listener,
                executor,
                control,
                sources=sources,
                pools=pools,
                request=request,
            )
            if control.is_cancelled:
                status = RunStatus.CANCELLED
            elif any(r.state in FAILED_STATES for r in runner.results):
                status = RunStatus.FAILED
            else:
                status = RunStatus.SUCCESS
            finished_at = recorded.finish(status)
    finally:
        executor.close()
    run = RunResult(run_id, status, plan, tuple(runner.results), recorded.started_at, finished_at)
    listener.run_finished(run)
    if control.is_cancelled:
        raise RunCancelled(run, control.signum)
    return run


def _run(
    project: Project,
    plan: Plan,
    store: MetadataStore,
    snapshot: Snapshot,
    recorded: RecordedRun,
    listener: Listeners,
    executor: Executor,
    control: RunControl,
    *,
    sources: Mapping[AssetPartition, Any] | None,
    pools: Mapping[str, int] | None,
    request: RunRequest,
) -> _Runner:
    """Run the plan's steps on the executor, within the run's control; the runner that
    ran them holds their results."""
    run_id, clock = recorded.run_id, recorded.clock
    listener.run_started(run_id, plan)
    state = RunState(snapshot)
    state.values.update(sources or {})
    for step in plan.steps:
        state.readers.update(step.inputs)
    runner = _Runner(
        project,
        plan,
        store,
        state,
        run_id,
        clock,
        listener,
        executor,
        control,
        pools=dict(project.location.config.pools if pools is None else pools),
        fail_fast=request.fail_fast,
    )
    # A step may hold the coordinator's thread for long: threads then renew the run's
    # leases and keep its heartbeat meanwhile. Otherwise the coordinator's loop does.
    on_this_thread = executor.runs_on_coordinator_thread
    renewing = leasing.renewing(store, run_id, clock) if on_this_thread else nullcontext()
    with (
        capturing_run(),
        control.running(clock, beat_from_thread=on_this_thread),
        RunSignals(control, executor).installed(),
        renewing,
    ):
        runner.run(ReadyQueue(plan, newest_first=request.newest_first))
    return runner


@dataclass
class _Waiting:
    """A ready step whose lease another run holds (`_Runner._waited_on` says which)."""

    step: Step
    next_try: float


@dataclass
class _Runner:
    """One run's loop: take ready steps, decide, start, finish."""

    project: Project
    plan: Plan
    store: MetadataStore
    state: RunState
    run_id: str
    clock: Clock
    listener: Listeners
    executor: Executor
    control: RunControl
    pools: dict[str, int] = field(default_factory=dict)
    results: list[StepResult] = field(default_factory=list)
    #: stop starting steps after the first failure (steps already running finish)
    fail_fast: bool = False
    has_stopped: bool = False
    _pool_use: Counter[str] = field(default_factory=Counter)
    _held: deque[Step] = field(default_factory=deque)
    _waiting: list[_Waiting] = field(default_factory=list)
    _renewed: float = field(default_factory=time.monotonic)
    #: steps holding a pool slot, and the pool
    _slots: dict[AssetPartition, str] = field(default_factory=dict)
    #: steps whose lease this run holds
    _leased: set[AssetPartition] = field(default_factory=set)
    #: steps that found their lease held by another run, and that run's lease
    _waited_on: dict[AssetPartition, Lease] = field(default_factory=dict)
    #: the open group: what the runner records and tells, kept (see `_open_group`)
    _deferred: _Deferred | None = None

    def run(self, queue: ReadyQueue) -> None:
        flusher = _Flusher(self._close_group) if self.executor.runs_on_coordinator_thread else None
        try:
            with flusher or nullcontext():
                self._loop(queue, flusher)
        except BaseException:
            # The run is ending on an error: what was kept is still written if it can
            # be (as each step's records were, one by one, before the error).
            self._close_group(quietly=True)
            raise
        self._close_group()

    def _loop(self, queue: ReadyQueue, flusher: _Flusher | None) -> None:
        executor = self.executor
        while queue:
            if self.control.is_cancelled:
                self._cancel(queue)
                return
            self._start_ready(queue)
            if not executor.busy and not queue:
                break
            if not executor.busy:  # nothing runs meanwhile: no reason to keep records back
                self._close_group()
            timeout = _TICK_S if not self._waiting else min(_TICK_S, leasing.RETRY_S)
            if flusher is not None and self._deferred is not None:
                # The step runs on this thread: the flusher writes the group if it is due
                # before the step ends.
                with flusher.armed(self._deferred.due):
                    events = executor.wait(timeout)
            else:
                events = executor.wait(timeout)
            for result in self._finish_all(queue, events):
                self.listener.step_finished(result)
            group = self._deferred
            if group is not None and not executor.runs_on_coordinator_thread:
                # The steps the ended ones unblock start first; the group is written while
                # the workers run them (this thread would only wait for them), and what
                # ends meanwhile joins the next group.
                self._start_ready(queue)
                self._close_group()
            elif group is not None and group.is_due():
                self._close_group()
            if not executor.runs_on_coordinator_thread:
                self._renew_leases()
                self.control.beat()
            self.listener.tick()

    def _start_ready(self, queue: ReadyQueue) -> None:
        """Start ready steps while there is room; decide, skip and record the others."""
        executor = self.executor
        while executor.busy < executor.capacity and not self.control.is_cancelled:
            step = self._next(queue)
            if step is None:
                return
            started = self._start(step)
            if isinstance(started, StepResult):
                self._release(step)
                queue.finished(step)
                self.listener.step_finished(started)
                continue
            if started is None:
                continue  # waits for a pool slot or another run's lease
            self.listener.step_started(step)
            if executor.runs_on_coordinator_thread:
                # The step holds this thread until it ends: no tick comes meanwhile, so the
                # listeners move now (lineage queues the step's START before it runs), or,
                # while a group is open, when the flusher writes it.
                self.listener.tick()
            try:
                executor.submit(started)
            except StepLost as error:
                for result in self._finish_all(queue, [Event("done", started, Attempts(error))]):
                    self.listener.step_finished(result)

    def _next(self, queue: ReadyQueue) -> Step | None:
        """The next step to decide on: a held one whose pool has room, a lease that is
        due another try, or the next ready step."""
        for index, step in enumerate(self._held):
            if self._has_room(step):
                del self._held[index]
                return step
        now = time.monotonic()
        for index, waiting in enumerate(self._waiting):
            if waiting.next_try <= now and self._has_room(waiting.step):
                del self._waiting[index]
                return waiting.step
        if queue.has_ready():
            return queue.pop()
        return None

    def _has_room(self, step: Step) -> bool:
        pool = self.project.graph.spec(step.asset).pool
        return pool is None or self._pool_use[pool] < self.pools.get(pool, 1)

    def _start(self, step: Step) -> Work | StepResult | None:
        """Decide whether a step runs: its work if so, its result if not (recorded), or
        None if it has to wait (for a pool slot, or another run's lease)."""
        outcome = decide(step, self.state)
        if outcome is None and self.has_stopped:
            outcome = (StepState.BLOCKED, EventKind.SKIPPED, NOT_STARTED)
        if outcome is not None:
            state, kind, message = outcome
            _record_event(self.listener, self.store, self.run_id, step, kind, self.clock, message)
            return self._done(step, StepResult(step.asset, step.partition, state, message=message))
        if not self._has_room(step):
            self._held.append(step)
            return None
        if not self._take_lease(step):
            return None
        skipped = self._done_meanwhile(step)
        if skipped is not None:
            return skipped
        spec = self.project.graph.spec(step.asset)
        if spec.pool is not None:
            self._pool_use[spec.pool] += 1
            self._slots[step.key] = spec.pool
        params = collect_inputs(
            step,
            spec,
            self.project.graph.reads_many(step.asset),
            self.state.values,
            # Read-only lookups: a Mapping serves ChainMap as well as a dict would.
            ChainMap(self.state.produced, self.state.snapshot.latest),  # type: ignore[arg-type]
            self.project.state_dir,
        )
        context = RunContext.for_partition(
            run_id=self.run_id,
            asset=step.asset,
            project_dir=self.project.root,
            partitions=spec.partitions,
            partition=step.partition,
        )
        started_at = self.clock.now()
        checks = tuple(self.project.checks.get(step.asset, ()))
        keep = self.state.readers[step.key] > 0
        return Work(step, spec, params, context, started_at, checks, keep=keep)

    def _finish_all(self, queue: ReadyQueue, events: list[Event]) -> list[StepResult]:
        """Record what the workers reported. Nothing of the events is kept: the outputs
        and inputs they hold are released before anything is reported.

        The steps' records and the release of their leases join the open group (see
        `_open_group`): one sync of the outputs and one commit for many steps, instead
        of two commits a step. A worker is told to drop an output no step reads any more
        at once (see `_done`)."""
        results: list[StepResult] = []
        if not events:
            return results
        self._open_group()
        while events:
            event = events.pop()
            step = event.work.step
            if event.kind == "cancelled":
                results.append(self._cancelled_step(event.work, event.attempts))
            else:
                results.append(self._finish(event.work, event.attempts))
            self._release(step)
            queue.finished(step)
        return results

    def _open_group(self) -> None:
        """From now on, what the runner records, the leases it gives back and what it
        tells the listeners are kept, in order, in a group (unless one is open already).

        With workers, a group is written as soon as the steps that its ended steps
        unblock have started (while the workers run them); steps that end meanwhile
        join the next group. On this thread (in process), it is written when it is due
        (`GROUP_S` after it opened, or `GROUP_STEPS` steps in), when nothing runs,
        before a cancel, and when the run ends. Writing it: the outputs its steps wrote
        are synced (their writeback started together, so that one journal commit of the
        file system serves many), then its records and leases are written in one
        transaction, then the listeners are told.

        So a step's end is never told before it is recorded, nor recorded before its
        output is durable, and the listeners hear a run's events in the order they
        happened, although the steps an ended step unblocks start before its records
        are written. A kill -9 loses at most the records of the open group: the next
        run finds those outputs unrecorded and rebuilds them."""
        if self._deferred is None:
            self._deferred = self.listener = _Deferred(self.listener, time.monotonic() + GROUP_S)

    def _close_group(self, *, quietly: bool = False) -> None:
        """Write the open group, if any (see `_open_group`); ``quietly``: as far as it
        can, raising nothing (the run is ending on an error)."""
        deferred = self._deferred
        if deferred is None:
            return
        listener = deferred.outer
        self._deferred, self.listener = None, listener
        if quietly:
            with contextlib.suppress(Exception):
                self._flush(deferred, listener)
        else:
            self._flush(deferred, listener)

    def _flush(self, deferred: _Deferred, listener: Listeners) -> None:
        """Sync the files the group's steps wrote unsynced, write what it kept (one
        transaction), then tell it."""
        if deferred.unsynced:
            _sync(deferred.unsynced)
        if deferred.writes or deferred.leases:
            with self.store.unit_of_work():
                for batch, logs in deferred.writes:
                    listener.record(self.store, batch, logs)
                if deferred.leases:
                    self.store.release_leases(self.run_id, deferred.leases)
        for tell in deferred.told:
            tell(listener)

    def _release(self, step: Step) -> None:
        """Give back a finished step's pool slot and lease."""
        pool = self._slots.pop(step.key, None)
        if pool is not None:
            self._pool_use[pool] -= 1
        if step.key in self._leased:
            self._leased.discard(step.key)
            if self._deferred is not None:
                self._deferred.leases.append(step.key)
            else:
                self.store.release_leases(self.run_id, [step.key])

    def _cancel(self, queue: ReadyQueue) -> None:
        """Stop the running steps and record them cancelled; record the steps never
        started as cancelled with no attempt (attempt 0), so that the run's summary and
        `assetflow runs` count the same steps and name the same ones not started."""
        self._close_group()  # the finished steps are recorded before the wait for the others
        for result in self._finish_all(queue, self.executor.cancel(CANCEL_GRACE_S)):
            self.listener.step_finished(result)
        never = [step for step in self.plan.steps if step.key not in self.state.states]
        now = self.clock.now()
        for step in never:
            self.state.states[step.key] = StepState.CANCELLED
            self.results.append(
                StepResult(
                    step.asset,
                    step.partition,
                    StepState.CANCELLED,
                    message=NOT_STARTED_CANCELLED,
                    attempts=0,
                )
            )
        if never:
            self.listener.record(
                self.store,
                Recorded(
                    self.run_id,
                    [
                        EventRecord(
                            run_id=self.run_id,
                            kind=EventKind.CANCELLED,
                            at=now,
                            asset=step.asset,
                            partition=step.partition,
                            message=NOT_STARTED_CANCELLED,
                            attempt=NOT_STARTED_ATTEMPT,
                        )
                        for step in never
                    ],
                ),
            )

    def _take_lease(self, step: Step) -> bool:
        """Take the step's lease; if another run holds it, the step waits (and says so)."""
        lease = leasing.new_lease(step, self.run_id, self.clock.now())
        holder = leasing.acquire(self.store, lease)
        if holder is None:
            self._leased.add(step.key)
            return True
        if step.key not in self._waited_on:
            self.listener.step_waiting(
                step,
                f"waiting: run {holder.run_id[:8]} (pid {holder.pid}) is materializing it",
            )
        self._waited_on[step.key] = holder
        self._waiting.append(_Waiting(step, time.monotonic() + leasing.RETRY_S))
        return False

    def _done_meanwhile(self, step: Step) -> StepResult | None:
        """Skip the step if another run materialized it since this run planned, from the
        same code and input versions (it may have held the lease while this one waited,
        or finished just before this one took it)."""
        holder = self._waited_on.pop(step.key, None)
        latest = self.store.latest_states_of([step.key]).get(step.key)
        before = self.state.snapshot.latest.get(step.key)
        if latest is None or (before is not None and latest.run_id == before.run_id):
            return None
        if latest.code_version != self.plan.code_versions.get(step.asset):
            return None
        if inputs_changed(step, self.state, latest):
            return None
        self.state.versions[step.key] = latest.data_version
        self.state.produced[step.key] = latest
        message = f"materialized meanwhile by run {latest.run_id[:8]}"
        if holder is not None and latest.run_id != holder.run_id:
            message += f" (after run {holder.run_id[:8]} held it)"
        _record_event(
            self.listener, self.store, self.run_id, step, EventKind.SKIPPED, self.clock, message
        )
        self._release(step)
        return self._done(
            step, StepResult(step.asset, step.partition, StepState.SKIPPED, message=message)
        )

    def _renew_leases(self) -> None:
        if self._leased and time.monotonic() - self._renewed > leasing.RENEW_S:
            leasing.renew(self.store, self.run_id, self.clock.now())
            self._renewed = time.monotonic()

    def _cancelled_step(self, work: Work, attempts: Attempts) -> StepResult:
        step = work.step
        message = "cancelled while running; nothing of it was written"
        _record_event(
            self.listener,
            self.store,
            self.run_id,
            step,
            EventKind.CANCELLED,
            self.clock,
            message,
            attempts.started_at or work.started_at,
            attempt=attempts.count,
            logs=self._logs(step, attempts),
            worker=attempts.worker,
        )
        return self._done(
            step,
            StepResult(
                step.asset,
                step.partition,
                StepState.CANCELLED,
                message=message,
                worker=attempts.worker,
            ),
        )

    def _finish(self, work: Work, attempts: Attempts) -> StepResult:
        step = work.step
        outcome = attempts.outcome
        logs = self._logs(step, attempts)
        # The retried attempts are recorded in the same transaction as the last one.
        worker = attempts.worker
        retried = [
            EventRecord(
                run_id=self.run_id,
                kind=EventKind.RETRIED,
                at=each.failed_at,
                asset=step.asset,
                partition=step.partition,
                message=each.message,
                attempt=each.attempt,
                duration_s=(each.failed_at - each.started_at).total_seconds(),
                started_at=each.started_at,
                host=worker.host if worker else None,
                pid=worker.pid if worker else None,
            )
            for each in attempts.retried
        ]
        started_at = attempts.started_at or work.started_at
        if isinstance(outcome, AssetflowError):
            message = failure_message(step, outcome)
            _record_event(
                self.listener,
                self.store,
                self.run_id,
                step,
                EventKind.FAILED,
                self.clock,
                message,
                started_at,
                attempt=attempts.count,
                logs=logs,
                before=retried,
                worker=worker,
            )
            return self._done(
                step,
                StepResult(
                    step.asset,
                    step.partition,
                    StepState.FAILED,
                    message=message,
                    attempts=attempts.count,
                    worker=worker,
                ),
            )
        stored = outcome.stored
        if outcome.unsynced:
            # Synced just before the commit that records them (see `_open_group`).
            assert self._deferred is not None
            self._deferred.unsynced.extend(outcome.unsynced)
        data_version = stored.data_version if stored.kind != "none" else f"run:{self.run_id}"
        if self.state.readers[step.key] and self.executor.keeps_values:
            self.state.values[step.key] = outcome.value
        self.state.versions[step.key] = data_version
        finished_at = self.clock.now()
        record = MaterializationRecord(
            run_id=self.run_id,
            asset=step.asset,
            partition=step.partition,
            io=stored.kind,
            # Relative to the state directory: a moved or copied project reads its own.
            path=recorded_path(stored.path, self.project.state_dir),
            rows=stored.rows,
            bytes=stored.bytes,
            file_mtime=stored.modified_at,
            file_digest=stored.digest,
            columns=tuple(Column(name=name, type=kind) for name, kind in stored.columns),
            started_at=work.started_at,
            finished_at=finished_at,
            duration_s=outcome.duration_s,
            code_version=self.plan.code_versions.get(step.asset),
            data_version=data_version,
            input_versions={
                key_text(key): version
                for key in step.inputs
                if (version := self.state.data_version(key)) is not None
            },
        )
        if self.state.readers[step.key]:
            self.state.produced[step.key] = MaterializationState.of(record)
        event = EventRecord(
            run_id=self.run_id,
            kind=EventKind.MATERIALIZED,
            at=finished_at,
            asset=step.asset,
            partition=step.partition,
            duration_s=outcome.duration_s,
            attempt=attempts.count,
            started_at=started_at,
            host=worker.host if worker else None,
            pid=worker.pid if worker else None,
        )
        checks = [
            CheckRecord(run_id=self.run_id, at=finished_at, **check.record_fields())
            for check in outcome.checks
        ]
        self.listener.record(
            self.store,
            Recorded(self.run_id, [*retried, event], materializations=[record], checks=checks),
            logs,
        )
        state, message = StepState.MATERIALIZED, ""
        blocking = [check for check in outcome.checks if check.is_blocking_failure]
        if blocking:
            from assetflow.checks import describe_blocking

            state, message = StepState.CHECK_FAILED, describe_blocking(blocking)
        return self._done(
            step,
            StepResult(
                step.asset,
                step.partition,
                state,
                duration_s=outcome.duration_s,
                rows=stored.rows,
                message=message,
                checks=check_summary(outcome.checks),
                attempts=attempts.count,
                worker=worker,
            ),
        )

    def _logs(self, step: Step, attempts: Attempts) -> list[LogRecord]:
        """A record of each attempt that wrote something."""
        now = self.clock.now()
        return [
            LogRecord(
                run_id=self.run_id,
                asset=step.asset,
                partition=step.partition,
                attempt=number,
                text=text,
                at=now,
            )
            for number, text in enumerate(attempts.logs, start=1)
            if text
        ]

    def _done(self, step: Step, result: StepResult) -> StepResult:
        if self.fail_fast and result.state in FAILED_STATES:
            self.has_stopped = True
        self.state.states[step.key] = result.state
        self.results.append(result)
        done_with = release_inputs(step, self.state)
        if done_with:
            # At once, before the steps this one unblocks are handed to the worker that
            # holds them: a table dropped only after the next step started kept its
            # memory from being reused, and that step's own allocations paid for it in
            # page faults (the groupby of the 5M-row pipeline's last step: 0.10 s in
            # process, 0.21 to 0.29 s in a worker that still held the raw table).
            self.executor.forget(done_with)
        return result


class _Deferred(Listeners):
    """The listeners as the runner sees them while a group is open (`_Runner._open_group`):
    what it records and tells is kept, in order, until the group is written."""

    def __init__(self, outer: Listeners, due: float) -> None:
        super().__init__()
        #: the listeners told when the group is written
        self.outer = outer
        #: when the group is due to be written in process (`time.monotonic`)
        self.due = due
        self.writes: list[tuple[Recorded, Sequence[LogRecord]]] = []
        self.told: list[Callable[[Listeners], None]] = []
        self.leases: list[AssetPartition] = []
        #: files the steps wrote and left to sync before their records commit
        self.unsynced: list[Path] = []

    def is_due(self) -> bool:
        return len(self.writes) >= GROUP_STEPS or time.monotonic() >= self.due

    def record(self, store: MetadataStore, batch: Recorded, logs: Sequence[LogRecord] = ()) -> None:
        self.writes.append((batch, logs))

    def step_started(self, step: Step) -> None:
        self.told.append(lambda listener: listener.step_started(step))

    def step_waiting(self, step: Step, message: str) -> None:
        self.told.append(lambda listener: listener.step_waiting(step, message))

    def step_finished(self, result: StepResult) -> None:
        self.told.append(lambda listener: listener.step_finished(result))

    def tick(self) -> None:
        self.told.append(lambda listener: listener.tick())


class _Flusher:
    """While a step runs on the coordinator's thread, writes the open group when it is
    due (from a thread of its own, that looks every `GROUP_S` / 2)."""

    def __init__(self, flush: Callable[[], None]) -> None:
        self._flush = flush
        self._lock = threading.Lock()
        self._due: float | None = None
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="assetflow-records", daemon=True)

    def __enter__(self) -> _Flusher:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    @contextmanager
    def armed(self, due: float) -> Iterator[None]:
        """Within the block, the group is written once ``due`` has passed.

        Raises:
            WriteError: Writing the group failed (raised when the block ends)."""
        with self._lock:
            self._due = due
        try:
            yield
        finally:
            with self._lock:  # waits for a write under way
                self._due, error, self._error = None, self._error, None
            if error is not None:
                raise error

    def _serve(self) -> None:
        while not self._stop.wait(GROUP_S / 2):
            with self._lock:
                if self._due is not None and time.monotonic() >= self._due:
                    self._due = None
                    try:
                        self._flush()
                    except BaseException as error:
                        self._error = error


def _sync(paths: Sequence[Path]) -> None:
    """Make the outputs a group's steps wrote unsynced durable, before they are recorded.

    Raises:
        WriteError: A file or its directory could not be synced (an I/O error, or a
            file removed since): nothing of those steps is recorded, and the next
            run rebuilds them.
    """
    try:
        sync_outputs(paths)
    except OSError as error:
        raise WriteError(
            f"cannot make the outputs just written durable ({error}); the steps that "
            "wrote them are not recorded, and the next run rebuilds them.",
            hint="Check the disk holding the state directory (space, errors in the "
            "system log), then run again.",
        ) from error


def _record_event(
    listener: Listeners,
    store: MetadataStore,
    run_id: str,
    step: Step,
    kind: EventKind,
    clock: Clock,
    message: str,
    started_at: datetime | None = None,
    *,
    attempt: int = 1,
    logs: list[LogRecord] | None = None,
    before: list[EventRecord] | None = None,
    worker: Worker | None = None,
) -> None:
    """Record how a step ended (``started_at``: when its attempt started, if it did)."""
    now = clock.now()
    duration = (now - started_at).total_seconds() if started_at else None
    event = EventRecord(
        run_id=run_id,
        kind=kind,
        at=now,
        asset=step.asset,
        partition=step.partition,
        message=message,
        duration_s=duration,
        attempt=attempt,
        started_at=started_at,
        host=worker.host if worker else None,
        pid=worker.pid if worker else None,
    )
    listener.record(store, Recorded(run_id, [*(before or ()), event]), logs or ())
