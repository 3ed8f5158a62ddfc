"""The rebuilder: judge one asset-partition fresh, waiting or stale, with every reason why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple

from assetflow.keys import AssetPartition

# Re-exported: execution/ and why.py still import key_text from here.
from assetflow.keys import key_text as key_text

if TYPE_CHECKING:
    from assetflow.store.records import EventRecord, MaterializationState


class Status(StrEnum):
    """What the planner decided for one asset-partition."""

    FRESH = "fresh"  # will not run
    WAITING = "waiting"  # runs only if an upstream rebuild changes its data
    STALE = "stale"  # will run


class ReasonKind(StrEnum):
    """Why an asset-partition is not fresh."""

    NEVER_MATERIALIZED = "never materialized"
    CODE_CHANGED = "code changed"
    UPSTREAM_CHANGED = "upstream changed"
    UPSTREAM_STALE = "upstream stale"
    LAST_RUN_FAILED = "last run failed"
    FORCED = "forced"
    SOURCE_UNAVAILABLE = "source unavailable"
    CHECK_FAILED = "check failed"
    #: the stored output is gone (deleted or moved away since it was recorded)
    OUTPUT_MISSING = "output missing"
    #: the stored output is not the one recorded (its size, time or rows differ)
    OUTPUT_DAMAGED = "output damaged"


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason an asset-partition must (or may) be rebuilt, as data."""

    kind: ReasonKind
    #: the upstream asset-partition, for upstream reasons ("clean_records" or "x[2026-03-01]")
    upstream: str | None = None
    #: the recorded and the current version (code or data) for "changed" reasons
    old: str | None = None
    new: str | None = None
    #: the run that produced the new upstream data, or the failed run
    run_id: str | None = None
    #: named parts that changed, for "code changed" (e.g. "helper normalise_email")
    details: tuple[str, ...] = ()

    def render(self) -> str:
        """The reason as one line of text, e.g. `upstream changed: raw_records`."""
        text = self.kind.value
        if self.upstream:
            text += f": {self.upstream}"
        if self.details:
            text += f": {', '.join(self.details)}"
        return text


class Verdict(NamedTuple):
    """Whether one asset-partition must be rebuilt, and every reason why.

    A named tuple rather than a frozen dataclass: a plan of a year of daily
    partitions builds hundreds of thousands, and a tuple is built several times
    faster (a frozen dataclass sets each field through object.__setattr__).
    """

    asset: str
    partition: str | None
    status: Status
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the planner knows of the store: the newest materialization and failure per key."""

    latest: Mapping[AssetPartition, MaterializationState] = field(default_factory=dict)
    failures: Mapping[AssetPartition, EventRecord] = field(default_factory=dict)
    #: the current version of each source read, observed at plan time
    observed: Mapping[AssetPartition, str] = field(default_factory=dict)
    #: sources whose observer raised, with the message
    unavailable: Mapping[AssetPartition, str] = field(default_factory=dict)
    #: asset-partitions whose stored data failed blocking checks: the checks' names
    check_failures: Mapping[AssetPartition, tuple[str, ...]] = field(default_factory=dict)
    #: asset-partitions whose stored output is missing or not the one recorded, found by
    #: looking at each (the planner does no I/O): the reason, naming the run that wrote it
    broken: Mapping[AssetPartition, Reason] = field(default_factory=dict)

    def current_version(self, key: AssetPartition) -> str | None:
        """The data version an input has now: observed for a source, else the newest stored."""
        if key in self.observed:
            return self.observed[key]
        latest = self.latest.get(key)
        return latest.data_version if latest is not None else None


def judge(
    key: AssetPartition,
    *,
    code_version: str,
    inputs: tuple[AssetPartition, ...],
    snapshot: Snapshot,
    pending: Mapping[AssetPartition, Status],
    forced: bool = False,
    code_details: tuple[str, ...] = (),
) -> Verdict:
    """Judge one asset-partition.

    Args:
        key: The asset-partition.
        code_version: Its current code version.
        inputs: The upstream asset-partitions it reads.
        snapshot: The store's newest materializations and failures.
        pending: Verdicts already reached for upstream keys in this plan that will
            (STALE) or may (WAITING) run; inputs not in it are taken as stored.
        forced: The user asked to rebuild regardless.
        code_details: Which named code parts changed, when the caller knows.

    Returns:
        The verdict, with every reason.
    """
    asset, partition = key
    if snapshot.unavailable:
        unavailable = tuple(
            Reason(ReasonKind.SOURCE_UNAVAILABLE, upstream=key_text(upstream))
            for upstream in inputs
            if upstream in snapshot.unavailable
        )
        if unavailable:
            return Verdict(asset, partition, Status.STALE, unavailable)
    if forced:
        return Verdict(asset, partition, Status.STALE, (Reason(ReasonKind.FORCED),))
    latest = snapshot.latest.get(key)
    failure = snapshot.failures.get(key) if snapshot.failures else None
    if latest is None:
        reasons = [Reason(ReasonKind.NEVER_MATERIALIZED)]
        if failure is not None:
            reasons.append(Reason(ReasonKind.LAST_RUN_FAILED, run_id=failure.run_id))
        return Verdict(asset, partition, Status.STALE, tuple(reasons))
    failed_checks = snapshot.check_failures.get(key) if snapshot.check_failures else None
    broken = snapshot.broken.get(key) if snapshot.broken else None
    if (
        failure is None
        and failed_checks is None
        and broken is None
        and latest.code_version == code_version
        and _inputs_match(inputs, latest.input_versions, snapshot, pending)
    ):
        return Verdict(asset, partition, Status.FRESH)  # the common case, kept cheap
    own: list[Reason] = [broken] if broken is not None else []
    if failure is not None and failure.at > latest.finished_at:
        own.append(Reason(ReasonKind.LAST_RUN_FAILED, run_id=failure.run_id))
    if failed_checks:
        own.append(Reason(ReasonKind.CHECK_FAILED, details=failed_checks))
    if latest.code_version != code_version:
        own.append(
            Reason(
                ReasonKind.CODE_CHANGED,
                old=latest.code_version,
                new=code_version,
                details=code_details,
            )
        )
    waiting: list[Reason] = []
    for upstream in inputs:
        name = key_text(upstream)
        if upstream in pending:
            waiting.append(Reason(ReasonKind.UPSTREAM_STALE, upstream=name))
            continue
        current = snapshot.latest.get(upstream)
        recorded = latest.input_versions.get(name)
        now_version = snapshot.current_version(upstream)
        if recorded != now_version:
            own.append(
                Reason(
                    ReasonKind.UPSTREAM_CHANGED,
                    upstream=name,
                    old=recorded,
                    new=now_version,
                    run_id=current.run_id if current is not None else None,
                )
            )
    own.extend(_removed_inputs(inputs, latest.input_versions))
    if own:
        return Verdict(asset, partition, Status.STALE, tuple(own + waiting))
    if waiting:
        return Verdict(asset, partition, Status.WAITING, tuple(waiting))
    return Verdict(asset, partition, Status.FRESH)


#: The detail of an UPSTREAM_CHANGED reason whose input is no longer read at all (a
#: dynamic partition key removed since the asset read it).
REMOVED = "removed"


def _removed_inputs(
    inputs: tuple[AssetPartition, ...], recorded: Mapping[str, str]
) -> list[Reason]:
    """An UPSTREAM_CHANGED reason for each input the materialization read that is gone."""
    current = {key_text(upstream) for upstream in inputs}
    return [
        Reason(ReasonKind.UPSTREAM_CHANGED, upstream=name, old=version, details=(REMOVED,))
        for name, version in recorded.items()
        if name not in current
    ]


def _inputs_match(
    inputs: tuple[AssetPartition, ...],
    recorded: Mapping[str, str],
    snapshot: Snapshot,
    pending: Mapping[AssetPartition, Status],
) -> bool:
    """Whether every input is settled and has the data version the materialization read."""
    if len(recorded) != len(inputs):
        return False
    latest, observed = snapshot.latest, snapshot.observed
    for upstream in inputs:
        if upstream in pending:
            return False
        asset, partition = upstream
        name = asset if partition is None else f"{asset}[{partition}]"
        if upstream in observed:
            current: str | None = observed[upstream]
        else:
            state = latest.get(upstream)
            current = state.data_version if state is not None else None
        if recorded.get(name) != current:
            return False
    return True
