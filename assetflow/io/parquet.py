"""Parquet storage: a DataFrame or Table becomes the Arrow table that is written, and back.

``to_arrow_table`` is the one conversion: ``write_output`` hashes and writes the
table it returns, and ``data_version`` hashes the same table, so a DataFrame is
converted once per write and the version is the version of what is stored.
"""

from __future__ import annotations

import logging
import sys
import typing
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from assetflow.errors import StoreError, WriteError
from assetflow.io.values import PARQUET, unsupported_value_error

logger = logging.getLogger(__name__)

#: Parquet's and pyarrow's default codec: fast to write and read. zstd would make
#: files about a third smaller for about 50% more write time.
PARQUET_COMPRESSION = "snappy"


def to_arrow_table(value: object, *, asset: str = "") -> pa.Table:
    """Return the Arrow table that storing ``value`` as Parquet writes.

    A pandas index that is not the default ``RangeIndex`` is kept: as columns
    for most indexes, as metadata for a ``RangeIndex`` (pyarrow's
    ``preserve_index=None``).

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
        return pa.Table.from_pandas(value, preserve_index=None)
    except (pa.ArrowException, ValueError, TypeError) as error:
        raise _conversion_error(value, asset, error) from error


def write_table(table: pa.Table, path: Path, *, asset: str = "") -> None:
    """Write ``table`` to the Parquet file ``path`` (callers pass a temporary file).

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


def read_table(path: Path, as_type: object = None) -> object:
    """Read a Parquet output as a pandas DataFrame, or as a pyarrow Table when asked.

    Args:
        path: The Parquet file.
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
            f"cannot read the Parquet output '{path}': {error}",
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
