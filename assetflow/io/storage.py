"""Where the file kinds keep outputs: the local disk, a shared filesystem, or object storage.

``[tool.assetflow] storage`` names the root: a directory (a shared filesystem's
mount, or a ``file://`` URL) or an fsspec URL (``s3://bucket/prefix``,
``gs://bucket/prefix``, ``az://container/prefix``), whose filesystem package is an
optional extra (``pip install 'assetflow[s3]'``).

The atomic-write guarantee, for each:

- A local or shared directory: as on the state directory, the file is written
  beside its target and renamed over it (``assetflow.io.atomic``); readers see the
  old file or the new one.
- Object storage has no rename, so an output is never written over another:
  each write goes to a new key of its own (``orders.<data version>.<random>.parquet``)
  in one request (``assetflow.io.remote``), and the materialization's recorded
  path, committed after the write returned, is what makes it current. Readers read
  the recorded key, so they never see a half-written object, and a write that
  fails or is killed leaves at most an object that no record names (an orphan),
  never a wrong current one. Orphans and superseded outputs are left in place (see
  docs/storage.md for removing them).

Credentials come only from the environment and each cloud's usual chain
(``AWS_ACCESS_KEY_ID``, ``~/.aws``, an instance role...), never from the
project's configuration, and no message shows them.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path

from assetflow.errors import ProjectError
from assetflow.io.base import IOSettings, StorageSettings
from assetflow.io.remote import (
    CREDENTIALS_HINT,
    EXTRA_BY_PROTOCOL,
    SETTING,
    RemoteStorage,
)

#: The module each extra's filesystem lives in (what a missing extra fails to import).
_MODULE_BY_EXTRA = {"s3": "s3fs", "gcs": "gcsfs", "azure": "adlfs"}
#: URL schemes that name the local filesystem (a shared mount is a local path too).
LOCAL_PROTOCOLS = frozenset({"file", "local"})

#: Random bytes in an object key: no two writes of the same data share a key.
_KEY_TOKEN_BYTES = 6
#: Data-version characters in an object key: enough to tell outputs apart by eye.
_KEY_VERSION_CHARS = 16


def split_protocol(url: str) -> tuple[str | None, str]:
    """``("s3", "bucket/prefix")`` for ``s3://bucket/prefix``; ``(None, url)`` for a path."""
    protocol, separator, rest = url.partition("://")
    if not separator:
        return None, url
    return protocol.lower(), rest


def storage_problem(url: str) -> str | None:
    """What is wrong with a ``storage`` setting, as a sentence; None if nothing is.

    Checked when the project's configuration is read: an empty setting, an unknown
    protocol, credentials written in the URL, a bucket missing from it, or a protocol
    whose filesystem package is not installed (the extra to install is named).
    """
    if not url.strip():
        return f"{SETTING} is empty; give a directory or a URL such as s3://bucket/prefix"
    protocol, rest = split_protocol(url.strip())
    if protocol is None or protocol in LOCAL_PROTOCOLS:
        return None
    if protocol not in EXTRA_BY_PROTOCOL:
        known = ", ".join(f"{name}://" for name in ("s3", "gs", "az", "abfs", "file"))
        return (
            f"{SETTING} uses the protocol {protocol!r}, which assetflow does not store "
            f"outputs on; use a directory, or one of {known} (e.g. "
            '`storage = "s3://bucket/prefix"`)'
        )
    authority = rest.split("/", 1)[0]
    if "@" in authority or ":" in authority:
        return (
            f"{SETTING} holds credentials or a port in its URL ({protocol}://...@...); "
            f"write it as {protocol}://BUCKET/prefix: credentials come from the environment "
            "only, and an S3-compatible server's address from AWS_ENDPOINT_URL. "
            + CREDENTIALS_HINT[EXTRA_BY_PROTOCOL[protocol]].rstrip(".")
        )
    if not authority:
        return f"{SETTING} names no bucket: write it as {protocol}://BUCKET/prefix"
    return missing_package(protocol)


def missing_package(protocol: str) -> str | None:
    """The sentence saying which extra to install for ``protocol``; None if it is installed."""
    extra = EXTRA_BY_PROTOCOL[protocol]
    module = _MODULE_BY_EXTRA[extra]
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if found:
        return None
    return (
        f"{SETTING} is a {protocol}:// URL, but the package that reads it ({module}) is "
        f"not installed; install it with `pip install 'assetflow[{extra}]'`"
    )


def storage_settings(url: str, project_root: Path, state_dir: Path) -> StorageSettings:
    """The settings for a project's ``storage``: a relative directory is taken from the
    project's root, a ``file://`` URL is its path, and a remote URL loses any trailing ``/``.

    Raises:
        ProjectError: The setting cannot be used (see ``storage_problem``).
    """
    problem = storage_problem(url)
    if problem is not None:
        raise ProjectError(
            f"the project's configuration cannot be used: {problem}.",
            hint="Fix `storage` in the project's configuration (see docs/storage.md), or "
            "remove it to keep outputs in the state directory.",
        )
    protocol, rest = split_protocol(url.strip())
    if protocol is None or protocol in LOCAL_PROTOCOLS:
        directory = Path(rest).expanduser()
        return StorageSettings(str((project_root / directory).resolve()), state_dir)
    return StorageSettings(f"{protocol}://{rest.strip('/')}", state_dir)


def local_directory(settings: IOSettings, directory: Path) -> Path:
    """Where a file kind writes on local disk: ``directory``, or its place under a local
    ``storage`` root (``<state_dir>/data`` becomes ``<storage>/data``)."""
    storage = settings.storage
    if storage is None or split_protocol(storage.url)[0] is not None:
        return directory
    try:
        relative = Path(directory).absolute().relative_to(Path(storage.local_root).absolute())
    except ValueError:
        return directory
    return Path(storage.url) / relative


def remote_storage(settings: IOSettings) -> RemoteStorage | None:
    """The object storage the file kinds use under ``settings``; None for a local disk."""
    storage = settings.storage
    if storage is None:
        return None
    return _remote(storage.url, str(storage.local_root))


@functools.lru_cache(maxsize=64)
def _remote(url: str, local_root: str) -> RemoteStorage | None:
    protocol, rest = split_protocol(url)
    if protocol is None:
        return None
    return RemoteStorage(protocol, rest.strip("/"), os.path.join(os.path.abspath(local_root), ""))


def unique_path(path: Path, version: str | None) -> Path:
    """``path`` renamed to a key no other write uses: ``part.<version>.<random>.parquet``."""
    token = os.urandom(_KEY_TOKEN_BYTES).hex()
    stem = f"{path.stem}.{(version or 'none')[:_KEY_VERSION_CHARS]}.{token}"
    return path.with_name(f"{stem}{path.suffix}")
