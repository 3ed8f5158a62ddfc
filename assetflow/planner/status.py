"""Asset states for `status`: fresh, stale, waiting, missing, damaged or failed, read off
a plan."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from assetflow.planner.staleness import Reason, ReasonKind, Snapshot, Status
from assetflow.store.records import NOT_STARTED_ATTEMPT, EventKind

if TYPE_CHECKING:
    from assetflow.freshness import Overdue
    from assetflow.planner.plan import Plan
    from assetflow.store.records import CheckRecord, EventRecord, MaterializationState


class AssetState(StrEnum):
    """What `status` says of one asset-partition."""

    FRESH = "fresh"
    STALE = "stale"
    WAITING = "waiting"
    MISSING = "missing"  # never materialized, or its stored output is gone
    FAILED = "failed"  # its last attempt failed
    DAMAGED = "damaged"  # its stored output is not the one recorded


class Outcome(StrEnum):
    """How the last attempt at one asset-partition ended, whatever its state now."""

    MATERIALIZED = "materialized"
    CHECK_FAILED = "check failed"  # written, but a blocking check of it failed
    FAILED = "failed"
    SKIPPED = "skipped"  # an upstream failed or its check failed (the message names it)
    CANCELLED = "cancelled"  # stopped while running, or never started by a cancelled run
    RUNNING = "running"  # started (or retrying) in a run that has not finished it
    NEVER_ATTEMPTED = "never attempted"


@dataclass(frozen=True, slots=True)
class Attempt:
    """The last attempt at one asset-partition: how it ended, in which run, when, and why."""

    outcome: Outcome
    run_id: str | None = None
    at: datetime | None = None
    #: the whole message: the error, or why it was skipped or not started
    message: str = ""

    @property
    def summary(self) -> str:
        """The message's first line."""
        text = self.message.strip()
        return text.splitlines()[0] if text else ""


_OUTCOME_BY_KIND = {
    EventKind.MATERIALIZED: Outcome.MATERIALIZED,
    EventKind.FAILED: Outcome.FAILED,
    EventKind.SKIPPED: Outcome.SKIPPED,
    EventKind.CANCELLED: Outcome.CANCELLED,
    EventKind.STARTED: Outcome.RUNNING,
    EventKind.RETRIED: Outcome.RUNNING,
}


def attempt_of(
    event: EventRecord | None,
    last: MaterializationState | None = None,
    checks: Sequence[CheckRecord] = (),
) -> Attempt:
    """The attempt an asset-partition's newest step event tells of.

    Args:
        event: Its newest attempt event (`MetadataStore.latest_attempts`), or None.
        last: Its newest materialization: stands for the attempt when no event does.
        checks: Its newest check results: a blocking failure of the materializing
            run makes the attempt a ``check failed``.
    """
    if event is None:
        if last is None:
            return Attempt(Outcome.NEVER_ATTEMPTED)
        event_run, at, message, outcome = last.run_id, last.finished_at, "", Outcome.MATERIALIZED
    else:
        event_run, at, message = event.run_id, event.at, event.message
        outcome = _OUTCOME_BY_KIND[event.kind]
        if event.kind is EventKind.CANCELLED and event.attempt == NOT_STARTED_ATTEMPT:
            message = message or "not started: the run was cancelled"
    if outcome is Outcome.MATERIALIZED:
        failed = [
            result.check
            for result in checks
            if result.run_id == event_run and result.is_blocking_failure
        ]
        if failed:
            names = ", ".join(f"'{name}'" for name in failed)
            outcome, message = Outcome.CHECK_FAILED, f"blocking check {names} failed"
    return Attempt(outcome, event_run, at, message)


@dataclass(frozen=True, slots=True)
class AssetStatus:
    """One asset-partition's state, its newest materialization and the reasons it is not fresh."""

    asset: str
    partition: str | None
    state: AssetState
    last: MaterializationState | None
    reasons: tuple[Reason, ...] = ()
    #: the newest result of each of its checks (CheckRecords), when the store has them
    checks: tuple[Any, ...] = ()
    #: how its last attempt ended (None: not looked up)
    attempt: Attempt | None = None
    #: the freshness or deadline rules it is late by (empty: none, or not looked up)
    overdue: tuple[Overdue, ...] = ()


def asset_states(plan: Plan, snapshot: Snapshot) -> list[AssetStatus]:
    """The state of every asset-partition the plan judged, in plan order (fresh ones last)."""
    states = []
    for step in plan.steps:
        kinds = {reason.kind for reason in step.reasons}
        if ReasonKind.LAST_RUN_FAILED in kinds or ReasonKind.CHECK_FAILED in kinds:
            state = AssetState.FAILED
        elif ReasonKind.NEVER_MATERIALIZED in kinds or ReasonKind.OUTPUT_MISSING in kinds:
            state = AssetState.MISSING
        elif ReasonKind.OUTPUT_DAMAGED in kinds:
            state = AssetState.DAMAGED
        elif step.status is Status.WAITING:
            state = AssetState.WAITING
        else:
            state = AssetState.STALE
        last = snapshot.latest.get(step.key)
        states.append(AssetStatus(step.asset, step.partition, state, last, step.reasons))
    for verdict in plan.fresh:
        last = snapshot.latest.get((verdict.asset, verdict.partition))
        states.append(AssetStatus(verdict.asset, verdict.partition, AssetState.FRESH, last))
    return states
