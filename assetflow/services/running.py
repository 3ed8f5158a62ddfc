"""Running: `materialize` and `check`, each a recorded run of a `RunRequest`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assetflow.services.planning import bind_partitions, make_plan, save_fingerprints, select
from assetflow.services.stores import ensure_state_dir, project_store, sweep_crashed

if TYPE_CHECKING:
    from assetflow.clock import Clock
    from assetflow.execution import RunResult
    from assetflow.execution.listeners import RunListener
    from assetflow.project import Project
    from assetflow.request import RunRequest
    from assetflow.store.base import MetadataStore
    from assetflow.store.records import CheckRecord, RunRecord


def materialize(
    project: Project,
    request: RunRequest,
    *,
    store: MetadataStore | None = None,
    clock: Clock | None = None,
    listeners: Sequence[RunListener] = (),
    run_id: str | None = None,
) -> RunResult:
    """Materialize the stale part of what `request` selects, and record the run.

    `run_id` names the run (a new one by default): the scheduler chooses it when it
    records the tick that starts the run, so that the two are linked even if the
    process dies in between.

    Raises:
        SelectionError, UsageError: The request does not fit the project.
        RunCancelled: Ctrl-C or SIGTERM; the run was recorded as cancelled.
    """
    from assetflow.clock import SystemClock
    from assetflow.execution import execute_plan

    clock = clock or SystemClock()
    with project_store(project, store) as opened:
        ensure_state_dir(project.state_dir)
        sweep_crashed(opened, project, clock)
        context = make_plan(project, opened, request, clock=clock)
        save_fingerprints(
            opened,
            project,
            {step.asset: context.fingerprints[step.asset] for step in context.plan.steps},
        )
        return execute_plan(
            context.project,  # with the keys of dynamic partitions bound
            context.plan,
            opened,
            context.snapshot,
            request,
            sources=context.source_values,
            run_id=run_id or uuid.uuid4().hex,
            clock=clock,
            listeners=listeners,
        )


@dataclass(frozen=True, slots=True)
class CheckRun:
    """What `assetflow check` did: the run and each result, with where it ran."""

    run_id: str
    results: tuple[CheckRecord, ...]

    @property
    def has_blocking_failure(self) -> bool:
        return any(result.is_blocking_failure for result in self.results)


def check(
    project: Project,
    request: RunRequest,
    *,
    store: MetadataStore | None = None,
    clock: Clock | None = None,
    listeners: Sequence[RunListener] = (),
) -> CheckRun:
    """Run the checks of the selected assets against what is stored, without rebuilding.

    `listeners` that have `recorded()` (alerts) hear the check results in the
    transaction that writes them.

    Every materialized asset-partition of the selection (of its partitions, if asked)
    with checks is read back and checked; the results are recorded in a run with
    trigger "check", through the same run lifecycle as a materialization: a check
    run that is interrupted or fails is recorded so, never left running; it keeps a
    heartbeat, and `assetflow runs cancel` stops it between two asset-partitions.
    """
    from assetflow.checks import run_checks
    from assetflow.clock import SystemClock
    from assetflow.execution.control import RunControl
    from assetflow.execution.inputs import read_one
    from assetflow.execution.lifecycle import recorded_run, run_record
    from assetflow.execution.listeners import Recorded, fan_out
    from assetflow.execution.step import io_settings
    from assetflow.planner.keys import keys_by_asset
    from assetflow.store.records import CheckRecord, RunStatus

    clock = clock or SystemClock()
    with project_store(project, store) as opened:
        sweep_crashed(opened, project, clock)
        project = bind_partitions(project, opened)
        now = clock.now()
        names = {
            n for n in select(project, request.selection, request.exclude) if project.checks.get(n)
        }
        keys = keys_by_asset(project.graph, names, request.partitions, now)
        states = opened.latest_states_of(
            (name, partition) for name, partitions_of in keys.items() for partition in partitions_of
        )
        record = run_record(request, uuid.uuid4().hex, now, trigger="check")
        # The heartbeat keeps the check run alive for other hosts' crash sweeps, and brings
        # back a cancel asked for with `assetflow runs cancel`.
        control = RunControl(heartbeat=lambda at: opened.heartbeat(record.run_id, at))
        listener = fan_out(listeners)
        try:
            with (
                recorded_run(opened, record, clock, listener) as run,
                control.running(clock, beat_from_thread=True),
            ):
                results: list[CheckRecord] = []
                for (name, partition), state in sorted(
                    states.items(), key=lambda item: str(item[0])
                ):
                    if control.is_cancelled:
                        break  # what was checked so far is recorded with the cancelled run
                    spec = project.graph.spec(name)
                    value = read_one(state, spec.returns, io_settings(project), project.state_dir)
                    outcomes = run_checks(
                        project.checks[name], value, partition=partition, now=now, root=project.root
                    )
                    results.extend(
                        CheckRecord(run_id=run.run_id, at=clock.now(), **outcome.record_fields())
                        for outcome in outcomes
                    )
                # One transaction for the whole check run, with what the listeners write.
                listener.record(opened, Recorded(run.run_id, checks=results))
                failed = any(result.is_blocking_failure for result in results)
                if control.is_cancelled:
                    run.finish(RunStatus.CANCELLED)
                else:
                    run.finish(RunStatus.FAILED if failed else RunStatus.SUCCESS)
        finally:
            listener.run_ended()  # lineage sends the check run's events
        return CheckRun(run.run_id, tuple(results))


#: How often `cancel(wait=...)` looks whether the run has ended.
_CANCEL_POLL_S = 0.2


def cancel(
    project: Project,
    run_id: str,
    *,
    wait_s: float = 0.0,
    store: MetadataStore | None = None,
    clock: Clock | None = None,
) -> RunRecord:
    """Ask a running run (by id or unique prefix) to cancel, from any process that shares
    its store; its coordinator sees the request at its next heartbeat (within about a
    second) and cancels as Ctrl-C does.

    Args:
        project: The project.
        run_id: The run's id or a unique prefix of it.
        wait_s: How long to wait for the run to end (0: do not wait).
        store: The metadata store; by default the project's own.
        clock: The source of the request's time.

    Returns:
        The run as last read: still running, or as it ended when waited for.

    Raises:
        UnknownRunError: No run id starts with `run_id`.
        AmbiguousRunIdError: Several do.
        RunFinishedError: The run already finished.
    """
    import time

    from assetflow.clock import SystemClock
    from assetflow.store.records import RunStatus

    clock = clock or SystemClock()
    with project_store(project, store) as opened:
        sweep_crashed(opened, project, clock)
        record = opened.request_cancel(run_id, clock.now())
        deadline = time.monotonic() + wait_s
        while record.status is RunStatus.RUNNING and time.monotonic() < deadline:
            time.sleep(_CANCEL_POLL_S)
            sweep_crashed(opened, project, clock)
            record = opened.get_run(record.run_id) or record
        return record
