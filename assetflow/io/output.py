"""Write one asset's output atomically with its data version, and read it back.

pyarrow is imported only when a Parquet output is written or read, so this
module (and ``assetflow.io``) is cheap to import.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast, get_origin

from assetflow.datahash import json_version, table_version
from assetflow.errors import StoreError, WriteError
from assetflow.io.atomic import atomic_path, write_bytes_atomically
from assetflow.io.paths import output_path
from assetflow.io.values import (
    JSON,
    KINDS,
    NONE,
    PARQUET,
    SUPPORTED,
    is_table,
    to_json_value,
    type_name,
)

logger = logging.getLogger(__name__)

#: JSON files are indented for people reading them; the data version hashes the
#: canonical (sorted, compact) text, so this never changes a version.
_JSON_INDENT = 2


@dataclass(frozen=True, slots=True)
class StoredOutput:
    """What was stored for one asset-partition: where, how much, its schema and data version."""

    kind: str
    path: Path | None
    rows: int | None
    bytes: int | None
    #: (name, Arrow type as text) for each stored column; empty for JSON and none.
    columns: tuple[tuple[str, str], ...]
    data_version: str | None


def write_output(
    asset: str, value: object, kind: str, directory: Path, *, partition: str | None = None
) -> StoredOutput:
    """Store an asset's return value atomically and compute its data version.

    The file (see ``output_path``) is written beside its target and renamed into
    place, so readers never see a partial file and a failed write leaves the
    previous output as it was. For Parquet, the version is computed from the
    same Arrow table that is written: a DataFrame is converted once.

    Args:
        asset: The asset's name.
        value: What the asset returned.
        kind: ``"parquet"``, ``"json"`` or ``"none"`` (see ``io_kind_for_value``).
        directory: Where outputs are stored (the project's state directory).
        partition: The partition key, or None for an unpartitioned asset.

    Returns:
        The stored output: kind, path, rows, bytes, columns and data version
        (path and version are None for kind ``"none"``).

    Raises:
        WriteError: The value does not fit the kind, cannot be stored, or the
            directory cannot be written; nothing is written then.
    """
    if kind == NONE:
        return _store_nothing(asset, value)
    path = output_path(Path(directory), asset, kind, partition)
    if kind == PARQUET:
        return _write_parquet(asset, value, path)
    return _write_json(asset, value, path)


def read_output(kind: str, path: Path | None, as_type: object = None) -> object:
    """Read a stored output back.

    Args:
        kind: The kind it was stored as.
        path: Its file (ignored for kind ``"none"``).
        as_type: The reader's annotation, or None. For Parquet, ``pyarrow.Table``
            gives a Table and anything else a DataFrame. For JSON, a type gives
            the values validated into it by pydantic (a model, ``list[Model]``,
            ``dict[str, int]``, ...); None, ``Any`` or a non-type gives them as stored.

    Returns:
        The value: a DataFrame or Table, JSON values, or None for kind ``"none"``.

    Raises:
        StoreError: The file is missing or unreadable, the kind is unknown, or
            the stored JSON value does not fit ``as_type``.
    """
    if kind == NONE:
        return None
    if kind not in (PARQUET, JSON) or path is None:
        raise StoreError(
            f"cannot read an output of storage kind {kind!r} from {path!r}.",
            hint=f"The storage kinds are {', '.join(KINDS)}; 'none' has no file.",
        )
    try:
        if kind == PARQUET:
            from assetflow.io.parquet import read_table

            return read_table(path, as_type)
        value = json.loads(path.read_bytes())
    except FileNotFoundError as error:
        raise StoreError(
            f"the stored output '{path}' is missing.",
            hint="It was moved or deleted after it was written: materialize the asset "
            "again (with --force).",
        ) from error
    except (OSError, ValueError) as error:
        raise StoreError(
            f"cannot read the JSON output '{path}': {error}",
            hint="The file is damaged or was not written by assetflow: materialize the "
            "asset again (with --force).",
        ) from error
    return _validated(value, as_type, path)


def _store_nothing(asset: str, value: object) -> StoredOutput:
    if value is not None:
        raise WriteError(
            f"asset '{asset}' stores nothing (its storage kind is 'none', as for an "
            f"asset annotated '-> None') but it returned a {type_name(value)}.",
            hint="Return None from an asset that writes its data elsewhere, or annotate "
            "the return type with what it returns so assetflow stores it.\n" + SUPPORTED,
        )
    return StoredOutput(NONE, None, None, None, (), None)


def _write_parquet(asset: str, value: object, path: Path) -> StoredOutput:
    from assetflow.io.parquet import column_types, to_arrow_table, write_table

    table = to_arrow_table(value, asset=asset)
    version = table_version(table)
    with atomic_path(path, asset=asset) as temp:
        write_table(table, temp, asset=asset)
        size = temp.stat().st_size
    logger.debug("wrote %s: %d rows, %d bytes, version %s", path, table.num_rows, size, version)
    return StoredOutput(PARQUET, path, table.num_rows, size, column_types(table), version)


def _write_json(asset: str, value: object, path: Path) -> StoredOutput:
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
    write_bytes_atomically(path, data, asset=asset)
    rows = len(json_value) if isinstance(json_value, list) else None
    logger.debug("wrote %s: %d bytes, version %s", path, len(data), version)
    return StoredOutput(JSON, path, rows, len(data), (), version)


def _validated(value: object, as_type: object, path: Path) -> object:
    """``value`` validated into the type ``as_type`` by pydantic; as it is if no type is asked.

    No type is asked when ``as_type`` is None, ``Any``, ``object``, text (an
    annotation that could not be resolved) or any other non-type marker.
    """
    is_type = isinstance(as_type, type) or get_origin(as_type) is not None
    if not is_type or as_type in (object, Any):
        return value
    import pydantic

    try:
        adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(cast(Any, as_type))
    except pydantic.PydanticSchemaGenerationError as error:
        raise StoreError(
            f"cannot read the JSON output '{path}' as {as_type!r}: {error}",
            hint="A JSON output is read as plain values or as a type pydantic can "
            "validate (a model, list[Model], dict[str, int], ...): change the annotation.",
        ) from error
    try:
        return adapter.validate_python(value)
    except pydantic.ValidationError as error:
        raise StoreError(
            f"the JSON output '{path}' does not fit the type {as_type!r}: {error}",
            hint="The input's annotation differs from what the upstream asset stored: "
            "change the annotation, or materialize the upstream asset again.",
        ) from error
