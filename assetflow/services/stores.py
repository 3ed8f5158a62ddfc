"""Opening a project's metadata store, sweeping the runs a crash left behind, and the
store's own chores: copying its history, migrating its schema, describing it."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from assetflow.errors import WriteError

if TYPE_CHECKING:
    from assetflow.clock import Clock
    from assetflow.execution.liveness import CrashHook
    from assetflow.project import Project, ProjectLocation
    from assetflow.store.base import MetadataStore
    from assetflow.store.copying import CopyResult
    from assetflow.store.records import EventRecord, RunRecord

logger = logging.getLogger(__name__)

#: The embedded metadata store's file name under the state dir.
METADATA_FILE = "metadata.sqlite"


def open_project_store(project: Project, environ: Mapping[str, str] | None = None) -> MetadataStore:
    """Open the project's metadata store, creating the state dir if needed.

    The store is the configuration's `store` URL, or the URL in the environment
    variable `store_env` names, else the embedded SQLite file
    ``<state_dir>/metadata.sqlite``.

    Args:
        project: The project.
        environ: Where `store_env` is looked up (default: the process environment).

    Raises:
        WriteError: The state dir cannot be created or written.
        ProjectError: `store_env` names a variable that is unset or empty.
        StoreError: The URL is not one assetflow opens, or the store is unusable.
    """
    from assetflow.store import open_store

    ensure_state_dir(project.state_dir)
    return open_store(project_store_url(project, environ), root=project.root)


class ReadOnlyStoreWarning(UserWarning):
    """The project's state directory cannot be written: its store is only read.

    Issued once each time a reading command opens such a store (the CLI prints it
    as one line on standard error); nothing is swept, migrated or written.
    """


@contextlib.contextmanager
def project_store(
    project: Project, store: MetadataStore | None = None, *, reading: bool = False
) -> Iterator[MetadataStore]:
    """The given store (left open), or the project's own, opened here and closed after.

    Args:
        project: The project.
        store: A store to use instead of the project's own.
        reading: The caller only reads (status, runs, history): when the state
            directory cannot be written (a monitoring user's read-only copy), the
            embedded store is opened read-only, with a `ReadOnlyStoreWarning`, rather
            than refused.
    """
    if store is not None:
        yield store
        return
    if reading and _is_read_only(project):
        with _read_only_store(project) as opened:
            yield opened
        return
    with open_project_store(project) as opened:
        yield opened


def _is_read_only(project: Project) -> bool:
    """Whether this process cannot write the project's embedded store (or create it).

    Only the embedded store (no `store` or `store_env` setting) is judged: the
    state directory says nothing about a store configured elsewhere.
    """
    import os

    if project.location.config.store_url(os.environ) is not None:
        return False
    try:
        ensure_state_dir(project.state_dir)
    except WriteError:
        return True
    metadata = project.state_dir / METADATA_FILE
    return metadata.exists() and not os.access(metadata, os.W_OK)


@contextlib.contextmanager
def _read_only_store(project: Project) -> Iterator[MetadataStore]:
    """The embedded store opened read-only; an empty one when none was ever written."""
    import warnings

    from assetflow.store.memory import MemoryStore
    from assetflow.store.sqlite import SqliteStore

    metadata = project.state_dir / METADATA_FILE
    warnings.warn(
        ReadOnlyStoreWarning(
            f"the state directory {project.state_dir} is read-only for this user: "
            "showing what is recorded; nothing can be written (no crashed runs are "
            "marked, no upgrade is made)."
        ),
        stacklevel=3,
    )
    opened: MetadataStore = (
        SqliteStore(metadata, read_only=True) if metadata.exists() else MemoryStore()
    )
    with opened:
        yield opened


def is_read_only_store(store: MetadataStore) -> bool:
    """Whether ``store`` was opened only to read (see `project_store`)."""
    return bool(getattr(store, "read_only", False))


def ensure_state_dir(state_dir: Path) -> None:
    """Create the state dir and check it is writable, with a clear error if not.

    Raises:
        WriteError: The directory cannot be created or written.
    """
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        probe = state_dir / f".write-test-{uuid.uuid4().hex}"
        probe.touch()
        probe.unlink()
    except OSError as error:
        raise WriteError(
            f"the state directory {state_dir} is not writable: {error.strerror or error}.",
            hint=(
                "assetflow keeps outputs and run history there. To fix this, make the "
                "directory writable (e.g. `chmod u+w`), or point `state_dir` in "
                "[tool.assetflow] at a writable directory."
            ),
        ) from error


#: Who else hears of the runs the crash sweep marks (see `watch_crashes`).
_CRASH_WATCHERS: list[Callable[[Project], CrashHook | None]] = []


def watch_crashes(watcher: Callable[[Project], CrashHook | None]) -> None:
    """Have the crash sweep tell `watcher(project)`'s hook of each run it marks crashed,
    inside the transaction that marks it (a layer above this one, lineage, ends the
    run's events so). `watcher` is asked only when the sweep finds a crashed run; it
    returns None when the project has nothing to say."""
    if watcher not in _CRASH_WATCHERS:
        _CRASH_WATCHERS.append(watcher)


@dataclass
class _CrashWatchers:
    """The watchers' hooks for one project, asked for at the first crashed run."""

    project: Project
    hooks: list[CrashHook] | None = None

    def __call__(self, run: RunRecord, events: Sequence[EventRecord], store: MetadataStore) -> None:
        if self.hooks is None:
            self.hooks = []
            for watcher in _CRASH_WATCHERS:
                try:
                    hook = watcher(self.project)
                except Exception as error:  # the crash is still marked, without its echo
                    logger.warning("cannot tell of crashed runs: %s", error)
                    continue
                if hook is not None:
                    self.hooks.append(hook)
        for hook in self.hooks:
            try:
                hook(run, events, store)
            except Exception:
                logger.warning("cannot tell of crashed run %s", run.run_id, exc_info=True)


def sweep_crashed(store: MetadataStore, project: Project, clock: Clock | None = None) -> None:
    """Mark crashed the runs left ``running`` by a process that is gone (see
    `assetflow.execution.liveness`), and delete the temporary files their killed
    writers left (a kill -9 gives them no chance to). Every command that reads runs
    calls this first; a store opened read-only is left as it is. The hooks of
    `watch_crashes` hear of each run it marks."""
    from assetflow.clock import SystemClock
    from assetflow.execution.liveness import is_process_alive, sweep_orphaned_runs
    from assetflow.execution.step import DATA_DIR
    from assetflow.io.atomic import remove_orphaned_temp_files

    if is_read_only_store(store):
        return
    watchers = _CrashWatchers(project) if _CRASH_WATCHERS else None
    if sweep_orphaned_runs(store, clock=clock or SystemClock(), on_crashed=watchers):
        data = project.state_dir / DATA_DIR
        if data.is_dir():
            remove_orphaned_temp_files(data, is_process_alive)


def project_store_url(project: Project, environ: Mapping[str, str] | None = None) -> str:
    """The URL of the project's metadata store (see `open_project_store`).

    Raises:
        ProjectError: `store_env` names a variable that is unset or empty.
    """
    import os

    from assetflow.store import sqlite_url

    url = project.location.config.store_url(os.environ if environ is None else environ)
    return url if url is not None else sqlite_url(project.state_dir / METADATA_FILE)


def copy_history(
    project: Project, to_url: str, *, from_url: str | None = None
) -> tuple[CopyResult, str, str]:
    """Copy every record of the project's store (or the one ``from_url`` names) into the
    empty store ``to_url``, in one transaction on the target, checked by counts.

    Returns:
        What was copied, and the source's and the target's URLs as shown (no password).

    Raises:
        StoreError: A store cannot be opened or copied, the target is not empty, or
            the counts differ (nothing is then kept in the target).
        ProjectError: `store_env` names a variable that is unset or empty.
    """
    from assetflow.errors import StoreError
    from assetflow.store import open_store, redact_url
    from assetflow.store.copying import copy_store

    source_url = from_url if from_url is not None else project_store_url(project)
    source_shown, target_shown = redact_url(source_url), redact_url(to_url)
    if from_url is None:
        ensure_state_dir(project.state_dir)
    with (
        open_store(source_url, root=project.root) as source,
        open_store(to_url, root=project.root) as target,
    ):
        if _same_store(source, target):
            raise StoreError(
                f"the source and the target of the copy are the same store ({target_shown}).",
                hint="Name another store with --to.",
            )
        result = copy_store(source, target, source_shown=source_shown, target_shown=target_shown)
    return result, source_shown, target_shown


def _same_store(source: MetadataStore, target: MetadataStore) -> bool:
    """Whether two open stores are one: the same SQLite file, or the same PostgreSQL
    database (host, port and database name, whatever the user or options)."""
    for attribute in ("path", "database_key"):
        mine = getattr(source, attribute, None)
        if mine is not None and mine == getattr(target, attribute, None):
            return True
    return False


# -- `assetflow store migrate` and `store info` ---------------------------------------------


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """What `store migrate` did to one store."""

    #: the store's URL as shown (no password)
    shown: str
    #: the schema version before (0: there was no schema) and after
    before: int
    after: int

    @property
    def message(self) -> str:
        """One line saying what happened."""
        if self.before == 0:
            return f"Created the schema of {self.shown} at v{self.after}."
        if self.before == self.after:
            return f"{self.shown} is already at schema v{self.after} (nothing to do)."
        return f"Migrated {self.shown} from schema v{self.before} to v{self.after}."


@dataclass(frozen=True, slots=True)
class StoreInfo:
    """What `store info` shows about one store."""

    backend: str
    #: the store's URL as shown (no password)
    shown: str
    #: the schema version found (0: none yet) and the newest this assetflow knows
    schema_version: int
    latest_version: int
    #: bytes on disk (the SQLite file and its WAL; PostgreSQL's pg_database_size)
    size_bytes: int
    #: rows of each table of the store's history (empty without a schema)
    rows: dict[str, int]


def store_url_of(location: ProjectLocation | None, url: str | None) -> tuple[str, Path | None]:
    """The store URL a command works on (``url``, else the project's) and the directory a
    relative sqlite path starts from.

    Raises:
        ProjectError: No URL is given and there is no project (or its `store_env` is unset).
    """
    import os

    from assetflow.store import sqlite_url

    if url is not None:
        return url, location.root if location is not None else None
    if location is None:  # pragma: no cover - the callers pass one or the other
        raise ValueError("store_url_of needs a project location or a URL")
    configured = location.config.store_url(os.environ)
    if configured is not None:
        return configured, location.root
    return sqlite_url(location.state_dir / METADATA_FILE), location.root


def migrate_store(url: str, root: Path | None = None, *, wait: bool = False) -> MigrationReport:
    """Create or upgrade the schema of the store ``url`` names.

    A SQLite store is created (or upgraded) by opening it; a PostgreSQL store's
    schema is made under its exclusive use lock, which other open stores hold
    shared: without ``wait`` that is refused while they are open.

    Raises:
        StoreError: The URL is not a store's, the store cannot be reached, others use
            it (PostgreSQL, without ``wait``), or it is newer than this assetflow.
    """
    from assetflow.errors import StoreError
    from assetflow.store.opening import parse_store_url

    parsed = parse_store_url(url)
    if parsed.scheme in ("postgresql", "postgres"):
        from assetflow.store.postgres.connection import PgDatabase
        from assetflow.store.postgres.schema import migrate

        database = PgDatabase(url)
        try:
            result = migrate(database, wait=wait)
        finally:
            database.close()
        return MigrationReport(parsed.shown, result.before, result.after)
    if parsed.scheme == "sqlite":
        from assetflow.store.opening import sqlite_path
        from assetflow.store.sqlite import SqliteStore
        from assetflow.store.sqlite.schema import MIGRATIONS

        path = sqlite_path(parsed, root)
        before = _sqlite_version(path)
        with SqliteStore(path):
            pass
        return MigrationReport(parsed.shown, before, len(MIGRATIONS))
    raise StoreError(
        f"the metadata store {parsed.shown} keeps nothing on disk: it has no schema to migrate.",
        hint="Migrate a sqlite:... or postgresql://... store.",
    )


def _sqlite_version(path: Path) -> int:
    """The schema version of the SQLite store file at ``path`` (0: no file or no schema)."""
    import sqlite3
    from urllib.parse import quote

    from assetflow.store.sqlite.errors import store_error
    from assetflow.store.sqlite.schema import read_version

    if not path.is_file():
        return 0
    try:
        connection = sqlite3.connect(f"file:{quote(path.as_posix())}?mode=ro", uri=True)
        try:
            return read_version(connection)
        finally:
            connection.close()
    except sqlite3.Error as error:
        raise store_error(error, path, "read the schema version") from error


def store_info(url: str, root: Path | None = None) -> StoreInfo:
    """The backend, schema version, size and rows per table of the store ``url`` names,
    read without changing it (a store without a schema shows version 0 and no rows).

    Raises:
        StoreError: The URL is not a store's, or the store cannot be read.
    """
    from assetflow.errors import StoreError
    from assetflow.store.opening import parse_store_url

    parsed = parse_store_url(url)
    if parsed.scheme in ("postgresql", "postgres"):
        return _postgres_info(url, parsed.shown)
    if parsed.scheme == "sqlite":
        from assetflow.store.opening import sqlite_path

        return _sqlite_info(sqlite_path(parsed, root), parsed.shown)
    raise StoreError(
        f"the metadata store {parsed.shown} keeps nothing on disk: there is nothing to show.",
        hint="Ask about a sqlite:... or postgresql://... store.",
    )


def _postgres_info(url: str, shown: str) -> StoreInfo:
    import psycopg

    from assetflow.store.copying import TABLES
    from assetflow.store.postgres.connection import PgDatabase
    from assetflow.store.postgres.schema import LATEST_VERSION, read_version

    database = PgDatabase(url)
    try:
        connection = database.session
        try:
            version = read_version(connection)
            size = connection.execute("SELECT pg_database_size(current_database())").fetchone()
            rows: dict[str, int] = {}
            for table in TABLES if version else ():
                exists = connection.execute("SELECT to_regclass(%s)", (table,)).fetchone()
                if exists and exists[0] is not None:
                    count = connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()
                    rows[table] = int(count[0]) if count else 0
        except psycopg.Error as error:
            raise database.failure(error, "read the store's size and rows") from error
    finally:
        database.close()
    return StoreInfo(
        "postgresql", shown, version, LATEST_VERSION, int(size[0]) if size else 0, rows
    )


def _sqlite_info(path: Path, shown: str) -> StoreInfo:
    import sqlite3
    from urllib.parse import quote

    from assetflow.errors import StoreError
    from assetflow.store.copying import TABLES
    from assetflow.store.sqlite.errors import store_error
    from assetflow.store.sqlite.schema import MIGRATIONS, read_version

    if not path.is_file():
        raise StoreError(
            f"there is no metadata store at {path} yet.",
            hint="Run `assetflow store migrate` (or any command that records, such as "
            "`assetflow materialize`) to create it.",
        )
    size = sum(
        candidate.stat().st_size
        for candidate in (path, path.with_name(path.name + "-wal"))
        if candidate.is_file()
    )
    try:
        connection = sqlite3.connect(f"file:{quote(path.as_posix())}?mode=ro", uri=True)
        try:
            version = read_version(connection)
            present = {
                row[0]
                for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            rows = {
                table: int(connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
                for table in TABLES
                if table in present
            }
        finally:
            connection.close()
    except sqlite3.Error as error:
        raise store_error(error, path, "read the store's schema and rows") from error
    return StoreInfo("sqlite", shown, version, len(MIGRATIONS), size, rows)
