"""Watching the watcher: is the scheduler alive, is a run stuck, is an asset late?

`health` reads the store only (it works on a read-only copy and on a project never
run) and answers with a `HealthReport`: `assetflow health` prints one line per check
and exits 0 when all is well, 1 otherwise, so that a cron line or a monitoring probe
can watch assetflow itself.

- The scheduler: its heartbeat is its leader lease (`MetadataStore.scheduler_lease`);
  it is alive while the lease's heartbeat is younger than `down_after` (5 minutes by
  default). A project with no schedules, sensors or automated assets needs none.
- Stuck runs: a run recorded as running one of whose steps has been running longer
  than its asset's `timeout` (plus `STUCK_GRACE`, the time the executor takes to stop
  it); an asset without a timeout never makes its run stuck. A run on this machine
  whose process is gone is stuck too (the next command that sweeps marks it crashed).
- Overdue: the freshness and deadline rules of `assetflow.freshness`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from assetflow.freshness import Overdue, describe_overdue

if TYPE_CHECKING:
    from assetflow.project import Project
    from assetflow.store.base import MetadataStore
    from assetflow.store.records import RunRecord

#: A scheduler whose heartbeat is older than this is down.
DOWN_AFTER = timedelta(minutes=5)
#: How long past its timeout a step may still be running before its run counts as
#: stuck: the executor stops a step at its timeout, which takes a moment.
STUCK_GRACE = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class SchedulerHealth:
    """The scheduler as its lease in the store tells of it."""

    #: the project has schedules, sensors or automated assets
    needed: bool
    #: a lease whose heartbeat is younger than `down_after`
    alive: bool
    holder: str | None = None
    pid: int | None = None
    host: str | None = None
    heartbeat_at: datetime | None = None
    #: seconds since the heartbeat, at the report's `checked_at`
    age_s: float | None = None

    def line(self) -> str:
        """`scheduler: alive (pid 123 on host, heartbeat 4 s ago)`."""
        if self.heartbeat_at is None:
            return "scheduler: " + (
                "down (never started)" if self.needed else "no scheduler needed"
            )
        age = _ago(self.age_s or 0.0)
        where = f"pid {self.pid} on {self.host}, heartbeat {age} ago"
        if self.alive:
            return f"scheduler: alive ({where})"
        if not self.needed:
            return f"scheduler: no scheduler needed (the last one stopped: {where})"
        return f"scheduler: down ({where})"

    @property
    def healthy(self) -> bool:
        return self.alive or not self.needed


@dataclass(frozen=True, slots=True)
class StuckRun:
    """A run recorded as running that is not making progress, and why."""

    run_id: str
    started_at: datetime
    pid: int | None
    host: str | None
    #: "step 'orders[2026-03-01]' has run 2 h 3 min, past its timeout of 600 s", or
    #: "its process 4242 on this machine is gone"
    reason: str


@dataclass(frozen=True, slots=True)
class HealthReport:
    """What `assetflow health` checked, at `checked_at`."""

    checked_at: datetime
    scheduler: SchedulerHealth
    stuck_runs: tuple[StuckRun, ...]
    overdue: tuple[Overdue, ...]

    @property
    def healthy(self) -> bool:
        """The scheduler is alive (or not needed), no run is stuck, nothing is overdue."""
        return self.scheduler.healthy and not self.stuck_runs and not self.overdue

    def lines(self) -> list[str]:
        """One line per check, for the CLI: the scheduler, runs, freshness."""
        return [self.scheduler.line(), self._runs_line(), self._freshness_line()]

    def problems(self) -> list[str]:
        """One line per thing that is wrong (none when healthy)."""
        found = []
        if not self.scheduler.healthy:
            found.append(self.scheduler.line())
        found.extend(f"run {run.run_id[:8]} is stuck: {run.reason}" for run in self.stuck_runs)
        found.extend(f"{_key(o)}: {o.describe(self.checked_at)}" for o in self.overdue)
        return found

    def _runs_line(self) -> str:
        if not self.stuck_runs:
            return "runs: none stuck"
        shown = "; ".join(f"{r.run_id[:8]}: {r.reason}" for r in self.stuck_runs)
        return f"runs: {len(self.stuck_runs)} stuck: {shown}"

    def _freshness_line(self) -> str:
        if not self.overdue:
            return "freshness: nothing overdue"
        assets = list(dict.fromkeys(o.asset for o in self.overdue))
        noun = "asset" if len(assets) == 1 else "assets"
        shown = "; ".join(f"{_key(o)} {o.describe(self.checked_at)}" for o in self.overdue)
        return f"freshness: {len(assets)} {noun} overdue: {shown}"


def health(
    project: Project,
    *,
    store: MetadataStore | None = None,
    now: datetime | None = None,
    down_after: timedelta = DOWN_AFTER,
    needs_scheduler: bool | None = None,
) -> HealthReport:
    """Check the scheduler's heartbeat, the running runs and the freshness policies.

    Reads the store only: it works on a read-only store and on a project never run.

    Args:
        project: The project.
        store: A store to use instead of the project's own.
        now: The instant to judge at (default: the clock's now).
        down_after: A scheduler whose heartbeat is older than this is down.
        needs_scheduler: Whether the project needs a scheduler (the CLI says, from the
            schedules, sensors and automated assets it loads); None judges by what the
            project's definitions and configuration show (`[tool.assetflow.schedules]`
            tables, automated assets, sources with sensors).
    """
    from assetflow.services.freshness import overdue
    from assetflow.services.stores import project_store

    checked_at = (now or datetime.now(UTC)).astimezone(UTC)
    needed = _needs_scheduler(project) if needs_scheduler is None else needs_scheduler
    with project_store(project, store, reading=True) as opened:
        scheduler = _scheduler(opened, needed, checked_at, down_after)
        stuck = tuple(_stuck_runs(project, opened, checked_at))
        late = tuple(overdue(project, opened, checked_at))
    return HealthReport(checked_at, scheduler, stuck, late)


def _needs_scheduler(project: Project) -> bool:
    """Schedules in the configuration, automated assets, or sources with a sensor.

    (`@sensor` functions and `assetflow.schedule(...)` objects are known only once the
    automation is loaded: the CLI passes `needs_scheduler` from it.)"""
    if project.location.config.schedules:
        return True
    return any(
        spec.automation is not None or (spec.is_source and spec.sensor)
        for spec in project.graph.specs()
    )


def _scheduler(
    store: MetadataStore, needed: bool, now: datetime, down_after: timedelta
) -> SchedulerHealth:
    lease = store.scheduler_lease()
    if lease is None:
        return SchedulerHealth(needed=needed, alive=False)
    age = max((now - lease.heartbeat_at).total_seconds(), 0.0)
    return SchedulerHealth(
        needed=needed,
        alive=age < down_after.total_seconds(),
        holder=lease.holder,
        pid=lease.pid,
        host=lease.host,
        heartbeat_at=lease.heartbeat_at,
        age_s=age,
    )


def _stuck_runs(project: Project, store: MetadataStore, now: datetime) -> list[StuckRun]:
    """Running runs whose process is gone (on this machine) or with a step past its
    asset's timeout: one query for the running runs, one per running run for its steps."""
    from assetflow.execution.liveness import HOST, is_process_alive
    from assetflow.store.records import RunStatus

    timeouts = {spec.name: spec.timeout for spec in project.graph.specs() if spec.timeout}
    stuck = []
    for run in store.list_runs(limit=sys.maxsize, status=RunStatus.RUNNING):
        local = run.host is None or run.host == HOST
        if local and run.pid is not None and not is_process_alive(run.pid):
            where = "this machine" if run.host is None else run.host
            stuck.append(_stuck(run, f"its process {run.pid} on {where} is gone"))
            continue
        if timeouts:
            reason = _step_past_timeout(store, run, timeouts, now)
            if reason is not None:
                stuck.append(_stuck(run, reason))
    return stuck


def _step_past_timeout(
    store: MetadataStore, run: RunRecord, timeouts: dict[str, float], now: datetime
) -> str | None:
    """The first step of `run` still running longer than its asset's timeout, said."""
    from assetflow.keys import key_text
    from assetflow.store.records import EventKind

    started: dict[tuple[str, str | None], datetime] = {}
    for event in store.run_events(run.run_id):
        if event.asset is None:
            continue
        key = (event.asset, event.partition)
        if event.kind in (EventKind.STARTED, EventKind.RETRIED):
            started[key] = event.at
        else:
            started.pop(key, None)
    for key, at in started.items():
        limit = timeouts.get(key[0])
        if limit is None:
            continue
        ran = now - at
        if ran > timedelta(seconds=limit) + STUCK_GRACE:
            running = describe_overdue(ran).removeprefix("overdue by ")
            return f"step '{key_text(key)}' has run {running}, past its timeout of {limit:g} s"
    return None


def _stuck(run: RunRecord, reason: str) -> StuckRun:
    return StuckRun(run.run_id, run.started_at, run.pid, run.host, reason)


def _key(found: Overdue) -> str:
    return f"{found.asset}[{found.partition}]" if found.partition else found.asset


def _ago(seconds: float) -> str:
    """`4 s`, `3 min`, `2 h 5 min`."""
    return describe_overdue(timedelta(seconds=seconds)).removeprefix("overdue by ")
