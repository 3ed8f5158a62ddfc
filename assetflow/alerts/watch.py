"""Incidents nobody's run reports: an asset that is late, and a scheduler that stopped.

`sync_crashed` opens (or joins) a `run_failed` incident for each step a crashed run
left behind: a run killed outright records nothing itself; the crash sweep of the
next process marks it crashed and its running steps failed, and the next look here
tells of them (the scheduler's cycle, or any command's end).
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

#: Where the crashed runs already told of are remembered (a cursor: the newest one's end).
CRASHED_CURSOR = "alerts:crashed-runs"
#: How far back crashed runs are looked for the first time.
CRASHED_WINDOW = timedelta(days=7)

#: The heartbeat age after which the scheduler counts as down.
DOWN_AFTER = timedelta(minutes=5)
#: The subject of the scheduler's incidents.
SCHEDULER = "scheduler"


@dataclass(frozen=True, slots=True)
class Changes:
    """What one look opened and resolved: incident ids."""

    opened: tuple[str, ...] = ()
    resolved: tuple[str, ...] = ()


def sync_crashed(store: MetadataStore, routes: Routes, now: datetime) -> Changes:
    """Open or join a `run_failed` incident for each step of a crashed run not told of
    yet (runs that crashed after the cursor, within `CRASHED_WINDOW`), and move the
    cursor, in one transaction. A crashed run with no step running is no incident: it
    left nothing to rebuild."""
    from assetflow.store.records import EventKind, RunQuery, RunStatus

    cursor = store.sensor_cursor(CRASHED_CURSOR)
    after = datetime.fromisoformat(cursor) if cursor else now - CRASHED_WINDOW
    query = RunQuery(limit=200, statuses=(RunStatus.CRASHED,), since=now - CRASHED_WINDOW)
    runs = [
        run
        for run in store.find_runs(query)
        if run.finished_at is not None and run.finished_at > after
    ]
    if not runs:
        return Changes()
    opened: list[str] = []
    with store.unit_of_work():
        told = {run.run_id: store.run_events(run.run_id) for run in runs}
        failed = [
            e
            for events in told.values()
            for e in events
            if e.asset is not None and e.kind is EventKind.FAILED
        ]
        # A step materialized since (by the run that swept the crash) is fine again.
        latest = store.latest_states_of({(e.asset, e.partition) for e in failed if e.asset})
        for run in sorted(runs, key=lambda r: r.finished_at or now):
            events = told[run.run_id]
            why = next((e.message for e in events if e.asset is None and e.message), "")
            for event in events:
                if event.asset is None or event.kind is not EventKind.FAILED:
                    continue
                since = latest.get((event.asset, event.partition))
                if since is not None and since.finished_at >= event.at:
                    continue
                member = IncidentMember(
                    partition=event.partition or "", opened_at=event.at, last_run_id=run.run_id
                )
                before = store.open_incident_for("run_failed", event.asset)
                incident = open_or_join(
                    store,
                    routes,
                    "run_failed",
                    event.asset,
                    [member],
                    event.at,
                    summary=f"run {run.run_id[:8]} crashed: {why}\n{event.message or ''}".strip(),
                    run_id=run.run_id,
                    known=before,
                    looked=True,
                )
                if before is None and incident is not None:
                    opened.append(incident.incident_id)
        newest = max(run.finished_at or now for run in runs)
        store.save_sensor_evaluation(CRASHED_CURSOR, newest.isoformat(), [])
    return Changes(opened=tuple(opened))


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
