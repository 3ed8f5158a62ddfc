"""The PostgreSQL server of the postgres io kind: where its URL comes from, one pool of
connections per process and URL, and how a psycopg failure is told (never the password).

A pool is made when first used in a process and never used across a fork: each
worker of the multiprocess executor makes its own. The first connection of a
process is made directly, so that a server that is down or a wrong password fails
at once with the server's reason rather than after the pool's wait.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assetflow.errors import AssetflowError, StoreError, WriteError
from assetflow.io.base import IOSettings
from assetflow.io.values import POSTGRES
from assetflow.urls import connection_text, redact_url

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

#: The variable a bare ``io="postgres"`` (no named settings) reads the server's URL from.
DEFAULT_URL_ENV = "ASSETFLOW_POSTGRES_URL"
DEFAULT_SCHEMA = "public"
DEFAULT_POOL_SIZE = 4
_SETTINGS_HINT = (
    "Name the server in the project configuration, e.g.\n\n"
    "    [tool.assetflow.io.warehouse]\n"
    '    kind = "postgres"\n'
    '    url_env = "WAREHOUSE_URL"\n\n'
    'and use @asset(io="warehouse"); or, for a bare io="postgres", set '
    f"{DEFAULT_URL_ENV}. See docs/postgres.md."
)


@dataclass(frozen=True, slots=True)
class Server:
    """Where the tables are: the URL (never shown), the schema, and the pool's settings."""

    url: str
    #: the URL as messages show it (no password)
    shown: str
    #: where the URL came from, for messages (`url_env = "X"`...)
    origin: str
    schema: str
    pool_size: int
    statement_timeout: float | None

    @staticmethod
    def of(settings: IOSettings) -> Server:
        options: Mapping[str, object] = settings.options
        name = settings.name or POSTGRES
        url = options.get("url")
        url_env = options.get("url_env")
        if url is None:
            variable = str(url_env) if url_env is not None else DEFAULT_URL_ENV
            url = os.environ.get(variable, "").strip()
            origin = f"the environment variable {variable}"
            if not url:
                state = "empty" if variable in os.environ else "not set"
                if url_env is None and settings.name is None:
                    raise WriteError(
                        'io="postgres" needs a PostgreSQL server, and none is named: there '
                        f"are no [tool.assetflow.io.NAME] settings for it and {variable} "
                        f"is {state}.",
                        hint=_SETTINGS_HINT,
                    )
                raise WriteError(
                    f'the PostgreSQL server of io "{name}" comes from the environment '
                    f"variable {variable} (`url_env` of [tool.assetflow.io.{name}]), which "
                    f"is {state}.",
                    hint=f"Set it to the server's URL, e.g. export {variable}="
                    "postgresql://user@host/database (the password in ~/.pgpass or "
                    "PGPASSWORD, or in the variable's URL).",
                )
        else:
            origin = f"`url` of [tool.assetflow.io.{name}]"
        timeout = options.get("statement_timeout")
        return Server(
            url=str(url),
            shown=redact_url(str(url)),
            origin=origin,
            schema=str(options.get("schema") or DEFAULT_SCHEMA),
            pool_size=int(str(options.get("pool_size") or DEFAULT_POOL_SIZE)),
            statement_timeout=float(str(timeout)) if timeout is not None else None,
        )

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection checked out of this process's pool for the URL, returned on leaving."""
        pool = _pool(self)
        with pool.connection() as connection:
            yield connection

    def failure(self, error: BaseException, what: str, *, written: bool = True) -> AssetflowError:
        """The error to raise for a psycopg (or pool) failure, without the password."""
        import psycopg
        import psycopg.errors
        import psycopg_pool

        error_type: type[AssetflowError] = StoreError if written else WriteError
        nothing = "" if written else " Nothing was written: the transaction was rolled back."
        where = f"the PostgreSQL server {self.shown} (from {self.origin})"
        if isinstance(error, psycopg.errors.QueryCanceled):
            limit = f"{self.statement_timeout:g} s" if self.statement_timeout else "the server's"
            return error_type(
                f"{what}: the statement ran longer than the statement timeout ({limit}) on "
                f"{where} and was cancelled.{nothing}",
                hint="Raise `statement_timeout` in the io's [tool.assetflow.io.NAME] table "
                "(seconds), or find what holds the table's locks (pg_stat_activity) and "
                "re-run.",
            )
        if isinstance(error, psycopg_pool.PoolTimeout | psycopg.OperationalError):
            detail = redact_url(str(error).strip()).replace(self.url, self.shown)
            lost = (
                "the connection was lost"
                if "consuming input" in detail or "terminat" in detail or "closed" in detail
                else "cannot connect"
            )
            return error_type(
                f"{what}: {lost} ({connection_text(self.url)}): {detail}.{nothing}",
                hint="Check that the server is up and reachable, and the user and password "
                f"(never shown here) in {self.origin}, then re-run.",
            )
        return error_type(
            f"{what} on {where}: {type(error).__name__}: "
            f"{redact_url(str(error).strip())}.{nothing}",
            hint="If the table was changed by hand, drop it and materialize the asset again "
            "(with --force).",
        )


_POOLS: dict[tuple[int, str, float | None, int], ConnectionPool[Any]] = {}
_POOLS_LOCK = threading.Lock()


def _pool(server: Server) -> ConnectionPool[Any]:
    """This process's pool for the server's URL, made when first used; a pool made
    before a fork belongs to the parent and is never used (nor closed) by the child."""
    key = (os.getpid(), server.url, server.statement_timeout, server.pool_size)
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            from psycopg_pool import ConnectionPool

            for stale in [k for k in _POOLS if k[0] != key[0]]:
                del _POOLS[stale]  # inherited across a fork: the parent's sockets
            # No prepared statements: a table swapped in changes what a query returns.
            kwargs: dict[str, Any] = {"autocommit": True, "prepare_threshold": None}
            if server.statement_timeout is not None:
                milliseconds = max(int(server.statement_timeout * 1000), 1)
                kwargs["options"] = f"-c statement_timeout={milliseconds}"
            # One connection first, directly: a server that is down or a wrong password
            # fails here at once with the server's reason, not after the pool's wait.
            import psycopg

            psycopg.connect(server.url, connect_timeout=10, **kwargs).close()
            pool = ConnectionPool(
                server.url,
                min_size=1,
                max_size=max(server.pool_size, 1),
                kwargs=kwargs,
                configure=_configure,
                check=ConnectionPool.check_connection,
                timeout=30.0,
                open=False,
                name=f"assetflow-{server.shown}",
            )
            pool.open(wait=False)
            _POOLS[key] = pool
        return pool


def _configure(connection: psycopg.Connection[Any]) -> None:
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute("SET synchronize_seqscans = off")  # scans start at the first row


@atexit.register
def _close_pools() -> None:
    with _POOLS_LOCK:
        for (pid, *_), pool in list(_POOLS.items()):
            if pid == os.getpid():
                with contextlib.suppress(Exception):
                    pool.close(timeout=1.0)
        _POOLS.clear()
