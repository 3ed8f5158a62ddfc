"""Planning: read what the store recorded, fingerprint the code, and make a plan."""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

    from assetflow.clock import Clock
    from assetflow.codeversion import CodeFingerprint
    from assetflow.graph import AssetGraph
    from assetflow.keys import AssetPartition
    from assetflow.planner import Plan, Snapshot
    from assetflow.project import Project
    from assetflow.request import RunRequest
    from assetflow.store.base import MetadataStore
    from assetflow.store.records import MaterializationState


def select(project: Project, selection: str = "*", exclude: str | None = None) -> frozenset[str]:
    """The asset names a selection expression picks in a project."""
    if selection == "*" and exclude is None and project.graph.names:
        return project.graph.names  # the default, without loading the grammar
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


def check_partition(
    project: Project, asset: str, partition: str, store: MetadataStore | None = None
) -> None:
    """Raise a clear error when `partition` is not a partition of `asset`.

    The keys of a dynamic definition are read from `store` (default: the project's
    own, opened for reading).
    """
    from assetflow.clock import SystemClock
    from assetflow.errors import SelectionError
    from assetflow.partitions.dynamic import DynamicPartitions
    from assetflow.services.stores import project_store

    definition = project.graph.spec(asset).partitions
    if definition is None:
        raise SelectionError(
            f"--partition {partition}: asset '{asset}' is not partitioned.",
            hint="Leave --partition out for an unpartitioned asset.",
        )
    if isinstance(definition, DynamicPartitions):
        with project_store(project, store, reading=True) as opened:
            definition = definition.bind(opened.partition_keys([definition.name])[definition.name])
    definition.validate(partition, SystemClock().now())


def dynamic_names(graph: AssetGraph) -> set[str]:
    """The names of the dynamic definitions the graph's assets use."""
    partitioned = [spec.partitions for spec in graph.specs() if spec.partitions is not None]
    if not partitioned:
        return set()  # without loading the partition definitions
    from assetflow.partitions.dynamic import DynamicPartitions

    return {
        definition.name for definition in partitioned if isinstance(definition, DynamicPartitions)
    }


def bind_partitions(project: Project, store: MetadataStore) -> Project:
    """The project with every dynamic definition bound to the store's live keys.

    One query reads the keys of every dynamic definition the graph uses (bound
    ones are bound again: the store's keys are the current ones); a project
    without any is returned as it is. Everything below sees an ordinary ordered
    key set.
    """
    names = dynamic_names(project.graph)
    if not names:
        return project
    return bound_project(project, store.partition_keys(names))


def with_stored_keys(project: Project, store: MetadataStore | None = None) -> Project:
    """The project bound to the keys in `store` (default: its own, opened for reading),
    for callers that show plans and statuses outside a service (the command line)."""
    from assetflow.services.stores import project_store

    if not dynamic_names(project.graph):
        return project
    with project_store(project, store, reading=True) as opened:
        return bind_partitions(project, opened)


def bound_project(project: Project, keys: Mapping[str, Sequence[str]]) -> Project:
    """The project with each dynamic definition named in `keys` bound to those keys.

    The graph's specs are copied with their bound definitions; its edges (the
    mappings, decided from the definitions' names) are shared.
    """
    from dataclasses import replace

    from assetflow.partitions.dynamic import DynamicPartitions

    specs = {}
    for spec in project.graph.specs():
        definition = spec.partitions
        if isinstance(definition, DynamicPartitions) and definition.name in keys:
            bound = definition.bind(keys[definition.name])
            spec = replace(spec, settings=replace(spec.settings, partitions=bound))
        specs[spec.name] = spec
    return replace(project, graph=project.graph.with_specs(specs))


@dataclass(frozen=True, slots=True)
class PlanContext:
    """A plan together with what made it: the project, snapshot and code fingerprints."""

    project: Project
    plan: Plan
    snapshot: Snapshot
    fingerprints: Mapping[str, CodeFingerprint]
    #: what each source-partition read by the plan returned when observed
    source_values: Mapping[AssetPartition, Any]


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
    request: RunRequest | None = None,
    *,
    clock: Clock | None = None,
    check_inputs: bool = True,
) -> PlanContext:
    """Plan a run of what `request` asks for against what the store recorded.

    Args:
        project: The loaded project.
        store: Where earlier runs were recorded.
        request: The selection, partitions, `force` and `redo` of the run (default:
            every asset, every complete partition).
        clock: The source of the plan's one "now".
        check_inputs: Fail when a step reads an unselected input that was never
            materialized (a run needs it; a status report does not).

    Raises:
        SelectionError: The selection or the partitions select nothing valid.
        MissingInputError: A step reads an input that is neither planned nor stored.
    """
    # Planning builds hundreds of thousands of small objects for a large partitioned
    # project and frees none of them until it ends; the cyclic collector would rescan
    # the growing heap over and over (it doubled the time of a 365,000-partition plan).
    from assetflow.request import RunRequest

    with _no_cyclic_gc():
        return _make_plan(
            project, store, request or RunRequest(), clock=clock, check_inputs=check_inputs
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
    request: RunRequest,
    *,
    clock: Clock | None,
    check_inputs: bool,
) -> PlanContext:
    from dataclasses import replace

    from assetflow.clock import SystemClock
    from assetflow.execution.step import io_settings
    from assetflow.planner import plan_run
    from assetflow.planner.keys import keys_by_asset
    from assetflow.planner.plan import source_partitions
    from assetflow.services.verify import verify_outputs
    from assetflow.sources import observe_sources

    clock = clock or SystemClock()
    now = clock.now()  # one "now" for the whole plan
    project = bind_partitions(project, store)  # the keys of dynamic partitions, as of now
    selected = select(project, request.selection, request.exclude)
    # Inputs of selected assets are judged too: an input's stored data version matters.
    needed = set(selected)
    for name in selected:
        needed.update(project.graph.parents(name))
    graph = project.graph
    sources = {name for name in needed if graph.spec(name).is_source}
    keys = keys_by_asset(graph, selected - sources, request.partitions, now)
    # A partitioned source is observed only in the partitions the plan's steps read.
    observations = observe_sources(
        project,
        (s for s in sources if graph.children(s)),
        source_partitions(graph, keys, now),
    )
    if request.partitions is None:
        stored = read_snapshot(store, needed - sources)
    else:  # a few partitions of a long history: read only what they can touch
        stored = read_partial_snapshot(store, graph, keys, sources, now)
    snapshot = replace(
        stored,
        observed=observations.versions,
        unavailable=observations.errors,
        # Outputs verified before they are called fresh: a deleted or changed one is stale.
        broken=verify_outputs(stored.latest, project.state_dir, io_settings(project)),
    )
    fingerprints = fingerprints_of(project, selected)
    code_versions = {name: fp.version for name, fp in fingerprints.items()}
    details = _code_details(store, snapshot, fingerprints)
    plan = plan_run(
        project.graph,
        selected,
        snapshot,
        code_versions,
        now=now,
        request=request,
        code_details=details,
        check_inputs=check_inputs,
        warnings=observations.warnings(),
        keys=keys,
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
        if latest.code_version is None:  # pragma: no cover - left out of `differing`
            continue
        manifest = store.get_code(manifest_key(latest.code_version))
        if manifest is None:
            continue
        changes = changed_parts(json.loads(manifest), fp)
        details[name] = tuple(change.describe() for change in changes)
    return details


def manifest_key(code_version: str) -> str:
    """The store key of a code version's part list ({part name: digest}, as JSON)."""
    return f"manifest:{code_version}"


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


def code_diff(store: MetadataStore, old_version: str, new: CodeFingerprint) -> str:
    """A unified diff of each named code part that changed since `old_version`."""
    from assetflow.codeversion import changed_parts, diff_sources

    manifest = store.get_code(manifest_key(old_version))
    if manifest is None:
        return ""
    old_digests: dict[str, str] = json.loads(manifest)
    sources = {part.name: part.source for part in new.parts}
    diffs = []
    for change in changed_parts(old_digests, new):
        old_digest = old_digests.get(change.name)
        old_source = (store.get_code(old_digest) if old_digest else None) or ""
        diffs.append(diff_sources(old_source, sources.get(change.name, ""), change.name))
    return "\n".join(diff for diff in diffs if diff)


def with_sources(project: Project, fingerprint: CodeFingerprint, name: str) -> CodeFingerprint:
    """The fingerprint with its parts' normalised sources (computed if it came from the cache)."""
    from assetflow.codecache import compute, has_sources

    if has_sources(fingerprint):
        return fingerprint
    return compute(project, [name])[name]


def code_diffs(store: MetadataStore, context: PlanContext) -> dict[tuple[str, str], str]:
    """For each planned asset-partition whose code changed: the diff of its changed parts
    against the code it was last built with, keyed by (asset, that old code version)."""
    from assetflow.planner import ReasonKind

    diffs: dict[tuple[str, str], str] = {}
    for step in context.plan.steps:
        if not any(reason.kind is ReasonKind.CODE_CHANGED for reason in step.reasons):
            continue
        latest = context.snapshot.latest.get(step.key)
        fingerprint = context.fingerprints.get(step.asset)
        if latest is None or not latest.code_version or fingerprint is None:
            continue
        key = (step.asset, latest.code_version)
        if key not in diffs:
            current = with_sources(context.project, fingerprint, step.asset)
            diffs[key] = code_diff(store, latest.code_version, current)
    return diffs
