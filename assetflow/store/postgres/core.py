"""The PostgreSQL store's core queries: runs, events, materializations, checks, step logs,
code, dynamic partitions, leases, heartbeats and cancels, and units of work.

Semantics are SQLite's (``assetflow.store.sqlite.store``; the shared tests pin
them). Bulk reads send their keys as arrays (``= ANY(%s)``, ``unnest``), so
each is one statement whatever the number of keys. Races are settled by the
server, without retries: row locks and ``ON CONFLICT`` for single rows, and a
transaction-scoped advisory lock per asset-partition while a lease is taken.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Self, TypeVar

from assetflow.errors import StoreError
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
from assetflow.store.postgres.connection import PgDatabase
from assetflow.store.postgres.rows import (
    CHECK_COLUMNS,
    EVENT_COLUMNS,
    INSERT_CHECK,
    INSERT_EVENT,
    INSERT_LOG,
    INSERT_MATERIALIZATION,
    INSERT_RUN,
    LEASE_COLUMNS,
    LOG_COLUMNS,
    MATERIALIZATION_COLUMNS,
    RUN_COLUMNS,
    STATE_COLUMNS,
    UPSERT_LEASE,
    Row,
    check_row,
    checks_from_rows,
    event_row,
    events_from_rows,
    lease_key,
    lease_row,
    leases_from_rows,
    log_row,
    logs_from_rows,
    materialization_row,
    materializations_from_rows,
    run_row,
    runs_from_rows,
    states_from_rows,
)
from assetflow.store.postgres.schema import LEASE_LOCK_CLASS, check_schema, hold_use_lock
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
    from types import TracebackType

    import psycopg

_R = TypeVar("_R")

_M_COLUMNS = ", ".join(f"m.{name.strip()}" for name in MATERIALIZATION_COLUMNS.split(","))
_ATTEMPT_KINDS = sorted(kind.value for kind in ATTEMPT_KINDS)
_ENDED_KINDS = sorted(kind.value for kind in ATTEMPT_KINDS - {EventKind.STARTED})
_OF_ASSETS = "asset = ANY(%s)"
_FAILED = "kind = 'failed' AND asset IS NOT NULL"


def _newest(table: str, columns: str, group: str, order: str, where: str) -> str:
    """SQL for the newest row of each ``group`` in ``table`` among rows ``where``."""
    return (
        f"SELECT DISTINCT ON ({group}) {columns} FROM {table} WHERE {where} "
        f"ORDER BY {group}, {order}"
    )


def _newest_materializations(columns: str, where: str) -> str:
    """SQL for the newest materialization of each asset-partition, through latest_state."""
    return (
        f"SELECT {columns} FROM latest_state AS l "
        f"JOIN materializations AS m ON m.id = l.materialization_id WHERE {where}"
    )


_LATEST_MATERIALIZATIONS = (
    _newest_materializations(_M_COLUMNS, "true"),
    _newest_materializations(_M_COLUMNS, "l." + _OF_ASSETS),
)
_LATEST_STATES = (
    _newest_materializations(STATE_COLUMNS, "true"),
    _newest_materializations(STATE_COLUMNS, "l." + _OF_ASSETS),
)
_CHECK_ORDER = "occurred_at DESC, id DESC"
_LATEST_CHECKS = (
    _newest(
        "check_results", CHECK_COLUMNS, "asset, partition_key, check_name", _CHECK_ORDER, "true"
    ),
    _newest(
        "check_results", CHECK_COLUMNS, "asset, partition_key, check_name", _CHECK_ORDER, _OF_ASSETS
    ),
)
_LATEST_FAILURES = (
    _newest("events", EVENT_COLUMNS, "asset, partition_key", _CHECK_ORDER, _FAILED),
    _newest(
        "events", EVENT_COLUMNS, "asset, partition_key", _CHECK_ORDER, f"{_FAILED} AND {_OF_ASSETS}"
    ),
)
# The newest attempt event of each wanted asset-partition: the partitioned pairs as two
# parallel arrays, the unpartitioned assets as a third.
_LATEST_ATTEMPTS = _newest(
    "events",
    EVENT_COLUMNS,
    "asset, partition_key",
    _CHECK_ORDER,
    "kind = ANY(%s) AND ("
    "(asset, partition_key) IN (SELECT * FROM unnest(%s::text[], %s::text[])) "
    "OR (partition_key IS NULL AND asset = ANY(%s)))",
)
#: Moves latest_state forward to the materializations with these ids; the newest by
#: finish time wins, and a tie goes to the later write.
_UPDATE_LATEST_STATE = """
INSERT INTO latest_state (asset, partition_key, materialization_id, finished_at)
SELECT DISTINCT ON (asset, COALESCE(partition_key, ''))
    asset, COALESCE(partition_key, ''), id, finished_at
FROM materializations WHERE id = ANY(%s)
ORDER BY asset, COALESCE(partition_key, ''), finished_at DESC, id DESC
ON CONFLICT (asset, partition_key) DO UPDATE SET
    materialization_id = excluded.materialization_id,
    finished_at = excluded.finished_at
WHERE excluded.finished_at >= latest_state.finished_at"""
# The lease on one asset-partition and whether its run is running (NULL: no such run).
_LEASE_HOLDER = (
    "SELECT "
    + ", ".join(f"l.{name.strip()}" for name in LEASE_COLUMNS.split(","))
    + f", r.status = '{RunStatus.RUNNING.value}' "
    "FROM leases AS l LEFT JOIN runs AS r ON r.run_id = l.run_id "
    "WHERE l.asset = %s AND l.partition_key = %s"
)
_RELEASE_LEASES = "DELETE FROM leases WHERE run_id = %s"
_INSERT_FREE_LEASE = (
    f"INSERT INTO leases ({LEASE_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (asset, partition_key) DO NOTHING"
)


def _limit(limit: int) -> int:
    return min(limit, MAX_INTEGER)


@dataclass(frozen=True, slots=True)
class PostgresUnitOfWork:
    """An open unit of work of a PostgresStore (see ``MetadataStore.unit_of_work``).

    The store's writes join it by themselves; a writer of a table the store does
    not know joins it through ``execute``, in a savepoint of the unit.
    """

    db: PgDatabase
    #: the connection, inside the unit's transaction
    connection: psycopg.Connection[Any]
    is_nested: bool

    def execute(self, action: str, sql: str, parameters: Sequence[object] = ()) -> list[Row]:
        """Run one statement in the unit, in a savepoint; return its rows (if any).

        Raises:
            StoreError: The statement failed; it wrote nothing, and the unit goes on.
        """
        with self.db.transaction(action) as connection:
            cursor = connection.execute(sql, parameters)
            return list(cursor.fetchall()) if cursor.description else []

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the outermost unit has committed."""
        self.db.after_commit(callback)


class PostgresCoreStore:
    """The core MetadataStore methods on a PostgreSQL database (see ``PostgresStore``)."""

    def __init__(self, url: str) -> None:
        """Connect to the database ``url`` names, hold its use lock, and check its schema.

        Raises:
            StoreError: A URL option is bad, the server cannot be reached or refuses
                the login, or the database has no schema, an older one (run `assetflow
                store migrate`) or a newer one (upgrade assetflow).
        """
        self._db = PgDatabase(url)
        #: the URL with its password as ***
        self.shown = self._db.shown
        self._saved_code_versions: set[str] = set()
        try:
            with self._session("open the metadata store") as session:
                hold_use_lock(session)
                check_schema(session, self.shown)
        except BaseException:
            self._db.close()
            raise

    @contextmanager
    def _session(self, action: str) -> Iterator[psycopg.Connection[Any]]:
        import psycopg

        try:
            yield self._db.session
        except psycopg.Error as error:
            raise self._db.failure(error, action) from error

    @property
    def database_key(self) -> tuple[str, str, str]:
        """(host, port, database): stores with the same key are one database."""
        return self._db.database_key

    def _records(self, convert: Callable[[list[Row]], list[_R]], rows: list[Row]) -> list[_R]:
        try:
            return convert(rows)
        except ValueError as exc:
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise StoreError(
                f"the PostgreSQL metadata store {self.shown} holds a row that cannot be read "
                f"back as a record: {first_line}",
                hint="The store's tables were changed by something other than assetflow; "
                "restore them from a backup, or copy the readable history into a new store.",
            ) from exc

    def _select(self, action: str, sql: str, parameters: Sequence[object] = ()) -> list[Row]:
        with self._db.reading(action) as connection:
            return list(connection.execute(sql, parameters).fetchall())

    # -- runs ---------------------------------------------------------------------------

    def create_run(self, run: RunRecord) -> None:
        run = normalise_run(run)
        row = run_row(run)
        with self._db.transaction("create a run") as connection:
            inserted = connection.execute(
                INSERT_RUN + " ON CONFLICT (run_id) DO NOTHING", row
            ).rowcount
            if not inserted:
                raise StoreError(
                    f"a run with id '{run.run_id}' already exists in the metadata store "
                    f"{self.shown}.",
                    hint="Run ids are unique: create each run with a new id.",
                )

    def finish_run(self, run_id: str, status: RunStatus, finished_at: datetime) -> None:
        values = (
            RunStatus(status).value,
            as_utc(finished_at, f"run '{run_id}' finished_at"),
            run_id,
        )
        with self._db.transaction("finish a run") as connection:
            updated = connection.execute(
                "UPDATE runs SET status = %s, finished_at = %s WHERE run_id = %s", values
            ).rowcount
            if not updated:
                raise StoreError(
                    f"cannot finish run '{run_id}': there is no such run in the metadata "
                    f"store {self.shown}.",
                    hint="Create the run with create_run() before finishing it.",
                )
            connection.execute(_RELEASE_LEASES, (run_id,))

    def finish_run_if_running(
        self,
        run_id: str,
        status: RunStatus,
        finished_at: datetime,
        events: Sequence[EventRecord] = (),
    ) -> bool:
        values = (
            RunStatus(status).value,
            as_utc(finished_at, f"run '{run_id}' finished_at"),
            run_id,
            RunStatus.RUNNING.value,
        )
        event_rows = [event_row(normalise_event(e)) for e in events]
        with self._db.transaction("finish a running run") as connection:
            # The row lock makes a second process wait, then see the run finished.
            updated = connection.execute(
                "UPDATE runs SET status = %s, finished_at = %s WHERE run_id = %s AND status = %s",
                values,
            ).rowcount
            if not updated:
                return False
            if event_rows:
                connection.cursor().executemany(INSERT_EVENT, event_rows)
            connection.execute(_RELEASE_LEASES, (run_id,))
            return True

    def record(
        self,
        materializations: Sequence[MaterializationRecord] = (),
        events: Sequence[EventRecord] = (),
        checks: Sequence[CheckRecord] = (),
        logs: Sequence[LogRecord] = (),
    ) -> None:
        materialization_rows = [
            materialization_row(normalise_materialization(m)) for m in materializations
        ]
        event_rows = [event_row(normalise_event(e)) for e in events]
        check_rows = [check_row(normalise_check(c)) for c in checks]
        log_rows = [log_row(normalise_log(log)) for log in logs]
        if not (materialization_rows or event_rows or check_rows or log_rows):
            return
        with self._db.transaction("record materializations and events") as connection:
            cursor = connection.cursor()
            if materialization_rows:
                cursor.executemany(INSERT_MATERIALIZATION, materialization_rows, returning=True)
                ids: list[int] = []
                while True:
                    ids.extend(row[0] for row in cursor.fetchall())
                    if not cursor.nextset():
                        break
                cursor.execute(_UPDATE_LATEST_STATE, (ids,))
            if event_rows:
                cursor.executemany(INSERT_EVENT, event_rows)
            if check_rows:
                cursor.executemany(INSERT_CHECK, check_rows)
            if log_rows:
                cursor.executemany(INSERT_LOG, log_rows)

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._db.reading("look up a run") as connection:
            return self._find_run(connection, run_id)

    def _find_run(
        self, connection: psycopg.Connection[Any], run_id: str, *, lock: bool = False
    ) -> RunRecord | None:
        """``get_run`` on an open connection; ``lock`` locks the rows read (for an update)."""
        # Ids starting with the prefix sort together, right from the prefix itself.
        rows = connection.execute(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id >= %s ORDER BY run_id LIMIT %s"
            + (" FOR UPDATE" if lock else ""),
            (run_id, CANDIDATES_SHOWN + 1),
        ).fetchall()
        if rows and rows[0][0] == run_id:
            return self._records(runs_from_rows, rows[:1])[0]
        matching = [row for row in rows if row[0].startswith(run_id)]
        if not run_id or not matching:
            return None
        if len(matching) > 1:
            raise ambiguous_run_error(run_id, [row[0] for row in matching], self.shown)
        return self._records(runs_from_rows, matching)[0]

    def list_runs(self, limit: int = 20, status: RunStatus | None = None) -> list[RunRecord]:
        if limit <= 0:
            return []
        where, parameters = ("", ()) if status is None else ("WHERE status = %s", (status.value,))
        rows = self._select(
            "list runs",
            f"SELECT {RUN_COLUMNS} FROM runs {where} ORDER BY started_at DESC, id DESC LIMIT %s",
            (*parameters, _limit(limit)),
        )
        return self._records(runs_from_rows, rows)

    def find_runs(self, query: RunQuery) -> list[RunRecord]:
        if query.limit <= 0:
            return []
        where: list[str] = []
        parameters: list[object] = []
        if query.statuses:
            where.append("status = ANY(%s)")
            parameters.append([status.value for status in query.statuses])
        if query.triggers:
            # "schedule" also finds "schedule:nightly@2026-03-02T03:00+01:00"
            where.append(
                "(run_trigger = ANY(%s) OR (strpos(run_trigger, ':') > 0 "
                "AND split_part(run_trigger, ':', 1) = ANY(%s)))"
            )
            parameters.extend([list(query.triggers)] * 2)
        if query.since is not None:
            where.append("started_at >= %s")
            parameters.append(as_utc(query.since, "since"))
        if query.until is not None:
            where.append("started_at < %s")
            parameters.append(as_utc(query.until, "until"))
        if query.asset is not None or query.partition is not None:
            touching, values = ["asset IS NOT NULL"], []
            if query.asset is not None:
                touching.append("asset = %s")
                values.append(query.asset)
            if query.partition is not None:
                touching.append("partition_key = %s")
                values.append(query.partition)
            condition = " AND ".join(touching)
            where.append(
                f"run_id IN (SELECT run_id FROM events WHERE {condition} "
                f"UNION SELECT run_id FROM check_results WHERE {condition})"
            )
            parameters += values * 2
        if query.before is not None:
            where.append("(started_at, id) < (SELECT started_at, id FROM runs WHERE run_id = %s)")
            parameters.append(query.before)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._select(
            "find runs",
            f"SELECT {RUN_COLUMNS} FROM runs {clause} ORDER BY started_at DESC, id DESC LIMIT %s",
            (*parameters, _limit(query.limit)),
        )
        return self._records(runs_from_rows, rows)

    def run_events(self, run_id: str) -> list[EventRecord]:
        rows = self._select(
            "read the events of a run",
            f"SELECT {EVENT_COLUMNS} FROM events WHERE run_id = %s ORDER BY occurred_at, id",
            (run_id,),
        )
        return self._records(events_from_rows, rows)

    def step_counts(self, run_ids: Iterable[str]) -> dict[str, dict[str, int]]:
        wanted = sorted(set(run_ids))
        if not wanted:
            return {}
        rows = self._select(
            "count the steps of runs",
            "SELECT run_id, CASE WHEN kind = 'cancelled' AND attempt = "
            f"{NOT_STARTED_ATTEMPT} THEN '{NOT_STARTED_COUNT}' ELSE kind END AS counted, "
            "COUNT(*) FROM events WHERE run_id = ANY(%s) AND asset IS NOT NULL "
            "GROUP BY run_id, counted",
            (wanted,),
        )
        counts: dict[str, dict[str, int]] = {}
        for run_id, kind, count in rows:
            counts.setdefault(run_id, {})[kind] = int(count)
        return counts

    # -- materializations, attempts, failures, checks, logs -----------------------------

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
        extra_parameters: Sequence[object] = (),
    ) -> list[_R]:
        """Rows of one asset (one partition, if given; ``extra`` holding), newest first."""
        if limit <= 0:
            return []
        where, parameters = "asset = %s", [asset]
        if partition is not None:
            where, parameters = "asset = %s AND partition_key = %s", [asset, partition]
        if extra:
            where += f" AND {extra}"
        rows = self._select(
            action,
            f"{select} WHERE {where} ORDER BY {time_column} DESC, id DESC LIMIT %s",
            (*parameters, *extra_parameters, _limit(limit)),
        )
        return self._records(convert, rows)

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
            extra="kind = ANY(%s)",
            extra_parameters=(_ENDED_KINDS,),
        )

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

    def _select_newest(
        self, action: str, queries: tuple[str, str], assets: Iterable[str] | None
    ) -> list[Row]:
        wanted = asset_filter(assets)
        if wanted is None:
            return self._select(action, queries[0])
        if not wanted:
            return []
        return self._select(action, queries[1], (sorted(wanted),))

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
        assets: list[str] = []
        partitions: list[str] = []
        for asset, partition in set(keys):
            assets.append(asset)
            partitions.append("" if partition is None else partition)
        if not assets:
            return {}
        rows = self._select(
            "read the latest states of some partitions",
            f"SELECT {STATE_COLUMNS} FROM unnest(%s::text[], %s::text[]) AS k (asset, key) "
            "JOIN latest_state AS l ON l.asset = k.asset AND l.partition_key = k.key "
            "JOIN materializations AS m ON m.id = l.materialization_id",
            (assets, partitions),
        )
        states = self._records(states_from_rows, rows)
        return {(s.asset, s.partition): s for s in states}

    def latest_attempts(self, keys: Iterable[AssetPartition]) -> dict[AssetPartition, EventRecord]:
        assets: list[str] = []
        partitions: list[str] = []
        unpartitioned: list[str] = []
        for asset, partition in set(keys):
            if partition is None:
                unpartitioned.append(asset)
            else:
                assets.append(asset)
                partitions.append(partition)
        if not assets and not unpartitioned:
            return {}
        rows = self._select(
            "read the latest attempts",
            _LATEST_ATTEMPTS,
            (_ATTEMPT_KINDS, assets, partitions, unpartitioned),
        )
        records = self._records(events_from_rows, rows)
        return {(e.asset, e.partition): e for e in records if e.asset is not None}

    def latest_failures(
        self, assets: Iterable[str] | None = None
    ) -> dict[AssetPartition, EventRecord]:
        rows = self._select_newest("read the latest failures", _LATEST_FAILURES, assets)
        records = self._records(events_from_rows, rows)
        return {(e.asset, e.partition): e for e in records if e.asset is not None}

    def run_checks(self, run_id: str) -> list[CheckRecord]:
        rows = self._select(
            "read the check results of a run",
            f"SELECT {CHECK_COLUMNS} FROM check_results WHERE run_id = %s ORDER BY occurred_at, id",
            (run_id,),
        )
        return self._records(checks_from_rows, rows)

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

    def step_logs(
        self, run_id: str, asset: str | None = None, partition: str | None = None
    ) -> list[LogRecord]:
        where, parameters = "run_id = %s", [run_id]
        if asset is not None:
            where, parameters = f"{where} AND asset = %s", [*parameters, asset]
        if partition is not None:
            where, parameters = f"{where} AND partition_key = %s", [*parameters, partition]
        rows = self._select(
            "read the logs of a run",
            f"SELECT {LOG_COLUMNS} FROM step_logs WHERE {where} ORDER BY id",
            parameters,
        )
        return self._records(logs_from_rows, rows)

    # -- code ---------------------------------------------------------------------------

    def save_code(self, code_version: str, source: str) -> None:
        self.save_codes({code_version: source})

    def save_codes(self, sources: Mapping[str, str]) -> None:
        wanted = {v: s for v, s in sources.items() if v not in self._saved_code_versions}
        if not wanted:
            return
        for code_version, source in wanted.items():
            check_code(code_version, source)
        found = self.saved_codes(wanted)
        missing = [(v, s, source_digest(s)) for v, s in wanted.items() if v not in found]
        if missing:
            digests = {digest: source for _, source, digest in missing}
            with self._db.transaction("save code") as connection:
                connection.execute(
                    "INSERT INTO code_sources (source_digest, source) "
                    "SELECT * FROM unnest(%s::text[], %s::text[]) "
                    "ON CONFLICT (source_digest) DO NOTHING",
                    (list(digests), list(digests.values())),
                )
                connection.execute(
                    "INSERT INTO code_versions (code_version, source_digest) "
                    "SELECT * FROM unnest(%s::text[], %s::text[]) "
                    "ON CONFLICT (code_version) DO NOTHING",
                    ([v for v, _, _ in missing], [d for _, _, d in missing]),
                )
        # Inside a unit of work, the code is saved only once the unit commits.
        self._db.after_commit(lambda: self._saved_code_versions.update(wanted))

    def saved_codes(self, code_versions: Iterable[str]) -> set[str]:
        wanted = sorted(set(code_versions))
        if not wanted:
            return set()
        rows = self._select(
            "look up saved code",
            "SELECT code_version FROM code_versions WHERE code_version = ANY(%s)",
            (wanted,),
        )
        return {row[0] for row in rows}

    def get_code(self, code_version: str) -> str | None:
        rows = self._select(
            "read saved code",
            "SELECT s.source FROM code_versions AS v "
            "JOIN code_sources AS s ON s.source_digest = v.source_digest "
            "WHERE v.code_version = %s",
            (code_version,),
        )
        return str(rows[0][0]) if rows else None

    # -- dynamic partitions -------------------------------------------------------------

    def add_partition_keys(self, name: str, keys: Sequence[str], at: datetime) -> list[str]:
        at = as_utc(at, f"the time of adding keys to '{name}'")
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return []
        with self._db.transaction("add partition keys") as connection:
            # A row comes back for each key inserted or revived, not for one already live.
            rows = connection.execute(
                "INSERT INTO dynamic_partitions (name, key, added_at) "
                "SELECT %s, wanted.key, %s FROM unnest(%s::text[]) WITH ORDINALITY "
                "AS wanted (key, position) ORDER BY wanted.position "
                "ON CONFLICT (name, key) DO UPDATE SET removed_at = NULL, "
                "added_at = excluded.added_at WHERE dynamic_partitions.removed_at IS NOT NULL "
                "RETURNING key",
                (name, at, wanted),
            ).fetchall()
        added = {row[0] for row in rows}
        return [key for key in wanted if key in added]

    def remove_partition_keys(self, name: str, keys: Sequence[str], at: datetime) -> list[str]:
        at = as_utc(at, f"the time of removing keys from '{name}'")
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return []
        with self._db.transaction("remove partition keys") as connection:
            rows = connection.execute(
                "UPDATE dynamic_partitions SET removed_at = %s "
                "WHERE name = %s AND key = ANY(%s) AND removed_at IS NULL RETURNING key",
                (at, name, wanted),
            ).fetchall()
        removed = {row[0] for row in rows}
        return [key for key in wanted if key in removed]

    def partition_keys(self, names: Iterable[str]) -> dict[str, list[str]]:
        wanted = sorted(set(names))
        result: dict[str, list[str]] = {name: [] for name in wanted}
        if not wanted:
            return result
        rows = self._select(
            "read partition keys",
            "SELECT name, key FROM dynamic_partitions "
            "WHERE removed_at IS NULL AND name = ANY(%s) ORDER BY position",
            (wanted,),
        )
        for name, key in rows:
            result[name].append(key)
        return result

    # -- leases, heartbeats, cancels ----------------------------------------------------

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
        with self._db.transaction("take a lease") as connection:
            # Takers of one asset-partition queue on this lock until the transaction
            # ends, so the read and the write below are one step for each of them.
            connection.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s || chr(31) || %s))",
                (LEASE_LOCK_CLASS, *key),
            )
            if connection.execute(_INSERT_FREE_LEASE, row).rowcount:
                return None  # it was free
            found = connection.execute(_LEASE_HOLDER, key).fetchone()
            if found is None:  # released since
                connection.execute(UPSERT_LEASE, row)
                return None
            holder = self._records(leases_from_rows, [tuple(found[:-1])])[0]
            if holder.run_id == lease.run_id:
                connection.execute(
                    "UPDATE leases SET expires_at = %s WHERE asset = %s AND partition_key = %s",
                    (lease.expires_at, *key),
                )
                return None
            if holder.is_live(now, is_run_running=bool(found[-1]), takeover=takeover):
                return holder
            connection.execute(UPSERT_LEASE, row)
            return None

    def release_leases(self, run_id: str, keys: Iterable[AssetPartition] | None = None) -> None:
        if keys is None:
            with self._db.transaction("release leases") as connection:
                connection.execute(_RELEASE_LEASES, (run_id,))
            return
        # An empty partition key names no lease (they are refused), not the
        # unpartitioned asset's lease stored under ''.
        pairs = [(asset, lease_key(p)) for asset, p in keys if p != ""]
        if not pairs:
            return
        with self._db.transaction("release leases") as connection:
            connection.execute(
                "DELETE FROM leases WHERE run_id = %s AND (asset, partition_key) IN "
                "(SELECT * FROM unnest(%s::text[], %s::text[]))",
                (run_id, [a for a, _ in pairs], [p for _, p in pairs]),
            )

    def renew_leases(self, run_id: str, expires_at: datetime) -> None:
        values = (as_utc(expires_at, f"leases of run '{run_id}' expires_at"), run_id)
        with self._db.transaction("renew leases") as connection:
            connection.execute("UPDATE leases SET expires_at = %s WHERE run_id = %s", values)

    def leases(self) -> list[Lease]:
        rows = self._select(
            "list leases", f"SELECT {LEASE_COLUMNS} FROM leases ORDER BY asset, partition_key"
        )
        return self._records(leases_from_rows, rows)

    def heartbeat(self, run_id: str, at: datetime) -> bool:
        values = (as_utc(at, f"the heartbeat of run '{run_id}'"), run_id)
        with self._db.transaction("record a heartbeat") as connection:
            found = connection.execute(
                "UPDATE runs SET heartbeat_at = %s WHERE run_id = %s "
                "RETURNING cancel_requested_at IS NOT NULL",
                values,
            ).fetchone()
        if found is None:
            raise StoreError(
                f"cannot record a heartbeat of run '{run_id}': there is no such run in "
                f"the metadata store {self.shown}.",
                hint="Create the run with create_run() before its heartbeats.",
            )
        return bool(found[0])

    def request_cancel(self, run_id: str, at: datetime) -> RunRecord:
        at = as_utc(at, f"the cancel request of run '{run_id}'")
        with self._db.transaction("request a cancel") as connection:
            # The rows read stay locked: a run that finishes meanwhile waits, or is
            # seen finished; never marked after it finished.
            run = self._find_run(connection, run_id, lock=True)
            if run is None:
                raise UnknownRunError(run_id)
            if run.status != RunStatus.RUNNING:
                raise RunFinishedError(run)
            if run.cancel_requested_at is not None:
                return run
            connection.execute(
                "UPDATE runs SET cancel_requested_at = %s WHERE run_id = %s", (at, run.run_id)
            )
            return run.model_copy(update={"cancel_requested_at": at})

    # -- units of work, closing ---------------------------------------------------------

    @contextmanager
    def unit_of_work(self) -> Iterator[PostgresUnitOfWork]:
        with self._db.unit_of_work() as (connection, is_nested):
            yield PostgresUnitOfWork(self._db, connection, is_nested)

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
        return f"{type(self).__name__}({self.shown!r})"
