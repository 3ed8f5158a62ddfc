"""How records become SQL rows and back: column lists, times as text, nested values as JSON.

Times are stored as ISO-8601 text in UTC with microseconds
(``2026-03-01T00:00:00.000000+00:00``): one fixed width, so text order is time
order, and readable with the ``sqlite3`` shell. Columns and input versions are
JSON text. Reading back builds the same records, as written: values are not
checked again, but a run's status or an event's kind the enums do not know raises
ValueError.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from assetflow.store.alerts import (
    AlertAttempt,
    AlertRecord,
    IncidentMember,
    IncidentRecord,
    check_alert_status,
    check_event,
    check_kind,
    check_outcome,
    check_role,
)
from assetflow.store.automation import OriginState, SchedulerLease, TickRecord, check_status
from assetflow.store.records import (
    CheckRecord,
    Column,
    EventKind,
    EventRecord,
    Lease,
    LogRecord,
    MaterializationRecord,
    MaterializationState,
    RunRecord,
    RunStatus,
)

Row = tuple[Any, ...]

RUN_COLUMNS = (
    "run_id, run_trigger, selection, status, started_at, finished_at, pid, partitions, "
    "host, heartbeat_at, cancel_requested_at, run_key, tags_json"
)
MATERIALIZATION_COLUMNS = (
    "run_id, asset, partition_key, io, path, row_count, byte_count, columns_json, "
    "started_at, finished_at, duration_s, code_version, data_version, input_versions_json, "
    "file_mtime, file_digest"
)
EVENT_COLUMNS = (
    "run_id, kind, occurred_at, asset, partition_key, message, attempt, duration_s, "
    "started_at, host, pid"
)
CHECK_COLUMNS = (
    "run_id, asset, partition_key, check_name, passed, severity, blocking, message, "
    "metadata_json, occurred_at"
)
LOG_COLUMNS = "run_id, asset, partition_key, attempt, text, occurred_at"
LEASE_COLUMNS = "asset, partition_key, run_id, pid, host, acquired_at, expires_at"


def _placeholders(columns: str) -> str:
    return ", ".join("?" for _ in columns.split(","))


INSERT_RUN = f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({_placeholders(RUN_COLUMNS)})"
INSERT_MATERIALIZATION = (
    f"INSERT INTO materializations ({MATERIALIZATION_COLUMNS}) "
    f"VALUES ({_placeholders(MATERIALIZATION_COLUMNS)})"
)
INSERT_EVENT = f"INSERT INTO events ({EVENT_COLUMNS}) VALUES ({_placeholders(EVENT_COLUMNS)})"
INSERT_LOG = f"INSERT INTO step_logs ({LOG_COLUMNS}) VALUES ({_placeholders(LOG_COLUMNS)})"
#: Stores a lease, replacing the one on its asset-partition if there is one.
UPSERT_LEASE = (
    f"INSERT INTO leases ({LEASE_COLUMNS}) VALUES ({_placeholders(LEASE_COLUMNS)}) "
    "ON CONFLICT (asset, partition_key) DO UPDATE SET run_id = excluded.run_id, "
    "pid = excluded.pid, host = excluded.host, acquired_at = excluded.acquired_at, "
    "expires_at = excluded.expires_at"
)
INSERT_CHECK = (
    f"INSERT INTO check_results ({CHECK_COLUMNS}) VALUES ({_placeholders(CHECK_COLUMNS)})"
)


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def time_text(moment: datetime) -> str:
    """A UTC datetime as stored (the caller has normalised it to UTC)."""
    return moment.isoformat(timespec="microseconds")


def optional_time_text(moment: datetime | None) -> str | None:
    """``time_text`` of a time that may be missing."""
    return None if moment is None else time_text(moment)


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


#: How a stored time becomes a datetime: SQLite keeps ISO text; the PostgreSQL store,
#: whose driver returns datetimes, passes its own reader to the same ``*_from_rows``.
TimeReader = Callable[[Any], Any]


def run_row(run: RunRecord) -> Row:
    """The values of INSERT_RUN for ``run``."""
    return (
        run.run_id,
        run.trigger,
        run.selection,
        run.status.value,
        time_text(run.started_at),
        optional_time_text(run.finished_at),
        run.pid,
        run.partitions,
        run.host,
        optional_time_text(run.heartbeat_at),
        optional_time_text(run.cancel_requested_at),
        run.run_key,
        _json(run.tags) if run.tags else None,
    )


def materialization_row(materialization: MaterializationRecord) -> Row:
    """The values of INSERT_MATERIALIZATION for ``materialization``."""
    columns = [{"name": column.name, "type": column.type} for column in materialization.columns]
    return (
        materialization.run_id,
        materialization.asset,
        materialization.partition,
        materialization.io,
        materialization.path,
        materialization.rows,
        materialization.bytes,
        _json(columns),
        time_text(materialization.started_at),
        time_text(materialization.finished_at),
        materialization.duration_s,
        materialization.code_version,
        materialization.data_version,
        _json(materialization.input_versions),
        materialization.file_mtime,
        materialization.file_digest,
    )


def event_row(event: EventRecord) -> Row:
    """The values of INSERT_EVENT for ``event``."""
    return (
        event.run_id,
        event.kind.value,
        time_text(event.at),
        event.asset,
        event.partition,
        event.message,
        event.attempt,
        event.duration_s,
        None if event.started_at is None else time_text(event.started_at),
        event.host,
        event.pid,
    )


def runs_from_rows(rows: Iterable[Row], time: TimeReader = _time) -> list[RunRecord]:
    """Records from rows selected as RUN_COLUMNS."""
    return [
        RunRecord(
            run_id=run_id,
            trigger=trigger,
            selection=selection,
            status=RunStatus(status),
            started_at=time(started_at),
            finished_at=time(finished_at),
            pid=pid,
            partitions=partitions,
            host=host,
            heartbeat_at=time(heartbeat_at),
            cancel_requested_at=time(cancel_requested_at),
            run_key=run_key,
            tags=json.loads(tags_json) if tags_json else {},
        )
        for (
            run_id,
            trigger,
            selection,
            status,
            started_at,
            finished_at,
            pid,
            partitions,
            host,
            heartbeat_at,
            cancel_requested_at,
            run_key,
            tags_json,
        ) in rows
    ]


def materializations_from_rows(
    rows: Iterable[Row], time: TimeReader = _time
) -> list[MaterializationRecord]:
    """Records from rows selected as MATERIALIZATION_COLUMNS."""
    # Most assets share a few column lists; parsing each once is most of the speed.
    # Columns are frozen, so the records can share the tuples.
    columns_by_json: dict[str, tuple[Column, ...]] = {}
    records = []
    for (
        run_id,
        asset,
        partition,
        io,
        path,
        row_count,
        byte_count,
        columns_json,
        started_at,
        finished_at,
        duration_s,
        code_version,
        data_version,
        input_versions_json,
        file_mtime,
        file_digest,
    ) in rows:
        columns = columns_by_json.get(columns_json)
        if columns is None:
            columns = tuple(
                Column(name=item["name"], type=item["type"]) for item in json.loads(columns_json)
            )
            columns_by_json[columns_json] = columns
        records.append(
            MaterializationRecord(
                run_id=run_id,
                asset=asset,
                partition=partition,
                io=io,
                path=path,
                rows=row_count,
                bytes=byte_count,
                columns=columns,
                started_at=time(started_at),
                finished_at=time(finished_at),
                duration_s=duration_s,
                code_version=code_version,
                data_version=data_version,
                input_versions=json.loads(input_versions_json),
                file_mtime=file_mtime,
                file_digest=file_digest,
            )
        )
    return records


def events_from_rows(rows: Iterable[Row], time: TimeReader = _time) -> list[EventRecord]:
    """Records from rows selected as EVENT_COLUMNS."""
    return [
        EventRecord(
            run_id=run_id,
            kind=EventKind(kind),
            at=time(occurred_at),
            asset=asset,
            partition=partition,
            message=message,
            attempt=attempt,
            duration_s=duration_s,
            started_at=time(started_at),
            host=host,
            pid=pid,
        )
        for (
            run_id,
            kind,
            occurred_at,
            asset,
            partition,
            message,
            attempt,
            duration_s,
            started_at,
            host,
            pid,
        ) in rows
    ]


_DECODER = json.JSONDecoder()

#: What latest_states() reads of each newest materialization.
STATE_COLUMNS = (
    "m.run_id, m.asset, m.partition_key, m.io, m.path, m.row_count, m.finished_at, "
    "m.code_version, m.data_version, m.input_versions_json, m.byte_count, m.file_mtime, "
    "m.file_digest"
)


def states_from_rows(
    rows: Iterable[Row], time: TimeReader = datetime.fromisoformat
) -> list[MaterializationState]:
    """Plain states from rows selected as STATE_COLUMNS (no validation: they were checked
    when written, and the planner reads many)."""
    # Stored JSON has no surrounding whitespace, so the raw decoder can skip the two
    # regular-expression scans json.loads makes per call (a third of the read time).
    raw_decode = _DECODER.raw_decode
    return [
        MaterializationState(
            run_id,
            asset,
            partition,
            io,
            path,
            row_count,
            time(finished_at),
            code_version,
            data_version,
            raw_decode(inputs)[0] if inputs != "{}" else {},
            byte_count,
            file_mtime,
            file_digest,
        )
        for (
            run_id,
            asset,
            partition,
            io,
            path,
            row_count,
            finished_at,
            code_version,
            data_version,
            inputs,
            byte_count,
            file_mtime,
            file_digest,
        ) in rows
    ]


def check_row(result: CheckRecord) -> Row:
    """The values of INSERT_CHECK for ``result``."""
    return (
        result.run_id,
        result.asset,
        result.partition,
        result.check,
        int(result.passed),
        result.severity,
        int(result.blocking),
        result.message,
        _json(result.metadata),
        time_text(result.at),
    )


def checks_from_rows(rows: Iterable[Row], time: TimeReader = _time) -> list[CheckRecord]:
    """Records from rows selected as CHECK_COLUMNS."""
    return [
        CheckRecord(
            run_id=run_id,
            asset=asset,
            partition=partition,
            check=check,
            passed=bool(passed),
            severity=severity,
            blocking=bool(blocking),
            message=message,
            metadata=json.loads(metadata),
            at=time(at),
        )
        for (
            run_id,
            asset,
            partition,
            check,
            passed,
            severity,
            blocking,
            message,
            metadata,
            at,
        ) in rows
    ]


def log_row(log: LogRecord) -> Row:
    """The values of INSERT_LOG for ``log``."""
    return (log.run_id, log.asset, log.partition, log.attempt, log.text, time_text(log.at))


def logs_from_rows(rows: Iterable[Row], time: TimeReader = _time) -> list[LogRecord]:
    """Records from rows selected as LOG_COLUMNS."""
    return [
        LogRecord(
            run_id=run_id,
            asset=asset,
            partition=partition,
            attempt=attempt,
            text=text,
            at=time(at),
        )
        for run_id, asset, partition, attempt, text, at in rows
    ]


def lease_key(partition: str | None) -> str:
    """The partition_key a lease is stored under: '' for an unpartitioned asset."""
    return "" if partition is None else partition


def lease_row(lease: Lease) -> Row:
    """The values of UPSERT_LEASE for ``lease``."""
    return (
        lease.asset,
        lease_key(lease.partition),
        lease.run_id,
        lease.pid,
        lease.host,
        time_text(lease.acquired_at),
        time_text(lease.expires_at),
    )


def leases_from_rows(rows: Iterable[Row], time: TimeReader = datetime.fromisoformat) -> list[Lease]:
    """Leases from rows selected as LEASE_COLUMNS."""
    return [
        Lease(
            asset,
            partition or None,
            run_id,
            pid,
            host,
            time(acquired_at),
            time(expires_at),
        )
        for asset, partition, run_id, pid, host, acquired_at, expires_at in rows
    ]


# -- the scheduler's records -----------------------------------------------------------------

TICK_COLUMNS = (
    "origin, scheduled_at, evaluated_at, status, reason, run_id, run_key, "
    "partition_keys_json, selection, request_json"
)
#: Records a tick unless its (origin, scheduled_at) is taken; rowcount says which.
INSERT_TICK = (
    f"INSERT INTO ticks ({TICK_COLUMNS}) VALUES ({_placeholders(TICK_COLUMNS)}) "
    "ON CONFLICT (origin, scheduled_at) DO NOTHING"
)
ORIGIN_STATE_COLUMNS = "origin, first_seen_at, paused, changed_at, fingerprint"
SCHEDULER_LEASE_COLUMNS = "holder, pid, host, acquired_at, heartbeat_at, expires_at"
#: Stores the scheduler lease, replacing whoever held it.
UPSERT_SCHEDULER_LEASE = (
    f"INSERT INTO scheduler_lease (name, {SCHEDULER_LEASE_COLUMNS}) "
    f"VALUES ('scheduler', {_placeholders(SCHEDULER_LEASE_COLUMNS)}) "
    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, pid = excluded.pid, "
    "host = excluded.host, acquired_at = excluded.acquired_at, "
    "heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at"
)


def tick_row(tick: TickRecord, request_json: str | None) -> Row:
    """The values of INSERT_TICK for a normalised ``tick`` and its request as JSON."""
    return (
        tick.origin,
        time_text(tick.scheduled_at),
        time_text(tick.evaluated_at),
        tick.status,
        tick.reason,
        tick.run_id,
        tick.run_key,
        _json(list(tick.partition_keys)) if tick.partition_keys else None,
        tick.selection,
        request_json,
    )


def ticks_from_rows(
    rows: Iterable[Row], time: TimeReader = datetime.fromisoformat
) -> list[TickRecord]:
    """Ticks from rows selected as TICK_COLUMNS."""
    ticks = []
    for (
        origin,
        scheduled_text,
        evaluated_at,
        status,
        reason,
        run_id,
        run_key,
        partition_keys,
        selection,
        request,
    ) in rows:
        scheduled_at = time(scheduled_text)  # read once, for the tick and its message
        ticks.append(
            TickRecord(
                origin,
                scheduled_at,
                time(evaluated_at),
                check_status(status, f"tick '{origin}' at {scheduled_at.isoformat()}"),
                reason,
                run_id,
                run_key,
                tuple(json.loads(partition_keys)) if partition_keys else (),
                selection,
                json.loads(request) if request is not None else None,
            )
        )
    return ticks


def origin_states_from_rows(rows: Iterable[Row], time: TimeReader = _time) -> list[OriginState]:
    """Origin states from rows selected as ORIGIN_STATE_COLUMNS."""
    return [
        OriginState(origin, time(seen), bool(paused), time(changed), digest)
        for origin, seen, paused, changed, digest in rows
    ]


def scheduler_lease_row(lease: SchedulerLease) -> Row:
    """The values of UPSERT_SCHEDULER_LEASE for ``lease``."""
    return (
        lease.holder,
        lease.pid,
        lease.host,
        time_text(lease.acquired_at),
        time_text(lease.heartbeat_at),
        time_text(lease.expires_at),
    )


def scheduler_leases_from_rows(rows: Iterable[Row]) -> list[SchedulerLease]:
    """Scheduler leases from rows selected as SCHEDULER_LEASE_COLUMNS."""
    parse_time = datetime.fromisoformat
    return [
        SchedulerLease(holder, pid, host, parse_time(a), parse_time(h), parse_time(e))
        for holder, pid, host, a, h, e in rows
    ]


# -- alerting's records ----------------------------------------------------------------------

INCIDENT_COLUMNS = (
    "incident_id, kind, subject, opened_at, last_seen_at, summary, run_id, resolved_at, occurrences"
)
INSERT_INCIDENT = (
    f"INSERT INTO incidents ({INCIDENT_COLUMNS}) VALUES ({_placeholders(INCIDENT_COLUMNS)})"
)
MEMBER_COLUMNS = (
    "incident_id, partition_key, opened_at, resolved_at, failures, last_run_id, role, asset"
)
#: Stores a member, replacing the one of its (role, asset, partition) if there is one.
UPSERT_MEMBER = (
    f"INSERT INTO incident_members ({MEMBER_COLUMNS}) VALUES ({_placeholders(MEMBER_COLUMNS)}) "
    "ON CONFLICT (incident_id, role, asset, partition_key) DO UPDATE SET "
    "opened_at = excluded.opened_at, resolved_at = excluded.resolved_at, "
    "failures = excluded.failures, last_run_id = excluded.last_run_id"
)
#: The columns of an alert but its id (which the store assigns).
ALERT_VALUE_COLUMNS = (
    "destination, incident_id, event, created_at, status, attempts, next_attempt_at, "
    "hold_run_id, last_error, sent_at, claimed_by, claimed_until"
)
ALERT_COLUMNS = f"alert_id, {ALERT_VALUE_COLUMNS}"
#: Queues an alert unless its (destination, incident, event) is queued; rowcount says which.
INSERT_ALERT = (
    f"INSERT INTO alerts ({ALERT_VALUE_COLUMNS}) VALUES ({_placeholders(ALERT_VALUE_COLUMNS)}) "
    "ON CONFLICT (destination, incident_id, event) DO NOTHING"
)
ATTEMPT_COLUMNS = "alert_id, attempted_at, outcome, detail, duration_s"
INSERT_ATTEMPT = (
    f"INSERT INTO alert_attempts ({ATTEMPT_COLUMNS}) VALUES ({_placeholders(ATTEMPT_COLUMNS)})"
)


def incident_row(incident: IncidentRecord) -> Row:
    """The values of INSERT_INCIDENT for a normalised ``incident``."""
    return (
        incident.incident_id,
        incident.kind,
        incident.subject,
        time_text(incident.opened_at),
        time_text(incident.last_seen_at),
        incident.summary,
        incident.run_id,
        optional_time_text(incident.resolved_at),
        incident.occurrences,
    )


def incidents_from_rows(rows: Iterable[Row]) -> list[IncidentRecord]:
    """Incidents from rows selected as INCIDENT_COLUMNS."""
    parse_time = datetime.fromisoformat
    return [
        IncidentRecord(
            incident_id,
            check_kind(kind, f"incident '{incident_id}'"),
            subject,
            parse_time(opened_at),
            parse_time(last_seen_at),
            summary,
            run_id,
            _time(resolved_at),
            occurrences,
        )
        for (
            incident_id,
            kind,
            subject,
            opened_at,
            last_seen_at,
            summary,
            run_id,
            resolved_at,
            occurrences,
        ) in rows
    ]


def member_row(incident_id: str, member: IncidentMember) -> Row:
    """The values of UPSERT_MEMBER for a normalised ``member`` of the incident."""
    return (
        incident_id,
        member.partition,
        time_text(member.opened_at),
        optional_time_text(member.resolved_at),
        member.failures,
        member.last_run_id,
        member.role,
        member.asset,
    )


def members_from_rows(rows: Iterable[Row]) -> list[tuple[str, IncidentMember]]:
    """(incident id, member) pairs from rows selected as MEMBER_COLUMNS."""
    return [
        (
            incident_id,
            IncidentMember(
                partition,
                datetime.fromisoformat(opened_at),
                _time(resolved_at),
                failures,
                last_run_id,
                check_role(role, f"a member of incident '{incident_id}'"),
                asset,
            ),
        )
        for incident_id, partition, opened_at, resolved_at, failures, last_run_id, role, asset in (
            rows
        )
    ]


def alert_row(alert: AlertRecord) -> Row:
    """The values of INSERT_ALERT for a normalised ``alert``."""
    return (
        alert.destination,
        alert.incident_id,
        alert.event,
        time_text(alert.created_at),
        alert.status,
        alert.attempts,
        optional_time_text(alert.next_attempt_at),
        alert.hold_run_id,
        alert.last_error,
        optional_time_text(alert.sent_at),
        alert.claimed_by,
        optional_time_text(alert.claimed_until),
    )


def alerts_from_rows(rows: Iterable[Row]) -> list[AlertRecord]:
    """Alerts from rows selected as ALERT_COLUMNS."""
    return [
        AlertRecord(
            alert_id,
            destination,
            incident_id,
            check_event(event, f"alert {alert_id}"),
            datetime.fromisoformat(created_at),
            check_alert_status(status, f"alert {alert_id}"),
            attempts,
            _time(next_attempt_at),
            hold_run_id,
            last_error,
            _time(sent_at),
            claimed_by,
            _time(claimed_until),
        )
        for (
            alert_id,
            destination,
            incident_id,
            event,
            created_at,
            status,
            attempts,
            next_attempt_at,
            hold_run_id,
            last_error,
            sent_at,
            claimed_by,
            claimed_until,
        ) in rows
    ]


def attempt_row(attempt: AlertAttempt) -> Row:
    """The values of INSERT_ATTEMPT for a normalised ``attempt``."""
    return (
        attempt.alert_id,
        time_text(attempt.at),
        attempt.outcome,
        attempt.detail,
        attempt.duration_s,
    )


def attempts_from_rows(rows: Iterable[Row]) -> list[AlertAttempt]:
    """Delivery attempts from rows selected as ATTEMPT_COLUMNS."""
    return [
        AlertAttempt(
            alert_id,
            datetime.fromisoformat(at),
            check_outcome(outcome, f"an attempt at alert {alert_id}"),
            detail,
            duration_s,
        )
        for alert_id, at, outcome, detail, duration_s in rows
    ]
