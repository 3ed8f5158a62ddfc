"""The keys of dynamic partitions definitions: the same contract on every store."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assetflow.errors import StoreError
from assetflow.store import MetadataStore, open_store
from assetflow.store.sqlite.schema import MIGRATIONS

T0 = datetime(2026, 3, 7, 9, 0, tzinfo=UTC)


def test_keys_are_listed_in_the_order_added(store: MetadataStore) -> None:
    assert store.add_partition_keys("uploads", ["b", "a"], T0) == ["b", "a"]
    assert store.add_partition_keys("uploads", ["c"], T0 + timedelta(minutes=1)) == ["c"]
    assert store.partition_keys(["uploads"]) == {"uploads": ["b", "a", "c"]}


def test_adding_a_live_key_again_adds_nothing(store: MetadataStore) -> None:
    store.add_partition_keys("uploads", ["a"], T0)
    assert store.add_partition_keys("uploads", ["a", "b", "b"], T0) == ["b"]
    assert store.partition_keys(["uploads"]) == {"uploads": ["a", "b"]}


def test_removed_keys_are_not_live(store: MetadataStore) -> None:
    store.add_partition_keys("uploads", ["a", "b", "c"], T0)
    assert store.remove_partition_keys("uploads", ["b", "zz", "b"], T0) == ["b"]
    assert store.remove_partition_keys("uploads", ["b"], T0) == []
    assert store.partition_keys(["uploads"]) == {"uploads": ["a", "c"]}


def test_re_adding_a_removed_key_revives_it_in_its_first_place(store: MetadataStore) -> None:
    store.add_partition_keys("uploads", ["a", "b", "c"], T0)
    store.remove_partition_keys("uploads", ["a"], T0)
    assert store.add_partition_keys("uploads", ["a"], T0 + timedelta(hours=1)) == ["a"]
    assert store.partition_keys(["uploads"]) == {"uploads": ["a", "b", "c"]}


def test_definitions_are_separate_and_read_in_one_call(store: MetadataStore) -> None:
    store.add_partition_keys("uploads", ["x"], T0)
    store.add_partition_keys("batches", ["x", "y"], T0)
    store.remove_partition_keys("batches", ["x"], T0)
    assert store.partition_keys(["uploads", "batches", "never"]) == {
        "uploads": ["x"],
        "batches": ["y"],
        "never": [],
    }
    assert store.partition_keys([]) == {}


def test_nothing_given_changes_nothing(store: MetadataStore) -> None:
    assert store.add_partition_keys("uploads", [], T0) == []
    assert store.remove_partition_keys("uploads", [], T0) == []
    assert store.partition_keys(["uploads"]) == {"uploads": []}


def test_a_naive_time_is_refused(store: MetadataStore) -> None:
    with pytest.raises(StoreError, match="timezone-aware UTC"):
        store.add_partition_keys("uploads", ["a"], datetime(2026, 3, 7))
    with pytest.raises(StoreError, match="timezone-aware UTC"):
        store.remove_partition_keys("uploads", ["a"], datetime(2026, 3, 7))


def test_a_failed_unit_of_work_adds_no_key(store: MetadataStore) -> None:
    store.add_partition_keys("uploads", ["a"], T0)

    def change_then_fail() -> None:
        with store.unit_of_work():
            store.add_partition_keys("uploads", ["b"], T0)
            store.remove_partition_keys("uploads", ["a"], T0)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        change_then_fail()
    assert store.partition_keys(["uploads"]) == {"uploads": ["a"]}


def test_keys_outlive_the_store_file_being_reopened(tmp_path: Path) -> None:
    path = tmp_path / "meta.sqlite"
    with open_store("sqlite", path) as first:
        first.add_partition_keys("uploads", ["a", "b"], T0)
        first.remove_partition_keys("uploads", ["a"], T0 + timedelta(minutes=5))
    with open_store("sqlite", path) as again:
        assert again.partition_keys(["uploads"]) == {"uploads": ["b"]}
    rows = sqlite3.connect(path).execute(
        "SELECT key, added_at, removed_at FROM dynamic_partitions ORDER BY rowid"
    )
    assert [(key, removed is not None) for key, _, removed in rows] == [("a", True), ("b", False)]


def test_migration_12_adds_the_table() -> None:
    step = MIGRATIONS[11]
    assert (step.version, step.description) == (12, "keys of dynamic partitions")
