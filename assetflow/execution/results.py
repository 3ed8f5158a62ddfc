"""How steps and runs end: the states and results the coordinator hands back."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from assetflow.store.records import RunStatus

if TYPE_CHECKING:
    from assetflow.keys import AssetPartition
    from assetflow.planner.plan import Plan


class StepState(StrEnum):
    """How one step of a run ended."""

    MATERIALIZED = "materialized"
    SKIPPED = "skipped"  # early cutoff: its inputs did not change
    BLOCKED = "blocked"  # skipped because an upstream step failed
    FAILED = "failed"
    CHECK_FAILED = "check failed"  # written, but a blocking check failed: downstream waits
    CANCELLED = "cancelled"  # stopped by Ctrl-C or SIGTERM; nothing of it was written


FAILED_STATES = frozenset({StepState.FAILED, StepState.CHECK_FAILED})
NOT_STARTED = "not started: --fail-fast stopped the run after a failure"
#: The message of a step a cancelled run never started (its result has 0 attempts).
NOT_STARTED_CANCELLED = "not started: the run was cancelled"
BLOCKING_STATES = frozenset({StepState.FAILED, StepState.BLOCKED, StepState.CHECK_FAILED})


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
    #: the process (host, pid) its attempts ran in; None when it ran in none
    worker: tuple[str, int] | None = None

    @property
    def key(self) -> AssetPartition:
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

    def not_started(self) -> list[StepResult]:
        """The steps a cancelled run never started (cancelled, with no attempt)."""
        return [r for r in self.results if r.state is StepState.CANCELLED and r.attempts == 0]

    def failures(self) -> list[StepResult]:
        """Steps that failed, or whose blocking checks failed."""
        return [r for r in self.results if r.state in FAILED_STATES]


class RunCancelled(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped a run; raised after the run was recorded as cancelled."""

    def __init__(self, result: RunResult, signum: int) -> None:
        super().__init__(f"run {result.run_id} was cancelled")
        self.result = result
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """128 plus the signal's number, as shells report it (130 for Ctrl-C)."""
        return 128 + self.signum
