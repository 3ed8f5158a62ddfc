"""Write one asset's output atomically with its data version, and read it back.

pyarrow and duckdb are imported only when a table is written or read, so this
module (and ``assetflow.io``) is cheap to import.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast, get_origin

from assetflow.datahash import json_version, table_version
from assetflow.errors import StoreError, WriteError
from assetflow.io.atomic import atomic_path, write_bytes_atomically
from assetflow.io.paths import output_path
from assetflow.io.values import (
    DUCKDB,
    JSON,
    KINDS,
    NONE,
    PARQUET,
    SUPPORTED,
    is_table,
    to_json_value,
    type_name,
)

logger = logging.getLogger(__name__)

#: JSON files are indented for people reading them; the data version hashes the
#: canonical (sorted, compact) text, so this never changes a version.
_JSON_INDENT = 2
#: How long a DuckDB read or write waits, in seconds, while another process holds the file.
DUCKDB_LOCK_TIMEOUT_S = 30.0


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


def write_output(
    asset: str,
    value: object,
    kind: str,
    directory: Path,
    *,
    partition: str | None = None,
    database: Path | None = None,
    lock_timeout: float = DUCKDB_LOCK_TIMEOUT_S,
) -> StoredOutput:
    """Store an asset's return value atomically and compute its data version.

    The file (see ``output_path``) is written beside its target and renamed into
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
        kind: ``"parquet"``, ``"duckdb"``, ``"json"`` or ``"none"`` (see
            ``io_kind_for_value``, which never picks ``"duckdb"``).
        directory: Where output files are stored (``<state_dir>/data``).
        partition: The partition key, or None for an unpartitioned asset.
        database: The DuckDB file, for kind ``"duckdb"``. None means
            ``directory.parent / "warehouse.duckdb"``, i.e. ``<state_dir>/warehouse.duckdb``.
        lock_timeout: For kind ``"duckdb"``: how many seconds to wait, retrying
            with backoff, while another process holds the DuckDB file.

    Returns:
        The stored output: kind, path, rows, bytes, columns and data version
        (path and version are None for kind ``"none"``). For ``"duckdb"`` the
        path is the database file and bytes the Arrow table's size in memory.

    Raises:
        WriteError: The value does not fit the kind, cannot be stored, the
            directory cannot be written, or the DuckDB file stayed locked;
            nothing is written then.
    """
    if kind == NONE:
        return _store_nothing(asset, value)
    if kind == DUCKDB:
        if database is None:
            from assetflow.io.duckdb import database_path

            database = database_path(Path(directory))
        return _write_duckdb(asset, value, Path(database), partition, lock_timeout)
    path = output_path(Path(directory), asset, kind, partition)
    if kind == PARQUET:
        return _write_parquet(asset, value, path)
    return _write_json(asset, value, path)


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
        partitions: For ``"duckdb"`` only: the partition keys to read (rows in
            that order), or None for every row of the table.
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
    if kind == NONE:
        return None
    if partitions is not None and kind != DUCKDB:
        raise StoreError(
            f"partitions {list(partitions)!r} were asked of one {kind!r} output '{path}'; "
            "each partition of that kind is a file of its own.",
            hint="Read several partitions with read_partitions().",
        )
    if kind == DUCKDB and path is not None:
        return _read_duckdb(path, as_type, asset, partitions, lock_timeout)
    if kind not in (PARQUET, JSON) or path is None:
        raise StoreError(
            f"cannot read an output of storage kind {kind!r} from {path!r}.",
            hint=f"The storage kinds are {', '.join(KINDS)}; 'none' has no file.",
        )
    if kind == JSON:
        return _validated(_load_json(path), as_type, path)
    from assetflow.io.parquet import read_table

    try:
        return read_table(path, as_type)
    except FileNotFoundError as error:
        raise _missing_output_error(path) from error
    except (OSError, ValueError) as error:
        raise _unreadable_json_error(path, error) from error


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
    - ``"none"``: None.

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
        One DataFrame or Table of all the partitions' rows, a dict for JSON,
        or None for kind ``"none"``.

    Raises:
        StoreError: Partition files are missing (every missing key is named),
            the partitions cannot be combined into one table, or the output
            cannot be read as for ``read_output``.
    """
    if kind == NONE:
        return None
    keys = list(paths_by_key)
    if kind == DUCKDB:
        databases = {Path(path) for path in paths_by_key.values() if path is not None}
        if len(databases) > 1 or len(databases) < min(len(keys), 1):
            raise StoreError(
                f"the partitions of asset '{asset}' are recorded in "
                f"{len(databases) or 'no'} DuckDB files ({sorted(map(str, databases))}); "
                "they are read from one.",
                hint="Materialize the asset's partitions again (with --force) so that "
                "they are all in the project's DuckDB file.",
            )
        if not keys:
            return _empty_table(as_type)
        return _read_duckdb(databases.pop(), as_type, asset, keys, lock_timeout)
    if kind not in (PARQUET, JSON):
        raise StoreError(
            f"cannot read the partitions of asset '{asset}' of storage kind {kind!r}.",
            hint=f"The storage kinds are {', '.join(KINDS)}.",
        )
    paths = {key: Path(path) for key, path in paths_by_key.items() if path is not None}
    missing = [key for key in keys if key not in paths or not paths[key].is_file()]
    if missing:
        raise _missing_partitions_error(asset, missing, paths)
    if kind == JSON:
        values = {key: _load_json(paths[key]) for key in keys}
        return _validate_as(values, as_type, f"the JSON outputs of asset '{asset}' ({keys!r})")
    if not keys:
        return _empty_table(as_type)
    return _read_parquet_partitions(asset, [paths[key] for key in keys], as_type)


def _store_nothing(asset: str, value: object) -> StoredOutput:
    if value is not None:
        raise WriteError(
            f"asset '{asset}' stores nothing (its storage kind is 'none', as for an "
            f"asset annotated '-> None') but it returned a {type_name(value)}.",
            hint="Return None from an asset that writes its data elsewhere, or annotate "
            "the return type with what it returns so assetflow stores it.\n" + SUPPORTED,
        )
    return StoredOutput(NONE, None, None, None, (), None)


def _write_parquet(asset: str, value: object, path: Path) -> StoredOutput:
    from assetflow.io.parquet import column_types, to_arrow_table, write_table

    table = to_arrow_table(value, asset=asset)
    version = table_version(table)
    with atomic_path(path, asset=asset) as temp:
        write_table(table, temp, asset=asset)
        size = temp.stat().st_size
    logger.debug("wrote %s: %d rows, %d bytes, version %s", path, table.num_rows, size, version)
    return StoredOutput(PARQUET, path, table.num_rows, size, column_types(table), version)


def _write_json(asset: str, value: object, path: Path) -> StoredOutput:
    if is_table(value):
        raise WriteError(
            f"asset '{asset}' is stored as JSON but returned a {type_name(value)}.",
            hint="A pandas.DataFrame or pyarrow.Table is stored as Parquet "
            '(io="parquet"); JSON holds dicts, lists, strings, numbers, booleans, None '
            "and pydantic models.",
        )
    json_value = to_json_value(value, asset=asset)
    version = json_version(json_value)
    text = json.dumps(json_value, ensure_ascii=False, indent=_JSON_INDENT, allow_nan=False)
    data = (text + "\n").encode("utf-8")
    write_bytes_atomically(path, data, asset=asset)
    rows = len(json_value) if isinstance(json_value, list) else None
    logger.debug("wrote %s: %d bytes, version %s", path, len(data), version)
    return StoredOutput(JSON, path, rows, len(data), (), version)


def _validated(value: object, as_type: object, path: Path) -> object:
    """``value`` validated into the type ``as_type`` by pydantic; as it is if no type is asked.

    No type is asked when ``as_type`` is None, ``Any``, ``object``, text (an
    annotation that could not be resolved) or any other non-type marker.
    """
    return _validate_as(value, as_type, f"the JSON output '{path}'")


def _validate_as(value: object, as_type: object, subject: str) -> object:
    """As ``_validated``, for ``subject`` ("the JSON output '<path>'") in messages."""
    is_type = isinstance(as_type, type) or get_origin(as_type) is not None
    if not is_type or as_type in (object, Any):
        return value
    import pydantic

    try:
        adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(cast(Any, as_type))
    except pydantic.PydanticSchemaGenerationError as error:
        raise StoreError(
            f"cannot read {subject} as {as_type!r}: {error}",
            hint="A JSON output is read as plain values or as a type pydantic can "
            "validate (a model, list[Model], dict[str, int], ...): change the annotation.",
        ) from error
    try:
        return adapter.validate_python(value)
    except pydantic.ValidationError as error:
        raise StoreError(
            f"{subject} does not fit the type {as_type!r}: {error}",
            hint="The input's annotation differs from what the upstream asset stored: "
            "change the annotation, or materialize the upstream asset again.",
        ) from error


def _write_duckdb(
    asset: str, value: object, database: Path, partition: str | None, lock_timeout: float
) -> StoredOutput:
    from assetflow.io.duckdb import write_table
    from assetflow.io.parquet import column_types, to_arrow_table

    if not is_table(value):
        raise WriteError(
            f"asset '{asset}' is stored in DuckDB (io=\"duckdb\") but returned a "
            f"{type_name(value)}, which is not a table.",
            hint="DuckDB stores a pandas.DataFrame or a pyarrow.Table: return one (e.g. "
            'pd.DataFrame(records)), or store the value as JSON (io="json").\n' + SUPPORTED,
        )
    table = to_arrow_table(value, asset=asset)
    version = table_version(table)
    stored = write_table(database, asset, table, partition=partition, lock_timeout=lock_timeout)
    size = table.nbytes
    logger.debug("wrote %s to %s: %d rows, version %s", asset, database, table.num_rows, version)
    return StoredOutput(DUCKDB, database, table.num_rows, size, column_types(stored), version)


def _read_duckdb(
    database: Path,
    as_type: object,
    asset: str | None,
    partitions: Sequence[str] | None,
    lock_timeout: float,
) -> object:
    if asset is None:
        raise StoreError(
            f"cannot read an output of storage kind 'duckdb' from '{database}' without the "
            "asset's name: every DuckDB asset is a table in that one file.",
            hint="Pass asset=<the asset's name> to read_output().",
        )
    from assetflow.io.duckdb import read_table, to_frame
    from assetflow.io.parquet import _wants_arrow_table

    table = read_table(Path(database), asset, partitions=partitions, lock_timeout=lock_timeout)
    return table if _wants_arrow_table(as_type) else to_frame(table)


def _read_parquet_partitions(asset: str, paths: list[Path], as_type: object) -> object:
    """The Parquet files, read as one dataset (in their order) with a unified schema."""
    import pyarrow as pa
    import pyarrow.dataset as ds
    from pyarrow import fs

    from assetflow.io.parquet import _wants_arrow_table

    try:
        factory = ds.FileSystemDatasetFactory(
            fs.LocalFileSystem(),
            [str(path.absolute()) for path in paths],
            ds.ParquetFileFormat(),
            ds.FileSystemFactoryOptions(),
        )
        schema = factory.inspect(promote_options="permissive", fragments=None)
        table = factory.finish(schema).to_table()
    except FileNotFoundError as error:  # deleted since it was checked
        raise _missing_output_error(Path(error.filename or paths[0])) from error
    except (pa.ArrowException, OSError) as error:
        raise StoreError(
            f"cannot read the {len(paths)} Parquet partitions of asset '{asset}' as one "
            f"table: {error}",
            hint="A column has types in different partitions that do not combine (e.g. "
            "text in one and numbers in another), or a file is damaged: materialize the "
            "asset's partitions again (with --force).",
        ) from error
    return table if _wants_arrow_table(as_type) else table.to_pandas()


def _empty_table(as_type: object) -> object:
    from assetflow.io.parquet import _wants_arrow_table

    if _wants_arrow_table(as_type):
        import pyarrow as pa

        return pa.table({})
    import pandas as pd

    return pd.DataFrame()


def _load_json(path: Path) -> object:
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError as error:
        raise _missing_output_error(path) from error
    except (OSError, ValueError) as error:
        raise _unreadable_json_error(path, error) from error


def _unreadable_json_error(path: Path, error: Exception) -> StoreError:
    return StoreError(
        f"cannot read the JSON output '{path}': {error}",
        hint="The file is damaged or was not written by assetflow: materialize the "
        "asset again (with --force).",
    )


def _missing_output_error(path: Path) -> StoreError:
    return StoreError(
        f"the stored output '{path}' is missing.",
        hint="It was moved or deleted after it was written: materialize the asset "
        "again (with --force).",
    )


def _missing_partitions_error(asset: str, missing: list[str], paths: dict[str, Path]) -> StoreError:
    shown = ", ".join(repr(key) for key in missing)
    example = next((str(paths[key]) for key in missing if key in paths), None)
    where = f" (e.g. '{example}')" if example else ""
    return StoreError(
        f"asset '{asset}' has {len(missing)} partition(s) whose stored output is "
        f"missing: {shown}{where}.",
        hint="They were never materialized, or were moved or deleted since: materialize "
        "them again (with --force).",
    )
