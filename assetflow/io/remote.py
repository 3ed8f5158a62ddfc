"""Object storage for the file kinds: keys under a bucket's prefix, and the few calls
(put, get, look, list) that the Parquet and JSON kinds make through fsspec.

A filesystem is built once per process and per set of credentials in the
environment, with no listing cache, so a look at an output always asks the
storage; what the cloud's client raises is turned into one clear error that names
the bucket and what to set, and never shows a credential. See
``assetflow.io.storage`` for the atomic-write guarantee.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import posixpath
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assetflow.errors import AssetflowError, StoreError, WriteError
from assetflow.io.base import OutputStat

logger = logging.getLogger(__name__)

#: An fsspec filesystem (fsspec ships no type information).
AbstractFileSystem = Any

#: The extra that installs each protocol's filesystem package.
EXTRA_BY_PROTOCOL = {
    "s3": "s3",
    "s3a": "s3",
    "gs": "gcs",
    "gcs": "gcs",
    "az": "azure",
    "abfs": "azure",
    "abfss": "azure",
}
#: Where each cloud's client looks for credentials, for the message when it finds none.
CREDENTIALS_HINT = {
    "s3": "Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment (and "
    "AWS_ENDPOINT_URL for an S3-compatible server such as MinIO), or AWS_PROFILE for a "
    "profile in ~/.aws/credentials, or run where an instance role provides them.",
    "gcs": "Set GOOGLE_APPLICATION_CREDENTIALS to a service account's key file, or run "
    "`gcloud auth application-default login`.",
    "azure": "Set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_NAME with "
    "AZURE_STORAGE_ACCOUNT_KEY, or a service principal's AZURE_TENANT_ID, AZURE_CLIENT_ID "
    "and AZURE_CLIENT_SECRET.",
}
#: How to create a bucket (or container), for the message when it does not exist.
_CREATE_BUCKET = {
    "s3": "aws s3 mb s3://{bucket}",
    "gcs": "gcloud storage buckets create gs://{bucket}",
    "azure": "az storage container create --name {bucket}",
}
#: Environment variables that decide which credentials and endpoint a client uses: a
#: filesystem is built anew when they change (their values are hashed, never kept).
_ENVIRONMENT_PREFIXES = ("AWS_", "GOOGLE_", "AZURE_", "GCS")
#: Up to this many outputs are looked at one request each; more, by one listing.
_LOOKUPS_BEFORE_LISTING = 4
#: How messages name the setting.
SETTING = "`storage` in [tool.assetflow]"


@dataclass(frozen=True, slots=True)
class RemoteStorage:
    """One object storage root: keys under it, and the few calls the file kinds make."""

    #: ``s3``, ``gs``, ``az``...
    protocol: str
    #: ``bucket/prefix``: keys are ``<root>/<path relative to the state directory>``.
    root: str
    #: The state directory, absolute, ending in a separator.
    local_root: str

    @property
    def bucket(self) -> str:
        return self.root.split("/", 1)[0]

    @property
    def url(self) -> str:
        return f"{self.protocol}://{self.root}"

    def key(self, path: Path | str | None) -> str | None:
        """The object key a recorded path stands for; None for a path outside the state
        directory (an output on local disk, which is read from there)."""
        if path is None:
            return None
        text = os.fspath(path)
        if not text.startswith(self.local_root):
            return None
        relative = text[len(self.local_root) :].replace(os.sep, "/")
        return f"{self.root}/{relative}"

    def shown(self, key: str) -> str:
        """The key as a URL, for messages."""
        return f"{self.protocol}://{key}"

    def filesystem(self) -> AbstractFileSystem:
        """The fsspec filesystem, built once per process and environment."""
        return _filesystem(self.protocol, os.getpid(), _environment_fingerprint())

    def put(self, key: str, data: bytes, *, asset: str) -> None:
        """Write ``data`` as the object ``key``, in one request (it appears whole or not at all).

        Raises:
            WriteError: No credentials, no such bucket, access denied, unreachable.
        """
        with self.errors(key, "write the output of asset", asset=asset, error=WriteError):
            self.filesystem().pipe_file(key, data)
        logger.debug("wrote %s (%d bytes)", self.shown(key), len(data))

    def read_bytes(self, key: str) -> bytes:
        """The whole object.

        Raises:
            FileNotFoundError: It is missing.
            StoreError: No credentials, no such bucket, access denied, unreachable.
        """
        with self.errors(key, "read"):
            data: bytes = self.filesystem().cat_file(key)
        return data

    def read_many(self, keys: Sequence[str]) -> dict[str, bytes | None]:
        """Many whole objects, fetched concurrently: ``{key: bytes}``, None where missing.

        Raises:
            StoreError: As for ``read_bytes``.
        """
        if not keys:
            return {}
        with self.errors(keys[0], "read"):
            fetched = self.filesystem().cat(list(keys), on_error="return")
        found: dict[str, bytes | None] = {}
        for key in keys:
            value = fetched.get(key)
            if isinstance(value, FileNotFoundError) and not _names_bucket(value):
                found[key] = None
            elif isinstance(value, BaseException):
                with self.errors(key, "read"):
                    raise value
            else:
                found[key] = value
        return found

    def open(self, key: str) -> Any:
        """The object as a seekable binary file (read in ranges as it is read).

        Raises:
            FileNotFoundError: It is missing.
            StoreError: As for ``read_bytes``.
        """
        with self.errors(key, "read"):
            return self.filesystem().open(key, "rb")

    def stat(self, key: str) -> OutputStat | None:
        """Size and modification time of one object, in one request; None if missing."""
        try:
            with self.errors(key, "look at"):
                info = self.filesystem().info(key)
        except FileNotFoundError:
            return None
        return _stat(info)

    def stats(self, keys: Sequence[str]) -> list[OutputStat | None]:
        """``stat`` of many objects: a few by one request each, more by listing their
        common prefix once (one request per thousand objects under it)."""
        if len(keys) <= _LOOKUPS_BEFORE_LISTING:
            return [self.stat(key) for key in keys]
        common = posixpath.commonpath([posixpath.dirname(key) for key in keys])
        try:
            with self.errors(common, "list"):
                listing = self.filesystem().find(common, detail=True)
        except FileNotFoundError:
            listing = {}
        return [_stat(listing.get(key)) for key in keys]

    @contextmanager
    def errors(
        self,
        key: str,
        action: str,
        *,
        asset: str | None = None,
        error: type[AssetflowError] = StoreError,
    ) -> Iterator[None]:
        """Turn what the cloud's client raises into one clear error (a missing object's
        ``FileNotFoundError`` is left to the caller, which knows what it means)."""
        try:
            yield
        except FileNotFoundError as raised:
            if asset is None and not _names_bucket(raised):
                raise
            create = _CREATE_BUCKET.get(EXTRA_BY_PROTOCOL.get(self.protocol, ""), "")
            example = f" (e.g. `{create.format(bucket=self.bucket)}`)" if create else ""
            raise error(
                f"cannot {self._what(action, key, asset)}: the bucket '{self.bucket}' does "
                f"not exist ({SETTING} is {self.url}).",
                hint=f"Create the bucket{example}, or point `storage` at one that exists.",
            ) from raised
        except AssetflowError:
            raise
        except Exception as raised:  # the cloud client's own errors
            raise self._explain(raised, key, action, asset, error) from raised

    def _what(self, action: str, key: str, asset: str | None) -> str:
        if asset is not None:
            return f"{action} '{asset}' to {self.shown(key)}"
        return f"{action} {self.shown(key)}"

    def _explain(
        self,
        raised: Exception,
        key: str,
        action: str,
        asset: str | None,
        error: type[AssetflowError],
    ) -> AssetflowError:
        what = self._what(action, key, asset)
        extra = EXTRA_BY_PROTOCOL.get(self.protocol, self.protocol)
        if _is_missing_credentials(raised):
            return error(
                f"cannot {what}: no credentials were found for the {self.protocol}:// "
                f"bucket '{self.bucket}' ({SETTING} is {self.url}).",
                hint=CREDENTIALS_HINT.get(extra, "Set the cloud's credentials in the environment."),
            )
        if isinstance(raised, PermissionError):
            return error(
                f"cannot {what}: access to the bucket '{self.bucket}' was denied "
                f"({raised.strerror or raised}).",
                hint="Give the credentials in the environment the right to list, read and "
                f"write objects under {self.url}, or use other credentials.",
            )
        if isinstance(raised, ImportError):
            return error(
                f"cannot {what}: the package that reads {self.protocol}:// URLs is not "
                f"installed ({raised}).",
                hint=f"Install it with `pip install 'assetflow[{extra}]'`.",
            )
        endpoint = " (and AWS_ENDPOINT_URL, for an S3-compatible server)" if extra == "s3" else ""
        return error(
            f"cannot {what}: {type(raised).__name__}: {raised}",
            hint=f"Check that the storage at {self.url} is reachable from this machine"
            f"{endpoint}, then run again.",
        )


def _stat(info: dict[str, Any] | None) -> OutputStat | None:
    if info is None or info.get("type", "file") != "file":
        return None
    modified: object = info.get("LastModified") or info.get("mtime") or info.get("last_modified")
    timestamp = getattr(modified, "timestamp", None)
    stamp = timestamp() if callable(timestamp) else modified
    at = float(stamp) if isinstance(stamp, int | float | str) and stamp else None
    return OutputStat(bytes=int(info["size"]), modified_at=at)


def _names_bucket(error: FileNotFoundError) -> bool:
    text = str(error).lower()
    return "bucket" in text and "not exist" in text


def _is_missing_credentials(error: BaseException) -> bool:
    names = {cls.__name__ for cls in type(error).__mro__}
    return bool(
        names & {"NoCredentialsError", "PartialCredentialsError", "DefaultCredentialsError"}
    )


def _environment_fingerprint() -> str:
    digest = hashlib.blake2b(digest_size=16)
    for name in sorted(os.environ):
        if name.startswith(_ENVIRONMENT_PREFIXES):
            digest.update(f"{name}={os.environ[name]}\0".encode())
    return digest.hexdigest()


@functools.lru_cache(maxsize=16)
def _filesystem(protocol: str, pid: int, environment: str) -> AbstractFileSystem:
    """A filesystem of its own (not fsspec's shared instance), with no listing cache, so
    that a look at an output always asks the storage."""
    import fsspec  # type: ignore[import-untyped]

    try:
        return fsspec.filesystem(protocol, skip_instance_cache=True, use_listings_cache=False)
    except ImportError as error:
        extra = EXTRA_BY_PROTOCOL.get(protocol, protocol)
        raise StoreError(
            f"cannot open the {protocol}:// storage ({SETTING}): its package is not "
            f"installed ({error}).",
            hint=f"Install it with `pip install 'assetflow[{extra}]'`.",
        ) from error
