"""The PostgreSQL store's core: opening (use lock, schema check), runs and what they
record, saved code, dynamic partition keys, and units of work.

Semantics are SQLite's (``assetflow.store.sqlite.store``; the shared tests pin
them). Reads are in ``reading``, leases, heartbeats and cancels in ``leasing``.
Races are settled by the server, without retries: row locks and ``ON CONFLICT``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Self

from assetflow.errors import StoreError
from assetflow.store.normalise import (
    as_utc,
    check_code,
    normalise_check,
    normalise_event,
    normalise_log,
    normalise_materialization,
    normalise_run,
    source_digest,
)
from assetflow.store.postgres.connection import PgDatabase
from assetflow.store.postgres.leasing import RELEASE_LEASES, LeasingMixin
from assetflow.store.postgres.rows import (
    INSERT_CHECK,
    INSERT_EVENT,
    INSERT_LOG,
    INSERT_MATERIALIZATION,
    INSERT_RUN,
    Row,
    check_row,
    event_row,
    log_row,
    materialization_row,
    record_statement,
    run_row,
)
from assetflow.store.postgres.schema import check_schema, hold_use_lock
from assetflow.store.records import (
    CheckRecord,
    EventRecord,
    LogRecord,
    MaterializationRecord,
    RunRecord,
    RunStatus,
)

if TYPE_CHECKING:
    from types import TracebackType

    import psycopg

    from assetflow.store.lineage import LineageOutbox

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
#: Finishes a run and drops its leases, in one statement; counts the runs finished (0 or 1).
_FINISH_RUN = (
    "WITH finished AS (UPDATE runs SET status = %s, finished_at = %s WHERE run_id = %s "
    "RETURNING run_id), released AS (DELETE FROM leases WHERE run_id IN "
    "(SELECT run_id FROM finished)) SELECT count(*) FROM finished"
)
#: ``record`` writes in one statement up to this many values (the protocol takes
#: 65,535 parameters per statement); more go in batches, in one transaction.
_MAX_RECORD_PARAMETERS = 30_000


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


class PostgresCoreStore(LeasingMixin):
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
                hold_use_lock(session, self.shown)
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

    # -- runs ---------------------------------------------------------------------------

    def create_run(self, run: RunRecord) -> None:
        run = normalise_run(run)
        row = run_row(run)
        with self._db.statement("create a run") as connection:
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
        with self._db.statement("finish a run") as connection:
            found = connection.execute(_FINISH_RUN, values).fetchone()
        if not found or not found[0]:
            raise StoreError(
                f"cannot finish run '{run_id}': there is no such run in the metadata "
                f"store {self.shown}.",
                hint="Create the run with create_run() before finishing it.",
            )

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
            connection.execute(RELEASE_LEASES, (run_id,))
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
        parameters = sum(
            len(rows) * (len(rows[0]) if rows else 0)
            for rows in (materialization_rows, event_rows, check_rows, log_rows)
        )
        if parameters > _MAX_RECORD_PARAMETERS:
            self._record_in_batches(materialization_rows, event_rows, check_rows, log_rows)
            return
        sql, values = record_statement(materialization_rows, event_rows, check_rows, log_rows)
        # One statement: all of it is written or none, in one round trip.
        with self._db.statement("record materializations and events") as connection:
            connection.execute(sql, values)

    def _record_in_batches(
        self,
        materialization_rows: list[Row],
        event_rows: list[Row],
        check_rows: list[Row],
        log_rows: list[Row],
    ) -> None:
        """``record`` for more rows than one statement takes: a transaction of batches."""
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

    # -- dynamic partitions -------------------------------------------------------------

    def add_partition_keys(self, name: str, keys: Sequence[str], at: datetime) -> list[str]:
        at = as_utc(at, f"the time of adding keys to '{name}'")
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return []
        with self._db.statement("add partition keys") as connection:
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
        with self._db.statement("remove partition keys") as connection:
            rows = connection.execute(
                "UPDATE dynamic_partitions SET removed_at = %s "
                "WHERE name = %s AND key = ANY(%s) AND removed_at IS NULL RETURNING key",
                (at, name, wanted),
            ).fetchall()
        removed = {row[0] for row in rows}
        return [key for key in wanted if key in removed]

    # -- units of work, closing ---------------------------------------------------------

    def lineage_outbox(self) -> LineageOutbox:
        from assetflow.store.lineage import PostgresOutbox

        return PostgresOutbox(self)

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
