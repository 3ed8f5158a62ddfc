"""The default metadata store: one SQLite file in WAL mode, shared by several processes at once.

``store`` holds what is stored and how it is queried; ``connection`` how the
file is opened, locked and retried; ``schema`` its tables and migrations;
``rows`` the mapping between records and rows; ``errors`` how SQLite failures
become StoreErrors.
"""

from __future__ import annotations

from assetflow.store.sqlite.store import SqliteStore as SqliteStore
