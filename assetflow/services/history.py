"""History: what ran and what it wrote, as data objects the CLI and the UI render."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from assetflow.services.planning import (
    PlanContext,
    check_asset_name,
    check_partition,
    code_diffs,
    make_plan,
)
from assetflow.services.stores import project_store, sweep_crashed

if TYPE_CHECKING:
    from assetflow.clock import Clock
    from assetflow.planner.status import AssetStatus
    from assetflow.project import Project
    from assetflow.request import RunRequest
    from assetflow.runs import RunDetail
    from assetflow.store.base import MetadataStore
    from assetflow.store.records import (
        CheckRecord,
        LogRecord,
        MaterializationRecord,
        RunRecord,
        RunStatus,
    )


@dataclass(frozen=True, slots=True)
class RunList:
    """Recent runs, newest first, with each run's step counts by event kind."""

    runs: tuple[RunRecord, ...]
    counts: Mapping[str, Mapping[str, int]]


@dataclass(frozen=True, slots=True)
class StepLogs:
    """What the steps of one run wrote, attempt by attempt."""

    run: RunRecord
    logs: tuple[LogRecord, ...]


@dataclass(frozen=True, slots=True)
class AssetHistory:
    """One asset's materializations, newest first, with the results of its checks."""

    asset: str
    materializations: tuple[MaterializationRecord, ...]
    checks: tuple[CheckRecord, ...] = ()


def runs(
    project: Project,
    *,
    limit: int = 20,
    status: RunStatus | None = None,
    store: MetadataStore | None = None,
    clock: Clock | None = None,
) -> RunList:
    """The newest runs (of one status, if given); crashed runs are marked so first."""
    with project_store(project, store) as opened:
        sweep_crashed(opened, project, clock)
        records = opened.list_runs(limit=limit, status=status)
        counts = opened.step_counts(run.run_id for run in records)
    return RunList(tuple(records), counts)


def run(
    project: Project,
    run_id: str,
    *,
    store: MetadataStore | None = None,
    clock: Clock | None = None,
) -> RunDetail:
    """One run (by id or unique prefix), step by step.

    Raises:
        UnknownRunError: No run id starts with `run_id`.
        AmbiguousRunIdError: Several do.
    """
    from assetflow.runs import read_run

    with project_store(project, store) as opened:
        sweep_crashed(opened, project, clock)
        return read_run(opened, run_id)


def logs(
    project: Project,
    run_id: str,
    *,
    asset: str | None = None,
    partition: str | None = None,
    store: MetadataStore | None = None,
) -> StepLogs:
    """What the steps of a run (by id or unique prefix) wrote, optionally of one step.

    Raises:
        UnknownRunError: No run id starts with `run_id`.
        AmbiguousRunIdError: Several do.
    """
    from assetflow.runs import find_run

    with project_store(project, store) as opened:
        record = find_run(opened, run_id)
        found = opened.step_logs(record.run_id, asset=asset, partition=partition)
    return StepLogs(record, tuple(found))


def history(
    project: Project,
    asset: str,
    *,
    partition: str | None = None,
    limit: int = 20,
    store: MetadataStore | None = None,
) -> AssetHistory:
    """An asset's newest materializations (of one partition, if given) and check results.

    Raises:
        SelectionError: No asset has that name, or it has no such partition.
    """
    check_asset_name(project, asset)
    if partition is not None:
        check_partition(project, asset, partition)
    with project_store(project, store) as opened:
        records = opened.asset_history(asset, partition=partition, limit=limit)
        checks = (
            opened.check_history(asset, partition=partition) if project.checks.get(asset) else []
        )
    return AssetHistory(asset, tuple(records), tuple(checks))


def status(
    project: Project,
    request: RunRequest,
    *,
    store: MetadataStore | None = None,
    clock: Clock | None = None,
) -> list[AssetStatus]:
    """The state of every selected asset-partition: fresh, stale, waiting, missing or
    failed, why, and the newest result of each of its checks."""
    from assetflow.planner.status import asset_states

    with project_store(project, store) as opened:
        sweep_crashed(opened, project, clock)
        context = make_plan(project, opened, request, clock=clock, check_inputs=False)
        states = asset_states(context.plan, context.snapshot)
        names = {state.asset for state in states if project.checks.get(state.asset)}
        results = opened.latest_check_results(names) if names else {}
    return [
        replace(state, checks=tuple(results.get((state.asset, state.partition), ())))
        for state in states
    ]


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why an asset (one partition of it) is in its state: the plan of it and all its
    upstream, and the code diffs of the assets whose code changed."""

    asset: str
    partition: str | None
    context: PlanContext
    #: diff text by (asset, the code version it was last built with)
    code_diffs: Mapping[tuple[str, str], str]


def why(
    project: Project,
    asset: str,
    *,
    partition: str | None = None,
    store: MetadataStore | None = None,
    clock: Clock | None = None,
) -> Explanation:
    """Why an asset (one partition of it) is fresh, stale or waiting: what `why_text`
    in views traces back to the root causes.

    Raises:
        SelectionError: No asset has that name, or it has no such partition.
    """
    from assetflow.request import PartitionRequest, RunRequest

    check_asset_name(project, asset)
    partitions = None
    if partition is not None:
        check_partition(project, asset, partition)
        partitions = PartitionRequest.one(partition)
    with project_store(project, store) as opened:
        request = RunRequest(f"+{asset}", partitions=partitions)
        context = make_plan(project, opened, request, clock=clock, check_inputs=False)
        diffs = code_diffs(opened, context)
    return Explanation(asset, partition, context, diffs)
