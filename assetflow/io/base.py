"""The IOManager protocol: how one storage kind writes, reads and inspects asset outputs.

A storage kind (``io="parquet"``, ``"duckdb"``, ``"json"``, ``"none"``, or one a
package registers) is one class that satisfies ``IOManager``; the registry
(``assetflow.io.registry``) finds it by name. The records here are what passes
between a kind and the rest of assetflow: where to write (``WriteTarget``),
what was stored (``StoredOutput``, which the coordinator records), where a
stored output is (``OutputRef``, built from that record), what a cheap look
at it finds (``OutputStat``) and the first rows of it (``OutputHead``).

This module imports no data library: every kind imports its own when used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

#: How long a read or write waits, in seconds, while another process holds a store
#: that admits one writer at a time (the DuckDB file).
DEFAULT_LOCK_TIMEOUT_S = 30.0

#: What a kind stores: tables (DataFrames, Arrow tables), plain values (JSON), or nothing.
Holds = Literal["tables", "values", "nothing"]


@dataclass(frozen=True, slots=True)
class StoredOutput:
    """What was stored for one asset-partition: where, how much, its schema and data version."""

    kind: str
    path: Path | None
    rows: int | None
    bytes: int | None
    #: (name, Arrow type as text) for each stored column; empty for JSON and none.
    columns: tuple[tuple[str, str], ...]
    data_version: str | None
    #: the file's modification time just after the write (``st_mtime``), for a kind
    #: whose output is a file of its own; None for a database partition
    modified_at: float | None = None
    #: a cheap digest of the file's bytes (``assetflow.io.files.quick_digest``), so that a
    #: copy (same bytes, new modification time) is told from a changed file
    digest: str | None = None


@dataclass(frozen=True, slots=True)
class WriteTarget:
    """Which asset-partition a write stores, and the project's data directory to store it in."""

    asset: str
    partition: str | None
    #: ``<state_dir>/data``: files go in it; a database kind keeps its file beside it.
    directory: Path


@dataclass(frozen=True, slots=True)
class OutputRef:
    """Where one asset-partition's output was stored: its ``StoredOutput.path`` and its key."""

    asset: str
    partition: str | None
    #: The file (Parquet, JSON), the database file (DuckDB), or None (kind "none").
    path: Path | None


@dataclass(frozen=True, slots=True)
class OutputStat:
    """What a cheap look at a stored output finds, without reading its data.

    A kind fills what it can tell cheaply and leaves the rest None: a file has
    a size and a modification time, a database partition a row count.
    """

    bytes: int | None = None
    #: Seconds since the epoch (``st_mtime``).
    modified_at: float | None = None
    rows: int | None = None


@dataclass(frozen=True, slots=True)
class OutputHead:
    """The start of a stored output, read without reading the rest of it.

    ``value`` is what was read: for a kind that holds tables, a ``pyarrow.Table``
    of at most the rows asked for; for a kind that holds values, the value with
    a list or a dict cut to its first items; None for a kind that stores nothing.
    """

    value: object
    #: How many rows (or items of a list or dict) the output holds in all, when the
    #: kind can tell without reading them; None when it cannot, or for a plain value.
    total: int | None = None


@dataclass(frozen=True, slots=True)
class NamedIO:
    """One ``[tool.assetflow.io.NAME]`` table: the kind it builds, and that kind's options."""

    kind: str
    #: The table's other keys, validated for a built-in kind (``url_env``, ``schema``...).
    options: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StorageSettings:
    """Where the file kinds (Parquet, JSON) keep outputs: ``[tool.assetflow] storage``.

    ``url`` is a local directory (a shared filesystem's mount) or an fsspec URL
    (``s3://bucket/prefix``, ``gs://...``, ``az://...``). For a local directory, outputs
    go to ``<url>/data`` and their absolute paths are recorded. For object storage, a
    path under ``local_root`` stands for the object key at the same place under ``url``
    (``<local_root>/data/orders.<version>.parquet`` is ``<url>/data/orders.<version>.parquet``),
    so the recorded path stays relative to the state directory as it is on local disk.
    """

    #: The storage root: an absolute local path, or ``protocol://bucket/prefix``.
    url: str
    #: The project's state directory, whose paths stand for keys under ``url``.
    local_root: Path


@dataclass(frozen=True, slots=True)
class IOSettings:
    """The settings every kind is built with (each uses those it needs)."""

    #: Seconds to wait while another process holds a single-writer store.
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT_S
    #: The DuckDB file; None means ``<state_dir>/warehouse.duckdb``, beside the data directory.
    database: Path | None = None
    #: The project's named io settings by name: ``@asset(io="warehouse")`` builds the
    #: kind that ``named["warehouse"]`` says, with its options (see the registry).
    named: Mapping[str, NamedIO] = field(default_factory=dict)
    #: The name the kind was built for (a key of ``named``), or None for a bare kind.
    name: str | None = None
    #: The options of that name (empty for a bare kind): what the kind connects to.
    options: Mapping[str, object] = field(default_factory=dict)
    #: Where the file kinds keep outputs; None: ``WriteTarget.directory`` on local disk.
    storage: StorageSettings | None = None


@runtime_checkable
class IOManager(Protocol):
    """One storage kind: writes an asset-partition's output atomically, reads it back, and
    tells cheaply whether it is still there.

    A kind is built by the registry as ``KindClass(settings)`` (an ``IOSettings``)
    and may be built anew for every call, so it keeps no state between calls.
    Every kind passes ``tests/io/test_io_contract.py``.
    """

    #: The name assets use (``@asset(io=...)``) and records keep.
    kind: str
    #: What it stores; ``write`` refuses anything else with a ``WriteError``.
    holds: Holds
    #: True when all partitions of an asset live at one path (a table in a database
    #: file); False when each partition has a file of its own.
    partitions_share_path: bool

    def write(self, value: object, target: WriteTarget) -> StoredOutput:
        """Store ``value`` as the target's output, replacing what was there atomically.

        Readers see the old output or the new one, never a mix, and a failed
        write leaves the old one as it was. Re-writing a partition replaces it
        exactly (no duplicate rows). The data is durable when this returns, so
        the metadata that records it never points at data a power cut could lose.

        Returns:
            The record of what was stored, with its data version.

        Raises:
            WriteError: The value does not fit the kind, or cannot be stored.
        """
        ...

    def read(self, ref: OutputRef, as_type: object = None) -> object:
        """Read one stored output back, as ``as_type`` asks (e.g. ``pyarrow.Table``).

        Raises:
            StoreError: It is missing (the message says so) or unreadable.
        """
        ...

    def read_partitions(
        self, asset: str, refs: Sequence[OutputRef], as_type: object = None
    ) -> object:
        """Read several partitions of one asset at once, in the order of ``refs``: tables
        concatenated, values as ``{partition: value}``; no refs give an empty table or ``{}``.

        Raises:
            StoreError: Partitions are missing (each is named) or cannot be combined.
        """
        ...

    def stat(self, ref: OutputRef) -> OutputStat | None:
        """Look at a stored output without reading its data; None if it is missing.

        Cheap enough to call for every asset-partition a plan considers fresh.
        """
        ...

    def head(self, ref: OutputRef, limit: int) -> OutputHead:
        """The first ``limit`` rows (or items) of one stored output, reading no more than
        it must: a Parquet file's first row groups, a database's ``LIMIT``.

        Tables come back as a ``pyarrow.Table`` (without a partition column a kind
        adds for itself); values with a top-level list or dict cut to ``limit`` items.

        Raises:
            StoreError: It is missing (the message says so) or unreadable.
        """
        ...
