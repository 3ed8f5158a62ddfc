"""unit_of_work(): the writes of a block commit together, or none do, on every backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from assetflow.errors import StoreError
from assetflow.store import EventKind, Lease, MetadataStore, RunStatus, SqliteStore
from assetflow.store.sqlite.rows import INSERT_RUN, run_row
from tests.store.builders import at, event, materialization, run


class _Boom(Exception):
    """What the block raises to roll its unit back."""


def _lease(run_id: str) -> Lease:
    return Lease("a", "2026-03-01", run_id, 11, "here", at(0), at(60))


def _write_everything(store: MetadataStore) -> None:
    """One write of each kind the store offers."""
    store.create_run(run("r-2", 1))
    store.record(
        materializations=[materialization("a", run_id="r-2")],
        events=[event(EventKind.MATERIALIZED, "a", run_id="r-2")],
    )
    store.finish_run("r-1", RunStatus.SUCCESS, at(2))
    assert store.acquire_lease(_lease("r-2"), now=at(1)) is None
    store.heartbeat("r-2", at(3))
    store.request_cancel("r-2", at(4))
    store.save_codes({"v1": "def a(): ..."})


def test_writes_in_a_unit_commit_together(store: MetadataStore) -> None:
    store.create_run(run("r-1"))
    with store.unit_of_work() as unit:
        assert unit.is_nested is False
        _write_everything(store)
        # The block reads its own writes.
        assert store.get_run("r-2") is not None
    found = store.get_run("r-2")
    assert found is not None
    assert (found.heartbeat_at, found.cancel_requested_at) == (at(3), at(4))
    assert store.asset_history("a") == [materialization("a", run_id="r-2")]
    assert [e.kind for e in store.run_events("r-2")] == [EventKind.MATERIALIZED]
    assert store.get_run("r-1").status is RunStatus.SUCCESS  # type: ignore[union-attr]
    assert store.leases() == [_lease("r-2")]
    assert store.get_code("v1") == "def a(): ..."


def test_a_raise_rolls_back_every_write_of_the_block(store: MetadataStore) -> None:
    store.create_run(run("r-1"))
    store.acquire_lease(_lease("r-1"), now=at(0))

    def write_then_raise() -> None:
        with store.unit_of_work():
            _write_everything(store)
            raise _Boom

    with pytest.raises(_Boom):
        write_then_raise()
    assert [r.run_id for r in store.list_runs()] == ["r-1"]
    assert store.get_run("r-1") == run("r-1")
    assert store.leases() == [_lease("r-1")]  # finishing r-1 released it; rolled back
    assert store.asset_history("a") == []
    assert store.run_events("r-2") == []
    assert store.saved_codes(["v1"]) == set()
    # Nothing remembers the rolled-back code as saved: saving it again writes it.
    store.save_codes({"v1": "def a(): ..."})
    assert store.get_code("v1") == "def a(): ..."


def test_a_nested_unit_joins_the_outer_one(store: MetadataStore) -> None:

    def nest_then_raise() -> None:
        with store.unit_of_work() as outer:
            store.create_run(run("r-1"))
            with store.unit_of_work() as inner:
                assert inner.is_nested is True
                store.create_run(run("r-2"))
            assert store.get_run("r-2") is not None
            assert outer.is_nested is False
            raise _Boom

    with pytest.raises(_Boom):
        nest_then_raise()
    assert store.list_runs() == []
    with store.unit_of_work(), store.unit_of_work():
        store.create_run(run("r-3"))
    assert [r.run_id for r in store.list_runs()] == ["r-3"]


def test_a_failed_write_in_a_unit_leaves_the_rest(store: MetadataStore) -> None:
    with store.unit_of_work():
        store.create_run(run("r-1"))
        with pytest.raises(StoreError, match="a run with id 'r-1' already exists"):
            store.create_run(run("r-1", 5))
        store.record(events=[event(EventKind.STARTED, "a", run_id="r-1")])
    assert store.get_run("r-1") == run("r-1")
    assert len(store.run_events("r-1")) == 1


def test_after_commit_runs_once_the_outermost_unit_commits(store: MetadataStore) -> None:
    calls: list[str] = []
    with store.unit_of_work() as outer:
        outer.after_commit(lambda: calls.append("outer"))
        with store.unit_of_work() as inner:
            inner.after_commit(lambda: calls.append("inner"))
        assert calls == []
    assert calls == ["outer", "inner"]

    def register_then_raise() -> None:
        with store.unit_of_work() as unit:
            unit.after_commit(lambda: calls.append("rolled back"))
            raise _Boom

    with pytest.raises(_Boom):
        register_then_raise()
    assert calls == ["outer", "inner"]


def test_a_closed_store_opens_no_unit(store: MetadataStore) -> None:
    store.close()
    with pytest.raises(StoreError, match="closed"), store.unit_of_work():
        pass


def test_other_connections_see_nothing_of_an_open_unit(tmp_path: Path) -> None:
    path = tmp_path / "meta.sqlite"
    with SqliteStore(path) as store, SqliteStore(path) as other:
        with store.unit_of_work():
            store.create_run(run("r-1"))
            with store.unit_of_work():
                store.create_run(run("r-2"))
            assert other.list_runs() == []  # the inner unit committed nothing
        assert [r.run_id for r in other.list_runs()] == ["r-2", "r-1"]


def test_a_new_tables_writer_joins_the_unit_through_execute(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "meta.sqlite") as store:

        def write_then_raise() -> None:
            with store.unit_of_work() as unit:
                store.create_run(run("r-1"))
                unit.execute("add a run", INSERT_RUN, run_row(run("r-2")))
                raise _Boom

        with pytest.raises(_Boom):
            write_then_raise()
        assert store.list_runs() == []
        with store.unit_of_work() as unit:
            # The second row collides with the first: the statement writes neither,
            # and the unit goes on.
            with pytest.raises(StoreError, match="cannot add runs in the metadata store"):
                unit.executemany("add runs", INSERT_RUN, [run_row(run("r-3"))] * 2)
            assert unit.execute("count runs", "SELECT count(*) FROM runs") == [(0,)]
            unit.execute("add a run", INSERT_RUN, run_row(run("r-4")))
        assert [r.run_id for r in store.list_runs()] == ["r-4"]
