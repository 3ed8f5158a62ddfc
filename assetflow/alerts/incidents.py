"""Incidents, not messages: a run's failures open incidents and queue their alerts.

`IncidentRecorder` is a run listener with `recorded()`: it hears each batch of
records the coordinator writes, inside the transaction that writes it, so that an
incident and the alerts in its outbox commit with the failed step that caused them
(or not at all). The rules (docs/alerts.md):

- a step that fails after its retries opens a `run_failed` incident about its asset,
  with the partition as a member; a retried attempt that then succeeds opens none
  (the coordinator records a step's retries and its end in one batch);
- the same asset failing again while its incident is open (another partition of a
  backfill, the next scheduled run) joins it: the partition is added, or its
  failure count goes up, and nothing new is queued;
- a step skipped because an upstream failed joins the upstream's incident as a
  skipped member (written once, when the run ends: a skip is what the message
  adds as context, and writing each on its own cost a run with many skips more
  than the rest of alerting);
- a failed check of error severity opens a `check_failed` incident the same way;
- a materialization resolves the partition's members of `run_failed` and
  `overdue` incidents (and of `check_failed`, when its checks passed); an incident
  whose failed members are all resolved is resolved, and a `recovered` alert goes to
  each destination that was told it opened and asked for `recovered`.

An alert queued for a run's incident is held until that run ends, so that a
backfill whose 30 partitions fail sends one message listing them as ranges.
"""

from __future__ import annotations

import contextlib
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from assetflow.alerts.routing import Routes
from assetflow.errors import StoreError
from assetflow.keys import AssetPartition
from assetflow.store.alerts import (
    AlertRecord,
    IncidentAlreadyOpen,
    IncidentKind,
    IncidentMember,
    IncidentRecord,
)
from assetflow.store.records import EventKind

if TYPE_CHECKING:
    from assetflow.execution.listeners import Recorded
    from assetflow.execution.results import RunResult, StepResult
    from assetflow.planner.plan import Plan, Step
    from assetflow.store import CheckRecord, MetadataStore

#: How much of an error an incident keeps: its first lines, cut to this many characters.
SUMMARY_LINES = 10
SUMMARY_CHARS = 2000


def first_lines(text: str, lines: int = SUMMARY_LINES, chars: int = SUMMARY_CHARS) -> str:
    """The first `lines` lines of `text`, at most `chars` characters, marked when cut."""
    kept = text.strip().splitlines()
    cut = "\n".join(kept[:lines])
    if len(cut) > chars:
        cut = cut[: chars - 1].rstrip() + "…"
    elif len(kept) > lines:
        cut += "\n…"
    return cut


def queue_opened(
    store: MetadataStore,
    routes: Routes,
    incident: IncidentRecord,
    at: datetime,
    *,
    hold_run_id: str | None = None,
) -> list[str]:
    """Queue the alert that `incident` opened to every destination that hears its kind
    about its subject; a destination already told is left alone (the outbox's key is
    unique). Returns the destinations queued now."""
    subject = None if incident.kind == "scheduler_down" else incident.subject
    names = routes.destinations(incident.kind, subject)
    rows = [
        AlertRecord(
            alert_id=0,
            destination=name,
            incident_id=incident.incident_id,
            event=incident.kind,
            created_at=at,
            hold_run_id=hold_run_id,
        )
        for name in names
    ]
    queued = store.queue_alerts(rows) if rows else []
    return [name for name, now in zip(names, queued, strict=True) if now]


def queue_recovered(
    store: MetadataStore, routes: Routes, incident: IncidentRecord, at: datetime
) -> list[str]:
    """Queue `recovered` for a resolved incident: to each destination that was told it
    opened and asks for `recovered`. Returns the destinations queued now."""
    subject = None if incident.kind == "scheduler_down" else incident.subject
    wanted = set(routes.destinations("recovered", subject))
    told = {
        alert.destination
        for alert in store.alerts(incident_id=incident.incident_id, limit=1000)
        if alert.event != "recovered"
    }
    names = sorted(wanted & told)
    rows = [
        AlertRecord(
            alert_id=0,
            destination=name,
            incident_id=incident.incident_id,
            event="recovered",
            created_at=at,
        )
        for name in names
    ]
    queued = store.queue_alerts(rows) if rows else []
    return [name for name, now in zip(names, queued, strict=True) if now]


def open_or_join(
    store: MetadataStore,
    routes: Routes,
    kind: IncidentKind,
    subject: str,
    members: Sequence[IncidentMember],
    at: datetime,
    *,
    summary: str = "",
    run_id: str | None = None,
    known: IncidentRecord | None = None,
    looked: bool = False,
    opens: bool = True,
    queue: bool = True,
) -> IncidentRecord | None:
    """Add `members` to the open incident of `kind` about `subject`, or open one and
    queue its alerts. `known` is that open incident when the caller knows it already.
    With `looked`, `known` is the caller's fresh reading (None: none is open), so the
    store is not asked again. With `opens` false nothing new is opened (a run with
    `--no-alerts`): members join an incident that is open already, and None is
    returned otherwise. With `queue` false, joining queues nothing (the caller
    queued this incident's alerts already)."""
    current = known if (known is not None or looked) else store.open_incident_for(kind, subject)
    if current is not None:
        try:
            store.add_incident_members(current.incident_id, members, at)
        except StoreError:
            # Resolved meanwhile (by another process's run): this failure is new.
            current = None
        else:
            if not queue:
                return current
    if current is None:
        if not opens:
            return None
        incident = IncidentRecord(
            incident_id=uuid.uuid4().hex,
            kind=kind,
            subject=subject,
            opened_at=at,
            last_seen_at=at,
            summary=summary,
            run_id=run_id,
        )
        try:
            store.open_incident(incident, members)
        except IncidentAlreadyOpen:
            # Another process opened it a moment ago: join that one.
            current = store.open_incident_for(kind, subject)
            if current is None:  # and resolved it meanwhile: open ours after all
                store.open_incident(incident, members)
                current = incident
            else:
                store.add_incident_members(current.incident_id, members, at)
        else:
            current = incident
    if opens:
        # A destination configured since the incident opened hears of it now; the
        # others were told already (the outbox key is unique).
        queue_opened(store, routes, current, at, hold_run_id=run_id)
    return current


@dataclass
class IncidentRecorder:
    """Opens, joins and resolves incidents from a run's records (see the module doc)."""

    routes: Routes
    #: False for `--no-alerts`: the run opens no incident and queues no alert for one;
    #: what it fixes is still resolved, and `recovered` still goes out
    opens: bool = True
    _run_id: str = ""
    _inputs: dict[AssetPartition, tuple[AssetPartition, ...]] = field(default_factory=dict)
    #: open incidents by (kind, subject), read once per run on its first batch
    _open: dict[tuple[str, str], IncidentRecord] | None = None
    #: the incidents each failed or blocked step of this run belongs to
    _causes: dict[AssetPartition, set[str]] = field(default_factory=lambda: defaultdict(set))
    #: the incidents whose alerts this run queued already
    _queued: set[str] = field(default_factory=set)
    #: skipped members by incident, written when the run ends
    _skips: dict[str, list[IncidentMember]] = field(default_factory=lambda: defaultdict(list))
    _store: MetadataStore | None = None

    # -- RunListener -------------------------------------------------------------------

    def run_started(self, run_id: str, plan: Plan) -> None:
        self._run_id = run_id
        self._inputs = {step.key: tuple(step.inputs) for step in plan.steps}
        self._open = None
        self._causes.clear()
        self._queued.clear()
        self._skips.clear()

    def step_started(self, step: Step) -> None:
        pass

    def step_waiting(self, step: Step, message: str) -> None:
        pass

    def step_finished(self, result: StepResult) -> None:
        pass

    def run_finished(self, result: RunResult) -> None:
        """Write the skipped members of this run's incidents, in one transaction."""
        store, skips = self._store, dict(self._skips)
        self._skips.clear()
        if store is None or not skips:
            return
        with store.unit_of_work():
            for incident_id, members in skips.items():
                at = max(member.opened_at for member in members)
                # An incident resolved meanwhile keeps the skips it had.
                with contextlib.suppress(StoreError):
                    store.add_incident_members(incident_id, members, at)

    # -- recording ---------------------------------------------------------------------

    def recorded(self, batch: Recorded, store: MetadataStore) -> None:
        """Open, join or resolve incidents for one batch, inside its transaction."""
        self._store = store
        if self._open is None:
            self._open = {(i.kind, i.subject): i for i in store.open_incidents()}
        run_id = batch.run_id or self._run_id
        failed_checks, passed_checks = _checks_by_key(batch.checks)
        for event in batch.events:
            if event.asset is None:
                continue
            key = (event.asset, event.partition)
            if event.kind is EventKind.FAILED:
                self._fail(store, "run_failed", key, event.at, event.message or "", run_id)
            elif event.kind is EventKind.SKIPPED:
                self._skipped(store, key, event.at, run_id)
            elif event.kind is EventKind.MATERIALIZED:
                self._resolve(store, ("run_failed", "overdue"), key, event.at)
        for key, checks in failed_checks.items():
            message = "\n".join(f"{c.check}: {c.message}".rstrip(": ") for c in checks)
            self._fail(store, "check_failed", key, checks[0].at, message, run_id)
        for key, at in passed_checks.items():
            if key not in failed_checks:
                self._resolve(store, ("check_failed",), key, at)

    def _fail(
        self,
        store: MetadataStore,
        kind: IncidentKind,
        key: AssetPartition,
        at: datetime,
        message: str,
        run_id: str,
    ) -> None:
        assert self._open is not None
        asset, partition = key
        member = IncidentMember(partition=partition or "", opened_at=at, last_run_id=run_id)
        incident = open_or_join(
            store,
            self.routes,
            kind,
            asset,
            [member],
            at,
            summary=first_lines(message),
            run_id=run_id,
            known=self._open.get((kind, asset)),
            looked=True,
            opens=self.opens,
            queue=self._open.get((kind, asset), None) is None
            or self._open[(kind, asset)].incident_id not in self._queued,
        )
        if incident is not None:
            self._open[(kind, asset)] = incident
            self._causes[key].add(incident.incident_id)
            if self.opens:
                self._queued.add(incident.incident_id)

    def _skipped(
        self, store: MetadataStore, key: AssetPartition, at: datetime, run_id: str
    ) -> None:
        causes = set().union(*(self._causes.get(each, set()) for each in self._inputs.get(key, ())))
        if not causes:
            return  # skipped for another reason (inputs unchanged, done meanwhile)
        asset, partition = key
        member = IncidentMember(
            partition=partition or "",
            opened_at=at,
            last_run_id=run_id,
            role="skipped",
            asset=asset,
        )
        for incident_id in sorted(causes):
            self._skips[incident_id].append(member)
        self._causes[key] |= causes

    def _resolve(
        self, store: MetadataStore, kinds: Iterable[IncidentKind], key: AssetPartition, at: datetime
    ) -> None:
        assert self._open is not None
        asset, partition = key
        for kind in kinds:
            if (kind, asset) not in self._open:
                continue
            # A freshness incident is about the asset as a whole (""): any partition
            # materialized makes it fresh again.
            partitions = {partition or "", ""}
            for resolved in store.resolve_incident_members(kind, asset, partitions, at):
                self._open.pop((kind, asset), None)
                queue_recovered(store, self.routes, resolved, at)


def _checks_by_key(
    checks: Collection[CheckRecord],
) -> tuple[dict[AssetPartition, list[CheckRecord]], dict[AssetPartition, datetime]]:
    """The failed checks of error severity by asset-partition, and when the others
    were checked."""
    failed: dict[AssetPartition, list[CheckRecord]] = defaultdict(list)
    checked: dict[AssetPartition, datetime] = {}
    for check in checks:
        key = (check.asset, check.partition)
        if not check.passed and check.severity == "error":
            failed[key].append(check)
        checked[key] = check.at
    return dict(failed), checked
