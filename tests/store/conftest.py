"""Store fixtures: an empty store of every backend, and a path for a SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assetflow.store import MetadataStore, open_store


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    """An empty store of each backend, closed after the test."""
    with open_store(request.param, tmp_path / "meta.sqlite") as opened:
        yield opened


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """Where a SQLite store file goes, in a directory that does not exist yet."""
    return tmp_path / ".assetflow" / "metadata.sqlite"
