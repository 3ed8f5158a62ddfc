"""The coordinator: start steps as their inputs finish, skip or cut off, record everything.

Only the coordinator writes to the metadata store and decides; steps
(`run_step`) run user code and write outputs. With `max_parallel` 1 every
step runs on the calling thread, in plan order, which is what tests and
debuggers want; above 1, steps run on that many worker threads, each
starting as soon as its inputs are done (not in waves).
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from assetflow.context import RunContext
from assetflow.errors import AssetFailedError, AssetflowError, StoreError
from assetflow.execution.inputs import ParamInput, collect_inputs, load_inputs
from assetflow.execution.logs import StepLog, capturing_run
from assetflow.execution.reporting import NullReporter, Reporter
from assetflow.execution.scheduler import ReadyQueue
from assetflow.execution.step import StepOutput, run_step
from assetflow.planner.staleness import Key, Snapshot, Status, key_text
from assetflow.store.records import (
    CheckRecord,
    Column,
    EventKind,
    EventRecord,
    LogRecord,
    MaterializationRecord,
    RunRecord,
    RunStatus,
)
from assetflow.typecheck import TypeCheckError

if TYPE_CHECKING:
    from assetflow.asset import AssetSpec
    from assetflow.clock import Clock
    from assetflow.planner.plan import Plan, Step
    from assetflow.project import Project
    from assetflow.store.base import MetadataStore

logger = logging.getLogger(__name__)


class StepState(StrEnum):
    """How one step of a run ended."""

    MATERIALIZED = "materialized"
    SKIPPED = "skipped"  # early cutoff: its inputs did not change
    BLOCKED = "blocked"  # skipped because an upstream step failed
    FAILED = "failed"
    CHECK_FAILED = "check failed"  # written, but a blocking check failed: downstream waits


_FAILED_STATES = frozenset({StepState.FAILED, StepState.CHECK_FAILED})
_NOT_STARTED = "not started: --fail-fast stopped the run after a failure"
_BLOCKING_STATES = frozenset({StepState.FAILED, StepState.BLOCKED, StepState.CHECK_FAILED})


@dataclass(frozen=True, slots=True)
class StepResult:
    """How one step ended, with what it stored or why it did not."""

    asset: str
    partition: str | None
    state: StepState
    duration_s: float = 0.0
    rows: int | None = None
    message: str = ""
    #: "3 checks passed", "1 of 3 checks warned: ..." (empty when it has no checks)
    checks: str = ""
    #: how many times the asset ran (more than 1 when retried)
    attempts: int = 1

    @property
    def key(self) -> Key:
        return (self.asset, self.partition)


@dataclass(frozen=True, slots=True)
class RunResult:
    """A finished run: its id, status, plan, and how each step ended."""

    run_id: str
    status: RunStatus
    plan: Plan
    results: tuple[StepResult, ...]
    started_at: datetime
    finished_at: datetime

    @property
    def success(self) -> bool:
        return self.status is RunStatus.SUCCESS

    @property
    def duration_s(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    def counts(self) -> Counter[StepState]:
        """How many steps ended in each state."""
        return Counter(result.state for result in self.results)

    def failures(self) -> list[StepResult]:
        """Steps that failed, or whose blocking checks failed."""
        return [r for r in self.results if r.state in _FAILED_STATES]


@dataclass
class _RunState:
    """What the coordinator tracks while a run goes on."""

    snapshot: Snapshot
    values: dict[Key, Any] = field(default_factory=dict)
    versions: dict[Key, str | None] = field(default_factory=dict)
    states: dict[Key, StepState] = field(default_factory=dict)
    readers: Counter[Key] = field(default_factory=Counter)

    def data_version(self, key: Key) -> str | None:
        if key in self.versions:
            return self.versions[key]
        return self.snapshot.current_version(key)


@dataclass(frozen=True, slots=True)
class _Work:
    """Everything a worker needs to run one step, prepared on the coordinator's thread."""

    step: Step
    spec: AssetSpec
    params: tuple[ParamInput, ...]
    context: RunContext
    started_at: datetime
    checks: tuple[Any, ...] = ()


def execute_plan(
    project: Project,
    plan: Plan,
    store: MetadataStore,
    snapshot: Snapshot,
    *,
    run_id: str,
    clock: Clock,
    sources: Mapping[str, Any] | None = None,
    trigger: str = "api",
    reporter: Reporter | None = None,
    max_parallel: int = 1,
    newest_first: bool = False,
    sleep: Callable[[float], None] | None = None,
    rng: random.Random | None = None,
    fail_fast: bool = False,
) -> RunResult:
    """Run a plan's steps and record the run.

    A failed step blocks its downstream; independent steps still run. A waiting
    step is skipped when none of its inputs' data versions changed (early cutoff).

    Args:
        project: The loaded project.
        plan: What to run.
        store: Where the run is recorded.
        snapshot: The store's state the plan was made from.
        run_id: The new run's id.
        clock: The source of "now".
        sources: The observed values of the sources the steps read.
        trigger: What started the run.
        reporter: Receives progress events.
        max_parallel: How many steps may run at once.
        newest_first: Among steps ready at once, start the newest partitions first.
        sleep: How to wait between retries (tests pass one that records the delays).
        rng: The randomness of retry jitter.
        fail_fast: After the first failure, start no new step (the rest are skipped).

    Raises:
        KeyboardInterrupt: After letting running steps finish and marking the run
            cancelled.
    """
    reporter = reporter or NullReporter()
    started_at = clock.now()
    store.create_run(
        RunRecord(
            run_id=run_id,
            trigger=trigger,
            selection=plan.selection,
            started_at=started_at,
            pid=os.getpid(),
            partitions=plan.partitions,
        )
    )
    reporter.run_started(run_id, plan)
    state = _RunState(snapshot)
    state.values.update({(name, None): value for name, value in (sources or {}).items()})
    for step in plan.steps:
        state.readers.update(step.inputs)
    retrying = _Retrying(clock, sleep or time.sleep, rng or random.Random())
    runner = _Runner(
        project, plan, store, state, run_id, clock, reporter, retrying, fail_fast=fail_fast
    )
    try:
        with capturing_run():
            runner.run(ReadyQueue(plan, newest_first=newest_first), max(1, max_parallel))
    except BaseException as error:
        # Whatever stops the run, its record must not stay "running".
        interrupted = isinstance(error, KeyboardInterrupt)
        status = RunStatus.CANCELLED if interrupted else RunStatus.FAILED
        store.finish_run(run_id, status, clock.now())
        raise
    failed = any(r.state in _FAILED_STATES for r in runner.results)
    status = RunStatus.FAILED if failed else RunStatus.SUCCESS
    finished_at = clock.now()
    store.finish_run(run_id, status, finished_at)
    run = RunResult(run_id, status, plan, tuple(runner.results), started_at, finished_at)
    reporter.run_finished(run)
    return run


@dataclass
class _Runner:
    """One run's loop: take ready steps, decide, start, finish."""

    project: Project
    plan: Plan
    store: MetadataStore
    state: _RunState
    run_id: str
    clock: Clock
    reporter: Reporter
    retrying: _Retrying
    results: list[StepResult] = field(default_factory=list)
    #: stop starting steps after the first failure (steps already running finish)
    fail_fast: bool = False
    has_stopped: bool = False

    def run(self, queue: ReadyQueue, max_parallel: int) -> None:
        if max_parallel == 1:
            while queue:
                step = queue.pop()
                result = self._run_here(step)  # its inputs and output are released on return
                queue.finished(step)
                self.reporter.step_finished(result)
            return
        running: dict[Future[_Attempts], _Work] = {}
        with ThreadPoolExecutor(max_parallel, thread_name_prefix="assetflow-step") as pool:
            try:
                while queue:
                    finished: list[StepResult] = []
                    while queue.has_ready() and len(running) < max_parallel:
                        step = queue.pop()
                        started = self._start(step)
                        if isinstance(started, StepResult):
                            queue.finished(step)
                            finished.append(started)
                        else:
                            running[pool.submit(_attempt, started, self.project, self.retrying)] = (
                                started
                            )
                    if running:
                        done, _ = wait(running, return_when=FIRST_COMPLETED)
                        for future in done:
                            work = running.pop(future)
                            finished.append(self._finish(work, future.result()))
                            queue.finished(work.step)
                        del done, future, work  # drop the outputs before reporting
                    for result in finished:
                        self.reporter.step_finished(result)
            except KeyboardInterrupt:
                # Steps already running finish (threads cannot be stopped) and are
                # recorded, so no output is newer than its record; nothing new starts.
                pool.shutdown(wait=False, cancel_futures=True)
                for future, work in running.items():
                    if not future.cancelled():
                        self._finish(work, future.result())
                raise

    def _run_here(self, step: Step) -> StepResult:
        started = self._start(step)
        if isinstance(started, StepResult):
            return started
        return self._finish(started, _attempt(started, self.project, self.retrying))

    def _start(self, step: Step) -> _Work | StepResult:
        """Decide whether a step runs: its work if so, else why not (recorded)."""
        self.reporter.step_started(step)
        outcome = _decide(step, self.state)
        if outcome is None and self.has_stopped:
            outcome = (StepState.BLOCKED, EventKind.SKIPPED, _NOT_STARTED)
        if outcome is not None:
            state, kind, message = outcome
            _record_event(self.store, self.run_id, step, kind, self.clock, message)
            return self._done(step, StepResult(step.asset, step.partition, state, message=message))
        spec = self.project.graph.spec(step.asset)
        params = collect_inputs(
            step,
            spec,
            self.project.graph.reads_many(step.asset),
            self.state.values,
            self.state.snapshot,
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
        return _Work(step, spec, params, context, started_at, checks)

    def _finish(self, work: _Work, attempts: _Attempts) -> StepResult:
        step = work.step
        outcome = attempts.outcome
        logs = self._logs(step, attempts)
        if attempts.retried:
            self.store.record(
                events=[
                    EventRecord(
                        run_id=self.run_id,
                        kind=EventKind.RETRIED,
                        at=at,
                        asset=step.asset,
                        partition=step.partition,
                        message=message,
                        attempt=number,
                    )
                    for number, at, message in attempts.retried
                ]
            )
        if isinstance(outcome, AssetflowError):
            message = outcome.format_message()
            if isinstance(outcome, StoreError):
                # An input could not be read back (deleted, or not of the annotated
                # type): it fails this step, not the run.
                message = f"asset '{step.asset}' could not read its inputs: {message}"
            _record_event(
                self.store,
                self.run_id,
                step,
                EventKind.FAILED,
                self.clock,
                message,
                work.started_at,
                attempt=attempts.count,
                logs=logs,
            )
            return self._done(
                step,
                StepResult(
                    step.asset,
                    step.partition,
                    StepState.FAILED,
                    message=message,
                    attempts=attempts.count,
                ),
            )
        stored = outcome.stored
        data_version = stored.data_version if stored.kind != "none" else f"run:{self.run_id}"
        if self.state.readers[step.key]:
            self.state.values[step.key] = outcome.value
        self.state.versions[step.key] = data_version
        finished_at = self.clock.now()
        record = MaterializationRecord(
            run_id=self.run_id,
            asset=step.asset,
            partition=step.partition,
            io=stored.kind,
            path=str(stored.path) if stored.path is not None else None,
            rows=stored.rows,
            bytes=stored.bytes,
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
        event = EventRecord(
            run_id=self.run_id,
            kind=EventKind.MATERIALIZED,
            at=finished_at,
            asset=step.asset,
            partition=step.partition,
            duration_s=outcome.duration_s,
            attempt=attempts.count,
        )
        checks = [
            CheckRecord(run_id=self.run_id, at=finished_at, **check.record_fields())
            for check in outcome.checks
        ]
        self.store.record(materializations=[record], events=[event], checks=checks, logs=logs)
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
                checks=_check_summary(outcome.checks),
                attempts=attempts.count,
            ),
        )

    def _logs(self, step: Step, attempts: _Attempts) -> list[LogRecord]:
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
            for number, log in enumerate(attempts.logs, start=1)
            if (text := log.text())
        ]

    def _done(self, step: Step, result: StepResult) -> StepResult:
        if self.fail_fast and result.state in _FAILED_STATES:
            self.has_stopped = True
        self.state.states[step.key] = result.state
        self.results.append(result)
        _release_inputs(step, self.state)
        return result


@dataclass(frozen=True, slots=True)
class _Attempts:
    """How a step's attempts went: the last outcome, and each earlier failed attempt."""

    outcome: StepOutput | AssetflowError
    #: (attempt number, when it failed, its error message) of each retried attempt
    retried: tuple[tuple[int, datetime, str], ...] = ()
    #: what each attempt wrote (stdout, stderr, asset logs), in attempt order
    logs: tuple[StepLog, ...] = ()

    @property
    def count(self) -> int:
        return len(self.retried) + 1


@dataclass(frozen=True, slots=True)
class _Retrying:
    """What retries need besides the policy: a way to wait, randomness, the time."""

    clock: Clock
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)


def _attempt(work: _Work, project: Project, retrying: _Retrying) -> _Attempts:
    """Load the inputs and run the step, retrying as its policy says; assetflow errors are
    returned, not raised, so the coordinator records them wherever the step ran.

    Only errors of the user's code are retried: a value that fails its type check
    or cannot be stored would fail the same way again.
    """
    policy = work.spec.retry
    retried: list[tuple[int, datetime, str]] = []
    logs: list[StepLog] = []
    attempt = 1
    while True:
        log = StepLog()
        logs.append(log)
        try:
            with log.capturing():
                inputs = load_inputs(
                    work.params, asset=work.step.asset, partition=work.step.partition
                )
                output = run_step(
                    work.spec,
                    inputs,
                    work.context,
                    project.state_dir,
                    work.step.partition,
                    checks=work.checks,
                    now=work.started_at,
                )
            return _Attempts(output, tuple(retried), tuple(logs))
        except AssetFailedError as error:
            cause = error.__cause__
            if (
                policy is None
                or cause is None
                or isinstance(cause, AssetflowError)
                or not policy.should_retry(cause, attempt)
            ):
                return _Attempts(error, tuple(retried), tuple(logs))
            retried.append((attempt, retrying.clock.now(), error.format_message()))
            retrying.sleep(policy.delay(attempt, retrying.rng))
            attempt += 1
        except (StoreError, TypeCheckError) as error:
            return _Attempts(error, tuple(retried), tuple(logs))


def _decide(step: Step, state: _RunState) -> tuple[StepState, EventKind, str] | None:
    """Why a ready step does not run (blocked, cut off, source unavailable), or None."""
    checked = [
        key_text(key) for key in step.inputs if state.states.get(key) is StepState.CHECK_FAILED
    ]
    if checked:
        message = f"upstream check failed: {_few(checked)}"
        return StepState.BLOCKED, EventKind.SKIPPED, message
    blocked_by = [key_text(key) for key in step.inputs if state.states.get(key) in _BLOCKING_STATES]
    if blocked_by:
        return StepState.BLOCKED, EventKind.SKIPPED, f"upstream failed: {_few(blocked_by)}"
    if step.status is Status.WAITING and not _inputs_changed(step, state):
        return StepState.SKIPPED, EventKind.SKIPPED, "inputs unchanged"
    unavailable = [
        state.snapshot.unavailable[key] for key in step.inputs if key in state.snapshot.unavailable
    ]
    if unavailable:
        return StepState.FAILED, EventKind.FAILED, "\n".join(unavailable)
    return None


#: How many upstream names a "blocked" message lists before it says "and N more".
_NAMES_SHOWN = 5


def _check_summary(outcomes: tuple[Any, ...]) -> str:
    """`3 checks passed`, or which checks failed or warned."""
    if not outcomes:
        return ""
    failed = [o.check for o in outcomes if not o.result.passed]
    if not failed:
        return f"{len(outcomes)} {'check' if len(outcomes) == 1 else 'checks'} passed"
    return f"{len(failed)} of {len(outcomes)} checks failed: {_few(failed)}"


def _few(names: list[str]) -> str:
    if len(names) <= _NAMES_SHOWN:
        return ", ".join(names)
    return f"{', '.join(names[:_NAMES_SHOWN])} and {len(names) - _NAMES_SHOWN} more"


def _inputs_changed(step: Step, state: _RunState) -> bool:
    """Whether any input's data version differs from the one the last materialization read."""
    latest = state.snapshot.latest.get(step.key)
    if latest is None:
        return True
    recorded = latest.input_versions
    if len(recorded) != len(step.inputs):
        return True
    return any(recorded.get(key_text(key)) != state.data_version(key) for key in step.inputs)


def _release_inputs(step: Step, state: _RunState) -> None:
    """Drop in-memory outputs no later step reads, so big frames do not pile up."""
    for key in step.inputs:
        state.readers[key] -= 1
        if state.readers[key] <= 0:
            state.values.pop(key, None)


def _record_event(
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
) -> None:
    now = clock.now()
    duration = (now - started_at).total_seconds() if started_at else None
    store.record(
        events=[
            EventRecord(
                run_id=run_id,
                kind=kind,
                at=now,
                asset=step.asset,
                partition=step.partition,
                message=message,
                duration_s=duration,
                attempt=attempt,
            )
        ],
        logs=logs or (),
    )
