"""The coordinator: walk a plan's steps, skip or cut off what need not run, record everything.

Only the coordinator writes to the metadata store; steps (run_step) only run
user code and write outputs. This in-process coordinator runs steps one at a
time in plan order, which is what tests and debuggers want.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from assetflow.context import RunContext
from assetflow.errors import AssetFailedError, StoreError
from assetflow.execution.reporting import NullReporter, Reporter
from assetflow.execution.step import read_input, run_step
from assetflow.planner.staleness import Key, Snapshot, Status, key_text
from assetflow.store.records import (
    Column,
    EventKind,
    EventRecord,
    MaterializationRecord,
    RunRecord,
    RunStatus,
)

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


@dataclass(frozen=True, slots=True)
class StepResult:
    """How one step ended, with what it stored or why it did not."""

    asset: str
    partition: str | None
    state: StepState
    duration_s: float = 0.0
    rows: int | None = None
    message: str = ""

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
        return [r for r in self.results if r.state is StepState.FAILED]


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
) -> RunResult:
    """Run a plan's steps in order, in this process, and record the run.

    A failed step blocks its downstream; independent steps still run. A waiting
    step is skipped when none of its inputs' data versions changed (early cutoff).
    `sources` are the observed values of the sources the steps read.

    Raises:
        KeyboardInterrupt: After marking the run cancelled.
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
        )
    )
    reporter.run_started(run_id, plan)
    state = _RunState(snapshot)
    state.values.update({(name, None): value for name, value in (sources or {}).items()})
    for step in plan.steps:
        state.readers.update(step.inputs)
    results: list[StepResult] = []
    try:
        for step in plan.steps:
            reporter.step_started(step)
            result = _execute_step(project, plan, step, state, store, run_id, clock)
            state.states[step.key] = result.state
            results.append(result)
            _release_inputs(step, state)
            reporter.step_finished(result)
    except BaseException as error:
        # Whatever stops the run, its record must not stay "running".
        interrupted = isinstance(error, KeyboardInterrupt)
        status = RunStatus.CANCELLED if interrupted else RunStatus.FAILED
        store.finish_run(run_id, status, clock.now())
        raise
    failed = any(r.state is StepState.FAILED for r in results)
    status = RunStatus.FAILED if failed else RunStatus.SUCCESS
    finished_at = clock.now()
    store.finish_run(run_id, status, finished_at)
    run = RunResult(run_id, status, plan, tuple(results), started_at, finished_at)
    reporter.run_finished(run)
    return run


def _execute_step(
    project: Project,
    plan: Plan,
    step: Step,
    state: _RunState,
    store: MetadataStore,
    run_id: str,
    clock: Clock,
) -> StepResult:
    blocked_by = [
        key_text(key)
        for key in step.inputs
        if state.states.get(key) in (StepState.FAILED, StepState.BLOCKED)
    ]
    if blocked_by:
        message = f"upstream failed: {', '.join(blocked_by)}"
        _record_event(store, run_id, step, EventKind.SKIPPED, clock, message)
        return StepResult(step.asset, step.partition, StepState.BLOCKED, message=message)
    if step.status is Status.WAITING and not _inputs_changed(step, state):
        message = "inputs unchanged"
        _record_event(store, run_id, step, EventKind.SKIPPED, clock, message)
        return StepResult(step.asset, step.partition, StepState.SKIPPED, message=message)

    unavailable = [
        state.snapshot.unavailable[key] for key in step.inputs if key in state.snapshot.unavailable
    ]
    if unavailable:
        message = "\n".join(unavailable)
        _record_event(store, run_id, step, EventKind.FAILED, clock, message)
        return StepResult(step.asset, step.partition, StepState.FAILED, message=message)

    spec = project.graph.spec(step.asset)
    started_at = clock.now()
    try:
        inputs = _gather_inputs(step, spec, state)
        context = RunContext(
            run_id=run_id,
            asset=step.asset,
            project_dir=project.root,
            log=logging.getLogger(f"assetflow.asset.{step.asset}"),
        )
        output = run_step(spec, inputs, context, project.state_dir, step.partition)
    except (AssetFailedError, StoreError) as error:
        # StoreError: an input could not be read back (deleted, or not of the
        # annotated type); it fails this step, not the run.
        message = error.format_message()
        if isinstance(error, StoreError):
            message = f"asset '{step.asset}' could not read its inputs: {message}"
        _record_event(store, run_id, step, EventKind.FAILED, clock, message, started_at)
        return StepResult(step.asset, step.partition, StepState.FAILED, message=message)

    stored = output.stored
    data_version = stored.data_version if stored.kind != "none" else f"run:{run_id}"
    if state.readers[step.key]:
        state.values[step.key] = output.value
    state.versions[step.key] = data_version
    finished_at = clock.now()
    record = MaterializationRecord(
        run_id=run_id,
        asset=step.asset,
        partition=step.partition,
        io=stored.kind,
        path=str(stored.path) if stored.path is not None else None,
        rows=stored.rows,
        bytes=stored.bytes,
        columns=tuple(Column(name=name, type=kind) for name, kind in stored.columns),
        started_at=started_at,
        finished_at=finished_at,
        duration_s=output.duration_s,
        code_version=plan.code_versions.get(step.asset),
        data_version=data_version,
        input_versions={
            key_text(key): version
            for key in step.inputs
            if (version := state.data_version(key)) is not None
        },
    )
    event = EventRecord(
        run_id=run_id,
        kind=EventKind.MATERIALIZED,
        at=finished_at,
        asset=step.asset,
        partition=step.partition,
        duration_s=output.duration_s,
    )
    store.record(materializations=[record], events=[event])
    return StepResult(
        step.asset,
        step.partition,
        StepState.MATERIALIZED,
        duration_s=output.duration_s,
        rows=stored.rows,
    )


def _inputs_changed(step: Step, state: _RunState) -> bool:
    """Whether any input's data version differs from the one the last materialization read."""
    latest = state.snapshot.latest.get(step.key)
    if latest is None:
        return True
    return any(
        latest.input_versions.get(key_text(key)) != state.data_version(key) for key in step.inputs
    )


def _gather_inputs(step: Step, spec: AssetSpec, state: _RunState) -> Mapping[str, Any]:
    annotations = {param.name: param.annotation for param in spec.input_params()}
    inputs: dict[str, Any] = {}
    for key in step.inputs:
        name = key[0]
        if key in state.values:
            inputs[name] = state.values[key]
            continue
        stored = state.snapshot.latest[key]
        inputs[name] = read_input(stored.io, stored.path, annotations.get(name))
    return inputs


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
            )
        ]
    )
