"""One SQLite connection to a store file: opened, configured, migrated, and run with retries.

Several processes (a run, the scheduler, the UI) open the same file. WAL mode
lets readers go on while one process writes. Every write is one short ``BEGIN
IMMEDIATE`` transaction: it takes the write lock up front, so it never has to
upgrade a read lock (which SQLite answers with an immediate "busy"). The busy
timeout makes SQLite wait for a lock held by another process, and a retry with
jittered backoff covers the cases where SQLite reports "busy" without waiting
(two processes switching a new file to WAL at once, recovery after a crash),
within a budget of the busy timeout plus the pauses.
The connection sits behind a lock, so threads can share it; it is not carried
across ``fork``.

A unit of work (``transaction``) holds the lock and one ``BEGIN IMMEDIATE``
transaction for a whole block; the operations run inside it are not retried
(the write lock is already held) and each runs in a savepoint, so that a failed
one leaves nothing of its own while the block goes on.
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

from assetflow.errors import StoreError
from assetflow.store.sqlite.errors import (
    check_store_file,
    is_busy,
    prepare_location,
    store_error,
)
from assetflow.store.sqlite.rows import Row
from assetflow.store.sqlite.schema import (
    Migration,
    latest_version,
    newer_store_error,
    read_version,
    upgrade,
)

logger = logging.getLogger(__name__)

#: How long SQLite itself waits for another connection's lock before reporting "busy".
BUSY_TIMEOUT_S = 30.0
#: Pauses between application-level retries of an operation that found the store busy.
LOCK_RETRY_DELAYS_S = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)
#: Each pause is scaled by a random factor in [1 - RETRY_JITTER, 1 + RETRY_JITTER], so
#: processes that collided once do not retry in step.
RETRY_JITTER = 0.5

_T = TypeVar("_T")

# The savepoint each operation of a unit of work runs in.
_SAVEPOINT = "assetflow_operation"


def _configure(connection: sqlite3.Connection) -> None:
    mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        logger.warning(
            "metadata store could not switch to WAL mode (it is in %r mode): "
            "processes sharing it will wait for each other more",
            mode,
        )
    # In WAL mode NORMAL is safe against corruption; a power cut may lose the
    # last commits, never the file.
    connection.execute("PRAGMA synchronous = NORMAL")


def _rollback(connection: sqlite3.Connection) -> None:
    if not connection.in_transaction:
        return
    try:
        connection.execute("ROLLBACK")
    except sqlite3.Error:
        logger.debug("rollback failed after an error", exc_info=True)


def _execute(
    connection: sqlite3.Connection, fn: Callable[[sqlite3.Connection], _T], *, write: bool
) -> _T:
    if not write:
        return fn(connection)
    connection.execute("BEGIN IMMEDIATE")
    try:
        result = fn(connection)
        connection.execute("COMMIT")
    except BaseException:
        _rollback(connection)
        raise
    return result


def _open_read_only(path: Path, busy_timeout_s: float) -> sqlite3.Connection:
    """A connection that only reads ``path``, which must exist.

    A WAL-mode file is read through its ``-shm`` index; in a directory this process
    cannot write, where that index does not exist and cannot be created, SQLite
    refuses it, and the file is read as immutable instead (the snapshot it holds
    now, as nobody can be writing it without that index).

    Raises:
        StoreError: No file is at ``path``, or it cannot be read.
    """
    if not path.is_file():
        raise StoreError(
            f"there is no metadata store at {path}, and its directory is read-only, so "
            "none can be created.",
            hint="Nothing has run in this project yet, or its state directory was moved. "
            "Run `assetflow materialize` where the state directory is writable.",
        )
    uri = "file:" + quote(path.as_posix())
    last: sqlite3.Error | None = None
    for options in ("?mode=ro", "?mode=ro&immutable=1"):
        try:
            connection = sqlite3.connect(
                uri + options,
                uri=True,
                timeout=busy_timeout_s,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            last = exc
            continue
        try:
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:
            connection.close()
            last = exc
            continue
        return connection
    assert last is not None
    raise store_error(last, path, "open the metadata store to read it")


def read_only_write_error(path: Path, action: str) -> StoreError:
    """The error for a write to a store opened read-only."""
    return StoreError(
        f"cannot {action}: the metadata store {path} is open read-only, as its directory "
        "or file is not writable by this user; nothing can be written.",
        hint="Reading commands (status, runs, history) work here. Run commands that "
        "record (materialize, check, runs cancel) as a user who can write the state "
        "directory.",
    )


def read_only_upgrade_error(path: Path, found: int, known: int) -> StoreError:
    """The error for a read-only store whose schema is older than this assetflow's."""
    return StoreError(
        f"the metadata store {path} has schema version {found} and this assetflow needs "
        f"version {known}, but the store is read-only here, so it cannot be upgraded.",
        hint="Run any assetflow command (e.g. `assetflow runs`) once as a user who can "
        "write the state directory: it upgrades the store, and this user can read it then.",
    )


class SqliteConnection:
    """The connection a SqliteStore runs its statements on, shared by threads."""

    def __init__(
        self,
        path: Path,
        *,
        migrations: Sequence[Migration],
        busy_timeout_s: float = BUSY_TIMEOUT_S,
        retry_delays_s: Sequence[float] = LOCK_RETRY_DELAYS_S,
        read_only: bool = False,
    ) -> None:
        """Open (creating if needed) the file at ``path`` and bring its schema up to date.

        Args:
            path: The SQLite file; its directory is created if missing.
            migrations: The full, ordered list of schema steps.
            busy_timeout_s: How long SQLite waits for another connection's lock.
            retry_delays_s: Pauses between retries of an operation that found the
                store busy even so.
            read_only: Open an existing file only to read it (a state directory the
                user cannot write): nothing is created, migrated or written.

        Raises:
            StoreError: The path is a directory, cannot be created or written, is
                not an assetflow store, is corrupt, or was written by a newer assetflow;
                read-only: the file does not exist or needs a schema upgrade.
        """
        self.path = path
        self.read_only = read_only
        self._retry_delays_s = tuple(retry_delays_s)
        # An operation stops retrying once a pause would end past this budget, so a
        # lock held by a stuck process fails it after about twice the busy timeout
        # at worst, while quick "busy" answers are retried through every pause.
        self._lock_budget_s = busy_timeout_s + sum(self._retry_delays_s)
        self._random = random.Random()
        self._lock = threading.RLock()
        self._owner_pid = os.getpid()
        self._connection: sqlite3.Connection | None = None
        # How many units of work are open (nested ones join the outermost), and what
        # to call once the outermost commits.
        self._unit_depth = 0
        self._after_commit: list[Callable[[], None]] = []
        if read_only:
            self._connection = _open_read_only(path, busy_timeout_s)
        else:
            prepare_location(path)
            check_store_file(path)
            try:
                self._connection = sqlite3.connect(
                    path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
                )
            except sqlite3.Error as exc:
                raise store_error(exc, path, "open the metadata store") from exc
        try:
            if not read_only:
                self.run("open the metadata store", _configure, write=False)
            self._migrate(migrations)
        except BaseException:
            self.close()
            raise

    def _migrate(self, migrations: Sequence[Migration]) -> None:
        known = latest_version(migrations)
        found = self.run("read the schema version", read_version, write=False)
        if found > known:
            raise newer_store_error(self.path, found, known)
        if found == known:
            return
        if self.read_only:
            raise read_only_upgrade_error(self.path, found, known)
        try:
            before = self.run(
                "upgrade the metadata store schema",
                lambda connection: upgrade(connection, self.path, migrations),
                write=True,
            )
        except StoreError as error:
            cause = error.__cause__
            if isinstance(cause, sqlite3.Error) and is_busy(cause):
                raise self._busy_upgrade_error(found, known) from cause
            raise
        if before < known:
            logger.info(
                "metadata store %s: schema upgraded from version %d to %d", self.path, before, known
            )

    def _busy_upgrade_error(self, found: int, known: int) -> StoreError:
        """The upgrade waited its whole budget for another process's write lock: name the
        runs that are running (their pid and host), the likeliest holders."""
        holders = self.run("read the running runs", _running_runs, write=False)
        waited = f"{self._lock_budget_s:.1f} s"
        if holders:
            named = "; ".join(holders)
            who = f"it is in use by assetflow: {named}"
            fix = (
                "Wait for that run to finish (`assetflow runs` shows it) and run the command "
                "again, or stop it with `assetflow runs cancel RUN_ID`."
            )
        else:
            who = (
                "no run is recorded as running, so it is another process that holds the "
                "file: the scheduler, the UI, or a program reading it (a sqlite3 shell)"
            )
            fix = (
                f"Find the process with `fuser {self.path}` (or `lsof {self.path}`), let it "
                "finish or stop it, and run the command again."
            )
        return StoreError(
            f"cannot upgrade the metadata store {self.path} from schema version {found} to "
            f"{known}: another process held it for writing throughout the {waited} this "
            f"waited; {who}.",
            hint=fix + " The upgrade changes nothing until it can run whole.",
        )

    def _usable_connection(self) -> sqlite3.Connection:
        if self._connection is None:
            raise StoreError(
                f"the metadata store {self.path} is closed.",
                hint="Open it again with open_store('sqlite', path).",
            )
        if os.getpid() != self._owner_pid:
            raise StoreError(
                f"the metadata store {self.path} was opened in process {self._owner_pid} "
                f"and cannot be used from process {os.getpid()}.",
                hint="A SQLite connection does not survive fork: open the store in each process.",
            )
        return self._connection

    def run(self, action: str, fn: Callable[[sqlite3.Connection], _T], *, write: bool) -> _T:
        """Run ``fn`` on the connection, retrying while the file is busy.

        Args:
            action: What ``fn`` does, as a verb phrase for error messages ("list runs").
            fn: The statements; called again from the start on a retry.
            write: Run ``fn`` in one ``BEGIN IMMEDIATE`` transaction, committed
                when it returns and rolled back when it raises.

        Returns:
            What ``fn`` returned.

        Raises:
            StoreError: The store is closed, was opened in another process, stayed
                busy through every retry (or past the busy timeout plus the
                retry pauses), or failed otherwise.
        """
        with self._lock:
            connection = self._usable_connection()
            if write and self.read_only:
                raise read_only_write_error(self.path, action)
            if self._unit_depth:
                return self._run_in_unit(connection, action, fn, write=write)
            delays = iter(self._retry_delays_s)
            deadline = time.monotonic() + self._lock_budget_s
            while True:
                try:
                    return _execute(connection, fn, write=write)
                except sqlite3.Error as exc:
                    delay = next(delays, None) if is_busy(exc) else None
                    if delay is not None:
                        delay *= self._random.uniform(1 - RETRY_JITTER, 1 + RETRY_JITTER)
                    if delay is None or time.monotonic() + delay > deadline:
                        raise store_error(exc, self.path, action) from exc
                    # Expected now and then; only running out of retries is a
                    # problem, and that raises.
                    logger.debug(
                        "metadata store %s is busy (%s); retrying to %s in %.2f s",
                        self.path,
                        exc,
                        action,
                        delay,
                    )
                    time.sleep(delay)
                except UnicodeEncodeError as exc:
                    raise self._text_error(action, exc) from exc

    def _text_error(self, action: str, exc: UnicodeEncodeError) -> StoreError:
        # Records are checked before writing: this is a lookup with bad text.
        return StoreError(
            f"cannot {action} in the metadata store {self.path}: {exc.object!r} "
            "is not valid Unicode text.",
            hint="Pass valid text (a lone surrogate usually comes from bytes "
            "decoded with errors='surrogateescape').",
        )

    def _run_in_unit(
        self,
        connection: sqlite3.Connection,
        action: str,
        fn: Callable[[sqlite3.Connection], _T],
        *,
        write: bool,
    ) -> _T:
        """``fn`` inside the open unit of work: a write in a savepoint, no retries."""
        try:
            if not write:
                return fn(connection)
            connection.execute(f"SAVEPOINT {_SAVEPOINT}")
            try:
                result = fn(connection)
            except BaseException:
                if connection.in_transaction:
                    connection.execute(f"ROLLBACK TO {_SAVEPOINT}")
                    connection.execute(f"RELEASE {_SAVEPOINT}")
                raise
            connection.execute(f"RELEASE {_SAVEPOINT}")
            return result
        except sqlite3.Error as exc:
            raise store_error(exc, self.path, action) from exc
        except UnicodeEncodeError as exc:
            raise self._text_error(action, exc) from exc

    @contextmanager
    def transaction(self) -> Iterator[tuple[sqlite3.Connection, bool]]:
        """Hold one write transaction (a unit of work) for the block; nested ones join it.

        Yields:
            The connection, and whether this unit joined an outer one.

        Raises:
            StoreError: The store is closed, stayed locked by another process,
                SQLite ended the transaction itself, or the commit failed; then
                nothing of the block is written.
        """
        with self._lock:
            connection = self._usable_connection()
            if self.read_only:
                raise read_only_write_error(self.path, "begin a unit of work")
            if self._unit_depth:
                self._unit_depth += 1
                try:
                    yield connection, True
                finally:
                    self._unit_depth -= 1
                return
            self.run(
                "begin a unit of work",
                lambda connection: connection.execute("BEGIN IMMEDIATE"),
                write=False,
            )
            self._unit_depth = 1
            try:
                yield connection, False
            except BaseException:
                _rollback(connection)
                raise
            finally:
                self._unit_depth = 0
                callbacks, self._after_commit = self._after_commit, []
            self._commit(connection)
        for callback in callbacks:
            callback()

    def _commit(self, connection: sqlite3.Connection) -> None:
        if not connection.in_transaction:
            # SQLite rolls a transaction back itself after some failures (disk
            # full, I/O error): the block's writes are gone, and saying so is all
            # that is left.
            raise StoreError(
                f"a unit of work on the metadata store {self.path} was rolled back by "
                "SQLite after an error inside it: none of its writes were kept.",
                hint="The error it caught inside the block says why; fix that and retry.",
            )
        try:
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(connection)
            raise store_error(exc, self.path, "commit a unit of work") from exc

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the open unit of work commits, or now without one."""
        with self._lock:
            if self._unit_depth:
                self._after_commit.append(callback)
                return
        callback()

    def select(self, action: str, sql: str, parameters: Sequence[object] = ()) -> list[Row]:
        """The rows of one read-only statement (see ``run``)."""
        return self.run(
            action, lambda connection: connection.execute(sql, parameters).fetchall(), write=False
        )

    def close(self) -> None:
        """Close the connection; closing twice is fine."""
        with self._lock:
            connection, self._connection = self._connection, None
        # A connection inherited through fork belongs to the parent: leave it alone.
        if connection is not None and os.getpid() == self._owner_pid:
            try:
                connection.close()
            except sqlite3.Error:
                logger.warning("closing the metadata store %s failed", self.path, exc_info=True)


def _running_runs(connection: sqlite3.Connection) -> list[str]:
    """`run 1c2d3e4f (pid 4242 on web-1, started 2026-03-04T03:00:00+00:00)` for each
    run recorded as running; a store older than version 7 has no host column."""
    columns = {row[1] for row in connection.execute("PRAGMA table_info(runs)")}
    if not columns:
        return []
    host = "host" if "host" in columns else "NULL"
    rows = connection.execute(
        f"SELECT run_id, pid, {host}, started_at FROM runs WHERE status = 'running' "
        "ORDER BY started_at LIMIT 5"
    ).fetchall()
    named = []
    for run_id, pid, on, started_at in rows:
        where = f"pid {pid}" if pid is not None else "pid unknown"
        where += f" on {on}" if on else ""
        named.append(f"run {str(run_id)[:8]} ({where}, started {started_at})")
    return named
