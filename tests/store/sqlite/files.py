"""Direct access to SQLite store files for tests: read and tamper with them, bypassing the store."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any


def query(path: Path, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement on the file at ``path`` and return its rows (committing any change)."""
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        return connection.execute(sql, parameters).fetchall()


def connect(path: Path) -> sqlite3.Connection:
    """A raw autocommit connection any thread may use; the caller closes it."""
    return sqlite3.connect(path, isolation_level=None, check_same_thread=False)
