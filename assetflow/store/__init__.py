"""The metadata store: where runs, events, materializations and code are recorded.

``open_store(kind, location)`` builds a backend; everything else depends on the
``MetadataStore`` protocol only.
"""

from __future__ import annotations

from pathlib import Path

from assetflow.errors import StoreError, did_you_mean, suggest
from assetflow.store.base import AssetPartition as AssetPartition
from assetflow.store.base import MetadataStore as MetadataStore
from assetflow.store.memory import MemoryStore as MemoryStore
from assetflow.store.normalise import AmbiguousRunIdError as AmbiguousRunIdError
from assetflow.store.records import CheckRecord as CheckRecord
from assetflow.store.records import Column as Column
from assetflow.store.records import EventKind as EventKind
from assetflow.store.records import EventRecord as EventRecord
from assetflow.store.records import Lease as Lease
from assetflow.store.records import LogRecord as LogRecord
from assetflow.store.records import MaterializationRecord as MaterializationRecord
from assetflow.store.records import RunRecord as RunRecord
from assetflow.store.records import RunStatus as RunStatus
from assetflow.store.sqlite.store import SqliteStore as SqliteStore

#: The store kinds open_store() knows.
STORE_KINDS = ("memory", "sqlite")


def open_store(kind: str, location: str | Path | None = None) -> MetadataStore:
    """Open a metadata store.

    Args:
        kind: ``"sqlite"`` (the default store: one file shared by processes) or
            ``"memory"`` (for tests; forgets everything on close).
        location: The SQLite file (normally ``<project>/.assetflow/metadata.sqlite``);
            ignored by the memory store.

    Returns:
        The open store; close it, or use it as a context manager.

    Raises:
        StoreError: The kind is unknown, the SQLite store has no location, or the
            store cannot be opened.
    """
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite":
        if location is None:
            raise StoreError(
                "the sqlite metadata store needs a location (the path of its file).",
                hint="Pass a path such as <project>/.assetflow/metadata.sqlite.",
            )
        return SqliteStore(location)
    known = ", ".join(f"'{name}'" for name in STORE_KINDS)
    hint = did_you_mean(suggest(kind, STORE_KINDS))
    raise StoreError(
        f"unknown metadata store kind '{kind}'; the known kinds are {known}.",
        hint=hint or "Use 'sqlite' for a project's store, 'memory' for tests.",
    )
