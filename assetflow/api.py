"""The Python API: everything the CLI does, callable as functions (and how most tests drive it)."""

from __future__ import annotations

import contextlib
import gc
import json
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assetflow.errors import WriteError

if TYPE_CHECKING:
    from datetime import datetime

    from assetflow.clock import Clock
    from assetflow.codeversion import CodeFingerprint
    from assetflow.execution import Reporter, RunResult
    from assetflow.graph import AssetGraph
    from assetflow.planner import Plan, Snapshot
    from assetflow.planner.keys import PartitionRequest
    from assetflow.planner.status import AssetStatus
    from assetflow.project import Project
    from assetflow.store.base import MetadataStore
    from assetflow.store.records import CheckRecord, MaterializationState

#: The embedded metadata store's file name under the state dir.
METADATA_FILE = "metadata.sqlite"


def load(project: Project | str | Path | None = None) -> Project:
    """Load a project (a directory, or the one found from the environment and cwd)."""
    from assetflow.loader import load_project
    from assetflow.project import Project

    if isinstance(project, Project):
        return project
    return load_project(project)


def open_project_store(project: Project) -> MetadataStore:
    """Open the project's embedded metadata store, creating the state dir if needed.

    Raises:
        WriteError: The state dir cannot be created or written.
        StoreError: The metadata file is unusable.
    """
    from assetflow.store import open_store

    ensure_state_dir(project.state_dir)
    return open_store("sqlite", project.state_dir / METADATA_FILE)


@contextlib.contextmanager
def _store_for(project: Project, store: MetadataStore | None) -> Iterator[MetadataStore]:
    """The given store, or the project's own, opened here and closed after."""
    if store is not None:
        yield store
        return
    with open_project_store(project) as opened:
        yield opened


def ensure_state_dir(state_dir: Path) -> None:
    """Create the state dir and check it is writable, with a clear error if not."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        probe = state_dir / f".write-test-{uuid.uuid4().hex}"
        probe.touch()
        probe.unlink()
    except OSError as error:
        raise WriteError(
            f"the state directory {state_dir} is not writable: {error.strerror or error}.",
            hint=(
                "assetflow keeps outputs and run history there. To fix this, make the "
                "directory writable (e.g. `chmod u+w`), or point `state_dir` in "
                "[tool.assetflow] at a writable directory."
            ),
        ) from error


def select(project: Project, selection: str = "*", exclude: str | None = None) -> frozenset[str]:
    """The asset names a selection expression picks in a project."""
    from assetflow.selection import select as select_names

    return select_names(project.graph, selection, exclude)


def check_asset_name(project: Project, name: str) -> None:
    """Raise a did-you-mean error when `name` is not an asset of the project."""
    from assetflow.errors import SelectionError, suggest

    if name not in project.graph:
        raise SelectionError(
            f"no asset is named '{name}'.",
            suggestions=suggest(name, project.graph.names),
            hint="`assetflow list` shows every asset.",
        )


def check_partition(project: Project, asset: str, partition: str) -> None:
    """Raise a clear error when `partition` is not a partition of `asset`."""
    from assetflow.clock import SystemClock
    from assetflow.errors import SelectionError

    definition = project.graph.spec(asset).partitions
    if definition is None:
        raise SelectionError(
            f"--partition {partition}: asset '{asset}' is not partitioned.",
            hint="Leave --partition out for an unpartitioned asset.",
        )
    definition.validate(partition, SystemClock().now())


@dataclass(frozen=True, slots=True)
class PlanContext:
    """A plan together with what made it: the project, snapshot and code fingerprints."""

    project: Project
    plan: Plan
    snapshot: Snapshot
    fingerprints: Mapping[str, CodeFingerprint]
    #: what each source read by the plan returned when observed
    source_values: Mapping[str, Any]


def fingerprints_of(project: Project, names: Iterable[str]) -> dict[str, CodeFingerprint]:
    """The current code fingerprint of each named asset (sources are skipped)."""
    from assetflow.codecache import fingerprints_of as cached_fingerprints

    return cached_fingerprints(project, names)


def read_snapshot(store: MetadataStore, names: Iterable[str]) -> Snapshot:
    """What the planner needs from the store, in two bulk queries."""
    from assetflow.planner import Snapshot

    names = list(names)
    latest = store.latest_states(names)
    return Snapshot(
        latest=latest,
        failures=store.latest_failures(names),
        check_failures=_check_failures(store, names, latest),
    )


def _check_failures(
    store: MetadataStore, names: Iterable[str], latest: Mapping[Any, MaterializationState]
) -> dict[tuple[str, str | None], tuple[str, ...]]:
    """The blocking checks that failed on each asset-partition's current data."""
    failures = {}
    for key, results in store.latest_check_results(names).items():
        state = latest.get(key)
        failed = tuple(
            result.check
            for result in results
            if result.is_blocking_failure and state is not None and result.at >= state.finished_at
        )
        if failed:
            failures[key] = failed
    return failures


def read_partial_snapshot(
    store: MetadataStore,
    graph: AssetGraph,
    keys: Mapping[str, Sequence[str | None]],
    sources: set[str],
    now: datetime,
) -> Snapshot:
    """The store's state of the planned asset-partitions and of every input they read."""
    from assetflow.planner import Snapshot
    from assetflow.planner.plan import input_keys_of

    wanted: set[tuple[str, str | None]] = set()
    whole: set[str] = set()
    for name, partitions in keys.items():
        wanted.update((name, partition) for partition in partitions)
        for parent, partition_keys in input_keys_of(graph, name, partitions, now):
            if parent in sources:
                continue
            if partition_keys is None:
                whole.add(parent)
            else:
                wanted.update((parent, key) for key in partition_keys)
    latest = store.latest_states(whole) if whole else {}
    latest.update(store.latest_states_of(key for key in wanted if key[0] not in whole))
    assets = set(keys) | whole
    return Snapshot(
        latest=latest,
        failures=store.latest_failures(assets),
        check_failures=_check_failures(store, assets, latest),
    )


def make_plan(
    project: Project,
    store: MetadataStore,
    selection: str = "*",
    *,
    exclude: str | None = None,
    force: bool = False,
    clock: Clock | None = None,
    check_inputs: bool = True,
    partitions: PartitionRequest | None = None,
    redo: Iterable[str] | None = None,
) -> PlanContext:
    """Plan a run of `selection` (and of `partitions`) against what the store recorded."""
    # Planning builds hundreds of thousands of small objects for a large partitioned
    # project and frees none of them until it ends; the cyclic collector would rescan
    # the growing heap over and over (it doubled the time of a 365,000-partition plan).
    with _no_cyclic_gc():
        return _make_plan(
            project,
            store,
            selection,
            exclude=exclude,
            force=force,
            clock=clock,
            check_inputs=check_inputs,
            partitions=partitions,
            redo=redo,
        )


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _make_plan(
    project: Project,
    store: MetadataStore,
    selection: str,
    *,
    exclude: str | None,
    force: bool,
    clock: Clock | None,
    check_inputs: bool,
    partitions: PartitionRequest | None,
    redo: Iterable[str] | None,
) -> PlanContext:
    from dataclasses import replace

    from assetflow.clock import SystemClock
    from assetflow.planner import plan_run
    from assetflow.planner.keys import keys_by_asset
    from assetflow.sources import observe_sources

    clock = clock or SystemClock()
    now = clock.now()  # one "now" for the whole plan
    selected = select(project, selection, exclude)
    # Inputs of selected assets are judged too: an input's stored data version matters.
    needed = set(selected)
    for name in selected:
        needed.update(project.graph.parents(name))
    graph = project.graph
    sources = {name for name in needed if graph.spec(name).is_source}
    observations = observe_sources(project, (s for s in sources if graph.children(s)))
    keys = keys_by_asset(graph, selected - sources, partitions, now)
    if partitions is None:
        stored = read_snapshot(store, needed - sources)
    else:  # a few partitions of a long history: read only what they can touch
        stored = read_partial_snapshot(store, graph, keys, sources, now)
    snapshot = replace(
        stored,
        observed={(name, None): v for name, v in observations.versions.items()},
        unavailable={(name, None): e for name, e in observations.errors.items()},
    )
    fingerprints = fingerprints_of(project, selected)
    code_versions = {name: fp.version for name, fp in fingerprints.items()}
    details = _code_details(store, snapshot, fingerprints)
    text = selection if not exclude else f"{selection} --exclude {exclude}"
    plan = plan_run(
        project.graph,
        selected,
        snapshot,
        code_versions,
        now=now,
        selection=text,
        force=force,
        code_details=details,
        check_inputs=check_inputs,
        warnings=tuple(observations.errors[name] for name in sorted(observations.errors)),
        keys=keys,
        redo=_redo(redo),
        partitions=partitions.render() if partitions is not None else None,
    )
    return PlanContext(project, plan, snapshot, fingerprints, observations.values)


def _code_details(
    store: MetadataStore, snapshot: Snapshot, fingerprints: Mapping[str, CodeFingerprint]
) -> dict[str, tuple[str, ...]]:
    """For assets whose code changed since their last materialization: which parts changed."""
    from assetflow.codeversion import changed_parts

    # One stored state per asset whose code differs (for a partitioned asset, any
    # partition: they share the code they were built with, or say which one changed).
    differing: dict[str, MaterializationState] = {}
    for (name, _), state in snapshot.latest.items():
        fp = fingerprints.get(name)
        if fp is not None and state.code_version not in (None, fp.version):
            differing.setdefault(name, state)
    details: dict[str, tuple[str, ...]] = {}
    for name, latest in differing.items():
        fp = fingerprints[name]
        manifest = store.get_code(manifest_key(latest.code_version))
        if manifest is None:
            continue
        changes = changed_parts(json.loads(manifest), fp)
        details[name] = tuple(change.describe() for change in changes)
    return details


def _redo(redo: Iterable[str] | None) -> frozenset[str] | None:
    """The `--redo` choices, checked; None (run every not-fresh partition) when not given."""
    from assetflow.errors import SelectionError, suggest
    from assetflow.planner.plan import REDO_CHOICES

    if redo is None:
        return None
    chosen = frozenset(redo)
    for choice in sorted(chosen - set(REDO_CHOICES)):
        raise SelectionError(
            f"--redo {choice!r} is not one of {', '.join(REDO_CHOICES)}.",
            suggestions=suggest(choice, REDO_CHOICES),
            hint="missing: never materialized; failed: the last attempt failed; stale: code "
            "or inputs changed; all: every partition in the range, fresh or not.",
        )
    return chosen or None


def manifest_key(code_version: str) -> str:
    """The store key of a code version's part list ({part name: digest}, as JSON)."""
    return f"manifest:{code_version}"


def sweep_crashed(store: MetadataStore, project: Project, clock: Clock | None = None) -> None:
    """Mark crashed the runs left ``running`` by a process that is gone (see
    `assetflow.runs`), and delete the temporary files their killed writers left (a
    kill -9 gives them no chance to). Every command that reads runs calls this first."""
    from assetflow.clock import SystemClock
    from assetflow.execution.step import DATA_DIR
    from assetflow.io.atomic import remove_orphaned_temp_files
    from assetflow.runs import is_process_alive, sweep_orphaned_runs

    if sweep_orphaned_runs(store, now=(clock or SystemClock()).now()):
        data = project.state_dir / DATA_DIR
        if data.is_dir():
            remove_orphaned_temp_files(data, is_process_alive)


def save_fingerprints(
    store: MetadataStore, project: Project, fingerprints: Mapping[str, CodeFingerprint]
) -> None:
    """Keep each distinct normalised source once, and each version's part list, for `why`.

    One read finds what the store lacks; one transaction writes it.
    """
    from assetflow.codecache import compute, has_sources

    saved = store.saved_codes(manifest_key(fp.version) for fp in fingerprints.values())
    missing = {
        name: fp for name, fp in fingerprints.items() if manifest_key(fp.version) not in saved
    }
    stale = [name for name, fp in missing.items() if not has_sources(fp)]
    missing.update(compute(project, stale))
    sources: dict[str, str] = {}
    for fp in missing.values():
        sources.update({part.digest: part.source for part in fp.parts})
        sources[manifest_key(fp.version)] = json.dumps(fp.digests(), sort_keys=True)
    store.save_codes(sources)


def materialize(
    selection: str = "*",
    *,
    exclude: str | None = None,
    project: Project | str | Path | None = None,
    force: bool = False,
    store: MetadataStore | None = None,
    clock: Clock | None = None,
    trigger: str = "api",
    reporter: Reporter | None = None,
    partitions: PartitionRequest | None = None,
    redo: Iterable[str] | None = None,
    workers: int | None = None,
    executor: str | None = None,
    max_parallel: int | None = None,
    newest_first: bool = False,
    fail_fast: bool = False,
) -> RunResult:
    """Materialize the stale part of a selection, and record the run.

    Args:
        selection: What to materialize, in the selection grammar (`clean_records+`).
        exclude: A selection to leave out.
        project: The project, or its directory; by default found from the cwd.
        force: Rebuild every selected asset, stale or not.
        store: The metadata store; by default the project's embedded one.
        clock: The source of "now".
        trigger: What started the run ("api", "cli", "schedule").
        reporter: Receives progress events.
        partitions: Which partitions of partitioned assets (default: every complete one).
        redo: Which not-fresh partitions to run: "missing", "failed", "stale", "all".
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
    from assetflow.clock import SystemClock
    from assetflow.execution import execute_plan
    from assetflow.execution.executors import choose_executor

    loaded = load(project)
    executor, workers = choose_executor(
        loaded, executor, workers if workers is not None else max_parallel
    )
    clock = clock or SystemClock()
    with _store_for(loaded, store) as store:
        ensure_state_dir(loaded.state_dir)
        sweep_crashed(store, loaded, clock)
        context = make_plan(
            loaded,
            store,
            selection,
            exclude=exclude,
            force=force,
            clock=clock,
            partitions=partitions,
            redo=redo,
        )
        save_fingerprints(
            store,
            loaded,
            {step.asset: context.fingerprints[step.asset] for step in context.plan.steps},
        )
        return execute_plan(
            loaded,
            context.plan,
            store,
            context.snapshot,
            sources=context.source_values,
            run_id=uuid.uuid4().hex,
            clock=clock,
            trigger=trigger,
            reporter=reporter,
            executor=executor,
            workers=workers,
            newest_first=newest_first,
            fail_fast=fail_fast,
        )


def plan(
    selection: str = "*",
    *,
    exclude: str | None = None,
    project: Project | str | Path | None = None,
    force: bool = False,
    store: MetadataStore | None = None,
    clock: Clock | None = None,
    partitions: PartitionRequest | None = None,
    redo: Iterable[str] | None = None,
) -> Plan:
    """What `materialize` would do, without running anything."""
    loaded = load(project)
    with _store_for(loaded, store) as store:
        sweep_crashed(store, loaded, clock)
        return make_plan(
            loaded,
            store,
            selection,
            exclude=exclude,
            force=force,
            clock=clock,
            partitions=partitions,
            redo=redo,
        ).plan


def status(
    selection: str = "*",
    *,
    exclude: str | None = None,
    project: Project | str | Path | None = None,
    store: MetadataStore | None = None,
    clock: Clock | None = None,
    partitions: PartitionRequest | None = None,
) -> list[AssetStatus]:
    """The state of every selected asset: fresh, stale, waiting, missing or failed, and why."""
    from dataclasses import replace

    from assetflow.planner.status import asset_states

    loaded = load(project)
    with _store_for(loaded, store) as store:
        sweep_crashed(store, loaded, clock)
        context = make_plan(
            loaded,
            store,
            selection,
            exclude=exclude,
            clock=clock,
            check_inputs=False,
            partitions=partitions,
        )
        states = asset_states(context.plan, context.snapshot)
        names = {state.asset for state in states if loaded.checks.get(state.asset)}
        results = store.latest_check_results(names) if names else {}
        return [
            replace(state, checks=tuple(results.get((state.asset, state.partition), ())))
            for state in states
        ]


@dataclass(frozen=True, slots=True)
class CheckRun:
    """What `assetflow check` did: the run and each result, with where it ran."""

    run_id: str
    results: tuple[CheckRecord, ...]

    @property
    def has_blocking_failure(self) -> bool:
        return any(result.is_blocking_failure for result in self.results)


def check(
    selection: str = "*",
    *,
    exclude: str | None = None,
    project: Project | str | Path | None = None,
    partitions: PartitionRequest | None = None,
    store: MetadataStore | None = None,
    clock: Clock | None = None,
) -> CheckRun:
    """Run the checks of the selected assets against what is stored, without rebuilding.

    Every materialized asset-partition of the selection (of `partitions`, if given)
    with checks is read back and checked; the results are recorded in a run with
    trigger "check", as a materialization's would be.
    """
    import os

    from assetflow.checks import run_checks
    from assetflow.clock import SystemClock
    from assetflow.execution.inputs import read_one
    from assetflow.planner.keys import keys_by_asset
    from assetflow.store.records import CheckRecord, RunRecord, RunStatus

    loaded = load(project)
    clock = clock or SystemClock()
    with _store_for(loaded, store) as store:
        now = clock.now()
        names = {n for n in select(loaded, selection, exclude) if loaded.checks.get(n)}
        keys = keys_by_asset(loaded.graph, names, partitions, now)
        states = store.latest_states_of(
            (name, partition) for name, partitions_of in keys.items() for partition in partitions_of
        )
        run_id = uuid.uuid4().hex
        store.create_run(
            RunRecord(
                run_id=run_id,
                trigger="check",
                selection=selection,
                started_at=now,
                pid=os.getpid(),
                partitions=partitions.render() if partitions is not None else None,
            )
        )
        results: list[CheckRecord] = []
        for (name, partition), state in sorted(states.items(), key=lambda item: str(item[0])):
            spec = loaded.graph.spec(name)
            value = read_one(state, spec.returns)
            outcomes = run_checks(
                loaded.checks[name], value, partition=partition, now=now, root=loaded.root
            )
            results.extend(
                CheckRecord(run_id=run_id, at=clock.now(), **outcome.record_fields())
                for outcome in outcomes
            )
        store.record(checks=results)  # one transaction for the whole check run
        failed = any(result.is_blocking_failure for result in results)
        store.finish_run(run_id, RunStatus.FAILED if failed else RunStatus.SUCCESS, clock.now())
        return CheckRun(run_id, tuple(results))
