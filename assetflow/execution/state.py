"""What a run knows as it goes, and the decisions made from it before a step starts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assetflow.execution.results import BLOCKING_STATES, StepState
from assetflow.keys import AssetPartition, key_text
from assetflow.planner.staleness import Snapshot, Status
from assetflow.store.records import EventKind, MaterializationState

if TYPE_CHECKING:
    from assetflow.planner.plan import Step


@dataclass
class RunState:
    """What the coordinator tracks while a run goes on."""

    snapshot: Snapshot
    #: values that are not (or not yet) read back from storage: sources, in-process outputs
    values: dict[AssetPartition, Any] = field(default_factory=dict)
    versions: dict[AssetPartition, str | None] = field(default_factory=dict)
    states: dict[AssetPartition, StepState] = field(default_factory=dict)
    readers: Counter[AssetPartition] = field(default_factory=Counter)
    #: what this run stored (or found stored by another run), where steps read it from
    produced: dict[AssetPartition, MaterializationState] = field(default_factory=dict)

    def data_version(self, key: AssetPartition) -> str | None:
        if key in self.versions:
            return self.versions[key]
        return self.snapshot.current_version(key)


def decide(step: Step, state: RunState) -> tuple[StepState, EventKind, str] | None:
    """Why a ready step does not run (blocked, cut off, source unavailable), or None."""
    checked = [
        key_text(key) for key in step.inputs if state.states.get(key) is StepState.CHECK_FAILED
    ]
    if checked:
        message = f"upstream check failed: {few(checked)}"
        return StepState.BLOCKED, EventKind.SKIPPED, message
    blocked_by = [key_text(key) for key in step.inputs if state.states.get(key) in BLOCKING_STATES]
    if blocked_by:
        return StepState.BLOCKED, EventKind.SKIPPED, f"upstream failed: {few(blocked_by)}"
    if step.status is Status.WAITING and not inputs_changed(step, state):
        return StepState.SKIPPED, EventKind.SKIPPED, "inputs unchanged"
    unavailable = [
        state.snapshot.unavailable[key] for key in step.inputs if key in state.snapshot.unavailable
    ]
    if unavailable:
        return StepState.FAILED, EventKind.FAILED, "\n".join(unavailable)
    return None


#: How many upstream names a "blocked" message lists before it says "and N more".
NAMES_SHOWN = 5


def check_summary(outcomes: tuple[Any, ...]) -> str:
    """`3 checks passed`, or which checks failed or warned."""
    if not outcomes:
        return ""
    failed = [o.check for o in outcomes if not o.result.passed]
    if not failed:
        return f"{len(outcomes)} {'check' if len(outcomes) == 1 else 'checks'} passed"
    return f"{len(failed)} of {len(outcomes)} checks failed: {few(failed)}"


def few(names: list[str]) -> str:
    if len(names) <= NAMES_SHOWN:
        return ", ".join(names)
    return f"{', '.join(names[:NAMES_SHOWN])} and {len(names) - NAMES_SHOWN} more"


def inputs_changed(step: Step, state: RunState, latest: MaterializationState | None = None) -> bool:
    """Whether any input's data version differs from the one the last materialization
    (or `latest`) read."""
    latest = latest or state.snapshot.latest.get(step.key)
    if latest is None:
        return True
    recorded = latest.input_versions
    if len(recorded) != len(step.inputs):
        return True
    return any(recorded.get(key_text(key)) != state.data_version(key) for key in step.inputs)


def release_inputs(step: Step, state: RunState) -> list[AssetPartition]:
    """Drop in-memory outputs no later step reads, so big frames do not pile up; the keys
    no later step reads (workers may drop them too)."""
    done_with = []
    for key in step.inputs:
        state.readers[key] -= 1
        if state.readers[key] <= 0:
            state.values.pop(key, None)
            done_with.append(key)
    return done_with
