"""PostgreSQL storage (``io="postgres"``): each asset a table in a PostgreSQL schema.

The server comes from named io settings (``[tool.assetflow.io.NAME]`` with
``kind = "postgres"`` and ``url_env`` or ``url``; see docs/postgres.md), or, for a
bare ``io="postgres"``, from the environment variable ``ASSETFLOW_POSTGRES_URL``.

- Rows are loaded with ``COPY ... FROM STDIN`` in binary form, never row by row.
- A partitioned asset's table has one more column, ``partition_key text``.
  Writing a partition is one transaction: create the table if missing, adapt its
  columns, delete the partition's rows, copy the new ones, commit. A process
  killed (or a connection lost) at any moment leaves the old rows or the new
  ones: the server rolls back a transaction whose client is gone.
- An unpartitioned asset's rows are copied into a new table, which replaces the
  old one (drop, rename) in the same transaction.
- Schema changes across partitions are handled as for DuckDB: a new column is
  added, a missing one stays (NULL in the new rows), a type that widens without
  losing a value is widened, a column NULL in every other partition takes the
  new type, and any other change is refused with how to fix it.
- Each column's pandas dtype is kept as its comment, so reading gives back the
  dtypes written (see ``assetflow.io.pgtypes``). Rows come back partition by
  partition, each partition's rows in storage order (the order they were copied in).
- The data version is computed from the DataFrame as for Parquet, never by
  reading the table back.

Connections come from one small pool per process and URL (``assetflow.io.pgserver``),
made when first used (never inherited across a fork), and every checkout is scoped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assetflow.datahash import table_version
from assetflow.errors import AssetflowError, StoreError, WriteError
from assetflow.io.base import (
    Holds,
    IOSettings,
    OutputHead,
    OutputRef,
    OutputStat,
    StoredOutput,
    WriteTarget,
)
from assetflow.io.pgserver import Server
from assetflow.io.pgtypes import (
    CANONICAL,
    ColumnType,
    column_type,
    comment,
    copy_name,
    copy_values,
    default_dtype,
    dtype_of_comment,
    to_series,
    widens,
    with_finer_unit,
)
from assetflow.io.values import POSTGRES, SUPPORTED, is_table, type_name

if TYPE_CHECKING:
    import pandas as pd
    import psycopg
    import pyarrow as pa

logger = logging.getLogger(__name__)

#: The column of a partitioned asset's table that holds each row's partition key.
PARTITION_COLUMN = "partition_key"
#: The suffix of the table an unpartitioned asset's new rows are copied into.
_NEW_SUFFIX = "__assetflow_new"


@dataclass(frozen=True, slots=True)
class PostgresIO:
    """Tables in a PostgreSQL schema, one per asset; a partitioned asset's table has a
    ``partition_key`` column."""

    settings: IOSettings = field(default_factory=IOSettings)
    kind: str = POSTGRES
    holds: Holds = "tables"
    partitions_share_path: bool = True

    # --- writing -------------------------------------------------------------------------

    def write(self, value: object, target: WriteTarget) -> StoredOutput:
        """Replace the asset's table, or its partition's rows, in one transaction. The
        record has no path (the table lives in the server) and its bytes are the
        Arrow table's size in memory."""
        from assetflow.io.parquet import column_types, to_arrow_table

        asset, partition = target.asset, target.partition
        where = _where(asset, partition)
        if not is_table(value):
            raise WriteError(
                f'{where} is stored in PostgreSQL (io="{self._io_name}") but returned a '
                f"{type_name(value)}, which is not a table.",
                hint="PostgreSQL stores a pandas.DataFrame or a pyarrow.Table: return one "
                '(e.g. pd.DataFrame(records)), or store the value as JSON (io="json").\n'
                + SUPPORTED,
            )
        try:
            table = to_arrow_table(value, asset=asset)
        except WriteError:
            import pandas as pd

            if isinstance(value, pd.DataFrame):
                _columns(value, asset, partition)  # a column PostgreSQL cannot hold says so
            raise
        version = table_version(table)
        frame = _as_frame(value, table)
        columns = _columns(frame, asset, partition)
        server = self._server()
        _check_name(asset, WriteError)
        try:
            with server.connection() as connection:
                if partition is None:
                    _replace_table(connection, server.schema, asset, frame, columns)
                else:
                    _replace_partition(connection, server, asset, frame, columns, partition)
        except AssetflowError:
            raise
        except Exception as error:
            raise server.failure(error, f"cannot write {where}", written=False) from error
        logger.debug("wrote %s to %s: %d rows", where, server.shown, len(frame))
        return StoredOutput(
            POSTGRES, None, table.num_rows, table.nbytes, column_types(table), version
        )

    def delete(self, ref: OutputRef) -> None:
        """Delete the partition's rows (the whole table for an unpartitioned ref), in one
        transaction; one already gone is left as it is."""
        server = self._server()
        _check_name(ref.asset, WriteError)
        try:
            with server.connection() as connection, connection.transaction():
                stored = _stored_columns(connection, server.schema, ref.asset)
                if stored is None:
                    return
                table = _qualified(server.schema, ref.asset)
                if ref.partition is None:
                    connection.execute(f"DROP TABLE {table}")
                elif PARTITION_COLUMN in stored:
                    connection.execute(
                        f"DELETE FROM {table} WHERE {PARTITION_COLUMN} = %s", (ref.partition,)
                    )
        except Exception as error:
            where = _where(ref.asset, ref.partition)
            raise server.failure(error, f"cannot delete {where}", written=False) from error

    # --- reading -------------------------------------------------------------------------

    def read(self, ref: OutputRef, as_type: object = None) -> object:
        """The partition's rows (every row when ``ref.partition`` is None), without the
        ``partition_key`` column, with the dtypes written."""
        keys = [ref.partition] if ref.partition is not None else None
        return self._read(ref.asset, keys, as_type, limit=None)[0]

    def read_partitions(
        self, asset: str, refs: Sequence[OutputRef], as_type: object = None
    ) -> object:
        """The partitions' rows in one query, in the order of ``refs``."""
        from assetflow.io.parquet import empty_table

        if not refs:
            return empty_table(as_type)
        return self._read(asset, [ref.partition or "" for ref in refs], as_type, limit=None)[0]

    def stat(self, ref: OutputRef) -> OutputStat | None:
        """The rows of the table or partition; None if the table is missing (or a
        partition is asked of a table stored unpartitioned)."""
        server = self._server()
        _check_name(ref.asset, StoreError)
        try:
            with server.connection() as connection:
                stored = _stored_columns(connection, server.schema, ref.asset)
                if stored is None:
                    return None
                table = _qualified(server.schema, ref.asset)
                if ref.partition is None:
                    row = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
                elif PARTITION_COLUMN not in stored:
                    return None
                else:
                    row = connection.execute(
                        f"SELECT count(*) FROM {table} WHERE {PARTITION_COLUMN} = %s",
                        (ref.partition,),
                    ).fetchone()
        except Exception as error:
            raise server.failure(error, f"cannot count the rows of asset '{ref.asset}'") from error
        return OutputStat(rows=int(row[0]) if row is not None else 0)

    def head(self, ref: OutputRef, limit: int) -> OutputHead:
        """The first ``limit`` rows of the table or partition (a ``LIMIT`` query) as a
        ``pyarrow.Table``, and the row count."""
        import pyarrow as pa

        keys = [ref.partition] if ref.partition is not None else None
        value, total = self._read(ref.asset, keys, pa.Table, limit=max(int(limit), 0))
        return OutputHead(value, total)

    # --- helpers -------------------------------------------------------------------------

    @property
    def _io_name(self) -> str:
        return self.settings.name or POSTGRES

    def _server(self) -> Server:
        return Server.of(self.settings)

    def _read(
        self, asset: str, keys: list[str] | None, as_type: object, *, limit: int | None
    ) -> tuple[object, int]:
        from assetflow.io.parquet import _wants_arrow_table

        server = self._server()
        _check_name(asset, StoreError)
        try:
            with server.connection() as connection:
                frame, total, sql_by_name = _select(connection, server, asset, keys, limit)
        except AssetflowError:
            raise
        except Exception as error:
            raise server.failure(error, f"cannot read the output of asset '{asset}'") from error
        if _wants_arrow_table(as_type):
            return _arrow(frame, sql_by_name), total
        return frame, total


# --- the SQL ------------------------------------------------------------------------------


def _as_frame(value: object, table: pa.Table) -> pd.DataFrame:
    """The DataFrame to load: the value's own columns (their dtypes), plus its index
    where the Parquet conversion keeps it as data."""
    import pandas as pd

    if not isinstance(value, pd.DataFrame):
        converted: pd.DataFrame = table.to_pandas()
        return converted
    frame = value
    if any(name not in frame.columns for name in table.column_names):
        frame = frame.reset_index()
    return frame.loc[:, [name for name in table.column_names if name in frame.columns]]


def _columns(frame: pd.DataFrame, asset: str, partition: str | None) -> list[ColumnType]:
    where = _where(asset, partition)
    names = [str(name) for name in frame.columns]
    if len(set(names)) != len(names) or any(not isinstance(n, str) for n in frame.columns):
        raise WriteError(
            f"{where} returned column names that are not distinct strings ({names!r}).",
            hint="Give every column a distinct string name.",
        )
    if partition is not None and PARTITION_COLUMN in names:
        raise WriteError(
            f"{where} returned a column named '{PARTITION_COLUMN}', but a partitioned "
            "PostgreSQL table uses that column for each row's partition key.",
            hint=f"Rename the column (e.g. df.rename(columns={{'{PARTITION_COLUMN}': "
            "'source_partition'})).",
        )
    if not names and (partition is None or len(frame)):
        raise WriteError(
            f"{where} returned a table with no columns, and a PostgreSQL table needs one.",
            hint='Return at least one column, or store the asset as Parquet (io="parquet").',
        )
    return [column_type(name, frame[name], where) for name in names]


def _replace_table(
    connection: psycopg.Connection[Any],
    schema: str,
    asset: str,
    frame: pd.DataFrame,
    columns: list[ColumnType],
) -> None:
    """Copy the rows into a new table and swap it in for the old one: one transaction."""
    target = _qualified(schema, asset)
    new_name = asset + _NEW_SUFFIX
    new = _qualified(schema, new_name)
    with connection.transaction():
        _lock(connection, schema, asset)
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(schema)}")
        connection.execute(f"DROP TABLE IF EXISTS {new}")
        definitions = ", ".join(f"{_quote(c.name)} {c.sql}" for c in columns)
        connection.execute(f"CREATE TABLE {new} ({definitions})")
        _copy(connection, new, frame, columns, None)
        _comment(connection, new, columns)
        connection.execute(f"DROP TABLE IF EXISTS {target}")
        connection.execute(f"ALTER TABLE {new} RENAME TO {_quote(asset)}")


def _replace_partition(
    connection: psycopg.Connection[Any],
    server: Server,
    asset: str,
    frame: pd.DataFrame,
    columns: list[ColumnType],
    partition: str,
) -> None:
    """Delete the partition's rows and copy the new ones, adapting the table: one transaction."""
    schema = server.schema
    target = _qualified(schema, asset)
    with connection.transaction():
        _lock(connection, schema, asset)
        stored = _stored_columns(connection, schema, asset)
        if stored is None:
            connection.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(schema)}")
            definitions = [f"{PARTITION_COLUMN} text NOT NULL"]
            definitions += [f"{_quote(c.name)} {c.sql}" for c in columns]
            connection.execute(f"CREATE TABLE {target} ({', '.join(definitions)})")
            connection.execute(
                f"CREATE INDEX {_quote(asset[:40] + '_partition_key')} ON {target} "
                f"({PARTITION_COLUMN})"
            )
            copied = columns
        else:
            copied = _evolve(connection, server, asset, partition, stored, columns)
        connection.execute(f"DELETE FROM {target} WHERE {PARTITION_COLUMN} = %s", (partition,))
        _copy(connection, target, frame, copied, partition)
        # An all-missing object column's dtype is pandas' guess: the stored one stays.
        kept = [c for c in copied if c.is_commented and not (c.is_all_null and c.dtype == "object")]
        _comment(connection, target, kept if stored is not None else copied)


def _evolve(
    connection: psycopg.Connection[Any],
    server: Server,
    asset: str,
    partition: str,
    stored: dict[str, tuple[str, str | None]],
    columns: list[ColumnType],
) -> list[ColumnType]:
    """Adapt a partitioned table's columns to a partition's data (see the module
    docstring); the columns to copy (all-NULL columns of another type left out)."""
    target = _qualified(server.schema, asset)
    where = _where(asset, partition)
    if PARTITION_COLUMN not in stored:
        raise WriteError(
            f"{where} is partitioned, but the PostgreSQL table {server.schema}.{asset} has no "
            f"'{PARTITION_COLUMN}' column: it was written while the asset was not partitioned.",
            hint=f"To store the asset by partition, drop the table (DROP TABLE {target}) and "
            "materialize its partitions again (with --force).",
        )
    copied = []
    for column in columns:
        found = stored.get(column.name)
        if found is None:
            connection.execute(
                f"ALTER TABLE {target} ADD COLUMN {_quote(column.name)} {column.sql}"
            )
            logger.info("%s: added the column %r (%s)", where, column.name, column.sql)
            copied.append(column)
            continue
        stored_sql, stored_dtype = found
        if stored_sql == column.sql:
            copied.append(with_finer_unit(column, stored_dtype))
            continue
        if widens(column.sql, stored_sql):
            copied.append(_as(column, stored_sql, stored_dtype))
            continue
        alter = f"ALTER TABLE {target} ALTER COLUMN {_quote(column.name)} TYPE {column.sql}"
        if column.is_all_null:
            continue  # no value to judge the type by: the stored column's NULL says the same
        if widens(stored_sql, column.sql):
            connection.execute(f"{alter} USING {_quote(column.name)}::{column.sql}")
            logger.info("%s: widened %r from %s to %s", where, column.name, stored_sql, column.sql)
        elif _holds_only_nulls_elsewhere(connection, target, column.name, partition):
            connection.execute(f"{alter} USING NULL")
            logger.info("%s: %r changed from %s to %s", where, column.name, stored_sql, column.sql)
        else:
            raise WriteError(
                f"{where} has the column {column.name!r} as {column.sql} (dtype "
                f"{column.dtype}), but the PostgreSQL table {server.schema}.{asset} stores it "
                f"as {stored_sql} for other partitions; a stored column's type only changes "
                "to a wider one that loses no value, so nothing was written.",
                hint=f"Return the column as before (e.g. df[{column.name!r}] = "
                f"df[{column.name!r}].astype(...)), or, to change its type for every "
                f"partition, drop the table (DROP TABLE {target}) and materialize all "
                "partitions again (with --force).",
            )
        copied.append(column)
    return copied


def _as(column: ColumnType, sql: str, dtype: str | None) -> ColumnType:
    """``column`` copied into a wider stored type (the values converted on the way),
    keeping the stored column's dtype: the other partitions' values are of that type."""
    return ColumnType(
        column.name, sql, copy_name(sql), column.dtype, column.is_all_null, is_commented=False
    )


def _holds_only_nulls_elsewhere(
    connection: psycopg.Connection[Any], target: str, column: str, partition: str
) -> bool:
    row = connection.execute(
        f"SELECT count({_quote(column)}) FROM {target} WHERE {PARTITION_COLUMN} <> %s",
        (partition,),
    ).fetchone()
    return row is not None and row[0] == 0


def _copy(
    connection: psycopg.Connection[Any],
    target: str,
    frame: pd.DataFrame,
    columns: list[ColumnType],
    partition: str | None,
) -> None:
    """``COPY ... FROM STDIN`` in binary form: the rows of ``columns``, and the partition key."""
    if not len(frame):
        return
    names = [_quote(c.name) for c in columns]
    types = [_copy_type(c) for c in columns]
    values = [copy_values(frame[c.name], c) for c in columns]
    if partition is not None:
        names.insert(0, PARTITION_COLUMN)
        types.insert(0, "text")
        values.insert(0, [partition] * len(frame))
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {target} ({', '.join(names)}) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.set_types(types)
        for row in zip(*values, strict=True):
            copy.write_row(row)


def _copy_type(column: ColumnType) -> str:
    # A zone-aware timestamp goes as naive UTC (see pgtypes.copy_values): the same bytes.
    if column.copy == "timestamptz":
        return "timestamp"
    if column.copy == "numeric":
        return "numeric"
    return column.copy


def _comment(connection: psycopg.Connection[Any], target: str, columns: list[ColumnType]) -> None:
    for column in columns:
        connection.execute(
            f"COMMENT ON COLUMN {target}.{_quote(column.name)} IS " + _literal(comment(column))
        )


def _select(
    connection: psycopg.Connection[Any],
    server: Server,
    asset: str,
    keys: list[str] | None,
    limit: int | None,
) -> tuple[pd.DataFrame, int, dict[str, str]]:
    """The asset's rows (of ``keys``, in their order), at most ``limit`` of them, how
    many there are in all, and each column's PostgreSQL type."""
    import pandas as pd

    stored = _stored_columns(connection, server.schema, asset)
    if stored is None:
        raise StoreError(
            f"the output of asset '{asset}' is missing: the PostgreSQL server "
            f"{server.shown} has no table {server.schema}.{asset}.",
            hint="It was dropped after it was written: materialize the asset again (with --force).",
        )
    target = _qualified(server.schema, asset)
    is_partitioned = PARTITION_COLUMN in stored
    names = [name for name in stored if name != PARTITION_COLUMN]
    if keys is not None and not is_partitioned:
        raise StoreError(
            f"asset '{asset}' is stored unpartitioned in the PostgreSQL table "
            f"{server.schema}.{asset}, so its partitions {keys!r} cannot be read.",
            hint="Materialize the asset's partitions again (with --force) if it is "
            "partitioned now.",
        )
    selected = ", ".join(map(_quote, names)) or "1"
    where, order, parameters = "", "", {}
    if keys is not None:
        where = f" WHERE {PARTITION_COLUMN} = ANY(%(keys)s)"
        order = f" ORDER BY array_position(%(keys)s, {PARTITION_COLUMN}), ctid"
        parameters = {"keys": keys}
    elif is_partitioned:
        order = f" ORDER BY {PARTITION_COLUMN}, ctid"
    bound = f" LIMIT {limit}" if limit is not None else ""
    rows = connection.execute(
        f"SELECT {selected} FROM {target}{where}{order}{bound}", parameters
    ).fetchall()
    if limit is None:
        total = len(rows)
    else:
        counted = connection.execute(f"SELECT count(*) FROM {target}{where}", parameters).fetchone()
        total = int(counted[0]) if counted is not None else len(rows)
    if not names:
        return pd.DataFrame(index=range(len(rows))), total, {}
    by_column = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    series = {
        name: to_series(
            name,
            list(values),
            stored[name][0],
            stored[name][1] or default_dtype(stored[name][0]),
        )
        for name, values in zip(names, by_column, strict=True)
    }
    sql_by_name = {name: stored[name][0] for name in names}
    return pd.DataFrame(series, columns=names), total, sql_by_name


def _arrow(frame: pd.DataFrame, sql_by_name: dict[str, str]) -> pa.Table:
    """The rows as Arrow: an object column with no value (the first rows of a column
    that has values further on, say) typed from its PostgreSQL type, not as null."""
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    known = {"text": pa.string(), "date": pa.date32(), "boolean": pa.bool_()}
    for position, column in enumerate(table.schema):
        wanted = known.get(sql_by_name.get(column.name, ""))
        if pa.types.is_null(column.type) and wanted is not None:
            table = table.set_column(position, column.name, pa.nulls(table.num_rows, wanted))
    return table


def _stored_columns(
    connection: psycopg.Connection[Any], schema: str, asset: str
) -> dict[str, tuple[str, str | None]] | None:
    """Each column of the asset's table: its type (as the catalog spells it) and the
    pandas dtype its comment keeps; None if there is no such table."""
    rows = connection.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), "
        "col_description(a.attrelid, a.attnum) "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p') "
        "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (schema, asset),
    ).fetchall()
    if not rows:
        exists = connection.execute(
            "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')",
            (schema, asset),
        ).fetchone()
        return {} if exists else None
    return {
        str(name): (CANONICAL.get(str(sql), str(sql)), dtype_of_comment(note))
        for name, sql, note in rows
    }


def _lock(connection: psycopg.Connection[Any], schema: str, asset: str) -> None:
    """Writers of one table take turns (a transaction-scoped advisory lock): the table's
    creation and its columns' changes are never raced by another writer."""
    connection.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"assetflow:{schema}.{asset}",)
    )


def _check_name(asset: str, error_type: type[AssetflowError]) -> None:
    if not asset.isidentifier() or len(asset.encode()) > 63 - len(_NEW_SUFFIX):
        raise error_type(
            f"the asset name {asset!r} cannot name a PostgreSQL table: it must be a Python "
            f"identifier of at most {63 - len(_NEW_SUFFIX)} bytes.",
            hint="Rename the asset (@asset(name=...)).",
        )


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _qualified(schema: str, table: str) -> str:
    return f"{_quote(schema)}.{_quote(table)}"


def _where(asset: str, partition: str | None) -> str:
    return f"asset '{asset}'" + (f" partition '{partition}'" if partition is not None else "")
