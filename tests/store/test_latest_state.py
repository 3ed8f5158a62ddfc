"""Migration 2: the compact latest state per asset-partition, and run partitions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from assetflow.errors import StoreError
from assetflow.store import CheckRecord, MetadataStore, SqliteStore
from assetflow.store.records import EventKind, MaterializationState
from assetflow.store.sqlite.rows import INSERT_MATERIALIZATION, materialization_row, time_text
from assetflow.store.sqlite.schema import MIGRATIONS
from tests.store.builders import at, event, materialization, run


def test_states_match_the_latest_records(store: MetadataStore) -> None:
    store.record(
        materializations=[
            materialization("clean", "2026-03-01", 1, run_id="r1"),
            materialization("clean", "2026-03-01", 2, run_id="r2"),
            materialization("clean", "2026-03-02", 1, run_id="r1"),
            materialization("report", None, 3, run_id="r1"),
        ]
    )
    records = store.latest_materializations()
    states = store.latest_states()
    assert (
        set(states)
        == set(records)
        == {
            ("clean", "2026-03-01"),
            ("clean", "2026-03-02"),
            ("report", None),
        }
    )
    for key, record in records.items():
        assert states[key] == MaterializationState.of(record)
    assert states[("clean", "2026-03-01")].run_id == "r2"
    assert set(store.latest_states(["report"])) == {("report", None)}


def test_a_late_write_of_an_older_materialization_does_not_win(store: MetadataStore) -> None:
    store.record(materializations=[materialization("a", None, 10, run_id="new")])
    store.record(materializations=[materialization("a", None, 5, run_id="old")])
    assert store.latest_states()[("a", None)].run_id == "new"
    store.record(materializations=[materialization("a", None, 10, run_id="tie")])
    assert store.latest_states()[("a", None)].run_id == "tie"  # a tie goes to the later write


def test_one_record_of_many_rows_is_written_whole(store: MetadataStore) -> None:
    # More values than PostgreSQL's single-statement record takes: it goes in batches.
    count = 2500
    store.record(
        materializations=[
            materialization("a", f"p{i % 40}", i % 7, run_id=f"r{i}") for i in range(count)
        ],
        events=[event(EventKind.MATERIALIZED, "a", f"p{i % 40}", i) for i in range(count)],
    )
    states = store.latest_states()
    assert len(states) == 40
    # The newest by finish time wins; a tie goes to the later write.
    for key, state in states.items():
        newest = max((i % 7, i) for i in range(count) if f"p{i % 40}" == key[1])
        assert state.run_id == f"r{newest[1]}"
    assert len(store.run_events("run-1")) == count


def test_run_partitions_round_trip(store: MetadataStore) -> None:
    store.create_run(run("r1", partitions="2026-03-01..2026-03-31"))
    assert store.get_run("r1").partitions == "2026-03-01..2026-03-31"


# Version 1's columns: all of today's but the last two (added by version 9).
_VERSION_1_INSERT = INSERT_MATERIALIZATION.replace(", file_mtime, file_digest)", ")").replace(
    ", ?, ?)", ")"
)


def test_a_version_1_store_is_migrated_with_its_latest_state(tmp_path: Path) -> None:
    path = tmp_path / "meta.sqlite"
    SqliteStore(path, migrations=MIGRATIONS[:1]).close()  # a file as version 1 left it
    connection = sqlite3.connect(path)
    with connection:
        connection.execute(
            "INSERT INTO runs (run_id, run_trigger, selection, status, started_at) "
            "VALUES ('r1', 'cli', '*', 'success', ?)",
            (time_text(at(0)),),
        )
        connection.executemany(
            _VERSION_1_INSERT,
            [
                materialization_row(materialization("a", None, 2, run_id="r1"))[:-2],
                materialization_row(materialization("a", None, 1, run_id="r0"))[:-2],
                materialization_row(materialization("b", "p1", 1, run_id="r1"))[:-2],
            ],
        )
    connection.close()
    with SqliteStore(path) as upgraded:
        states = upgraded.latest_states()
        assert {key: s.run_id for key, s in states.items()} == {
            ("a", None): "r1",
            ("b", "p1"): "r1",
        }
        assert upgraded.get_run("r1").partitions is None
        upgraded.record(materializations=[materialization("a", None, 3, run_id="r2")])
        assert upgraded.latest_states()[("a", None)].run_id == "r2"
        assert [m.finished_at for m in upgraded.asset_history("a")] == [at(3), at(2), at(1)]


def check(run_id: str, name: str, passed: bool, at_seconds: float, **fields: object) -> CheckRecord:
    values: dict[str, object] = {
        "run_id": run_id,
        "asset": "clean",
        "partition": "2026-03-01",
        "check": name,
        "passed": passed,
        "blocking": True,
        "at": at(at_seconds),
    }
    return CheckRecord(**{**values, **fields})


def test_check_results_newest_per_check(store: MetadataStore) -> None:
    store.record(
        checks=[
            check("r1", "not_null(email)", False, 1, metadata={"failing_rows": 3}),
            check("r2", "not_null(email)", True, 2),
            check("r1", "unique(id)", True, 1),
            check("r1", "row_count(min=1)", True, 1, partition="2026-03-02"),
        ]
    )
    latest = store.latest_check_results(["clean"])
    assert [(c.check, c.run_id, c.passed) for c in latest[("clean", "2026-03-01")]] == [
        ("not_null(email)", "r2", True),
        ("unique(id)", "r1", True),
    ]
    assert set(latest) == {("clean", "2026-03-01"), ("clean", "2026-03-02")}
    history = store.check_history("clean", "2026-03-01")
    assert [c.run_id for c in history] == ["r2", "r1", "r1"]
    assert {c.run_id: c.metadata for c in history if c.check == "not_null(email)"} == {
        "r2": {},
        "r1": {"failing_rows": 3},
    }
    assert check("r", "x", False, 0).is_blocking_failure
    assert not check("r", "x", False, 0, severity="warn").is_blocking_failure


def test_check_metadata_must_be_json(store: MetadataStore) -> None:
    with pytest.raises(StoreError, match="metadata that is not JSON"):
        store.record(checks=[check("r1", "odd", False, 1, metadata={"x": {1, 2}})])
