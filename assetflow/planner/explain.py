"""Render a Plan for people (text) and for machines (JSON), walking the steps `run` executes."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from assetflow.planner.staleness import Reason, Status

if TYPE_CHECKING:
    from assetflow.planner.plan import Plan
    from assetflow.planner.status import AssetStatus

#: Bumped when the JSON layouts change incompatibly; documented in docs/planning.md.
PLAN_JSON_VERSION = 1
STATUS_JSON_VERSION = 1


def plan_text(plan: Plan) -> str:
    """The `plan` command's output: steps in order with state and reasons, then what is fresh."""
    fresh = plan.count(Status.FRESH)
    warnings = [f"Warning: {warning}" for warning in plan.warnings]
    if plan.is_empty:
        nothing = f"Nothing to do: {fresh} {'asset' if fresh == 1 else 'assets'} fresh."
        return "\n".join([*warnings, nothing])
    stale, waiting = plan.count(Status.STALE), plan.count(Status.WAITING)
    header = f"Plan for {plan.selection!r}: {stale} stale, {waiting} waiting, {fresh} fresh"
    width = max(len(_label(step.asset, step.partition)) for step in plan.steps)
    lines = [*warnings, header, ""]
    for number, step in enumerate(plan.steps, start=1):
        label = _label(step.asset, step.partition).ljust(width)
        reasons = "; ".join(reason.render() for reason in step.reasons)
        lines.append(f"  {number:>3}. {label}  {step.status.value:<7}  {reasons}")
    if waiting:
        lines += ["", "Waiting steps run only if an upstream rebuild changes its data."]
    if fresh:
        names = ", ".join(_label(v.asset, v.partition) for v in plan.fresh)
        lines += ["", f"Fresh (will not run): {names}"]
    return "\n".join(lines)


def plan_json(plan: Plan) -> str:
    """The plan as a stable JSON document (see docs/planning.md for the layout)."""
    document = {
        "version": PLAN_JSON_VERSION,
        "selection": plan.selection,
        "created_at": plan.created_at.isoformat(),
        "counts": {status.value: plan.count(status) for status in Status},
        "warnings": list(plan.warnings),
        "steps": [
            {
                "asset": step.asset,
                "partition": step.partition,
                "status": step.status.value,
                "reasons": [_reason_json(reason) for reason in step.reasons],
            }
            for step in plan.steps
        ],
        "fresh": [{"asset": v.asset, "partition": v.partition} for v in plan.fresh],
    }
    return json.dumps(document, indent=2)


def _reason_json(reason: Reason) -> dict[str, Any]:
    return {
        "kind": reason.kind.value,
        "upstream": reason.upstream,
        "old": reason.old,
        "new": reason.new,
        "run_id": reason.run_id,
        "details": list(reason.details),
        "text": reason.render(),
    }


def _label(asset: str, partition: str | None) -> str:
    return asset if partition is None else f"{asset}[{partition}]"


def status_json(states: list[AssetStatus]) -> str:
    """`status --json`: a stable document (see docs/planning.md for the layout)."""
    document = {
        "version": STATUS_JSON_VERSION,
        "assets": [
            {
                "asset": state.asset,
                "partition": state.partition,
                "state": state.state.value,
                "last_run_id": state.last.run_id if state.last else None,
                "last_materialized_at": state.last.finished_at.isoformat() if state.last else None,
                "rows": state.last.rows if state.last else None,
                "reasons": [_reason_json(reason) for reason in state.reasons],
            }
            for state in states
        ],
    }
    return json.dumps(document, indent=2)
