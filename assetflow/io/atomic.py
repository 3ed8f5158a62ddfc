"""Atomic file replacement: write beside the target, then rename it into place.

Readers see the old file or the new one, never a partial one: the new content
goes to a hidden temporary file in the target's directory (the same
filesystem, so ``os.replace`` is an atomic rename), which is flushed to disk
and then renamed over the target. On any failure, including Ctrl-C, the
temporary file is removed and the previous file is left as it was.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from assetflow.errors import WriteError

logger = logging.getLogger(__name__)

#: Suffix of the temporary files written beside a target (``.<name>.<random>.tmp``).
TEMP_SUFFIX = ".tmp"
#: Random bytes in a temporary file's name: enough that concurrent writers never collide.
_TEMP_TOKEN_BYTES = 8
#: New files get the usual permissions (0o666 less the umask), as ``open()`` gives,
#: not the 0o600 of ``tempfile.mkstemp``, so other processes can read outputs.
_FILE_MODE = 0o666
#: errno values that mean "no space left" (EDQUOT: over quota; not on every platform).
_DISK_FULL = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
_STATE_DIR_HINT = "or point `state_dir` in the project's config at a directory you can write"


@contextlib.contextmanager
def atomic_path(target: Path, *, asset: str) -> Iterator[Path]:
    """Yield a temporary path to write; on success, move it onto ``target`` atomically.

    Args:
        target: The file to create or replace. Missing parent directories are created.
        asset: The asset whose output this is, for error messages.

    Yields:
        An empty temporary file beside ``target``, to be written (by path) in the block.

    Raises:
        WriteError: The directory cannot be created or written, or the write or
            the rename failed with an OS error (disk full, permissions, ...).
    """
    temp = _create_temp_file(target, asset)
    try:
        yield temp
        _fsync(temp, os.O_RDWR)  # Windows can only flush a file open for writing
        os.replace(temp, target)
    except BaseException as error:
        with contextlib.suppress(OSError):
            temp.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise _os_error(error, target, asset) from error
        raise
    # The directory is not synced: that would only make the newest rename
    # survive a power cut. The file's content is synced before the rename, so
    # after any crash the target holds the old or the new content, whole.
    logger.debug("replaced %s atomically", target)


def write_bytes_atomically(target: Path, data: bytes, *, asset: str) -> None:
    """Replace ``target`` with ``data`` atomically, through one descriptor.

    The same guarantees as ``atomic_path``, with fewer system calls: the
    temporary file is created, written, synced and closed once. Small outputs
    (JSON) go this way, where those calls are most of the cost.

    Raises:
        WriteError: As for ``atomic_path``.
    """
    directory = target.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        descriptor, temp = _open_temp(target)
    except OSError as error:
        raise _os_error(error, target, asset) from error
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(descriptor, view) :]
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temp, target)
    except BaseException as error:
        with contextlib.suppress(OSError):
            temp.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise _os_error(error, target, asset) from error
        raise
    logger.debug("replaced %s atomically", target)


def _open_temp(target: Path) -> tuple[int, Path]:
    """Create a fresh hidden temporary file beside ``target``; its descriptor and path."""
    while True:
        token = os.urandom(_TEMP_TOKEN_BYTES).hex()
        # The writer's pid is in the name, so a sweep can tell orphans from live writes.
        temp = target.parent / f".{target.name}.{os.getpid()}.{token}{TEMP_SUFFIX}"
        try:
            return os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE), temp
        except FileExistsError:
            continue  # another writer drew the same token; draw again


def remove_orphaned_temp_files(directory: Path, is_alive: Callable[[int], bool]) -> int:
    """Delete the temporary files that writers killed mid-write left under ``directory``
    (those whose writer's pid is gone); readers never saw them. Returns how many."""
    removed = 0
    for path in Path(directory).rglob(f".*{TEMP_SUFFIX}"):
        parts = path.name[: -len(TEMP_SUFFIX)].rsplit(".", 2)
        if len(parts) != 3 or not parts[1].isdigit() or is_alive(int(parts[1])):
            continue
        try:
            path.unlink()
            removed += 1
        except OSError:
            continue  # gone already, or not ours to delete: harmless either way
    return removed


def _create_temp_file(target: Path, asset: str) -> Path:
    directory = target.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        descriptor, temp = _open_temp(target)
        os.close(descriptor)
        return temp
    except OSError as error:
        raise _os_error(error, target, asset) from error


def _fsync(path: Path, flags: int) -> None:
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _os_error(error: OSError, target: Path, asset: str) -> WriteError:
    """Explain an OS error while writing ``target``: which directory, why, how to fix it."""
    directory = target.parent
    reason = error.strerror or str(error)
    what = f"cannot write the output of asset '{asset}' to '{target}'"
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return WriteError(
            f"{what}: the directory '{directory}' is not writable ({reason}).",
            hint=f"Make it writable (e.g. `chmod u+w {directory}`), {_STATE_DIR_HINT}.",
        )
    if error.errno in (errno.ENOTDIR, errno.EEXIST):
        blocker = _first_file_in_the_way(directory)
        return WriteError(
            f"{what}: '{blocker}' is a file, so the directory '{directory}' cannot be "
            f"created there ({reason}).",
            hint=f"Move or delete the file '{blocker}', {_STATE_DIR_HINT}.",
        )
    if error.errno in _DISK_FULL:
        return WriteError(
            f"{what}: the disk holding '{directory}' is full ({reason}).",
            hint=f"Free some space (old outputs are in '{directory}'), {_STATE_DIR_HINT}.",
        )
    return WriteError(
        f"{what}: {reason}.",
        hint=f"Check that '{directory}' is a writable directory, {_STATE_DIR_HINT}.",
    )


def _first_file_in_the_way(directory: Path) -> Path:
    """The nearest ancestor of ``directory`` (or itself) that exists but is not a directory."""
    for candidate in (directory, *directory.parents):
        if candidate.exists() and not candidate.is_dir():
            return candidate
    return directory
