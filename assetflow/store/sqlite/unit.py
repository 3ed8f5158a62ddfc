"""A unit of work on the SQLite store: the open transaction, and a door for new tables' writers."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from assetflow.store.sqlite.connection import SqliteConnection


@dataclass(frozen=True, slots=True)
class SqliteUnitOfWork:
    """An open unit of work of a SqliteStore (see ``MetadataStore.unit_of_work``).

    The store's own writes join it by themselves. A writer of a table the store
    does not know yet (an alert outbox, scheduler ticks, sensor cursors) joins it
    through ``execute``: its rows then commit, or roll back, with the rest.
    """

    db: SqliteConnection
    #: the connection, inside the unit's ``BEGIN IMMEDIATE`` transaction
    connection: sqlite3.Connection
    is_nested: bool

    def execute(
        self, action: str, sql: str, parameters: Sequence[object] = ()
    ) -> list[tuple[object, ...]]:
        """Run one statement in the unit, in a savepoint; return its rows.

        Args:
            action: What it does, as a verb phrase for error messages ("queue an alert").
            sql: The statement.
            parameters: Its parameters.

        Raises:
            StoreError: The statement failed; it wrote nothing, and the unit goes on.
        """
        return self.db.run(
            action, lambda connection: connection.execute(sql, parameters).fetchall(), write=True
        )

    def executemany(self, action: str, sql: str, rows: Iterable[Sequence[object]]) -> None:
        """Run one statement for each of ``rows`` in the unit, all or none (see ``execute``)."""
        values = list(rows)
        self.db.run(action, lambda connection: connection.executemany(sql, values), write=True)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the outermost unit has committed."""
        self.db.after_commit(callback)
