"""Parquet storage (``io="parquet"``): one file per asset-partition, written beside and renamed.

``to_arrow_table`` is the one conversion: ``ParquetIO.write`` hashes and writes
the table it returns, and ``data_version`` hashes the same table, so a DataFrame
is converted once per write and the version is the version of what is stored.
"""

from __future__ import annotations

import logging
import os
import sys
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from assetflow.datahash import table_version
from assetflow.errors import StoreError, WriteError
from assetflow.io.atomic import write_atomically
from assetflow.io.base import (
    Holds,
    IOSettings,
    OutputHead,
    OutputRef,
    OutputStat,
    StoredOutput,
    WriteTarget,
)
from assetflow.io.files import (
    missing_output_error,
    new_object,
    one_file,
    partition_files,
    quick_digest,
    remote_or_file_stat,
    remote_or_file_stats,
    remote_partition_keys,
    unreadable_error,
)
from assetflow.io.paths import output_path
from assetflow.io.remote import RemoteStorage
from assetflow.io.storage import local_directory, remote_storage
from assetflow.io.values import PARQUET, unsupported_value_error

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

#: Parquet's and pyarrow's default codec: fast to write and read. zstd would make
#: files about a third smaller for about 50% more write time.
PARQUET_COMPRESSION = "snappy"


@dataclass(frozen=True, slots=True)
class ParquetIO:
    """Tables as Parquet files: ``<data>/<asset>.parquet``, or one file per partition."""

    settings: IOSettings = field(default_factory=IOSettings)
    kind: str = PARQUET
    holds: Holds = "tables"
    partitions_share_path: bool = False

    def write(self, value: object, target: WriteTarget) -> StoredOutput:
        """Write the table to its file atomically (see ``assetflow.io.atomic``), or on
        object storage to a key of its own (see ``assetflow.io.storage``)."""
        table = to_arrow_table(value, asset=target.asset)
        version = table_version(table)
        remote = remote_storage(self.settings)
        if remote is not None:
            return _write_remote(remote, table, version, target)
        directory = local_directory(self.settings, target.directory)
        path = output_path(directory, target.asset, PARQUET, target.partition)

        def write(handle: BinaryIO) -> None:
            write_table(table, handle, asset=target.asset)

        size = write_atomically(path, write, asset=target.asset)
        logger.debug("wrote %s: %d rows, %d bytes, version %s", path, table.num_rows, size, version)
        return StoredOutput(
            PARQUET,
            path,
            table.num_rows,
            size,
            column_types(table),
            version,
            os.stat(path).st_mtime,
            quick_digest(path),
        )

    def read(self, ref: OutputRef, as_type: object = None) -> object:
        """Read the file as a DataFrame (a Table if ``as_type`` asks for ``pyarrow.Table``)."""
        path = one_file(ref, PARQUET)
        remote = remote_storage(self.settings)
        key = remote.key(path) if remote is not None else None
        try:
            if remote is not None and key is not None:
                # One request for the whole object: reading it by ranges costs a round
                # trip for the footer and another per column chunk.
                data = remote.read_bytes(key)
                return read_table(pa.BufferReader(data), as_type, shown=remote.shown(key))
            return read_table(path, as_type)
        except FileNotFoundError as error:
            raise missing_output_error(_shown(remote, key, path)) from error

    def read_partitions(
        self, asset: str, refs: Sequence[OutputRef], as_type: object = None
    ) -> object:
        """Read the files as one dataset, concatenated in order; no partition column is
        added. A column missing from some partitions is null there; types are promoted
        where pyarrow can (int32 and int64 give int64)."""
        remote = remote_storage(self.settings)
        if remote is not None and refs and all(remote.key(ref.path) for ref in refs):
            keys = remote_partition_keys(remote, asset, refs)
            if not keys:
                return empty_table(as_type)
            with remote.errors(keys[0], "read"):
                return _read_dataset(asset, keys, as_type, filesystem=remote.filesystem())
        paths = partition_files(asset, refs)
        if not paths:
            return empty_table(as_type)
        return _read_dataset(asset, [str(path.absolute()) for path in paths], as_type)

    def stat(self, ref: OutputRef) -> OutputStat | None:
        """The file's size and modification time; None if it is missing."""
        return remote_or_file_stat(self.settings, ref)

    def head(self, ref: OutputRef, limit: int) -> OutputHead:
        """The first ``limit`` rows, read batch by batch from the first row groups only;
        the total comes from the file's footer."""
        path = one_file(ref, PARQUET)
        remote = remote_storage(self.settings)
        key = remote.key(path) if remote is not None else None
        opened = None
        try:
            if remote is not None and key is not None:
                with remote.errors(key, "read"):
                    opened = remote.open(key)
                    parquet_file = pq.ParquetFile(opened)
            else:
                parquet_file = pq.ParquetFile(path)
            batches = []
            taken = 0
            if limit > 0:
                for batch in parquet_file.iter_batches(batch_size=limit):
                    batches.append(batch.slice(0, limit - taken))
                    taken += min(batch.num_rows, limit - taken)
                    if taken >= limit:
                        break
            table = pa.Table.from_batches(batches, schema=parquet_file.schema_arrow)
        except FileNotFoundError as error:
            raise missing_output_error(_shown(remote, key, path)) from error
        except (pa.ArrowException, OSError) as error:
            raise unreadable_error("Parquet", _shown(remote, key, path), error) from error
        finally:
            if opened is not None:
                opened.close()
        return OutputHead(table, parquet_file.metadata.num_rows)

    def stat_files(self, paths: Sequence[str]) -> list[OutputStat | None]:
        """``stat`` of many outputs by their files' paths (see ``assetflow.io.stats``)."""
        return remote_or_file_stats(self.settings, paths)


def _write_remote(
    remote: RemoteStorage, table: pa.Table, version: str, target: WriteTarget
) -> StoredOutput:
    """Write the table to a new object of its own; its stand-in path is what is recorded."""
    path, key = new_object(remote, target, PARQUET, version)
    sink = pa.BufferOutputStream()
    write_table(table, sink, asset=target.asset)
    data = sink.getvalue().to_pybytes()
    remote.put(key, data, asset=target.asset)
    return StoredOutput(PARQUET, path, table.num_rows, len(data), column_types(table), version)


def _shown(remote: RemoteStorage | None, key: str | None, path: Path) -> Path | str:
    """What a message names: the object's URL, or the local file."""
    return remote.shown(key) if remote is not None and key is not None else path


def empty_table(as_type: object) -> object:
    """A table with no rows and no columns: a Table if ``as_type`` asks for one, else a
    DataFrame."""
    if _wants_arrow_table(as_type):
        return pa.table({})
    import pandas as pd

    return pd.DataFrame()


def _read_dataset(
    asset: str, paths: list[str], as_type: object, *, filesystem: object = None
) -> object:
    """The Parquet files (absolute paths, or keys on an fsspec ``filesystem``), read as
    one dataset (in their order) with a unified schema."""
    import pyarrow.dataset as ds
    from pyarrow import fs

    try:
        files = (
            fs.LocalFileSystem()
            if filesystem is None
            else fs.PyFileSystem(fs.FSSpecHandler(filesystem))
        )
        factory = ds.FileSystemDatasetFactory(
            files,
            paths,
            ds.ParquetFileFormat(),
            ds.FileSystemFactoryOptions(),
        )
        schema = factory.inspect(promote_options="permissive", fragments=None)
        table = factory.finish(schema).to_table()
    except FileNotFoundError as error:  # deleted since it was checked
        raise missing_output_error(Path(error.filename or paths[0])) from error
    except (pa.ArrowException, OSError) as error:
        raise StoreError(
            f"cannot read the {len(paths)} Parquet partitions of asset '{asset}' as one "
            f"table: {error}",
            hint="A column has types in different partitions that do not combine (e.g. "
            "text in one and numbers in another), or a file is damaged: materialize the "
            "asset's partitions again (with --force).",
        ) from error
    return table if _wants_arrow_table(as_type) else table.to_pandas()


def to_arrow_table(value: object, *, asset: str = "") -> pa.Table:
    """Return the Arrow table that storing ``value`` as Parquet writes.

    A DataFrame's index is stored as pandas' own rules of thumb suggest (see
    ``frame_to_arrow``): row labels are dropped, a meaningful index is a column.

    Args:
        value: A pandas DataFrame or a pyarrow Table.
        asset: The asset's name, for the error message.

    Returns:
        The table (``value`` itself when it is already a Table).

    Raises:
        WriteError: ``value`` is not a table, or a column cannot be converted
            (e.g. an object column mixing strings and numbers).
    """
    if isinstance(value, pa.Table):
        return value
    pandas = sys.modules.get("pandas")
    if pandas is None or not isinstance(value, pandas.DataFrame):
        raise unsupported_value_error(value, asset=asset, stored_as=PARQUET)
    try:
        return frame_to_arrow(value)
    except (pa.ArrowException, ValueError, TypeError) as error:
        raise _conversion_error(value, asset, error) from error


def frame_to_arrow(frame: pd.DataFrame) -> pa.Table:
    """A DataFrame as an Arrow table, its index kept only where it is data.

    - An unnamed integer index (a ``RangeIndex`` of any start and step, or the
      integer labels that filtering, sorting or ``concat`` leave) is row labels,
      not data: it is dropped, so that ``df[df.amount > 0]`` stores the same
      columns as ``df`` and the schema does not change from one partition to the
      next. It reads back as a fresh ``RangeIndex``.
    - Any other index (one with a name, or of dates, strings, a ``MultiIndex``)
      is data: it is stored as column(s) and read back as the index. An unnamed
      level is named as ``reset_index`` names it (``index``, or ``level_<n>`` in a
      ``MultiIndex``), never pyarrow's ``__index_level_0__``.

    Raises:
        pyarrow.ArrowException, ValueError, TypeError: A column cannot be converted.
    """
    import pandas as pd

    index = frame.index
    is_row_labels = (
        index.nlevels == 1
        and index.name is None
        and (isinstance(index, pd.RangeIndex) or pd.api.types.is_integer_dtype(index.dtype))
    )
    if is_row_labels:
        return pa.Table.from_pandas(frame, preserve_index=False)
    if any(name is None for name in index.names):
        names = (
            ["index"]
            if index.nlevels == 1
            else [name if name is not None else f"level_{n}" for n, name in enumerate(index.names)]
        )
        frame = frame.rename_axis(names)
    return pa.Table.from_pandas(frame, preserve_index=True)


def write_table(table: pa.Table, path: Path | BinaryIO, *, asset: str = "") -> None:
    """Write ``table`` to a Parquet file: a path or an open binary file (callers pass a
    temporary one).

    Raises:
        WriteError: Parquet cannot hold one of the table's column types.
        OSError: The file could not be written.
    """
    try:
        pq.write_table(table, path, compression=PARQUET_COMPRESSION)
    except pa.ArrowException as error:
        if isinstance(error, OSError):
            raise
        raise WriteError(
            f"asset '{asset}' returned a table that Parquet cannot store: {error}",
            hint="Cast the column to a type Parquet supports (numbers, strings, bytes, "
            "booleans, dates and times, decimals, lists, structs and maps).",
        ) from error


def read_table(
    path: Path | pa.BufferReader, as_type: object = None, *, shown: object = None
) -> object:
    """Read a Parquet output as a pandas DataFrame, or as a pyarrow Table when asked.

    Args:
        path: The Parquet file, or its bytes.
        shown: What messages call it (the object's URL, for bytes); default ``path``.
        as_type: The reader's annotation. ``pyarrow.Table`` (also as text, or
            inside ``Annotated``) gives a Table; anything else a DataFrame.
            Checking the annotation is the type checker's job, not the reader's.


    Returns:
        The stored table.

    Raises:
        FileNotFoundError: The file is missing.
        StoreError: The file cannot be read as Parquet.
    """
    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        raise
    except (pa.ArrowException, OSError) as error:
        raise StoreError(
            f"cannot read the Parquet output '{shown or path}': {error}",
            hint="The file is damaged or was not written by assetflow: materialize the "
            "asset again (with --force).",
        ) from error
    if _wants_arrow_table(as_type):
        return table
    return table.to_pandas()


def column_types(table: pa.Table) -> tuple[tuple[str, str], ...]:
    """Each stored column's name and Arrow type, as text (index columns included)."""
    return tuple((field.name, str(field.type)) for field in table.schema)


def _conversion_error(frame: object, asset: str, error: Exception) -> WriteError:
    """Name the first column pyarrow cannot convert, and say how to fix it."""
    for position, name in enumerate(frame.columns):  # type: ignore[attr-defined]
        column = frame.iloc[:, position]  # type: ignore[attr-defined]
        try:
            pa.Array.from_pandas(column)
        except (pa.ArrowException, ValueError, TypeError) as column_error:
            return WriteError(
                f"asset '{asset}' returned a DataFrame whose column {name!r} (dtype "
                f"{column.dtype}) cannot be stored as Parquet: {column_error}",
                hint=f"Give the column one type, e.g. df[{name!r}] = df[{name!r}].astype(str) "
                "for an object column that mixes strings and numbers.",
            )
    return WriteError(
        f"asset '{asset}' returned a DataFrame that cannot be stored as Parquet: {error}",
        hint="Give the columns unique string names and give each column one type.",
    )


def _wants_arrow_table(as_type: object) -> bool:
    if typing.get_origin(as_type) is typing.Annotated:
        as_type = typing.get_args(as_type)[0]
    if isinstance(as_type, str):  # an annotation that could not be resolved
        return as_type.rsplit(".", 1)[-1] == "Table"
    return isinstance(as_type, type) and issubclass(as_type, pa.Table)
