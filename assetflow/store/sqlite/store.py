"""The SQLite store's queries: what is stored and how it is read back.

``connection`` holds how the file is opened, locked and retried, ``schema`` its
tables and migrations, ``rows`` the mapping between records and rows.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self, TypeVar

from assetflow.errors import StoreError
from assetflow.store.alerts import (
    AlertAttempt,
    AlertRecord,
    AlertStatus,
    IncidentAlreadyOpen,
    IncidentKind,
    IncidentMember,
    IncidentRecord,
    ambiguous_incident_error,
    check_kind,
    check_kinds,
    claim_times,
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
from assetflow.store.base import AssetPartition, normalise_lease
from assetflow.store.normalise import (
    MAX_INTEGER,
    as_utc,
    asset_filter,
    check_code,
    normalise_check,
    normalise_event,
    normalise_log,
    normalise_materialization,
    normalise_run,
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
from assetflow.store.sqlite import tables
from assetflow.store.sqlite.connection import (
    BUSY_TIMEOUT_S,
    LOCK_RETRY_DELAYS_S,
    SqliteConnection,
)
from assetflow.store.sqlite.errors import corrupt_store_error
from assetflow.store.sqlite.rows import (
    ALERT_COLUMNS,
    ATTEMPT_COLUMNS,
    CHECK_COLUMNS,
    EVENT_COLUMNS,
    INCIDENT_COLUMNS,
    INSERT_ALERT,
    INSERT_ATTEMPT,
    INSERT_CHECK,
    INSERT_EVENT,
    INSERT_INCIDENT,
    INSERT_LOG,
    INSERT_MATERIALIZATION,
    INSERT_RUN,
    INSERT_TICK,
    LEASE_COLUMNS,
    LOG_COLUMNS,
    MATERIALIZATION_COLUMNS,
    MEMBER_COLUMNS,
    ORIGIN_STATE_COLUMNS,
    RUN_COLUMNS,
    SCHEDULER_LEASE_COLUMNS,
    STATE_COLUMNS,
    TICK_COLUMNS,
    UPSERT_LEASE,
    UPSERT_MEMBER,
    UPSERT_SCHEDULER_LEASE,
    Row,
    alert_row,
    alerts_from_rows,
    attempt_row,
    attempts_from_rows,
    check_row,
    checks_from_rows,
    event_row,
    events_from_rows,
    incident_row,
    incidents_from_rows,
    lease_key,
    lease_row,
    leases_from_rows,
    log_row,
    logs_from_rows,
    materialization_row,
    materializations_from_rows,
    member_row,
    members_from_rows,
    optional_time_text,
    origin_states_from_rows,
    run_row,
    runs_from_rows,
    scheduler_lease_row,
    scheduler_leases_from_rows,
    states_from_rows,
    tick_row,
    ticks_from_rows,
    time_text,
)
from assetflow.store.sqlite.schema import MIGRATIONS, UPDATE_LATEST_STATE, Migration
from assetflow.store.sqlite.unit import SqliteUnitOfWork

if TYPE_CHECKING:
    from assetflow.store.lineage import LineageOutbox

logger = logging.getLogger(__name__)

_R = TypeVar("_R")


def _newest_per_asset_partition(table: str, columns: str, time_column: str, where: str) -> str:
    """SQL for the newest row of each (asset, partition) in ``table`` among rows ``where``.

    Ranks each group by time, then by write order, and keeps the first. The
    ranking reads only a covering index, already in the window's order; full
    rows are fetched for the winners alone.
    """
    return f"""
SELECT {columns} FROM {table} WHERE id IN (
    SELECT id FROM (
        SELECT id, ROW_NUMBER() OVER (
            PARTITION BY asset, partition_key ORDER BY {time_column} DESC, id DESC
        ) AS recency
        FROM {table} WHERE {where}
    ) AS ranked WHERE recency = 1
)"""


# The wanted asset names travel as one JSON array parameter, so a query for
# 10,000 assets is still one statement with one parameter.
_OF_ASSETS = "asset IN (SELECT value FROM json_each(?))"
_FAILED = "kind = 'failed' AND asset IS NOT NULL"


# (every asset, some assets)
def _newest_materializations(columns: str, where: str) -> str:
    """SQL for the newest materialization of each asset-partition, through latest_state."""
    return (
        f"SELECT {columns} FROM latest_state AS l "
        f"JOIN materializations AS m ON m.id = l.materialization_id WHERE {where}"
    )


_M_COLUMNS = ", ".join(f"m.{name.strip()}" for name in MATERIALIZATION_COLUMNS.split(","))
_LATEST_MATERIALIZATIONS = (
    _newest_materializations(_M_COLUMNS, "1 = 1"),
    _newest_materializations(_M_COLUMNS, "l." + _OF_ASSETS),
)
_LATEST_STATES = (
    _newest_materializations(STATE_COLUMNS, "1 = 1"),
    _newest_materializations(STATE_COLUMNS, "l." + _OF_ASSETS),
)


def _newest_checks(where: str) -> str:
    """SQL for the newest result of each check of each asset-partition among rows ``where``."""
    return f"""
SELECT {CHECK_COLUMNS} FROM check_results WHERE id IN (
    SELECT id FROM (
        SELECT id, ROW_NUMBER() OVER (
            PARTITION BY asset, partition_key, check_name ORDER BY occurred_at DESC, id DESC
        ) AS recency
        FROM check_results WHERE {where}
    ) AS ranked WHERE recency = 1
)"""


_LATEST_CHECKS = (_newest_checks("1 = 1"), _newest_checks(_OF_ASSETS))
_LATEST_FAILURES = (
    _newest_per_asset_partition("events", EVENT_COLUMNS, "occurred_at", _FAILED),
    _newest_per_asset_partition(
        "events", EVENT_COLUMNS, "occurred_at", f"{_FAILED} AND {_OF_ASSETS}"
    ),
)

# The lease on one asset-partition and whether its run is running (NULL: no such
# run), by the leases' primary key and the runs' unique run_id.
_LEASE_HOLDER = (
    "SELECT "
    + ", ".join(f"l.{name.strip()}" for name in LEASE_COLUMNS.split(","))
    + f", r.status = '{RunStatus.RUNNING.value}' "
    "FROM leases AS l LEFT JOIN runs AS r ON r.run_id = l.run_id "
    "WHERE l.asset = ? AND l.partition_key = ?"
)
_RELEASE_LEASES = "DELETE FROM leases WHERE run_id = ?"

_ATTEMPT_KINDS_SQL = ", ".join(f"'{kind.value}'" for kind in sorted(ATTEMPT_KINDS))
_ENDED_KINDS_SQL = ", ".join(
    f"'{kind.value}'" for kind in sorted(ATTEMPT_KINDS - {EventKind.STARTED})
)
# The newest attempt event of each wanted asset-partition. The wanted partitioned
# pairs travel as one JSON array of [asset, partition], the unpartitioned assets as
# another; each IN list is built once into a transient index, so the events are
# read in one pass however many keys are asked for (a join on json_each would
# read them once per key).
_LATEST_ATTEMPTS = f"""
SELECT {EVENT_COLUMNS} FROM events WHERE id IN (
    SELECT id FROM (
        SELECT id, ROW_NUMBER() OVER (
            PARTITION BY asset, partition_key ORDER BY occurred_at DESC, id DESC
        ) AS recency
        FROM events
        WHERE kind IN ({_ATTEMPT_KINDS_SQL}) AND (
            (asset, partition_key) IN (
                SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]')
                FROM json_each(?)
            )
            OR (partition_key IS NULL AND asset IN (SELECT value FROM json_each(?)))
        )
    ) AS ranked WHERE recency = 1
)"""


# The newest tick of each wanted origin: one seek of the (origin, scheduled_at)
# index per origin, the origins travelling as one JSON array.
_LATEST_TICKS = f"""
SELECT {TICK_COLUMNS} FROM ticks WHERE id IN (
    SELECT (
        SELECT t.id FROM ticks AS t WHERE t.origin = wanted.value
        ORDER BY t.scheduled_at DESC LIMIT 1
    ) FROM json_each(?) AS wanted
)"""


#: An alert that is due at ``:now`` (see AlertStore.due_alerts), or (for claiming) held by
#: ``:claimer``; its hold run is checked by _NOT_HELD.
_DUE = """(
    (status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= :now))
    OR (status = 'sending'
        AND (claimed_until IS NULL OR claimed_until <= :now OR claimed_by = :claimer))
)"""
_NOT_HELD = """(hold_run_id IS NULL OR NOT EXISTS (
    SELECT 1 FROM runs WHERE runs.run_id = alerts.hold_run_id AND runs.status = 'running'
))"""

#: Per destination, its alert with the latest attempt, else its newest.
_LAST_ALERTS = f"""
SELECT {ALERT_COLUMNS} FROM (
    SELECT *, ROW_NUMBER() OVER (
        PARTITION BY destination
        ORDER BY last_at IS NOT NULL DESC, COALESCE(last_at, created_at) DESC, alert_id DESC
    ) AS recency
    FROM (
        SELECT alerts.*, (
            SELECT max(attempted_at) FROM alert_attempts AS tried
            WHERE tried.alert_id = alerts.alert_id
        ) AS last_at
        FROM alerts WHERE destination IN (SELECT value FROM json_each(?))
    )
) WHERE recency = 1"""


def _key_holder(connection: sqlite3.Connection, run_key: str, *, runs: bool = True) -> str | None:
    """Who holds ``run_key``: a claimed or started tick ("tick origin@instant"), else
    (with ``runs``) the newest run created with it ("run ID"); None when nobody does."""
    found = connection.execute(
        "SELECT origin, scheduled_at FROM ticks "
        "WHERE run_key = ? AND status IN ('claimed', 'started') LIMIT 1",
        (run_key,),
    ).fetchone()
    if found is not None:
        return "tick " + tick_name(found[0], datetime.fromisoformat(found[1]))
    if not runs:
        return None
    run = connection.execute(
        "SELECT run_id FROM runs WHERE run_key = ? ORDER BY started_at DESC, id DESC LIMIT 1",
        (run_key,),
    ).fetchone()
    return None if run is None else f"run {run[0]}"


#: Keys bound per statement when they cannot go as one JSON parameter (SQLite allows
#: 32,766 parameters a statement).
_PAIRS_PER_STATEMENT = 500


class SqliteStore:
    """A MetadataStore in one SQLite file, safe to share between processes and threads."""

    def __init__(
        self,
        path: str | Path,
        *,
        migrations: Sequence[Migration] = MIGRATIONS,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
        retry_delays_s: Sequence[float] = LOCK_RETRY_DELAYS_S,
        read_only: bool = False,
    ) -> None:
        """Open (creating if needed) the store at ``path`` and bring its schema up to date.

        Args:
            path: The SQLite file; its directory is created if missing.
            migrations: The schema steps to apply (tests append hypothetical ones).
            busy_timeout_s: How long SQLite waits for another connection's lock.
            retry_delays_s: Pauses between retries of an operation that found the
                store busy even so.
            read_only: Only read an existing store (for a user who cannot write it):
                nothing is created or migrated, and every write is a StoreError.

        Raises:
            StoreError: The path is a directory, cannot be created or written, is
                not an assetflow store, is corrupt, or was written by a newer assetflow;
                read-only: no store is there, or it needs a schema upgrade.
        """
        self.path = Path(path).expanduser().absolute()
        #: whether this store only reads (see ``read_only`` above)
        self.read_only = read_only
        self._saved_code_versions: set[str] = set()
        self._db = SqliteConnection(
            self.path,
            migrations=migrations,
            busy_timeout_s=busy_timeout_s,
            retry_delays_s=retry_delays_s,
            read_only=read_only,
        )

    def _records(self, convert: Callable[[list[Row]], list[_R]], rows: list[Row]) -> list[_R]:
        try:
            return convert(rows)
        except ValueError as exc:
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            detail = f"a row cannot be read back as a record: {first_line}"
            raise corrupt_store_error(self.path, detail) from exc

    def create_run(self, run: RunRecord) -> None:
        run = normalise_run(run)
        row = run_row(run)

        def insert(connection: sqlite3.Connection) -> None:
            try:
                connection.execute(INSERT_RUN, row)
            except sqlite3.IntegrityError as exc:
                raise StoreError(
                    f"a run with id '{run.run_id}' already exists in the metadata store "
                    f"{self.path}.",
                    hint="Run ids are unique: create each run with a new id.",
                ) from exc

        self._db.run("create a run", insert, write=True)

    def finish_run(self, run_id: str, status: RunStatus, finished_at: datetime) -> None:
        values = (
            RunStatus(status).value,
            time_text(as_utc(finished_at, f"run '{run_id}' finished_at")),
            run_id,
        )

        def update(connection: sqlite3.Connection) -> None:
            cursor = connection.execute(
                "UPDATE runs SET status = ?, finished_at = ? WHERE run_id = ?", values
            )
            if cursor.rowcount == 0:
                raise StoreError(
                    f"cannot finish run '{run_id}': there is no such run in the metadata "
                    f"store {self.path}.",
                    hint="Create the run with create_run() before finishing it.",
                )
            connection.execute(_RELEASE_LEASES, (run_id,))

        self._db.run("finish a run", update, write=True)

    def finish_run_if_running(
        self,
        run_id: str,
        status: RunStatus,
        finished_at: datetime,
        events: Sequence[EventRecord] = (),
    ) -> bool:
        values = (
            RunStatus(status).value,
            time_text(as_utc(finished_at, f"run '{run_id}' finished_at")),
            run_id,
            RunStatus.RUNNING.value,
        )
        event_rows = [event_row(normalise_event(e)) for e in events]

        def update(connection: sqlite3.Connection) -> bool:
            # The status test and the write are one statement inside the write
            # transaction, so of two processes finishing the same run only one wins.
            cursor = connection.execute(
                "UPDATE runs SET status = ?, finished_at = ? WHERE run_id = ? AND status = ?",
                values,
            )
            if cursor.rowcount == 0:
                return False
            if event_rows:
                connection.executemany(INSERT_EVENT, event_rows)
            connection.execute(_RELEASE_LEASES, (run_id,))
            return True

        return self._db.run("finish a running run", update, write=True)

    def record(
        self,
        materializations: Sequence[MaterializationRecord] = (),
        events: Sequence[EventRecord] = (),
        checks: Sequence[CheckRecord] = (),
        logs: Sequence[LogRecord] = (),
    ) -> None:
        # Build every row before taking the write lock: the transaction stays short,
        # and an invalid record writes nothing.
        materialization_rows = [
            materialization_row(normalise_materialization(m)) for m in materializations
        ]
        event_rows = [event_row(normalise_event(e)) for e in events]
        check_rows = [check_row(normalise_check(c)) for c in checks]
        log_rows = [log_row(normalise_log(log)) for log in logs]
        if not (materialization_rows or event_rows or check_rows or log_rows):
            return

        def insert(connection: sqlite3.Connection) -> None:
            if materialization_rows:
                before = connection.execute("SELECT COALESCE(MAX(id), 0) FROM materializations")
                last_id = before.fetchone()[0]
                connection.executemany(INSERT_MATERIALIZATION, materialization_rows)
                connection.execute(UPDATE_LATEST_STATE, (last_id,))
            if event_rows:
                connection.executemany(INSERT_EVENT, event_rows)
            if check_rows:
                connection.executemany(INSERT_CHECK, check_rows)
            if log_rows:
                connection.executemany(INSERT_LOG, log_rows)

        self._db.run("record materializations and events", insert, write=True)

    def get_run(self, run_id: str) -> RunRecord | None:
        return self._db.run(
            "look up a run", lambda connection: self._find_run(connection, run_id), write=False
        )

    def _find_run(self, connection: sqlite3.Connection, run_id: str) -> RunRecord | None:
        """``get_run`` on an open connection (inside a write transaction, for one)."""
        # Ids starting with the prefix sort together, right from the prefix itself.
        rows = connection.execute(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id >= ? ORDER BY run_id LIMIT ?",
            (run_id, CANDIDATES_SHOWN + 1),
        ).fetchall()
        if rows and rows[0][0] == run_id:
            return self._records(runs_from_rows, rows[:1])[0]
        matching = [row for row in rows if row[0].startswith(run_id)]
        if not run_id or not matching:
            return None
        if len(matching) > 1:
            raise ambiguous_run_error(run_id, [row[0] for row in matching], str(self.path))
        return self._records(runs_from_rows, matching)[0]

    def list_runs(self, limit: int = 20, status: RunStatus | None = None) -> list[RunRecord]:
        if limit <= 0:
            return []
        where, parameters = ("", ()) if status is None else ("WHERE status = ?", (status.value,))
        rows = self._db.select(
            "list runs",
            f"SELECT {RUN_COLUMNS} FROM runs {where} ORDER BY started_at DESC, id DESC LIMIT ?",
            (*parameters, min(limit, MAX_INTEGER)),
        )
        return self._records(runs_from_rows, rows)

    def find_runs(self, query: RunQuery) -> list[RunRecord]:
        if query.limit <= 0:
            return []
        where: list[str] = []
        parameters: list[object] = []
        if query.statuses:
            where.append("status IN (SELECT value FROM json_each(?))")
            parameters.append(json.dumps([status.value for status in query.statuses]))
        if query.triggers:
            # "schedule" also finds "schedule:nightly@2026-03-02T03:00+01:00"
            where.append(
                "(run_trigger IN (SELECT value FROM json_each(?)) OR "
                "substr(run_trigger, 1, instr(run_trigger, ':') - 1) "
                "IN (SELECT value FROM json_each(?)))"
            )
            parameters.extend([json.dumps(list(query.triggers))] * 2)
        if query.since is not None:
            where.append("started_at >= ?")
            parameters.append(time_text(as_utc(query.since, "since")))
        if query.until is not None:
            where.append("started_at < ?")
            parameters.append(time_text(as_utc(query.until, "until")))
        if query.asset is not None or query.partition is not None:
            touching, values = ["asset IS NOT NULL"], []
            if query.asset is not None:
                touching.append("asset = ?")
                values.append(query.asset)
            if query.partition is not None:
                touching.append("partition_key = ?")
                values.append(query.partition)
            condition = " AND ".join(touching)
            where.append(
                f"run_id IN (SELECT run_id FROM events WHERE {condition} "
                f"UNION SELECT run_id FROM check_results WHERE {condition})"
            )
            parameters += values * 2  # once for the events, once for the check results
        if query.before is not None:
            # Row values: older by start, or as old and written earlier.
            where.append("(started_at, id) < (SELECT started_at, id FROM runs WHERE run_id = ?)")
            parameters.append(query.before)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._db.select(
            "find runs",
            f"SELECT {RUN_COLUMNS} FROM runs {clause} ORDER BY started_at DESC, id DESC LIMIT ?",
            (*parameters, min(query.limit, MAX_INTEGER)),
        )
        return self._records(runs_from_rows, rows)

    def latest_attempts(self, keys: Iterable[AssetPartition]) -> dict[AssetPartition, EventRecord]:
        pairs: list[list[str]] = []
        unpartitioned: list[str] = []
        for asset, partition in keys:
            if partition is None:
                unpartitioned.append(asset)
            else:
                pairs.append([asset, partition])
        if not pairs and not unpartitioned:
            return {}
        rows = self._db.select(
            "read the latest attempts",
            _LATEST_ATTEMPTS,
            (json.dumps(pairs), json.dumps(unpartitioned)),
        )
        records = self._records(events_from_rows, rows)
        return {(e.asset, e.partition): e for e in records if e.asset is not None}

    def attempts(
        self, asset: str, partition: str | None = None, limit: int = 50
    ) -> list[EventRecord]:
        return self._history(
            "read the attempts of an asset",
            f"SELECT {EVENT_COLUMNS} FROM events",
            "occurred_at",
            events_from_rows,
            asset,
            partition,
            limit,
            extra=f"kind IN ({_ENDED_KINDS_SQL})",
        )

    def run_events(self, run_id: str) -> list[EventRecord]:
        rows = self._db.select(
            "read the events of a run",
            f"SELECT {EVENT_COLUMNS} FROM events WHERE run_id = ? ORDER BY occurred_at, id",
            (run_id,),
        )
        return self._records(events_from_rows, rows)

    def step_counts(self, run_ids: Iterable[str]) -> dict[str, dict[str, int]]:
        rows = self._db.select(
            "count the steps of runs",
            "SELECT run_id, CASE WHEN kind = 'cancelled' AND attempt = "
            f"{NOT_STARTED_ATTEMPT} THEN '{NOT_STARTED_COUNT}' ELSE kind END AS counted, "
            "COUNT(*) FROM events "
            "WHERE run_id IN (SELECT value FROM json_each(?)) AND asset IS NOT NULL "
            "GROUP BY run_id, counted",
            (json.dumps(list(run_ids)),),
        )
        counts: dict[str, dict[str, int]] = {}
        for run_id, kind, count in rows:
            counts.setdefault(run_id, {})[kind] = count
        return counts

    def asset_history(
        self, asset: str, partition: str | None = None, limit: int = 50
    ) -> list[MaterializationRecord]:
        return self._history(
            "read the history of an asset",
            f"SELECT {MATERIALIZATION_COLUMNS} FROM materializations",
            "finished_at",
            materializations_from_rows,
            asset,
            partition,
            limit,
        )

    def _history(
        self,
        action: str,
        select: str,
        time_column: str,
        convert: Callable[[list[Row]], list[_R]],
        asset: str,
        partition: str | None,
        limit: int,
        extra: str = "",
    ) -> list[_R]:
        """Rows of one asset (one partition, if given; ``extra`` holding), newest first."""
        if limit <= 0:
            return []
        where, parameters = "asset = ?", [asset]
        if partition is not None:
            where, parameters = "asset = ? AND partition_key = ?", [asset, partition]
        if extra:
            where += f" AND {extra}"
        rows = self._db.select(
            action,
            f"{select} WHERE {where} ORDER BY {time_column} DESC, id DESC LIMIT ?",
            (*parameters, min(limit, MAX_INTEGER)),
        )
        return self._records(convert, rows)

    def _select_newest(
        self, action: str, queries: tuple[str, str], assets: Iterable[str] | None
    ) -> list[Row]:
        wanted = asset_filter(assets)
        if wanted is None:
            return self._db.select(action, queries[0])
        # json_each cuts text at a NUL, so "a\x00b" would match "a"; no stored asset
        # name holds a NUL (records with one are refused), so such names match nothing.
        wanted = frozenset(name for name in wanted if "\x00" not in name)
        if not wanted:
            return []
        return self._db.select(action, queries[1], (json.dumps(list(wanted)),))

    def latest_materializations(
        self, assets: Iterable[str] | None = None
    ) -> dict[AssetPartition, MaterializationRecord]:
        rows = self._select_newest(
            "read the latest materializations", _LATEST_MATERIALIZATIONS, assets
        )
        records = self._records(materializations_from_rows, rows)
        return {(m.asset, m.partition): m for m in records}

    def latest_states(
        self, assets: Iterable[str] | None = None
    ) -> dict[AssetPartition, MaterializationState]:
        rows = self._select_newest("read the latest states", _LATEST_STATES, assets)
        states = self._records(states_from_rows, rows)
        return {(s.asset, s.partition): s for s in states}

    def latest_states_of(
        self, keys: Iterable[AssetPartition]
    ) -> dict[AssetPartition, MaterializationState]:
        wanted = [[asset, "" if partition is None else partition] for asset, partition in keys]
        if not wanted:
            return {}
        action = "read the latest states of some partitions"
        select = (
            f"SELECT {STATE_COLUMNS} FROM latest_state AS l "
            "JOIN materializations AS m ON m.id = l.materialization_id "
            "WHERE (l.asset, l.partition_key) IN "
        )
        if not any("\x00" in text for pair in wanted for text in pair):
            # All keys in one statement, as one JSON parameter.
            rows = self._db.select(
                action,
                select + "(SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') "
                "FROM json_each(?))",
                (json.dumps(wanted),),
            )
        else:  # SQLite's JSON functions end a string at a NUL: bind each key instead
            rows = []
            for start in range(0, len(wanted), _PAIRS_PER_STATEMENT):
                chunk = wanted[start : start + _PAIRS_PER_STATEMENT]
                values = ", ".join(["(?, ?)"] * len(chunk))
                parameters = tuple(text for pair in chunk for text in pair)
                rows += self._db.select(action, f"{select}(VALUES {values})", parameters)
        states = self._records(states_from_rows, rows)
        return {(s.asset, s.partition): s for s in states}

    def latest_failures(
        self, assets: Iterable[str] | None = None
    ) -> dict[AssetPartition, EventRecord]:
        rows = self._select_newest("read the latest failures", _LATEST_FAILURES, assets)
        records = self._records(events_from_rows, rows)
        # The query leaves out run-level events (no asset); the check is for mypy.
        return {(e.asset, e.partition): e for e in records if e.asset is not None}

    def run_checks(self, run_id: str) -> list[CheckRecord]:
        rows = self._db.select(
            "read the check results of a run",
            f"SELECT {CHECK_COLUMNS} FROM check_results WHERE run_id = ? ORDER BY occurred_at, id",
            (run_id,),
        )
        return self._records(checks_from_rows, rows)

    def step_logs(
        self, run_id: str, asset: str | None = None, partition: str | None = None
    ) -> list[LogRecord]:
        where, parameters = "run_id = ?", [run_id]
        if asset is not None:
            where, parameters = f"{where} AND asset = ?", [*parameters, asset]
        if partition is not None:
            where, parameters = f"{where} AND partition_key = ?", [*parameters, partition]
        rows = self._db.select(
            "read the logs of a run",
            f"SELECT {LOG_COLUMNS} FROM step_logs WHERE {where} ORDER BY id",
            tuple(parameters),
        )
        return self._records(logs_from_rows, rows)

    def latest_check_results(
        self, assets: Iterable[str] | None = None
    ) -> dict[AssetPartition, list[CheckRecord]]:
        rows = self._select_newest("read the latest check results", _LATEST_CHECKS, assets)
        results: dict[AssetPartition, list[CheckRecord]] = {}
        for result in self._records(checks_from_rows, rows):
            results.setdefault((result.asset, result.partition), []).append(result)
        for found in results.values():
            found.sort(key=lambda result: result.check)
        return results

    def check_history(
        self, asset: str, partition: str | None = None, limit: int = 200
    ) -> list[CheckRecord]:
        return self._history(
            "read the check history of an asset",
            f"SELECT {CHECK_COLUMNS} FROM check_results",
            "occurred_at",
            checks_from_rows,
            asset,
            partition,
            limit,
        )

    def save_code(self, code_version: str, source: str) -> None:
        self.save_codes({code_version: source})

    def save_codes(self, sources: Mapping[str, str]) -> None:
        # Every run saves the code of every asset it runs; almost always it is
        # already there, which this process's memory or one read (no write lock)
        # answers. What is missing is written in one transaction.
        wanted = {v: s for v, s in sources.items() if v not in self._saved_code_versions}
        if not wanted:
            return
        for code_version, source in wanted.items():
            check_code(code_version, source)
        found = self.saved_codes(wanted)
        missing = [(v, s, source_digest(s)) for v, s in wanted.items() if v not in found]
        if missing:

            def insert(connection: sqlite3.Connection) -> None:
                connection.executemany(
                    "INSERT INTO code_sources (source_digest, source) VALUES (?, ?) "
                    "ON CONFLICT (source_digest) DO NOTHING",
                    [(digest, source) for _, source, digest in missing],
                )
                connection.executemany(
                    "INSERT INTO code_versions (code_version, source_digest) VALUES (?, ?) "
                    "ON CONFLICT (code_version) DO NOTHING",
                    [(version, digest) for version, _, digest in missing],
                )

            self._db.run("save code", insert, write=True)
        # Inside a unit of work, the code is saved only once the unit commits.
        self._db.after_commit(lambda: self._saved_code_versions.update(wanted))

    def saved_codes(self, code_versions: Iterable[str]) -> set[str]:
        wanted = sorted(set(code_versions))
        if not wanted:
            return set()
        rows = self._db.select(
            "look up saved code",
            "SELECT code_version FROM code_versions "
            "WHERE code_version IN (SELECT value FROM json_each(?))",
            (json.dumps(wanted),),
        )
        return {row[0] for row in rows}

    def get_code(self, code_version: str) -> str | None:
        rows = self._db.select(
            "read saved code",
            "SELECT s.source FROM code_versions AS v "
            "JOIN code_sources AS s ON s.source_digest = v.source_digest "
            "WHERE v.code_version = ?",
            (code_version,),
        )
        return str(rows[0][0]) if rows else None

    def add_partition_keys(self, name: str, keys: Sequence[str], at: datetime) -> list[str]:
        at_text = time_text(as_utc(at, f"the time of adding keys to '{name}'"))
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return []

        def add(connection: sqlite3.Connection) -> list[str]:
            live = _live_keys(connection, name, wanted)
            added = [key for key in wanted if key not in live]
            connection.executemany(
                "INSERT INTO dynamic_partitions (name, key, added_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name, key) DO UPDATE SET removed_at = NULL, "
                "added_at = excluded.added_at WHERE removed_at IS NOT NULL",
                [(name, key, at_text) for key in added],
            )
            return added

        return self._db.run("add partition keys", add, write=True)

    def remove_partition_keys(self, name: str, keys: Sequence[str], at: datetime) -> list[str]:
        at_text = time_text(as_utc(at, f"the time of removing keys from '{name}'"))
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return []

        def remove(connection: sqlite3.Connection) -> list[str]:
            live = _live_keys(connection, name, wanted)
            removed = [key for key in wanted if key in live]
            connection.executemany(
                "UPDATE dynamic_partitions SET removed_at = ? WHERE name = ? AND key = ?",
                [(at_text, name, key) for key in removed],
            )
            return removed

        return self._db.run("remove partition keys", remove, write=True)

    def partition_keys(self, names: Iterable[str]) -> dict[str, list[str]]:
        wanted = sorted(set(names))
        result: dict[str, list[str]] = {name: [] for name in wanted}
        if not wanted:
            return result
        rows = self._db.select(
            "read partition keys",
            "SELECT name, key FROM dynamic_partitions "
            "WHERE removed_at IS NULL AND name IN (SELECT value FROM json_each(?)) "
            "ORDER BY rowid",
            (json.dumps(wanted),),
        )
        for name, key in rows:
            result[name].append(key)
        return result

    def acquire_lease(
        self,
        lease: Lease,
        *,
        now: datetime,
        takeover: Callable[[Lease], bool] | None = None,
    ) -> Lease | None:
        lease = normalise_lease(lease)
        now = as_utc(now, f"the time of taking the lease on '{lease.asset}'")
        key = (lease.asset, lease_key(lease.partition))
        row = lease_row(lease)

        def take(connection: sqlite3.Connection) -> Lease | None:
            # BEGIN IMMEDIATE holds the write lock from the read to the write: no
            # other process can take the lease in between.
            found = connection.execute(_LEASE_HOLDER, key).fetchone()
            if found is None:
                connection.execute(UPSERT_LEASE, row)
                return None
            holder = self._records(leases_from_rows, [found[:-1]])[0]
            if holder.run_id == lease.run_id:
                connection.execute(
                    "UPDATE leases SET expires_at = ? WHERE asset = ? AND partition_key = ?",
                    (row[-1], *key),
                )
                return None
            if holder.is_live(now, is_run_running=bool(found[-1]), takeover=takeover):
                return holder
            connection.execute(UPSERT_LEASE, row)
            return None

        return self._db.run("take a lease", take, write=True)

    def release_leases(self, run_id: str, keys: Iterable[AssetPartition] | None = None) -> None:
        if keys is None:
            self._db.run(
                "release leases",
                lambda connection: connection.execute(_RELEASE_LEASES, (run_id,)),
                write=True,
            )
            return
        # An empty partition key names no lease (they are refused), not the
        # unpartitioned asset's lease stored under ''.
        rows = [(run_id, asset, lease_key(p)) for asset, p in keys if p != ""]
        if not rows:
            return
        self._db.run(
            "release leases",
            lambda connection: connection.executemany(
                "DELETE FROM leases WHERE run_id = ? AND asset = ? AND partition_key = ?", rows
            ),
            write=True,
        )

    def renew_leases(self, run_id: str, expires_at: datetime) -> None:
        values = (time_text(as_utc(expires_at, f"leases of run '{run_id}' expires_at")), run_id)
        self._db.run(
            "renew leases",
            lambda connection: connection.execute(
                "UPDATE leases SET expires_at = ? WHERE run_id = ?", values
            ),
            write=True,
        )

    def leases(self) -> list[Lease]:
        rows = self._db.select(
            "list leases", f"SELECT {LEASE_COLUMNS} FROM leases ORDER BY asset, partition_key"
        )
        return self._records(leases_from_rows, rows)

    def heartbeat(self, run_id: str, at: datetime) -> bool:
        values = (time_text(as_utc(at, f"the heartbeat of run '{run_id}'")), run_id)

        def beat(connection: sqlite3.Connection) -> bool:
            cursor = connection.execute("UPDATE runs SET heartbeat_at = ? WHERE run_id = ?", values)
            if cursor.rowcount == 0:
                raise StoreError(
                    f"cannot record a heartbeat of run '{run_id}': there is no such run in "
                    f"the metadata store {self.path}.",
                    hint="Create the run with create_run() before its heartbeats.",
                )
            asked = connection.execute(
                "SELECT cancel_requested_at FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
            return asked[0] is not None

        return self._db.run("record a heartbeat", beat, write=True)

    def request_cancel(self, run_id: str, at: datetime) -> RunRecord:
        at = as_utc(at, f"the cancel request of run '{run_id}'")

        def ask(connection: sqlite3.Connection) -> RunRecord:
            # Looked up and written under one write lock: a run that finishes
            # meanwhile is refused, never marked.
            run = self._find_run(connection, run_id)
            if run is None:
                raise UnknownRunError(run_id)
            if run.status != RunStatus.RUNNING:
                raise RunFinishedError(run)
            if run.cancel_requested_at is not None:
                return run
            connection.execute(
                "UPDATE runs SET cancel_requested_at = ? WHERE run_id = ?",
                (time_text(at), run.run_id),
            )
            return replace(run, cancel_requested_at=at)

        return self._db.run("request a cancel", ask, write=True)

    # -- the scheduler's records (AutomationStore) ---------------------------------------------

    def _claim(self, connection: sqlite3.Connection, tick: TickRecord, row: Row) -> bool:
        """Insert one normalised tick (skipped when its run key is held); whether claimed."""
        if tick.status in KEY_HOLDING_STATUSES and tick.run_key is not None:
            holder = _key_holder(connection, tick.run_key)
            if holder is not None:
                reason = run_key_reason(tick.run_key, holder)
                connection.execute(INSERT_TICK, (*row[:3], "skipped", reason, None, *row[6:]))
                return False
        return connection.execute(INSERT_TICK, row).rowcount > 0

    def _tick_rows(self, ticks: Sequence[TickRecord]) -> list[tuple[TickRecord, Row]]:
        """Each tick normalised, with its row (checked before any write)."""
        normalised = [normalise_tick(tick) for tick in ticks]
        return [(tick, tick_row(tick, request)) for tick, request in normalised]

    def claim_tick(self, tick: TickRecord) -> bool:
        return self.claim_ticks([tick])[0]

    def claim_ticks(self, ticks: Sequence[TickRecord]) -> list[bool]:
        rows = self._tick_rows(ticks)
        if not rows:
            return []

        def claim(connection: sqlite3.Connection) -> list[bool]:
            return [self._claim(connection, tick, row) for tick, row in rows]

        return self._db.run("claim ticks", claim, write=True)

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
        values = (
            changes.status,
            time_text(changes.evaluated_at),
            changes.status in RUNLESS_STATUSES,  # such a tick has no run: clear its id
            changes.run_id,
            changes.reason,
            origin,
            time_text(scheduled_at),
        )

        def update(connection: sqlite3.Connection) -> None:
            try:
                cursor = connection.execute(
                    "UPDATE ticks SET status = ?, evaluated_at = ?, "
                    "run_id = CASE WHEN ? THEN NULL "
                    "ELSE COALESCE(?, run_id) END, reason = COALESCE(?, reason) "
                    "WHERE origin = ? AND scheduled_at = ?",
                    values,
                )
            except sqlite3.IntegrityError as exc:
                key = connection.execute(
                    "SELECT run_key FROM ticks WHERE origin = ? AND scheduled_at = ?",
                    values[-2:],
                ).fetchone()[0]
                holder = _key_holder(connection, key, runs=False)
                raise held_key_error(where, key, holder or "another tick") from exc
            if cursor.rowcount == 0:
                raise unknown_tick_error(where, f"the metadata store {self.path}")

        self._db.run("update a tick", update, write=True)

    def get_tick(self, origin: str, scheduled_at: datetime) -> TickRecord | None:
        at = as_utc(scheduled_at, f"{tick_where(origin, scheduled_at)} scheduled_at")
        rows = self._db.select(
            "read a tick",
            f"SELECT {TICK_COLUMNS} FROM ticks WHERE origin = ? AND scheduled_at = ?",
            (origin, time_text(at)),
        )
        return self._records(ticks_from_rows, rows)[0] if rows else None

    def ticks(
        self,
        origin: str | None = None,
        *,
        limit: int = 50,
        before: datetime | None = None,
        statuses: Collection[TickStatus] | None = None,
    ) -> list[TickRecord]:
        if limit <= 0:
            return []
        where: list[str] = []
        parameters: list[object] = []
        if origin is not None:
            where.append("origin = ?")
            parameters.append(origin)
        if before is not None:
            where.append("scheduled_at < ?")
            parameters.append(time_text(as_utc(before, "before")))
        if statuses is not None:
            where.append("status IN (SELECT value FROM json_each(?))")
            parameters.append(json.dumps(sorted(statuses)))
        condition = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._db.select(
            "list ticks",
            f"SELECT {TICK_COLUMNS} FROM ticks {condition} "
            "ORDER BY scheduled_at DESC, id DESC LIMIT ?",
            (*parameters, min(limit, MAX_INTEGER)),
        )
        return self._records(ticks_from_rows, rows)

    def latest_ticks(self, origins: Iterable[str]) -> dict[str, TickRecord]:
        wanted = sorted({origin for origin in origins if "\x00" not in origin})
        if not wanted:
            return {}
        rows = self._db.select("read the latest ticks", _LATEST_TICKS, (json.dumps(wanted),))
        return {tick.origin: tick for tick in self._records(ticks_from_rows, rows)}

    def claimed_ticks(self) -> list[TickRecord]:
        rows = self._db.select(
            "list claimed ticks",
            f"SELECT {TICK_COLUMNS} FROM ticks WHERE status = 'claimed' ORDER BY scheduled_at, id",
        )
        return self._records(ticks_from_rows, rows)

    def run_by_key(self, run_key: str) -> RunRecord | None:
        rows = self._db.select(
            "find a run by its key",
            f"SELECT {RUN_COLUMNS} FROM runs WHERE run_key = ? "
            "ORDER BY started_at DESC, id DESC LIMIT 1",
            (run_key,),
        )
        return self._records(runs_from_rows, rows)[0] if rows else None

    def origin_states(self) -> dict[str, OriginState]:
        return self._db.run("read origin states", self._origin_states, write=False)

    def _origin_states(self, connection: sqlite3.Connection) -> dict[str, OriginState]:
        rows = connection.execute(
            f"SELECT {ORIGIN_STATE_COLUMNS} FROM origin_states ORDER BY origin"
        ).fetchall()
        return {state.origin: state for state in self._records(origin_states_from_rows, rows)}

    def see_origins(
        self, origins: Mapping[str, str | None], at: datetime
    ) -> dict[str, OriginState]:
        seen = time_text(as_utc(at, "the time origins were seen"))
        checked = check_origins(origins)

        def see(connection: sqlite3.Connection) -> dict[str, OriginState]:
            if checked:
                # WHERE true: without it, SQLite would read ON CONFLICT as a join's ON.
                connection.execute(
                    "INSERT INTO origin_states (origin, first_seen_at, fingerprint) "
                    "SELECT key, ?, value FROM json_each(?) WHERE true "
                    "ON CONFLICT (origin) DO UPDATE SET fingerprint = excluded.fingerprint",
                    (seen, json.dumps(checked)),
                )
            return self._origin_states(connection)

        return self._db.run("record the origins seen", see, write=bool(checked))

    def set_paused(self, origin: str, paused: bool, at: datetime) -> OriginState:
        check_origins({origin: None})
        when = time_text(as_utc(at, f"the time '{origin}' was paused or resumed"))

        def pause(connection: sqlite3.Connection) -> OriginState:
            connection.execute(
                "INSERT INTO origin_states (origin, first_seen_at, paused, changed_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (origin) DO UPDATE SET "
                "paused = excluded.paused, changed_at = excluded.changed_at "
                "WHERE paused != excluded.paused",
                (origin, when, int(paused), when),
            )
            rows = connection.execute(
                f"SELECT {ORIGIN_STATE_COLUMNS} FROM origin_states WHERE origin = ?", (origin,)
            ).fetchall()
            return self._records(origin_states_from_rows, rows)[0]

        return self._db.run("pause or resume an origin", pause, write=True)

    def sensor_cursor(self, origin: str) -> str | None:
        rows = self._db.select(
            "read a sensor cursor", "SELECT cursor FROM sensor_cursors WHERE origin = ?", (origin,)
        )
        return None if not rows or rows[0][0] is None else str(rows[0][0])

    def save_sensor_evaluation(
        self, origin: str, cursor: str | None, ticks: Sequence[TickRecord]
    ) -> list[bool]:
        check_cursor(origin, cursor)
        rows = self._tick_rows(ticks)

        def save(connection: sqlite3.Connection) -> list[bool]:
            connection.execute(
                "INSERT INTO sensor_cursors (origin, cursor) VALUES (?, ?) "
                "ON CONFLICT (origin) DO UPDATE SET cursor = excluded.cursor",
                (origin, cursor),
            )
            return [self._claim(connection, tick, row) for tick, row in rows]

        return self._db.run("save a sensor evaluation", save, write=True)

    def acquire_scheduler_lease(
        self, holder: str, pid: int, host: str, now: datetime, ttl: timedelta
    ) -> SchedulerLease:
        now = lease_times(holder, pid, host, now, ttl)
        wanted = SchedulerLease(holder, pid, host, now, now, now + ttl)

        def take(connection: sqlite3.Connection) -> SchedulerLease:
            # Read and written under one write lock (BEGIN IMMEDIATE): of two
            # processes racing, the second reads the first one's lease.
            found = self._read_scheduler_lease(connection)
            if found is not None and found.holder != holder and found.expires_at > now:
                return found
            taken = wanted
            if found is not None and found.holder == holder:
                taken = replace(wanted, acquired_at=found.acquired_at)
            connection.execute(UPSERT_SCHEDULER_LEASE, scheduler_lease_row(taken))
            return taken

        return self._db.run("take the scheduler lease", take, write=True)

    def renew_scheduler_lease(self, holder: str, now: datetime, ttl: timedelta) -> bool:
        where = f"scheduler lease of '{holder}'"
        now = check_ttl(as_utc(now, f"the time of renewing the {where}"), ttl, where)
        values = (time_text(now), time_text(now + ttl), holder)
        return self._db.run(
            "renew the scheduler lease",
            lambda connection: (
                connection.execute(
                    "UPDATE scheduler_lease SET heartbeat_at = ?, expires_at = ? WHERE holder = ?",
                    values,
                ).rowcount
                > 0
            ),
            write=True,
        )

    def release_scheduler_lease(self, holder: str) -> None:
        self._db.run(
            "release the scheduler lease",
            lambda connection: connection.execute(
                "DELETE FROM scheduler_lease WHERE holder = ?", (holder,)
            ),
            write=True,
        )

    def scheduler_lease(self) -> SchedulerLease | None:
        return self._db.run("read the scheduler lease", self._read_scheduler_lease, write=False)

    def _read_scheduler_lease(self, connection: sqlite3.Connection) -> SchedulerLease | None:
        rows = connection.execute(
            f"SELECT {SCHEDULER_LEASE_COLUMNS} FROM scheduler_lease"
        ).fetchall()
        return self._records(scheduler_leases_from_rows, rows)[0] if rows else None

    # -- alerting's records (AlertStore) ---------------------------------------------------

    @property
    def _location(self) -> str:
        return f"the metadata store {self.path}"

    def _incidents_where(
        self, connection: sqlite3.Connection, condition: str, parameters: Sequence[object]
    ) -> list[IncidentRecord]:
        rows = connection.execute(
            f"SELECT {INCIDENT_COLUMNS} FROM incidents WHERE {condition} ORDER BY opened_at, rowid",
            parameters,
        ).fetchall()
        return self._records(incidents_from_rows, rows)

    def _members_of(
        self, connection: sqlite3.Connection, incident_id: str
    ) -> dict[tuple[str, str, str], IncidentMember]:
        rows = connection.execute(
            f"SELECT {MEMBER_COLUMNS} FROM incident_members WHERE incident_id = ?",
            (incident_id,),
        ).fetchall()
        return {member_key(m): m for _, m in self._records(members_from_rows, rows)}

    def open_incident(self, incident: IncidentRecord, members: Sequence[IncidentMember]) -> None:
        incident = normalise_incident(incident)
        rows = [
            member_row(incident.incident_id, member)
            for member in merged_members({}, normalise_members(incident.incident_id, members))
        ]

        def insert(connection: sqlite3.Connection) -> None:
            # Read and written under one write lock: of processes racing to open an
            # incident, the second sees the first one's.
            taken = connection.execute(
                "SELECT 1 FROM incidents WHERE incident_id = ?", (incident.incident_id,)
            ).fetchone()
            if taken is not None:
                raise taken_incident_id_error(incident.incident_id, self._location)
            if incident.resolved_at is None:
                found = connection.execute(
                    "SELECT incident_id FROM incidents "
                    "WHERE kind = ? AND subject = ? AND resolved_at IS NULL",
                    (incident.kind, incident.subject),
                ).fetchone()
                if found is not None:
                    raise IncidentAlreadyOpen(
                        incident.kind, incident.subject, found[0], self._location
                    )
            connection.execute(INSERT_INCIDENT, incident_row(incident))
            connection.executemany(UPSERT_MEMBER, rows)

        self._db.run("open an incident", insert, write=True)

    def open_incident_for(self, kind: IncidentKind, subject: str) -> IncidentRecord | None:
        kind = check_kind(kind, "the incident asked for")
        found = self._db.run(
            "find an open incident",
            lambda connection: self._incidents_where(
                connection, "kind = ? AND subject = ? AND resolved_at IS NULL", (kind, subject)
            ),
            write=False,
        )
        return found[0] if found else None

    def add_incident_members(
        self, incident_id: str, members: Sequence[IncidentMember], at: datetime
    ) -> None:
        checked = normalise_members(incident_id, members)
        at = as_utc(at, f"the time of adding members to incident '{incident_id}'")
        failed = sum(member.role == "failed" for member in checked)

        def add(connection: sqlite3.Connection) -> None:
            found = self._incidents_where(connection, "incident_id = ?", (incident_id,))
            if not found:
                raise unknown_incident_error(incident_id, self._location)
            if found[0].resolved_at is not None:
                raise resolved_incident_error(incident_id, self._location)
            changed = merged_members(self._members_of(connection, incident_id), checked)
            connection.executemany(UPSERT_MEMBER, [member_row(incident_id, m) for m in changed])
            connection.execute(
                "UPDATE incidents SET last_seen_at = ?, occurrences = occurrences + ? "
                "WHERE incident_id = ?",
                (time_text(at), failed, incident_id),
            )

        self._db.run("add members to an incident", add, write=True)

    def resolve_incident_members(
        self,
        kind: IncidentKind | None,
        subject: str,
        partitions: Collection[str],
        at: datetime,
    ) -> list[IncidentRecord]:
        kinds = None if kind is None else [check_kind(kind, "the incidents to resolve")]
        at = as_utc(at, f"the time of resolving incidents about '{subject}'")
        wanted = set(partitions)
        condition = "subject = ? AND resolved_at IS NULL"
        parameters: list[object] = [subject]
        if kinds is not None:
            condition += " AND kind = ?"
            parameters.extend(kinds)

        def resolve(connection: sqlite3.Connection) -> list[IncidentRecord]:
            resolved = []
            for incident in self._incidents_where(connection, condition, parameters):
                members = self._members_of(connection, incident.incident_id).values()
                changed, is_resolved = resolved_members(members, wanted, at)
                connection.executemany(
                    UPSERT_MEMBER, [member_row(incident.incident_id, m) for m in changed]
                )
                if is_resolved:
                    connection.execute(
                        "UPDATE incidents SET resolved_at = ? WHERE incident_id = ?",
                        (time_text(at), incident.incident_id),
                    )
                    resolved.append(replace(incident, resolved_at=at))
            return resolved

        return self._db.run("resolve incident members", resolve, write=True)

    def resolve_incident(self, incident_id: str, at: datetime) -> IncidentRecord | None:
        at = as_utc(at, f"the time of resolving incident '{incident_id}'")
        values = (time_text(at), incident_id)

        def resolve(connection: sqlite3.Connection) -> IncidentRecord | None:
            updated = connection.execute(
                "UPDATE incidents SET resolved_at = ? "
                "WHERE incident_id = ? AND resolved_at IS NULL",
                values,
            ).rowcount
            if not updated:
                return None
            connection.execute(
                "UPDATE incident_members SET resolved_at = ? "
                "WHERE incident_id = ? AND resolved_at IS NULL",
                values,
            )
            return self._incidents_where(connection, "incident_id = ?", (incident_id,))[0]

        return self._db.run("resolve an incident", resolve, write=True)

    def get_incident(self, incident_id: str) -> IncidentRecord | None:
        def find(connection: sqlite3.Connection) -> IncidentRecord | None:
            # Ids starting with the prefix sort together, right from the prefix itself.
            rows = connection.execute(
                f"SELECT {INCIDENT_COLUMNS} FROM incidents WHERE incident_id >= ? "
                "ORDER BY incident_id LIMIT 11",
                (incident_id,),
            ).fetchall()
            if rows and rows[0][0] == incident_id:
                return self._records(incidents_from_rows, rows[:1])[0]
            matching = [row for row in rows if row[0].startswith(incident_id)]
            if not incident_id or not matching:
                return None
            if len(matching) > 1:
                ids = [row[0] for row in matching]
                raise ambiguous_incident_error(incident_id, ids, str(self.path))
            return self._records(incidents_from_rows, matching)[0]

        return self._db.run("look up an incident", find, write=False)

    def incidents(
        self, *, open_only: bool = False, since: datetime | None = None, limit: int = 50
    ) -> list[IncidentRecord]:
        if limit <= 0:
            return []
        where: list[str] = []
        parameters: list[object] = []
        if open_only:
            where.append("resolved_at IS NULL")
        if since is not None:
            where.append("(resolved_at IS NULL OR opened_at >= ? OR resolved_at >= ?)")
            moment = time_text(as_utc(since, "the incidents' since"))
            parameters += [moment, moment]
        condition = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._db.select(
            "list incidents",
            f"SELECT {INCIDENT_COLUMNS} FROM incidents {condition} "
            "ORDER BY opened_at DESC, rowid DESC LIMIT ?",
            (*parameters, min(limit, MAX_INTEGER)),
        )
        return self._records(incidents_from_rows, rows)

    def open_incidents(self, kinds: Collection[IncidentKind] | None = None) -> list[IncidentRecord]:
        wanted = check_kinds(kinds)
        condition, parameters = "", []
        if wanted is not None:
            condition = "AND kind IN (SELECT value FROM json_each(?))"
            parameters = [json.dumps(wanted)]
        rows = self._db.select(
            "list open incidents",
            f"SELECT {INCIDENT_COLUMNS} FROM incidents WHERE resolved_at IS NULL {condition} "
            "ORDER BY opened_at DESC, rowid DESC",
            parameters,
        )
        return self._records(incidents_from_rows, rows)

    def incident_members(self, incident_ids: Iterable[str]) -> dict[str, list[IncidentMember]]:
        found: dict[str, list[IncidentMember]] = {incident_id: [] for incident_id in incident_ids}
        # json_each would cut an id at a NUL; no stored id has one.
        wanted = sorted(incident_id for incident_id in found if "\x00" not in incident_id)
        if not wanted:
            return found
        rows = self._db.select(
            "read incident members",
            f"SELECT {MEMBER_COLUMNS} FROM incident_members "
            "WHERE incident_id IN (SELECT value FROM json_each(?)) "
            "ORDER BY incident_id, role, asset, partition_key",
            (json.dumps(wanted),),
        )
        for incident_id, member in self._records(members_from_rows, rows):
            found[incident_id].append(member)
        return found

    def queue_alerts(self, alerts: Sequence[AlertRecord]) -> list[bool]:
        rows = [alert_row(normalise_alert(alert)) for alert in alerts]
        if not rows:
            return []
        return self._db.run(
            "queue alerts",
            lambda connection: [connection.execute(INSERT_ALERT, row).rowcount > 0 for row in rows],
            write=True,
        )

    def due_alerts(self, now: datetime, limit: int = 100) -> list[AlertRecord]:
        if limit <= 0:
            return []
        moment = time_text(as_utc(now, "the time of looking for due alerts"))
        sql = (
            f"SELECT {ALERT_COLUMNS} FROM alerts WHERE status IN ('pending', 'sending') "
            f"AND {_DUE} AND {_NOT_HELD} ORDER BY created_at, alert_id LIMIT :limit"
        )
        values = {"now": moment, "claimer": None, "limit": min(limit, MAX_INTEGER)}
        rows = self._db.run(
            "list due alerts",
            lambda connection: connection.execute(sql, values).fetchall(),
            write=False,
        )
        return self._records(alerts_from_rows, rows)

    def _alert(self, connection: sqlite3.Connection, alert_id: int) -> AlertRecord | None:
        rows = connection.execute(
            f"SELECT {ALERT_COLUMNS} FROM alerts WHERE alert_id = ?", (alert_id,)
        ).fetchall()
        return self._records(alerts_from_rows, rows)[0] if rows else None

    def claim_alert(
        self, alert_id: int, claimer: str, now: datetime, until: datetime
    ) -> AlertRecord | None:
        now, until = claim_times(alert_id, claimer, now, until)
        if not -MAX_INTEGER - 1 <= alert_id <= MAX_INTEGER:
            return None
        values = {
            "now": time_text(now),
            "until": time_text(until),
            "claimer": claimer,
            "alert_id": alert_id,
        }

        def claim(connection: sqlite3.Connection) -> AlertRecord | None:
            claimed = connection.execute(
                "UPDATE alerts SET status = 'sending', claimed_by = :claimer, "
                f"claimed_until = :until WHERE alert_id = :alert_id AND {_DUE} AND {_NOT_HELD}",
                values,
            ).rowcount
            return self._alert(connection, alert_id) if claimed else None

        return self._db.run("claim an alert", claim, write=True)

    def finish_alert_attempt(
        self,
        attempt: AlertAttempt,
        claimer: str,
        *,
        status: AlertStatus,
        next_attempt_at: datetime | None = None,
    ) -> bool:
        attempt, status, next_at = normalise_attempt(attempt, claimer, status, next_attempt_at)
        if not -MAX_INTEGER - 1 <= attempt.alert_id <= MAX_INTEGER:
            return False
        sent = status == "sent"
        values = (
            status,
            optional_time_text(next_at),
            sent,
            attempt.detail,
            sent,
            time_text(attempt.at),
            attempt.alert_id,
            claimer,
        )

        def finish(connection: sqlite3.Connection) -> bool:
            finished = connection.execute(
                "UPDATE alerts SET status = ?, attempts = attempts + 1, next_attempt_at = ?, "
                "last_error = CASE WHEN ? THEN last_error ELSE ? END, "
                "sent_at = CASE WHEN ? THEN ? ELSE sent_at END, "
                "claimed_by = NULL, claimed_until = NULL "
                "WHERE alert_id = ? AND status = 'sending' AND claimed_by = ?",
                values,
            ).rowcount
            if finished:
                connection.execute(INSERT_ATTEMPT, attempt_row(attempt))
            return finished > 0

        return self._db.run("finish an alert attempt", finish, write=True)

    def alerts(
        self,
        *,
        destination: str | None = None,
        incident_id: str | None = None,
        limit: int = 100,
    ) -> list[AlertRecord]:
        if limit <= 0:
            return []
        where: list[str] = []
        parameters: list[object] = []
        if destination is not None:
            where.append("destination = ?")
            parameters.append(destination)
        if incident_id is not None:
            where.append("incident_id = ?")
            parameters.append(incident_id)
        condition = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._db.select(
            "list alerts",
            f"SELECT {ALERT_COLUMNS} FROM alerts {condition} "
            "ORDER BY created_at DESC, alert_id DESC LIMIT ?",
            (*parameters, min(limit, MAX_INTEGER)),
        )
        return self._records(alerts_from_rows, rows)

    def alert_attempts(self, alert_id: int) -> list[AlertAttempt]:
        if not -MAX_INTEGER - 1 <= alert_id <= MAX_INTEGER:
            return []
        rows = self._db.select(
            "list alert attempts",
            f"SELECT {ATTEMPT_COLUMNS} FROM alert_attempts WHERE alert_id = ? ORDER BY id",
            (alert_id,),
        )
        return self._records(attempts_from_rows, rows)

    def last_alerts(self, destinations: Iterable[str]) -> dict[str, AlertRecord]:
        wanted = sorted({d for d in destinations if "\x00" not in d})
        if not wanted:
            return {}
        rows = self._db.select("read the last alerts", _LAST_ALERTS, (json.dumps(wanted),))
        return {alert.destination: alert for alert in self._records(alerts_from_rows, rows)}

    def lineage_outbox(self) -> LineageOutbox:
        from assetflow.store.lineage import SqliteOutbox

        return SqliteOutbox(self)

    @contextmanager
    def unit_of_work(self) -> Iterator[SqliteUnitOfWork]:
        with self._db.transaction() as (connection, is_nested):
            yield SqliteUnitOfWork(self._db, connection, is_nested)

    # -- copying the whole history (`store copy`; see assetflow.store.copying) ----------

    def table_columns(self, table: str) -> tuple[str, ...]:
        return tables.table_columns(self._db, table)

    def count_rows(self, table: str) -> int:
        return tables.count_rows(self._db, table)

    def read_rows(self, table: str, columns: Sequence[str]) -> Sequence[Sequence[object]]:
        return tables.read_rows(self._db, table, columns)

    def load_rows(
        self,
        rows: Mapping[str, tuple[tuple[str, ...], Iterable[Sequence[object]]]],
        expected: Mapping[str, int],
    ) -> dict[str, int]:
        loaded = tables.load_rows(self._db, rows, expected)
        self._saved_code_versions.clear()
        return loaded

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"


def _live_keys(connection: sqlite3.Connection, name: str, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` are live keys of the dynamic definition ``name``."""
    rows = connection.execute(
        "SELECT key FROM dynamic_partitions WHERE name = ? AND removed_at IS NULL "
        "AND key IN (SELECT value FROM json_each(?))",
        (name, json.dumps(list(keys))),
    )
    return {row[0] for row in rows.fetchall()}
