"""Turn SQLite and filesystem failures into StoreErrors that say what, where and how to fix.

A user never sees a raw sqlite3 traceback: each failure is sorted into a kind
(locked, corrupt, not permitted, disk full, ...) by its SQLite result code,
falling back to its message, and the kind decides the advice.
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

from assetflow.errors import StoreError

# Primary SQLite result codes (the low byte of an extended code).
_PERMISSION_CODES = frozenset(
    {sqlite3.SQLITE_PERM, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_AUTH}
)
_CORRUPT_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
_DISK_CODES = frozenset({sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR})

_CORRUPT_WORDS = ("not a database", "malformed", "corrupt")
_PERMISSION_WORDS = ("readonly", "read-only", "unable to open", "permission", "access")
_BUSY_WORDS = ("database is locked", "database table is locked", "busy")
_DISK_WORDS = ("disk", "full", "i/o")


def _primary_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def _has_word(exc: sqlite3.Error, words: tuple[str, ...]) -> bool:
    text = str(exc).lower()
    return any(word in text for word in words)


def is_busy(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` means another connection holds a lock (worth retrying)."""
    code = _primary_code(exc)
    if code is not None:
        return code in _BUSY_CODES
    return _has_word(exc, _BUSY_WORDS)


def is_corrupt(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` means the file is not a (healthy) SQLite database."""
    return _primary_code(exc) in _CORRUPT_CODES or _has_word(exc, _CORRUPT_WORDS)


def corrupt_store_error(path: Path, detail: str) -> StoreError:
    """The error for a store file that is damaged or not a SQLite database at all."""
    moves = [f"mv {path} {path}.corrupt"]
    # A leftover -wal file belongs with its database: left behind, SQLite would
    # replay it into the new store.
    for suffix in ("-wal", "-shm"):
        if Path(f"{path}{suffix}").exists():
            moves.append(f"mv {path}{suffix} {path}.corrupt{suffix}")
    commands = "\n".join(f"    {move}" for move in moves)
    return StoreError(
        f"the metadata store {path} is corrupt or is not a SQLite database ({detail}).",
        hint=(
            f"Move it aside:\n\n{commands}\n\n"
            "assetflow creates a new, empty store on the next run: run history is lost, "
            "your assets' data is not, and stale assets are rebuilt. To salvage the old "
            f"rows into the new store first, try:\n\n"
            f"    sqlite3 {path}.corrupt .recover | sqlite3 {path}"
        ),
    )


def permission_store_error(path: Path, detail: str) -> StoreError:
    """The error for a store file or directory that assetflow may not read or write."""
    return StoreError(
        f"cannot open the metadata store {path} for writing ({detail}).",
        hint=(
            f"assetflow writes {path.name} and, beside it, {path.name}-wal and "
            f"{path.name}-shm in {path.parent}. Fix the permissions (e.g. `chmod u+w "
            f"{path.parent}`) or point assetflow at a store location you can write."
        ),
    )


def store_error(exc: sqlite3.Error, path: Path, action: str) -> StoreError:
    """Describe a sqlite3 failure as a StoreError.

    Args:
        exc: What sqlite3 raised.
        path: The store file.
        action: What the store was doing, as a verb phrase ("record a batch").

    Returns:
        The error to raise (``from exc``).
    """
    detail = str(exc) or type(exc).__name__
    code = _primary_code(exc)
    if is_corrupt(exc):
        return corrupt_store_error(path, detail)
    if is_busy(exc):
        return StoreError(
            f"cannot {action}: the metadata store {path} stayed locked by another "
            f"connection ({detail}).",
            hint=(
                "Another assetflow process (a run, the scheduler or the UI) held a write "
                "lock for longer than the busy timeout. Retry when it is done, or stop an "
                "assetflow process that is stuck."
            ),
        )
    if code in _PERMISSION_CODES or _has_word(exc, _PERMISSION_WORDS):
        return permission_store_error(path, detail)
    if code in _DISK_CODES or _has_word(exc, _DISK_WORDS):
        return StoreError(
            f"cannot {action}: writing the metadata store {path} failed ({detail}).",
            hint=f"Check that the disk holding {path.parent} has free space and is healthy.",
        )
    return StoreError(
        f"cannot {action} in the metadata store {path}: {detail}.",
        hint="If this persists, move the store aside (a new empty store is created) "
        "and report the problem.",
    )


def prepare_location(path: Path) -> None:
    """Make sure a SQLite file can be created at ``path``: create its directory.

    Raises:
        StoreError: ``path`` is a directory, or its directory cannot be created.
    """
    try:
        is_directory = path.is_dir()
    except OSError as exc:
        raise permission_store_error(path, exc.strerror or str(exc)) from exc
    if is_directory:
        raise StoreError(
            f"the metadata store path {path} is a directory, not a SQLite file.",
            hint=(
                f"Move the directory aside (`mv {path} {path}.old`): a new, empty store "
                "is created there on the next run. Or point assetflow at a file path."
            ),
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno in (errno.EEXIST, errno.ENOTDIR):
            reason = "a file is in the way of a directory on that path"
        raise StoreError(
            f"cannot create the directory {path.parent} for the metadata store {path} ({reason}).",
            hint=(
                "Fix the permissions of its parent directory, remove the file that is in "
                "the way, or point assetflow at another store location."
            ),
        ) from exc
