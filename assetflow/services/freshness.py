"""Which assets are late: their freshness and deadline policies judged against the store.

Two bulk reads answer for all of them: `latest_states` of the assets whose newest
materialization counts (a freshness policy, or a deadline on an asset without daily
or hourly partitions), and `latest_states_of` the partitions due by a deadline on
daily or hourly partitions (only the day's, not the asset's whole history). A
freshness policy on a partitioned asset reads every partition's newest row of it. A
project whose assets declare no policy reads nothing. The rules are in
`assetflow.freshness`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from assetflow.freshness import FreshnessPolicy, Overdue, evaluate, needed_reads

if TYPE_CHECKING:
    from datetime import datetime

    from assetflow.partitions.base import PartitionsDefinition
    from assetflow.project import Project
    from assetflow.store.base import MetadataStore

#: (asset, its policy, its partitions), what `evaluate` takes
PolicyRow = tuple[str, FreshnessPolicy, "PartitionsDefinition | None"]


def policies(project: Project, assets: Collection[str] | None = None) -> list[PolicyRow]:
    """The assets with a freshness or deadline policy (of `assets`, when given), by name."""
    wanted = None if assets is None else set(assets)
    found: list[PolicyRow] = []
    for spec in project.graph.specs():
        if wanted is not None and spec.name not in wanted:
            continue
        if spec.freshness_policy is not None and not spec.is_source:
            found.append((spec.name, spec.freshness_policy, spec.partitions))
    return found


def overdue(
    project: Project,
    store: MetadataStore,
    now: datetime,
    assets: Collection[str] | None = None,
) -> list[Overdue]:
    """The assets (of `assets`, else all) that are late at `now` by their policies.

    Reads the store at most twice (see the module docstring), not at all when no asset
    has a policy.
    """
    rows = policies(project, assets)
    if not rows:
        return []
    whole, keys = needed_reads(rows, now)
    latest = store.latest_states(whole) if whole else {}
    if keys:
        latest.update(store.latest_states_of(keys))
    return evaluate(rows, latest, now)


def late(
    project: Project,
    assets: Collection[str] | None = None,
    *,
    store: MetadataStore | None = None,
    now: datetime | None = None,
) -> list[Overdue]:
    """`overdue` on the project's own store (opened for reading, only when one of
    `assets` has a policy) at `now` (default: the clock's now): what `plan` shows."""
    from datetime import UTC
    from datetime import datetime as instant

    from assetflow.services.stores import project_store

    if not policies(project, assets):
        return []
    with project_store(project, store, reading=True) as opened:
        return overdue(project, opened, now or instant.now(UTC), assets)
