"""What `assetflow schedules`, `ticks` and `scheduler --dry-run` show, as data.

Each row has a text form (the CLI's tables) and a JSON form (one object per
schedule or tick, in a versioned document: docs/cli.md), built from the same
fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from assetflow.automation.ticking import TickDecision, tick_label, upcoming

if TYPE_CHECKING:
    from assetflow.automation.loading import Automation, ScheduleTarget
    from assetflow.store.automation import OriginState, TickRecord
    from assetflow.store.base import MetadataStore

#: The version of the `schedules`, `ticks` and `scheduler --dry-run` JSON layouts.
JSON_VERSION = 1


def _utc(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _local(target: ScheduleTarget | None, moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if target is None:
        return _utc(moment)
    from assetflow.automation.cadence import zone

    return moment.astimezone(zone(target.schedule.timezone)).isoformat()


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    """One schedule as `assetflow schedules` lists it."""

    target: ScheduleTarget
    paused: bool
    next_tick: datetime | None
    last_tick: TickRecord | None
    #: the status of the last tick's run, when it started one
    last_run_status: str | None

    def to_json(self) -> dict[str, Any]:
        schedule = self.target.schedule
        last = self.last_tick
        return {
            "schedule": schedule.name,
            "selection": schedule.select,
            "exclude": schedule.exclude,
            "timing": schedule.cron if schedule.cron else f"every {schedule.every}",
            "timezone": schedule.timezone,
            "partition": schedule.partition,
            "catchup": schedule.catchup,
            "enabled": schedule.enabled,
            "paused": self.paused,
            "next_utc": _utc(self.next_tick),
            "next_local": _local(self.target, self.next_tick),
            "last_tick": None
            if last is None
            else tick_document(last, self.target, self.last_run_status),
        }


def schedule_rows(automation: Automation, store: MetadataStore, now: datetime) -> list[ScheduleRow]:
    """Every schedule with its next tick after `now` and its last recorded tick."""
    states = store.origin_states()
    origins = [t.origin for t in automation.schedules]
    newest = store.latest_ticks(origins)
    run_ids = [tick.run_id for tick in newest.values() if tick.run_id]
    statuses = {run_id: _status(store, run_id) for run_id in run_ids}
    rows = []
    for target in automation.schedules:
        state = states.get(target.origin)
        first_seen = state.first_seen_at if state is not None else now
        cadence = target.schedule.cadence(first_seen)
        start = target.schedule.start or first_seen
        next_tick = cadence.next_tick(max(now, start)) if target.schedule.enabled else None
        last = newest.get(target.origin)
        rows.append(
            ScheduleRow(
                target,
                paused=bool(state and state.paused),
                next_tick=next_tick,
                last_tick=last,
                last_run_status=statuses.get(last.run_id) if last and last.run_id else None,
            )
        )
    return rows


def _status(store: MetadataStore, run_id: str) -> str | None:
    run = store.get_run(run_id)
    return None if run is None else run.status.value


def tick_document(
    tick: TickRecord, target: ScheduleTarget | None, run_status: str | None
) -> dict[str, Any]:
    """One recorded tick as JSON."""
    kind, _, name = tick.origin.partition(":")
    return {
        "schedule" if kind == "schedule" else "sensor": name,
        "origin": tick.origin,
        "scheduled_utc": _utc(tick.scheduled_at),
        "scheduled_local": _local(target, tick.scheduled_at),
        "evaluated_utc": _utc(tick.evaluated_at),
        "status": tick.status,
        "reason": tick.reason,
        "run_id": tick.run_id,
        "run_status": run_status,
        "run_key": tick.run_key,
        "partition_keys": list(tick.partition_keys),
        "selection": tick.selection,
    }


def tick_rows(
    store: MetadataStore, origin: str | None, limit: int
) -> list[tuple[TickRecord, str | None]]:
    """The newest recorded ticks (of one schedule or sensor, or all), each with its run's status."""
    ticks = store.ticks(origin, limit=limit)
    return [(tick, _status(store, tick.run_id) if tick.run_id else None) for tick in ticks]


def dry_run(
    automation: Automation, store: MetadataStore | None, now: datetime, count: int
) -> list[tuple[ScheduleTarget, TickDecision]]:
    """The next `count` ticks of every schedule after `now`, as they would be decided."""
    states: dict[str, OriginState] = store.origin_states() if store is not None else {}
    result = []
    for target in automation.schedules:
        state = states.get(target.origin)
        first_seen = state.first_seen_at if state is not None else now
        for decision in upcoming(target, first_seen, now, count):
            result.append((target, decision))
    return result


def decision_document(
    target: ScheduleTarget, decision: TickDecision, paused: bool
) -> dict[str, Any]:
    """A tick `--dry-run` would record, as JSON."""
    status = "would start" if decision.action == "run" else decision.action
    reason = decision.reason
    if paused and decision.action == "run":
        status, reason = "skipped", "paused"
    return {
        "schedule": target.name,
        "tick": tick_label(target, decision.scheduled_at),
        "scheduled_utc": _utc(decision.scheduled_at),
        "scheduled_local": _local(target, decision.scheduled_at),
        "status": status,
        "reason": reason,
        "run_id": None,
        "partition_keys": list(decision.partition_keys),
        "selection": decision.selection,
        "trigger": decision.request.trigger if decision.request is not None else None,
    }


def document(kind: str, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A versioned JSON document: `{"version": 1, kind: [...]}`."""
    return {"version": JSON_VERSION, kind: list(items)}
