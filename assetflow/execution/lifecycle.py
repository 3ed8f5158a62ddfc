"""A run's record from start to end: created when it starts, never left ``running``.

Every kind of run (a materialization, a check run) goes through `recorded_run`:
the run is recorded before anything else happens, and whatever stops it (an
error, Ctrl-C, a bug of ours) finishes its record, as cancelled or failed, so
that `assetflow runs` never shows a run as running after its process moved on.
A process that dies outright leaves the record to the crash sweep.

Given the run's listeners, the run's start and end are written as batches
(`Listeners.record`): a listener with `recorded()` (lineage) writes what the
run's start or end causes in the same transaction.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assetflow.execution.listeners import Listeners, Recorded, RunEnded
from assetflow.store.records import RunRecord, RunStatus

if TYPE_CHECKING:
    from datetime import datetime

    from assetflow.clock import Clock
    from assetflow.planner.plan import Plan
    from assetflow.request import RunRequest
    from assetflow.store.base import MetadataStore


@dataclass
class RecordedRun:
    """A run whose record is open: finish it once, with how it ended."""

    store: MetadataStore
    run_id: str
    clock: Clock
    started_at: datetime
    listeners: Listeners
    finished_at: datetime | None = None

    @property
    def is_finished(self) -> bool:
        return self.finished_at is not None

    def finish(self, status: RunStatus) -> datetime:
        """Record how the run ended (once; later calls change nothing) and when."""
        if self.finished_at is None:
            self.finished_at = at = self.clock.now()
            self.listeners.record(self.store, Recorded(self.run_id, ended=RunEnded(status, at)))
        return self.finished_at


def run_record(
    request: RunRequest,
    run_id: str,
    started_at: datetime,
    *,
    trigger: str | None = None,
    plan: Plan | None = None,
) -> RunRecord:
    """The record a run of `request` starts with (this process, on this host, runs it);
    with a plan, its selection and partitions are the plan's."""
    from assetflow.execution.liveness import HOST

    if plan is not None:
        selection, partitions = plan.selection, plan.partitions
    else:
        selection = request.selection_text
        partitions = request.partitions.render() if request.partitions is not None else None
    return RunRecord(
        run_id=run_id,
        trigger=trigger or request.trigger,
        selection=selection,
        started_at=started_at,
        pid=os.getpid(),
        host=HOST,
        partitions=partitions,
        run_key=request.run_key,
        tags=request.tag_map,
    )


@contextmanager
def recorded_run(
    store: MetadataStore, record: RunRecord, clock: Clock, listeners: Listeners | None = None
) -> Iterator[RecordedRun]:
    """Record the run as started; if the block raises before finishing it, record it as
    cancelled (Ctrl-C, SIGTERM) or failed (anything else), and let the error go on.
    `listeners` hear the start and the end as batches (see the module doc)."""
    listeners = Listeners() if listeners is None else listeners
    listeners.record(store, Recorded(record.run_id, started=record))
    run = RecordedRun(store, record.run_id, clock, record.started_at, listeners)
    try:
        yield run
    except BaseException as error:
        cancelled = isinstance(error, KeyboardInterrupt)
        run.finish(RunStatus.CANCELLED if cancelled else RunStatus.FAILED)
        raise
