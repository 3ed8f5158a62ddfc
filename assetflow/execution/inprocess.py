"""The in-process executor: one step at a time, on the coordinator's own thread.

What `breakpoint()` and pdb need, and what the Python API uses unless asked
for workers. A step's timeout and Ctrl-C still stop it (see interrupts.py)
when the run is on the main thread.

Outputs are renamed into place unsynced (``assetflow.io.atomic.deferring_syncs``):
the coordinator syncs them, several steps' at once, before the commit that
records them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assetflow.execution.attempt import Attempts, Retrying, Work, run_attempts, this_worker
from assetflow.execution.executor import Event, cancelled_error, idle
from assetflow.execution.interrupts import StepCancelled
from assetflow.execution.step import io_settings

if TYPE_CHECKING:
    from assetflow.keys import AssetPartition
    from assetflow.project import Project


class InProcess:
    """Runs one step at a time on the coordinator's own thread."""

    runs_on_coordinator_thread = True
    keeps_values = True
    isolates_steps = False  # a step that kills its process kills the run

    def __init__(self, project: Project, retrying: Retrying) -> None:
        self._project = project
        self._retrying = retrying
        self._pending: Work | None = None

    @property
    def capacity(self) -> int:
        return 1

    @property
    def busy(self) -> int:
        return 1 if self._pending is not None else 0

    def submit(self, work: Work) -> None:
        self._pending = work

    def wait(self, timeout: float | None) -> list[Event]:
        work, self._pending = self._pending, None
        if work is None:
            idle(timeout)
            return []
        try:
            attempts = run_attempts(
                work,
                self._project.state_dir,
                self._retrying,
                settings=io_settings(self._project),
                defer_syncs=True,
            )
        except StepCancelled as cancelled:
            attempts = Attempts(
                cancelled_error(work),
                logs=cancelled.logs,
                started_at=cancelled.started_at,
                worker=this_worker(),
            )
            return [Event("cancelled", work, attempts)]
        return [Event("done", work, attempts)]

    def cancel(self, grace: float) -> list[Event]:
        return []  # a step runs only inside wait(), on this thread: none is running now

    def forget(self, keys: list[AssetPartition]) -> None:
        pass  # values in memory here are the coordinator's own (state.values)

    def kill(self) -> None:
        pass

    def close(self) -> None:
        pass
