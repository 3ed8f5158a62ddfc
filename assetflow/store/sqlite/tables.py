"""A SQLite store's tables read and loaded whole, for `store copy` (see
``assetflow.store.copying``): SQLite's own values are the portable form."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from assetflow.store.copying import TABLES, Rows, check_counts
from assetflow.store.sqlite.errors import store_error

if TYPE_CHECKING:
    from assetflow.store.sqlite.connection import SqliteConnection


def _known(table: str) -> str:
    """``table``, checked to be one of the store's (names are never taken from input)."""
    if table not in TABLES:
        raise ValueError(f"not a table of the store: {table!r}")
    return table


def table_columns(db: SqliteConnection, table: str) -> tuple[str, ...]:
    rows = db.select("read a table's columns", f"PRAGMA table_info({_known(table)})")
    return tuple(str(row[1]) for row in rows)


def count_rows(db: SqliteConnection, table: str) -> int:
    rows = db.select("count a table's rows", f"SELECT COUNT(*) FROM {_known(table)}")
    return int(rows[0][0])


def read_rows(
    db: SqliteConnection, table: str, columns: Sequence[str]
) -> Sequence[Sequence[object]]:
    """The rows in the order they were written (rowid order, which is what orders ties
    such as dynamic partition keys and incidents opened in the same instant), so that
    a copy writes them in the same order."""
    names = ", ".join(_quoted(column) for column in columns)
    (definition,) = db.select(
        "read a table's definition",
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
        (_known(table),),
    )[0]
    order = "" if "WITHOUT ROWID" in str(definition).upper() else " ORDER BY rowid"
    return db.select("read a table to copy it", f"SELECT {names} FROM {table}{order}")


def load_rows(
    db: SqliteConnection, tables: Mapping[str, Rows], expected: Mapping[str, int]
) -> dict[str, int]:
    """Insert every table's rows in one transaction; counted and checked before it commits."""
    loaded: dict[str, int] = {}
    with db.transaction() as (connection, _):
        for table, (columns, rows) in tables.items():
            names = ", ".join(_quoted(column) for column in columns)
            marks = ", ".join("?" for _ in columns)
            sql = f"INSERT INTO {_known(table)} ({names}) VALUES ({marks})"
            try:
                connection.executemany(sql, rows)
                (count,) = connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
            except sqlite3.Error as error:
                raise store_error(error, db.path, f"copy the table {table}") from error
            loaded[table] = int(count)
        check_counts(expected, loaded, str(db.path))
    return loaded


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'
