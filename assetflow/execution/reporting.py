"""Reporter protocol: how an executor tells the outside world what it is doing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from assetflow.execution.coordinator import RunResult, StepResult
    from assetflow.planner.plan import Plan, Step


class Reporter(Protocol):
    """Receives progress events; the CLI prints them, the Python API ignores them.

    `step_started` comes when a step begins to run; a step that does not run
    (skipped, blocked, cancelled before it started) gets only `step_finished`.
    A reporter may also have `tick()`: it is then called about every 0.2 s while
    steps run, so that a live display's clock moves (`assetflow.views.progress`).
    """

    def run_started(self, run_id: str, plan: Plan) -> None: ...

    def step_started(self, step: Step) -> None: ...

    def step_waiting(self, step: Step, message: str) -> None:
        """A ready step waits for another run that holds its lease (said once per step)."""
        ...

    def step_finished(self, result: StepResult) -> None: ...

    def run_finished(self, result: RunResult) -> None: ...


class NullReporter:
    """A reporter that says nothing."""

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
