"""Plan and Step records, and plan_run(): the scheduler's order over the rebuilder's verdicts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from assetflow.errors import MissingInputError
from assetflow.keys import AssetPartition
from assetflow.planner.ordering import order_assets
from assetflow.planner.staleness import (
    Reason,
    ReasonKind,
    Snapshot,
    Status,
    Verdict,
    judge,
)
from assetflow.request import REDO_CHOICES as REDO_CHOICES
from assetflow.request import RunRequest

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
    inputs: tuple[AssetPartition, ...] = ()

    @property
    def key(self) -> AssetPartition:
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
    #: the partitions asked for, as text ("2026-03-01..2026-03-31"), or None
    partitions: str | None = None

    @property
    def is_empty(self) -> bool:
        return not self.steps

    def count(self, status: Status) -> int:
        """How many selected asset-partitions have this status."""
        if status is Status.FRESH:
            return len(self.fresh)
        return sum(1 for step in self.steps if step.status is status)


#: A request for every complete partition of every selected asset, as needed.
_EVERYTHING = RunRequest()


def plan_run(
    graph: AssetGraph,
    selected: Iterable[str],
    snapshot: Snapshot,
    code_versions: Mapping[str, str],
    *,
    now: datetime,
    request: RunRequest = _EVERYTHING,
    keys: Mapping[str, Sequence[str | None]] | None = None,
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
        request: What the run asks for: its `force` and `redo` decide which
            not-fresh partitions run; its selection and partitions are recorded.
        keys: The partition keys to plan per asset (default: the one key None).
        code_details: Which named code parts changed per asset, when known.
        check_inputs: Fail when a step reads an unselected, never materialized
            input (a run needs it; a status report does not).
        warnings: Passed through to the plan, for whoever prints it.

    Returns:
        The plan.

    Raises:
        MissingInputError: A step reads an input that is neither planned nor stored.
    """
    chosen = set(selected)
    force, redo = request.force, request.redo
    planner = _Planner(graph, snapshot, now, dict(keys or {}))
    code_details = code_details or {}
    redo_all = redo is not None and "all" in redo
    steps: list[Step] = []
    fresh: list[Verdict] = []
    for name in order_assets(graph, chosen):
        if graph.spec(name).is_source:
            continue  # observed, never materialized
        for partition in planner.keys.get(name, (None,)):
            key: AssetPartition = (name, partition)
            inputs = planner.inputs(name, partition)
            verdict = judge(
                key,
                code_version=code_versions[name],
                inputs=inputs,
                snapshot=snapshot,
                pending=planner.pending,
                forced=force or (redo_all and partition is not None),
                code_details=code_details.get(name, ()),
            )
            if verdict.status is Status.FRESH:
                fresh.append(verdict)
                continue
            if (
                redo is not None
                and partition is not None
                and not redo_all
                and _redo_kind(verdict) not in redo
                and not any(key in planner.pending for key in inputs)
            ):
                continue  # not asked for, nor fed by what is redone: left as it is
            planner.pending[key] = verdict.status
            steps.append(Step(name, partition, verdict.status, verdict.reasons, inputs))
    if check_inputs:
        _check_inputs(steps, planner.pending, snapshot, chosen)
    return Plan(
        selection=request.selection_text,
        created_at=now,
        steps=tuple(steps),
        fresh=tuple(fresh),
        code_versions=dict(code_versions),
        warnings=warnings + tuple(planner.left_out_warnings()),
        partitions=request.partitions.render() if request.partitions is not None else None,
    )


def _redo_kind(verdict: Verdict) -> str:
    kinds = {reason.kind for reason in verdict.reasons}
    if ReasonKind.LAST_RUN_FAILED in kinds or ReasonKind.CHECK_FAILED in kinds:
        return "failed"
    if ReasonKind.NEVER_MATERIALIZED in kinds or ReasonKind.OUTPUT_MISSING in kinds:
        return "missing"
    return "stale"


def input_keys_of(
    graph: AssetGraph, name: str, partitions: Sequence[str | None], now: datetime
) -> list[tuple[str, set[str | None] | None]]:
    """For each input of an asset, the partitions the given ones read (None: all of them).

    What the store must be asked for before planning these partitions.
    """
    from assetflow.partitions.types import AllPartitions, Identity, Unpartitioned

    result: list[tuple[str, set[str | None] | None]] = []
    spec = graph.spec(name)
    for parent in graph.parents(name):
        mapping = graph.mapping(name, parent)
        if isinstance(mapping, Unpartitioned):
            result.append((parent, {None}))
        elif isinstance(mapping, Identity):
            result.append((parent, set(partitions)))
        elif isinstance(mapping, AllPartitions):
            result.append((parent, None))
        else:
            from assetflow.partitions.mappings import upstream_keys

            up = graph.spec(parent).partitions
            keys: set[str | None] = set()
            for partition in partitions:
                keys.update(upstream_keys(mapping, spec.partitions, partition, up, now))
            result.append((parent, keys))
    return result


def source_partitions(
    graph: AssetGraph, keys: Mapping[str, Sequence[str | None]], now: datetime
) -> dict[str, set[str]]:
    """The partitions of each partitioned source that the planned asset-partitions read.

    Worked out before the plan, so that only those partitions are observed (a source
    of one file per day is not hashed whole to plan one day). A reader of all its
    partitions reads every key the source's definition has.

    Args:
        graph: The project's graph.
        keys: The partition keys planned per asset (as `keys_by_asset` gives them).
        now: The one "now" of the plan.

    Returns:
        For each partitioned source with a planned reader, the keys read.
    """
    readers = {
        name
        for name in keys
        if any(
            graph.spec(parent).is_source and graph.spec(parent).partitions is not None
            for parent in graph.parents(name)
        )
    }
    if not readers:
        return {}
    planner = _Planner(graph, Snapshot(), now, dict(keys))
    result: dict[str, set[str]] = {}
    for name in readers:
        for partition in keys[name]:
            for parent, key in planner.inputs(name, partition):
                if key is not None and graph.spec(parent).is_source:
                    result.setdefault(parent, set()).add(key)
    return result


# How an input's partitions map, decided once per asset.
_WHOLE, _SAME, _ALL, _MAPPED = "whole", "same", "all", "mapped"


class _Planner:
    """The input keys of each asset-partition, and what the plan has decided so far."""

    def __init__(
        self,
        graph: AssetGraph,
        snapshot: Snapshot,
        now: datetime,
        keys: dict[str, Sequence[str | None]],
    ) -> None:
        self.graph = graph
        self.snapshot = snapshot
        self.now = now
        self.keys = keys
        self.pending: dict[AssetPartition, Status] = {}
        self._all_partitions: dict[tuple[str, str], tuple[AssetPartition, ...]] = {}
        self._edges: dict[str, list[tuple[str, str, Any]]] = {}
        self._left_out: dict[tuple[str, str], list[str]] = {}

    def inputs(self, name: str, partition: str | None) -> tuple[AssetPartition, ...]:
        """The upstream asset-partitions one asset-partition reads."""
        edges = self._edges.get(name)
        if edges is None:
            edges = self._edges[name] = self._edges_of(name)
        result: list[AssetPartition] = []
        for parent, how, mapping in edges:
            if how == _WHOLE:
                result.append((parent, None))
            elif how == _SAME:
                result.append((parent, partition))
            elif how == _ALL:
                result.extend(self._available(name, parent))
            else:
                from assetflow.partitions import upstream_keys

                down = self.graph.spec(name).partitions
                up = self.graph.spec(parent).partitions
                keys = upstream_keys(mapping, down, partition, up, self.now)
                result.extend((parent, key) for key in keys)
        return tuple(result)

    def _edges_of(self, name: str) -> list[tuple[str, str, Any]]:
        """Each input of an asset with how it maps (computed once per asset, not per key)."""
        from assetflow.partitions import AllPartitions, Identity, Unpartitioned

        edges = []
        for parent in self.graph.parents(name):
            mapping = self.graph.mapping(name, parent)
            if isinstance(mapping, Unpartitioned):
                how = _WHOLE
            elif isinstance(mapping, Identity) and (
                self.graph.spec(name).partitions == self.graph.spec(parent).partitions
            ):
                how = _SAME  # same definition: the same key (a declared Identity between
                # different definitions maps key by key, through upstream_keys)
            elif isinstance(mapping, AllPartitions):
                how = _ALL
            else:
                how = _MAPPED
            edges.append((parent, how, mapping))
        return edges

    def _available(self, name: str, parent: str) -> tuple[AssetPartition, ...]:
        """All partitions of `parent` that exist: stored, or built in this plan.

        A partition never materialized and not in the plan is left out, with a
        warning, rather than failing the reader: reading "all" means all there are.
        """
        cached = self._all_partitions.get((name, parent))
        if cached is None:
            definition = self.graph.spec(parent).partitions
            assert definition is not None, "a reads-all input is always partitioned"
            present, missing = [], []
            for key in definition.keys(self.now):
                step_key = (parent, key)
                if (
                    step_key in self.snapshot.latest
                    or step_key in self.pending
                    or step_key in self.snapshot.observed  # a source's partition that is there
                ):
                    present.append(step_key)
                else:
                    missing.append(key)
            if not present:
                # Nothing to read at all: the missing partitions are the inputs, so the
                # plan reports them as missing rather than pass an empty table.
                present = [(parent, key) for key in missing]
            elif missing:
                self._left_out[(name, parent)] = missing
            cached = self._all_partitions[(name, parent)] = tuple(present)
        return cached

    def left_out_warnings(self) -> list[str]:
        from assetflow.partitions import compact

        warnings = []
        for (name, parent), missing in sorted(self._left_out.items()):
            definition = self.graph.spec(parent).partitions
            assert definition is not None, "a reads-all input is always partitioned"
            ranges = ", ".join(r.render() for r in compact(missing, definition))
            count = len(missing)
            never = (
                "could not be observed"  # a source's partition is observed, not materialized
                if self.graph.spec(parent).is_source
                else f"{'was' if count == 1 else 'were'} never materialized"
            )
            warnings.append(
                f"'{name}' reads all partitions of '{parent}'; {count} of them {never} and "
                f"{'is' if count == 1 else 'are'} left out: {ranges}"
            )
        return warnings


def _check_inputs(
    steps: list[Step],
    pending: Mapping[AssetPartition, Status],
    snapshot: Snapshot,
    chosen: set[str],
) -> None:
    missing: dict[tuple[str, str], tuple[set[str | None], set[str | None]]] = {}
    #: inputs that were materialized, but whose stored output is gone or changed since
    broken: dict[tuple[str, str], Reason] = {}
    for step in steps:
        for key in step.inputs:
            if key in snapshot.broken and key not in pending:
                readers, inputs = missing.setdefault((step.asset, key[0]), (set(), set()))
                readers.add(step.partition)
                inputs.add(key[1])
                broken[(step.asset, key[0])] = snapshot.broken[key]
            elif (
                key not in pending
                and key not in snapshot.latest
                and key not in snapshot.observed
                and key not in snapshot.unavailable
            ):
                readers, inputs = missing.setdefault((step.asset, key[0]), (set(), set()))
                readers.add(step.partition)
                inputs.add(key[1])
    if not missing:
        return
    lines = []
    for (asset, upstream), (readers, inputs) in sorted(missing.items()):
        reader = asset + _keys_text(readers)
        why = "is not selected" if upstream not in chosen else "is not in this run"
        found = broken.get((asset, upstream))
        state = (
            "and was never materialized"
            if found is None
            else f"and its stored output is {found.kind.value.split()[-1]} ({found.render()})"
        )
        lines.append(f"  - '{reader}' reads '{upstream}{_keys_text(inputs)}', which {why} {state}")
    first_asset, first_upstream = min(missing)
    partitioned = any(None not in readers for readers, _ in missing.values())
    raise MissingInputError(
        "cannot run the selection: an input is missing"
        + (" or damaged" if broken else "")
        + ".\n"
        + "\n".join(lines),
        hint=(
            "An input that this run does not build is read from storage, so it must have "
            f"been materialized before. To fix this, add '+' to select the inputs too (e.g. "
            f"`assetflow materialize '+{first_asset}'`), or materialize "
            f"'{first_upstream}' first."
            + (
                " For partitions, widen --from/--to to cover the partitions it reads."
                if partitioned
                else ""
            )
        ),
    )


#: How many partition keys a message lists before it summarises.
_KEYS_SHOWN = 3


def _keys_text(keys: set[str | None]) -> str:
    named = sorted(key for key in keys if key is not None)
    if not named:
        return ""
    if len(named) <= _KEYS_SHOWN:
        return "[" + ", ".join(named) + "]"
    return f"[{named[0]} .. {named[-1]}, {len(named)} partitions]"
