"""Turn SQLite and filesystem failures into StoreErrors that say what, where and how to fix.

A user never sees a raw sqlite3 traceback: each failure is sorted into a kind
(locked, corrupt, not permitted, disk full, ...) by its SQLite result code,
falling back to its message, and the kind decides the advice.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import time
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


#: How long an empty or short store file is watched before it is called damaged: another
#: process may be creating the file (it is empty until its first page is written) or
#: checkpointing it (which writes the first page, with the new size, before the rest).
DAMAGED_FILE_WAIT_S = 1.0
_DAMAGED_FILE_POLL_S = 0.05
_HEADER = b"SQLite format 3\x00"


def check_store_file(path: Path, wait_s: float = DAMAGED_FILE_WAIT_S) -> None:
    """Refuse a store file that is empty or shorter than its own header says, before
    SQLite opens it: SQLite takes a 0-byte file for a new, empty database, which would
    show an empty history where there was one, and reads a truncated file until it
    reaches a missing page, which may be never for the newest runs.

    A file that does not exist is fine (a new store), and so is one whose header
    does not look like SQLite's: SQLite's own error describes that one.

    Raises:
        StoreError: The file is empty, or shorter than its pages.
    """
    deadline = time.monotonic() + wait_s
    while True:
        problem = _damage(path)
        if problem is None:
            return
        if time.monotonic() >= deadline:
            raise problem
        time.sleep(_DAMAGED_FILE_POLL_S)


def _damage(path: Path) -> StoreError | None:
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            header = handle.read(100)
    except OSError:
        return None  # missing (a new store), or unreadable: SQLite says which
    if size == 0:
        return empty_store_error(path)
    if len(header) < 100 or not header.startswith(_HEADER):
        return None
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    # The page count is valid only while "version valid for" equals the change counter.
    if header[92:96] != header[24:28] or pages * page_size <= size:
        return None
    return corrupt_store_error(
        path,
        f"the file is truncated: its header counts {pages} pages of {page_size} bytes, "
        f"{pages * page_size} bytes, but it holds {size}",
    )


def empty_store_error(path: Path) -> StoreError:
    """The error for a store file of 0 bytes: an empty file is what a failed copy, a full
    disk or a truncation leaves of a store, so it is not taken for a new one."""
    return StoreError(
        f"the metadata store {path} is empty (0 bytes). assetflow does not take an empty "
        "file for a new store: a failed copy, a full disk or a truncation leaves a store "
        "empty, and its run history would silently start over, calling every output "
        "never materialized.",
        hint=(
            f"If it held run history, restore {path.name} from a backup. To start over "
            f"without history (or if the file is new, made by `touch` or `mktemp`), move "
            f"it aside and assetflow creates the store:\n\n    mv {path} {path}.empty\n\n"
            "The stored outputs are not deleted; the next `assetflow materialize` rebuilds "
            "what the new history cannot vouch for."
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
