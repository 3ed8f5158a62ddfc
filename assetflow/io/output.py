"""Write one asset's output atomically with its data version, and read it back, by kind name.

These functions look the kind up in the registry (``assetflow.io.registry``)
and call its ``IOManager``; they keep the calls that predate the registry
working. pyarrow and duckdb are imported only when a table is written or read,
so this module (and ``assetflow.io``) is cheap to import.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from assetflow.errors import StoreError
from assetflow.io.base import (
    DEFAULT_LOCK_TIMEOUT_S,
    IOSettings,
    OutputRef,
    StoredOutput,
    WriteTarget,
)
from assetflow.io.registry import io_manager

logger = logging.getLogger(__name__)

#: How long a DuckDB read or write waits, in seconds, while another process holds the file.
DUCKDB_LOCK_TIMEOUT_S = DEFAULT_LOCK_TIMEOUT_S

__all__ = [
    "DUCKDB_LOCK_TIMEOUT_S",
    "StoredOutput",
    "read_output",
    "read_partitions",
    "write_output",
]


def write_output(
    asset: str,
    value: object,
    kind: str,
    directory: Path,
    *,
    partition: str | None = None,
    database: Path | None = None,
    lock_timeout: float = DUCKDB_LOCK_TIMEOUT_S,
    settings: IOSettings | None = None,
) -> StoredOutput:
    """Store an asset's return value atomically and durably, and compute its data version.

    A file (see ``output_path``) is written beside its target and renamed into
    place, so readers never see a partial file and a failed write leaves the
    previous output as it was. For Parquet and DuckDB, the version is computed
    from the same Arrow table that is written: a DataFrame is converted once, and
    the same frame has the same version in either kind.

    For ``"duckdb"``, the output is the table named as the asset in one DuckDB
    file shared by the project's DuckDB assets; a partition is replaced in one
    transaction (see ``assetflow.io.duckdb``).

    Args:
        asset: The asset's name.
        value: What the asset returned.
        kind: A storage kind: ``"parquet"``, ``"duckdb"``, ``"json"``, ``"none"`` (see
            ``io_kind_for_value``, which never picks ``"duckdb"``), or a registered one.
        directory: Where output files are stored (``<state_dir>/data``).
        partition: The partition key, or None for an unpartitioned asset.
        database: The DuckDB file, for kind ``"duckdb"``. None means
            ``directory.parent / "warehouse.duckdb"``, i.e. ``<state_dir>/warehouse.duckdb``.
        lock_timeout: For kind ``"duckdb"``: how many seconds to wait, retrying
            with backoff, while another process holds the DuckDB file.
        settings: The project's io settings (``lock_timeout`` and ``database`` are then
            taken from them); ``kind`` may name one of their named io settings, whose
            name the stored output then records as its kind, so that it is read back
            with the same settings.

    Returns:
        The stored output: kind, path, rows, bytes, columns and data version
        (path and version are None for kind ``"none"``). For ``"duckdb"`` the
        path is the database file and bytes the Arrow table's size in memory.

    Raises:
        WriteError: The value does not fit the kind, cannot be stored, the
            directory cannot be written, or the DuckDB file stayed locked;
            nothing is written then.
        StoreError: ``kind`` is not a storage kind.
    """
    if settings is None:
        settings = IOSettings(lock_timeout=lock_timeout, database=database)
    manager = io_manager(kind, settings)
    stored = manager.write(value, WriteTarget(asset, partition, Path(directory)))
    if kind in settings.named and stored.kind != kind:
        stored = replace(stored, kind=kind)
    return stored


def read_output(
    kind: str,
    path: Path | None,
    as_type: object = None,
    *,
    asset: str | None = None,
    partitions: Sequence[str] | None = None,
    lock_timeout: float = DUCKDB_LOCK_TIMEOUT_S,
) -> object:
    """Read a stored output back.

    Args:
        kind: The kind it was stored as.
        path: Its file (the database file for ``"duckdb"``; ignored for ``"none"``).
        as_type: The reader's annotation, or None. For Parquet and DuckDB,
            ``pyarrow.Table`` gives a Table and anything else a DataFrame. For
            JSON, a type gives the values validated into it by pydantic (a model,
            ``list[Model]``, ``dict[str, int]``, ...); None, ``Any`` or a non-type
            gives them as stored.
        asset: The asset's name: required for ``"duckdb"``, whose table it names.
        partitions: For kinds whose partitions share one path (``"duckdb"``) only:
            the partition keys to read (rows in that order), or None for every row.
        lock_timeout: For ``"duckdb"``: seconds to wait while another process
            writes the file.

    Returns:
        The value: a DataFrame or Table, JSON values, or None for kind ``"none"``.
        A DuckDB table is read without its ``partition_key`` column; see
        ``assetflow.io.duckdb`` for the dtypes that come back.

    Raises:
        StoreError: The file (or table) is missing or unreadable, the kind is
            unknown, or the stored JSON value does not fit ``as_type``.
    """
    manager = io_manager(kind, IOSettings(lock_timeout=lock_timeout))
    if partitions is not None and not manager.partitions_share_path:
        raise StoreError(
            f"partitions {list(partitions)!r} were asked of one {kind!r} output '{path}'; "
            "each partition of that kind is a file of its own.",
            hint="Read several partitions with read_partitions().",
        )
    if asset is None and manager.partitions_share_path:
        raise StoreError(
            f"cannot read an output of storage kind {kind!r} from '{path}' without the "
            "asset's name: every asset of that kind is a table in that one file.",
            hint="Pass asset=<the asset's name> to read_output().",
        )
    name = asset or (Path(path).stem if path is not None else "")
    if partitions is not None:
        refs = [OutputRef(name, key, _path(path)) for key in partitions]
        return manager.read_partitions(name, refs, as_type)
    return manager.read(OutputRef(name, None, _path(path)), as_type)


def read_partitions(
    kind: str,
    paths_by_key: Mapping[str, Path | None],
    as_type: object = None,
    *,
    asset: str,
    lock_timeout: float = DUCKDB_LOCK_TIMEOUT_S,
) -> object:
    """Read several partitions of one asset in one call, in the order of their keys.

    ``paths_by_key`` maps each partition key to where it was stored (the
    ``path`` its ``StoredOutput`` recorded; for files also
    ``output_path(directory, asset, kind, key)``, for DuckDB the database file).

    - ``"parquet"``: the files are read as one pyarrow dataset and concatenated
      in key order; no partition column is added. A column missing from some
      partitions is null there; types are promoted where pyarrow can (int32
      and int64 give int64). A default index gives a fresh ``RangeIndex``.
    - ``"duckdb"``: one query (see ``read_output``); a partition with no rows
      adds nothing, so a key never written is not detected here.
    - ``"json"``: ``{key: value}``; ``as_type`` describes that whole mapping
      (e.g. ``dict[str, int]``).
    - ``"none"``: ``{key: None}``.

    No keys give an empty DataFrame with no columns (an empty Table when
    ``as_type`` asks for one), whatever the kind of table, or ``{}`` for JSON.

    Args:
        kind: The storage kind of the asset's partitions.
        paths_by_key: Partition key to its stored path, in the order to read.
        as_type: The reader's annotation, as for ``read_output``.
        asset: The asset's name, for the DuckDB table and for messages.
        lock_timeout: For ``"duckdb"``: seconds to wait while another process
            writes the file.

    Returns:
        One DataFrame or Table of all the partitions' rows, or a dict by key.

    Raises:
        StoreError: Partition files are missing (every missing key is named),
            the partitions cannot be combined into one table, the kind is
            unknown, or the output cannot be read as for ``read_output``.
    """
    manager = io_manager(kind, IOSettings(lock_timeout=lock_timeout))
    refs = [OutputRef(asset, key, _path(path)) for key, path in paths_by_key.items()]
    return manager.read_partitions(asset, refs, as_type)


def _path(path: Path | str | None) -> Path | None:
    return Path(path) if path is not None else None
