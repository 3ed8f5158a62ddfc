"""The SQLite store's schema versions: migrations applied on open, newer stores refused."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from assetflow.errors import StoreError
from assetflow.store import EventKind, Lease, SqliteStore, open_store
from assetflow.store.sqlite.schema import MIGRATIONS, Migration, sql_migration
from tests.store.builders import at, event, materialization, run
from tests.store.sqlite.files import connect, query

# A migration as later work would append one: a column for partition ranges,
# filled in for the rows already there.
_ADD_PARTITION_END = sql_migration(
    len(MIGRATIONS) + 1,
    "materializations.partition_end_key for partition ranges",
    "ALTER TABLE materializations ADD COLUMN partition_end_key TEXT",
    "UPDATE materializations SET partition_end_key = partition_key",
)
_WITH_NEXT = (*MIGRATIONS, _ADD_PARTITION_END)


def _versions(path: Path) -> list[tuple[int, str]]:
    return query(path, "SELECT version, description FROM schema_version ORDER BY version")


def _columns(path: Path, table: str) -> list[str]:
    return [row[1] for row in query(path, f"PRAGMA table_info({table})")]


def test_a_new_store_is_at_the_latest_version(store_path: Path) -> None:
    with open_store("sqlite", store_path):
        pass
    assert _versions(store_path) == [(m.version, m.description) for m in MIGRATIONS]


def test_reopening_a_current_store_applies_nothing(store_path: Path) -> None:
    for _ in range(2):
        with open_store("sqlite", store_path):
            pass
    assert len(_versions(store_path)) == len(MIGRATIONS)


def test_an_older_store_is_upgraded_and_keeps_its_records(store_path: Path) -> None:
    with open_store("sqlite", store_path) as store:
        store.create_run(run("r-1"))
        store.record([materialization("a", "2026-03-01")])
    with SqliteStore(store_path, migrations=_WITH_NEXT) as store:
        assert store.get_run("r-1") == run("r-1")
        assert store.asset_history("a") == [materialization("a", "2026-03-01")]
        store.record([materialization("b")])
    assert _versions(store_path)[-1] == (_ADD_PARTITION_END.version, _ADD_PARTITION_END.description)
    assert "partition_end_key" in _columns(store_path, "materializations")
    ends = query(store_path, "SELECT asset, partition_end_key FROM materializations ORDER BY id")
    assert ends == [("a", "2026-03-01"), ("b", None)]


def test_a_store_from_a_newer_assetflow_is_refused(store_path: Path) -> None:
    with SqliteStore(store_path, migrations=_WITH_NEXT):
        pass
    newer, known = len(_WITH_NEXT), len(MIGRATIONS)
    with pytest.raises(
        StoreError,
        match=rf"has schema version {newer}, but this assetflow only knows versions up to "
        rf"{known}: the store was written by a newer assetflow",
    ) as caught:
        open_store("sqlite", store_path)
    assert "Upgrade assetflow" in caught.value.hint


def test_a_failing_migration_leaves_the_store_as_it_was(store_path: Path) -> None:
    with open_store("sqlite", store_path) as store:
        store.create_run(run("r-1"))
    broken = sql_migration(
        len(MIGRATIONS) + 1,
        "half of it works",
        "CREATE TABLE partition_ranges (asset TEXT)",
        "ALTER TABLE no_such_table ADD COLUMN x TEXT",
    )
    with pytest.raises(StoreError, match="cannot upgrade the metadata store schema"):
        SqliteStore(store_path, migrations=(*MIGRATIONS, broken))
    assert len(_versions(store_path)) == len(MIGRATIONS)
    tables = {row[0] for row in query(store_path, "SELECT name FROM sqlite_master")}
    assert "partition_ranges" not in tables
    with open_store("sqlite", store_path) as store:
        assert store.get_run("r-1") == run("r-1")


def test_a_migration_may_be_a_python_function(store_path: Path) -> None:
    def split_io(connection: sqlite3.Connection) -> None:
        connection.execute("ALTER TABLE materializations ADD COLUMN io_family TEXT")
        for row_id, io in connection.execute("SELECT id, io FROM materializations").fetchall():
            connection.execute(
                "UPDATE materializations SET io_family = ? WHERE id = ?", (io.split(":")[0], row_id)
            )

    with open_store("sqlite", store_path) as store:
        store.record([materialization("a", io="duckdb:main")])
    step = Migration(len(MIGRATIONS) + 1, "io family", split_io)
    with SqliteStore(store_path, migrations=(*MIGRATIONS, step)):
        pass
    assert query(store_path, "SELECT io_family FROM materializations") == [("duckdb",)]


def test_migrations_must_be_numbered_from_one(store_path: Path) -> None:
    gap = sql_migration(len(MIGRATIONS) + 2, "skips a number", "SELECT 1")
    numbers = [*range(1, len(MIGRATIONS) + 1), len(MIGRATIONS) + 2]
    expected = f"migrations are numbered {numbers}, not 1..{len(numbers)}"
    with pytest.raises(StoreError, match=re.escape(expected)):
        SqliteStore(store_path, migrations=(*MIGRATIONS, gap))


# A run row as versions 2 to 6 of the schema wrote it (runs had no host then).
_OLD_RUN = (
    "INSERT INTO runs (run_id, run_trigger, selection, status, started_at, pid) "
    "VALUES ('r-1', 'cli', '*', 'running', ?, 4242)"
)


# A materialization row as versions 1 to 8 of the schema wrote it (no file_mtime; the
# path absolute).
_OLD_MATERIALIZATION = (
    "INSERT INTO materializations (run_id, asset, partition_key, io, path, row_count, "
    "byte_count, columns_json, started_at, finished_at, duration_s, code_version, "
    "data_version, input_versions_json) VALUES ('run-1', ?, ?, ?, ?, NULL, NULL, '[]', ?, ?, "
    "1.0, NULL, NULL, '{}')"
)


def _old_materialization(
    path: Path,
    asset: str,
    partition: str | None = None,
    *,
    io: str = "parquet",
    at_path: str | None = None,
) -> None:
    started, finished = (at(-1).isoformat(timespec="microseconds"), at(0).isoformat())
    query(path, _OLD_MATERIALIZATION, (asset, partition, io, at_path, started, finished))
    query(
        path,
        "INSERT OR REPLACE INTO latest_state SELECT asset, COALESCE(partition_key, ''), id, "
        "finished_at FROM materializations ORDER BY id DESC LIMIT 1",
    )


def test_a_version_5_store_gains_leases_and_keeps_its_records(store_path: Path) -> None:
    SqliteStore(store_path, migrations=MIGRATIONS[:5]).close()
    _old_materialization(store_path, "a", "2026-03-01")
    query(store_path, _OLD_RUN, (at(0).isoformat(timespec="microseconds"),))
    assert "leases" not in {row[0] for row in query(store_path, "SELECT name FROM sqlite_master")}
    with open_store("sqlite", store_path) as store:
        assert store.get_run("r-1") == run("r-1", pid=4242)
        assert store.asset_history("a") == [materialization("a", "2026-03-01")]
        held = Lease("a", "2026-03-01", "r-1", 11, "here", at(0), at(60))
        assert store.acquire_lease(held, now=at(0)) is None
        assert store.leases() == [held]
    assert _versions(store_path)[5] == (6, "leases on asset-partitions being materialized")
    assert _columns(store_path, "leases") == [
        "asset",
        "partition_key",
        "run_id",
        "pid",
        "host",
        "acquired_at",
        "expires_at",
    ]


def test_a_version_6_store_gains_run_liveness_and_keeps_its_runs(store_path: Path) -> None:
    SqliteStore(store_path, migrations=MIGRATIONS[:6]).close()
    query(store_path, _OLD_RUN, (at(0).isoformat(timespec="microseconds"),))
    with open_store("sqlite", store_path) as store:
        old = store.get_run("r-1")
        assert old == run("r-1", pid=4242)
        assert old is not None
        assert (old.host, old.heartbeat_at, old.cancel_requested_at) == (None, None, None)
        assert store.heartbeat("r-1", at(5)) is False
        store.create_run(run("r-2", host="web-1", heartbeat_at=at(1)))
        assert store.get_run("r-2") == run("r-2", host="web-1", heartbeat_at=at(1))
    assert _versions(store_path)[6] == (7, "run host, heartbeat and cancel request")
    assert _columns(store_path, "runs")[-5:-2] == ["host", "heartbeat_at", "cancel_requested_at"]


def test_a_version_7_store_gains_run_keys_and_tags_and_keeps_its_runs(store_path: Path) -> None:
    SqliteStore(store_path, migrations=MIGRATIONS[:7]).close()
    query(store_path, _OLD_RUN, (at(0).isoformat(timespec="microseconds"),))
    with open_store("sqlite", store_path) as store:
        old = store.get_run("r-1")
        assert old == run("r-1", pid=4242)
        assert old is not None
        assert (old.run_key, old.tags) == (None, {})
        store.create_run(run("r-2", run_key="sensor:orders:42", tags={"team": "data"}))
        assert store.get_run("r-2") == run("r-2", run_key="sensor:orders:42", tags={"team": "data"})
    assert _versions(store_path)[7] == (8, "run key and tags of the run request")
    assert _columns(store_path, "runs")[-2:] == ["run_key", "tags_json"]


def test_a_version_8_store_records_its_output_paths_relative_to_the_state_dir(
    store_path: Path,
) -> None:
    SqliteStore(store_path, migrations=MIGRATIONS[:8]).close()
    state = "/home/ana/shop/.assetflow"
    old = [
        ("orders", None, "parquet", f"{state}/data/orders.parquet"),
        ("clean", "2026-03-01", "parquet", f"{state}/data/clean/partition=2026-03-01/part.parquet"),
        ("notes", "eu/west", "json", f"{state}/data/notes/partition=eu%2Fwest/part.json"),
        ("totals", "2026-03-01", "duckdb", f"{state}/warehouse.duckdb"),
        # A state directory of another name, inside a directory called "data".
        ("daily", None, "json", "/srv/data/proj/state/data/daily.json"),
        # Outside the layout: a kind that keeps its outputs elsewhere stays as it was.
        ("remote", None, "s3ish", "/mnt/bucket/remote.bin"),
        ("elsewhere", None, "parquet", "/mnt/other/not_it.parquet"),
        ("relative", None, "parquet", "data/relative.parquet"),
        ("side", None, "none", None),
    ]
    for asset, partition, io, path in old:
        _old_materialization(store_path, asset, partition, io=io, at_path=path)
    with open_store("sqlite", store_path) as store:
        paths = {
            state.asset: state.path
            for state in store.latest_states([asset for asset, *_ in old]).values()
        }
    assert paths == {
        "orders": "data/orders.parquet",
        "clean": "data/clean/partition=2026-03-01/part.parquet",
        "notes": "data/notes/partition=eu%2Fwest/part.json",
        "totals": "warehouse.duckdb",
        "daily": "data/daily.json",
        "remote": "/mnt/bucket/remote.bin",
        "elsewhere": "/mnt/other/not_it.parquet",
        "relative": "data/relative.parquet",
        "side": None,
    }
    assert _versions(store_path)[8:11] == [
        (9, "modification time of each output file"),
        (10, "output paths relative to the state directory"),
        (11, "attempts by asset-partition"),
    ]
    assert "file_mtime" in _columns(store_path, "materializations")


def test_an_upgrade_waits_for_a_store_in_use_then_names_the_running_run(
    store_path: Path,
) -> None:
    SqliteStore(store_path, migrations=MIGRATIONS[:8]).close()
    query(
        store_path,
        "INSERT INTO runs (run_id, run_trigger, selection, status, started_at, pid, host) "
        "VALUES ('1c2d3e4f5a6b', 'cli', '*', 'running', '2026-03-04T03:00:00+00:00', 4242, "
        "'web-1')",
    )
    holder = connect(store_path)
    holder.execute("BEGIN IMMEDIATE")  # another process, writing throughout
    try:
        with pytest.raises(StoreError) as caught:
            SqliteStore(store_path, busy_timeout_s=0.05, retry_delays_s=(0.01, 0.01))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert caught.value.message == (
        f"cannot upgrade the metadata store {store_path} from schema version 8 to "
        f"{len(MIGRATIONS)}: another process held it for writing throughout the 0.1 s this "
        "waited; it is in use by assetflow: run 1c2d3e4f (pid 4242 on web-1, started "
        "2026-03-04T03:00:00+00:00)."
    )
    assert caught.value.hint.startswith("Wait for that run to finish (`assetflow runs` shows")
    assert len(_versions(store_path)) == 8  # nothing changed
    with SqliteStore(store_path):  # once it is free, the upgrade runs
        pass
    assert len(_versions(store_path)) == len(MIGRATIONS)


def test_an_upgrade_blocked_by_no_recorded_run_says_how_to_find_the_process(
    store_path: Path,
) -> None:
    SqliteStore(store_path, migrations=MIGRATIONS[:8]).close()
    holder = connect(store_path)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError) as caught:
            SqliteStore(store_path, busy_timeout_s=0.05, retry_delays_s=(0.01,))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "no run is recorded as running, so it is another process" in caught.value.message
    assert f"`fuser {store_path}`" in caught.value.hint


def test_version_11_looks_attempts_up_by_asset_and_partition(store_path: Path) -> None:
    SqliteStore(store_path).close()
    connection = sqlite3.connect(store_path)
    try:
        plan = connection.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM events WHERE asset = 'a' AND partition_key = 'p' "
            "ORDER BY occurred_at DESC, id DESC LIMIT 1"
        ).fetchall()
    finally:
        connection.close()
    assert any("events_by_asset" in row[-1] for row in plan), plan


def test_a_version_14_store_gains_attempt_starts_and_workers(store_path: Path) -> None:
    SqliteStore(store_path, migrations=MIGRATIONS[:14]).close()
    query(
        store_path,
        "INSERT INTO events (run_id, kind, occurred_at, asset, partition_key, message, attempt, "
        "duration_s) VALUES ('r-1', 'failed', ?, 'a', NULL, 'boom', 1, 2.5)",
        (at(9).isoformat(timespec="microseconds"),),
    )
    with open_store("sqlite", store_path) as store:
        (old,) = store.run_events("r-1")
        assert (old.message, old.duration_s) == ("boom", 2.5)
        assert (old.started_at, old.host, old.pid) == (None, None, None)
        new = event(EventKind.MATERIALIZED, "a", time=20, started_at=at(12), host="w", pid=7)
        store.record(events=[new])
        assert store.run_events("run-1") == [new]
    assert _versions(store_path)[14] == (15, "when each attempt started, and the worker it ran on")
    assert _columns(store_path, "events")[-3:] == ["started_at", "host", "pid"]
