"""How the PostgreSQL store's core records become rows and back.

The column lists are SQLite's (one set of names for both backends, so that
`store copy` moves rows as they are); the values are PostgreSQL's: times are
aware UTC datetimes (timestamptz, read back in the session's UTC), flags
booleans, nested values JSON text. A row that does not make a valid record
raises ValueError (pydantic's ValidationError is one).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from assetflow.store.records import (
    CheckRecord,
    Column,
    EventRecord,
    Lease,
    LogRecord,
    MaterializationRecord,
    MaterializationState,
    RunRecord,
)
from assetflow.store.sqlite.rows import (
    CHECK_COLUMNS as CHECK_COLUMNS,
)
from assetflow.store.sqlite.rows import (
    EVENT_COLUMNS as EVENT_COLUMNS,
)
from assetflow.store.sqlite.rows import (
    LEASE_COLUMNS as LEASE_COLUMNS,
)
from assetflow.store.sqlite.rows import (
    LOG_COLUMNS as LOG_COLUMNS,
)
from assetflow.store.sqlite.rows import (
    MATERIALIZATION_COLUMNS as MATERIALIZATION_COLUMNS,
)
from assetflow.store.sqlite.rows import (
    RUN_COLUMNS as RUN_COLUMNS,
)
from assetflow.store.sqlite.rows import (
    STATE_COLUMNS as STATE_COLUMNS,
)

Row = tuple[Any, ...]


def _placeholders(columns: str) -> str:
    return ", ".join("%s" for _ in columns.split(","))


INSERT_RUN = f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({_placeholders(RUN_COLUMNS)})"
INSERT_MATERIALIZATION = (
    f"INSERT INTO materializations ({MATERIALIZATION_COLUMNS}) "
    f"VALUES ({_placeholders(MATERIALIZATION_COLUMNS)}) RETURNING id"
)
INSERT_EVENT = f"INSERT INTO events ({EVENT_COLUMNS}) VALUES ({_placeholders(EVENT_COLUMNS)})"
INSERT_LOG = f"INSERT INTO step_logs ({LOG_COLUMNS}) VALUES ({_placeholders(LOG_COLUMNS)})"
INSERT_CHECK = (
    f"INSERT INTO check_results ({CHECK_COLUMNS}) VALUES ({_placeholders(CHECK_COLUMNS)})"
)
#: Stores a lease, replacing the one on its asset-partition if there is one.
UPSERT_LEASE = (
    f"INSERT INTO leases ({LEASE_COLUMNS}) VALUES ({_placeholders(LEASE_COLUMNS)}) "
    "ON CONFLICT (asset, partition_key) DO UPDATE SET run_id = excluded.run_id, "
    "pid = excluded.pid, host = excluded.host, acquired_at = excluded.acquired_at, "
    "expires_at = excluded.expires_at"
)


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def run_key_value(run_key: str) -> str:
    """The value of ``runs.run_key`` for a run key (text; the connection keeps NULs)."""
    return run_key


def run_row(run: RunRecord) -> Row:
    """The values of INSERT_RUN for a normalised ``run``."""
    return (
        run.run_id,
        run.trigger,
        run.selection,
        run.status.value,
        run.started_at,
        run.finished_at,
        run.pid,
        run.partitions,
        run.host,
        run.heartbeat_at,
        run.cancel_requested_at,
        run.run_key,
        _json(run.tags) if run.tags else None,
    )


def runs_from_rows(rows: Iterable[Row]) -> list[RunRecord]:
    """Records from rows selected as RUN_COLUMNS."""
    return [
        RunRecord.model_validate(
            {
                "run_id": run_id,
                "trigger": trigger,
                "selection": selection,
                "status": status,
                "started_at": started_at,
                "finished_at": finished_at,
                "pid": pid,
                "partitions": partitions,
                "host": host,
                "heartbeat_at": heartbeat_at,
                "cancel_requested_at": cancel_requested_at,
                "run_key": run_key,
                "tags": json.loads(tags_json) if tags_json else {},
            }
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


def materialization_row(materialization: MaterializationRecord) -> Row:
    """The values of INSERT_MATERIALIZATION for a normalised ``materialization``."""
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
        materialization.started_at,
        materialization.finished_at,
        materialization.duration_s,
        materialization.code_version,
        materialization.data_version,
        _json(materialization.input_versions),
        materialization.file_mtime,
        materialization.file_digest,
    )


def materializations_from_rows(rows: Iterable[Row]) -> list[MaterializationRecord]:
    """Records from rows selected as MATERIALIZATION_COLUMNS."""
    columns_by_json: dict[str, tuple[Column, ...]] = {}
    records = []
    for row in rows:
        columns_json = row[7]
        columns = columns_by_json.get(columns_json)
        if columns is None:
            columns = tuple(Column.model_validate(item) for item in json.loads(columns_json))
            columns_by_json[columns_json] = columns
        records.append(
            MaterializationRecord.model_validate(
                {
                    "run_id": row[0],
                    "asset": row[1],
                    "partition": row[2],
                    "io": row[3],
                    "path": row[4],
                    "rows": row[5],
                    "bytes": row[6],
                    "columns": columns,
                    "started_at": row[8],
                    "finished_at": row[9],
                    "duration_s": row[10],
                    "code_version": row[11],
                    "data_version": row[12],
                    "input_versions": json.loads(row[13]),
                    "file_mtime": row[14],
                    "file_digest": row[15],
                }
            )
        )
    return records


_DECODER = json.JSONDecoder()


def states_from_rows(rows: Iterable[Row]) -> list[MaterializationState]:
    """Plain states from rows selected as STATE_COLUMNS (no validation: they were checked
    when written, and the planner reads many)."""
    raw_decode = _DECODER.raw_decode
    return [
        MaterializationState(
            run_id,
            asset,
            partition,
            io,
            path,
            row_count,
            finished_at,
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


def event_row(event: EventRecord) -> Row:
    """The values of INSERT_EVENT for a normalised ``event``."""
    return (
        event.run_id,
        event.kind.value,
        event.at,
        event.asset,
        event.partition,
        event.message,
        event.attempt,
        event.duration_s,
        event.started_at,
        event.host,
        event.pid,
    )


def events_from_rows(rows: Iterable[Row]) -> list[EventRecord]:
    """Records from rows selected as EVENT_COLUMNS."""
    return [
        EventRecord.model_validate(
            {
                "run_id": run_id,
                "kind": kind,
                "at": occurred_at,
                "asset": asset,
                "partition": partition,
                "message": message,
                "attempt": attempt,
                "duration_s": duration_s,
                "started_at": started_at,
                "host": host,
                "pid": pid,
            }
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


def check_row(result: CheckRecord) -> Row:
    """The values of INSERT_CHECK for a normalised ``result``."""
    return (
        result.run_id,
        result.asset,
        result.partition,
        result.check,
        result.passed,
        result.severity,
        result.blocking,
        result.message,
        _json(result.metadata),
        result.at,
    )


def checks_from_rows(rows: Iterable[Row]) -> list[CheckRecord]:
    """Records from rows selected as CHECK_COLUMNS."""
    return [
        CheckRecord.model_validate(
            {
                "run_id": run_id,
                "asset": asset,
                "partition": partition,
                "check": check,
                "passed": passed,
                "severity": severity,
                "blocking": blocking,
                "message": message,
                "metadata": json.loads(metadata),
                "at": at,
            }
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
    """The values of INSERT_LOG for a normalised ``log``."""
    return (log.run_id, log.asset, log.partition, log.attempt, log.text, log.at)


def logs_from_rows(rows: Iterable[Row]) -> list[LogRecord]:
    """Records from rows selected as LOG_COLUMNS."""
    return [
        LogRecord.model_validate(
            {
                "run_id": run_id,
                "asset": asset,
                "partition": partition,
                "attempt": attempt,
                "text": text,
                "at": at,
            }
        )
        for run_id, asset, partition, attempt, text, at in rows
    ]


def lease_key(partition: str | None) -> str:
    """The partition_key a lease is stored under: '' for an unpartitioned asset."""
    return "" if partition is None else partition


def lease_row(lease: Lease) -> Row:
    """The values of UPSERT_LEASE for a normalised ``lease``."""
    return (
        lease.asset,
        lease_key(lease.partition),
        lease.run_id,
        lease.pid,
        lease.host,
        lease.acquired_at,
        lease.expires_at,
    )


def leases_from_rows(rows: Iterable[Row]) -> list[Lease]:
    """Leases from rows selected as LEASE_COLUMNS."""
    return [
        Lease(asset, partition or None, run_id, pid, host, acquired_at, expires_at)
        for asset, partition, run_id, pid, host, acquired_at, expires_at in rows
    ]
