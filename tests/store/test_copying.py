"""`store copy`: a project's whole history moved to another store, in one transaction on
the target, checked by counts; refused into a store that holds history."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import assetflow
from assetflow.errors import StoreError
from assetflow.request import RunRequest
from assetflow.services import running
from assetflow.services.stores import copy_history, open_project_store
from assetflow.store import MemoryStore, SqliteStore, open_store
from assetflow.store.copying import TABLES, copy_store
from assetflow.store.sqlite.schema import MIGRATIONS
from tests.store.builders import at
from tests.store.ticks import tick

ASSETS = """
    from pathlib import Path

    from assetflow import asset, check
    from assetflow.partitions import StaticPartitions

    @asset(partitions=StaticPartitions(["a", "b"]))
    def raw(context) -> dict:
        print("raw", context.partition_key)
        return {"key": context.partition_key}

    @asset(retries=1)
    def flaky() -> dict:
        marker = Path(__file__).parent / "tried"
        if not marker.exists():
            marker.write_text("once")
            raise ConnectionError("the first attempt fails")
        return {"ok": True}

    @check(asset="flaky")
    def has_ok(flaky: dict) -> bool:
        return flaky["ok"]

    @asset
    def broken(flaky: dict) -> dict:
        raise ValueError("broken on purpose")
"""
INPROCESS = '[tool.assetflow]\nmodules = ["assets"]\nexecutor = "inprocess"\n'


def with_history(make_project) -> Path:
    """A project whose store holds runs, events, outputs, checks, logs, code, ticks,
    dynamic partitions, a lease, an incident and an alert."""
    root = make_project(ASSETS, config=INPROCESS)
    project = assetflow.load(root)
    running.materialize(project, RunRequest("*", trigger="cli"))
    running.materialize(project, RunRequest("raw", trigger="schedule", force=True))
    from assetflow.store import IncidentMember, IncidentRecord, Lease

    with open_project_store(project) as store:
        store.claim_ticks([tick(), tick(scheduled=60)])
        store.add_partition_keys("regions", ["eu", "us"], at(0))
        store.set_paused("schedule:nightly", True, at(1))
        store.acquire_scheduler_lease("host:1", 1, "h", at(0), at(30) - at(0))
        store.acquire_lease(Lease("raw", "a", "r-x", 1, "h", at(0), at(9)), now=at(0))
        store.open_incident(
            IncidentRecord("inc-1", "run_failed", "broken", at(2), at(2)),  # type: ignore[arg-type]
            [IncidentMember("", at(2))],
        )
    return root


def rows(store: object) -> dict[str, list[tuple[object, ...]]]:
    assert isinstance(store, SqliteStore)
    found = {}
    for table in TABLES:
        columns = sorted(store.table_columns(table))
        found[table] = sorted(tuple(map(repr, row)) for row in store.read_rows(table, columns))
    return found


def test_a_copy_holds_every_row_of_every_table(make_project, tmp_path: Path) -> None:
    root = with_history(make_project)
    project = assetflow.load(root)
    result, source_shown, target_shown = copy_history(project, "sqlite:copy.sqlite")
    assert source_shown.endswith("/.assetflow/metadata.sqlite")
    assert target_shown == "sqlite:copy.sqlite"
    assert all(source == target for source, target in result.counts.values())
    for table in ("runs", "events", "materializations", "step_logs", "check_results", "ticks"):
        assert result.counts[table][0] > 0, table
    with open_project_store(project) as source, open_store("sqlite", root / "copy.sqlite") as copy:
        assert rows(copy) == rows(source)
        # What the history answers is the same from the copy.
        run_ids = [run.run_id for run in source.list_runs()]
        assert [run.run_id for run in copy.list_runs()] == run_ids
        assert copy.run_events(run_ids[-1]) == source.run_events(run_ids[-1])
        assert copy.latest_states() == source.latest_states()
        assert copy.open_incidents() == source.open_incidents()
    # The copy goes on being written where the source left off.
    with open_store("sqlite", root / "copy.sqlite") as copy:
        copy.create_run(replace(copy.list_runs()[0], run_id="new-run"))


def test_a_store_that_holds_history_is_refused_and_left_as_it_was(
    make_project, tmp_path: Path
) -> None:
    root = with_history(make_project)
    project = assetflow.load(root)
    copy_history(project, "sqlite:copy.sqlite")
    with pytest.raises(StoreError) as refused:
        copy_history(project, "sqlite:copy.sqlite")
    message = refused.value.format_message()
    assert "the target store sqlite:copy.sqlite already holds history (" in message
    assert "a copy goes into an empty store only" in message
    with open_project_store(project) as source, open_store("sqlite", root / "copy.sqlite") as copy:
        assert rows(copy) == rows(source)


def test_counts_that_differ_keep_nothing(make_project, tmp_path: Path) -> None:
    root = with_history(make_project)

    class Changing(SqliteStore):
        """A source written to while it is copied: one more event than it then reads."""

        def count_rows(self, table: str) -> int:
            return super().count_rows(table) + (table == "events")

    source = Changing(root / ".assetflow" / "metadata.sqlite")
    with source, SqliteStore(tmp_path / "target.sqlite") as target:
        with pytest.raises(StoreError) as failed:
            copy_store(source, target, source_shown="the source", target_shown="the target")
        assert all(target.count_rows(table) == 0 for table in TABLES)
    message = failed.value.format_message()
    assert "wrote other row counts than the source holds (events: " in message
    assert "so nothing was kept" in message


def test_only_the_sql_stores_copy_and_their_schemas_must_match(tmp_path: Path) -> None:
    with (
        SqliteStore(tmp_path / "a.sqlite") as sqlite,
        MemoryStore() as memory,
        pytest.raises(StoreError, match="memory cannot be copied: only SQLite and Post"),
    ):
        copy_store(memory, sqlite, source_shown="memory", target_shown="a")
    old = SqliteStore(tmp_path / "old.sqlite", migrations=MIGRATIONS[:14])
    with (
        SqliteStore(tmp_path / "a.sqlite") as current,
        old,
        pytest.raises(StoreError) as mismatched,
    ):
        copy_store(current, old, source_shown="new", target_shown="old")
    message = mismatched.value.format_message()
    assert message.startswith("the table events has the columns id, run_id, kind")
    assert "started_at, host, pid in new but id, run_id" in message
    assert "run `assetflow store migrate`" in message


def test_a_table_missing_from_an_older_store_is_named(tmp_path: Path) -> None:
    """A store one version behind has no lineage outbox: the copy says so before counting."""
    with (
        SqliteStore(tmp_path / "a.sqlite") as current,
        SqliteStore(tmp_path / "old.sqlite", migrations=MIGRATIONS[:15]) as old,
        pytest.raises(StoreError) as mismatched,
    ):
        copy_store(current, old, source_shown="new", target_shown="old")
    message = mismatched.value.format_message()
    assert message.startswith("the table lineage_outbox has the columns event_id, run_id")
    assert "in new but none (the table is missing) in old" in message


def test_a_store_is_not_copied_into_itself(make_project) -> None:
    root = with_history(make_project)
    project = assetflow.load(root)
    with pytest.raises(StoreError, match="the source and the target of the copy are the same"):
        copy_history(project, "sqlite:.assetflow/metadata.sqlite")
