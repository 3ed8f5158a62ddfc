"""History: what ran and what it wrote, as data objects the CLI and the UI render."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
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
    from assetflow.freshness import Overdue
    from assetflow.planner.status import AssetStatus
    from assetflow.project import Project
    from assetflow.request import RunRequest
    from assetflow.run_detail import RunDetail
    from assetflow.store.base import MetadataStore
    from assetflow.store.records import (
        CheckRecord,
        EventRecord,
        LogRecord,
        MaterializationRecord,
        RunRecord,
        RunStatus,
    )

#: A moment `runs` takes for since and until: text (`2026-03-03`), a date or a datetime.
Moment = str | date | datetime


@dataclass(frozen=True, slots=True)
class RunList:
    """Recent runs, newest first, with each run's step counts by event kind."""

    runs: tuple[RunRecord, ...]
    counts: Mapping[str, Mapping[str, int]]
    #: the full id to pass as ``before`` for the next page, when there are more runs
    next_before: str | None = None


@dataclass(frozen=True, slots=True)
class StepLogs:
    """What the steps of one run wrote, attempt by attempt."""

    run: RunRecord
    logs: tuple[LogRecord, ...]


@dataclass(frozen=True, slots=True)
class AttemptRow:
    """One attempt at one of an asset's steps, for `history --all`: how it ended, and
    what it wrote when it materialized."""

    event: EventRecord
    #: the materialization the attempt wrote (MATERIALIZED attempts), when recorded
    materialization: MaterializationRecord | None = None

    @property
    def summary(self) -> str:
        """The message's first line (the error, or why it was skipped)."""
        text = self.event.message.strip()
        return text.splitlines()[0] if text else ""

    @property
    def is_not_started(self) -> bool:
        """Whether this is a step a cancelled run never began (no attempt was made)."""
        from assetflow.store.records import NOT_STARTED_ATTEMPT, EventKind

        return self.event.kind is EventKind.CANCELLED and self.event.attempt == NOT_STARTED_ATTEMPT


@dataclass(frozen=True, slots=True)
class AssetHistory:
    """One asset's materializations, newest first, with the results of its checks."""

    asset: str
    materializations: tuple[MaterializationRecord, ...]
    checks: tuple[CheckRecord, ...] = ()
    #: every attempt, newest first, when asked for (`history --all`); None otherwise
    attempts: tuple[AttemptRow, ...] | None = None


def _positive(limit: int, option: str = "--limit") -> None:
    from assetflow.errors import UsageError

    if limit < 1:
        raise UsageError(
            f"{option} {limit}: it must be 1 or more.",
            hint=f"{option} is how many records to show, newest first (default 20).",
        )


def _names(values: str | Iterable[str] | None) -> tuple[str, ...]:
    if values is None:
        return ()
    return (values,) if isinstance(values, str) else tuple(values)


def runs(
    project: Project,
    *,
    limit: int = 20,
    status: RunStatus | str | Iterable[RunStatus | str] | None = None,
    trigger: str | Iterable[str] | None = None,
    asset: str | None = None,
    partition: str | None = None,
    since: Moment | None = None,
    until: Moment | None = None,
    before: str | None = None,
    store: MetadataStore | None = None,
    clock: Clock | None = None,
) -> RunList:
    """The newest runs that match every filter given; crashed runs are marked so first.

    Args:
        limit: At most this many runs (1 or more).
        status: Only runs with this status (or one of these).
        trigger: Only runs started so ("cli", "api", "check", "schedule"), or one of these.
        asset: Only runs that recorded a step or check of this asset.
        partition: Only runs that recorded a step or check of this partition key.
        since: Only runs started at or after this moment (see `services.moments`).
        until: Only runs started at or before this moment (a date: that whole day).
        before: A run id or unique prefix: only runs listed after it (the next page).

    Raises:
        UsageError: The limit is below 1, a moment is not a date or time, or until
            comes before since.
        SelectionError: No asset has that name.
        UnknownRunError: ``before`` names no run (AmbiguousRunIdError: several).
    """
    from assetflow.run_detail import find_run
    from assetflow.services.moments import time_range
    from assetflow.store.records import RunQuery, RunStatus

    _positive(limit)
    if asset is not None:
        check_asset_name(project, asset)
    window = time_range(since, until)
    statuses = tuple(
        RunStatus(value)
        for value in ((status,) if isinstance(status, (str, RunStatus)) else status or ())
    )
    with project_store(project, store, reading=True) as opened:
        sweep_crashed(opened, project, clock)
        cursor = find_run(opened, before).run_id if before is not None else None
        query = RunQuery(
            limit=limit + 1,  # one more than shown says whether another page follows
            statuses=statuses,
            triggers=_names(trigger),
            asset=asset,
            partition=partition,
            since=window.since,
            until=window.until,
            before=cursor,
        )
        records = opened.find_runs(query)
        shown = records[:limit]
        counts = opened.step_counts(run.run_id for run in shown)
    more = len(records) > limit
    return RunList(tuple(shown), counts, shown[-1].run_id if more else None)


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
    from assetflow.run_detail import read_run

    with project_store(project, store, reading=True) as opened:
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
    from assetflow.run_detail import find_run

    with project_store(project, store, reading=True) as opened:
        record = find_run(opened, run_id)
        found = opened.step_logs(record.run_id, asset=asset, partition=partition)
    return StepLogs(record, tuple(found))


def history(
    project: Project,
    asset: str,
    *,
    partition: str | None = None,
    limit: int = 20,
    all: bool = False,
    store: MetadataStore | None = None,
) -> AssetHistory:
    """An asset's newest materializations (of one partition, if given) and check results;
    with ``all``, also every attempt: materialized, failed, skipped, cancelled, retried.

    Raises:
        UsageError: The limit is below 1.
        SelectionError: No asset has that name, or it has no such partition.
    """
    _positive(limit)
    check_asset_name(project, asset)
    if partition is not None:
        check_partition(project, asset, partition)
    attempts = None
    with project_store(project, store, reading=True) as opened:
        records = opened.asset_history(asset, partition=partition, limit=limit)
        checks = (
            opened.check_history(asset, partition=partition) if project.checks.get(asset) else []
        )
        if all:
            events = opened.attempts(asset, partition=partition, limit=limit)
            attempts = _attempt_rows(opened, asset, partition, events, records)
    return AssetHistory(asset, tuple(records), tuple(checks), attempts)


def _attempt_rows(
    store: MetadataStore,
    asset: str,
    partition: str | None,
    events: list[EventRecord],
    records: list[MaterializationRecord],
) -> tuple[AttemptRow, ...]:
    """Each attempt with the materialization it wrote (found by run and partition)."""
    from assetflow.store.records import EventKind

    written = {(m.run_id, m.partition): m for m in records}
    wanted = {(e.run_id, e.partition) for e in events if e.kind is EventKind.MATERIALIZED}
    if wanted - written.keys():
        # Attempts older than the newest `limit` materializations: read as far back.
        older = store.asset_history(asset, partition=partition, limit=len(events) * 4 + 100)
        written.update(
            {(m.run_id, m.partition): m for m in older if (m.run_id, m.partition) not in written}
        )
    return tuple(
        AttemptRow(
            event,
            written.get((event.run_id, event.partition))
            if event.kind is EventKind.MATERIALIZED
            else None,
        )
        for event in events
    )


def status(
    project: Project,
    request: RunRequest,
    *,
    store: MetadataStore | None = None,
    clock: Clock | None = None,
) -> list[AssetStatus]:
    """The state of every selected asset-partition: fresh, stale, waiting, missing or
    failed, why, the newest result of each of its checks, and how its last attempt
    ended (materialized, failed, skipped because of which upstream, cancelled, never
    attempted) in which run."""
    from assetflow.planner.status import AssetState, asset_states, attempt_of

    with project_store(project, store, reading=True) as opened:
        sweep_crashed(opened, project, clock)
        context = make_plan(project, opened, request, clock=clock, check_inputs=False)
        states = asset_states(context.plan, context.snapshot)
        names = {state.asset for state in states if project.checks.get(state.asset)}
        results = opened.latest_check_results(names) if names else {}
        # Only what is not fresh needs its events read: a fresh one's last attempt
        # is the materialization it holds, and a year of fresh partitions stays cheap.
        unsettled = [(s.asset, s.partition) for s in states if s.state is not AssetState.FRESH]
        events = opened.latest_attempts(unsettled) if unsettled else {}
        late = _overdue_of(project, opened, states, clock)
    found = []
    for state in states:
        key = (state.asset, state.partition)
        checks = tuple(results.get(key, ()))
        event = None if state.state is AssetState.FRESH else events.get(key)
        attempt = attempt_of(event, state.last, checks)
        found.append(
            replace(state, checks=checks, attempt=attempt, overdue=tuple(late.get(key, ())))
        )
    return found


def _overdue_of(
    project: Project, store: MetadataStore, states: list[AssetStatus], clock: Clock | None
) -> dict[tuple[str, str | None], list[Overdue]]:
    """The freshness and deadline rules each row is late by: a rule about one partition
    goes to that partition's row, others (and those whose row is not shown) to the
    asset's first row. Reads nothing when no selected asset has a policy."""
    from assetflow.clock import SystemClock
    from assetflow.services.freshness import overdue, policies

    names = {state.asset for state in states}
    if not policies(project, names):
        return {}
    now = (clock or SystemClock()).now()
    first: dict[str, tuple[str, str | None]] = {}
    shown = set()
    for state in states:
        first.setdefault(state.asset, (state.asset, state.partition))
        shown.add((state.asset, state.partition))
    late: dict[tuple[str, str | None], list[Overdue]] = {}
    for found in overdue(project, store, now, names):
        key = (found.asset, found.partition or None)
        late.setdefault(key if key in shown else first[found.asset], []).append(found)
    return late


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
    with project_store(project, store, reading=True) as opened:
        request = RunRequest(f"+{asset}", partitions=partitions)
        context = make_plan(project, opened, request, clock=clock, check_inputs=False)
        diffs = code_diffs(opened, context)
    return Explanation(asset, partition, context, diffs)
