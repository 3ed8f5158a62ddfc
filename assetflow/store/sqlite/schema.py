"""The SQLite store's schema: numbered migrations, applied in order in one transaction on open.

To change the schema, append ``Migration(N + 1, ...)`` to ``MIGRATIONS`` (e.g.
``ALTER TABLE materializations ADD COLUMN ...``); never edit a migration that
has shipped, since store files in the wild already went through it. A file's
version is the highest row of its ``schema_version`` table; a file with a
version higher than ``MIGRATIONS`` knows was written by a newer assetflow and
is refused rather than misread.

The SQL keeps to what SQLite and PostgreSQL share where that costs nothing:
column names avoid keywords (``partition_key``, ``row_count``, ...), times are
ISO-8601 UTC text, JSON is text.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePath

from assetflow.errors import StoreError
from assetflow.store.lineage import SQLITE_DDL as LINEAGE_DDL


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered step of the schema, from version ``version - 1`` to ``version``."""

    version: int
    description: str
    apply: Callable[[sqlite3.Connection], None]


def sql_migration(version: int, description: str, *statements: str) -> Migration:
    """A migration that runs SQL statements in order (inside the caller's transaction)."""

    def apply(connection: sqlite3.Connection) -> None:
        # One statement at a time: executescript() would commit the open transaction.
        for statement in statements:
            connection.execute(statement)

    return Migration(version, description, apply)


_VERSION_1 = (
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL UNIQUE,
        run_trigger TEXT NOT NULL,
        selection TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        pid INTEGER
    )""",
    "CREATE INDEX runs_by_start ON runs (started_at DESC, id DESC)",
    "CREATE INDEX runs_by_status ON runs (status, started_at DESC, id DESC)",
    """CREATE TABLE materializations (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        asset TEXT NOT NULL,
        partition_key TEXT,
        io TEXT NOT NULL,
        path TEXT,
        row_count INTEGER,
        byte_count INTEGER,
        columns_json TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        duration_s REAL NOT NULL,
        code_version TEXT,
        data_version TEXT,
        input_versions_json TEXT NOT NULL
    )""",
    # Serves latest_materializations (newest per asset-partition: one scan of this
    # covering index, already in the window's order, so no sort) and asset_history
    # for one partition.
    """CREATE INDEX materializations_latest
        ON materializations (asset, partition_key, finished_at DESC, id DESC)""",
    # Serves asset_history across all partitions of an asset.
    """CREATE INDEX materializations_by_asset
        ON materializations (asset, finished_at DESC, id DESC)""",
    """CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        occurred_at TEXT NOT NULL,
        asset TEXT,
        partition_key TEXT,
        message TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        duration_s REAL
    )""",
    "CREATE INDEX events_by_run ON events (run_id, occurred_at, id)",
    # Partial: only failures are ever looked up by asset.
    """CREATE INDEX events_failures
        ON events (asset, partition_key, occurred_at DESC, id DESC) WHERE kind = 'failed'""",
    """CREATE TABLE code_sources (
        source_digest TEXT PRIMARY KEY,
        source TEXT NOT NULL
    )""",
    """CREATE TABLE code_versions (
        code_version TEXT PRIMARY KEY,
        source_digest TEXT NOT NULL REFERENCES code_sources (source_digest)
    )""",
)

# Version 2: partitions. The planner reads the newest materialization of every
# asset-partition; with a year of daily partitions over a thousand assets, ranking
# the whole history each time is too slow. latest_state keeps one small row per
# asset-partition (unpartitioned: partition_key ''), pointing at its newest
# materialization, upserted in the same transaction as each write. Runs record
# the partitions they were asked for.
_VERSION_2 = (
    """CREATE TABLE latest_state (
        asset TEXT NOT NULL,
        partition_key TEXT NOT NULL,
        materialization_id INTEGER NOT NULL,
        finished_at TEXT NOT NULL,
        PRIMARY KEY (asset, partition_key)
    ) WITHOUT ROWID""",
    """INSERT INTO latest_state (asset, partition_key, materialization_id, finished_at)
        SELECT asset, COALESCE(partition_key, ''), id, finished_at FROM (
            SELECT id, asset, partition_key, finished_at, ROW_NUMBER() OVER (
                PARTITION BY asset, partition_key ORDER BY finished_at DESC, id DESC
            ) AS recency FROM materializations
        ) AS ranked WHERE recency = 1""",
    "ALTER TABLE runs ADD COLUMN partitions TEXT",
)

# Version 3: asset checks. One row per check result; the newest results of each
# asset-partition are what `status` and the planner read.
_VERSION_3 = (
    """CREATE TABLE check_results (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        asset TEXT NOT NULL,
        partition_key TEXT,
        check_name TEXT NOT NULL,
        passed INTEGER NOT NULL,
        severity TEXT NOT NULL,
        blocking INTEGER NOT NULL,
        message TEXT NOT NULL,
        metadata_json TEXT NOT NULL,
        occurred_at TEXT NOT NULL
    )""",
    """CREATE INDEX check_results_latest
        ON check_results (asset, partition_key, check_name, occurred_at DESC, id DESC)""",
)

# Version 4: `runs show` reads the check results of one run.
_VERSION_4 = ("CREATE INDEX check_results_by_run ON check_results (run_id, occurred_at, id)",)

# Version 5: what each step attempt wrote (stdout, stderr, asset logs), for `assetflow logs`.
_VERSION_5 = (
    """CREATE TABLE step_logs (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        asset TEXT NOT NULL,
        partition_key TEXT,
        attempt INTEGER NOT NULL,
        text TEXT NOT NULL,
        occurred_at TEXT NOT NULL
    )""",
    "CREATE INDEX step_logs_by_run ON step_logs (run_id, id)",
)

# Version 6: leases. One row per asset-partition being materialized, naming the
# run that holds it, so that two runs never materialize the same one at once.
# Like latest_state, an unpartitioned asset's row has partition_key '' (a NULL
# in a primary key would not collide with another NULL); leases refuse an empty
# partition key, so '' only ever means None here.
_VERSION_6 = (
    """CREATE TABLE leases (
        asset TEXT NOT NULL,
        partition_key TEXT NOT NULL,
        run_id TEXT NOT NULL,
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        acquired_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        PRIMARY KEY (asset, partition_key)
    ) WITHOUT ROWID""",
    # Releasing, renewing and finishing a run find its leases by run.
    "CREATE INDEX leases_by_run ON leases (run_id)",
)

# Version 7: liveness on a shared store. A run records the machine its process
# runs on and the time it last said it is alive, so that a process on another
# machine judges it by that heartbeat, not by a pid that means nothing there;
# and when a cancel was asked for, so that any process may ask and the run's
# own process, polling with its heartbeat, stops.
_VERSION_7 = (
    "ALTER TABLE runs ADD COLUMN host TEXT",
    "ALTER TABLE runs ADD COLUMN heartbeat_at TEXT",
    "ALTER TABLE runs ADD COLUMN cancel_requested_at TEXT",
)

# Version 8: what a run was asked for, beyond its selection: the run request's key
# (a repeated request with the same key is a no-op for the scheduler) and its tags.
_VERSION_8 = (
    "ALTER TABLE runs ADD COLUMN run_key TEXT",
    "ALTER TABLE runs ADD COLUMN tags_json TEXT",
    "CREATE INDEX runs_by_key ON runs (run_key) WHERE run_key IS NOT NULL",
)

# Version 9: outputs verified before they are called fresh. A file's modification
# time just after it was written, beside the bytes and rows already recorded, so
# that `plan` and `status` tell a changed file from the one recorded; and a cheap
# digest of its bytes, so that a copy (same bytes, a new time) is not called changed.
_VERSION_9 = (
    "ALTER TABLE materializations ADD COLUMN file_mtime REAL",
    "ALTER TABLE materializations ADD COLUMN file_digest TEXT",
)


# `status` (each asset-partition's last attempt), `history --all` and `runs --asset`
# look events up by asset and partition, newest first; the index of version 1 only
# covered failures.
_VERSION_11 = (
    """CREATE INDEX events_by_asset
        ON events (asset, partition_key, occurred_at DESC, id DESC)""",
)


# Version 12: the keys of dynamic partitions definitions, by the definition's name.
# A key is added by a sensor, the CLI or the API, and removed by setting
# removed_at (its outputs' records stay, as history); re-adding it clears
# removed_at. Keys are listed in the order they were first added (rowid).
_VERSION_12 = (
    """CREATE TABLE dynamic_partitions (
        name TEXT NOT NULL,
        key TEXT NOT NULL,
        added_at TEXT NOT NULL,
        removed_at TEXT,
        UNIQUE (name, key)
    )""",
)


# Version 13: the scheduler's records. A tick is one due instant of a schedule or
# sensor, unique by (origin, scheduled_at), recorded before its run starts; a run key
# is held by at most one claimed or started tick (the partial unique index), and the
# claimed ticks are found on start-up by their own small index. One row per origin
# keeps what outlives a scheduler (first seen, paused, timing fingerprint), one per
# sensor its cursor, and a single row the scheduler's leader lease.
_VERSION_13 = (
    """CREATE TABLE ticks (
        id INTEGER PRIMARY KEY,
        origin TEXT NOT NULL,
        scheduled_at TEXT NOT NULL,
        evaluated_at TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        run_id TEXT,
        run_key TEXT,
        partition_keys_json TEXT,
        selection TEXT,
        request_json TEXT
    )""",
    # Serves claiming (the uniqueness), get_tick, one origin's history and
    # latest_ticks (one seek per origin, to its newest).
    "CREATE UNIQUE INDEX ticks_by_origin ON ticks (origin, scheduled_at)",
    "CREATE INDEX ticks_by_time ON ticks (scheduled_at DESC, id DESC)",
    """CREATE UNIQUE INDEX ticks_holding_key ON ticks (run_key)
        WHERE run_key IS NOT NULL AND status IN ('claimed', 'started')""",
    "CREATE INDEX ticks_claimed ON ticks (scheduled_at, id) WHERE status = 'claimed'",
    """CREATE TABLE origin_states (
        origin TEXT PRIMARY KEY,
        first_seen_at TEXT NOT NULL,
        paused INTEGER NOT NULL DEFAULT 0,
        changed_at TEXT,
        fingerprint TEXT
    ) WITHOUT ROWID""",
    """CREATE TABLE sensor_cursors (
        origin TEXT PRIMARY KEY,
        cursor TEXT
    ) WITHOUT ROWID""",
    """CREATE TABLE scheduler_lease (
        name TEXT PRIMARY KEY CHECK (name = 'scheduler'),
        holder TEXT NOT NULL,
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        acquired_at TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    ) WITHOUT ROWID""",
)


# Version 14: alerting's records. An incident is open until resolved_at is set, and
# at most one of a kind about a subject is open (the partial unique index), so that
# processes racing to open one open one. Its members are keyed by (asset, partition,
# role). An alert is unique by (destination, incident, event), so that it is queued
# once however often it is asked for; the outbox is searched for due alerts by its
# own small index, and each delivery attempt is one row.
_VERSION_14 = (
    """CREATE TABLE incidents (
        incident_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        opened_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL,
        resolved_at TEXT,
        summary TEXT NOT NULL,
        run_id TEXT,
        occurrences INTEGER NOT NULL
    )""",
    """CREATE UNIQUE INDEX incidents_open ON incidents (kind, subject)
        WHERE resolved_at IS NULL""",
    "CREATE INDEX incidents_by_opening ON incidents (opened_at DESC)",
    # Serve open_incidents and resolving by subject: they read only the few open ones.
    "CREATE INDEX incidents_unresolved ON incidents (opened_at) WHERE resolved_at IS NULL",
    """CREATE INDEX incidents_unresolved_by_subject ON incidents (subject, opened_at)
        WHERE resolved_at IS NULL""",
    """CREATE TABLE incident_members (
        incident_id TEXT NOT NULL,
        asset TEXT NOT NULL,
        partition_key TEXT NOT NULL,
        role TEXT NOT NULL,
        opened_at TEXT NOT NULL,
        resolved_at TEXT,
        failures INTEGER NOT NULL,
        last_run_id TEXT,
        PRIMARY KEY (incident_id, role, asset, partition_key)
    ) WITHOUT ROWID""",
    """CREATE TABLE alerts (
        alert_id INTEGER PRIMARY KEY,
        destination TEXT NOT NULL,
        incident_id TEXT NOT NULL,
        event TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        next_attempt_at TEXT,
        hold_run_id TEXT,
        last_error TEXT,
        sent_at TEXT,
        claimed_by TEXT,
        claimed_until TEXT,
        UNIQUE (destination, incident_id, event)
    )""",
    """CREATE INDEX alerts_due ON alerts (created_at, alert_id)
        WHERE status IN ('pending', 'sending')""",
    "CREATE INDEX alerts_by_incident ON alerts (incident_id)",
    "CREATE INDEX alerts_by_time ON alerts (created_at DESC, alert_id DESC)",
    """CREATE TABLE alert_attempts (
        id INTEGER PRIMARY KEY,
        alert_id INTEGER NOT NULL,
        attempted_at TEXT NOT NULL,
        outcome TEXT NOT NULL,
        detail TEXT NOT NULL,
        duration_s REAL
    )""",
    "CREATE INDEX alert_attempts_by_alert ON alert_attempts (alert_id, id)",
)

# Each attempt's start and the process (host, pid) it ran in: the run timeline draws
# retried attempts as spans and names each step's worker.
_VERSION_15 = (
    "ALTER TABLE events ADD COLUMN started_at TEXT",
    "ALTER TABLE events ADD COLUMN host TEXT",
    "ALTER TABLE events ADD COLUMN pid INTEGER",
)


def _relative_output_path(path: str, asset: str, partition: str | None, io: str) -> str | None:
    """The part of an absolute output path that lies in the state directory, or None.

    The layout is written out here rather than imported from assetflow.io: a
    migration must keep doing what it did when it shipped, whatever the layout
    becomes later. When this shipped, an output lived at (under the state dir)
    ``data/<asset>.<suffix>``, ``data/<asset>/partition=<key>/part.<suffix>``, or,
    for DuckDB, ``warehouse.duckdb``. The tail is matched component by component
    on the recorded path, so the state directory's name and where the project
    was do not matter. A path that fits none of them (a kind that keeps its
    outputs elsewhere) is left as it is.
    """
    parts = PurePath(path).parts
    if not PurePath(path).is_absolute():
        return None
    if io == "duckdb":
        return parts[-1] if parts[-1] == "warehouse.duckdb" else None
    if partition is None:
        tail = parts[-2:]
        fits = len(tail) == 2 and tail[0] == "data" and PurePath(tail[1]).stem == asset
    else:
        tail = parts[-4:]
        fits = (
            len(tail) == 4
            and tail[0] == "data"
            and tail[1] == asset
            and tail[2].startswith("partition=")
            and PurePath(tail[3]).stem == "part"
        )
    return "/".join(tail) if fits else None


def _relative_paths(connection: sqlite3.Connection) -> None:
    """Version 10: record outputs relative to the state directory, not absolutely, so a
    moved or copied project reads and writes its own files. Rows are rewritten by id
    (the primary key), in one pass; what cannot be placed in the layout stays absolute
    (and is still read as recorded)."""
    rows = connection.execute(
        "SELECT id, path, asset, partition_key, io FROM materializations "
        "WHERE path LIKE '/%' OR path LIKE '_:%'"
    )
    updates = [
        (relative, row_id)
        for row_id, path, asset, partition, io in rows.fetchall()
        if (relative := _relative_output_path(path, asset, partition, io)) is not None
    ]
    connection.executemany("UPDATE materializations SET path = ? WHERE id = ?", updates)


#: Every schema step, in order; a store file is at the version of the last one applied.
MIGRATIONS: tuple[Migration, ...] = (
    sql_migration(1, "runs, events, materializations and code", *_VERSION_1),
    sql_migration(2, "latest state per asset-partition; run partitions", *_VERSION_2),
    sql_migration(3, "asset check results", *_VERSION_3),
    sql_migration(4, "check results by run", *_VERSION_4),
    sql_migration(5, "step logs", *_VERSION_5),
    sql_migration(6, "leases on asset-partitions being materialized", *_VERSION_6),
    sql_migration(7, "run host, heartbeat and cancel request", *_VERSION_7),
    sql_migration(8, "run key and tags of the run request", *_VERSION_8),
    sql_migration(9, "modification time of each output file", *_VERSION_9),
    Migration(10, "output paths relative to the state directory", _relative_paths),
    sql_migration(11, "attempts by asset-partition", *_VERSION_11),
    sql_migration(12, "keys of dynamic partitions", *_VERSION_12),
    sql_migration(
        13, "scheduler ticks, origin states, sensor cursors and leader lease", *_VERSION_13
    ),
    sql_migration(14, "incidents, the alert outbox and delivery attempts", *_VERSION_14),
    sql_migration(15, "when each attempt started, and the worker it ran on", *_VERSION_15),
    sql_migration(16, "the lineage outbox (OpenLineage events to send)", *LINEAGE_DDL),
)

#: Moves latest_state forward to the materializations written after row id ``?``;
#: the newest by finish time wins, and a tie goes to the later write.
UPDATE_LATEST_STATE = """
INSERT INTO latest_state (asset, partition_key, materialization_id, finished_at)
    SELECT asset, COALESCE(partition_key, ''), id, finished_at
    FROM materializations WHERE id > ? ORDER BY id
ON CONFLICT (asset, partition_key) DO UPDATE SET
    materialization_id = excluded.materialization_id,
    finished_at = excluded.finished_at
WHERE excluded.finished_at >= latest_state.finished_at"""

_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at TEXT NOT NULL
)"""


def latest_version(migrations: Sequence[Migration]) -> int:
    """The version a store reaches after ``migrations``; checks they are numbered 1..N.

    Raises:
        StoreError: The list is not numbered 1, 2, ... N (a bug in assetflow).
    """
    numbers = [migration.version for migration in migrations]
    if numbers != list(range(1, len(numbers) + 1)):
        raise StoreError(
            f"assetflow's store migrations are numbered {numbers}, not 1..{len(numbers)}.",
            hint="This is a bug in assetflow; please report it.",
        )
    return len(numbers)


def read_version(connection: sqlite3.Connection) -> int:
    """The schema version of an open store file (0 for a file with no assetflow schema)."""
    row = connection.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if not row[0]:
        return 0
    version = connection.execute("SELECT max(version) FROM schema_version").fetchone()[0]
    return int(version or 0)


def newer_store_error(path: Path, found: int, known: int) -> StoreError:
    """The error for a store file written by a newer assetflow."""
    return StoreError(
        f"the metadata store {path} has schema version {found}, but this assetflow only "
        f"knows versions up to {known}: the store was written by a newer assetflow.",
        hint=(
            "Upgrade assetflow (`pip install -U assetflow`) in this environment to use "
            "this store. Older assetflow versions refuse newer stores rather than "
            "misread them."
        ),
    )


def _refuse_foreign_database(connection: sqlite3.Connection, path: Path) -> None:
    tables = [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' AND name != 'schema_version' ORDER BY name"
        )
    ]
    if tables:
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        raise StoreError(
            f"{path} is a SQLite database but not an assetflow metadata store "
            f"(it has the tables {shown} and no schema_version table).",
            hint="Point assetflow at another file: it does not write into a database "
            "it did not create.",
        )


def upgrade(connection: sqlite3.Connection, path: Path, migrations: Sequence[Migration]) -> int:
    """Apply the migrations a store file lacks, inside the caller's write transaction.

    Reads the version again under the write lock, since another process may have
    upgraded the file since this one looked.

    Args:
        connection: A connection inside ``BEGIN IMMEDIATE``.
        path: The store file, for messages.
        migrations: The full, ordered migration list.

    Returns:
        The version the file had before.

    Raises:
        StoreError: The file is newer than ``migrations`` or is someone else's database.
    """
    known = latest_version(migrations)
    found = read_version(connection)
    if found > known:
        raise newer_store_error(path, found, known)
    if found == 0:
        _refuse_foreign_database(connection, path)
        connection.execute(_VERSION_TABLE)
    applied_at = datetime.now(UTC).isoformat(timespec="microseconds")
    for migration in migrations[found:]:
        migration.apply(connection)
        connection.execute(
            "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
            (migration.version, migration.description, applied_at),
        )
    return found
