"""The scheduler: evaluate every schedule and sensor, record ticks, start their runs.

`Scheduler.cycle()` is one evaluation at the clock's `now`: it records every due
tick (a run to start, or a skip with its reason) before starting anything, then
hands the runs to the `Launcher`. `serve()` is the daemon: it leads through a
lease in the store (one leader per store; others stand by), resolves the ticks a
previous leader left between "recorded" and "started", and sleeps until the next
due instant, so it uses no CPU while idle. `run_once()` is `scheduler --once`.

A tick moves from `claimed` (recorded, with the id its run will have) to
`started` once the run is recorded, so a crash between the two is found on the
next start: the run is there (the tick is linked) or not (the tick is retried,
once).
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from assetflow.automation.launcher import Launcher, Log
from assetflow.automation.ticking import TickDecision, due_ticks, tick_label
from assetflow.errors import UsageError
from assetflow.store.automation import OriginState, TickRecord

if TYPE_CHECKING:
    from assetflow.alerts.setup import Alerting
    from assetflow.asset import AssetSpec
    from assetflow.automation.loading import Automation
    from assetflow.clock import Clock
    from assetflow.project import Project
    from assetflow.store.automation import SchedulerLease
    from assetflow.store.base import MetadataStore

#: The reason a tick carries while it is retried after a scheduler stopped between
#: recording it and starting its run.
RETRIED = "retried: a scheduler stopped between recording this tick and starting its run"
#: The reason a tick carries when it was queued, not started, as a scheduler stopped
#: cleanly: the next scheduler starts it, and that is no retry after a crash.
QUEUED_AT_STOP = "queued when a scheduler stopped; the next scheduler started it"
#: The longest the daemon sleeps between two looks at the store (a pause, a resume,
#: a cancel or a standby's lease are noticed within this).
MAX_SLEEP_S = 5.0
#: How far ahead of the real time a clock may be and still start runs (clock skew).
_FUTURE_SLACK = timedelta(minutes=1)


@dataclass
class CycleReport:
    """What one cycle did."""

    now: datetime
    decisions: list[TickDecision] = field(default_factory=list)
    #: ticks recorded by this cycle (False where another scheduler had recorded it)
    recorded: list[tuple[TickRecord, bool]] = field(default_factory=list)
    #: when something next falls due
    next_due: datetime | None = None


#: How often the scheduler looks for late assets and a lost leader, and delivers alerts.
WATCH_INTERVAL_S = 10.0


def _no_log(event: str, **fields: Any) -> None:
    pass


def _run_listeners(project: Project, alerting: Alerting | None) -> Callable[[], list[Any]] | None:
    """What hears each run the scheduler starts: the alerts' incident recorder and the
    OpenLineage recorder, made per run (a wrong [tool.assetflow.openlineage] stops the
    scheduler now, before its first run)."""
    from assetflow.openlineage.setup import lineage_recorder
    from assetflow.services.stores import project_store

    if alerting is None and lineage_recorder(project) is None:
        return None

    def listeners() -> list[Any]:
        lineage = lineage_recorder(project, open_store=lambda: project_store(project))
        return [
            *([alerting.recorder()] if alerting is not None else []),
            *([lineage] if lineage is not None else []),
        ]

    return listeners


class Scheduler:
    """The one process that starts runs on its own, for one project and store."""

    def __init__(
        self,
        project: Project,
        automation: Automation,
        store: MetadataStore,
        clock: Clock,
        *,
        run_clock: Clock | None = None,
        log: Log = _no_log,
        replay: bool = False,
        alerting: Alerting | None = None,
    ) -> None:
        from assetflow.clock import SystemClock

        self.project = project
        self.automation = automation
        self.store = store
        self.clock = clock
        self.log = log
        #: `--now`: evaluate as if it were the clock's instant, recording no first-seen
        #: time (see `states`)
        self.replay = replay
        #: the project's alert destinations: the runs record their incidents, and each
        #: cycle looks for late assets, watches the leader and delivers the outbox
        self.alerting = alerting
        self._watched: float | None = None
        #: [tool.assetflow.openlineage], and when this process last sent its outbox
        from assetflow.openlineage.setup import lineage_settings

        self._lineage = lineage_settings(project)
        self._lineage_sent: float | None = None
        self.holder = uuid.uuid4().hex
        self.wake = threading.Event()
        self.stopping = threading.Event()
        #: when each sensor was last evaluated by this process (all are due at start)
        self._sensed: dict[str, datetime] = {}
        #: when the automation policies were last evaluated
        self._automated: datetime | None = None
        self.real_clock = run_clock or SystemClock()
        from assetflow.services.planning import dynamic_names

        #: the dynamic partitions the project's assets use (a sensor adds keys to these)
        self._dynamic = sorted(dynamic_names(project.graph))
        self.launcher = Launcher(
            project,
            run_clock=self.real_clock,
            global_cap=automation.settings.max_concurrent_runs,
            caps={t.origin: t.schedule.max_concurrent_runs for t in automation.schedules},
            log=log,
            wake=self.wake,
            listeners=_run_listeners(project, alerting),
        )

    # -- one cycle ---------------------------------------------------------------

    def states(self, now: datetime) -> dict[str, OriginState]:
        """Record the schedules and sensors seen now; what the store keeps of each.

        A replay (`--now`) records no first-seen time: a schedule it evaluates is
        taken as seen by the replayed instant at the latest, so the replayed tick
        is due, and the ticks between it and the real time are not made "missed"
        for the next real scheduler to catch up on.
        """
        seen: dict[str, str | None] = {
            t.origin: t.schedule.fingerprint for t in self.automation.schedules
        }
        if not self.replay:
            return self.store.see_origins(seen, min(now, self.real_clock.now()))
        states = self.store.origin_states()
        for origin, fingerprint in seen.items():
            # Seen first now; a schedule seen later than the replayed instant starts
            # at that instant all the same (`ticking.default_start`).
            states.setdefault(origin, OriginState(origin, now, fingerprint=fingerprint))
        return states

    def _check_replay(self) -> None:
        """Refuse to evaluate a future instant for real.

        Raises:
            UsageError: The clock is ahead of the real time.
        """
        now, real = self.clock.now(), self.real_clock.now()
        if not self.replay or now - real <= _FUTURE_SLACK:
            return
        raise UsageError(
            f"--now {now.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ} is in the future, so the "
            "scheduler would record ticks that have not happened yet, and they would not "
            "run when they do.",
            hint="To see what would run then, use `assetflow scheduler --dry-run --now ...` "
            "(it starts and records nothing). `--once --now` replays past instants.",
        )

    def cycle(self) -> CycleReport:
        """Evaluate every schedule at the clock's now: record each due tick, start runs."""
        now = self.clock.now().astimezone(UTC)
        report = CycleReport(now)
        self.launcher.settle(self.store, now)
        states = self.states(now)
        schedules = self.automation.schedules
        newest = self.store.latest_ticks([t.origin for t in schedules])
        records: list[TickRecord] = []
        for target in schedules:
            decisions = due_ticks(target, states[target.origin], newest.get(target.origin), now)
            runs = 0  # this cycle's runs of the schedule so far (catch-up)
            for decision in decisions:
                decision = self._overlap(target.schedule.overlap, decision, runs)
                runs += decision.action == "run"
                report.decisions.append(decision)
                records.append(_record(decision, now))
        if records:
            self._claim(records, report)
        self._sensors(now, report)
        self._automation(now, report)
        self.launcher.pump()
        self.watch()
        self.send_lineage()
        report.next_due = self.next_due(now, states)
        return report

    # -- alerts ------------------------------------------------------------------

    def watch(self, lease: SchedulerLease | None = None, *, leading: bool = True) -> None:
        """Alerts' share of a cycle: tell of crashed runs' steps and open or resolve
        `overdue` incidents (the leader),
        `scheduler_down` (the leader resolves it; a standby opens it when the
        leader's heartbeat is older than 5 minutes), then deliver the outbox. At most
        once every `WATCH_INTERVAL_S`; never in a replay (`--now`), whose instant is
        not now; an error is logged, never fatal."""
        alerting = self.alerting
        if alerting is None or self.replay:
            return
        moment = time.monotonic()
        if self._watched is not None and moment - self._watched < WATCH_INTERVAL_S:
            return
        self._watched = moment
        from assetflow.alerts.watch import sync_crashed, sync_overdue, watch_scheduler

        now = self.real_clock.now().astimezone(UTC)
        try:
            if leading:
                from assetflow.services.freshness import overdue

                sync_crashed(self.store, alerting.routes, now)
                late = overdue(self.project, self.store, now)
                changes = sync_overdue(self.store, alerting.routes, late, now)
                if changes.opened or changes.resolved:
                    self.log("overdue", opened=len(changes.opened), resolved=len(changes.resolved))
            # A leader cycling is the scheduler alive: it resolves `scheduler_down`.
            down = watch_scheduler(self.store, alerting.routes, lease, now, needed=not leading)
            if down.opened:
                self.log("scheduler_down", heartbeat=lease.heartbeat_at if lease else None)
            report = alerting.deliver(self.store, now=self.real_clock.now, budget_s=5.0)
        except Exception as error:  # alerts must never stop the scheduler
            self.log("alerts_failed", error=f"{type(error).__name__}: {error}")
            return
        if report.attempted:
            self.log(
                "alerts",
                sent=report.sent,
                retrying=report.retrying,
                failed=report.failed + report.undeliverable,
            )

    def send_lineage(self) -> None:
        """Send the OpenLineage events waiting in the outbox (those whose retry time has
        come), at most once every `WATCH_INTERVAL_S`, for at most 2 s; never in a
        replay; an error is logged, never fatal."""
        if self._lineage is None or self.replay:
            return
        moment = time.monotonic()
        if self._lineage_sent is not None and moment - self._lineage_sent < WATCH_INTERVAL_S:
            return
        self._lineage_sent = moment
        from assetflow.openlineage.setup import send_pending

        try:
            report = send_pending(self.store, self._lineage, budget_s=2.0, force=False)
        except Exception as error:  # lineage must never stop the scheduler
            self.log("lineage_failed", error=f"{type(error).__name__}: {error}")
            return
        if report.sent or report.error:
            self.log("lineage", sent=report.sent, pending=report.pending, error=report.error)

    # -- declarative automation -------------------------------------------------

    def _automation(self, now: datetime, report: CycleReport) -> None:
        """Every `automation_interval`: the automated assets the planner finds due run
        as one run, unless the previous automation run is still going."""
        from assetflow.automation.automated import ORIGIN, due_assets

        policies = self.automation.policies
        interval = timedelta(seconds=self.automation.settings.automation_interval)
        if not policies or (self._automated is not None and now - self._automated < interval):
            return
        if self.launcher.running(ORIGIN) or self.launcher.queued(ORIGIN):
            return
        self._automated = now
        recorded = {
            (origin.partition(":")[2], tick.scheduled_at)
            for origin, tick in self.store.latest_ticks(
                [f"{ORIGIN}:{name}" for name in policies]
            ).items()
        }
        try:
            due = due_assets(
                self.project,
                self.store,
                policies,
                self.clock,
                in_progress=self._materializing(),
                cron_ticks_recorded=recorded,
            )
        except Exception as error:  # a planning error is recorded, never fatal
            record = TickRecord(
                origin=ORIGIN,
                scheduled_at=now,
                evaluated_at=now,
                status="failed",
                reason=f"evaluating the automation policies failed: {error}",
            )
            self._claim([record], report)
            return
        request = due.request(now)
        if request is None:
            return
        run_id = uuid.uuid4().hex
        records = [
            TickRecord(
                origin=ORIGIN,
                scheduled_at=now,
                evaluated_at=now,
                status="claimed",
                reason="; ".join(f"{a}: {r}" for a, r in due.reasons.items()),
                run_id=run_id,
                run_key=request.run_key,
                selection=request.selection,
                request=request.to_json(),
            )
        ] + [
            TickRecord(
                origin=f"{ORIGIN}:{asset}",
                scheduled_at=instant,
                evaluated_at=now,
                status="started",
                reason="runs in the automation run",
                run_id=run_id,
                selection=asset,
            )
            for asset, instant in due.cron_ticks
        ]
        self._claim(records, report)

    def _materializing(self) -> set[str]:
        """The assets another run materializes now (it holds their lease): not due again
        while it does. Leases are kept in the runs' own time, the real one."""
        now = self.real_clock.now()
        return {lease.asset for lease in self.store.leases() if lease.expires_at > now}

    def _claim(self, records: list[TickRecord], report: CycleReport) -> None:
        claimed = self.store.claim_ticks(records)
        for record, ok in zip(records, claimed, strict=True):
            report.recorded.append((record, ok))
            if ok and record.status == "claimed":
                self.launcher.submit(record)
            self.log(
                "tick",
                origin=record.origin,
                scheduled=record.scheduled_at,
                status=record.status if ok else "already recorded",
                run=record.run_id if ok else None,
                partition=",".join(record.partition_keys) or None,
                reason=record.reason,
            )

    # -- sensors -----------------------------------------------------------------

    def _sensors(self, now: datetime, report: CycleReport) -> None:
        """Evaluate the sensors whose interval has passed; record each one's ticks and
        cursor together, and start the runs they ask for."""
        from assetflow.automation.sensors import evaluate_sensors

        due = [
            spec
            for spec in self.automation.sensors
            if self._sensed.get(spec.origin) is None
            or now - self._sensed[spec.origin] >= spec.interval
        ]
        if due:
            # evaluate_sensors reads cursors and last times by the sensor's name; the store
            # and this scheduler keep them by origin (`sensor:NAME`).
            cursors = {spec.name: self.store.sensor_cursor(spec.origin) for spec in due}
            outcomes = evaluate_sensors(
                due,
                cursors=cursors,
                now=now,
                last={s.name: self._sensed.get(s.origin) for s in due},
            )
            for spec, outcome in zip(due, outcomes, strict=True):
                self._sensed[outcome.origin] = now
                unknown = _unknown_partitions(outcome.add_partitions, self._dynamic)
                if unknown is not None and outcome.error is None:
                    # Keys stored under a name no asset uses would be lost, and the runs
                    # asking for them would fail: the evaluation fails, its cursor stays.
                    outcome = replace(
                        outcome,
                        requests=(),
                        cursor=cursors[spec.name],
                        add_partitions={},
                        error=unknown,
                    )
                records = _sensor_records(outcome.origin, now, outcome.requests, outcome.error)
                self._save_sensor(
                    outcome.origin, outcome.cursor, records, outcome.add_partitions, report
                )
                self.log(
                    "sensor",
                    origin=outcome.origin,
                    requests=len(outcome.requests),
                    duration_ms=round(outcome.duration_s * 1000, 1),
                    skipped=outcome.skip_reason,
                    error=outcome.error,
                )
        sources = [
            source
            for source in self.automation.source_sensors
            if self._sensed.get(_source_origin(source)) is None
            or now - self._sensed[_source_origin(source)] >= source.sensor_interval
        ]
        if sources:
            from assetflow.services.planning import bind_partitions

            # Dynamic partitions' keys live in the store: read once, before observing
            # the sources partitioned by them.
            project = bind_partitions(self.project, self.store)
            for source in sources:
                self._sensed[_source_origin(source)] = now
                self._source_sensor(project, source, now, report)

    def _source_sensor(
        self, project: Project, spec: AssetSpec, now: datetime, report: CycleReport
    ) -> None:
        """A source declared with `sensor=True`: when its version changed, its stale
        downstream runs (the planner decides what is stale)."""
        import hashlib
        import json

        from assetflow.automation.sensors import observe_source_sensor
        from assetflow.request import RunRequest

        origin = _source_origin(spec)
        try:
            # Time partitions are observed as of `now`.
            version = observe_source_sensor(project, project.graph.spec(spec.name), now=now)
        except Exception as error:  # the user's observer: recorded, never fatal
            records = _sensor_records(origin, now, (), f"observing it failed: {error}")
            self._save_sensor(origin, self.store.sensor_cursor(origin), records, {}, report)
            return
        cursor = json.dumps(version, sort_keys=True)
        if cursor == self.store.sensor_cursor(origin):
            return
        # The key names this change (the version, and when it was seen), not the version
        # alone: a file edited back to an earlier content is a change that runs again.
        digest = hashlib.sha256(cursor.encode()).hexdigest()[:16]
        request = RunRequest.of(
            f"{spec.name}+",
            trigger=origin,
            run_key=f"{origin}@{now.isoformat()}:{digest}",
            tags={"sensor": spec.name},
        )
        records = _sensor_records(origin, now, (request,), None)
        self._save_sensor(origin, cursor, records, {}, report)
        self.log("sensor", origin=origin, changed=True, run_key=request.run_key)

    def _save_sensor(
        self,
        origin: str,
        cursor: str | None,
        records: list[TickRecord],
        add_partitions: Any,
        report: CycleReport,
    ) -> None:
        with self.store.unit_of_work():
            for name, keys in (add_partitions or {}).items():
                self.store.add_partition_keys(name, list(keys), report.now)
            claimed = self.store.save_sensor_evaluation(origin, cursor, records)
        for record, ok in zip(records, claimed, strict=True):
            report.recorded.append((record, ok))
            if ok and record.status == "claimed":
                self.launcher.submit(record)

    def _overlap(self, overlap: str, decision: TickDecision, earlier: int = 0) -> TickDecision:
        """A run decision of a schedule whose previous runs still go, as many as its
        `max_concurrent_runs`, becomes a skip with `overlap = "skip"` (with "queue", it
        waits for one to finish). `earlier` counts the runs of the schedule's older
        ticks decided in the same cycle (a catch-up), which would be going too."""
        if decision.action != "run" or overlap != "skip":
            return decision
        busy = self.launcher.running(decision.origin)
        going = len(busy) + self.launcher.queued(decision.origin) + earlier
        if going < self.launcher.cap(decision.origin):
            return decision
        if busy:
            still = f"run {busy[0][:8]} of this schedule"
        elif self.launcher.queued(decision.origin):
            still = "a queued run of this schedule"
        else:
            still = "the run of an earlier tick of this schedule, caught up in this cycle,"
        return TickDecision(
            decision.origin,
            decision.scheduled_at,
            "skipped",
            f"overlap: {still} is still going (overlap = skip)",
            None,
            decision.partition_keys,
            decision.selection,
        )

    def next_due(self, now: datetime, states: dict[str, OriginState]) -> datetime | None:
        """The next instant a schedule ticks or a sensor is due."""
        upcoming = [
            t.schedule.cadence(states[t.origin].first_seen_at).next_tick(now)
            for t in self.automation.schedules
            if t.origin in states
        ]
        for spec in self.automation.sensors:
            last = self._sensed.get(spec.origin)
            upcoming.append(now if last is None else last + spec.interval)
        for source in self.automation.source_sensors:
            last = self._sensed.get(_source_origin(source))
            upcoming.append(now if last is None else last + source.sensor_interval)
        if self.automation.policies:
            every = timedelta(seconds=self.automation.settings.automation_interval)
            upcoming.append(now if self._automated is None else self._automated + every)
        return min(upcoming, default=None)

    # -- crash recovery ----------------------------------------------------------

    def recover(self) -> list[TickRecord]:
        """Resolve the ticks a stopped scheduler left recorded but not started: link
        those whose run exists, retry the others once, fail those retried already."""
        now = self.clock.now().astimezone(UTC)
        retried = []
        for tick in self.store.claimed_ticks():
            run = self.store.get_run(tick.run_id) if tick.run_id else None
            if run is not None:
                self.store.update_tick(
                    tick.origin,
                    tick.scheduled_at,
                    status="started",
                    evaluated_at=now,
                    run_id=tick.run_id,
                    reason=tick.reason,
                )
                self.log(
                    "tick_linked", origin=tick.origin, scheduled=tick.scheduled_at, run=tick.run_id
                )
            elif tick.reason == QUEUED_AT_STOP and tick.request is not None:
                self.launcher.submit(tick)
                retried.append(tick)
                self.log("tick_resumed", origin=tick.origin, scheduled=tick.scheduled_at)
            elif tick.reason == RETRIED or tick.request is None:
                self.store.update_tick(
                    tick.origin,
                    tick.scheduled_at,
                    status="failed",
                    evaluated_at=now,
                    reason="its run could not be started: the scheduler stopped before it twice",
                )
                self.log("tick_failed", origin=tick.origin, scheduled=tick.scheduled_at)
            else:
                self.store.update_tick(
                    tick.origin,
                    tick.scheduled_at,
                    status="claimed",
                    evaluated_at=now,
                    run_id=tick.run_id,
                    reason=RETRIED,
                )
                again = replace(tick, reason=RETRIED)
                self.launcher.submit(again)
                retried.append(again)
                self.log(
                    "tick_retried", origin=tick.origin, scheduled=tick.scheduled_at, run=tick.run_id
                )
        self.launcher.pump()
        return retried

    # -- the daemon --------------------------------------------------------------

    def lease(self) -> SchedulerLease:
        ttl = timedelta(seconds=self.automation.settings.lease_seconds)
        return self.store.acquire_scheduler_lease(
            self.holder, os.getpid(), socket.gethostname(), self.clock.now(), ttl
        )

    def leads(self, lease: SchedulerLease) -> bool:
        return lease.holder == self.holder

    def run_once(self) -> CycleReport:
        """`scheduler --once`: lead, recover, evaluate once, wait for the runs, let go.

        Raises:
            UsageError: Another scheduler leads this store now.
        """
        self._check_replay()
        lease = self.lease()
        if not self.leads(lease):
            raise UsageError(
                f"another scheduler leads this project's store (pid {lease.pid} on "
                f"{lease.host}, heartbeat {lease.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC), so "
                "`--once` would compete with it.",
                hint="It evaluates the schedules already. Stop it first, or wait until its "
                f"lease expires ({self.automation.settings.lease_seconds:g} s after its last "
                "heartbeat) if it was killed.",
            )
        try:
            self.recover()
            report = self.cycle()
            while self.launcher.busy:
                if self.stopping.is_set():
                    self._stop_runs()
                    break
                self.wake.wait(0.2)
                self.wake.clear()
                self.launcher.settle(self.store, self.clock.now())
                self.launcher.pump()
                self._renew()
            return report
        finally:
            self.store.release_scheduler_lease(self.holder)

    def _renew(self) -> bool:
        ttl = timedelta(seconds=self.automation.settings.lease_seconds)
        return self.store.renew_scheduler_lease(self.holder, self.clock.now(), ttl)

    def serve(self, *, sleep: Callable[[float], None] | None = None) -> None:
        """The daemon: stand by until leading, then cycle until `stop()`.

        Raises:
            UsageError: A replay of a future instant.
        """
        self._check_replay()
        announced = False
        while not self.stopping.is_set():
            lease = self.lease()
            if self.leads(lease):
                break
            self.watch(lease, leading=False)
            if not announced:
                self.log(
                    "standby",
                    leader_pid=lease.pid,
                    leader_host=lease.host,
                    heartbeat=lease.heartbeat_at,
                )
                announced = True
            self.stopping.wait(min(1.0, self.automation.settings.lease_seconds / 5))
        if self.stopping.is_set():
            self.log("stopped", leading=False)
            return
        self.log("leading", pid=os.getpid(), host=socket.gethostname())
        try:
            self.recover()
            beat = self.automation.settings.lease_seconds / 3
            while not self.stopping.is_set():
                if not self._renew():
                    self.log("lease_lost")
                    break
                report = self.cycle()
                wait = beat
                if report.next_due is not None:
                    until = (report.next_due - self.clock.now()).total_seconds()
                    wait = min(wait, max(until, 0.0) + 0.01)
                wait = min(wait, MAX_SLEEP_S)
                self.wake.wait(wait)
                self.wake.clear()
        finally:
            try:
                self._stop_runs()
            finally:
                # Also after a second Ctrl-C cut the wait for the runs short: a
                # standby leads at once instead of waiting out the lease.
                self.store.release_scheduler_lease(self.holder)
                self.log("stopped")

    def stop(self) -> None:
        """Ask `serve` to stop (from a signal handler or another thread)."""
        self.stopping.set()
        self.wake.set()

    def _stop_runs(self) -> None:
        if self.automation.settings.on_stop == "cancel":
            while self.launcher.busy:
                for tick in self.launcher.cancel_all(self.store, self.clock.now()):
                    self.store.update_tick(
                        tick.origin,
                        tick.scheduled_at,
                        status="claimed",
                        evaluated_at=tick.evaluated_at,
                        reason=QUEUED_AT_STOP,
                    )
                self.launcher.join(0.5)
                self.launcher.settle(self.store, self.clock.now())
                if not self.launcher.busy:
                    break
        else:
            while self.launcher.busy:
                self.wake.wait(0.5)
                self.wake.clear()
                self.launcher.settle(self.store, self.clock.now())
                self.launcher.pump()
                self._renew()
        self.launcher.settle(self.store, self.clock.now())


def _record(decision: TickDecision, now: datetime) -> TickRecord:
    run = decision.action == "run"
    return TickRecord(
        origin=decision.origin,
        scheduled_at=decision.scheduled_at,
        evaluated_at=now,
        status="failed" if decision.action == "failed" else ("claimed" if run else "skipped"),
        reason=decision.reason,
        run_id=uuid.uuid4().hex if run else None,
        run_key=decision.request.run_key if decision.request is not None else None,
        partition_keys=decision.partition_keys,
        selection=decision.selection,
        request=decision.request.to_json() if decision.request is not None else None,
    )


def _sensor_records(
    origin: str, now: datetime, requests: Sequence[Any], error: str | None
) -> list[TickRecord]:
    """A sensor evaluation's ticks: one per run request (each a microsecond apart, as
    a tick is unique by origin and instant), or one failed tick for an error."""
    if error is not None:
        return [
            TickRecord(
                origin=origin, scheduled_at=now, evaluated_at=now, status="failed", reason=error
            )
        ]
    records = []
    for index, request in enumerate(requests):
        keys = () if request.partitions is None else (request.partitions.render(),)
        records.append(
            TickRecord(
                origin=origin,
                scheduled_at=now + timedelta(microseconds=index),
                evaluated_at=now,
                status="claimed",
                run_id=uuid.uuid4().hex,
                run_key=request.run_key,
                partition_keys=keys,
                selection=request.selection_text,
                request=request.to_json(),
            )
        )
    return records


def _source_origin(spec: AssetSpec) -> str:
    """The origin a source sensor's ticks and cursor are kept under (`sensor:NAME`)."""
    from assetflow.automation.sensors import ORIGIN_PREFIX

    return f"{ORIGIN_PREFIX}{spec.name}"


def _unknown_partitions(added: Any, known: Sequence[str]) -> str | None:
    """Why a sensor's `add_partitions` names partitions no asset uses (None: it does not)."""
    from assetflow.errors import did_you_mean, suggest

    for name in added or {}:
        if name not in known:
            listed = ", ".join(f"'{n}'" for n in known) or "none"
            hint = did_you_mean(suggest(name, known))
            return (
                f"returned add_partitions['{name}'], but no asset is partitioned by "
                f"DynamicPartitions('{name}') (the project's dynamic partitions: {listed})."
                + (f" {hint}" if hint else "")
                + " Name the DynamicPartitions its assets use."
            )
    return None


def labels(decisions: Sequence[TickDecision], automation: Automation) -> list[str]:
    """Each decision's tick as `nightly@2026-03-02T03:00+01:00`."""
    targets = {t.origin: t for t in automation.schedules}
    return [tick_label(targets[d.origin], d.scheduled_at) for d in decisions]
