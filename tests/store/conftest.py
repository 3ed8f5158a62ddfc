"""Store fixtures: an empty store of every backend, and a path for a SQLite file.

The PostgreSQL store runs on one database per test session, migrated once; every
table is emptied (identities restarted) before each test that uses it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from assetflow.store import MetadataStore, open_store
from tests.postgres_server import PostgresServer

BACKENDS = ["memory", "sqlite", "postgresql"]


#: The migrated database of each test server (one per session), by the server's port.
_MIGRATED: dict[int, str] = {}


def migrated_database(server: PostgresServer) -> str:
    """The URL of a database on ``server`` with the store's schema, made on first use and
    shared by the session's tests (it goes with the server)."""
    from assetflow.store.postgres.connection import PgDatabase
    from assetflow.store.postgres.schema import migrate

    url = _MIGRATED.get(server.port)
    if url is None:
        url = server.url(server.create_database("store"))
        database = PgDatabase(url)
        try:
            migrate(database)
        finally:
            database.close()
        _MIGRATED[server.port] = url
    return url


@pytest.fixture
def migrated_postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of the session's database with the store's schema (not emptied)."""
    return migrated_database(postgres_server)


def empty_postgres_store(url: str) -> None:
    """Delete every row of every table of the store at ``url`` but its schema version."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SET lock_timeout = '10s'")
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "AND tablename <> 'schema_version'"
            ).fetchall()
        ]
        names = ", ".join(f'"{table}"' for table in tables)
        connection.execute(f"TRUNCATE {names} RESTART IDENTITY")


@pytest.fixture
def fresh_postgres_url(postgres_server: PostgresServer) -> str:
    """The session's migrated database, emptied for this test."""
    url = migrated_database(postgres_server)
    empty_postgres_store(url)
    return url


@contextmanager
def open_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    """An empty store of the backend ``request.param`` names (one of BACKENDS)."""
    if request.param == "postgresql":
        url = migrated_database(request.getfixturevalue("postgres_server"))
        empty_postgres_store(url)
        with open_store(url) as opened:
            yield opened
        return
    with open_store(request.param, tmp_path / "meta.sqlite") as opened:
        yield opened


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    """An empty store of each backend, closed after the test."""
    with open_backend(request, tmp_path) as opened:
        yield opened


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """Where a SQLite store file goes, in a directory that does not exist yet."""
    return tmp_path / ".assetflow" / "metadata.sqlite"
