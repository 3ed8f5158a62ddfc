"""open_store(): the one way to build a metadata store from a kind and a location."""

from __future__ import annotations

from pathlib import Path

import pytest

from assetflow.errors import StoreError
from assetflow.store import MemoryStore, MetadataStore, SqliteStore, open_store


def test_kinds_build_their_backend(tmp_path: Path) -> None:
    with open_store("memory") as memory, open_store("sqlite", tmp_path / "m.sqlite") as sqlite:
        assert isinstance(memory, MemoryStore)
        assert isinstance(sqlite, SqliteStore)
        assert isinstance(sqlite, MetadataStore)


def test_the_memory_store_ignores_a_location(tmp_path: Path) -> None:
    with open_store("memory", tmp_path / "m.sqlite"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(
        StoreError, match="unknown metadata store kind 'sqlite3'; the known kinds are 'memory', "
    ) as caught:
        open_store("sqlite3", "x")
    assert caught.value.hint == "Did you mean 'sqlite'?"
    with pytest.raises(StoreError, match="unknown metadata store kind 'postgres'") as caught:
        open_store("postgres", "postgresql://localhost/assetflow")
    assert "Use 'sqlite'" in caught.value.hint


def test_sqlite_needs_a_location() -> None:
    with pytest.raises(StoreError, match="the sqlite metadata store needs a location"):
        open_store("sqlite")


def test_a_location_may_be_a_string(tmp_path: Path) -> None:
    with open_store("sqlite", str(tmp_path / "m.sqlite")) as store:
        assert isinstance(store, SqliteStore)
        assert store.path == tmp_path / "m.sqlite"
