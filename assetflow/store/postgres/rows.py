"""How the PostgreSQL store's core records become rows and back.

The column lists are SQLite's (one set of names for both backends, so that
`store copy` moves rows as they are); the values are PostgreSQL's: times are
aware UTC datetimes (timestamptz, read back in the session's UTC), flags
booleans, nested values JSON text. Reading back is SQLite's: a run's status or an
event's kind the enums do not know raises ValueError.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from assetflow.store.records import (
    CheckRecord,
    EventRecord,
    Lease,
    LogRecord,
    MaterializationRecord,
    MaterializationState,
    RunRecord,
)
from assetflow.store.sqlite import rows as sqlite_rows
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


def _as_read(moment: Any) -> Any:
    """A time as psycopg returns a timestamptz: already an aware datetime (or None)."""
    return moment


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

#: Moves latest_state forward to the materializations ``recorded`` (a CTE of the rows
#: inserted): the newest by finish time wins, and a tie goes to the later write.
_LATEST_FROM_RECORDED = (
    "latest AS (INSERT INTO latest_state (asset, partition_key, materialization_id, "
    "finished_at) SELECT DISTINCT ON (asset, COALESCE(partition_key, '')) "
    "asset, COALESCE(partition_key, ''), id, finished_at FROM recorded "
    "ORDER BY asset, COALESCE(partition_key, ''), finished_at DESC, id DESC "
    "ON CONFLICT (asset, partition_key) DO UPDATE SET "
    "materialization_id = excluded.materialization_id, finished_at = excluded.finished_at "
    "WHERE excluded.finished_at >= latest_state.finished_at)"
)


def _values(columns: str, rows: list[Row]) -> str:
    """The VALUES list of ``rows`` (each a row of ``columns``), as placeholders."""
    row = f"({_placeholders(columns)})"
    return ", ".join(row for _ in rows)


def record_statement(
    materialization_rows: list[Row],
    event_rows: list[Row],
    check_rows: list[Row],
    log_rows: list[Row],
) -> tuple[str, list[Any]]:
    """One statement that inserts the rows given (any list may be empty; not all) and
    moves latest_state forward to the materializations; its parameters."""
    parts: list[str] = []
    values: list[Any] = []
    if materialization_rows:
        parts.append(
            f"recorded AS (INSERT INTO materializations ({MATERIALIZATION_COLUMNS}) VALUES "
            f"{_values(MATERIALIZATION_COLUMNS, materialization_rows)} "
            "RETURNING id, asset, partition_key, finished_at)"
        )
        parts.append(_LATEST_FROM_RECORDED)
        values.extend(value for row in materialization_rows for value in row)
    for name, table, columns, rows in (
        ("new_events", "events", EVENT_COLUMNS, event_rows),
        ("new_checks", "check_results", CHECK_COLUMNS, check_rows),
        ("new_logs", "step_logs", LOG_COLUMNS, log_rows),
    ):
        if rows:
            parts.append(
                f"{name} AS (INSERT INTO {table} ({columns}) VALUES {_values(columns, rows)})"
            )
            values.extend(value for row in rows for value in row)
    return "WITH " + ", ".join(parts) + " SELECT 1", values


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
    """SQLite's ``runs_from_rows``, the driver's datetimes taken as they are."""
    return sqlite_rows.runs_from_rows(rows, time=_as_read)


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
    """SQLite's ``materializations_from_rows``, the driver's datetimes taken as they are."""
    return sqlite_rows.materializations_from_rows(rows, time=_as_read)


def states_from_rows(rows: Iterable[Row]) -> list[MaterializationState]:
    """SQLite's ``states_from_rows``, the driver's datetimes taken as they are."""
    return sqlite_rows.states_from_rows(rows, time=_as_read)


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
    """SQLite's ``events_from_rows``, the driver's datetimes taken as they are."""
    return sqlite_rows.events_from_rows(rows, time=_as_read)


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
    """SQLite's ``checks_from_rows``, the driver's datetimes taken as they are."""
    return sqlite_rows.checks_from_rows(rows, time=_as_read)


def log_row(log: LogRecord) -> Row:
    """The values of INSERT_LOG for a normalised ``log``."""
    return (log.run_id, log.asset, log.partition, log.attempt, log.text, log.at)


def logs_from_rows(rows: Iterable[Row]) -> list[LogRecord]:
    """SQLite's ``logs_from_rows``, the driver's datetimes taken as they are."""
    return sqlite_rows.logs_from_rows(rows, time=_as_read)


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
    """SQLite's ``leases_from_rows``, the driver's datetimes taken as they are."""
    return sqlite_rows.leases_from_rows(rows, time=_as_read)
