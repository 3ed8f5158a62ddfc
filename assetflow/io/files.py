"""What the file kinds (Parquet, JSON) share: where a partition's file is, stat, missing files."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from stat import S_ISREG

from assetflow.errors import StoreError, WriteError
from assetflow.io.base import IOSettings, OutputRef, OutputStat, WriteTarget
from assetflow.io.paths import output_path
from assetflow.io.remote import RemoteStorage
from assetflow.io.storage import remote_storage, unique_path


def file_stat(ref: OutputRef) -> OutputStat | None:
    """The size and modification time of a stored file; None if it is missing (or not a file)."""
    if ref.path is None:
        return None
    try:
        status = os.stat(ref.path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not S_ISREG(status.st_mode):  # one system call, not a second for isfile()
        return None
    return OutputStat(bytes=status.st_size, modified_at=status.st_mtime)


def new_object(
    remote: RemoteStorage, target: WriteTarget, kind: str, version: str
) -> tuple[Path, str]:
    """A key no other write uses for the target's output, and the path that stands for
    it (the one recorded): ``<data>/orders.<version>.<random>.parquet``.

    Raises:
        WriteError: The target's directory is not under the state directory, so no
            path can stand for a key under the storage root.
    """
    path = unique_path(output_path(target.directory, target.asset, kind, target.partition), version)
    path = path.absolute()
    key = remote.key(path)
    if key is None:
        raise WriteError(
            f"cannot place the output of asset '{target.asset}' under {remote.url}: "
            f"'{target.directory}' is outside the project's state directory.",
            hint="Write outputs to the state directory's data directory, which "
            "`storage` stands in for.",
        )
    return path, key


def remote_or_file_stat(settings: IOSettings, ref: OutputRef) -> OutputStat | None:
    """``file_stat``, or the object's size and time when ``ref`` is on object storage."""
    remote = remote_storage(settings)
    key = remote.key(ref.path) if remote is not None else None
    if remote is not None and key is not None:
        return remote.stat(key)
    return file_stat(ref)


def remote_or_file_stats(settings: IOSettings, paths: Sequence[str]) -> list[OutputStat | None]:
    """``file_stats``, with the paths that stand for objects looked at on the object
    storage together (one listing, for many; see ``RemoteStorage.stats``)."""
    remote = remote_storage(settings)
    if remote is None:
        return file_stats(paths)
    keys = [remote.key(path) for path in paths]
    found: list[OutputStat | None] = [None] * len(paths)
    remote_at = [n for n, key in enumerate(keys) if key is not None]
    local_at = [n for n, key in enumerate(keys) if key is None]
    for n, stat in zip(remote_at, remote.stats([keys[n] or "" for n in remote_at]), strict=True):
        found[n] = stat
    for n, stat in zip(local_at, file_stats([paths[n] for n in local_at]), strict=True):
        found[n] = stat
    return found


def remote_partition_keys(
    remote: RemoteStorage, asset: str, refs: Sequence[OutputRef]
) -> list[str]:
    """The object key of each ref, in order, after checking that every one is there.

    Raises:
        StoreError: Objects are missing: every missing partition is named.
    """
    keys = [remote.key(ref.path) or "" for ref in refs]
    stats = remote.stats(keys)
    missing = [ref for ref, stat in zip(refs, stats, strict=True) if stat is None]
    if missing:
        gone = [key for key, stat in zip(keys, stats, strict=True) if stat is None]
        shown = remote.shown(gone[0])
        raise missing_partitions_error(asset, missing, example=shown)
    return keys


def file_stats(paths: Sequence[str]) -> list[OutputStat | None]:
    """``file_stat`` of many files, by path text, for verifying a year of daily partitions
    (see ``assetflow.io.stats``).

    Each file is looked up relative to an open descriptor of its grandparent directory
    (an asset's directory, for partition files ``<asset>/partition=<key>/part.json``),
    so the kernel walks two path components per file rather than the whole path: that
    halves the cost of a look where the project lies deep in the filesystem.
    """
    if os.stat not in os.supports_dir_fd:  # pragma: no cover - not on Linux or macOS
        return [_stat_path(path, None) for path in paths]
    found: list[OutputStat | None] = []
    append, stat, sep = found.append, os.stat, os.sep
    directories: dict[str, int | None] = {}
    try:
        for path in paths:
            cut = path.rfind(sep, 0, max(path.rfind(sep), 0))
            if cut <= 0:
                append(_stat_path(path, None))
                continue
            directory = path[:cut]
            descriptor = directories.get(directory, -1)
            if descriptor == -1:
                descriptor = directories[directory] = _open_directory(directory)
            if descriptor is None:
                append(None)
                continue
            try:  # _stat_path, inlined: this loop runs once per partition of a year
                status = stat(path[cut + 1 :], dir_fd=descriptor)
            except (FileNotFoundError, NotADirectoryError):
                append(None)
                continue
            regular = S_ISREG(status.st_mode)
            append(OutputStat(status.st_size, status.st_mtime) if regular else None)
    finally:
        for descriptor in directories.values():
            if descriptor is not None:
                os.close(descriptor)
    return found


def _open_directory(directory: str) -> int | None:
    try:
        return os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return None  # gone (every file under it is missing) or not a directory


def _stat_path(path: str, directory: int | None) -> OutputStat | None:
    try:
        status = os.stat(path, dir_fd=directory)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return OutputStat(status.st_size, status.st_mtime) if S_ISREG(status.st_mode) else None


#: Files up to this size are digested whole; larger ones by their head and tail.
_WHOLE_FILE_DIGEST_BYTES = 256 * 1024
_DIGEST_EDGE_BYTES = 64 * 1024


def quick_digest(path: Path | str) -> str | None:
    """A digest of a file's bytes that is cheap for any size: the whole of a small file,
    the first and last 64 KiB of a large one (a Parquet file's footer, which holds its
    schema, offsets and statistics, is in its tail). None if it cannot be read.

    It tells a copied file (same bytes, new modification time) from a changed one
    without reading the data: verification computes it only for a file whose time
    differs from the one recorded.
    """
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size <= _WHOLE_FILE_DIGEST_BYTES:
                return _digest(handle.read(), b"", size)
            head = handle.read(_DIGEST_EDGE_BYTES)
            handle.seek(size - _DIGEST_EDGE_BYTES)
            return _digest(head, handle.read(_DIGEST_EDGE_BYTES), size)
    except OSError:
        return None


def bytes_digest(data: bytes) -> str:
    """The `quick_digest` of a file holding ``data``, without reading the file back (for a
    writer that has the bytes it wrote in hand)."""
    size = len(data)
    if size <= _WHOLE_FILE_DIGEST_BYTES:
        return _digest(data, b"", size)
    return _digest(data[:_DIGEST_EDGE_BYTES], data[size - _DIGEST_EDGE_BYTES :], size)


def _digest(head: bytes, tail: bytes, size: int) -> str:
    """A small file whole (``head``, no ``tail``); a large one by its edges and its size."""
    import hashlib

    digest = hashlib.blake2b(head, digest_size=16)
    if size > _WHOLE_FILE_DIGEST_BYTES:
        digest.update(tail)
        digest.update(str(size).encode())
    return digest.hexdigest()


def partition_files(asset: str, refs: Sequence[OutputRef]) -> list[Path]:
    """The file of each ref, in order, after checking that every one is there.

    Raises:
        StoreError: Files are missing: every missing partition is named.
    """
    missing = [ref for ref in refs if ref.path is None or not Path(ref.path).is_file()]
    if missing:
        raise missing_partitions_error(asset, missing)
    return [Path(ref.path) for ref in refs if ref.path is not None]


def one_file(ref: OutputRef, kind: str) -> Path:
    """The file a ref names.

    Raises:
        StoreError: The ref names no file (it was recorded for another kind).
    """
    if ref.path is None:
        raise StoreError(
            f"the output of asset '{ref.asset}' has no recorded file, so it cannot be "
            f"read as {kind!r}.",
            hint="Materialize the asset again (with --force).",
        )
    return Path(ref.path)


def missing_output_error(path: Path | str) -> StoreError:
    """The error for a stored file that is gone."""
    return StoreError(
        f"the stored output '{path}' is missing.",
        hint="It was moved or deleted after it was written: materialize the asset "
        "again (with --force).",
    )


def missing_partitions_error(
    asset: str, missing: Sequence[OutputRef], *, example: str | None = None
) -> StoreError:
    """The error for partitions whose files are gone (or were never written); ``example``
    names one where it is not the ref's path (an object's URL)."""
    shown = ", ".join(repr(ref.partition or "") for ref in missing)
    if example is None:
        example = next((str(ref.path) for ref in missing if ref.path is not None), None)
    where = f" (e.g. '{example}')" if example else ""
    return StoreError(
        f"asset '{asset}' has {len(missing)} partition(s) whose stored output is "
        f"missing: {shown}{where}.",
        hint="They were never materialized, or were moved or deleted since: materialize "
        "them again (with --force).",
    )


def unreadable_error(kind: str, path: Path | str, error: Exception) -> StoreError:
    """The error for a stored file that exists but cannot be read as ``kind``."""
    return StoreError(
        f"cannot read the {kind} output '{path}': {error}",
        hint="The file is damaged or was not written by assetflow: materialize the "
        "asset again (with --force).",
    )
