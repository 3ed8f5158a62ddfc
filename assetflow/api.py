"""The Python API: everything the CLI does, callable as functions (and how most tests drive it).

A thin facade over `assetflow.services`: each function loads the project, builds
a `RunRequest` from its keyword arguments (or takes one), and calls the same
service the CLI calls, so that the two never disagree. The keyword arguments are
conveniences; `request=` takes a whole `RunRequest` instead, and then no other
run option may be given.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assetflow.request import RunRequest
from assetflow.services.running import CheckRun as CheckRun
from assetflow.services.stores import open_project_store as open_project_store

if TYPE_CHECKING:
    from assetflow.clock import Clock
    from assetflow.execution import RunResult
    from assetflow.execution.listeners import RunListener
    from assetflow.planner import Plan
    from assetflow.planner.status import AssetStatus
    from assetflow.project import Project
    from assetflow.request import PartitionRequest
    from assetflow.run_detail import RunDetail
    from assetflow.services.history import AssetHistory, Explanation, RunList
    from assetflow.services.reading import AssetHead
    from assetflow.store.base import MetadataStore
    from assetflow.store.records import RunStatus


def load(project: Project | str | Path | None = None) -> Project:
    """Load a project (a directory, or the one found from the environment and cwd)."""
    from assetflow.loader import load_project
    from assetflow.project import Project

    if isinstance(project, Project):
        return project
    return load_project(project)


def _request(request: RunRequest | None, selection: str, **options: Any) -> RunRequest:
    """`request`, or one built from the keyword conveniences (only those given).

    Raises:
        UsageError: Both a request and other run options were given.
    """
    from assetflow.errors import UsageError

    given = {name: value for name, value in options.items() if value not in (None, False)}
    if request is None:
        return RunRequest.of(selection, **given)
    given.pop("trigger", None)
    if selection != "*" or given:
        names = ", ".join(sorted({*given, *(["selection"] if selection != "*" else [])}))
        raise UsageError(
            f"give either request= or the run options ({names}), not both.",
            hint="A RunRequest holds every run option: build it with all of them.",
        )
    return request


def materialize(
    selection: str = "*",
    *,
    request: RunRequest | None = None,
    project: Project | str | Path | None = None,
    store: MetadataStore | None = None,
    clock: Clock | None = None,
    reporter: RunListener | None = None,
    listeners: Sequence[RunListener] = (),
    exclude: str | None = None,
    force: bool = False,
    partitions: PartitionRequest | None = None,
    redo: Iterable[str] | None = None,
    trigger: str = "api",
    workers: int | None = None,
    executor: str | None = None,
    max_parallel: int | None = None,
    newest_first: bool = False,
    fail_fast: bool = False,
) -> RunResult:
    """Materialize the stale part of a selection, and record the run.

    Args:
        selection: What to materialize, in the selection grammar (`clean_records+`).
        request: The whole run request, instead of the options below.
        project: The project, or its directory; by default found from the cwd.
        store: The metadata store; by default the project's own.
        clock: The source of "now".
        reporter: Receives progress events (one more listener).
        listeners: Receive progress events.
        exclude: A selection to leave out.
        force: Rebuild every selected asset, stale or not.
        partitions: Which partitions of partitioned assets (default: every complete one).
        redo: Which not-fresh partitions to run: "missing", "failed", "stale", "all".
        trigger: What started the run ("api", "cli", "schedule").
        workers: How many steps may run at once (default 1, or the executor's default
            of the project's `workers` setting when `executor="multiprocess"`).
        executor: "inprocess" runs one step at a time in this process (the default
            here, as tests and notebooks want); "multiprocess" runs steps in worker
            processes (the default when `workers` is above 1, and the CLI's default).
        max_parallel: The older name of `workers`.
        newest_first: Start the newest partitions first.
        fail_fast: After the first failure, start no new step.

    Returns:
        The run's result; `result.success` is False when a step failed.
    """
    from assetflow.services import running

    run_request = _request(
        request,
        selection,
        exclude=exclude,
        force=force,
        partitions=partitions,
        redo=redo,
        trigger=trigger if trigger != "api" else None,
        workers=workers if workers is not None else max_parallel,
        executor=executor,
        newest_first=newest_first,
        fail_fast=fail_fast,
    )
    heard = [*listeners, *([reporter] if reporter is not None else [])]
    return running.materialize(
        load(project), run_request, store=store, clock=clock, listeners=heard
    )


def plan(
    selection: str = "*",
    *,
    request: RunRequest | None = None,
    project: Project | str | Path | None = None,
    store: MetadataStore | None = None,
    clock: Clock | None = None,
    exclude: str | None = None,
    force: bool = False,
    partitions: PartitionRequest | None = None,
    redo: Iterable[str] | None = None,
) -> Plan:
    """What `materialize` would do, without running anything."""
    from assetflow.services.planning import make_plan
    from assetflow.services.stores import project_store, sweep_crashed

    loaded = load(project)
    run_request = _request(
        request, selection, exclude=exclude, force=force, partitions=partitions, redo=redo
    )
    with project_store(loaded, store) as opened:
        sweep_crashed(opened, loaded, clock)
        return make_plan(loaded, opened, run_request, clock=clock).plan


def status(
    selection: str = "*",
    *,
    request: RunRequest | None = None,
    project: Project | str | Path | None = None,
    store: MetadataStore | None = None,
    clock: Clock | None = None,
    exclude: str | None = None,
    partitions: PartitionRequest | None = None,
    partition: str | None = None,
) -> list[AssetStatus]:
    """The state of every selected asset-partition (`partition`: of that one), why, and
    how its last attempt ended (``AssetStatus.attempt``): what `assetflow status` prints."""
    from assetflow.errors import UsageError
    from assetflow.request import PartitionRequest
    from assetflow.services import history

    if partition is not None:
        if partitions is not None:
            raise UsageError(
                "give either partition= or partitions=, not both.",
                hint="partition= is one key; partitions= a PartitionRequest.",
            )
        partitions = PartitionRequest.one(partition)
    run_request = _request(request, selection, exclude=exclude, partitions=partitions)
    return history.status(load(project), run_request, store=store, clock=clock)


def check(
    selection: str = "*",
    *,
    request: RunRequest | None = None,
    project: Project | str | Path | None = None,
    store: MetadataStore | None = None,
    clock: Clock | None = None,
    exclude: str | None = None,
    partitions: PartitionRequest | None = None,
) -> CheckRun:
    """Run the checks of the selected assets against what is stored, without rebuilding.

    Every materialized asset-partition of the selection (of `partitions`, if given)
    with checks is read back and checked; the results are recorded in a run with
    trigger "check", as a materialization's would be.
    """
    from assetflow.services import running

    run_request = _request(request, selection, exclude=exclude, partitions=partitions)
    return running.check(load(project), run_request, store=store, clock=clock)


#: `assetflow.check_assets`: at the package's top level, `check` is the decorator that
#: declares a check, so running them is exported under this name.
check_assets = check


def runs(
    *,
    project: Project | str | Path | None = None,
    limit: int = 20,
    status: RunStatus | str | Iterable[RunStatus | str] | None = None,
    trigger: str | Iterable[str] | None = None,
    asset: str | None = None,
    partition: str | None = None,
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    before: str | None = None,
    store: MetadataStore | None = None,
) -> RunList:
    """The newest runs matching every filter given, with each run's step counts: what
    `assetflow runs` prints.

    ``since`` and ``until`` take a date (a whole UTC day), a datetime (naive: UTC) or
    the text `--since` takes; ``before`` a run id for the next page
    (``RunList.next_before``).
    """
    from assetflow.services import history

    return history.runs(
        load(project),
        limit=limit,
        status=status,
        trigger=trigger,
        asset=asset,
        partition=partition,
        since=since,
        until=until,
        before=before,
        store=store,
    )


def run(
    run_id: str,
    *,
    project: Project | str | Path | None = None,
    store: MetadataStore | None = None,
) -> RunDetail:
    """One run, by id or unique prefix, step by step: what `assetflow runs show` prints."""
    from assetflow.services import history

    return history.run(load(project), run_id, store=store)


def history(
    asset: str,
    *,
    project: Project | str | Path | None = None,
    partition: str | None = None,
    limit: int = 20,
    all: bool = False,
    store: MetadataStore | None = None,
) -> AssetHistory:
    """An asset's newest materializations (of one partition, if given) and check
    results; with ``all``, every attempt too (``AssetHistory.attempts``)."""
    from assetflow.services import history as histories

    return histories.history(
        load(project), asset, partition=partition, limit=limit, all=all, store=store
    )


def why(
    asset: str,
    *,
    partition: str | None = None,
    project: Project | str | Path | None = None,
    store: MetadataStore | None = None,
    clock: Clock | None = None,
) -> Explanation:
    """Why an asset (one partition of it) is fresh, stale or waiting: the `Explanation`
    that `assetflow why` renders (`assetflow.views.why.why_text` gives its text and
    `assetflow.views.json.why_document` its JSON).

    Raises:
        SelectionError: No asset has that name (with did-you-mean), or no such partition.
    """
    from assetflow.services import history

    return history.why(load(project), asset, partition=partition, store=store, clock=clock)


def read_asset(
    name: str,
    *,
    partition: str | None = None,
    project: Project | str | Path | None = None,
    store: MetadataStore | None = None,
) -> Any:
    """The stored value of an asset, as the asset returned it: a DataFrame (a pyarrow Table
    if annotated so), or the JSON value validated into the annotated type.

    For a partitioned asset without `partition`, every materialized partition is read,
    in order: tables concatenated into one, values as `{partition: value}`.

    Raises:
        SelectionError: No asset has that name (with did-you-mean).
        UsageError: It was never materialized (says how), or a partition was given for
            an unpartitioned asset.
        PartitionError: `partition` is not a partition of the asset.
    """
    from assetflow.services import reading

    return reading.read_asset(load(project), name, partition=partition, store=store)


def show(
    name: str,
    *,
    partition: str | None = None,
    limit: int = 10,
    project: Project | str | Path | None = None,
    store: MetadataStore | None = None,
) -> AssetHead:
    """The first `limit` rows of an asset's stored value (the newest partition unless
    `partition` is given): the `AssetHead` that `assetflow show` renders."""
    from assetflow.services import reading

    return reading.head(load(project), name, partition=partition, limit=limit, store=store)


def add_partitions(
    asset: str,
    keys: Iterable[str],
    *,
    project: Project | str | Path | None = None,
    store: MetadataStore | None = None,
    clock: Clock | None = None,
) -> list[str]:
    """Add keys to the dynamic partitions of `asset` (and of every asset sharing its
    DynamicPartitions): what `assetflow partitions add` does.

    Returns:
        The keys that were added; keys already there are left as they are.

    Raises:
        UsageError: A key is not a valid key (nothing is added), or the asset's
            partitions are not dynamic.
        SelectionError: No asset has that name (with did-you-mean).
    """
    from assetflow.services import partitions

    change = partitions.add_partitions(load(project), asset, keys, store=store, clock=clock)
    return list(change.changed)


def remove_partitions(
    asset: str,
    keys: Iterable[str],
    *,
    prune: bool = False,
    project: Project | str | Path | None = None,
    store: MetadataStore | None = None,
    clock: Clock | None = None,
) -> list[str]:
    """Remove keys from the dynamic partitions of `asset`: what `assetflow partitions
    remove` does. Their stored outputs are kept unless `prune`; their history stays.

    Returns:
        The keys that were removed; keys that were not there are left alone.

    Raises:
        UsageError: A key is not a valid key (nothing is removed), or the asset's
            partitions are not dynamic.
        SelectionError: No asset has that name (with did-you-mean).
    """
    from assetflow.services import partitions

    change = partitions.remove_partitions(
        load(project), asset, keys, prune=prune, store=store, clock=clock
    )
    return list(change.changed)


def partition_keys(
    asset: str,
    *,
    project: Project | str | Path | None = None,
    store: MetadataStore | None = None,
) -> list[str]:
    """The keys of the dynamic partitions of `asset`, in the order they were added."""
    from assetflow.services import partitions

    return partitions.partition_keys(load(project), asset, store=store)
