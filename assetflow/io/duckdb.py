"""DuckDB storage: each DuckDB asset is one table, named as the asset, in one database file.

All DuckDB assets of a project share one file (``<state_dir>/warehouse.duckdb``).
DuckDB lets one process at a time open a file for writing, so every write
opens its own connection, waits (with backoff, up to a timeout) while another
process holds the file, and closes the connection when done.

- An unpartitioned asset's table is replaced whole, in one transaction.
- A partitioned asset's table has one more column, ``partition_key VARCHAR``.
  Writing a partition runs one transaction: create the table if missing, adapt
  its columns, delete the partition's rows, insert the new ones, commit. DuckDB
  makes the commit atomic (its write-ahead log holds committed transactions
  only), so a process killed at any moment leaves the old rows or the new ones,
  never a mix. An empty frame leaves the partition with no rows.
- Schema evolution across partitions: a new column is added (NULL in the rows
  of other partitions); a column the new data lacks stays (NULL in the new
  rows); a column whose type widens losslessly (a narrower integer, an integer
  or a float to DOUBLE, a coarser timestamp) is widened; a column that holds
  nothing but NULLs in the other partitions takes the new type. Any other type
  change is a ``WriteError``: the table would have to change for every partition.

What comes back from a DuckDB table (``to_frame``): pandas 3 ``str`` for
strings, and, since every SQL column may hold NULL, pandas' nullable ``Int64``
(and kin) for integers and ``boolean`` for booleans, even where the written
frame had ``int64`` or ``bool``. Floats stay ``float64`` (NaN for NULL).
Categoricals are stored as their values (VARCHAR for string categories), so
they come back as ``str``: categories and their order are not kept (store the
asset as Parquet to keep them). Timezone-aware timestamps are stored as
DuckDB timestamps with time zone and come back as the same instants
in UTC. ``datetime.date`` values are ``DATE`` and come back as ``datetime.date``
objects. Timedeltas are ``INTERVAL`` and come back as ``timedelta64[us]``. A
pandas index is not kept as an index: an index that is data (named, or of
dates or strings) is stored as column(s) and read back as such; unnamed integer
labels are not stored (see ``assetflow.io.parquet.frame_to_arrow``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

try:
    import fcntl
except ImportError:  # Windows: DuckDB's own lock and the retries do the queueing
    fcntl = None  # type: ignore[assignment]

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from assetflow.errors import AssetflowError, StoreError, WriteError
from assetflow.io.atomic import _os_error

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

#: The one database file of a project's DuckDB assets, in its state directory.
DATABASE_FILE = "warehouse.duckdb"
#: The column of a partitioned asset's table that holds each row's partition key.
PARTITION_COLUMN = "partition_key"
#: The first wait after finding the file locked; each later wait doubles, up to the cap.
_FIRST_RETRY_DELAY_S = 0.02
_MAX_RETRY_DELAY_S = 0.5
#: Each wait is stretched by up to this fraction at random, so waiting writers spread out.
_RETRY_JITTER = 0.5
#: Timestamps with a time zone come back in this zone, whatever the machine's zone is.
_SESSION_TIME_ZONE = "UTC"
#: The name the data being written is registered under, for the SQL that reads it.
_NEW_ROWS = "assetflow_new_rows"
#: DuckDB's name for the type of a column that holds only NULLs (an all-None column).
_NULL_TYPE = '"NULL"'
_SIGNED_BITS = {"TINYINT": 8, "SMALLINT": 16, "INTEGER": 32, "BIGINT": 64, "HUGEINT": 128}
_UNSIGNED_BITS = {"UTINYINT": 8, "USMALLINT": 16, "UINTEGER": 32, "UBIGINT": 64, "UHUGEINT": 128}
_TIMESTAMP_PRECISION = {"TIMESTAMP_S": 0, "TIMESTAMP_MS": 1, "TIMESTAMP": 2, "TIMESTAMP_NS": 3}
_HOLDER = re.compile(r"Conflicting lock is held in (?P<holder>.+?)(?:\. See also.*)?$", re.DOTALL)
_DROP_HINT = "drop the table (`DROP TABLE {table}` in the DuckDB file '{database}')"
_NANOSECONDS_PER_DAY = 86_400 * 10**9
#: Where the wait for a held file is set, as messages name it.
_WAIT_SETTING = "`duckdb_wait` in the project configuration"
#: How other programs read without holding the file (docs/partitions.md says more).
_BI_HINT = (
    "Tools that read the tables (BI tools, notebooks) should not keep the file open: "
    "see 'Reading the outputs from other tools' in docs/partitions.md."
)

_T = TypeVar("_T")


#: How long a step queues behind other assetflow processes using the DuckDB file, and
#: how often it looks (holds are short: one write or read, never the user's code).
_QUEUE_WAIT_S = 60.0
_QUEUE_POLL_S = 0.002

#: Serialises this process's writes to DuckDB files (see write_table).
_WRITERS = threading.Lock()


def database_path(directory: Path) -> Path:
    """The DuckDB file for outputs stored under ``directory`` (``<state_dir>/data``):
    ``<state_dir>/warehouse.duckdb``, beside the data directory, not in it."""
    return Path(directory).parent / DATABASE_FILE


def write_table(
    database: Path,
    asset: str,
    table: pa.Table,
    *,
    partition: str | None,
    lock_timeout: float,
) -> pa.Table:
    """Replace an asset's table, or one partition of it, in one transaction.

    Args:
        database: The DuckDB file; it and its directory are created if missing.
        asset: The asset's name, which is the table's name.
        table: The rows to store (see ``to_arrow_table``).
        partition: The partition key, or None for an unpartitioned asset.
        lock_timeout: Seconds to wait while another process holds the file.

    Returns:
        The Arrow table as inserted (dictionary columns decoded to their values).

    Raises:
        WriteError: The table cannot hold the data (a ``partition_key`` column,
            an incompatible type change, no columns), the file stayed locked
            for ``lock_timeout`` seconds, or DuckDB failed. Nothing is written then.
    """
    _check_name(asset, WriteError)
    stored = _storable(table, asset, partition)
    where = _where(asset, partition)
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _os_error(error, database, asset) from error

    def attempt() -> None:
        # DuckDB takes one writer process per file, and concurrent writers in one
        # process race on its catalog (a table's first creation fails the other with
        # "python_arrow_scan does not exist"): this process writes one at a time.
        with _WRITERS, _connection(database, read_only=False) as connection:
            if partition is None:
                _replace_table(connection, asset, stored)
            else:
                _replace_partition(connection, database, asset, stored, partition)

    def failure(error: duckdb.Error, detail: str | None) -> AssetflowError:
        if detail is not None:
            return WriteError(
                f"the DuckDB file '{database}' is locked by another process ({detail}); "
                f"nothing was written for {where}.",
                hint=f"Waited {lock_timeout:g} s ({_WAIT_SETTING}). Wait for that process "
                f"to finish or close it, then re-run. {_BI_HINT}",
            )
        return WriteError(
            f"cannot write {where} to the DuckDB file '{database}': {error}",
            hint="Nothing was written. If the file is damaged or was not written by "
            "assetflow, move it away and materialize its assets again (with --force).",
        )

    _with_lock_retries(attempt, lock_timeout=lock_timeout, failure=failure)
    logger.debug("wrote %s to %s: %d rows", where, database, stored.num_rows)
    return stored


def delete_rows(database: Path, asset: str, *, partition: str | None, lock_timeout: float) -> None:
    """Delete one partition's rows of an asset's table (the whole table when ``partition``
    is None), in one transaction. A missing file, table or partition is already deleted.

    Raises:
        WriteError: The file stayed locked, or DuckDB failed; nothing was deleted.
    """
    if not database.exists():
        return
    where = _where(asset, partition)

    def attempt() -> None:
        with (
            _WRITERS,
            _connection(database, read_only=False) as connection,
            _transaction(connection),
        ):
            columns = _table_columns(connection, asset, WriteError)
            if columns is None:
                return
            if partition is None:
                connection.execute(f"DROP TABLE {_quote(asset)}")
            elif any(name == PARTITION_COLUMN for name, _ in columns):
                connection.execute(
                    f"DELETE FROM {_quote(asset)} WHERE {PARTITION_COLUMN} = $key",
                    {"key": partition},
                )

    def failure(error: duckdb.Error, detail: str | None) -> AssetflowError:
        cause = f"it is locked by another process ({detail})" if detail else str(error)
        return WriteError(
            f"cannot delete {where} from the DuckDB file '{database}': {cause}; nothing "
            "was deleted.",
            hint=f"Wait for that process to finish or close it, then re-run. {_BI_HINT}",
        )

    _with_lock_retries(attempt, lock_timeout=lock_timeout, failure=failure)
    logger.debug("deleted %s from %s", where, database)


def read_table(
    database: Path,
    asset: str,
    *,
    partitions: Sequence[str] | None = None,
    lock_timeout: float,
) -> pa.Table:
    """Read an asset's table, or some of its partitions, in one query, as Arrow.

    Rows come partition by partition (in the order of ``partitions``, or by key
    when all are read), each partition's rows in the order they were inserted.
    The ``partition_key`` column is left out: readers get the asset's columns.

    Args:
        database: The DuckDB file.
        asset: The asset's name, which is the table's name.
        partitions: The partition keys to read, or None for all rows. A key
            with no rows (an empty partition) adds nothing.
        lock_timeout: Seconds to wait while another process writes the file.

    Raises:
        StoreError: The file or the table is missing, partitions were asked of
            an unpartitioned table, the file stayed locked, or DuckDB failed.
    """
    _check_readable(database, asset)

    def attempt() -> pa.Table:
        with _connection(database, read_only=True) as connection:
            columns = _stored_columns(connection, database, asset)
            query, parameters = _select(database, asset, columns, partitions)
            if query is None:  # a partitioned table without columns of its own holds no rows
                return pa.table({})
            return connection.sql(query, params=parameters).to_arrow_table()

    failure = _read_failure(database, asset, lock_timeout)
    return _with_lock_retries(attempt, lock_timeout=lock_timeout, failure=failure)


def read_head(
    database: Path,
    asset: str,
    *,
    partition: str | None,
    limit: int,
    lock_timeout: float,
) -> tuple[pa.Table, int]:
    """The first ``limit`` rows of an asset's table (or of one partition), and how many
    rows it holds: a ``LIMIT`` query and a count, never the whole table.

    Raises:
        StoreError: As for ``read_table``.
    """
    _check_readable(database, asset)

    def attempt() -> tuple[pa.Table, int]:
        with _connection(database, read_only=True) as connection:
            columns = _stored_columns(connection, database, asset)
            keys = [partition] if partition is not None else None
            query, parameters = _select(database, asset, columns, keys)
            if query is None:
                return pa.table({}), 0
            head = connection.sql(
                f"{query} LIMIT {max(int(limit), 0)}", params=parameters
            ).to_arrow_table()
            count = connection.execute(f"SELECT count(*) FROM ({query})", parameters).fetchone()
            return head, int(count[0]) if count is not None else head.num_rows

    failure = _read_failure(database, asset, lock_timeout)
    return _with_lock_retries(attempt, lock_timeout=lock_timeout, failure=failure)


def count_rows(
    database: Path, asset: str, *, partition: str | None, lock_timeout: float
) -> int | None:
    """How many rows an asset's table (or one partition of it) holds, without reading them.

    Args:
        database: The DuckDB file.
        asset: The asset's name, which is the table's name.
        partition: The partition key, or None for the whole table.
        lock_timeout: Seconds to wait while another process writes the file.

    Returns:
        The row count; None when the file or the table is missing, or a partition
        is asked of a table stored unpartitioned. A partition never written and
        one written empty both count 0.

    Raises:
        StoreError: The file stayed locked, or DuckDB failed.
    """
    _check_name(asset, StoreError)
    if not Path(database).is_file():
        return None

    def attempt() -> int | None:
        with _connection(database, read_only=True) as connection:
            columns = _table_columns(connection, asset, StoreError)
            if columns is None:
                return None
            is_partitioned = any(name.lower() == PARTITION_COLUMN for name, _ in columns)
            query, parameters = f"SELECT count(*) FROM {_quote(asset)}", {}
            if partition is not None:
                if not is_partitioned:
                    return None
                query += f" WHERE {PARTITION_COLUMN} = $key"
                parameters = {"key": partition}
            row = connection.execute(query, parameters).fetchone()
            return int(row[0]) if row is not None else 0

    def failure(error: duckdb.Error, detail: str | None) -> AssetflowError:
        return StoreError(
            f"cannot count the rows of asset '{asset}' in the DuckDB file '{database}': "
            f"{detail or error}",
            hint=f"Waited up to {lock_timeout:g} s ({_WAIT_SETTING}). If another process "
            "holds the file, wait "
            "for it to finish; if the file is damaged, move it away and materialize its "
            "assets again (with --force).",
        )

    return _with_lock_retries(attempt, lock_timeout=lock_timeout, failure=failure)


#: An asset's rows: (all of them, by partition key; empty for a table stored unpartitioned).
RowCounts = tuple[int, dict[str, int]]


def count_tables_rows(
    database: Path, assets: Sequence[str], *, lock_timeout: float
) -> dict[str, RowCounts | None]:
    """The rows of several assets' tables, and of each of their partitions, through one
    connection and one query per table: what ``count_rows`` tells of one partition, for
    all of them at once. A plan verifies every partition it calls fresh, and opening
    the file costs more than counting a table.

    Returns:
        The counts of each asset, or None when the file or its table is missing.

    Raises:
        StoreError: The file stayed locked, or DuckDB failed.
    """
    for asset in assets:
        _check_name(asset, StoreError)
    if not Path(database).is_file():
        return dict.fromkeys(assets)

    def attempt() -> dict[str, RowCounts | None]:
        with _connection(database, read_only=True) as connection:
            return {asset: _count_table(connection, asset) for asset in assets}

    def failure(error: duckdb.Error, detail: str | None) -> AssetflowError:
        named = ", ".join(f"'{asset}'" for asset in assets)
        return StoreError(
            f"cannot count the rows of {named} in the DuckDB file '{database}': {detail or error}",
            hint=f"Waited up to {lock_timeout:g} s. If another process holds the file, wait "
            "for it to finish; if the file is damaged, move it away and materialize its "
            "assets again (with --force).",
        )

    return _with_lock_retries(attempt, lock_timeout=lock_timeout, failure=failure)


def _count_table(connection: duckdb.DuckDBPyConnection, asset: str) -> RowCounts | None:
    columns = _table_columns(connection, asset, StoreError)
    if columns is None:
        return None
    if not any(name.lower() == PARTITION_COLUMN for name, _ in columns):
        row = connection.execute(f"SELECT count(*) FROM {_quote(asset)}").fetchone()
        return (int(row[0]) if row is not None else 0), {}
    rows = connection.execute(
        f"SELECT {PARTITION_COLUMN}, count(*) FROM {_quote(asset)} GROUP BY {PARTITION_COLUMN}"
    ).fetchall()
    counts = {str(key): int(count) for key, count in rows if key is not None}
    return sum(int(count) for _, count in rows), counts


def to_frame(table: pa.Table) -> pd.DataFrame:
    """Convert a table read from DuckDB to pandas, with nullable integers and booleans.

    Every SQL column may hold NULL, so integers come back as ``Int64`` (and kin)
    and booleans as ``boolean`` whether or not this read has a NULL: the dtype
    depends on the column, never on the rows read. Intervals without months
    come back as ``timedelta64[us]``.
    """
    import pandas as pd

    nullable = {
        pa.int8(): pd.Int8Dtype(),
        pa.int16(): pd.Int16Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(),
        pa.uint8(): pd.UInt8Dtype(),
        pa.uint16(): pd.UInt16Dtype(),
        pa.uint32(): pd.UInt32Dtype(),
        pa.uint64(): pd.UInt64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
    }
    for position, field in enumerate(table.schema):
        if pa.types.is_interval(field.type):
            durations = _as_durations(table.column(position))
            if durations is not None:
                table = table.set_column(position, field.name, durations)
    frame: pd.DataFrame = table.to_pandas(types_mapper=nullable.get)
    return frame


def _storable(table: pa.Table, asset: str, partition: str | None) -> pa.Table:
    """The table as DuckDB stores it, or the WriteError for a table it cannot hold."""
    where = _where(asset, partition)
    by_folded_name: dict[str, list[str]] = {}
    for name in table.column_names:
        by_folded_name.setdefault(name.lower(), []).append(name)
    clashes = sorted(names for names in by_folded_name.values() if len(names) > 1)
    if clashes:
        listed = ", ".join(" and ".join(repr(name) for name in names) for names in clashes)
        raise WriteError(
            f"{where} returned columns whose names differ only in case ({listed}); "
            "DuckDB column names ignore case, so its table cannot hold both.",
            hint='Rename one of each pair, or store the asset as Parquet (io="parquet").',
        )
    if partition is not None and PARTITION_COLUMN in by_folded_name:
        taken = by_folded_name[PARTITION_COLUMN][0]
        raise WriteError(
            f"{where} returned a column named {taken!r}, but a partitioned DuckDB table "
            f"uses the column '{PARTITION_COLUMN}' (in any case) for each row's partition key.",
            hint=f"Rename the column (e.g. df.rename(columns={{{taken!r}: 'source_partition'}})), "
            'or store the asset as Parquet (io="parquet"), which adds no column.',
        )
    if table.num_columns == 0 and (partition is None or table.num_rows):
        raise WriteError(
            f"{where} returned a table with no columns, and a DuckDB table needs at least one.",
            hint='Return at least one column, or store the asset as Parquet (io="parquet").',
        )
    for position, field in enumerate(table.schema):
        # Categories differ from partition to partition; their values do not clash.
        if pa.types.is_dictionary(field.type):
            values = pc.cast(table.column(position), field.type.value_type)
            table = table.set_column(position, field.name, values)
    return table.replace_schema_metadata(None)


def _replace_table(connection: duckdb.DuckDBPyConnection, asset: str, table: pa.Table) -> None:
    _table_columns(connection, asset, WriteError)  # refuses a name that differs only in case
    connection.register(_NEW_ROWS, table)
    with _transaction(connection):
        connection.execute(f"CREATE OR REPLACE TABLE {_quote(asset)} AS SELECT * FROM {_NEW_ROWS}")


def _replace_partition(
    connection: duckdb.DuckDBPyConnection,
    database: Path,
    asset: str,
    table: pa.Table,
    partition: str,
) -> None:
    name = _quote(asset)
    new_columns: list[tuple[str, str]] = []
    if table.num_columns:
        connection.register(_NEW_ROWS, table)
        described = connection.execute(f"DESCRIBE SELECT * FROM {_NEW_ROWS}").fetchall()
        new_columns = [(str(row[0]), str(row[1])) for row in described]
    key = {"key": partition}
    with _transaction(connection):
        stored = _table_columns(connection, asset, WriteError)
        left_out: list[str] = []
        if stored is None:
            definitions = [f"{PARTITION_COLUMN} VARCHAR"]
            definitions += [f"{_quote(column)} {kind}" for column, kind in new_columns]
            connection.execute(f"CREATE TABLE {name} ({', '.join(definitions)})")
        else:
            only_nulls = {
                field.name
                for field, column in zip(table.schema, table.columns, strict=True)
                if column.null_count == len(column)
            }
            left_out = _evolve(
                connection, database, asset, partition, stored, new_columns, only_nulls
            )
        connection.execute(f"DELETE FROM {name} WHERE {PARTITION_COLUMN} = $key", key)
        if table.num_rows:
            # Inserted by name: a table column that is not selected gets NULL.
            selected = f"* EXCLUDE ({', '.join(map(_quote, left_out))})" if left_out else "*"
            connection.execute(
                f"INSERT INTO {name} BY NAME SELECT {selected}, $key AS {PARTITION_COLUMN} "
                f"FROM {_NEW_ROWS}",
                key,
            )


def _evolve(
    connection: duckdb.DuckDBPyConnection,
    database: Path,
    asset: str,
    partition: str,
    stored: list[tuple[str, str]],
    new_columns: list[tuple[str, str]],
    only_nulls: set[str],
) -> list[str]:
    """Adapt a partitioned table's columns to a partition's data (see the module docstring).

    Returns:
        The new columns to leave out of the insert: they hold only nulls (an
        empty frame's columns, say, typed by pandas' guess), so whatever their
        type, the stored column's NULL says the same.
    """
    name = _quote(asset)
    stored_by_name = {column.lower(): (column, kind) for column, kind in stored}
    if PARTITION_COLUMN not in stored_by_name:
        raise WriteError(
            f"{_where(asset, partition)} is partitioned, but the DuckDB table '{asset}' has "
            f"no '{PARTITION_COLUMN}' column: it was written while the asset was not "
            "partitioned.",
            hint=f"To store the asset by partition, "
            f"{_DROP_HINT.format(table=name, database=database)} and materialize its "
            "partitions again (with --force).",
        )
    left_out = []
    for column, new_type in new_columns:
        found = stored_by_name.get(column.lower())
        if found is None:
            connection.execute(f"ALTER TABLE {name} ADD COLUMN {_quote(column)} {new_type}")
            continue
        stored_name, stored_type = found
        if new_type in (stored_type, _NULL_TYPE) or _widens(new_type, stored_type):
            continue  # the insert converts the new values
        alter = f"ALTER TABLE {name} ALTER COLUMN {_quote(stored_name)} SET DATA TYPE {new_type}"
        if column in only_nulls:
            left_out.append(column)  # no value to judge the type by: keep the stored one
        elif _widens(stored_type, new_type):
            connection.execute(alter)
        elif _holds_only_nulls_elsewhere(connection, asset, stored_name, partition):
            connection.execute(f"{alter} USING CAST(NULL AS {new_type})")
        else:
            raise WriteError(
                f"{_where(asset, partition)} has the column {column!r} as {new_type}, but the "
                f"DuckDB table '{asset}' stores it as {stored_type} for other partitions; a "
                "stored column's type only changes to a wider one that loses no value, so "
                "nothing was written.",
                hint=f"Return the column as {stored_type} again (e.g. df[{column!r}] = "
                f"df[{column!r}].astype(...)), or, to change its type for every partition, "
                f"{_DROP_HINT.format(table=name, database=database)} and materialize all "
                "partitions again (with --force).",
            )
    return left_out


def _widens(source: str, target: str) -> bool:
    """Whether every value of the DuckDB type ``source`` fits ``target`` unchanged.

    An integer fits DOUBLE exactly up to 2**53, as pandas' own int-to-float
    conversion does; a partition of whole amounts beside one of fractions is common.
    """
    if source in _SIGNED_BITS and target in _SIGNED_BITS:
        return _SIGNED_BITS[source] <= _SIGNED_BITS[target]
    if source in _UNSIGNED_BITS and target in _UNSIGNED_BITS:
        return _UNSIGNED_BITS[source] <= _UNSIGNED_BITS[target]
    if source in _UNSIGNED_BITS and target in _SIGNED_BITS:
        return _UNSIGNED_BITS[source] < _SIGNED_BITS[target]
    if target == "DOUBLE":
        return source in _SIGNED_BITS or source in _UNSIGNED_BITS or source == "FLOAT"
    if source in _TIMESTAMP_PRECISION and target in _TIMESTAMP_PRECISION:
        return _TIMESTAMP_PRECISION[source] <= _TIMESTAMP_PRECISION[target]
    return False


def _holds_only_nulls_elsewhere(
    connection: duckdb.DuckDBPyConnection, asset: str, column: str, partition: str
) -> bool:
    """Whether ``column`` is NULL in every row outside ``partition`` (so no value is lost)."""
    row = connection.execute(
        f"SELECT count({_quote(column)}) FROM {_quote(asset)} "
        f"WHERE {PARTITION_COLUMN} IS DISTINCT FROM $key",
        {"key": partition},
    ).fetchone()
    return row is not None and row[0] == 0


def _select(
    database: Path,
    asset: str,
    columns: list[tuple[str, str]],
    partitions: Sequence[str] | None,
) -> tuple[str | None, dict[str, object]]:
    """The one query that reads the asset's rows, and its parameters."""
    name = _quote(asset)
    is_partitioned = any(column.lower() == PARTITION_COLUMN for column, _ in columns)
    if not is_partitioned:
        if partitions is not None:
            raise StoreError(
                f"asset '{asset}' is stored unpartitioned in the DuckDB file '{database}', "
                f"so its partitions {list(partitions)!r} cannot be read.",
                hint="Materialize the asset's partitions again (with --force) if it is "
                "partitioned now.",
            )
        return f"SELECT * FROM {name}", {}
    if len(columns) == 1:
        return None, {}
    select = f"SELECT * EXCLUDE ({PARTITION_COLUMN}) FROM {name}"
    if partitions is None:
        return f"{select} ORDER BY {PARTITION_COLUMN}, rowid", {}
    keys = list(partitions)
    return (
        f"{select} WHERE {PARTITION_COLUMN} = ANY($keys) "
        f"ORDER BY list_position($keys, {PARTITION_COLUMN}), rowid",
        {"keys": keys},
    )


def _table_columns(
    connection: duckdb.DuckDBPyConnection, asset: str, error_type: type[AssetflowError]
) -> list[tuple[str, str]] | None:
    """The (name, DuckDB type) of each column of the asset's table, or None if it has none."""
    rows = connection.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = 'main' "
        "AND lower(table_name) = lower($name) ORDER BY column_index",
        {"name": asset},
    ).fetchall()
    if not rows:
        return None
    if rows[0][0] != asset:
        raise error_type(
            f"asset '{asset}' and the DuckDB table '{rows[0][0]}' differ only in case, and "
            "DuckDB table names ignore case, so they would share one table.",
            hint="Rename one of the assets so that their names differ in more than case.",
        )
    return [(str(row[1]), str(row[2])) for row in rows]


@contextlib.contextmanager
def _connection(database: Path, *, read_only: bool) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection of its own, closed on leaving (which releases the file's lock)."""
    with _queued(database, shared=read_only), _connected(database, read_only) as connection:
        yield connection


@contextlib.contextmanager
def _queued(database: Path, *, shared: bool) -> Iterator[None]:
    """Queue behind other assetflow processes using the file (worker processes of one
    run, concurrent runs), rather than retrying against DuckDB's own lock with backoff.

    Readers share the queue's lock, a writer takes it alone: as DuckDB allows.
    Other programs do not take it; DuckDB's own lock (and the retries) still
    stand between them and us. A lock not had within the wait is skipped, so
    the retries and their error message take over.
    """
    if fcntl is None:
        yield
        return
    try:
        descriptor = os.open(f"{database}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        yield  # e.g. a read-only directory: DuckDB's own lock still applies
        return
    try:
        mode = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
        deadline = time.monotonic() + _QUEUE_WAIT_S
        while True:
            try:
                fcntl.flock(descriptor, mode)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    break
                time.sleep(_QUEUE_POLL_S)
        yield
    finally:
        os.close(descriptor)  # releases the lock


@contextlib.contextmanager
def _connected(database: Path, read_only: bool) -> Iterator[duckdb.DuckDBPyConnection]:
    try:
        connection = duckdb.connect(str(database), read_only=read_only)
    except duckdb.ConnectionException as error:
        # This process already has the file open for writing (another thread):
        # DuckDB shares that instance only with connections of the same mode.
        if not (read_only and "different configuration" in str(error)):
            raise
        connection = duckdb.connect(str(database))
    try:
        connection.execute(f"SET TimeZone = '{_SESSION_TIME_ZONE}'")
        yield connection
    finally:
        connection.close()


@contextlib.contextmanager
def _transaction(connection: duckdb.DuckDBPyConnection) -> Iterator[None]:
    connection.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _with_lock_retries(
    action: Callable[[], _T],
    *,
    lock_timeout: float,
    failure: Callable[[duckdb.Error, str | None], AssetflowError],
) -> _T:
    """Run ``action`` (which connects anew), again with backoff while the file is busy.

    ``failure(error, holder)`` builds the error to raise: ``holder`` names the
    lock's holder when the file stayed locked, and is None for any other error.
    """
    deadline = time.monotonic() + lock_timeout
    delay = _FIRST_RETRY_DELAY_S
    while True:
        try:
            return action()
        except duckdb.Error as error:
            if not _is_busy(error):
                raise failure(error, None) from error
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise failure(error, _lock_holder(error)) from error
            logger.debug("DuckDB file busy (%s); retrying in %.2f s", error, delay)
            time.sleep(min(delay * (1 + _RETRY_JITTER * random.random()), remaining))
            delay = min(delay * 2, _MAX_RETRY_DELAY_S)


def _is_busy(error: duckdb.Error) -> bool:
    """Whether another process or connection holds what ``error`` was about, for now."""
    if _lock_holder(error) is not None:
        return True
    # Another connection of this process changed the same rows or the catalog first.
    return isinstance(error, duckdb.TransactionException) and "conflict" in str(error).lower()


def _lock_holder(error: duckdb.Error) -> str | None:
    """Who holds the lock that ``error`` reports, as DuckDB says it; None if no lock."""
    text = str(error)
    if isinstance(error, duckdb.IOException) and "Could not set lock" in text:
        match = _HOLDER.search(text)
        return f"held by {match['holder']}" if match is not None else text
    if isinstance(error, duckdb.ConnectionException) and "different configuration" in text:
        return "held by a read-only connection of this same process"
    return None


def _as_durations(column: pa.ChunkedArray) -> pa.Array | None:
    """An INTERVAL column as microsecond durations, or None if a value has months."""
    import numpy as np

    array = column.combine_chunks()
    buffer = array.buffers()[1]
    if len(array) == 0 or buffer is None:
        return pa.array([], pa.duration("us")) if len(array) == 0 else None
    layout = np.dtype([("months", "<i4"), ("days", "<i4"), ("nanoseconds", "<i8")])
    values = np.frombuffer(buffer, dtype=layout, count=len(array), offset=array.offset * 16)
    is_null = array.is_null().to_numpy(zero_copy_only=False)
    if (values["months"][~is_null] != 0).any():
        return None
    nanoseconds = values["days"].astype(np.int64) * _NANOSECONDS_PER_DAY + values["nanoseconds"]
    return pa.array(nanoseconds // 1000, pa.duration("us"), mask=is_null)


def _check_name(asset: str, error_type: type[AssetflowError]) -> None:
    if not asset.isidentifier():
        raise error_type(
            f"the asset name {asset!r} is not a Python identifier, so it cannot name a "
            "DuckDB table.",
            hint="Asset names are the names of Python functions (letters, digits, '_').",
        )


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _where(asset: str, partition: str | None) -> str:
    return f"asset '{asset}'" + (f" partition '{partition}'" if partition is not None else "")


def _check_readable(database: Path, asset: str) -> None:
    """Refuse a bad asset name, or a DuckDB file that is not there, before connecting."""
    _check_name(asset, StoreError)
    if not Path(database).is_file():
        raise StoreError(
            f"the DuckDB file '{database}', which holds the output of asset '{asset}', is missing.",
            hint="It was moved or deleted after it was written: materialize the asset "
            "again (with --force).",
        )


def _stored_columns(
    connection: duckdb.DuckDBPyConnection, database: Path, asset: str
) -> list[tuple[str, str]]:
    """The columns of the asset's table; a StoreError if the table is not there."""
    columns = _table_columns(connection, asset, StoreError)
    if columns is None:
        raise StoreError(
            f"the DuckDB file '{database}' has no table '{asset}' for the asset's output.",
            hint="It was dropped after it was written: materialize the asset again (with --force).",
        )
    return columns


def _read_failure(
    database: Path, asset: str, lock_timeout: float
) -> Callable[[duckdb.Error, str | None], AssetflowError]:
    """How a failed read of the asset's output from ``database`` is explained: a file
    another process kept locked past ``lock_timeout`` (naming it), or a damaged file."""

    def failure(error: duckdb.Error, detail: str | None) -> AssetflowError:
        if detail is not None:
            return StoreError(
                f"the DuckDB file '{database}' is locked by another process ({detail}); "
                f"the output of asset '{asset}' could not be read.",
                hint=f"Waited {lock_timeout:g} s ({_WAIT_SETTING}). Wait for that process "
                f"to finish or close it, then re-run. {_BI_HINT}",
            )
        return StoreError(
            f"cannot read the output of asset '{asset}' from the DuckDB file '{database}': {error}",
            hint="The file is damaged or was not written by assetflow: move it away and "
            "materialize its assets again (with --force).",
        )

    return failure
