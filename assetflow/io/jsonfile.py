"""JSON storage (``io="json"``): small Python values, one file per asset-partition."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast, get_origin

from assetflow.datahash import json_version
from assetflow.errors import StoreError, WriteError
from assetflow.io.atomic import write_bytes_atomically
from assetflow.io.base import (
    Holds,
    IOSettings,
    OutputHead,
    OutputRef,
    OutputStat,
    StoredOutput,
    WriteTarget,
)
from assetflow.io.files import (
    bytes_digest,
    missing_output_error,
    missing_partitions_error,
    new_object,
    one_file,
    partition_files,
    remote_or_file_stat,
    remote_or_file_stats,
    unreadable_error,
)
from assetflow.io.paths import output_path
from assetflow.io.remote import RemoteStorage
from assetflow.io.storage import local_directory, remote_storage
from assetflow.io.values import JSON, is_table, to_json_value, type_name

logger = logging.getLogger(__name__)

#: JSON files are indented for people reading them; the data version hashes the
#: canonical (sorted, compact) text, so this never changes a version.
_JSON_INDENT = 2


@dataclass(frozen=True, slots=True)
class JsonIO:
    """Values as JSON files: ``<data>/<asset>.json``, or one file per partition."""

    settings: IOSettings = field(default_factory=IOSettings)
    kind: str = JSON
    holds: Holds = "values"
    partitions_share_path: bool = False

    def write(self, value: object, target: WriteTarget) -> StoredOutput:
        """Write the value's canonical JSON form (see ``to_json_value``) atomically."""
        asset = target.asset
        if is_table(value):
            raise WriteError(
                f"asset '{asset}' is stored as JSON but returned a {type_name(value)}.",
                hint="A pandas.DataFrame or pyarrow.Table is stored as Parquet "
                '(io="parquet"); JSON holds dicts, lists, strings, numbers, booleans, None '
                "and pydantic models.",
            )
        json_value = to_json_value(value, asset=asset)
        version = json_version(json_value)
        text = json.dumps(json_value, ensure_ascii=False, indent=_JSON_INDENT, allow_nan=False)
        data = (text + "\n").encode("utf-8")
        rows = len(json_value) if isinstance(json_value, list) else None
        remote = remote_storage(self.settings)
        if remote is not None:
            # A key of its own for every write: see assetflow.io.storage.
            path, key = new_object(remote, target, JSON, version)
            remote.put(key, data, asset=asset)
            return StoredOutput(JSON, path, rows, len(data), (), version)
        directory = local_directory(self.settings, target.directory)
        path = output_path(directory, asset, JSON, target.partition)
        modified = write_bytes_atomically(path, data, asset=asset)
        logger.debug("wrote %s: %d bytes, version %s", path, len(data), version)
        return StoredOutput(JSON, path, rows, len(data), (), version, modified, bytes_digest(data))

    def read(self, ref: OutputRef, as_type: object = None) -> object:
        """The stored values, validated into ``as_type`` by pydantic when it is a type (a
        model, ``list[Model]``, ``dict[str, int]``, ...); as stored for None or ``Any``."""
        path = one_file(ref, JSON)
        remote = remote_storage(self.settings)
        return validate_as(_load(path, remote), as_type, f"the JSON output '{path}'")

    def read_partitions(
        self, asset: str, refs: Sequence[OutputRef], as_type: object = None
    ) -> object:
        """``{partition: value}`` in the order of ``refs``; ``as_type`` describes that
        whole mapping (e.g. ``dict[str, int]``)."""
        remote = remote_storage(self.settings)
        if remote is not None and refs and all(remote.key(ref.path) for ref in refs):
            values = _load_remote(remote, asset, refs)
        else:
            paths = partition_files(asset, refs)
            values = {
                ref.partition or "": _load(path) for ref, path in zip(refs, paths, strict=True)
            }
        keys = list(values)
        return validate_as(values, as_type, f"the JSON outputs of asset '{asset}' ({keys!r})")

    def stat(self, ref: OutputRef) -> OutputStat | None:
        """The file's size and modification time; None if it is missing."""
        return remote_or_file_stat(self.settings, ref)

    def head(self, ref: OutputRef, limit: int) -> OutputHead:
        """The value as stored, a top-level list cut to its first ``limit`` items and a
        dict to its first ``limit`` keys (the whole file is read: JSON has no index to
        seek by, and JSON outputs are small values)."""
        value = _load(one_file(ref, JSON), remote_storage(self.settings))
        if isinstance(value, list):
            return OutputHead(value[: max(limit, 0)], len(value))
        if isinstance(value, dict):
            items = list(value.items())[: max(limit, 0)]
            return OutputHead(dict(items), len(value))
        return OutputHead(value)

    def stat_files(self, paths: Sequence[str]) -> list[OutputStat | None]:
        """``stat`` of many outputs by their files' paths (see ``assetflow.io.stats``)."""
        return remote_or_file_stats(self.settings, paths)


def validate_as(value: object, as_type: object, subject: str) -> object:
    """``value`` validated into the type ``as_type`` by pydantic; as it is if no type is asked.

    No type is asked when ``as_type`` is None, ``Any``, ``object``, text (an
    annotation that could not be resolved) or any other non-type marker.
    ``subject`` names what is validated in messages ("the JSON output '<path>'").

    Raises:
        StoreError: The value does not fit the type, or pydantic cannot validate it.
    """
    is_type = isinstance(as_type, type) or get_origin(as_type) is not None
    if not is_type or as_type in (object, Any):
        return value
    import pydantic

    try:
        adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(cast(Any, as_type))
    except pydantic.PydanticSchemaGenerationError as error:
        raise StoreError(
            f"cannot read {subject} as {as_type!r}: {error}",
            hint="A JSON output is read as plain values or as a type pydantic can "
            "validate (a model, list[Model], dict[str, int], ...): change the annotation.",
        ) from error
    try:
        return adapter.validate_python(value)
    except pydantic.ValidationError as error:
        raise StoreError(
            f"{subject} does not fit the type {as_type!r}: {error}",
            hint="The input's annotation differs from what the upstream asset stored: "
            "change the annotation, or materialize the upstream asset again.",
        ) from error


def _load_remote(remote: RemoteStorage, asset: str, refs: Sequence[OutputRef]) -> dict[str, object]:
    """``{partition: value}`` of objects on object storage, fetched concurrently.

    Raises:
        StoreError: Objects are missing (each partition is named), or one is not JSON.
    """
    keys = [remote.key(ref.path) or "" for ref in refs]
    found = remote.read_many(keys)
    missing = [ref for ref, key in zip(refs, keys, strict=True) if found[key] is None]
    if missing:
        gone = next(key for key in keys if found[key] is None)
        raise missing_partitions_error(asset, missing, example=remote.shown(gone))
    values: dict[str, object] = {}
    for ref, key in zip(refs, keys, strict=True):
        try:
            values[ref.partition or ""] = json.loads(found[key] or b"")
        except ValueError as error:
            raise unreadable_error("JSON", remote.shown(key), error) from error
    return values


def _load(path: Path, remote: RemoteStorage | None = None) -> object:
    """The value in a JSON file, or in the object its path stands for."""
    key = remote.key(path) if remote is not None else None
    shown: Path | str = path
    try:
        if remote is not None and key is not None:
            shown = remote.shown(key)
            return json.loads(remote.read_bytes(key))
        return json.loads(path.read_bytes())
    except FileNotFoundError as error:
        raise missing_output_error(shown) from error
    except (OSError, ValueError) as error:
        raise unreadable_error("JSON", shown, error) from error
