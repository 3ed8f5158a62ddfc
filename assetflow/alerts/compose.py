"""What an alert says, composed from its incident as the store holds it at sending time.

An alert held until its run ended is composed after the run: the partitions that
joined the incident meanwhile are all in it, as ranges.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from assetflow.alerts.message import AlertMessage, AssetPartitions

if TYPE_CHECKING:
    from assetflow.graph import AssetGraph
    from assetflow.store.alerts import IncidentMember, IncidentRecord

_TITLES = {
    "run_failed": "{subject} failed",
    "check_failed": "a check of {subject} failed",
    "overdue": "{subject} is overdue",
    "scheduler_down": "the scheduler is down",
}
_RECOVERED = {
    "run_failed": "{subject} recovered",
    "check_failed": "the checks of {subject} pass again",
    "overdue": "{subject} is fresh again",
    "scheduler_down": "the scheduler is back",
}


def ranges(graph: AssetGraph | None, asset: str, partitions: Sequence[str]) -> tuple[str, ...]:
    """Partition keys as ranges in the asset's key order: ("2026-01-01..2026-01-30", ...)."""
    keys = sorted({p for p in partitions if p})
    if not keys:
        return ()
    definition = graph.spec(asset).partitions if graph is not None and asset in graph else None
    if definition is None:
        return tuple(keys)
    from assetflow.partitions import compact

    known = [key for key in keys if definition.has_key(key)]
    gone = [key for key in keys if not definition.has_key(key)]
    # Machine-readable ranges: `first..last` (the message says how many there are).
    runs = compact(known, definition)
    return (*(p.first if p.count == 1 else f"{p.first}..{p.last}" for p in runs), *gone)


def compose(
    event: str,
    incident: IncidentRecord,
    members: Sequence[IncidentMember],
    *,
    project: str,
    graph: AssetGraph | None = None,
    ui_url: str | None = None,
    now: datetime | None = None,
) -> AlertMessage:
    """The message of one alert (`event`: the incident's kind, or "recovered")."""
    failed = [m for m in members if m.role == "failed"]
    skipped_by_asset: dict[str, list[str]] = defaultdict(list)
    for member in members:
        if member.role == "skipped":
            skipped_by_asset[member.asset].append(member.partition)
    subject = incident.subject
    about_asset = incident.kind != "scheduler_down"
    assets = (
        (AssetPartitions(subject, ranges(graph, subject, [m.partition for m in failed])),)
        if about_asset
        else ()
    )
    count = len({m.partition for m in failed if m.partition})
    titles = _RECOVERED if event == "recovered" else _TITLES
    title = titles[incident.kind].format(subject=subject)
    if count > 1:
        title += f" ({count} partitions)"
    elif count == 1 and about_asset:
        title += f" ({failed[0].partition})"
    overdue_by = None
    if incident.kind == "overdue" and event != "recovered" and now is not None:
        # A member's opened_at is when it became due, not when it was noticed.
        due = min((m.opened_at for m in failed), default=incident.opened_at)
        overdue_by = max((now - due).total_seconds(), 0.0)
    run_id = incident.run_id
    logs = None
    if run_id and incident.kind == "run_failed":
        logs = f"assetflow logs {run_id[:8]} --asset {subject}"
    link = None
    if ui_url:
        link = ui_url.rstrip("/") + f"/incidents/{incident.incident_id}"
    return AlertMessage(
        event=event,
        incident_id=incident.incident_id,
        incident_kind=incident.kind,
        project=project,
        title=title,
        assets=assets,
        skipped=tuple(
            AssetPartitions(asset, ranges(graph, asset, partitions))
            for asset, partitions in sorted(skipped_by_asset.items())
        ),
        run_id=run_id,
        error=incident.summary,
        opened_at=incident.opened_at,
        resolved_at=incident.resolved_at if event == "recovered" else None,
        occurrences=incident.occurrences,
        overdue_by_s=overdue_by,
        logs_command=logs,
        ui_url=link,
    )
