"""Declarative automation: which automated assets are due, by the planner's own verdicts.

`@asset(automation="eager")` runs an asset-partition when an upstream of it was
updated and it is stale; `automation="missing"` fills the partitions that are due
and never materialized; `automation=on_cron("0 * * * *")` runs an asset once per
cron interval, as soon as every upstream was updated since the tick that began it. "Stale"
is what `assetflow plan` says, because the verdicts come from the same planner.
The assets due in one evaluation run as one run, in dependency order.

An asset whose last attempt failed is not retried by `eager` or `missing` until
something changes upstream and it is run again by hand or by a schedule, so that
a broken asset does not start a failing run every cycle.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from assetflow.request import PartitionRequest, RunRequest

if TYPE_CHECKING:
    from assetflow.clock import Clock
    from assetflow.policies import AutomationPolicy
    from assetflow.project import Project
    from assetflow.store.base import MetadataStore

#: The origin of automation runs' ticks; on_cron assets also get `automation:NAME` ticks.
ORIGIN = "automation"


@dataclass(frozen=True, slots=True)
class AutomationDue:
    """The automated assets due now, why, and the cron ticks they consume."""

    #: due assets, in dependency order
    assets: tuple[str, ...] = ()
    #: asset -> why it is due
    reasons: Mapping[str, str] = field(default_factory=dict)
    #: (asset, cron instant) of each on_cron asset that became due
    cron_ticks: tuple[tuple[str, datetime], ...] = ()
    #: the range of the due partitions (None: the assets due are unpartitioned). The
    #: run is asked for these keys, not for "every complete partition": the run's clock
    #: may be later than the one the partitions were found due by (a replay, `--now`).
    partitions: PartitionRequest | None = None

    def request(self, now: datetime) -> RunRequest | None:
        """The one run that materializes them all (None when nothing is due)."""
        if not self.assets:
            return None
        return RunRequest.of(
            " ".join(self.assets),
            partitions=self.partitions,
            redo=("missing", "stale"),
            trigger=ORIGIN,
            run_key=f"{ORIGIN}@{now.isoformat()}",
            tags={"automation": ",".join(self.assets)},
        )


def due_assets(
    project: Project,
    store: MetadataStore,
    policies: Mapping[str, AutomationPolicy],
    clock: Clock,
    *,
    in_progress: Collection[str] = (),
    cron_ticks_recorded: Collection[tuple[str, datetime]] = (),
) -> AutomationDue:
    """The automated assets due at the clock's now.

    Args:
        project: The loaded project.
        store: The metadata store.
        policies: Each automated asset's policy.
        clock: The clock (its now decides which partitions are due).
        in_progress: Assets a run of the scheduler is materializing now (not due again).
        cron_ticks_recorded: (asset, cron instant) pairs already consumed.
    """
    from assetflow.planner.staleness import ReasonKind, Status
    from assetflow.policies import Eager, Missing, OnCron
    from assetflow.services.planning import make_plan

    now = clock.now()
    reasons: dict[str, str] = {}
    #: the partitions found due, by asset, and the project whose dynamic keys are bound
    due_keys: dict[str, list[str]] = {}
    bound = project
    planned = [
        name
        for name, policy in policies.items()
        if isinstance(policy, (Eager, Missing)) and name not in in_progress
    ]
    if planned:
        context = make_plan(
            project,
            store,
            RunRequest.of(" ".join(sorted(planned))),
            clock=clock,
            check_inputs=False,
        )
        bound = context.project
        for step in context.plan.steps:
            policy = policies.get(step.asset)
            kinds = {reason.kind for reason in step.reasons}
            if ReasonKind.LAST_RUN_FAILED in kinds:
                continue
            if (
                isinstance(policy, Eager)
                and step.status is Status.STALE
                and (ReasonKind.UPSTREAM_CHANGED in kinds)
            ):
                reasons.setdefault(step.asset, "eager: an upstream was updated")
            elif isinstance(policy, Missing) and ReasonKind.NEVER_MATERIALIZED in kinds:
                reasons.setdefault(step.asset, "missing: a due partition was never materialized")
            else:
                continue
            if step.partition is not None:
                due_keys.setdefault(step.asset, []).append(step.partition)
    crons: list[tuple[str, datetime]] = []
    cron_assets = {
        name: policy
        for name, policy in policies.items()
        if isinstance(policy, OnCron) and name not in in_progress
    }
    if cron_assets:
        crons = _cron_due(project, store, cron_assets, now, set(cron_ticks_recorded))
        for name, instant in crons:
            reasons[name] = (
                "on_cron: its upstreams were all updated since the tick at "
                f"{instant:%Y-%m-%d %H:%M} UTC"
            )
    if not reasons:
        return AutomationDue()
    # The eager assets downstream of a due one run with it (they wait for its data and
    # are cut off early when it does not change).
    graph = project.graph
    for name in list(reasons):
        for child in graph.downstream(name):
            if isinstance(policies.get(child), Eager) and child not in in_progress:
                reasons.setdefault(child, f"eager: its upstream {name} runs now")
    ordered = tuple(graph.topological_order(reasons))
    return AutomationDue(ordered, reasons, tuple(crons), _key_range(bound, ordered, due_keys))


def _key_range(
    project: Project, ordered: tuple[str, ...], due_keys: Mapping[str, list[str]]
) -> PartitionRequest | None:
    """The range, in the first due partitioned asset's partitions, from the oldest to the
    newest due key of the assets that share them; None when no due step is partitioned.

    One run takes one range: assets partitioned otherwise follow it as a run with a range
    does (time windows that overlap it, or the same keys). A due partition left out
    is still due at the next evaluation, and runs then.
    """
    graph = project.graph
    first = next((name for name in ordered if due_keys.get(name)), None)
    if first is None:
        return None
    reference = graph.spec(first).partitions
    assert reference is not None
    keys = {
        key
        for name in ordered
        if graph.spec(name).partitions == reference
        for key in due_keys.get(name, ())
    }
    positions = sorted(reference.index(key) for key in keys)
    return PartitionRequest(reference.key_at(positions[0]), reference.key_at(positions[-1]))


def _cron_due(
    project: Project,
    store: MetadataStore,
    assets: Mapping[str, AutomationPolicy],
    now: datetime,
    recorded: set[tuple[str, datetime]],
) -> list[tuple[str, datetime]]:
    from assetflow.automation.cadence import cron_cadence

    graph = project.graph
    due = []
    for name, policy in assets.items():
        cadence = cron_cadence(policy.cron, policy.timezone)  # type: ignore[union-attr]
        # The interval that began at the latest tick: due once in it, as soon as every
        # upstream was updated after that tick. (An update counts for one interval only:
        # one that came after the tick before it would run the asset twice.)
        tick = cadence.previous_tick(now)
        if tick is None or (name, tick) in recorded:
            continue
        parents = [p for p in graph.parents(name) if not graph.spec(p).is_source]
        latest = store.latest_materializations(parents) if parents else {}
        newest: dict[str, datetime] = {}
        for (asset, _), record in latest.items():
            if asset not in newest or record.finished_at > newest[asset]:
                newest[asset] = record.finished_at
        if all(p in newest and newest[p] > tick for p in parents):
            due.append((name, tick))
    return due
