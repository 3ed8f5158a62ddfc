"""The PostgreSQL store's database: its URL and options, a pool of connections, transactions
and units of work, and how psycopg's failures become StoreErrors.

A store URL is a libpq URL (``postgresql://user:pw@host:5432/db?sslmode=require``)
plus assetflow's own options, which are taken out before the URL reaches libpq:
``pool_min`` and ``pool_max`` (the pool's size, 1 and 4 by default) and
``statement_timeout`` (seconds; none by default). Every other option is libpq's
and passes through (``connect_timeout`` defaults to 10 s).

The first connection is made at once, directly, so that a server that is down
or a wrong password fails when the store is opened, with the server's reason; it
stays open for the store's lifetime (the schema's use lock lives on it). The
pool is opened on first use, every checkout is scoped by a ``with``, and a pool
made before a fork is never used by the child, which opens its own.

PostgreSQL text cannot hold NUL, which SQLite text (and so the store's
contract) can: every connection carries a string adapter that writes ``\\x00``
as ``\\x01\\x01`` and ``\\x01`` as ``\\x01\\x02``, and reads them back. The
mapping keeps equality, prefixes and (in the "C" collation the schema uses)
order, and leaves all other text as it is.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from assetflow.errors import StoreError, did_you_mean, suggest
from assetflow.urls import connection_text, redact_url

if TYPE_CHECKING:
    import psycopg
    from psycopg.abc import Buffer
    from psycopg_pool import ConnectionPool

logger = logging.getLogger(__name__)

#: assetflow's own URL options, with what each means (for messages).
OWN_OPTIONS = {
    "pool_min": "connections the pool keeps open, default 1",
    "pool_max": "connections the pool opens at most, default 4",
    "statement_timeout": "seconds a statement may run before the server cancels it",
}
DEFAULT_POOL_MIN = 1
DEFAULT_POOL_MAX = 4
DEFAULT_CONNECT_TIMEOUT_S = 10
#: The advisory lock an outermost unit of work holds until it ends (see ``unit_of_work``).
UNIT_LOCK_KEY = 0x61667375
#: A pooled connection idle for longer is checked (an empty statement) before it is lent,
#: so that one closed by a server restart or an idle timeout is replaced, not failed on.
IDLE_CHECK_S = 30.0
#: How long a checkout waits for a free connection of the pool.
POOL_TIMEOUT_S = 30.0

_NUL_ESCAPES = re.compile("\x01(.)", re.DOTALL)
_UNESCAPED = {"\x01": "\x00", "\x02": "\x01"}


def escape_text(text: str) -> str:
    """``text`` as PostgreSQL keeps it: NUL as ``\\x01\\x01``, ``\\x01`` as ``\\x01\\x02``."""
    if "\x00" not in text and "\x01" not in text:
        return text
    return text.replace("\x01", "\x01\x02").replace("\x00", "\x01\x01")


def unescape_text(text: str) -> str:
    """The text ``escape_text`` made ``text`` from."""
    if "\x01" not in text:
        return text
    return _NUL_ESCAPES.sub(lambda found: _UNESCAPED.get(found.group(1), found.group(1)), text)


@dataclass(frozen=True, slots=True)
class PgOptions:
    """assetflow's options of a store URL."""

    pool_min: int = DEFAULT_POOL_MIN
    pool_max: int = DEFAULT_POOL_MAX
    #: seconds; None leaves the server's setting
    statement_timeout: float | None = None
    #: libpq's ``options`` from the URL (server settings, ``-c search_path=...``), kept
    #: apart so that the store's own settings join them rather than replace them
    server_options: str = ""


@dataclass(frozen=True, slots=True)
class PgUrl:
    """A store URL split into what libpq gets and assetflow's own options."""

    #: the URL for libpq, without assetflow's options (it may hold the password)
    libpq: str
    options: PgOptions
    #: the URL as messages show it (password as ***)
    shown: str


def _libpq_options() -> frozenset[str]:
    from psycopg import pq

    return frozenset(option.keyword.decode() for option in pq.Conninfo.get_defaults())


def _option_error(shown: str, message: str) -> StoreError:
    known = ", ".join(f"{name} ({meaning})" for name, meaning in OWN_OPTIONS.items())
    return StoreError(
        f"the PostgreSQL metadata store URL {shown} {message}",
        hint=f"assetflow's own options are {known}; every other option is libpq's "
        "(sslmode, connect_timeout, application_name, sslrootcert, ...).",
    )


def _number(shown: str, name: str, text: str, *, integer: bool, least: float) -> float:
    try:
        value = float(int(text)) if integer else float(text)
    except ValueError:
        value = math.nan
    if math.isnan(value) or math.isinf(value) or value < least:
        kind = "a whole number" if integer else "a number of seconds"
        raise _option_error(
            shown, f"has {name}={text!r}, which is not {kind} of at least {least:g}."
        )
    return value


def parse_pg_url(url: str) -> PgUrl:
    """Split a ``postgresql://`` (or ``postgres://``) URL into libpq's URL and our options.

    Raises:
        StoreError: An option is unknown (named, with the known ones and the closest
            one) or has a bad value.
    """
    shown = redact_url(url)
    parts = urlsplit(url)
    own: dict[str, str] = {}
    kept: list[tuple[str, str]] = []
    libpq_options: frozenset[str] | None = None
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in OWN_OPTIONS or name == "options":
            own[name] = value
            continue
        libpq_options = libpq_options or _libpq_options()
        if name not in libpq_options:
            hint = did_you_mean(suggest(name, [*OWN_OPTIONS, *sorted(libpq_options)]))
            raise _option_error(
                shown, f"has the option {name!r}, which neither assetflow nor libpq knows. {hint}"
            )
        kept.append((name, value))
    given = {name for name, _ in kept}
    if "connect_timeout" not in given:
        kept.append(("connect_timeout", str(DEFAULT_CONNECT_TIMEOUT_S)))
    if "application_name" not in given:
        # Names the sessions in pg_stat_activity (and in `store migrate`'s refusal).
        kept.append(("application_name", "assetflow"))
    pool_min = int(_number(shown, "pool_min", own.get("pool_min", "1"), integer=True, least=0))
    pool_max = int(_number(shown, "pool_max", own.get("pool_max", "4"), integer=True, least=1))
    if pool_min > pool_max:
        raise _option_error(shown, f"has pool_min={pool_min} above pool_max={pool_max}.")
    timeout = own.get("statement_timeout")
    seconds = (
        None
        if timeout is None
        else _number(shown, "statement_timeout", timeout, integer=False, least=0.001)
    )
    libpq = urlunsplit(parts._replace(query=urlencode(kept)))
    return PgUrl(libpq, PgOptions(pool_min, pool_max, seconds, own.get("options", "")), shown)


def _register_text_adapters(connection: psycopg.Connection[Any]) -> None:
    """Make the connection write and read text through ``escape_text``/``unescape_text``."""
    from psycopg.types.string import (
        StrBinaryDumper,
        StrDumperUnknown,
        TextBinaryLoader,
        TextLoader,
    )

    class _Dumper(StrDumperUnknown):
        def dump(self, obj: str) -> Buffer | None:
            return super().dump(escape_text(obj))

    class _BinaryDumper(StrBinaryDumper):
        def dump(self, obj: str) -> Buffer | None:
            return super().dump(escape_text(obj))

    class _Loader(TextLoader):
        def load(self, data: Any) -> str:
            return unescape_text(str(super().load(data)))

    class _BinaryLoader(TextBinaryLoader):
        def load(self, data: Any) -> str:
            return unescape_text(str(super().load(data)))

    adapters = connection.adapters
    adapters.register_dumper(str, _Dumper)
    adapters.register_dumper(str, _BinaryDumper)
    for name in ("text", "varchar"):
        adapters.register_loader(name, _Loader)
        adapters.register_loader(name, _BinaryLoader)


@dataclass(slots=True)
class _Unit:
    """The unit of work open on one thread: its connection and what runs after its commit."""

    connection: psycopg.Connection[Any]
    depth: int = 1
    callbacks: list[Callable[[], None]] = field(default_factory=list)


class PgDatabase:
    """One PostgreSQL metadata store's connections: a direct one, held while it is open,
    and a pool opened on first use; safe to share between threads."""

    def __init__(self, url: str) -> None:
        """Parse ``url`` and connect once, directly, to fail at once if the server cannot
        be reached or refuses the login.

        Raises:
            StoreError: A URL option is unknown or bad, or the connection fails
                (host, database and user named; the server's reason; no password).
        """
        parsed = parse_pg_url(url)
        #: the URL with its password as ***
        self.shown = parsed.shown
        self.options = parsed.options
        self._libpq = parsed.libpq
        self._pool: ConnectionPool[Any] | None = None
        self._pool_pid = 0
        self._owner_pid = os.getpid()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._closed = False
        # When each pooled connection was last given back (see IDLE_CHECK_S).
        self._returned_at: weakref.WeakKeyDictionary[psycopg.Connection[Any], float] = (
            weakref.WeakKeyDictionary()
        )
        #: the connection made on opening, held for the store's lifetime
        self.session: psycopg.Connection[Any] = self.connect()

    @property
    def database_key(self) -> tuple[str, str, str]:
        """(host, port, database) as libpq reads the URL: two stores with the same key are
        one database."""
        from psycopg.conninfo import conninfo_to_dict

        params = conninfo_to_dict(self._libpq)
        host = str(params.get("host") or "localhost")
        port = str(params.get("port") or "5432")
        database = str(params.get("dbname") or params.get("user") or "")
        return host, port, database

    def _connection_kwargs(self) -> dict[str, Any]:
        options = f"{self.options.server_options} -c TimeZone=UTC".strip()
        if self.options.statement_timeout is not None:
            milliseconds = max(round(self.options.statement_timeout * 1000), 1)
            options += f" -c statement_timeout={milliseconds}"
        return {"autocommit": True, "prepare_threshold": None, "options": options}

    def connect(self) -> psycopg.Connection[Any]:
        """A new connection outside the pool (autocommit), configured like the pool's.

        Raises:
            StoreError: The server cannot be reached or refuses the login.
        """
        import psycopg

        try:
            connection = psycopg.connect(self._libpq, **self._connection_kwargs())
        except (psycopg.Error, UnicodeEncodeError) as error:
            raise self._connect_error(error) from None
        _register_text_adapters(connection)
        return connection

    def _connect_error(self, error: BaseException) -> StoreError:
        reason = redact_url(str(error).strip()).replace(self._libpq, self.shown)
        reason = " ".join(reason.split())
        return StoreError(
            f"cannot connect to the PostgreSQL metadata store ({connection_text(self._libpq)}): "
            f"{reason}",
            hint=f"Check that the server is up and reachable from here, and the user, "
            f"password and database of {self.shown} (`store` in [tool.assetflow], or the "
            "variable `store_env` names).",
        )

    def _usable_pool(self) -> ConnectionPool[Any]:
        if self._closed:
            raise StoreError(
                f"the PostgreSQL metadata store {self.shown} is closed.",
                hint="Open it again with open_store(url).",
            )
        pid = os.getpid()
        with self._lock:
            if self._pool is None or self._pool_pid != pid:
                # A pool made before a fork holds the parent's sockets: leave it alone.
                from psycopg_pool import ConnectionPool

                self._pool = ConnectionPool(
                    self._libpq,
                    min_size=self.options.pool_min,
                    max_size=self.options.pool_max,
                    kwargs=self._connection_kwargs(),
                    configure=_register_text_adapters,
                    check=self._check_idle,
                    timeout=POOL_TIMEOUT_S,
                    open=False,
                    name=f"assetflow-store-{self.shown}",
                )
                self._pool.open(wait=False)
                self._pool_pid = pid
            return self._pool

    def _check_idle(self, connection: psycopg.Connection[Any]) -> None:
        """The pool's check before lending ``connection``: a round trip, if it was idle long."""
        returned_at = self._returned_at.get(connection)
        if returned_at is None or time.monotonic() - returned_at > IDLE_CHECK_S:
            connection.execute("")

    def _unit(self) -> _Unit | None:
        unit: _Unit | None = getattr(self._local, "unit", None)
        return unit

    @contextmanager
    def _checkout(self, action: str) -> Iterator[psycopg.Connection[Any]]:
        """A connection of the pool for the block; any psycopg failure a StoreError."""
        import psycopg
        import psycopg_pool

        pool = self._usable_pool()
        try:
            with pool.connection() as connection:
                try:
                    yield connection
                finally:
                    self._returned_at[connection] = time.monotonic()
        except (psycopg.Error, psycopg_pool.PoolTimeout, UnicodeEncodeError) as error:
            raise self.failure(error, action) from error

    @contextmanager
    def transaction(self, action: str) -> Iterator[psycopg.Connection[Any]]:
        """A write transaction; inside an open unit of work on this thread it joins the
        unit's transaction as a savepoint (a failure undoes only the block's writes).

        Raises:
            StoreError: Any psycopg failure, through ``failure(error, action)``; a
                StoreError raised in the block passes as it is. Either rolls back.
        """
        import psycopg

        unit = self._unit()
        if unit is not None:
            try:
                with unit.connection.transaction():
                    yield unit.connection
            except (psycopg.Error, UnicodeEncodeError) as error:
                raise self.failure(error, action) from error
            return
        with self._checkout(action) as connection, connection.transaction():
            yield connection

    @contextmanager
    def statement(self, action: str) -> Iterator[psycopg.Connection[Any]]:
        """A connection for a write of ONE statement: on its own it commits by itself
        (no BEGIN and COMMIT round trips); inside a unit of work it is ``transaction``'s
        savepoint, so that its failure leaves the unit going.

        Raises:
            StoreError: As ``transaction``.
        """
        if self._unit() is not None:
            with self.transaction(action) as connection:
                yield connection
            return
        with self._checkout(action) as connection:
            yield connection

    @contextmanager
    def reading(self, action: str) -> Iterator[psycopg.Connection[Any]]:
        """A connection to read on (each statement on its own); inside an open unit of
        work on this thread, the unit's, so that the unit sees its own writes.

        Raises:
            StoreError: Any psycopg failure, through ``failure(error, action)``.
        """
        import psycopg

        unit = self._unit()
        if unit is not None:
            try:
                yield unit.connection
            except (psycopg.Error, UnicodeEncodeError) as error:
                raise self.failure(error, action) from error
            return
        with self._checkout(action) as connection:
            yield connection

    @contextmanager
    def unit_of_work(self) -> Iterator[tuple[psycopg.Connection[Any], bool]]:
        """One transaction for the block on this thread; nested units join it. Outermost
        units take turns across threads and processes (an advisory lock held until the
        unit ends).

        Yields:
            The unit's connection, and whether this unit joined an outer one.

        Raises:
            StoreError: The store is closed, or the commit fails (then nothing of
                the block is written).
        """
        unit = self._unit()
        if unit is not None:
            unit.depth += 1
            try:
                yield unit.connection, True
            finally:
                unit.depth -= 1
            return
        with self._checkout("begin a unit of work") as connection:
            unit = _Unit(connection)
            self._local.unit = unit
            try:
                with self._commit_errors(), connection.transaction():
                    # Units queue for each other, across processes, as SQLite's do: a
                    # unit's reads and its writes are then one step (writes outside
                    # units are settled by row locks and do not wait).
                    connection.execute("SELECT pg_advisory_xact_lock(%s)", (UNIT_LOCK_KEY,))
                    yield connection, False
            finally:
                self._local.unit = None
        for callback in unit.callbacks:
            callback()

    @contextmanager
    def _commit_errors(self) -> Iterator[None]:
        import psycopg

        try:
            yield
        except (psycopg.Error, UnicodeEncodeError) as error:
            raise self.failure(error, "commit a unit of work") from error

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once this thread's open unit of work commits, or now without one."""
        unit = self._unit()
        if unit is not None:
            unit.callbacks.append(callback)
            return
        callback()

    def failure(self, error: BaseException, action: str) -> StoreError:
        """The StoreError for a psycopg (or pool) failure while doing ``action``; never
        shows the password."""
        import psycopg
        import psycopg.errors
        import psycopg_pool

        if isinstance(error, StoreError):
            return error
        if isinstance(error, UnicodeEncodeError):
            # Records are checked before writing: this is a lookup with bad text.
            return StoreError(
                f"cannot {action} in the PostgreSQL metadata store {self.shown}: "
                f"{error.object!r} is not valid Unicode text.",
                hint="Pass valid text (a lone surrogate usually comes from bytes "
                "decoded with errors='surrogateescape').",
            )
        detail = redact_url(str(error).strip()).replace(self._libpq, self.shown)
        detail = " ".join(detail.split())
        if isinstance(error, psycopg.errors.QueryCanceled):
            seconds = self.options.statement_timeout
            limit = f"{seconds:g} s" if seconds is not None else "the server's own"
            return StoreError(
                f"cannot {action}: a statement ran longer than the statement timeout "
                f"({limit}) of the PostgreSQL metadata store {self.shown} and was cancelled; "
                "nothing of it was written.",
                hint="Raise the timeout with the URL option `?statement_timeout=SECONDS` "
                "(e.g. ?statement_timeout=120), or find what holds locks on the store's "
                "tables (pg_stat_activity) and retry.",
            )
        if isinstance(error, psycopg_pool.PoolTimeout):
            return StoreError(
                f"cannot {action}: no connection to the PostgreSQL metadata store "
                f"({connection_text(self._libpq)}) became free or could be made within "
                f"{POOL_TIMEOUT_S:g} s: {detail}",
                hint="Check that the server is up and reachable; raise `?pool_max=` in the "
                "store URL if many threads use the store at once.",
            )
        if isinstance(error, psycopg.OperationalError):
            return StoreError(
                f"cannot {action}: the connection to the PostgreSQL metadata store "
                f"({connection_text(self._libpq)}) failed: {detail}",
                hint="Check that the server is up and reachable, then retry.",
            )
        return StoreError(
            f"cannot {action} in the PostgreSQL metadata store {self.shown}: "
            f"{type(error).__name__}: {detail}",
            hint="If the store's tables were changed by hand, run `assetflow store migrate` "
            "against a fresh database and copy the history with `assetflow store copy`.",
        )

    def close(self) -> None:
        """Close the pool and the session connection; closing twice is fine."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pool, self._pool = self._pool, None
        # A pool or connection inherited through fork holds the parent's sockets.
        if pool is not None and self._pool_pid == os.getpid():
            try:
                pool.close(timeout=5.0)
            except Exception:
                logger.warning("closing the pool of %s failed", self.shown, exc_info=True)
        if os.getpid() == self._owner_pid:
            try:
                self.session.close()
            except Exception:
                logger.warning("closing the connection to %s failed", self.shown, exc_info=True)
