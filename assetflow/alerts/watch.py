"""Incidents nobody's run reports: an asset that is late, and a scheduler that stopped.

`sync_overdue` opens an `overdue` incident, once, for each asset (or day's
partition) found late, and resolves those no longer late (a materialization
resolves them first, in the run that made it; this catches a policy removed or
relaxed). `watch_scheduler` opens `scheduler_down` when the leader's heartbeat is
older than `down_after` (or no scheduler holds the lead while the project needs
one), and resolves it when a heartbeat is fresh again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from assetflow.alerts.incidents import open_or_join, queue_recovered
from assetflow.alerts.routing import Routes
from assetflow.store.alerts import IncidentMember

if TYPE_CHECKING:
    from assetflow.freshness import Overdue
    from assetflow.store import MetadataStore
    from assetflow.store.automation import SchedulerLease

#: The heartbeat age after which the scheduler counts as down.
DOWN_AFTER = timedelta(minutes=5)
#: The subject of the scheduler's incidents.
SCHEDULER = "scheduler"


@dataclass(frozen=True, slots=True)
class Changes:
    """What one look opened and resolved: incident ids."""

    opened: tuple[str, ...] = ()
    resolved: tuple[str, ...] = ()


def sync_overdue(
    store: MetadataStore, routes: Routes, found: Sequence[Overdue], now: datetime
) -> Changes:
    """Open or join an `overdue` incident for each late asset of `found`; resolve the
    members of open ones that `found` no longer holds. One read of the open incidents,
    then writes only for what changed, in one transaction."""
    late: dict[str, list[Overdue]] = defaultdict(list)
    for each in found:
        late[each.asset].append(each)
    opened: list[str] = []
    resolved: list[str] = []
    with store.unit_of_work():
        current = {i.subject: i for i in store.open_incidents(["overdue"])}
        members = (
            store.incident_members([i.incident_id for i in current.values()]) if current else {}
        )
        for asset, entries in late.items():
            incident = current.get(asset)
            held = (
                {
                    m.partition
                    for m in members.get(incident.incident_id, ())
                    if m.resolved_at is None
                }
                if incident
                else set()
            )
            new = [e for e in entries if e.partition not in held]
            if incident is not None and not new:
                continue  # still late, already said
            summary = "; ".join(
                f"{e.rule}: due {e.due_at:%Y-%m-%d %H:%M} UTC"
                + (f" (partition {e.partition})" if e.partition else "")
                for e in entries[:5]
            )
            result = open_or_join(
                store,
                routes,
                "overdue",
                asset,
                [IncidentMember(partition=e.partition, opened_at=e.due_at) for e in new],
                now,
                summary=summary,
                known=incident,
            )
            if incident is None and result is not None:
                opened.append(result.incident_id)
        for asset, incident in current.items():
            still = {e.partition for e in late.get(asset, ())}
            gone = [
                m.partition
                for m in members.get(incident.incident_id, ())
                if m.role == "failed" and m.resolved_at is None and m.partition not in still
            ]
            if not gone:
                continue
            for done in store.resolve_incident_members("overdue", asset, gone, now):
                resolved.append(done.incident_id)
                queue_recovered(store, routes, done, now)
    return Changes(tuple(opened), tuple(resolved))


def watch_scheduler(
    store: MetadataStore,
    routes: Routes,
    lease: SchedulerLease | None,
    now: datetime,
    *,
    needed: bool = True,
    down_after: timedelta = DOWN_AFTER,
) -> Changes:
    """Open `scheduler_down` when the leader's heartbeat is older than `down_after` (or
    none leads while one is `needed`); resolve it when the heartbeat is fresh."""
    alive = lease is not None and now - lease.heartbeat_at <= down_after
    with store.unit_of_work():
        current = store.open_incident_for("scheduler_down", SCHEDULER)
        if alive or not needed:
            if current is None:
                return Changes()
            done = store.resolve_incident(current.incident_id, now)
            if done is None:
                return Changes()
            queue_recovered(store, routes, done, now)
            return Changes(resolved=(done.incident_id,))
        if current is not None:
            return Changes()
        if lease is None:
            summary = "no scheduler is running for this project (none holds the lead)"
        else:
            age = now - lease.heartbeat_at
            summary = (
                f"the scheduler (pid {lease.pid} on {lease.host}) last beat at "
                f"{lease.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC, {_minutes(age)} ago"
            )
        incident = open_or_join(
            store,
            routes,
            "scheduler_down",
            SCHEDULER,
            [IncidentMember(partition="", opened_at=now)],
            now,
            summary=summary,
        )
        return Changes(opened=(incident.incident_id,) if incident else ())


def _minutes(age: timedelta) -> str:
    minutes = int(age.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"
