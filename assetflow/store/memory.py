"""An in-memory metadata store, for tests and throwaway runs; forgets everything on close."""

from __future__ import annotations

import copy
import json
import logging
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Self

from assetflow.errors import StoreError
from assetflow.store.alerts import (
    AlertAttempt,
    AlertRecord,
    AlertStatus,
    IncidentAlreadyOpen,
    IncidentKind,
    IncidentMember,
    IncidentRecord,
    MemberKey,
    alert_key,
    ambiguous_incident_error,
    check_kind,
    check_kinds,
    claim_times,
    finished_alert,
    is_due,
    member_key,
    merged_members,
    normalise_alert,
    normalise_attempt,
    normalise_incident,
    normalise_members,
    resolved_incident_error,
    resolved_members,
    taken_incident_id_error,
    unknown_incident_error,
)
from assetflow.store.automation import (
    KEY_HOLDING_STATUSES,
    RUNLESS_STATUSES,
    OriginState,
    SchedulerLease,
    TickRecord,
    TickStatus,
    check_cursor,
    check_origins,
    check_ttl,
    held_key_error,
    lease_times,
    normalise_tick,
    run_key_reason,
    tick_name,
    tick_where,
    unknown_tick_error,
)
from assetflow.store.base import AssetPartition, UnitOfWork, normalise_lease
from assetflow.store.normalise import (
    as_utc,
    asset_filter,
    check_code,
    normalise_check,
    normalise_event,
    normalise_log,
    normalise_materialization,
    normalise_run,
    optional_utc,
    source_digest,
)
from assetflow.store.records import (
    ATTEMPT_KINDS,
    NOT_STARTED_ATTEMPT,
    NOT_STARTED_COUNT,
    CheckRecord,
    EventKind,
    EventRecord,
    Lease,
    LogRecord,
    MaterializationRecord,
    MaterializationState,
    RunQuery,
    RunRecord,
    RunStatus,
)
from assetflow.store.run_errors import (
    CANDIDATES_SHOWN,
    RunFinishedError,
    UnknownRunError,
    ambiguous_run_error,
)

if TYPE_CHECKING:
    from assetflow.store.lineage import LineageOutbox

logger = logging.getLogger(__name__)

_LOCATION = "the in-memory metadata store"

#: The attributes holding what the store keeps: a unit of work copies them when it
#: opens and puts the copies back if it rolls back. A new table is one more name.
_TABLES = (
    "_runs",
    "_materializations",
    "_events",
    "_checks",
    "_logs",
    "_digest_by_code_version",
    "_source_by_digest",
    "_lease_by_key",
    "_ticks",
    "_origin_states",
    "_cursors",
    "_scheduler_lease",
    "_dynamic_keys",
    "_incidents",
    "_incident_members",
    "_alerts",
    "_alert_keys",
    "_alert_attempts",
    "_lineage_events",
)


@dataclass(frozen=True, slots=True)
class MemoryUnitOfWork:
    """An open unit of work of a MemoryStore (see ``MetadataStore.unit_of_work``)."""

    is_nested: bool
    #: run once the outermost unit commits; shared by the units that joined it
    callbacks: list[Callable[[], None]] = field(default_factory=list)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the outermost unit has committed."""
        self.callbacks.append(callback)


def _fresh(tick: TickRecord) -> TickRecord:
    """``tick`` as a read hands it out: with a request of its own, which the caller
    may change without changing the store (as a request read from SQLite)."""
    return tick if tick.request is None else replace(tick, request=copy.deepcopy(tick.request))


class MemoryStore:
    """A MetadataStore kept in lists and dicts, safe to share between threads."""

    def __init__(self) -> None:
        # Reentrant: a unit of work holds it for its whole block, in which the
        # store's own methods take it again.
        self._lock = threading.RLock()
        self._unit: MemoryUnitOfWork | None = None
        self._is_closed = False
        # Records in the order they were written: the position breaks ties in time.
        self._runs: dict[str, tuple[int, RunRecord]] = {}
        self._materializations: list[MaterializationRecord] = []
        self._events: list[EventRecord] = []
        self._checks: list[CheckRecord] = []
        self._logs: list[LogRecord] = []
        self._digest_by_code_version: dict[str, str] = {}
        self._source_by_digest: dict[str, str] = {}
        self._lease_by_key: dict[AssetPartition, Lease] = {}
        # The scheduler's records; a tick's position breaks ties in time.
        self._ticks: dict[tuple[str, datetime], tuple[int, TickRecord]] = {}
        self._origin_states: dict[str, OriginState] = {}
        self._cursors: dict[str, str | None] = {}
        self._scheduler_lease: SchedulerLease | None = None
        # Each dynamic definition's keys in the order first added: key -> removed_at.
        self._dynamic_keys: dict[str, dict[str, datetime | None]] = {}
        # Alerting's records. An incident's position breaks ties in time; each
        # incident's members are a dict replaced (never changed in place) on a write,
        # so that a unit of work's copy of the outer dict restores them.
        self._incidents: dict[str, tuple[int, IncidentRecord]] = {}
        self._incident_members: dict[str, dict[MemberKey, IncidentMember]] = {}
        self._alerts: dict[int, AlertRecord] = {}
        self._alert_keys: dict[tuple[str, str, str], int] = {}
        self._alert_attempts: dict[int, tuple[AlertAttempt, ...]] = {}
        # The lineage outbox (assetflow.store.lineage): event_id -> LineageEvent.
        self._lineage_events: dict[int, object] = {}

    def _check_open(self) -> None:
        if self._is_closed:
            raise StoreError(f"{_LOCATION} is closed.", hint="Open a new store with open_store().")

    def create_run(self, run: RunRecord) -> None:
        run = normalise_run(run)
        with self._lock:
            self._check_open()
            if run.run_id in self._runs:
                raise StoreError(
                    f"a run with id '{run.run_id}' already exists in {_LOCATION}.",
                    hint="Run ids are unique: create each run with a new id.",
                )
            self._runs[run.run_id] = (len(self._runs), run)

    def finish_run(self, run_id: str, status: RunStatus, finished_at: datetime) -> None:
        finished_at = as_utc(finished_at, f"run '{run_id}' finished_at")
        with self._lock:
            self._check_open()
            if run_id not in self._runs:
                raise StoreError(
                    f"cannot finish run '{run_id}': there is no such run in {_LOCATION}.",
                    hint="Create the run with create_run() before finishing it.",
                )
            position, run = self._runs[run_id]
            finished = replace(run, status=RunStatus(status), finished_at=finished_at)
            self._runs[run_id] = (position, finished)
            self._drop_leases(run_id)

    def finish_run_if_running(
        self,
        run_id: str,
        status: RunStatus,
        finished_at: datetime,
        events: Sequence[EventRecord] = (),
    ) -> bool:
        finished_at = as_utc(finished_at, f"run '{run_id}' finished_at")
        new_events = [normalise_event(e) for e in events]
        with self._lock:
            self._check_open()
            if run_id not in self._runs:
                return False
            position, run = self._runs[run_id]
            if run.status != RunStatus.RUNNING:
                return False
            finished = replace(run, status=RunStatus(status), finished_at=finished_at)
            self._runs[run_id] = (position, finished)
            self._events.extend(new_events)
            self._drop_leases(run_id)
            return True

    def record(
        self,
        materializations: Sequence[MaterializationRecord] = (),
        events: Sequence[EventRecord] = (),
        checks: Sequence[CheckRecord] = (),
        logs: Sequence[LogRecord] = (),
    ) -> None:
        # Normalise everything first so that an invalid record writes nothing.
        new_materializations = [normalise_materialization(m) for m in materializations]
        new_events = [normalise_event(e) for e in events]
        new_checks = [normalise_check(c) for c in checks]
        new_logs = [normalise_log(log) for log in logs]
        with self._lock:
            self._check_open()
            self._materializations.extend(new_materializations)
            self._events.extend(new_events)
            self._checks.extend(new_checks)
            self._logs.extend(new_logs)

    def step_logs(
        self, run_id: str, asset: str | None = None, partition: str | None = None
    ) -> list[LogRecord]:
        with self._lock:
            self._check_open()
            return [
                log
                for log in self._logs
                if log.run_id == run_id
                and (asset is None or log.asset == asset)
                and (partition is None or log.partition == partition)
            ]

    def run_checks(self, run_id: str) -> list[CheckRecord]:
        with self._lock:
            self._check_open()
            found = [result for result in self._checks if result.run_id == run_id]
        # sort is stable: equal times keep the order they were written in.
        return sorted(found, key=lambda result: result.at)

    def latest_check_results(
        self, assets: Iterable[str] | None = None
    ) -> dict[AssetPartition, list[CheckRecord]]:
        wanted = asset_filter(assets)
        newest: dict[tuple[str, str | None, str], tuple[datetime, int, CheckRecord]] = {}
        with self._lock:
            self._check_open()
            for position, result in enumerate(self._checks):
                if wanted is not None and result.asset not in wanted:
                    continue
                key = (result.asset, result.partition, result.check)
                ranked = (result.at, position, result)
                if key not in newest or ranked[:2] >= newest[key][:2]:
                    newest[key] = ranked
        results: dict[AssetPartition, list[CheckRecord]] = {}
        for (asset, partition, _), (_, _, result) in sorted(newest.items(), key=lambda i: i[0][2]):
            results.setdefault((asset, partition), []).append(result)
        return results

    def check_history(
        self, asset: str, partition: str | None = None, limit: int = 200
    ) -> list[CheckRecord]:
        with self._lock:
            self._check_open()
            found = [
                (result.at, position, result)
                for position, result in enumerate(self._checks)
                if result.asset == asset and (partition is None or result.partition == partition)
            ]
        found.sort(key=lambda item: item[:2], reverse=True)
        return [result for _, _, result in found[: max(limit, 0)]]

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._lock:
            self._check_open()
            if run_id in self._runs:
                return self._runs[run_id][1]
            if not run_id:
                return None
            candidates = sorted(key for key in self._runs if key.startswith(run_id))
            if len(candidates) > 1:
                raise ambiguous_run_error(run_id, candidates[: CANDIDATES_SHOWN + 1], _LOCATION)
            return self._runs[candidates[0]][1] if candidates else None

    def list_runs(self, limit: int = 20, status: RunStatus | None = None) -> list[RunRecord]:
        with self._lock:
            self._check_open()
            entries = [e for e in self._runs.values() if status is None or e[1].status == status]
        entries.sort(key=lambda entry: (entry[1].started_at, entry[0]), reverse=True)
        return [run for _, run in entries[: max(limit, 0)]]

    def find_runs(self, query: RunQuery) -> list[RunRecord]:
        since = optional_utc(query.since, "since")
        until = optional_utc(query.until, "until")
        with self._lock:
            self._check_open()
            entries = list(self._runs.values())
            touched = self._runs_touching(query.asset, query.partition)
            cursor = self._runs.get(query.before) if query.before is not None else None
        if query.before is not None and cursor is None:
            return []

        def selected(entry: tuple[int, RunRecord]) -> bool:
            run = entry[1]
            return (
                (not query.statuses or run.status in query.statuses)
                and (
                    not query.triggers
                    or run.trigger in query.triggers
                    or run.trigger.partition(":")[0] in query.triggers
                )
                and (touched is None or run.run_id in touched)
                and (since is None or run.started_at >= since)
                and (until is None or run.started_at < until)
                and (
                    cursor is None or (run.started_at, entry[0]) < (cursor[1].started_at, cursor[0])
                )
            )

        chosen = sorted(filter(selected, entries), key=lambda e: (e[1].started_at, e[0]))
        chosen.reverse()
        return [run for _, run in chosen[: max(query.limit, 0)]]

    def _runs_touching(self, asset: str | None, partition: str | None) -> set[str] | None:
        """The ids of runs with a step event or check result of the asset (partition)."""
        if asset is None and partition is None:
            return None
        keys: list[tuple[str, str | None, str | None]] = [
            (e.run_id, e.asset, e.partition) for e in self._events
        ]
        keys += [(c.run_id, c.asset, c.partition) for c in self._checks]
        return {
            run_id
            for run_id, of_asset, of_partition in keys
            if of_asset is not None
            and (asset is None or of_asset == asset)
            and (partition is None or of_partition == partition)
        }

    def latest_attempts(self, keys: Iterable[AssetPartition]) -> dict[AssetPartition, EventRecord]:
        wanted = set(keys)
        latest: dict[AssetPartition, EventRecord] = {}
        with self._lock:
            self._check_open()
            for event in self._events:
                key = (event.asset or "", event.partition)
                if event.asset is None or key not in wanted or event.kind not in ATTEMPT_KINDS:
                    continue
                if key not in latest or event.at >= latest[key].at:
                    latest[key] = event
        return latest

    def attempts(
        self, asset: str, partition: str | None = None, limit: int = 50
    ) -> list[EventRecord]:
        with self._lock:
            self._check_open()
            matching = [
                (position, event)
                for position, event in enumerate(self._events)
                if event.asset == asset
                and (partition is None or event.partition == partition)
                and event.kind in ATTEMPT_KINDS
                and event.kind is not EventKind.STARTED
            ]
        matching.sort(key=lambda entry: (entry[1].at, entry[0]), reverse=True)
        return [event for _, event in matching[: max(limit, 0)]]

    def run_events(self, run_id: str) -> list[EventRecord]:
        with self._lock:
            self._check_open()
            events = [e for e in self._events if e.run_id == run_id]
        # sort is stable: equal times keep the order they were written in.
        return sorted(events, key=lambda event: event.at)

    def step_counts(self, run_ids: Iterable[str]) -> dict[str, dict[str, int]]:
        wanted = set(run_ids)
        counts: dict[str, dict[str, int]] = {}
        with self._lock:
            self._check_open()
            for event in self._events:
                if event.run_id in wanted and event.asset is not None:
                    kinds = counts.setdefault(event.run_id, {})
                    counted = event.kind.value
                    if event.kind is EventKind.CANCELLED and event.attempt == NOT_STARTED_ATTEMPT:
                        counted = NOT_STARTED_COUNT
                    kinds[counted] = kinds.get(counted, 0) + 1
        return counts

    def asset_history(
        self, asset: str, partition: str | None = None, limit: int = 50
    ) -> list[MaterializationRecord]:
        with self._lock:
            self._check_open()
            matching = [
                (position, m)
                for position, m in enumerate(self._materializations)
                if m.asset == asset and (partition is None or m.partition == partition)
            ]
        matching.sort(key=lambda entry: (entry[1].finished_at, entry[0]), reverse=True)
        return [m for _, m in matching[: max(limit, 0)]]

    def latest_materializations(
        self, assets: Iterable[str] | None = None
    ) -> dict[AssetPartition, MaterializationRecord]:
        wanted = asset_filter(assets)
        latest: dict[AssetPartition, MaterializationRecord] = {}
        with self._lock:
            self._check_open()
            # Later writes win ties, so ">=" keeps the last written of equal times.
            for m in self._materializations:
                if wanted is not None and m.asset not in wanted:
                    continue
                key = (m.asset, m.partition)
                if key not in latest or m.finished_at >= latest[key].finished_at:
                    latest[key] = m
        return latest

    def latest_states(
        self, assets: Iterable[str] | None = None
    ) -> dict[AssetPartition, MaterializationState]:
        return {
            key: MaterializationState.of(record)
            for key, record in self.latest_materializations(assets).items()
        }

    def latest_states_of(
        self, keys: Iterable[AssetPartition]
    ) -> dict[AssetPartition, MaterializationState]:
        wanted = set(keys)
        states = self.latest_states({asset for asset, _ in wanted})
        return {key: state for key, state in states.items() if key in wanted}

    def latest_failures(
        self, assets: Iterable[str] | None = None
    ) -> dict[AssetPartition, EventRecord]:
        wanted = asset_filter(assets)
        latest: dict[AssetPartition, EventRecord] = {}
        with self._lock:
            self._check_open()
            for event in self._events:
                if event.kind != EventKind.FAILED or event.asset is None:
                    continue
                if wanted is not None and event.asset not in wanted:
                    continue
                key = (event.asset, event.partition)
                if key not in latest or event.at >= latest[key].at:
                    latest[key] = event
        return latest

    def save_code(self, code_version: str, source: str) -> None:
        check_code(code_version, source)
        digest = source_digest(source)
        with self._lock:
            self._check_open()
            if code_version in self._digest_by_code_version:
                return
            self._source_by_digest.setdefault(digest, source)
            self._digest_by_code_version[code_version] = digest

    def save_codes(self, sources: Mapping[str, str]) -> None:
        for code_version, source in sources.items():
            self.save_code(code_version, source)

    def saved_codes(self, code_versions: Iterable[str]) -> set[str]:
        with self._lock:
            self._check_open()
            return {version for version in code_versions if version in self._digest_by_code_version}

    def get_code(self, code_version: str) -> str | None:
        with self._lock:
            self._check_open()
            digest = self._digest_by_code_version.get(code_version)
            return None if digest is None else self._source_by_digest[digest]

    def add_partition_keys(self, name: str, keys: Sequence[str], at: datetime) -> list[str]:
        at = as_utc(at, f"the time of adding keys to '{name}'")
        with self._lock:
            self._check_open()
            # A new dict, not changed in place: a unit of work restores the outer one.
            known = dict(self._dynamic_keys.get(name, {}))
            added = []
            for key in dict.fromkeys(keys):
                if key not in known or known[key] is not None:
                    known[key] = None
                    added.append(key)
            self._dynamic_keys[name] = known
            return added

    def remove_partition_keys(self, name: str, keys: Sequence[str], at: datetime) -> list[str]:
        at = as_utc(at, f"the time of removing keys from '{name}'")
        with self._lock:
            self._check_open()
            known = dict(self._dynamic_keys.get(name, {}))
            removed = []
            for key in dict.fromkeys(keys):
                if key in known and known[key] is None:
                    known[key] = at
                    removed.append(key)
            self._dynamic_keys[name] = known
            return removed

    def partition_keys(self, names: Iterable[str]) -> dict[str, list[str]]:
        with self._lock:
            self._check_open()
            return {
                name: [k for k, gone in self._dynamic_keys.get(name, {}).items() if gone is None]
                for name in names
            }

    def acquire_lease(
        self,
        lease: Lease,
        *,
        now: datetime,
        takeover: Callable[[Lease], bool] | None = None,
    ) -> Lease | None:
        lease = normalise_lease(lease)
        now = as_utc(now, f"the time of taking the lease on '{lease.asset}'")
        with self._lock:
            self._check_open()
            holder = self._lease_by_key.get(lease.key)
            if holder is not None and holder.run_id == lease.run_id:
                self._lease_by_key[lease.key] = holder._replace(expires_at=lease.expires_at)
                return None
            if holder is not None:
                entry = self._runs.get(holder.run_id)
                is_running = entry is not None and entry[1].status == RunStatus.RUNNING
                if holder.is_live(now, is_run_running=is_running, takeover=takeover):
                    return holder
            self._lease_by_key[lease.key] = lease
            return None

    def release_leases(self, run_id: str, keys: Iterable[AssetPartition] | None = None) -> None:
        wanted = None if keys is None else list(keys)
        with self._lock:
            self._check_open()
            if wanted is None:
                self._drop_leases(run_id)
                return
            for key in wanted:
                held = self._lease_by_key.get(key)
                if held is not None and held.run_id == run_id:
                    del self._lease_by_key[key]

    def renew_leases(self, run_id: str, expires_at: datetime) -> None:
        expires_at = as_utc(expires_at, f"leases of run '{run_id}' expires_at")
        with self._lock:
            self._check_open()
            for key, held in self._lease_by_key.items():
                if held.run_id == run_id:
                    self._lease_by_key[key] = held._replace(expires_at=expires_at)

    def leases(self) -> list[Lease]:
        with self._lock:
            self._check_open()
            held = list(self._lease_by_key.values())
        # None sorts first, as the SQLite store's '' does.
        return sorted(held, key=lambda lease: (lease.asset, lease.partition or ""))

    def heartbeat(self, run_id: str, at: datetime) -> bool:
        at = as_utc(at, f"the heartbeat of run '{run_id}'")
        with self._lock:
            self._check_open()
            if run_id not in self._runs:
                raise StoreError(
                    f"cannot record a heartbeat of run '{run_id}': there is no such run in "
                    f"{_LOCATION}.",
                    hint="Create the run with create_run() before its heartbeats.",
                )
            position, run = self._runs[run_id]
            self._runs[run_id] = (position, replace(run, heartbeat_at=at))
            return run.cancel_requested_at is not None

    def request_cancel(self, run_id: str, at: datetime) -> RunRecord:
        at = as_utc(at, f"the cancel request of run '{run_id}'")
        with self._lock:
            run = self.get_run(run_id)
            if run is None:
                raise UnknownRunError(run_id)
            if run.status != RunStatus.RUNNING:
                raise RunFinishedError(run)
            if run.cancel_requested_at is not None:
                return run
            position, _ = self._runs[run.run_id]
            asked = replace(run, cancel_requested_at=at)
            self._runs[run.run_id] = (position, asked)
            return asked

    # -- the scheduler's records (AutomationStore) ---------------------------------------------

    def _key_holder(self, run_key: str, *, runs: bool = True) -> str | None:
        """Who holds ``run_key`` (see the SQLite store's ``_key_holder``); the caller
        holds the lock."""
        for _, tick in self._ticks.values():
            if tick.run_key == run_key and tick.status in KEY_HOLDING_STATUSES:
                return "tick " + tick_name(tick.origin, tick.scheduled_at)
        if not runs:
            return None
        run = self._newest_run_by_key(run_key)
        return None if run is None else f"run {run.run_id}"

    def _newest_run_by_key(self, run_key: str) -> RunRecord | None:
        entries = [entry for entry in self._runs.values() if entry[1].run_key == run_key]
        if not entries:
            return None
        return max(entries, key=lambda entry: (entry[1].started_at, entry[0]))[1]

    def _claim(self, tick: TickRecord) -> bool:
        """Record one normalised tick (skipped when its run key is held); whether claimed.
        The caller holds the lock."""
        key = (tick.origin, tick.scheduled_at)
        if key in self._ticks:
            return False
        claimed = True
        if tick.status in KEY_HOLDING_STATUSES and tick.run_key is not None:
            holder = self._key_holder(tick.run_key)
            if holder is not None:
                reason = run_key_reason(tick.run_key, holder)
                tick = replace(tick, status="skipped", reason=reason, run_id=None)
                claimed = False
        self._ticks[key] = (len(self._ticks), tick)
        return claimed

    @staticmethod
    def _checked_ticks(ticks: Sequence[TickRecord]) -> list[TickRecord]:
        """The ticks normalised, each request as it reads back from JSON."""
        checked = []
        for tick, request in map(normalise_tick, ticks):
            stored = None if request is None else json.loads(request)
            checked.append(replace(tick, request=stored))
        return checked

    def claim_tick(self, tick: TickRecord) -> bool:
        return self.claim_ticks([tick])[0]

    def claim_ticks(self, ticks: Sequence[TickRecord]) -> list[bool]:
        checked = self._checked_ticks(ticks)
        with self._lock:
            self._check_open()
            return [self._claim(tick) for tick in checked]

    def update_tick(
        self,
        origin: str,
        scheduled_at: datetime,
        *,
        status: TickStatus,
        evaluated_at: datetime,
        run_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        scheduled_at = as_utc(scheduled_at, f"{tick_where(origin, scheduled_at)} scheduled_at")
        where = tick_where(origin, scheduled_at)
        changes, _ = normalise_tick(
            TickRecord(origin, scheduled_at, evaluated_at, status, reason, run_id)
        )
        with self._lock:
            self._check_open()
            key = (origin, scheduled_at)
            if key not in self._ticks:
                raise unknown_tick_error(where, _LOCATION)
            position, tick = self._ticks[key]
            if (
                changes.status in KEY_HOLDING_STATUSES
                and tick.status not in KEY_HOLDING_STATUSES
                and tick.run_key is not None
            ):
                holder = self._key_holder(tick.run_key, runs=False)
                if holder is not None:
                    raise held_key_error(where, tick.run_key, holder)
            updated = replace(
                tick,
                status=changes.status,
                evaluated_at=changes.evaluated_at,
                run_id=_run_id_after(changes.status, tick.run_id, run_id),
                reason=tick.reason if reason is None else reason,
            )
            self._ticks[key] = (position, updated)

    def get_tick(self, origin: str, scheduled_at: datetime) -> TickRecord | None:
        at = as_utc(scheduled_at, f"{tick_where(origin, scheduled_at)} scheduled_at")
        with self._lock:
            self._check_open()
            entry = self._ticks.get((origin, at))
            return None if entry is None else _fresh(entry[1])

    def ticks(
        self,
        origin: str | None = None,
        *,
        limit: int = 50,
        before: datetime | None = None,
        statuses: Collection[TickStatus] | None = None,
    ) -> list[TickRecord]:
        until = optional_utc(before, "before")
        wanted = None if statuses is None else set(statuses)
        with self._lock:
            self._check_open()
            entries = [
                entry
                for entry in self._ticks.values()
                if (origin is None or entry[1].origin == origin)
                and (until is None or entry[1].scheduled_at < until)
                and (wanted is None or entry[1].status in wanted)
            ]
        entries.sort(key=lambda entry: (entry[1].scheduled_at, entry[0]), reverse=True)
        return [_fresh(tick) for _, tick in entries[: max(limit, 0)]]

    def latest_ticks(self, origins: Iterable[str]) -> dict[str, TickRecord]:
        wanted = set(origins)
        newest: dict[str, TickRecord] = {}
        with self._lock:
            self._check_open()
            for _, tick in self._ticks.values():
                if tick.origin not in wanted:
                    continue
                known = newest.get(tick.origin)
                if known is None or tick.scheduled_at > known.scheduled_at:
                    newest[tick.origin] = tick
        return {origin: _fresh(tick) for origin, tick in newest.items()}

    def claimed_ticks(self) -> list[TickRecord]:
        with self._lock:
            self._check_open()
            entries = [e for e in self._ticks.values() if e[1].status == "claimed"]
        entries.sort(key=lambda entry: (entry[1].scheduled_at, entry[0]))
        return [_fresh(tick) for _, tick in entries]

    def run_by_key(self, run_key: str) -> RunRecord | None:
        with self._lock:
            self._check_open()
            return self._newest_run_by_key(run_key)

    def origin_states(self) -> dict[str, OriginState]:
        with self._lock:
            self._check_open()
            return dict(sorted(self._origin_states.items()))

    def see_origins(
        self, origins: Mapping[str, str | None], at: datetime
    ) -> dict[str, OriginState]:
        at = as_utc(at, "the time origins were seen")
        checked = check_origins(origins)
        with self._lock:
            self._check_open()
            for origin, fingerprint in checked.items():
                known = self._origin_states.get(origin)
                self._origin_states[origin] = (
                    OriginState(origin, at, fingerprint=fingerprint)
                    if known is None
                    else replace(known, fingerprint=fingerprint)
                )
            return dict(sorted(self._origin_states.items()))

    def set_paused(self, origin: str, paused: bool, at: datetime) -> OriginState:
        check_origins({origin: None})
        at = as_utc(at, f"the time '{origin}' was paused or resumed")
        with self._lock:
            self._check_open()
            known = self._origin_states.get(origin)
            if known is None:
                known = OriginState(origin, at, paused, at)
            elif known.paused != paused:
                known = replace(known, paused=paused, changed_at=at)
            self._origin_states[origin] = known
            return known

    def sensor_cursor(self, origin: str) -> str | None:
        with self._lock:
            self._check_open()
            return self._cursors.get(origin)

    def save_sensor_evaluation(
        self, origin: str, cursor: str | None, ticks: Sequence[TickRecord]
    ) -> list[bool]:
        check_cursor(origin, cursor)
        checked = self._checked_ticks(ticks)
        with self._lock:
            self._check_open()
            self._cursors[origin] = cursor
            return [self._claim(tick) for tick in checked]

    def acquire_scheduler_lease(
        self, holder: str, pid: int, host: str, now: datetime, ttl: timedelta
    ) -> SchedulerLease:
        now = lease_times(holder, pid, host, now, ttl)
        with self._lock:
            self._check_open()
            found = self._scheduler_lease
            if found is not None and found.holder != holder and found.expires_at > now:
                return found
            acquired = now if found is None or found.holder != holder else found.acquired_at
            self._scheduler_lease = SchedulerLease(holder, pid, host, acquired, now, now + ttl)
            return self._scheduler_lease

    def renew_scheduler_lease(self, holder: str, now: datetime, ttl: timedelta) -> bool:
        where = f"scheduler lease of '{holder}'"
        now = check_ttl(as_utc(now, f"the time of renewing the {where}"), ttl, where)
        with self._lock:
            self._check_open()
            found = self._scheduler_lease
            if found is None or found.holder != holder:
                return False
            self._scheduler_lease = replace(found, heartbeat_at=now, expires_at=now + ttl)
            return True

    def release_scheduler_lease(self, holder: str) -> None:
        with self._lock:
            self._check_open()
            if self._scheduler_lease is not None and self._scheduler_lease.holder == holder:
                self._scheduler_lease = None

    def scheduler_lease(self) -> SchedulerLease | None:
        with self._lock:
            self._check_open()
            return self._scheduler_lease

    # -- alerting's records (AlertStore) ---------------------------------------------------

    def _open_incident_for(self, kind: str, subject: str) -> IncidentRecord | None:
        for _, incident in self._incidents.values():
            if incident.resolved_at is None and (incident.kind, incident.subject) == (
                kind,
                subject,
            ):
                return incident
        return None

    def _set_incident(self, incident: IncidentRecord) -> None:
        position = self._incidents[incident.incident_id][0]
        self._incidents[incident.incident_id] = (position, incident)

    def open_incident(self, incident: IncidentRecord, members: Sequence[IncidentMember]) -> None:
        incident = normalise_incident(incident)
        checked = normalise_members(incident.incident_id, members)
        with self._lock:
            self._check_open()
            if incident.incident_id in self._incidents:
                raise taken_incident_id_error(incident.incident_id, _LOCATION)
            if incident.resolved_at is None:
                existing = self._open_incident_for(incident.kind, incident.subject)
                if existing is not None:
                    raise IncidentAlreadyOpen(
                        incident.kind, incident.subject, existing.incident_id, _LOCATION
                    )
            self._incidents[incident.incident_id] = (len(self._incidents), incident)
            self._incident_members[incident.incident_id] = {
                member_key(member): member for member in merged_members({}, checked)
            }

    def open_incident_for(self, kind: IncidentKind, subject: str) -> IncidentRecord | None:
        kind = check_kind(kind, "the incident asked for")
        with self._lock:
            self._check_open()
            return self._open_incident_for(kind, subject)

    def add_incident_members(
        self, incident_id: str, members: Sequence[IncidentMember], at: datetime
    ) -> None:
        checked = normalise_members(incident_id, members)
        at = as_utc(at, f"the time of adding members to incident '{incident_id}'")
        with self._lock:
            self._check_open()
            if incident_id not in self._incidents:
                raise unknown_incident_error(incident_id, _LOCATION)
            incident = self._incidents[incident_id][1]
            if incident.resolved_at is not None:
                raise resolved_incident_error(incident_id, _LOCATION)
            stored = self._incident_members.get(incident_id, {})
            changed = merged_members(stored, checked)
            self._incident_members[incident_id] = stored | {member_key(m): m for m in changed}
            failed = sum(member.role == "failed" for member in checked)
            self._set_incident(
                replace(incident, last_seen_at=at, occurrences=incident.occurrences + failed)
            )

    def resolve_incident_members(
        self,
        kind: IncidentKind | None,
        subject: str,
        partitions: Collection[str],
        at: datetime,
    ) -> list[IncidentRecord]:
        kinds = None if kind is None else {check_kind(kind, "the incidents to resolve")}
        at = as_utc(at, f"the time of resolving incidents about '{subject}'")
        wanted = set(partitions)
        with self._lock:
            self._check_open()
            resolved = []
            for _, incident in sorted(self._incidents.values(), key=_incident_order):
                if incident.resolved_at is not None or incident.subject != subject:
                    continue
                if kinds is not None and incident.kind not in kinds:
                    continue
                stored = self._incident_members.get(incident.incident_id, {})
                changed, is_resolved = resolved_members(stored.values(), wanted, at)
                if changed:
                    self._incident_members[incident.incident_id] = stored | {
                        member_key(m): m for m in changed
                    }
                if is_resolved:
                    incident = replace(incident, resolved_at=at)
                    self._set_incident(incident)
                    resolved.append(incident)
            return resolved

    def resolve_incident(self, incident_id: str, at: datetime) -> IncidentRecord | None:
        at = as_utc(at, f"the time of resolving incident '{incident_id}'")
        with self._lock:
            self._check_open()
            if incident_id not in self._incidents:
                return None
            incident = self._incidents[incident_id][1]
            if incident.resolved_at is not None:
                return None
            incident = replace(incident, resolved_at=at)
            self._set_incident(incident)
            self._incident_members[incident_id] = {
                key: member if member.resolved_at is not None else replace(member, resolved_at=at)
                for key, member in self._incident_members.get(incident_id, {}).items()
            }
            return incident

    def get_incident(self, incident_id: str) -> IncidentRecord | None:
        with self._lock:
            self._check_open()
            if incident_id in self._incidents:
                return self._incidents[incident_id][1]
            if not incident_id:
                return None
            candidates = sorted(key for key in self._incidents if key.startswith(incident_id))
            if len(candidates) > 1:
                raise ambiguous_incident_error(incident_id, candidates[:11], _LOCATION)
            return self._incidents[candidates[0]][1] if candidates else None

    def incidents(
        self, *, open_only: bool = False, since: datetime | None = None, limit: int = 50
    ) -> list[IncidentRecord]:
        since = optional_utc(since, "the incidents' since")
        with self._lock:
            self._check_open()
            found = [
                incident
                for _, incident in sorted(self._incidents.values(), key=_incident_order)
                if (incident.resolved_at is None or not open_only)
                and (since is None or _since(incident, since))
            ]
        return list(reversed(found))[: max(limit, 0)]

    def open_incidents(self, kinds: Collection[IncidentKind] | None = None) -> list[IncidentRecord]:
        wanted = check_kinds(kinds)
        with self._lock:
            self._check_open()
            found = [
                incident
                for _, incident in sorted(self._incidents.values(), key=_incident_order)
                if incident.resolved_at is None and (wanted is None or incident.kind in wanted)
            ]
        return list(reversed(found))

    def incident_members(self, incident_ids: Iterable[str]) -> dict[str, list[IncidentMember]]:
        with self._lock:
            self._check_open()
            return {
                incident_id: [
                    member
                    for _, member in sorted(self._incident_members.get(incident_id, {}).items())
                ]
                for incident_id in incident_ids
            }

    def queue_alerts(self, alerts: Sequence[AlertRecord]) -> list[bool]:
        checked = [normalise_alert(alert) for alert in alerts]
        with self._lock:
            self._check_open()
            queued = []
            for alert in checked:
                key = alert_key(alert)
                if key in self._alert_keys:
                    queued.append(False)
                    continue
                alert_id = max(self._alerts, default=0) + 1
                self._alerts[alert_id] = replace(alert, alert_id=alert_id)
                self._alert_keys[key] = alert_id
                queued.append(True)
            return queued

    def _is_held(self, alert: AlertRecord) -> bool:
        """Whether the alert's hold run is still running (the caller holds the lock)."""
        if alert.hold_run_id is None or alert.hold_run_id not in self._runs:
            return False
        return self._runs[alert.hold_run_id][1].status == RunStatus.RUNNING

    def due_alerts(self, now: datetime, limit: int = 100) -> list[AlertRecord]:
        now = as_utc(now, "the time of looking for due alerts")
        with self._lock:
            self._check_open()
            due = [
                alert
                for alert in self._alerts.values()
                if is_due(alert, now, held=self._is_held(alert))
            ]
        due.sort(key=lambda alert: (alert.created_at, alert.alert_id))
        return due[: max(limit, 0)]

    def claim_alert(
        self, alert_id: int, claimer: str, now: datetime, until: datetime
    ) -> AlertRecord | None:
        now, until = claim_times(alert_id, claimer, now, until)
        with self._lock:
            self._check_open()
            alert = self._alerts.get(alert_id)
            if alert is None or not is_due(alert, now, held=self._is_held(alert), claimer=claimer):
                return None
            alert = replace(alert, status="sending", claimed_by=claimer, claimed_until=until)
            self._alerts[alert_id] = alert
            return alert

    def finish_alert_attempt(
        self,
        attempt: AlertAttempt,
        claimer: str,
        *,
        status: AlertStatus,
        next_attempt_at: datetime | None = None,
    ) -> bool:
        attempt, status, next_at = normalise_attempt(attempt, claimer, status, next_attempt_at)
        with self._lock:
            self._check_open()
            alert = self._alerts.get(attempt.alert_id)
            if alert is None or alert.status != "sending" or alert.claimed_by != claimer:
                return False
            self._alerts[alert.alert_id] = finished_alert(alert, attempt, status, next_at)
            self._alert_attempts[alert.alert_id] = (
                *self._alert_attempts.get(alert.alert_id, ()),
                attempt,
            )
            return True

    def alerts(
        self,
        *,
        destination: str | None = None,
        incident_id: str | None = None,
        limit: int = 100,
    ) -> list[AlertRecord]:
        with self._lock:
            self._check_open()
            found = [
                alert
                for alert in self._alerts.values()
                if (destination is None or alert.destination == destination)
                and (incident_id is None or alert.incident_id == incident_id)
            ]
        found.sort(key=lambda alert: (alert.created_at, alert.alert_id), reverse=True)
        return found[: max(limit, 0)]

    def alert_attempts(self, alert_id: int) -> list[AlertAttempt]:
        with self._lock:
            self._check_open()
            return list(self._alert_attempts.get(alert_id, ()))

    def last_alerts(self, destinations: Iterable[str]) -> dict[str, AlertRecord]:
        wanted = set(destinations)
        with self._lock:
            self._check_open()
            best: dict[str, tuple[tuple[bool, datetime, int], AlertRecord]] = {}
            for alert in self._alerts.values():
                if alert.destination not in wanted:
                    continue
                tried = self._alert_attempts.get(alert.alert_id, ())
                latest = max((a.at for a in tried), default=alert.created_at)
                rank = (bool(tried), latest, alert.alert_id)
                if alert.destination not in best or rank > best[alert.destination][0]:
                    best[alert.destination] = (rank, alert)
            return {destination: alert for destination, (_, alert) in best.items()}

    def lineage_outbox(self) -> LineageOutbox:
        from assetflow.store.lineage import MemoryOutbox

        return MemoryOutbox(self)

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        with self._lock:
            self._check_open()
            if self._unit is not None:
                yield MemoryUnitOfWork(is_nested=True, callbacks=self._unit.callbacks)
                return
            # Records are immutable, so copying the containers copies the state.
            saved = {name: copy.copy(getattr(self, name)) for name in _TABLES}
            unit = self._unit = MemoryUnitOfWork(is_nested=False)
            try:
                yield unit
            except BaseException:
                for name, table in saved.items():
                    setattr(self, name, table)
                raise
            finally:
                self._unit = None
        for callback in unit.callbacks:
            callback()

    def _drop_leases(self, run_id: str) -> None:
        """Forget every lease of the run (the caller holds the lock)."""
        for key in [key for key, held in self._lease_by_key.items() if held.run_id == run_id]:
            del self._lease_by_key[key]

    def close(self) -> None:
        with self._lock:
            self._is_closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _run_id_after(status: TickStatus, recorded: str | None, given: str | None) -> str | None:
    """A tick's run id after an update: none for a runless status, else the one given or kept."""
    if status in RUNLESS_STATUSES:
        return None
    return recorded if given is None else given


def _incident_order(entry: tuple[int, IncidentRecord]) -> tuple[datetime, int]:
    """Oldest opened first; ties in the order written."""
    return (entry[1].opened_at, entry[0])


def _since(incident: IncidentRecord, since: datetime) -> bool:
    """Whether ``incident`` was opened or resolved at or after ``since``, or is still open."""
    return (
        incident.resolved_at is None or incident.opened_at >= since or incident.resolved_at >= since
    )
