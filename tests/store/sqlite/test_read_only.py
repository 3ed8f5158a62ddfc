"""The SQLite store opened read-only: it reads, never writes, creates or migrates."""

from __future__ import annotations

from pathlib import Path

import pytest

from assetflow.errors import StoreError
from assetflow.store import EventKind, RunStatus, SqliteStore
from assetflow.store.records import RunQuery
from assetflow.store.sqlite.schema import MIGRATIONS, sql_migration
from tests.store.builders import at, event, run


@pytest.fixture
def written(store_path: Path) -> Path:
    """A store file with one finished run and its events, closed."""
    with SqliteStore(store_path) as store:
        store.create_run(run("r-1"))
        store.record(events=[event(EventKind.FAILED, "a", "p1", run_id="r-1", message="boom")])
        store.finish_run("r-1", RunStatus.FAILED, at(5))
    return store_path


def test_a_read_only_store_reads_what_was_recorded(written: Path) -> None:
    # (That nothing is left in a directory the user cannot write is end to end:
    # tests/e2e/test_answers_cli.py; here the directory is writable.)
    with SqliteStore(written, read_only=True) as store:
        assert store.read_only
        assert [found.run_id for found in store.find_runs(RunQuery(asset="a"))] == ["r-1"]
        assert store.latest_attempts([("a", "p1")])[("a", "p1")].message == "boom"


def test_every_write_to_a_read_only_store_is_refused_with_a_clear_error(written: Path) -> None:
    with SqliteStore(written, read_only=True) as store:
        with pytest.raises(StoreError) as caught:
            store.create_run(run("r-2"))
        assert caught.value.message == (
            f"cannot create a run: the metadata store {written} is open read-only, as "
            "its directory or file is not writable by this user; nothing can be written."
        )
        assert "Reading commands (status, runs, history) work here" in caught.value.hint
        with pytest.raises(StoreError, match="is open read-only"):
            store.finish_run_if_running("r-1", RunStatus.CRASHED, at(9))
        with pytest.raises(StoreError, match="is open read-only"), store.unit_of_work():
            pass
    with SqliteStore(written) as store:
        assert store.get_run("r-2") is None


def test_a_read_only_store_that_needs_an_upgrade_says_so_and_is_left_alone(
    written: Path,
) -> None:
    newer = (*MIGRATIONS, sql_migration(len(MIGRATIONS) + 1, "a test column", "SELECT 1"))
    with pytest.raises(StoreError) as caught:
        SqliteStore(written, migrations=newer, read_only=True)
    assert caught.value.message == (
        f"the metadata store {written} has schema version {len(MIGRATIONS)} and this "
        f"assetflow needs version {len(newer)}, but the store is read-only here, so it "
        "cannot be upgraded."
    )
    assert "as a user who can write the state directory" in caught.value.hint
    with SqliteStore(written) as store:  # still at its own version, and readable
        assert store.get_run("r-1") is not None


def test_no_store_in_a_read_only_place_is_a_clear_error(store_path: Path) -> None:
    with pytest.raises(StoreError) as caught:
        SqliteStore(store_path, read_only=True)
    assert caught.value.message == (
        f"there is no metadata store at {store_path}, and its directory is read-only, so "
        "none can be created."
    )
    assert not store_path.parent.exists()
