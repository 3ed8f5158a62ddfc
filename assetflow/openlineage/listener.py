"""The run listener that turns a run into OpenLineage events in the store's outbox.

For the run and for each step: one START, then exactly one of COMPLETE, FAIL or
ABORT. The run's START is queued in the transaction that records the run's start,
and its terminal event in the one that records its end; a step's terminal event
in the transaction that records how the step ended (`recorded`): each commits with
its record or not at all (a step that never started gets its START with its end).
A step's START waits in memory for the next write: the transaction of the next
step that ends, or the listener's `tick` (about every 0.2 s while steps run), so
that a run of many short steps costs no transaction per START. A sender thread
sends the events after each commit; what it could not send stays in the outbox
(see `sender`).

OpenLineage run ids are computed from the assetflow run id and its start
(`events.run_uuid`): the crash sweep ends a killed run's events with ABORT
(`crash_events`) under the ids its START used.

Steps: a materialization is COMPLETE with its output (schema, location, row
count); a step skipped because its inputs did not change is COMPLETE with no
output; one that failed is FAIL with its error and no output; one blocked by an
upstream failure, stopped by --fail-fast, or cancelled is ABORT. A check run
(`assetflow check`) is the job ``<project>:check``, its checked datasets are its
inputs with their results in the ``dataQualityAssertions`` facet.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from openlineage.client.event_v2 import OutputDataset, RunState

from assetflow.keys import AssetPartition
from assetflow.openlineage.events import (
    PRODUCER,
    AssetflowRunFacet,
    checked_dataset,
    output_dataset,
    run_event,
    run_uuid,
    step_facet,
)
from assetflow.openlineage.sender import SenderThread, SendReport
from assetflow.store.lineage import lineage_outbox
from assetflow.store.records import CheckRecord, EventKind, MaterializationRecord, RunStatus

if TYPE_CHECKING:
    from assetflow.execution.listeners import Recorded
    from assetflow.execution.results import RunResult, StepResult
    from assetflow.openlineage.settings import LineageSettings
    from assetflow.planner.plan import Plan, Step
    from assetflow.store import EventRecord, MetadataStore, RunRecord

logger = logging.getLogger(__name__)

#: How long START events wait for the run's first batch before the recorder opens a
#: store of its own to queue them in.
OPEN_AFTER_S = 1.0
_TERMINAL_KINDS = frozenset(
    {EventKind.MATERIALIZED, EventKind.SKIPPED, EventKind.FAILED, EventKind.CANCELLED}
)
_RUN_STATES = {
    RunStatus.SUCCESS: RunState.COMPLETE,
    RunStatus.FAILED: RunState.FAIL,
    RunStatus.CANCELLED: RunState.ABORT,
    RunStatus.CRASHED: RunState.ABORT,
}


def _now() -> datetime:
    return datetime.now(UTC)


def run_job(project: str, trigger: str | None) -> str:
    """The job of a run: ``<project>``, or ``<project>:check`` for a check run."""
    return f"{project}:check" if trigger == "check" else project


@dataclass
class LineageRecorder:
    """Queues a run's OpenLineage events and has them sent (see the module doc).

    `store`: the run's store when the caller has it; otherwise the recorder learns it from
    the run's first batch, and `open_store` (if given) serves a caller that records none.
    """

    settings: LineageSettings
    project: str
    state_dir: Path
    store: MetadataStore | None = None
    open_store: Callable[[], AbstractContextManager[MetadataStore]] | None = None
    #: log a warning when some events were not sent (the CLI says so itself instead)
    warn: bool = True
    #: what the last run's sending came to (read after the run)
    report: SendReport | None = None
    _run_id: str = ""
    _ol_run_id: str = ""
    _job: str = ""
    _started_at: datetime | None = None
    #: the run's terminal event is queued
    _ended: bool = False
    _code_versions: dict[str, str] = field(default_factory=dict)
    _inputs: dict[AssetPartition, tuple[AssetPartition, ...]] = field(default_factory=dict)
    _step_ids: dict[AssetPartition, str] = field(default_factory=dict)
    #: what a check run checked, for its terminal event
    _checks: dict[AssetPartition, list[CheckRecord]] = field(default_factory=dict)
    #: START events waiting for a store to be queued in
    _waiting: list[str] = field(default_factory=list)
    _sender: SenderThread | None = None
    _lock: threading.RLock = field(default_factory=threading.RLock)
    #: the store this run writes to: the given one, else the run's (from its first batch),
    #: else one opened by `open_store` (kept open until the run ends)
    _run_store: MetadataStore | None = None
    _opened: ExitStack | None = None
    #: when the oldest waiting event was heard (time.monotonic())
    _waiting_since: float = 0.0
    _own: MetadataStore | None = None

    @property
    def namespace(self) -> str:
        return self.settings.namespace

    # -- RunListener -------------------------------------------------------------------

    def run_started(self, run_id: str, plan: Plan) -> None:
        with self._lock:
            if run_id != self._run_id:  # its start was not recorded through the listeners
                self._run_store = self.store
                self._wait([self._begin(run_id, _now(), None)])
            self._code_versions = dict(plan.code_versions)
            self._inputs = {step.key: tuple(step.inputs) for step in plan.steps}

    def step_started(self, step: Step) -> None:
        with self._lock:
            if step.key in self._step_ids:
                # Its end was recorded first (a run records its steps in groups, and tells
                # the listeners after): its START went with its end, from the record.
                return
            self._wait([self._step_start(step.key, _now())])

    def tick(self) -> None:
        """Queue the START events heard since the last write (about every 0.2 s while
        steps run): one transaction for them all rather than one per step. Without a
        store yet, after `OPEN_AFTER_S` the recorder opens one of its own
        (`open_store`) so that a long first step's START is not held until it ends."""
        with self._lock:
            if not self._waiting:
                return
            store = self._run_store
            if store is None and time.monotonic() - self._waiting_since >= OPEN_AFTER_S:
                store = self._open_own()
            if store is not None:
                self._queue(store, [])

    def step_waiting(self, step: Step, message: str) -> None:
        pass

    def step_finished(self, result: StepResult) -> None:
        pass

    def run_finished(self, result: RunResult) -> None:
        with self._lock:
            try:
                if not self._ended and self._run_id == result.run_id:
                    store = self._run_store or self._open_own()
                    if store is None:
                        return  # no store to keep the events in: nothing is emitted
                    at = result.finished_at or _now()
                    self._queue(store, [self._run_end(result.status, at)])
            finally:
                self.run_ended()

    def run_ended(self) -> None:
        """Send what the run queued (within the sender's time budget), say what could not
        be sent (`report`), and close what the run opened: when a run ends
        (`run_finished`), or a check run (which has no plan, and no `run_finished`)."""
        with self._lock:
            try:
                sender, self._sender = self._sender, None
                if sender is not None:
                    self._report(sender.finish())
            finally:
                self._run_store = None
                self._run_id = ""
                opened, self._opened = self._opened, None
                if opened is not None:
                    opened.close()

    # -- recording ---------------------------------------------------------------------

    def recorded(self, batch: Recorded, store: MetadataStore) -> None:
        """Queue the events that this batch causes, inside its transaction: the run's START
        (the batch starts it), the terminal events of the steps it ends, the run's terminal
        event (the batch ends it)."""
        with self._lock:
            payloads: list[str] = []
            if batch.started is not None:
                run = batch.started
                self._run_store = store
                payloads.append(self._begin(run.run_id, run.started_at, run.trigger))
            elif self._run_store is None:
                self._run_store = store
            payloads.extend(self._waiting)
            self._waiting.clear()
            by_key: dict[AssetPartition, list[MaterializationRecord]] = {}
            for record in batch.materializations:
                by_key.setdefault((record.asset, record.partition), []).append(record)
            for event in batch.events:
                if event.asset is None or event.kind not in _TERMINAL_KINDS:
                    continue
                key = (event.asset, event.partition)
                if key not in self._step_ids:
                    # Its START comes with its end: it never started (skipped), or it began
                    # and ended within one group of records, before it was told started.
                    payloads.append(self._step_start(key, event.started_at or event.at))
                payloads.append(self._step_end(event, by_key.get(key, [])))
            if self._job != self.project:  # a check run: its checks go with its end
                for check in batch.checks:
                    self._checks.setdefault((check.asset, check.partition), []).append(check)
            if batch.ended is not None and self._run_id == batch.run_id:
                payloads.append(self._run_end(batch.ended.status, batch.ended.at))
            if payloads:
                self._write(store, payloads)

    # -- helpers -----------------------------------------------------------------------

    def _begin(self, run_id: str, at: datetime, trigger: str | None) -> str:
        """Start hearing run `run_id`: its START event."""
        self._run_id, self._started_at, self._ended = run_id, at, False
        self._ol_run_id = run_uuid(run_id, at)
        self._job = run_job(self.project, trigger)
        self._code_versions, self._inputs = {}, {}
        self._step_ids.clear()
        self._checks.clear()
        self._waiting.clear()
        self.report = None
        return run_event(
            RunState.START,
            at,
            namespace=self.namespace,
            job=self._job,
            run_id=self._ol_run_id,
            assetflow_run_id=run_id,
        )

    def _run_end(self, status: RunStatus, at: datetime) -> str:
        self._ended = True
        return run_event(
            _RUN_STATES.get(status, RunState.ABORT),
            at,
            namespace=self.namespace,
            job=self._job,
            run_id=self._ol_run_id,
            assetflow_run_id=self._run_id,
            checked=[
                checked_dataset(self.namespace, key, checks)
                for key, checks in sorted(self._checks.items(), key=lambda item: str(item[0]))
            ],
        )

    def _step_start(self, key: AssetPartition, at: datetime) -> str:
        step_id = self._step_ids[key] = run_uuid(self._run_id, self._started_at or at, key)
        return run_event(
            RunState.START,
            at,
            namespace=self.namespace,
            job=f"{self.project}.{key[0]}",
            run_id=step_id,
            assetflow_run_id=self._run_id,
            parent=(self._job, self._ol_run_id),
            inputs=self._inputs.get(key, ()),
            facet=AssetflowRunFacet(
                runId=self._run_id, codeVersion=self._code_versions.get(key[0]), producer=PRODUCER
            ),
        )

    def _step_end(self, event: EventRecord, records: Sequence[MaterializationRecord]) -> str:
        key = (event.asset or "", event.partition)
        outputs: list[OutputDataset] = []
        error = None
        if event.kind is EventKind.MATERIALIZED:
            state = RunState.COMPLETE
            outputs = [output_dataset(self.namespace, r, self.state_dir) for r in records]
        elif event.kind is EventKind.FAILED:
            state, error = RunState.FAIL, event.message or "the step failed"
        elif event.kind is EventKind.SKIPPED and not _is_blocked(event.message):
            state = RunState.COMPLETE  # its inputs did not change: nothing new to write
        else:
            state = RunState.ABORT
        return run_event(
            state,
            event.at,
            namespace=self.namespace,
            job=f"{self.project}.{key[0]}",
            run_id=self._step_ids[key],
            assetflow_run_id=self._run_id,
            parent=(self._job, self._ol_run_id),
            inputs=self._inputs.get(key, ()),
            outputs=outputs,
            facet=step_facet(
                self._run_id,
                records,
                code_version=self._code_versions.get(key[0]),
                attempts=event.attempt,
            ),
            error=error,
        )

    def _wait(self, payloads: list[str]) -> None:
        """Keep events for the next write."""
        if not self._waiting:
            self._waiting_since = time.monotonic()
        self._waiting.extend(payloads)

    def _open_own(self) -> MetadataStore | None:
        """A store of the recorder's own for this run (see `tick`), or None without
        `open_store`."""
        if self._opened is None:
            if self.open_store is None:
                return None
            self._opened = ExitStack()
            try:
                self._own = self._opened.enter_context(self.open_store())
            except BaseException:
                self._opened = None
                raise
        return self._own

    def _queue(self, store: MetadataStore, payloads: list[str]) -> None:
        """Queue what waits and `payloads` now, in a transaction of their own."""
        if not self._waiting and not payloads:
            return
        with store.unit_of_work():
            self._write(store, [*self._waiting, *payloads])
            self._waiting.clear()

    def _write(self, store: MetadataStore, payloads: list[str]) -> None:
        """Queue in `store` (joining its open unit of work); wake the sender on commit."""
        lineage_outbox(store).queue(self._run_id, payloads, _now())
        sender = self._sender_for(store)
        with store.unit_of_work() as unit:
            unit.after_commit(sender.wake)

    def _sender_for(self, store: MetadataStore) -> SenderThread:
        if self._sender is None:
            self._sender = SenderThread(store, self.settings)
        return self._sender

    def _report(self, report: SendReport) -> None:
        self.report = report
        if report.pending and self.warn:
            when = (
                f"retried from {report.retry_at:%H:%M:%S} UTC by the next run or "
                "`assetflow openlineage send`"
                if report.retry_at is not None
                else "sent by the next run or `assetflow openlineage send`"
            )
            reason = f": {report.error}" if report.error else ""
            logger.warning(
                "OpenLineage: %d events were not sent to %s%s; they stay in the store's "
                "outbox and are %s.",
                report.pending,
                self.settings.target,
                reason,
                when,
            )


def crash_events(
    settings: LineageSettings, project: str, run: RunRecord, events: Sequence[EventRecord]
) -> list[str]:
    """The events that end a run the crash sweep marked crashed (`events`: the run's own,
    then one per step it interrupted): ABORT for each interrupted step, then for the
    run, under the OpenLineage run ids the run's START events used."""
    job = run_job(project, run.trigger)
    ol_run_id = run_uuid(run.run_id, run.started_at)
    payloads: list[str] = []
    reason = "the run's process is gone"
    for event in events:
        if event.asset is None:
            reason = event.message or reason
            continue
        key = (event.asset, event.partition)
        payloads.append(
            run_event(
                RunState.ABORT,
                event.at,
                namespace=settings.namespace,
                job=f"{project}.{event.asset}",
                run_id=run_uuid(run.run_id, run.started_at, key),
                assetflow_run_id=run.run_id,
                parent=(job, ol_run_id),
                error=event.message,
            )
        )
    payloads.append(
        run_event(
            RunState.ABORT,
            run.finished_at or _now(),
            namespace=settings.namespace,
            job=job,
            run_id=ol_run_id,
            assetflow_run_id=run.run_id,
            error=reason,
        )
    )
    return payloads


def _is_blocked(message: str) -> bool:
    """Whether a skipped step was held back (upstream failed, --fail-fast) rather than
    cut off because its inputs did not change."""
    return message.startswith(("upstream ", "not started"))
