"""The Python API: everything the CLI does, callable as functions (and how most tests drive it)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assetflow.errors import WriteError

if TYPE_CHECKING:
    from assetflow.clock import Clock
    from assetflow.codeversion import CodeFingerprint
    from assetflow.execution import Reporter, RunResult
    from assetflow.planner import Plan, Snapshot
    from assetflow.planner.status import AssetStatus
    from assetflow.project import Project
    from assetflow.store.base import MetadataStore

#: The embedded metadata store's file name under the state dir.
METADATA_FILE = "metadata.sqlite"


def load(project: Project | str | Path | None = None) -> Project:
    """Load a project (a directory, or the one found from the environment and cwd)."""
    from assetflow.project import Project, load_project

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
    return Snapshot(
        latest=store.latest_states(names),
        failures=store.latest_failures(names),
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
) -> PlanContext:
    """Plan a run of `selection` against what the store recorded."""
    from dataclasses import replace

    from assetflow.clock import SystemClock
    from assetflow.planner import plan_run
    from assetflow.sources import observe_sources

    clock = clock or SystemClock()
    selected = select(project, selection, exclude)
    # Inputs of selected assets are judged too: an input's stored data version matters.
    needed = set(selected)
    for name in selected:
        needed.update(project.graph.parents(name))
    graph = project.graph
    sources = {name for name in needed if graph.spec(name).is_source}
    observations = observe_sources(project, (s for s in sources if graph.children(s)))
    snapshot = replace(
        read_snapshot(store, needed - sources),
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
        now=clock.now(),
        selection=text,
        force=force,
        code_details=details,
        check_inputs=check_inputs,
        warnings=tuple(observations.errors[name] for name in sorted(observations.errors)),
    )
    return PlanContext(project, plan, snapshot, fingerprints, observations.values)


def _code_details(
    store: MetadataStore, snapshot: Snapshot, fingerprints: Mapping[str, CodeFingerprint]
) -> dict[str, tuple[str, ...]]:
    """For assets whose code changed since their last materialization: which parts changed."""
    from assetflow.codeversion import changed_parts

    details: dict[str, tuple[str, ...]] = {}
    for name, fp in fingerprints.items():
        latest = snapshot.latest.get((name, None))
        if latest is None or latest.code_version in (None, fp.version):
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

    missing = {
        name: fp
        for name, fp in fingerprints.items()
        if store.get_code(manifest_key(fp.version)) is None
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

    Returns:
        The run's result; `result.success` is False when a step failed.
    """
    from assetflow.clock import SystemClock
    from assetflow.execution import execute_plan

    loaded = load(project)
    clock = clock or SystemClock()
    owns_store = store is None
    store = store or open_project_store(loaded)
    try:
        ensure_state_dir(loaded.state_dir)
        context = make_plan(loaded, store, selection, exclude=exclude, force=force, clock=clock)
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
        )
    finally:
        if owns_store:
            store.close()


def plan(
    selection: str = "*",
    *,
    exclude: str | None = None,
    project: Project | str | Path | None = None,
    force: bool = False,
    store: MetadataStore | None = None,
    clock: Clock | None = None,
) -> Plan:
    """What `materialize` would do, without running anything."""
    loaded = load(project)
    owns_store = store is None
    store = store or open_project_store(loaded)
    try:
        return make_plan(loaded, store, selection, exclude=exclude, force=force, clock=clock).plan
    finally:
        if owns_store:
            store.close()


def status(
    selection: str = "*",
    *,
    exclude: str | None = None,
    project: Project | str | Path | None = None,
    store: MetadataStore | None = None,
    clock: Clock | None = None,
) -> list[AssetStatus]:
    """The state of every selected asset: fresh, stale, waiting, missing or failed, and why."""
    from assetflow.planner.status import asset_states

    loaded = load(project)
    owns_store = store is None
    store = store or open_project_store(loaded)
    try:
        context = make_plan(
            loaded, store, selection, exclude=exclude, clock=clock, check_inputs=False
        )
        return asset_states(context.plan, context.snapshot)
    finally:
        if owns_store:
            store.close()
