"""Asset states for `status`: fresh, stale, waiting, missing, damaged or failed, read off
a plan."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from assetflow.planner.staleness import Reason, ReasonKind, Snapshot, Status

if TYPE_CHECKING:
    from assetflow.planner.plan import Plan
    from assetflow.store.records import MaterializationState


class AssetState(StrEnum):
    """What `status` says of one asset-partition."""

    FRESH = "fresh"
    STALE = "stale"
    WAITING = "waiting"
    MISSING = "missing"  # never materialized, or its stored output is gone
    FAILED = "failed"  # its last attempt failed
    DAMAGED = "damaged"  # its stored output is not the one recorded


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
