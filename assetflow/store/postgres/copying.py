"""The PostgreSQL store's tables read and loaded whole, for `store copy` (see
``assetflow.store.copying``), converting between PostgreSQL's types and the portable
form (SQLite's values: times as ISO text in UTC with microseconds, booleans as 0 and 1,
nested values as JSON text).

A load writes every table with ``COPY ... FROM STDIN`` in one transaction, keeping the
rows' ids, then moves each identity sequence past the largest id loaded, so that the
next row written gets a fresh id; the counts are checked before the commit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from assetflow.errors import StoreError
from assetflow.store.copying import TABLES, Rows, check_counts

if TYPE_CHECKING:
    import psycopg

    from assetflow.store.postgres.connection import PgDatabase

#: Columns a PostgreSQL table has beyond SQLite's, standing in for SQLite's rowid (the
#: order rows were written in, which some listings follow): a copy leaves them out,
#: reads rows in their order, and a load assigns them afresh in the order rows come.
INTERNAL_COLUMNS: Final[dict[str, str]] = {"incidents": "written", "dynamic_partitions": "position"}
_TIME_TYPES: Final = frozenset({"timestamp with time zone", "timestamp without time zone"})
_JSON_TYPES: Final = frozenset({"json", "jsonb"})


def _known(table: str) -> str:
    """``table``, checked to be one of the store's (names are never taken from input)."""
    if table not in TABLES:
        raise ValueError(f"not a table of the store: {table!r}")
    return table


def _column_types(connection: psycopg.Connection[Any], table: str) -> dict[str, str]:
    """``{column: data type}`` of ``table`` in the store's schema, in the table's order."""
    rows = connection.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
        (_known(table),),
    ).fetchall()
    hidden = INTERNAL_COLUMNS.get(table)
    return {str(name): str(kind) for name, kind in rows if name != hidden}


def _portable(value: object, kind: str) -> object:
    """A value read from a column of type ``kind``, as SQLite keeps it."""
    if value is None:
        return None
    if kind in _TIME_TYPES and isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat(timespec="microseconds")
    if kind == "boolean":
        return int(bool(value))
    if kind in _JSON_TYPES and not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


def _stored(value: object, kind: str) -> object:
    """A portable value as a column of type ``kind`` takes it."""
    if value is None:
        return None
    if kind in _TIME_TYPES and isinstance(value, str):
        return datetime.fromisoformat(value)
    if kind == "boolean":
        return bool(value)
    return value


class CopyingMixin:
    """The CopyableStore methods of the PostgreSQL store (see assetflow.store.copying)."""

    _db: PgDatabase

    def table_columns(self, table: str) -> tuple[str, ...]:
        with self._db.reading("read a table's columns") as connection:
            return tuple(_column_types(connection, table))

    def count_rows(self, table: str) -> int:
        from psycopg import sql

        with self._db.reading("count a table's rows") as connection:
            row = connection.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(_known(table)))
            ).fetchone()
        return 0 if row is None else int(row[0])

    def read_rows(self, table: str, columns: Sequence[str]) -> Sequence[Sequence[object]]:
        from psycopg import sql

        order = INTERNAL_COLUMNS.get(_known(table))
        query = sql.SQL("SELECT {} FROM {}").format(
            sql.SQL(", ").join(sql.Identifier(column) for column in columns),
            sql.Identifier(table),
        )
        if order is not None:
            query += sql.SQL(" ORDER BY {}").format(sql.Identifier(order))
        with self._db.reading("read a table to copy it") as connection:
            types = _column_types(connection, table)
            kinds = [types.get(column, "") for column in columns]
            rows = connection.execute(query).fetchall()
        return [
            tuple(_portable(value, kind) for value, kind in zip(row, kinds, strict=True))
            for row in rows
        ]

    def load_rows(self, tables: Mapping[str, Rows], expected: Mapping[str, int]) -> dict[str, int]:
        """Insert every table's rows with COPY in one transaction; the identity sequences
        are moved past the ids loaded, and the counts checked, before it commits."""
        loaded: dict[str, int] = {}
        with self._db.transaction("copy the history") as connection:
            for table, (columns, rows) in tables.items():
                loaded[table] = self._load_table(connection, table, columns, rows)
                self._reset_identities(connection, table)
            check_counts(expected, loaded, self._db.shown)
        return loaded

    def _load_table(
        self,
        connection: psycopg.Connection[Any],
        table: str,
        columns: Sequence[str],
        rows: Iterable[Sequence[object]],
    ) -> int:
        """COPY ``rows`` into ``table``; how many rows it then holds."""
        import psycopg
        from psycopg import sql

        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(_known(table)),
            sql.SQL(", ").join(sql.Identifier(column) for column in columns),
        )
        try:
            types = _column_types(connection, table)
            kinds = [types.get(column, "") for column in columns]
            with connection.cursor() as cursor, cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(
                        [_stored(value, kind) for value, kind in zip(row, kinds, strict=True)]
                    )
            counted = connection.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            ).fetchone()
        except psycopg.Error as error:
            raise self._db.failure(error, f"copy the table {table}") from error
        except (ValueError, TypeError) as error:
            raise StoreError(
                f"cannot copy the table {table} into {self._db.shown}: a row holds a value "
                f"its column cannot take ({error}), so nothing was kept.",
                hint="The source store holds a value assetflow never writes (edited by hand?): "
                "fix or delete that row in the source, then copy again.",
            ) from error
        return 0 if counted is None else int(counted[0])

    @staticmethod
    def _reset_identities(connection: psycopg.Connection[Any], table: str) -> None:
        """Move each identity sequence of ``table`` past the largest id it holds."""
        from psycopg import sql

        identities = connection.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s AND is_identity = 'YES'",
            (table,),
        ).fetchall()
        for (column,) in identities:
            connection.execute(
                sql.SQL(
                    "SELECT setval(pg_get_serial_sequence({table}, {column}), "
                    "COALESCE(max({name}), 0) + 1, false) FROM {relation}"
                ).format(
                    table=sql.Literal(table),
                    column=sql.Literal(column),
                    name=sql.Identifier(column),
                    relation=sql.Identifier(table),
                )
            )
