"""Open a metadata store from a URL, through one table of schemes.

A store is named by a URL so that a project's configuration (or an environment
variable, for a URL holding a password) can point at any backend:

- ``sqlite:///abs/path/metadata.sqlite``: the embedded store, an absolute path;
- ``sqlite:relative/path.sqlite``: a path relative to the project root (the
  ``root`` given to ``open_store``; the working directory without one);
- ``postgresql://user:password@host:5432/database?statement_timeout=30`` (or
  ``postgres://``): a PostgreSQL database shared by many machines; its schema is
  made by ``assetflow store migrate`` (see ``assetflow.store.postgres``);
- ``memory://``: an in-memory store that forgets everything on close (tests).

Each scheme has one entry in ``OPENERS``; a new backend is one more entry there.
Messages show a URL with its password replaced by ``***``,
so a secret never reaches a terminal or a log.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from urllib.parse import quote, unquote

from assetflow.errors import StoreError, did_you_mean, suggest
from assetflow.store.base import MetadataStore
from assetflow.store.sqlite import SqliteStore
from assetflow.urls import REDACTED, redact_url

__all__ = [
    "OPENERS",
    "REDACTED",
    "StoreUrl",
    "open_store",
    "parse_store_url",
    "redact_url",
    "sqlite_path",
    "sqlite_url",
]

_URL_EXAMPLES = (
    "A metadata store is named by a URL: sqlite:///abs/path/metadata.sqlite (an absolute "
    "path), sqlite:relative/path.sqlite (relative to the project directory), "
    "postgresql://user:password@host:5432/database (a PostgreSQL database), or memory:// "
    "(in memory, for tests)."
)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


@dataclass(frozen=True, slots=True)
class StoreUrl:
    """A store URL split at its scheme, with a form safe to show."""

    #: the scheme, lower-cased (``sqlite``, ``memory``, ``postgresql``)
    scheme: str
    #: what follows ``scheme:``
    rest: str
    #: the whole URL with any password replaced by ``***``
    shown: str


#: Opens the store a URL names; ``root`` is the directory relative paths start from.
StoreOpener = Callable[[StoreUrl, Path | None], MetadataStore]


def sqlite_url(path: str | Path) -> str:
    """The URL of the SQLite store file at ``path`` (made absolute)."""
    return "sqlite://" + quote(Path(path).expanduser().absolute().as_posix())


def parse_store_url(url: str) -> StoreUrl:
    """Split a store URL at its scheme.

    Raises:
        StoreError: ``url`` has no scheme, or a scheme no backend opens (with the
            closest known schemes).
    """
    shown = redact_url(url)
    found = _SCHEME.match(url)
    if found is None:
        raise StoreError(
            f"the metadata store {shown!r} is not a URL: it has no scheme such as 'sqlite:'.",
            hint=_URL_EXAMPLES,
        )
    scheme = found.group(1).lower()
    if scheme not in OPENERS:
        known = ", ".join(f"'{name}'" for name in sorted(OPENERS))
        hint = did_you_mean(suggest(scheme, OPENERS))
        raise StoreError(
            f"unknown metadata store scheme '{scheme}' in {shown!r}; the known schemes "
            f"are {known}.",
            hint=f"{hint}\n\n{_URL_EXAMPLES}" if hint else _URL_EXAMPLES,
        )
    return StoreUrl(scheme, url[found.end() :], shown)


def open_store(
    url: str | Path, location: str | Path | None = None, *, root: Path | None = None
) -> MetadataStore:
    """Open the metadata store a URL names.

    Args:
        url: ``sqlite:///abs/path``, ``sqlite:relative/path``, ``memory://`` (see the
            module docstring). The older form ``open_store(kind, location)``, with
            ``kind`` ``"sqlite"`` or ``"memory"`` and ``location`` the SQLite file,
            still works.
        location: Only with the older form: the SQLite file.
        root: The directory a relative ``sqlite:`` path starts from (the project root).

    Returns:
        The open store; close it, or use it as a context manager.

    Raises:
        StoreError: The URL is not one, its scheme is unknown (the message offers
            the closest known schemes) or not available yet, or the store cannot
            be opened. No message shows the URL's password.
    """
    text = str(url)
    if location is not None or text in _KINDS:
        return _open_kind(text, location)
    parsed = parse_store_url(text)
    return OPENERS[parsed.scheme](parsed, root)


_KINDS = ("memory", "sqlite")


def _open_kind(kind: str, location: str | Path | None) -> MetadataStore:
    """The older ``open_store(kind, location)`` form."""
    if kind == "memory":
        from assetflow.store.memory import MemoryStore  # only tests use it: keep start-up fast

        return MemoryStore()
    if kind == "sqlite":
        if location is None:
            raise StoreError(
                "the sqlite metadata store needs a location (the path of its file).",
                hint="Pass a URL such as sqlite:///abs/path/metadata.sqlite.",
            )
        return SqliteStore(location)
    known = ", ".join(f"'{name}'" for name in _KINDS)
    hint = did_you_mean(suggest(kind, _KINDS))
    raise StoreError(
        f"unknown metadata store kind '{redact_url(kind)}'; the known kinds are {known}.",
        hint=hint or "Use 'sqlite' for a project's store, 'memory' for tests.",
    )


def _open_sqlite(url: StoreUrl, root: Path | None) -> MetadataStore:
    return SqliteStore(sqlite_path(url, root))


def sqlite_path(url: StoreUrl, root: Path | None) -> Path:
    """The file a ``sqlite:`` URL names (a relative path starts at ``root``).

    Raises:
        StoreError: The URL names a host, has options, or names no file.
    """
    rest = url.rest
    if rest.startswith("//"):
        host, slash, after_host = rest[2:].partition("/")
        if host not in ("", "localhost"):
            # The host as shown: the raw one may hold a password.
            shown_host = url.shown.partition("//")[2].partition("/")[0]
            raise StoreError(
                f"the SQLite metadata store {url.shown!r} names a host ({shown_host!r}); a "
                "SQLite "
                "store is a file on this machine.",
                hint="Write sqlite:///abs/path/metadata.sqlite (three slashes) for an "
                "absolute path, or sqlite:relative/path.sqlite for one inside the project.",
            )
        rest = slash + after_host
    if "?" in rest or "#" in rest:
        raise StoreError(
            f"the SQLite metadata store {url.shown!r} has options ('?' or '#'); a sqlite "
            "URL is only a path.",
            hint="Remove everything from the '?' or '#' on. A file name holding one of these "
            "characters is written %3F or %23.",
        )
    path = Path(unquote(rest)).expanduser()
    if not rest:
        raise StoreError(
            f"the SQLite metadata store {url.shown!r} names no file.",
            hint=_URL_EXAMPLES,
        )
    if not path.is_absolute() and root is not None:
        path = root / path
    return path


def _open_memory(url: StoreUrl, root: Path | None) -> MetadataStore:
    if url.rest not in ("", "//"):
        raise StoreError(
            f"the in-memory metadata store {url.shown!r} takes no location.",
            hint="Write memory:// (it keeps nothing once closed).",
        )
    from assetflow.store.memory import MemoryStore  # only tests use it: keep start-up fast

    return MemoryStore()


def _open_postgresql(url: StoreUrl, root: Path | None) -> MetadataStore:
    # Imported here: `assetflow --help` and SQLite users never load psycopg.
    from assetflow.store.postgres import PostgresStore

    return PostgresStore(f"{url.scheme}:{url.rest}")


#: Every scheme a store URL may have, and what opens it: a new backend is one entry.
OPENERS: Mapping[str, StoreOpener] = MappingProxyType(
    {
        "sqlite": _open_sqlite,
        "memory": _open_memory,
        "postgresql": _open_postgresql,
        "postgres": _open_postgresql,
    }
)
