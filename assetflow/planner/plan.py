"""Plan and Step records, and plan_run(): the scheduler's order over the rebuilder's verdicts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from assetflow.errors import MissingInputError
from assetflow.planner.ordering import order_assets
from assetflow.planner.staleness import Key, Reason, Snapshot, Status, Verdict, judge

if TYPE_CHECKING:
    from assetflow.graph import AssetGraph


@dataclass(frozen=True, slots=True)
class Step:
    """One asset-partition a run will (stale) or may (waiting) materialize."""

    asset: str
    partition: str | None
    status: Status
    reasons: tuple[Reason, ...]
    #: the upstream asset-partitions it reads
    inputs: tuple[Key, ...] = ()

    @property
    def key(self) -> Key:
        return (self.asset, self.partition)


@dataclass(frozen=True, slots=True)
class Plan:
    """What a run will do: its steps in dependency order, and what it leaves fresh."""

    selection: str
    created_at: datetime
    steps: tuple[Step, ...]
    fresh: tuple[Verdict, ...] = ()
    code_versions: Mapping[str, str] = field(default_factory=dict)
    #: things the user should know that do not stop the plan (a source that failed to observe)
    warnings: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.steps

    def count(self, status: Status) -> int:
        """How many selected asset-partitions have this status."""
        if status is Status.FRESH:
            return len(self.fresh)
        return sum(1 for step in self.steps if step.status is status)


def plan_run(
    graph: AssetGraph,
    selected: Iterable[str],
    snapshot: Snapshot,
    code_versions: Mapping[str, str],
    *,
    now: datetime,
    selection: str = "*",
    force: bool = False,
    code_details: Mapping[str, tuple[str, ...]] | None = None,
    check_inputs: bool = True,
    warnings: tuple[str, ...] = (),
) -> Plan:
    """Plan a run of the selected assets: rebuild exactly the stale part.

    Pure: everything it knows comes in as arguments.

    Args:
        graph: The project's graph.
        selected: The selected asset names.
        snapshot: The newest materializations and failures from the store.
        code_versions: The current code version of every selected asset.
        now: The one "now" of this plan.
        selection: The selection text, for the record.
        force: Rebuild every selected asset regardless.
        code_details: Which named code parts changed per asset, when known.
        check_inputs: Fail when a step reads an unselected, never materialized
            input (a run needs it; a status report does not).
        warnings: Passed through to the plan, for whoever prints it.

    Returns:
        The plan.

    Raises:
        MissingInputError: A step reads an unselected input that was never materialized.
    """
    code_details = code_details or {}
    chosen = set(selected)
    pending: dict[Key, Status] = {}
    steps: list[Step] = []
    fresh: list[Verdict] = []
    for name in order_assets(graph, chosen):
        if graph.spec(name).is_source:
            continue  # observed, never materialized
        key: Key = (name, None)
        inputs = tuple((parent, None) for parent in graph.parents(name))
        verdict = judge(
            key,
            code_version=code_versions[name],
            inputs=inputs,
            snapshot=snapshot,
            pending=pending,
            forced=force,
            code_details=code_details.get(name, ()),
        )
        if verdict.status is Status.FRESH:
            fresh.append(verdict)
            continue
        pending[key] = verdict.status
        steps.append(Step(name, None, verdict.status, verdict.reasons, inputs))
    if check_inputs:
        _check_inputs(steps, chosen, snapshot)
    return Plan(
        selection=selection,
        created_at=now,
        steps=tuple(steps),
        fresh=tuple(fresh),
        code_versions=dict(code_versions),
        warnings=warnings,
    )


def _check_inputs(steps: list[Step], chosen: set[str], snapshot: Snapshot) -> None:
    missing = sorted(
        (step.asset, upstream)
        for step in steps
        for upstream, partition in step.inputs
        if upstream not in chosen
        and (upstream, partition) not in snapshot.latest
        and (upstream, partition) not in snapshot.observed
        and (upstream, partition) not in snapshot.unavailable
    )
    if not missing:
        return
    lines = [
        f"  - '{asset}' reads '{upstream}', which is not selected and was never materialized"
        for asset, upstream in missing
    ]
    first_asset, first_upstream = missing[0]
    raise MissingInputError(
        "cannot run the selection: an input is missing.\n" + "\n".join(lines),
        hint=(
            "An unselected input is read from storage, so it must have been materialized "
            f"before. To fix this, add '+' to select the inputs too (e.g. "
            f"`assetflow materialize '+{first_asset}'`), or materialize "
            f"'{first_upstream}' first."
        ),
    )
