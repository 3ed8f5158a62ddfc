"""What only the SQLite store does: a real file, WAL, locks, and clear errors for bad files."""

from __future__ import annotations

import multiprocessing
import os
import re
import threading
import time
from pathlib import Path

import pytest

from assetflow.errors import StoreError
from assetflow.store import EventKind, RunStatus, SqliteStore, open_store
from tests.store.builders import at, event, materialization, run
from tests.store.sqlite.files import connect, query
from tests.unprivileged import reachable_directory, unprivileged

CORRUPT = r"the metadata store .*metadata\.sqlite is corrupt or is not a SQLite database"


def test_the_store_creates_its_directory_and_uses_wal(store_path: Path) -> None:
    with open_store("sqlite", store_path):
        pass
    assert store_path.is_file()
    assert query(store_path, "PRAGMA journal_mode") == [("wal",)]


def test_records_persist_across_reopening(store_path: Path) -> None:
    with open_store("sqlite", store_path) as store:
        store.create_run(run("r-1"))
        store.record([materialization("a", run_id="r-1")], [event(EventKind.FAILED, "a")])
        store.finish_run("r-1", RunStatus.SUCCESS, at(9))
        store.save_code("v1", "source")
    with open_store("sqlite", str(store_path)) as store:
        assert store.get_run("r-1") == run("r-1", status=RunStatus.SUCCESS, finished_at=at(9))
        assert store.asset_history("a") == [materialization("a", run_id="r-1")]
        assert set(store.latest_failures()) == {("a", None)}
        assert store.get_code("v1") == "source"


def test_each_distinct_source_is_stored_once(store_path: Path) -> None:
    with open_store("sqlite", store_path) as store:
        for version in ["v1", "v2", "v3"]:
            store.save_code(version, "def shared(): ...")
        store.save_code("v4", "def other(): ...")
    assert query(store_path, "SELECT count(*) FROM code_sources") == [(2,)]
    assert query(store_path, "SELECT count(*) FROM code_versions") == [(4,)]


def test_random_bytes_are_a_corrupt_store(store_path: Path) -> None:
    store_path.parent.mkdir()
    store_path.write_bytes(os.urandom(8192))
    with pytest.raises(StoreError, match=CORRUPT) as caught:
        open_store("sqlite", store_path)
    assert f"\n    mv {store_path} {store_path}.corrupt\n" in caught.value.hint
    assert "-wal" not in caught.value.hint
    assert "creates a new, empty store on the next run" in caught.value.hint


def test_the_advice_for_a_corrupt_store_moves_its_wal_too(store_path: Path) -> None:
    store_path.parent.mkdir()
    store_path.write_bytes(os.urandom(8192))
    Path(f"{store_path}-wal").write_bytes(b"")
    with pytest.raises(StoreError, match=CORRUPT) as caught:
        open_store("sqlite", store_path)
    assert f"mv {store_path}-wal {store_path}.corrupt-wal" in caught.value.hint


def test_a_text_file_is_a_corrupt_store(store_path: Path) -> None:
    store_path.parent.mkdir()
    store_path.write_text("not a database, just notes\n" * 10)
    with pytest.raises(StoreError, match=CORRUPT):
        open_store("sqlite", store_path)


def test_a_truncated_store_is_corrupt(store_path: Path) -> None:
    with open_store("sqlite", store_path) as store:
        store.record([materialization(f"asset_{n}") for n in range(200)])
    size = store_path.stat().st_size
    with store_path.open("r+b") as file:
        file.truncate(size // 2)
    with pytest.raises(StoreError, match=CORRUPT):
        open_store("sqlite", store_path).latest_materializations()


def test_a_row_that_is_not_a_valid_record_is_reported_as_corruption(store_path: Path) -> None:
    with open_store("sqlite", store_path) as store:
        store.create_run(run("r-1"))
    query(store_path, "UPDATE runs SET status = 'exploded'")
    with (
        open_store("sqlite", store_path) as store,
        pytest.raises(StoreError, match=CORRUPT + r" \(a row cannot be read back as a record"),
    ):
        store.list_runs()


def test_a_directory_at_the_path_is_an_error(store_path: Path) -> None:
    store_path.mkdir(parents=True)
    with pytest.raises(StoreError, match=r"metadata\.sqlite is a directory, not a SQLite file"):
        open_store("sqlite", store_path)


def test_a_file_in_the_way_of_the_directory_is_an_error(tmp_path: Path) -> None:
    (tmp_path / ".assetflow").write_text("")
    with pytest.raises(StoreError, match=r"cannot create the directory .*\.assetflow for the"):
        open_store("sqlite", tmp_path / ".assetflow" / "metadata.sqlite")


def test_a_read_only_directory_is_an_error(tmp_path: Path) -> None:
    # As root (CI), the store is opened by an unprivileged user: root ignores chmod.
    open_store("sqlite", tmp_path / "warm" / "metadata.sqlite").close()  # its imports
    with reachable_directory() as reachable:
        directory = reachable / "locked"
        directory.mkdir()
        directory.chmod(0o555)

        def open_it() -> tuple[str, str] | None:
            try:
                open_store("sqlite", directory / "metadata.sqlite").close()
            except StoreError as error:
                return str(error), error.hint or ""
            return None

        refused = unprivileged(open_it)
        assert refused is not None, "the store opened in a directory it cannot write"
        message, hint = refused
        assert re.search(r"cannot open the metadata store .* for writing", message), message
        assert "chmod u+w" in hint
        assert list(directory.iterdir()) == []


def test_an_unwritable_location_is_an_error_even_for_root() -> None:
    # /proc refuses new files whatever the user, like a read-only directory.
    with pytest.raises(StoreError, match=r"cannot open the metadata store /proc/metadata\.sqlite"):
        open_store("sqlite", "/proc/metadata.sqlite")


def test_someone_elses_database_is_left_alone(store_path: Path) -> None:
    store_path.parent.mkdir()
    query(store_path, "CREATE TABLE customers (id INTEGER)")
    with pytest.raises(StoreError, match="is a SQLite database but not an assetflow metadata"):
        open_store("sqlite", store_path)
    tables = query(store_path, "SELECT name FROM sqlite_master WHERE type = 'table'")
    assert tables == [("customers",)]


def test_a_lock_held_too_long_is_an_error_naming_the_file(store_path: Path) -> None:
    # A hundred retries would take 6 s; the budget (busy timeout plus pauses) is 1.05 s.
    with SqliteStore(store_path, busy_timeout_s=0.05, retry_delays_s=(0.01,) * 100) as store:
        holder = connect(store_path)
        holder.execute("BEGIN IMMEDIATE")
        try:
            started = time.monotonic()
            with pytest.raises(StoreError, match=r"cannot create a run: .* stayed locked"):
                store.create_run(run("r-1"))
            assert time.monotonic() - started < 3
            # In WAL mode a writer does not block readers.
            assert store.list_runs() == []
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        store.create_run(run("r-1"))


def test_a_write_retries_until_the_lock_is_released(store_path: Path) -> None:
    # SQLite gives up after 20 ms; the application-level retries outlast the holder.
    with SqliteStore(store_path, busy_timeout_s=0.02, retry_delays_s=(0.05,) * 40) as store:
        holder = connect(store_path)
        holder.execute("BEGIN IMMEDIATE")
        release = threading.Timer(0.2, holder.execute, args=("ROLLBACK",))
        release.start()
        try:
            started = time.monotonic()
            store.create_run(run("r-1"))
            assert time.monotonic() - started >= 0.15
        finally:
            release.join()
            holder.close()
        assert store.get_run("r-1") == run("r-1")


def _use_inherited_store(store: SqliteStore, results: multiprocessing.Queue[str]) -> None:
    try:
        store.list_runs()
        results.put("no error")
    except StoreError as error:
        results.put(error.message)


def test_a_store_inherited_through_fork_refuses_use(store_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    results: multiprocessing.Queue[str] = context.Queue()
    with SqliteStore(store_path) as store:
        child = context.Process(target=_use_inherited_store, args=(store, results))
        child.start()
        message = results.get(timeout=60)
        child.join(timeout=60)
        assert store.list_runs() == []
    assert "cannot be used from process" in message


def test_threads_share_one_store(store_path: Path) -> None:
    writes_per_thread, thread_count = 100, 4
    with open_store("sqlite", store_path) as store:

        def write(thread: int) -> None:
            for number in range(writes_per_thread):
                store.record(
                    [materialization(f"t{thread}", str(number))],
                    [event(EventKind.MATERIALIZED, f"t{thread}", str(number))],
                )

        threads = [threading.Thread(target=write, args=(n,)) for n in range(thread_count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(store.latest_materializations()) == writes_per_thread * thread_count
        assert len(store.run_events("run-1")) == writes_per_thread * thread_count


def test_an_empty_store_file_is_refused_and_left_as_it_is(store_path: Path) -> None:
    store_path.parent.mkdir(parents=True)
    store_path.write_bytes(b"")
    with pytest.raises(StoreError) as caught:
        SqliteStore(store_path)
    assert caught.value.message == (
        f"the metadata store {store_path} is empty (0 bytes). assetflow does not take an "
        "empty file for a new store: a failed copy, a full disk or a truncation leaves a "
        "store empty, and its run history would silently start over, calling every output "
        "never materialized."
    )
    assert f"mv {store_path} {store_path}.empty" in caught.value.hint
    assert store_path.stat().st_size == 0


def test_a_store_file_another_process_is_creating_is_waited_for(store_path: Path) -> None:
    with open_store("sqlite", store_path) as store:
        store.create_run(run("r-1"))
    content = store_path.read_bytes()
    for suffix in ("-wal", "-shm"):
        Path(f"{store_path}{suffix}").unlink(missing_ok=True)
    store_path.write_bytes(b"")  # as a creating process leaves it for a moment
    writer = threading.Timer(0.2, store_path.write_bytes, (content,))
    writer.start()
    try:
        with SqliteStore(store_path) as store:
            assert store.get_run("r-1") == run("r-1")
    finally:
        writer.join()


def test_a_truncated_store_file_is_refused(store_path: Path) -> None:
    with open_store("sqlite", store_path) as store:
        store.create_run(run("r-1"))
        store.record([materialization(f"a{i}") for i in range(200)])
    for suffix in ("-wal", "-shm"):
        Path(f"{store_path}{suffix}").unlink(missing_ok=True)
    size = store_path.stat().st_size
    with open(store_path, "r+b") as handle:
        handle.truncate(size - 4096)
    with pytest.raises(StoreError, match="the file is truncated: its header counts") as caught:
        SqliteStore(store_path)
    assert f"mv {store_path} {store_path}.corrupt" in caught.value.hint
